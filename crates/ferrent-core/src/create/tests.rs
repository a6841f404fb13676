//! Unit tests of torrent creation: piece length choice, v1 pieces across files, BEP 52 merkle
//! roots, BEP 47 pad placement, the walk rules and the top-level fields.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use ferrent_bencode::{Value, decode};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::*;

const K: u64 = 1024;
const M: u64 = 1024 * 1024;

/// Deterministic, non-repeating bytes (so misplaced data changes hashes).
fn data(len: usize, seed: u8) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9 ^ u32::from(seed);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(p, bytes).unwrap();
}

fn opts(version: TorrentVersion, piece: u64) -> CreateOptions {
    CreateOptions {
        piece_length: Some(piece),
        version,
        creation_date: CreationDate::Omit,
        ..CreateOptions::default()
    }
}

fn top_of(t: &CreatedTorrent) -> ferrent_bencode::Dict<'_> {
    decode(&t.bytes).unwrap().as_dict().unwrap().clone()
}

fn info_of<'a>(d: &ferrent_bencode::Dict<'a>) -> ferrent_bencode::Dict<'a> {
    d.get_dict(b"info").unwrap().clone()
}

/// (path joined with '/', length, is pad) of the v1 `files` list.
fn v1_files(info: &ferrent_bencode::Dict<'_>) -> Vec<(String, i64, bool)> {
    info.get_list(b"files")
        .unwrap()
        .iter()
        .map(|f| {
            let f = f.as_dict().unwrap();
            let path: Vec<&str> = f
                .get_list(b"path")
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            (
                path.join("/"),
                f.get_int(b"length").unwrap(),
                f.get_bytes(b"attr") == Some(b"p"),
            )
        })
        .collect()
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

fn h2(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut v = a.to_vec();
    v.extend_from_slice(b);
    sha256(&v)
}

#[test]
fn auto_piece_length_aims_at_1000_to_2000_pieces() {
    assert_eq!(auto_piece_length(1), 16 * K);
    assert_eq!(auto_piece_length(2000 * 16 * K), 16 * K);
    assert_eq!(auto_piece_length(2000 * 16 * K + 1), 32 * K);
    assert_eq!(auto_piece_length(1024 * M), M);
    assert_eq!(auto_piece_length(4096 * M), 4 * M);
    assert_eq!(auto_piece_length(1 << 50), 16 * M);
    for total in [40 * M, 100 * M, 700 * M, 3 * 1024 * M, 20 * 1024 * M] {
        let p = auto_piece_length(total);
        assert!(p.is_power_of_two());
        let n = total.div_ceil(p);
        assert!((1000..=2000).contains(&n), "{total} -> {p} -> {n} pieces");
    }
}

#[test]
fn bad_piece_lengths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "f", b"x");
    for bad in [0, 1000, 8 * K, 48 * K, 512 * M] {
        let err =
            CreatePlan::scan(&dir.path().join("f"), &opts(TorrentVersion::V1, bad)).unwrap_err();
        assert!(
            matches!(err, CreateError::BadPieceLength { length } if length == bad),
            "{bad}"
        );
    }
}

#[test]
fn v1_pieces_span_file_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("multi");
    // Sizes chosen so pieces start inside files and one piece covers three files.
    let parts = [
        ("a", 10_000usize),
        ("b", 3_000),
        ("c", 0),
        ("d", 40_000),
        ("e", 5),
    ];
    let mut all = Vec::new();
    for (i, (name, len)) in parts.iter().enumerate() {
        let d = data(*len, i as u8);
        write(&root, name, &d);
        all.extend_from_slice(&d);
    }
    for threads in [1, 3] {
        let mut o = opts(TorrentVersion::V1, 16 * K);
        o.threads = Some(threads);
        let t = create_torrent(&root, &o).unwrap();
        let top = top_of(&t);
        let info = info_of(&top);
        let expected: Vec<u8> = all
            .chunks(16 * 1024)
            .flat_map(|c| Sha1::digest(c).to_vec())
            .collect();
        assert_eq!(info.get_bytes(b"pieces").unwrap(), expected.as_slice());
        assert_eq!(t.num_pieces, 4);
        assert_eq!(t.total_size, 53_005);
        assert_eq!(info.get_str(b"name"), Some("multi"));
        assert_eq!(info.get_int(b"length"), None);
        let names: Vec<String> = v1_files(&info).into_iter().map(|f| f.0).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
        // The info-hash is the SHA-1 of the info dictionary's bytes in the file.
        let raw = top.get_raw(b"info").unwrap();
        assert_eq!(
            t.info_hash.v1_hash().unwrap().0,
            <[u8; 20]>::from(Sha1::digest(raw))
        );
        assert_eq!(t.info_hash.v2_hash(), None);
    }
}

