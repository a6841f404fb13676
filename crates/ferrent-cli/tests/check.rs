//! `ferrent check` end to end: create a torrent over a payload, check it (exit 0, all pieces),
//! corrupt one byte (exit 1, one piece fewer, that file incomplete), remove a file.

use std::path::Path;

use assert_cmd::Command;

fn ferrent() -> Command {
    Command::cargo_bin("ferrent").expect("the ferrent binary")
}

/// A directory torrent: `data/a.bin` (600 000 bytes) and `data/b.bin` (100 000 bytes), 64 KiB
/// pieces (11 pieces).
fn setup(root: &Path) -> std::path::PathBuf {
    let dir = root.join("data");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let a: Vec<u8> = (0..600_000u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(dir.join("a.bin"), a).expect("write a");
    std::fs::write(dir.join("b.bin"), vec![5u8; 100_000]).expect("write b");
    let torrent = root.join("t.torrent");
    ferrent()
        .arg("create")
        .arg(&dir)
        .arg("-o")
        .arg(&torrent)
        .args(["-p", "64KiB"])
        .assert()
        .success();
    torrent
}

fn check(torrent: &Path, dir: &Path) -> (Option<i32>, String) {
    let out = ferrent()
        .arg("check")
        .arg(torrent)
        .arg("-d")
        .arg(dir)
        .output()
        .expect("run ferrent check");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn complete_data_passes_and_one_corrupt_byte_fails_one_piece() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let torrent = setup(tmp.path());

    let (code, out) = check(&torrent, tmp.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("11 of 11 pieces OK (100.0%)"), "{out}");
    assert!(out.contains("GB/s"), "{out}");
    assert!(out.contains("a.bin") && out.contains("b.bin"), "{out}");
    assert!(!out.contains("incomplete"), "{out}");

    // Flip one byte in the middle of a.bin: exactly one piece fails.
    let a = tmp.path().join("data/a.bin");
    let mut bytes = std::fs::read(&a).expect("read a");
    bytes[300_000] ^= 0xff;
    std::fs::write(&a, bytes).expect("write a");
    let (code, out) = check(&torrent, tmp.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("10 of 11 pieces OK"), "{out}");
    assert!(out.contains("incomplete (9 of 10 pieces)"), "{out}");
    // b.bin (pieces 9 and 10; piece 9 is shared with a.bin but intact) is still complete.
    assert!(
        out.lines()
            .any(|l| l.contains("b.bin") && l.ends_with(": complete")),
        "{out}"
    );
}

#[test]
fn missing_file_is_reported_incomplete() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let torrent = setup(tmp.path());
    std::fs::remove_file(tmp.path().join("data/b.bin")).expect("rm b");
    let (code, out) = check(&torrent, tmp.path());
    assert_eq!(code, Some(1), "{out}");
    // Piece 9 spans a.bin and b.bin, piece 10 is only b.bin: both gone.
    assert!(out.contains("9 of 11 pieces OK"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("b.bin") && l.contains("incomplete (0 of 2 pieces)")),
        "{out}"
    );
}
