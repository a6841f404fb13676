//! `ferrent demo` end to end: tracker, seeder and downloader on loopback in one process.

use assert_cmd::Command;

#[test]
fn demo_swarm_completes_with_identical_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::cargo_bin("ferrent")
        .expect("binary")
        .args(["demo", "--size", "6MiB", "--dir"])
        .arg(dir.path())
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.contains("every file is byte-identical"), "{text}");
    assert!(text.contains("the seeder uploaded 6.0 MiB"), "{text}");
    // The downloaded tree is really there, zero-length file included.
    let got = dir.path().join("leecher/ferrent-demo");
    assert_eq!(
        std::fs::metadata(got.join("video.bin"))
            .expect("video")
            .len(),
        6 * 1024 * 1024 - 6 * 1024 * 1024 / 4
    );
    assert_eq!(
        std::fs::metadata(got.join("extras/empty.txt"))
            .expect("empty file")
            .len(),
        0
    );
}