#[test]
fn many_batches_on_many_threads_match_one_thread() {
    // 9 MiB of 16 KiB pieces is more than one batch; 3 threads share it.
    let dir = tempfile::tempdir().unwrap();
    let d = data(9 * 1024 * 1024 + 123, 7);
    write(dir.path(), "big", &d);
    let path = dir.path().join("big");
    for version in [TorrentVersion::V1, TorrentVersion::Hybrid] {
        let one = create_torrent(
            &path,
            &CreateOptions {
                threads: Some(1),
                ..opts(version, 16 * K)
            },
        );
        let three = create_torrent(
            &path,
            &CreateOptions {
                threads: Some(3),
                ..opts(version, 16 * K)
            },
        );
        assert_eq!(one.unwrap().bytes, three.unwrap().bytes);
    }
    let t = create_torrent(&path, &opts(TorrentVersion::V1, 16 * K)).unwrap();
    let top = top_of(&t);
    let expected: Vec<u8> = d
        .chunks(16 * 1024)
        .flat_map(|c| Sha1::digest(c).to_vec())
        .collect();
    assert_eq!(
        info_of(&top).get_bytes(b"pieces").unwrap(),
        expected.as_slice()
    );
}

#[test]
fn single_file_v1_layout() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(50_000, 1);
    write(dir.path(), "one.bin", &d);
    let t = create_torrent(
        &dir.path().join("one.bin"),
        &opts(TorrentVersion::V1, 32 * K),
    )
    .unwrap();
    let top = top_of(&t);
    let info = info_of(&top);
    assert_eq!(info.get_str(b"name"), Some("one.bin"));
    assert_eq!(info.get_int(b"length"), Some(50_000));
    assert_eq!(info.get_int(b"piece length"), Some(32 * 1024));
    assert!(info.get(b"files").is_none());
    assert!(info.get(b"meta version").is_none());
    assert_eq!(info.get_bytes(b"pieces").unwrap().len(), 40);
}

#[test]
fn v2_root_of_one_zero_block_is_its_sha256() {
    // Known vector: SHA-256 of 16 KiB of zeros (computed with Python's hashlib).
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "z", &[0u8; 16 * 1024]);
    let t = create_torrent(&dir.path().join("z"), &opts(TorrentVersion::V2, 16 * K)).unwrap();
    let top = top_of(&t);
    let info = info_of(&top);
    let leaf = info
        .get_dict(b"file tree")
        .unwrap()
        .get_dict(b"z")
        .unwrap()
        .get_dict(b"")
        .unwrap();
    assert_eq!(leaf.get_int(b"length"), Some(16384));
    assert_eq!(
        data_encoding::HEXLOWER.encode(leaf.get_bytes(b"pieces root").unwrap()),
        "4fe7b59af6de3b665b67788cc2f99892ab827efae3a467342b3bb4e3bc8e5bfe"
    );
    assert_eq!(info.get_int(b"meta version"), Some(2));
    assert!(info.get(b"pieces").is_none() && info.get(b"length").is_none());
    assert!(top.get(b"piece layers").is_none());
    let raw = top.get_raw(b"info").unwrap();
    assert_eq!(t.info_hash.v2_hash().unwrap().0, sha256(raw));
    assert_eq!(t.info_hash.v1_hash(), None);
}

#[test]
fn v2_root_pads_leaves_with_zero_hashes() {
    // Three blocks of 0x00.., 0x01.., 0x02..: root = H(H(h0,h1), H(h2, 0)) (Python-computed).
    let dir = tempfile::tempdir().unwrap();
    let mut d = Vec::new();
    for i in 0..3u8 {
        d.extend(std::iter::repeat_n(i, 16 * 1024));
    }
    write(dir.path(), "three", &d);
    let t = create_torrent(&dir.path().join("three"), &opts(TorrentVersion::V2, 64 * K)).unwrap();
    let top = top_of(&t);
    let tree = info_of(&top).get_dict(b"file tree").unwrap().clone();
    let root = tree
        .get_dict(b"three")
        .unwrap()
        .get_dict(b"")
        .unwrap()
        .get_bytes(b"pieces root");
    assert_eq!(
        data_encoding::HEXLOWER.encode(root.unwrap()),
        "3a399668ed9c3bb00bde9e1d7cde44b39b39867155793bbc0a879cbc4ca9dd1e"
    );
}

