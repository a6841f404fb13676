//! `ferrent create` end to end: run the binary, parse what it wrote, check the fields.

use std::path::Path;

use assert_cmd::Command;
use ferrent_bencode::{Dict, decode};

fn ferrent() -> Command {
    Command::cargo_bin("ferrent").unwrap()
}

fn payload(root: &Path) -> std::path::PathBuf {
    let dir = root.join("data");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("a.bin"), vec![7u8; 100_000]).unwrap();
    std::fs::write(dir.join("sub/b.bin"), vec![9u8; 30_000]).unwrap();
    std::fs::write(dir.join("empty"), b"").unwrap();
    dir
}

fn with_info<R>(bytes: &[u8], f: impl FnOnce(&Dict<'_>, &Dict<'_>) -> R) -> R {
    let v = decode(bytes).expect("canonical bencode");
    let top = v.as_dict().unwrap();
    f(top, top.get_dict(b"info").unwrap())
}

#[test]
fn creates_a_v1_torrent_with_all_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = payload(tmp.path());
    let out = tmp.path().join("out.torrent");
    let assert = ferrent()
        .arg("create")
        .arg(&dir)
        .arg("-o")
        .arg(&out)
        .args([
            "-t",
            "udp://a:1/announce,udp://b:2/announce",
            "--tracker",
            "http://c/announce",
        ])
        .args([
            "--piece-size",
            "32K",
            "--private",
            "--comment",
            "hi",
            "--source",
            "SRC",
        ])
        .args([
            "--web-seed",
            "http://ws1/",
            "-w",
            "http://ws2/",
            "--date",
            "1700000000",
        ])
        .assert()
        .success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    // Piped: no progress bar on stderr.
    assert!(
        assert.get_output().stderr.is_empty(),
        "{:?}",
        assert.get_output().stderr
    );
    assert!(stdout.contains("name:       data"), "{stdout}");
    assert!(stdout.contains("pieces:     4 x 32.0 KiB"), "{stdout}");
    assert!(
        stdout.contains("(v1)") && !stdout.contains("(v2)"),
        "{stdout}"
    );
    assert!(stdout.contains("130000 bytes"), "{stdout}");
    assert!(
        stdout.contains(&format!("written:    {}", out.display())),
        "{stdout}"
    );

    let bytes = std::fs::read(&out).unwrap();
    with_info(&bytes, |top, info| {
        assert_eq!(top.get_str(b"announce"), Some("udp://a:1/announce"));
        let tiers = top.get_list(b"announce-list").unwrap();
        assert_eq!(tiers.len(), 2);
        assert_eq!(tiers[0].as_list().unwrap().len(), 2);
        assert_eq!(top.get_str(b"comment"), Some("hi"));
        assert_eq!(top.get_int(b"creation date"), Some(1_700_000_000));
        assert!(top.get_str(b"created by").unwrap().starts_with("ferrent/"));
        assert_eq!(top.get_list(b"url-list").unwrap().len(), 2);
        assert_eq!(info.get_str(b"name"), Some("data"));
        assert_eq!(info.get_int(b"piece length"), Some(32 * 1024));
        assert_eq!(info.get_int(b"private"), Some(1));
        assert_eq!(info.get_str(b"source"), Some("SRC"));
        assert_eq!(info.get_bytes(b"pieces").unwrap().len(), 4 * 20);
        let paths: Vec<String> = info
            .get_list(b"files")
            .unwrap()
            .iter()
            .map(|f| {
                let parts = f.as_dict().unwrap().get_list(b"path").unwrap();
                parts
                    .iter()
                    .map(|p| p.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect();
        assert_eq!(paths, ["a.bin", "empty", "sub/b.bin"]);
    });
}

#[test]
fn default_output_name_and_refusing_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = payload(tmp.path());
    ferrent()
        .current_dir(tmp.path())
        .arg("create")
        .arg(&dir)
        .arg("--no-date")
        .assert()
        .success();
    let out = tmp.path().join("data.torrent");
    let first = std::fs::read(&out).unwrap();
    with_info(&first, |top, _| {
        assert!(top.get(b"creation date").is_none())
    });

    let assert = ferrent()
        .current_dir(tmp.path())
        .arg("create")
        .arg(&dir)
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        first,
        "the old file is untouched"
    );

    ferrent()
        .current_dir(tmp.path())
        .args(["create", "--force", "--hybrid", "--no-date"])
        .arg(&dir)
        .assert()
        .success();
    let second = std::fs::read(&out).unwrap();
    assert_ne!(second, first);
    with_info(&second, |_, info| {
        assert_eq!(info.get_int(b"meta version"), Some(2))
    });
}

#[test]
fn v2_and_hybrid_print_both_hashes_as_they_apply() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = payload(tmp.path());
    let v2 = ferrent()
        .arg("create")
        .arg(&dir)
        .arg("-o")
        .arg(tmp.path().join("v2.torrent"))
        .arg("--v2")
        .assert()
        .success();
    let s = String::from_utf8(v2.get_output().stdout.clone()).unwrap();
    assert!(s.contains("(v2)") && !s.contains("(v1)"), "{s}");
    let bytes = std::fs::read(tmp.path().join("v2.torrent")).unwrap();
    with_info(&bytes, |top, info| {
        assert!(info.get(b"pieces").is_none() && info.get(b"files").is_none());
        let tree = info.get_dict(b"file tree").unwrap();
        assert!(tree.get_dict(b"sub").unwrap().get_dict(b"b.bin").is_some());
        // 100000-byte a.bin > one 16 KiB piece (automatic size): it has a piece layer.
        assert!(top.get_dict(b"piece layers").is_some());
    });

    let h = ferrent()
        .arg("create")
        .arg(&dir)
        .arg("-o")
        .arg(tmp.path().join("h.torrent"))
        .arg("--hybrid")
        .assert()
        .success();
    let s = String::from_utf8(h.get_output().stdout.clone()).unwrap();
    assert!(
        s.contains("(v1)") && s.contains("(v2)") && s.contains("pad files"),
        "{s}"
    );
}

#[test]
fn bad_input_fails_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("nothing/here")).unwrap();
    for (args, needle) in [
        (vec!["nothing"], "nothing to share"),
        (vec!["missing"], "No such file"),
        (
            vec!["nothing", "--piece-size", "1000"],
            "not a power of two",
        ),
        (vec!["nothing", "--piece-size", "1.5M"], "invalid value"),
        (vec!["nothing", "--v2", "--hybrid"], "cannot be used with"),
    ] {
        let a = ferrent()
            .current_dir(tmp.path())
            .arg("create")
            .args(&args)
            .assert()
            .failure();
        let stderr = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
