//! BEP 47 pad files end to end on loopback: a hybrid torrent (v1 with a pad file after every
//! file, so each ends on a piece boundary) is seeded by one [`Session`] and downloaded by another. The download is
//! byte-identical, and the bytes that crossed the wire are exactly the blocks holding file
//! data: no block lying wholly inside a pad file is requested (or sent).
//!
//! Every wait is bounded; both sessions' torrents are stopped by the test.

use std::path::Path;
use std::time::Duration;

use ferrent::{AddTorrent, Session, SessionConfig, TorrentState};
use ferrent_core::{CreateOptions, Metainfo, TorrentVersion, create_torrent};
use tokio::time::timeout;

/// Piece length of the test torrent: 4 blocks.
const PIECE: u64 = 64 * 1024;
/// Block length (every client's).
const BLOCK: u64 = 16 * 1024;

fn bytes(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// Three files whose pad files cover 2, 3 and 2 whole blocks.
fn make_payload(root: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let files = vec![
        ("a.bin", bytes(20_000, 1)), // pad of 45 536 bytes: blocks 2 and 3
        ("b.bin", bytes(PIECE as usize + 5, 2)), // pad of 65 531 bytes: blocks 1 to 3
        ("c.bin", bytes(3 * PIECE as usize / 2, 3)), // pad of 32 KiB: blocks 2 and 3
    ];
    std::fs::create_dir_all(root).expect("payload dir");
    for (name, data) in &files {
        std::fs::write(root.join(name), data).expect("write payload");
    }
    files
}

/// Bytes of the torrent that are not in blocks lying wholly inside pad files.
fn bytes_to_transfer(meta: &Metainfo) -> u64 {
    let layout = meta.layout();
    let mut pad_only = 0;
    for f in layout.files().iter().filter(|f| f.pad) {
        let (start, end) = (f.offset, f.offset + f.length);
        let mut b = start.div_ceil(BLOCK) * BLOCK;
        while b + BLOCK <= end {
            pad_only += BLOCK;
            b += BLOCK;
        }
    }
    layout.total_length() - pad_only
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pad_blocks_are_not_transferred_and_the_download_is_identical() {
    let seed_root = tempfile::tempdir().expect("tempdir");
    let payload_dir = seed_root.path().join("padded");
    let files = make_payload(&payload_dir);
    let created = create_torrent(
        &payload_dir,
        &CreateOptions {
            piece_length: Some(PIECE),
            version: TorrentVersion::Hybrid,
            ..CreateOptions::default()
        },
    )
    .expect("create torrent");
    let meta = Metainfo::from_bytes(&created.bytes).expect("parse torrent");
    let pads = meta.layout().files().iter().filter(|f| f.pad).count();
    assert_eq!(pads, 3, "a pad file after each file");
    let expected = bytes_to_transfer(&meta);
    assert_eq!(meta.layout().total_length() - expected, 7 * BLOCK);

    let seeder = Session::new(SessionConfig {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        ..SessionConfig::default()
    })
    .expect("seeding session");
    let seed_addr = seeder.local_addr().expect("listening");
    let mut add = AddTorrent::new(seed_root.path());
    add.upload_only = true;
    let seeding = seeder
        .add_torrent(meta.clone(), add)
        .await
        .expect("add torrent to seeder");
    assert_eq!(seeding.stats().state, TorrentState::Complete);

    let leech_root = tempfile::tempdir().expect("tempdir");
    let leecher = Session::new(SessionConfig {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        ..SessionConfig::default()
    })
    .expect("leeching session");
    let mut add = AddTorrent::new(leech_root.path());
    add.peers = vec![seed_addr];
    let mut downloading = leecher
        .add_torrent(meta.clone(), add)
        .await
        .expect("add torrent to leecher");
    let state = timeout(Duration::from_secs(60), downloading.wait_finished()).await;
    let leech_stats = downloading.stats();
    let seed_stats = seeding.stats();
    downloading.stop().await;
    seeding.stop().await;
    assert_eq!(state, Ok(TorrentState::Complete), "{:?}", leech_stats.error);

    for (name, data) in &files {
        let got = std::fs::read(leech_root.path().join("padded").join(name)).expect("read");
        assert!(got == *data, "{name} differs");
    }
    assert_eq!(
        leech_stats.downloaded, expected,
        "bytes accepted by the leecher"
    );
    assert_eq!(leech_stats.wasted, 0);
    assert_eq!(seed_stats.uploaded, expected, "bytes the seeder sent");
}