#[test]
fn v2_piece_layers_for_files_longer_than_a_piece() {
    // 5 blocks + 100 bytes with 32 KiB pieces: 3 pieces; the last has one short leaf.
    let dir = tempfile::tempdir().unwrap();
    let root_dir = dir.path().join("d");
    let d = data(5 * 16 * 1024 + 100, 3);
    write(&root_dir, "long", &d);
    write(&root_dir, "short", &data(100, 4));
    let t = create_torrent(&root_dir, &opts(TorrentVersion::V2, 32 * K)).unwrap();
    let leaves: Vec<[u8; 32]> = d.chunks(16 * 1024).map(sha256).collect();
    let z = [0u8; 32];
    let pieces = [
        h2(&leaves[0], &leaves[1]),
        h2(&leaves[2], &leaves[3]),
        h2(&leaves[4], &leaves[5]),
    ];
    let pad = h2(&z, &z);
    let root = h2(&h2(&pieces[0], &pieces[1]), &h2(&pieces[2], &pad));
    let top = top_of(&t);
    let tree = info_of(&top).get_dict(b"file tree").unwrap().clone();
    let got = tree
        .get_dict(b"long")
        .unwrap()
        .get_dict(b"")
        .unwrap()
        .get_bytes(b"pieces root");
    assert_eq!(got, Some(&root[..]));
    let layers = top.get_dict(b"piece layers").unwrap();
    assert_eq!(
        layers.len(),
        1,
        "only files longer than one piece have a layer"
    );
    assert_eq!(layers.get_bytes(&root), Some(pieces.concat().as_slice()));
    // The short file's root is the root of its own one-leaf tree.
    let short = tree
        .get_dict(b"short")
        .unwrap()
        .get_dict(b"")
        .unwrap()
        .get_bytes(b"pieces root");
    assert_eq!(short, Some(&sha256(&data(100, 4))[..]));
    assert_eq!(t.num_pieces, 4);
}

#[test]
fn hybrid_pads_align_files_and_v1_hashes_include_the_pad_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("h");
    let a = data(10_000, 1);
    let c = data(16 * 1024, 2);
    let d = data(5, 3);
    write(&root, "a", &a);
    write(&root, "b", b"");
    write(&root, "c", &c);
    write(&root, "d", &d);
    write(&root, "e", b""); // empty: no pad after it
    let t = create_torrent(&root, &opts(TorrentVersion::Hybrid, 16 * K)).unwrap();
    let top = top_of(&t);
    let info = info_of(&top);
    let files = v1_files(&info);
    let expected = [
        ("a", 10_000, false),
        (".pad/6384", 6384, true),
        ("b", 0, false),
        ("c", 16384, false),
        ("d", 5, false),
        (".pad/16379", 16379, true),
        ("e", 0, false),
    ];
    let expected: Vec<(String, i64, bool)> = expected
        .iter()
        .map(|(p, l, pad)| (p.to_string(), *l, *pad))
        .collect();
    assert_eq!(files, expected);
    assert_eq!(t.pad_bytes, 6384 + 16379);
    let padded = |x: &[u8]| {
        let mut v = x.to_vec();
        v.resize(16 * 1024, 0);
        v
    };
    let pieces = [
        Sha1::digest(padded(&a)),
        Sha1::digest(&c),
        Sha1::digest(padded(&d)),
    ]
    .concat();
    assert_eq!(info.get_bytes(b"pieces"), Some(pieces.as_slice()));
    assert_eq!(info.get_int(b"meta version"), Some(2));
    let tree = info.get_dict(b"file tree").unwrap();
    assert_eq!(tree.len(), 5, "pad files are not in the v2 file tree");
    let e = tree.get_dict(b"e").unwrap().get_dict(b"").unwrap();
    assert_eq!(e.get_int(b"length"), Some(0));
    assert!(e.get(b"pieces root").is_none());
    let raw = top.get_raw(b"info").unwrap();
    assert_eq!(
        t.info_hash.v1_hash().unwrap().0,
        <[u8; 20]>::from(Sha1::digest(raw))
    );
    assert_eq!(t.info_hash.v2_hash().unwrap().0, sha256(raw));
}

