//! Bad peers and bad disks, with real programs: a libtorrent seeder serving corrupt data is
//! banned while the download completes from an honest aria2 seeder; a full disk stops the
//! download with an error naming the file, and a rerun after the cause is gone completes.

mod support;

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use support::{Swarm, download_args, utf8};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dst = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).expect("copy");
        }
    }
}

#[test]
fn corrupt_seeder_is_banned_and_download_completes() {
    let mut s = Swarm::new("smart-ban");
    let (tracker, _) = s.ferrent_tracker();
    let payload = s.payload("4M", 0);
    let torrent = s.torrent(&payload, &tracker, 16);
    let t = torrent.to_str().expect("utf-8");
    let name = payload.file_name().expect("name").to_owned();

    // The liar: a libtorrent seeder whose file is corrupted after its hash check passed.
    let bad_root = s.path("bad");
    copy_tree(payload.parent().expect("root"), &bad_root);
    s.seed_client("libtorrent", &torrent, &bad_root, "127.0.2.71", &[]);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(bad_root.join(&name))
        .expect("open");
    for piece in 0..256u64 {
        // One flipped byte per 16 KiB piece: every piece the liar sends fails its hash.
        f.seek(SeekFrom::Start(piece * 16384 + 100)).expect("seek");
        f.write_all(&[0xAA]).expect("corrupt");
    }
    f.sync_all().expect("sync");

    // The honest seeder.
    let good = payload.parent().expect("root");
    s.seed_client("aria2", &torrent, good, "127.0.2.72", &[]);

    let dl = s.path("dl");
    let out = s.download(t, &dl, "127.0.2.73", Duration::from_secs(40), &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "download failed: {text}");
    assert!(s.same_bytes(&payload, &dl), "bytes differ");
    // The liar was caught: failed pieces refetched and exactly one peer (127.0.2.71) banned.
    assert!(
        text.contains("failed their hash"),
        "no hash failure seen: {text}"
    );
    assert!(
        text.contains("1 peers banned for corrupt data"),
        "liar not banned: {text}"
    );
}

#[test]
fn full_disk_stops_with_the_file_named_then_rerun_completes() {
    let mut s = Swarm::new("disk-full");
    let (tracker, _) = s.ferrent_tracker();
    let payload = s.payload("3M", 4);
    let torrent = s.torrent(&payload, &tracker, 64);
    let t = torrent.to_str().expect("utf-8");
    let root = payload.parent().expect("root");
    s.seed_client("libtorrent", &torrent, root, "127.0.2.81", &[]);

    // The biggest file of the download goes to /dev/full: every write fails with ENOSPC.
    let name = payload.file_name().expect("name").to_owned();
    let dl = s.path("dl");
    let biggest = std::fs::read_dir(&payload)
        .expect("payload dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .max_by_key(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .expect("a file")
        .file_name();
    std::fs::create_dir_all(dl.join(&name)).expect("mkdir");
    let trap = dl.join(&name).join(&biggest);
    std::os::unix::fs::symlink("/dev/full", &trap).expect("symlink");
    let args = download_args(t, utf8(&dl), "127.0.2.82", "30s");
    let out = s.run_ferrent(&args, Duration::from_secs(60));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "download into a full disk succeeded");
    assert!(
        err.contains("No space left on device"),
        "reason not given: {err}"
    );
    assert!(
        err.contains(biggest.to_str().expect("utf-8")),
        "file not named: {err}"
    );

    // The cause is gone: the same command completes.
    std::fs::remove_file(&trap).expect("remove trap");
    let out = s.run_ferrent(&args, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "rerun failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s.same_bytes(&payload, &dl), "bytes differ after rerun");
}

/// `--only` one file: that file is complete; files sharing no piece with it are never created;
/// `--skip` takes a glob.
#[test]
fn only_and_skip_select_files() {
    let mut s = Swarm::new("select");
    let (tracker, _) = s.ferrent_tracker();
    let payload = s.payload("4M", 12);
    let torrent = s.torrent(&payload, &tracker, 16);
    let t = torrent.to_str().expect("utf-8");
    let root = payload.parent().expect("root");
    s.seed_client("libtorrent", &torrent, root, "127.0.2.91", &[]);

    let info = s.run_ferrent(&["info", "--json", t], Duration::from_secs(20));
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).expect("json");
    let piece = v["piece_length"].as_u64().expect("piece length");
    let files: Vec<(usize, String, u64, u64)> = v["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            let g = |k: &str| f[k].as_u64().expect("number");
            (
                g("index") as usize,
                f["path"].as_str().expect("path").to_string(),
                g("offset"),
                g("length"),
            )
        })
        .collect();
    let pieces_of = |off: u64, len: u64| (off / piece, (off + len.max(1) - 1) / piece);
    // The biggest file.
    let want = files.iter().max_by_key(|f| f.3).expect("a file").clone();
    let (w0, w1) = pieces_of(want.2, want.3);

    let dl = s.path("dl");
    let out = s.download(
        t,
        &dl,
        "127.0.2.92",
        Duration::from_secs(30),
        &["--only", &want.0.to_string(), "--skip", "*never-matches*"],
    );
    assert!(
        out.status.success(),
        "selective download failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = std::fs::read(dl.join(&want.1)).expect("wanted file");
    let name = payload.file_name().expect("name").to_str().expect("utf-8");
    let inner = want
        .1
        .strip_prefix(&format!("{name}/"))
        .expect("path under name");
    assert_eq!(
        got,
        std::fs::read(payload.join(inner)).expect("original"),
        "wanted file differs"
    );
    let mut absent = 0;
    for (_, path, off, len) in &files {
        let (a, b) = pieces_of(*off, *len);
        if *len > 0 && (b < w0 || a > w1) {
            assert!(
                !dl.join(path).exists(),
                "{path} shares no piece with the selection but was written"
            );
            absent += 1;
        }
    }
    assert!(
        absent > 0,
        "the test payload should have files outside the selection"
    );
}
