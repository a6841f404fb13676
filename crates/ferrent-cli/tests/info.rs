//! `ferrent info` end to end: the binary on hand-made torrents, magnet links and bad input.

use assert_cmd::Command;
use ferrent_bencode::{Dict, Value, encode};

fn ferrent() -> Command {
    Command::cargo_bin("ferrent").expect("binary built")
}

/// A two-file torrent with every optional top-level field, encoded by hand.
fn sample_torrent() -> Vec<u8> {
    let pieces = vec![0xabu8; 40];
    let files = Value::List(vec![
        Value::Dict(
            Dict::new()
                .with(b"length", Value::Int(20000))
                .with(
                    b"path",
                    Value::List(vec![Value::str("docs"), Value::str("a.txt")]),
                )
                .with(b"md5sum", Value::str("0123456789abcdef0123456789abcdef")),
        ),
        Value::Dict(
            Dict::new()
                .with(b"length", Value::Int(100))
                .with(b"path", Value::List(vec![Value::str("b.bin")])),
        ),
    ]);
    let info = Dict::new()
        .with(b"name", Value::str("sample"))
        .with(b"piece length", Value::Int(16384))
        .with(b"pieces", Value::Bytes(&pieces))
        .with(b"private", Value::Int(1))
        .with(b"files", files);
    let tiers = Value::List(vec![
        Value::List(vec![Value::str("http://127.0.0.1:1/announce")]),
        Value::List(vec![Value::str("udp://127.0.0.1:2/announce")]),
    ]);
    let top = Dict::new()
        .with(b"announce", Value::str("http://127.0.0.1:1/announce"))
        .with(b"announce-list", tiers)
        .with(b"comment", Value::str("a comment"))
        .with(b"created by", Value::str("hand"))
        .with(b"creation date", Value::Int(1_700_000_000))
        .with(b"encoding", Value::str("UTF-8"))
        .with(b"url-list", Value::str("http://127.0.0.1:3/files/"))
        .with(b"info", Value::Dict(info));
    encode(&Value::Dict(top))
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(f.path(), bytes).expect("write");
    f
}

#[test]
fn text_output_shows_every_field() {
    let t = write_temp(&sample_torrent());
    let out = ferrent()
        .arg("info")
        .arg(t.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).expect("utf-8");
    for needle in [
        "name:         sample",
        "size:         19.6 KiB (20100 bytes)",
        "pieces:       2 x 16.0 KiB",
        "private:      yes",
        "created:      2023-11-14T22:13:20Z (1700000000)",
        "created by:   hand",
        "comment:      a comment",
        "encoding:     UTF-8",
        "tier 1: http://127.0.0.1:1/announce",
        "tier 2: udp://127.0.0.1:2/announce",
        "http://127.0.0.1:3/files/",
        "sample/",
        "docs/",
        "[0] a.txt",
        "[1] b.bin",
        "magnet:       magnet:?xt=urn:btih:",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn json_output_parses_and_matches() {
    let t = write_temp(&sample_torrent());
    let out = ferrent()
        .args(["info", "--json"])
        .arg(t.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
    assert_eq!(v["name"], "sample");
    assert_eq!(v["total_size"], 20100);
    assert_eq!(v["piece_count"], 2);
    assert_eq!(v["private"], true);
    assert_eq!(v["files"][0]["path"], "sample/docs/a.txt");
    assert_eq!(v["files"][0]["md5sum"], "0123456789abcdef0123456789abcdef");
    assert_eq!(v["files"][1]["length"], 100);
    assert_eq!(v["trackers"][1][0], "udp://127.0.0.1:2/announce");
    let hash = v["info_hash_v1"].as_str().expect("v1 hash");
    assert_eq!(hash.len(), 40);
    assert!(v["magnet"].as_str().expect("magnet").contains(hash));
}

#[test]
fn magnet_input_is_described() {
    let link = "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=Some+Name\
                &tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce&x.pe=127.0.0.1:6881&so=0,2-3";
    let out = ferrent()
        .args(["info", "--json", link])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
    assert_eq!(v["source"], "magnet");
    assert_eq!(v["name"], "Some Name");
    assert_eq!(
        v["info_hash_v1"],
        "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
    );
    assert_eq!(v["trackers"][0][0], "http://127.0.0.1:6969/announce");
    assert_eq!(v["peers"][0], "127.0.0.1:6881");
    assert_eq!(v["select_only"], serde_json::json!(["0", "2-3"]));
}

/// Bad input: non-zero exit, exactly one line on stderr naming the problem, no panic.
fn assert_one_line_error(args: &[&str], needle: &str) {
    let out = ferrent().args(args).assert().failure().get_output().clone();
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert_eq!(err.lines().count(), 1, "expected one line, got:\n{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err:?}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_is_one_line_with_the_reason() {
    let mut truncated = sample_torrent();
    truncated.truncate(100);
    let t = write_temp(&truncated);
    let p = t.path().to_str().expect("utf-8 path");
    assert_one_line_error(&["info", p], "byte");

    let mut bad = sample_torrent();
    // Break the `pieces` length: the 40-byte string becomes 39 bytes + a stray byte.
    let pos = bad
        .windows(9)
        .position(|w| w == b"6:pieces4")
        .expect("pieces key")
        + 8;
    bad[pos..pos + 3].copy_from_slice(b"39:");
    let t2 = write_temp(&bad);
    assert_one_line_error(
        &["info", t2.path().to_str().expect("utf-8")],
        "not a valid torrent",
    );

    assert_one_line_error(
        &["info", "/nonexistent/x.torrent"],
        "cannot read /nonexistent/x.torrent",
    );
    assert_one_line_error(&["info", "magnet:?xt=urn:btih:1234"], "invalid magnet link");
    let garbage = write_temp(b"\x00\xffnot bencode at all");
    assert_one_line_error(
        &["info", garbage.path().to_str().expect("utf-8")],
        "bencode error at byte 0",
    );
}
