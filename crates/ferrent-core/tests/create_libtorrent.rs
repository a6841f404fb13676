//! Torrents made by `ferrent_core::create_torrent` against libtorrent 2.0 (python3-libtorrent):
//! it must load them, compute the same info-hash(es), and verify the original data as complete
//! (100 %, seeding) — for v1, v2 and hybrid, single-file and multi-file payloads.
//!
//! Payloads come from `shared/swarm/mkpayload` (found at `$CARGO_MANIFEST_DIR/../../../shared/swarm`
//! or `$FERRENT_SWARM_DIR`); libtorrent from `/usr/bin/python3` (or `$FERRENT_PYTHON`). Both are
//! installed by `shared/swarm/install` (CI runs it); a missing tool fails the test with a message.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferrent_core::{CreateOptions, CreationDate, TorrentVersion, create_torrent};

/// Loads the torrent, prints its info-hashes, adds it to a session that can reach nothing but
/// 127.0.0.1 (DHT, LSD, UPnP, NAT-PMP off), rechecks the data under `save_path` and prints the
/// outcome as JSON. Bounded: gives up after 60 s.
const VERIFY_PY: &str = r#"
import json, sys, time
import libtorrent as lt
torrent, save_path = sys.argv[1], sys.argv[2]
ti = lt.torrent_info(torrent)
ih = ti.info_hashes()
out = {"v1": str(ih.v1) if ih.has_v1() else "", "v2": str(ih.v2) if ih.has_v2() else ""}
ses = lt.session({"enable_dht": False, "enable_lsd": False, "enable_upnp": False,
                  "enable_natpmp": False, "listen_interfaces": "127.0.0.1:0",
                  "alert_mask": lt.alert.category_t.status_notification
                              | lt.alert.category_t.error_notification})
p = lt.add_torrent_params()
p.ti = ti
p.save_path = save_path
h = ses.add_torrent(p)
h.force_recheck()
checking = (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data)
deadline = time.time() + 60
checked = False
while time.time() < deadline:
    for a in ses.pop_alerts():
        if isinstance(a, lt.torrent_checked_alert):
            checked = True
    s = h.status()
    if s.errc.value() != 0 or (checked and s.state not in checking):
        break
    ses.wait_for_alert(100)
s = h.status()
out.update(checked=checked, progress=s.progress, is_seeding=s.is_seeding, state=str(s.state),
           error=s.errc.message() if s.errc.value() else "")
print(json.dumps(out))
"#;

fn swarm_dir() -> PathBuf {
    std::env::var_os("FERRENT_SWARM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/swarm"))
}

fn python() -> PathBuf {
    std::env::var_os("FERRENT_PYTHON")
        .map_or_else(|| PathBuf::from("/usr/bin/python3"), PathBuf::from)
}