#[test]
fn hybrid_single_file_has_length_and_file_tree() {
    let dir = tempfile::tempdir().unwrap();
    let d = data(40_000, 9);
    write(dir.path(), "s", &d);
    let t = create_torrent(&dir.path().join("s"), &opts(TorrentVersion::Hybrid, 16 * K)).unwrap();
    let top = top_of(&t);
    let info = info_of(&top);
    assert_eq!(info.get_int(b"length"), Some(40_000));
    let expected: Vec<u8> = d
        .chunks(16 * 1024)
        .flat_map(|c| Sha1::digest(c).to_vec())
        .collect();
    assert_eq!(info.get_bytes(b"pieces"), Some(expected.as_slice()));
    assert!(
        info.get_dict(b"file tree")
            .unwrap()
            .get_dict(b"s")
            .is_some()
    );
    assert_eq!(t.pad_bytes, 0);
}

#[test]
fn order_is_componentwise_bytes_and_nested_dirs_form_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("o");
    for rel in ["b", "a.txt", "a/z", "B", "a/y/x", "a-b"] {
        write(&root, rel, rel.as_bytes());
    }
    let t = create_torrent(&root, &opts(TorrentVersion::Hybrid, 16 * K)).unwrap();
    let top = top_of(&t);
    let info = info_of(&top);
    let names: Vec<String> = v1_files(&info)
        .into_iter()
        .filter(|f| !f.2)
        .map(|f| f.0)
        .collect();
    assert_eq!(names, ["B", "a/y/x", "a/z", "a-b", "a.txt", "b"]);
    let tree = info.get_dict(b"file tree").unwrap();
    let x = tree
        .get_dict(b"a")
        .unwrap()
        .get_dict(b"y")
        .unwrap()
        .get_dict(b"x")
        .unwrap();
    assert_eq!(x.get_dict(b"").unwrap().get_int(b"length"), Some(5));
    // Same input, fixed date: byte-identical output.
    let again = create_torrent(&root, &opts(TorrentVersion::Hybrid, 16 * K)).unwrap();
    assert_eq!(again.bytes, t.bytes);
}

#[test]
fn walk_rules_hidden_symlinks_empty_dirs_special_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("w");
    let outside = dir.path().join("outside");
    write(&root, ".hidden", b"hidden");
    write(&root, "real", b"real data");
    write(&outside, "secret", b"outside");
    fs::create_dir_all(root.join("empty/deeper/deepest")).unwrap();
    std::os::unix::fs::symlink(root.join("real"), root.join("link-to-file")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("link-to-dir")).unwrap();
    std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling")).unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(root.join("fifo"))
        .status();
    let have_fifo = fifo.is_ok_and(|s| s.success());

    let plan = CreatePlan::scan(&root, &opts(TorrentVersion::V1, 16 * K)).unwrap();
    let names: Vec<String> = plan.files().map(|f| f.path.join("/")).collect();
    assert_eq!(names, [".hidden", "link-to-file", "real"]);
    let link = plan.files().nth(1).unwrap();
    assert_eq!(
        link.length, 9,
        "a symlink to a file carries the target's bytes"
    );
    let mut skipped: Vec<(String, SkipReason)> = plan
        .skipped()
        .iter()
        .map(|s| {
            (
                s.path.strip_prefix(&root).unwrap().display().to_string(),
                s.reason,
            )
        })
        .collect();
    skipped.sort();
    let mut expected = vec![
        ("dangling".to_string(), SkipReason::DanglingSymlink),
        ("empty".to_string(), SkipReason::EmptyDirectory),
        ("link-to-dir".to_string(), SkipReason::SymlinkToDirectory),
    ];
    if have_fifo {
        expected.push(("fifo".to_string(), SkipReason::NotRegularFile));
    }
    expected.sort();
    assert_eq!(skipped, expected);
    let t = plan.hash(&AtomicU64::new(0)).unwrap();
    assert_eq!(t.skipped.len(), expected.len());
    assert_eq!(t.total_size, 6 + 9 + 9);
}

#[test]
fn input_path_that_is_a_symlink_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "target", b"abc");
    std::os::unix::fs::symlink(dir.path().join("target"), dir.path().join("alias")).unwrap();
    let t = create_torrent(&dir.path().join("alias"), &opts(TorrentVersion::V1, 16 * K)).unwrap();
    assert_eq!(t.name, "alias");
    assert_eq!(t.total_size, 3);
}

#[test]
fn empty_inputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("empty/sub")).unwrap();
    write(dir.path(), "zeros/a", b"");
    write(dir.path(), "zeros/b/c", b"");
    write(dir.path(), "nothing", b"");
    for p in ["empty", "zeros", "nothing"] {
        let err = create_torrent(&dir.path().join(p), &CreateOptions::default()).unwrap_err();
        assert!(matches!(err, CreateError::EmptyInput { .. }), "{p}: {err}");
        assert!(err.to_string().contains("nothing to share"));
    }
    let err = create_torrent(&dir.path().join("missing"), &CreateOptions::default()).unwrap_err();
    assert!(matches!(err, CreateError::Io { .. }));
}

#[test]
fn a_file_that_shrinks_after_the_scan_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "f", &data(100_000, 1));
    let plan = CreatePlan::scan(&dir.path().join("f"), &opts(TorrentVersion::V1, 16 * K)).unwrap();
    fs::write(dir.path().join("f"), b"short").unwrap();
    let err = plan.hash(&AtomicU64::new(0)).unwrap_err();
    assert!(
        matches!(
            err,
            CreateError::FileChanged {
                expected: 100_000,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn top_level_fields() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "f", b"hello");
    let o = CreateOptions {
        trackers: vec![
            vec!["http://a/announce".into(), "udp://b:1".into()],
            vec![],
            vec!["http://c/announce".into()],
        ],
        private: true,
        comment: Some("a comment".into()),
        web_seeds: vec!["http://ws/".into()],
        source: Some("SRC".into()),
        creation_date: CreationDate::Unix(1_700_000_000),
        ..CreateOptions::default()
    };
    let t = create_torrent(&dir.path().join("f"), &o).unwrap();
    let top = top_of(&t);
    assert_eq!(top.get_str(b"announce"), Some("http://a/announce"));
    let tiers: Vec<Vec<&str>> = top
        .get_list(b"announce-list")
        .unwrap()
        .iter()
        .map(|t| {
            t.as_list()
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        tiers,
        [
            vec!["http://a/announce", "udp://b:1"],
            vec!["http://c/announce"]
        ]
    );
    assert_eq!(top.get_str(b"comment"), Some("a comment"));
    assert_eq!(
        top.get_str(b"created by"),
        Some(default_created_by().as_str())
    );
    assert!(default_created_by().starts_with("ferrent/"));
    assert_eq!(top.get_int(b"creation date"), Some(1_700_000_000));
    assert_eq!(top.get_str(b"url-list"), Some("http://ws/"));
    let info = info_of(&top);
    assert_eq!(info.get_int(b"private"), Some(1));
    assert_eq!(info.get_str(b"source"), Some("SRC"));
    // Canonical: re-encoding the decoded file gives the same bytes.
    assert_eq!(ferrent_bencode::encode(&decode(&t.bytes).unwrap()), t.bytes);

    // Defaults: one tracker -> no announce-list; no date when omitted; several web seeds -> list.
    let o = CreateOptions {
        trackers: vec![vec!["http://a/announce".into()]],
        web_seeds: vec!["http://x/".into(), "http://y/".into()],
        creation_date: CreationDate::Omit,
        created_by: None,
        ..CreateOptions::default()
    };
    let t = create_torrent(&dir.path().join("f"), &o).unwrap();
    let top = top_of(&t);
    assert!(top.get(b"announce-list").is_none());
    assert!(top.get(b"creation date").is_none());
    assert!(top.get(b"created by").is_none());
    assert_eq!(top.get_list(b"url-list").map(<[Value<'_>]>::len), Some(2));
    assert!(info_of(&top).get(b"private").is_none());
}

#[test]
fn progress_counts_every_data_byte() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("p");
    write(&root, "a", &data(100_000, 1));
    write(&root, "b", &data(33_333, 2));
    for version in [
        TorrentVersion::V1,
        TorrentVersion::V2,
        TorrentVersion::Hybrid,
    ] {
        let plan = CreatePlan::scan(&root, &opts(version, 16 * K)).unwrap();
        let progress = AtomicU64::new(0);
        let total = plan.total_size();
        plan.hash(&progress).unwrap();
        assert_eq!(progress.load(Ordering::Relaxed), total);
    }
}

#[test]
fn default_piece_length_is_automatic() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "f", &data(100_000, 1));
    let plan = CreatePlan::scan(&dir.path().join("f"), &CreateOptions::default()).unwrap();
    assert_eq!(plan.piece_length(), 16 * K);
    assert_eq!(plan.num_pieces(), 7);
    assert!(plan.is_single_file());
}