/// Runs `mkpayload ROOT SIZE [--files N]` and returns the payload path it prints.
fn mkpayload(root: &Path, size: &str, files: u32) -> PathBuf {
    let tool = swarm_dir().join("mkpayload");
    assert!(
        tool.exists(),
        "{} is missing: set FERRENT_SWARM_DIR to the shared/swarm directory (see its README)",
        tool.display()
    );
    let out = Command::new(&tool)
        .arg(root)
        .arg(size)
        .args(["--files", &files.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", tool.display()));
    assert!(
        out.status.success(),
        "mkpayload failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

struct Verdict {
    v1: String,
    v2: String,
    line: String,
}

fn json_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!("\"{key}\": "))? + key.len() + 4;
    let rest = &line[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim().trim_matches('"'))
}

fn libtorrent_verify(torrent: &Path, save_path: &Path) -> Verdict {
    let py = python();
    let out = Command::new(&py)
        .args(["-c", VERIFY_PY])
        .arg(torrent)
        .arg(save_path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", py.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'libtorrent'"),
        "python3-libtorrent is missing for {} (install it with shared/swarm/install)",
        py.display()
    );
    assert!(
        out.status.success(),
        "libtorrent check of {} failed: {stderr}",
        torrent.display()
    );
    let line = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let field = |k| json_field(&line, k).unwrap_or_default().to_owned();
    assert_eq!(field("error"), "", "libtorrent: {line}");
    assert_eq!(
        field("checked"),
        "true",
        "libtorrent never finished checking: {line}"
    );
    assert_eq!(
        field("progress"),
        "1.0",
        "libtorrent did not find the data complete: {line}"
    );
    assert_eq!(field("is_seeding"), "true", "{line}");
    Verdict {
        v1: field("v1"),
        v2: field("v2"),
        line,
    }
}

/// The info-hashes (hex, "" for none) of the torrent libtorrent itself makes of `payload`
/// (`shared/swarm/mktorrent-py`, i.e. `lt.create_torrent`).
fn libtorrent_made(
    payload: &Path,
    piece_length: u64,
    version: TorrentVersion,
    out: &Path,
) -> (String, String) {
    let tool = swarm_dir().join("mktorrent-py");
    let mut cmd = Command::new(&tool);
    cmd.arg(payload)
        .arg(out)
        .args(["--tracker", "http://127.0.0.1:1/announce"]);
    cmd.args(["--piece-kib", &(piece_length / 1024).to_string()]);
    match version {
        TorrentVersion::V1 => {}
        TorrentVersion::V2 => {
            cmd.arg("--v2");
        }
        _ => {
            cmd.arg("--hybrid");
        }
    }
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", tool.display()));
    assert!(
        o.status.success(),
        "mktorrent-py failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8(o.stdout).unwrap();
    let get = |key: &str| {
        let v = text
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap_or("-");
        if v == "-" {
            String::new()
        } else {
            v.to_owned()
        }
    };
    (get("v1="), get("v2="))
}

/// Creates all three kinds for `payload` with `piece_length`, and has libtorrent verify each.
/// With a fixed piece length, the info-hashes must also equal those of the torrents libtorrent
/// makes itself — except v1 of a directory, where libtorrent keeps the directory-listing order
/// and ferrent sorts (v2 and hybrid sort in both).
fn check_all_kinds(payload: &Path, piece_length: Option<u64>, scratch: &Path) {
    let save_path = payload.parent().unwrap();
    for version in [
        TorrentVersion::V1,
        TorrentVersion::V2,
        TorrentVersion::Hybrid,
    ] {
        let opts = CreateOptions {
            version,
            piece_length,
            creation_date: CreationDate::Omit,
            trackers: vec![vec!["http://127.0.0.1:1/announce".into()]],
            ..CreateOptions::default()
        };
        let t = create_torrent(payload, &opts).unwrap();
        let file = scratch.join(format!(
            "{}-{version:?}-{}.torrent",
            t.name,
            piece_length.unwrap_or(0)
        ));
        std::fs::write(&file, &t.bytes).unwrap();
        let v = libtorrent_verify(&file, save_path);
        let ours_v1 = t
            .info_hash
            .v1_hash()
            .map(|h| h.to_hex())
            .unwrap_or_default();
        let ours_v2 = t
            .info_hash
            .v2_hash()
            .map(|h| h.to_hex())
            .unwrap_or_default();
        assert_eq!(
            v.v1, ours_v1,
            "v1 info-hash differs ({version:?}): {}",
            v.line
        );
        assert_eq!(
            v.v2, ours_v2,
            "v2 info-hash differs ({version:?}): {}",
            v.line
        );
        assert_eq!(v.v1.is_empty(), version == TorrentVersion::V2);
        assert_eq!(v.v2.is_empty(), version == TorrentVersion::V1);
        eprintln!("{} {version:?}: {}", payload.display(), v.line);
        if let Some(p) = piece_length.filter(|_| version != TorrentVersion::V1 || payload.is_file())
        {
            let lt_file = scratch.join(format!("{}-{version:?}-{p}-lt.torrent", t.name));
            let (lt_v1, lt_v2) = libtorrent_made(payload, p, version, &lt_file);
            assert_eq!(
                (lt_v1, lt_v2),
                (ours_v1, ours_v2),
                "libtorrent makes another torrent ({version:?})"
            );
        }
    }
}

#[test]
fn single_file_payload_verifies_in_libtorrent() {
    let dir = tempfile::tempdir().unwrap();
    // Not a multiple of any piece length: the last piece is short.
    let payload = mkpayload(dir.path(), "3000001", 1);
    check_all_kinds(&payload, None, dir.path());
    check_all_kinds(&payload, Some(256 * 1024), dir.path());
}

#[test]
fn multi_file_payload_verifies_in_libtorrent() {
    let dir = tempfile::tempdir().unwrap();
    // mkpayload puts zero-length, 1-byte, tiny and unaligned files in nested directories.
    let payload = mkpayload(dir.path(), "4M", 20);
    check_all_kinds(&payload, None, dir.path());
    check_all_kinds(&payload, Some(64 * 1024), dir.path());
}

#[test]
fn edge_case_tree_verifies_in_libtorrent() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("edge");
    let files: &[(&str, usize)] = &[
        (".hidden", 100),
        ("a/exactly-one-piece", 64 * 1024),
        ("a/two-pieces-and-a-byte", 128 * 1024 + 1),
        ("a.txt", 1),
        ("b/c/d/deep", 70_000),
        ("zz-empty-last", 0),
    ];
    for (i, (rel, len)) in files.iter().enumerate() {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let bytes: Vec<u8> = (0..*len)
            .map(|j| (j as u8).wrapping_mul(31).wrapping_add(i as u8))
            .collect();
        std::fs::write(p, bytes).unwrap();
    }
    std::fs::create_dir_all(root.join("empty-dir")).unwrap();
    check_all_kinds(&root, Some(64 * 1024), dir.path());
}
