//! Unit tests of the storage layer; the scenario tests are in `tests/storage.rs`.

use std::sync::atomic::{AtomicBool, AtomicU64};

use super::*;

fn storage(dir: &Path, pl: u64, files: &[(&str, u64, bool)], options: StorageOptions) -> Storage {
    let layout = Layout::new(pl, files.iter().map(|f| (f.1, f.2))).unwrap();
    let paths = files.iter().map(|f| PathBuf::from(f.0)).collect();
    Storage::open(dir, layout, paths, options).unwrap()
}

fn payload(layout: &Layout) -> Vec<u8> {
    let mut data: Vec<u8> = (0..layout.total_length())
        .map(|i| (i * 7 + 3) as u8)
        .collect();
    for f in layout.files().iter().filter(|f| f.pad) {
        data[f.offset as usize..(f.offset + f.length) as usize].fill(0);
    }
    data
}

fn piece_bytes<'a>(layout: &Layout, data: &'a [u8], i: u32) -> &'a [u8] {
    let p = layout.piece(i).unwrap();
    let start = layout.piece_offset(p) as usize;
    &data[start..start + layout.piece_len(p) as usize]
}

#[test]
fn write_read_and_hash_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = storage(
        dir.path(),
        4,
        &[("t/a", 3, false), ("t/e", 0, false), ("t/b", 6, false)],
        StorageOptions::default(),
    );
    let data = payload(s.layout());
    for i in (0..s.layout().num_pieces()).rev() {
        let p = s.layout().piece(i).unwrap();
        s.write_piece(p, piece_bytes(s.layout(), &data, i)).unwrap();
    }
    s.prepare().unwrap();
    s.sync().unwrap();
    assert_eq!(fs_read(dir.path(), "t/a"), &data[..3]);
    assert_eq!(fs_read(dir.path(), "t/e"), b"");
    assert_eq!(fs_read(dir.path(), "t/b"), &data[3..]);
    let p1 = s.layout().piece(1).unwrap();
    let mut buf = [0u8; 3];
    s.read(p1, 1, &mut buf).unwrap();
    assert_eq!(&buf, &data[5..8]);
    assert_eq!(s.read_piece(p1).unwrap(), &data[4..8]);
    let want: [u8; 20] = Sha1::digest(&data[4..8]).into();
    assert_eq!(s.hash_piece_v1(p1).unwrap(), want);
}

fn fs_read(dir: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap()
}

#[test]
fn storage_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<Storage>();
    shared::<StorageError>();
}

#[test]
fn bad_indexes_and_sizes_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = storage(
        dir.path(),
        4,
        &[("a", 10, false)],
        StorageOptions::default(),
    );
    let far = PieceIndex::new_unchecked(3);
    assert!(matches!(
        s.write_piece(far, &[0; 4]),
        Err(StorageError::PieceOutOfRange {
            piece: 3,
            num_pieces: 3
        })
    ));
    assert!(matches!(
        s.read_piece(far),
        Err(StorageError::PieceOutOfRange { .. })
    ));
    assert!(matches!(
        s.hash_piece_v1(far),
        Err(StorageError::PieceOutOfRange { .. })
    ));
    let last = s.layout().piece(2).unwrap();
    assert!(matches!(
        s.write_piece(last, &[0; 4]),
        Err(StorageError::PieceSize {
            expected: 2,
            got: 4,
            ..
        })
    ));
    assert!(matches!(
        s.read(last, 1, &mut [0; 2]),
        Err(StorageError::ReadOutOfRange { .. })
    ));
    assert!(matches!(
        s.read(last, u32::MAX, &mut [0; 1]),
        Err(StorageError::ReadOutOfRange { .. })
    ));
    assert!(s.set_file_wanted(1, false).is_err());
    assert!(!s.file_wanted(1));
    // Reading data never written: the file is missing.
    let e = s.read(last, 0, &mut [0; 2]).unwrap_err();
    assert!(e.is_missing_data(), "{e}");
    assert!(!dir.path().join("a").exists(), "reads never create files");
}

#[test]
fn open_checks_counts_and_paths() {
    let layout = Layout::new(4, [(1, false), (1, false)]).unwrap();
    let e = Storage::open(
        Path::new("/x"),
        layout.clone(),
        vec!["a".into()],
        StorageOptions::default(),
    );
    assert!(matches!(
        e,
        Err(StorageError::FileCount {
            expected: 2,
            got: 1
        })
    ));
    let e = Storage::open(
        Path::new("/x"),
        layout,
        vec!["a".into(), "../b".into()],
        StorageOptions::default(),
    );
    assert!(matches!(e, Err(StorageError::UnsafePath { .. })));
}

#[test]
fn open_file_cache_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
    let files: Vec<(&str, u64, bool)> = names.iter().map(|n| (n.as_str(), 4, false)).collect();
    let options = StorageOptions {
        max_open_files: 3,
        ..StorageOptions::default()
    };
    let s = storage(dir.path(), 4, &files, options);
    for i in 0..10 {
        s.write_piece(s.layout().piece(i).unwrap(), &[i as u8; 4])
            .unwrap();
        assert!(s.open_files() <= 3);
    }
    // Files evicted with unsynced writes were synced on the way out; the rest sync now.
    s.sync().unwrap();
    for i in 0..10u32 {
        assert_eq!(
            s.read_piece(s.layout().piece(i).unwrap()).unwrap(),
            [i as u8; 4]
        );
    }
    s.close_files();
    assert_eq!(s.open_files(), 0);
}

#[test]
fn preallocation_and_wanted_files() {
    let dir = tempfile::tempdir().unwrap();
    let options = StorageOptions {
        preallocate: Preallocate::Full,
        ..StorageOptions::default()
    };
    let s = storage(
        dir.path(),
        4,
        &[
            ("a", 5, false),
            ("pad", 3, true),
            ("b", 9, false),
            ("c", 0, false),
            ("d", 0, false),
        ],
        options,
    );
    s.set_file_wanted(2, false).unwrap();
    s.set_file_wanted(4, false).unwrap();
    s.prepare().unwrap();
    assert_eq!(std::fs::metadata(dir.path().join("a")).unwrap().len(), 5);
    assert!(!dir.path().join("pad").exists());
    assert!(!dir.path().join("b").exists());
    assert!(dir.path().join("c").exists());
    assert!(!dir.path().join("d").exists());
    s.sync().unwrap();
    let states = s.stat_files().unwrap();
    assert!(matches!(states[0], FileState::Present { len: 5, .. }));
    assert_eq!(states[1], FileState::Pad);
    assert_eq!(states[2], FileState::Missing);
    assert!(matches!(states[3], FileState::Present { len: 0, .. }));
}

#[test]
fn recheck_of_nothing_and_wrong_hash_count() {
    let dir = tempfile::tempdir().unwrap();
    let s = storage(
        dir.path(),
        4,
        &[("a", 10, false)],
        StorageOptions::default(),
    );
    let (progress, cancel) = (AtomicU64::new(0), AtomicBool::new(false));
    let have = s.recheck(&[[0; 20]; 3], 2, &progress, &cancel).unwrap();
    assert_eq!(have.count_ones(), 0);
    assert_eq!(progress.into_inner(), 3);
    assert!(matches!(
        s.recheck(&[[0; 20]; 2], 2, &AtomicU64::new(0), &cancel),
        Err(StorageError::HashCount { .. })
    ));
    let cancel = AtomicBool::new(true);
    assert!(matches!(
        s.recheck(&[[0; 20]; 3], 0, &AtomicU64::new(0), &cancel),
        Err(StorageError::Cancelled)
    ));
    let empty = storage(dir.path(), 4, &[], StorageOptions::default());
    assert_eq!(
        empty
            .recheck(&[], 4, &AtomicU64::new(0), &AtomicBool::new(false))
            .unwrap()
            .len(),
        0
    );
}

/// Pieces hashed side by side (four SHA-1 lanes per group): a piece length that is no multiple
/// of 64 and longer than one read step, a short last piece, a piece across two files, and
/// corrupt pieces in different lanes of different groups. Exactly the intact pieces match.
#[test]
fn recheck_in_lanes_finds_exactly_the_intact_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let pl = 150_001;
    let s = storage(
        dir.path(),
        pl,
        &[("l/a", 5 * pl + 7, false), ("l/b", 5 * pl + 1000, false)],
        StorageOptions::default(),
    );
    let n = s.layout().num_pieces();
    assert_eq!(n, 11);
    let mut data = payload(s.layout());
    let hashes: Vec<[u8; 20]> = (0..n)
        .map(|i| Sha1::digest(piece_bytes(s.layout(), &data, i)).into())
        .collect();
    let corrupt = [2u32, 5, 6, 10];
    for &i in &corrupt {
        let p = s.layout().piece(i).unwrap();
        let at = s.layout().piece_offset(p) + u64::from(s.layout().piece_len(p)) / 2;
        data[at as usize] ^= 0x40;
    }
    s.prepare().unwrap();
    for i in 0..n {
        s.write_piece(
            s.layout().piece(i).unwrap(),
            piece_bytes(s.layout(), &data, i),
        )
        .unwrap();
    }
    s.sync().unwrap();
    for threads in [1, 2, 3] {
        let progress = AtomicU64::new(0);
        let have = s
            .recheck(&hashes, threads, &progress, &AtomicBool::new(false))
            .unwrap();
        let want: Vec<u32> = (0..n).filter(|i| !corrupt.contains(i)).collect();
        assert_eq!(have.ones().collect::<Vec<_>>(), want, "threads {threads}");
        assert_eq!(progress.into_inner(), u64::from(n));
    }
}

/// `recheck_pieces` hashes only the listed pieces (in any order; indexes past the end are
/// skipped) and reports only those that match.
#[test]
fn recheck_of_listed_pieces_reports_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let s = storage(
        dir.path(),
        1000,
        &[("p/a", 9_500, false)],
        StorageOptions::default(),
    );
    let data = payload(s.layout());
    let n = s.layout().num_pieces();
    let hashes: Vec<[u8; 20]> = (0..n)
        .map(|i| Sha1::digest(piece_bytes(s.layout(), &data, i)).into())
        .collect();
    let mut bad = data.clone();
    bad[3 * 1000 + 5] ^= 1;
    s.prepare().unwrap();
    for i in 0..n {
        s.write_piece(
            s.layout().piece(i).unwrap(),
            piece_bytes(s.layout(), &bad, i),
        )
        .unwrap();
    }
    s.sync().unwrap();
    let listed = [9, 3, 0, 7, 5, 1, 400];
    let progress = AtomicU64::new(0);
    let have = s
        .recheck_pieces(&hashes, &listed, 2, &progress, &AtomicBool::new(false))
        .unwrap();
    assert_eq!(have.ones().collect::<Vec<_>>(), [0, 1, 5, 7, 9]);
    assert_eq!(progress.into_inner(), 6);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]
    /// Any geometry: writing every piece (in a shuffled order) then reading every piece and
    /// random blocks gives the payload back; pad files never appear on disk.
    #[test]
    fn any_layout_round_trips(
        pl in 1u64..40,
        files in proptest::collection::vec((0u64..90, proptest::bool::weighted(0.2)), 0..9),
        order_seed in proptest::prelude::any::<u64>(),
        block in (0u32..40, 1usize..40),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..files.len()).map(|i| format!("t/d{}/f{i}", i % 3)).collect();
        let spec: Vec<(&str, u64, bool)> = names.iter().zip(&files).map(|(n, f)| (n.as_str(), f.0, f.1)).collect();
        let s = storage(dir.path(), pl, &spec, StorageOptions { max_open_files: 2, ..StorageOptions::default() });
        let data = payload(s.layout());
        let mut order: Vec<u32> = (0..s.layout().num_pieces()).collect();
        let mut x = order_seed | 1;
        for i in (1..order.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            order.swap(i, (x % (i as u64 + 1)) as usize);
        }
        s.prepare().unwrap();
        for &i in &order {
            s.write_piece(s.layout().piece(i).unwrap(), piece_bytes(s.layout(), &data, i)).unwrap();
        }
        s.sync().unwrap();
        for (i, f) in s.layout().files().iter().enumerate() {
            let path = dir.path().join(&names[i]);
            if f.pad {
                proptest::prop_assert!(!path.exists());
            } else {
                proptest::prop_assert_eq!(std::fs::read(&path).unwrap(), &data[f.offset as usize..(f.offset + f.length) as usize]);
            }
        }
        for p in s.layout().pieces() {
            let want = piece_bytes(s.layout(), &data, p.get());
            proptest::prop_assert_eq!(s.read_piece(p).unwrap(), want);
            let (off, len) = block;
            let mut buf = vec![0xAA; len];
            match s.read(p, off, &mut buf) {
                Ok(()) => proptest::prop_assert_eq!(&buf[..], &want[off as usize..off as usize + len]),
                Err(StorageError::ReadOutOfRange { .. }) => proptest::prop_assert!(off as usize + len > want.len()),
                Err(e) => proptest::prop_assert!(false, "{}", e),
            }
        }
        let hashes: Vec<[u8; 20]> = s.layout().pieces().map(|p| Sha1::digest(piece_bytes(s.layout(), &data, p.get())).into()).collect();
        let have = s.recheck(&hashes, 2, &AtomicU64::new(0), &AtomicBool::new(false)).unwrap();
        proptest::prop_assert!(have.all());
    }
}

/// Pieces written from aligned [`PieceBuf`]s (their aligned parts with `O_DIRECT`) and from
/// unaligned slices (all through the page cache), with `O_DIRECT` on and off, give the same
/// files: a file boundary and a pad file mid-page, a short last piece, pieces out of order.
#[test]
fn direct_and_buffered_writes_store_the_same_bytes() {
    let pl = 64 * 1024u64;
    let spec = [
        ("d/a", 100_000, false),
        ("d/.pad/1", 3_000, true),
        ("d/b", 300_000, false),
        ("d/c", 2 * pl, false),
    ];
    for direct_writes in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let options = StorageOptions {
            direct_writes,
            ..StorageOptions::default()
        };
        let s = storage(dir.path(), pl, &spec, options);
        s.prepare().unwrap();
        let data = payload(s.layout());
        for i in (0..s.layout().num_pieces()).rev() {
            let bytes = piece_bytes(s.layout(), &data, i);
            let p = s.layout().piece(i).unwrap();
            if i % 2 == 0 {
                let buf = PieceBuf::copy_of(bytes);
                assert_eq!(buf.as_ptr().align_offset(DIRECT_ALIGN), 0);
                s.write_piece(p, &buf).unwrap();
            } else {
                // One byte into a buffer: never aligned, so never `O_DIRECT`.
                let mut shifted = vec![0u8; bytes.len() + 1];
                shifted[1..].copy_from_slice(bytes);
                s.write_piece(p, &shifted[1..]).unwrap();
            }
        }
        s.sync().unwrap();
        let mut off = 0usize;
        for (name, len, pad) in spec {
            let range = off..off + len as usize;
            off += len as usize;
            if pad {
                assert!(!dir.path().join(name).exists(), "pad file {name} written");
                continue;
            }
            let on_disk = std::fs::read(dir.path().join(name)).unwrap();
            assert!(
                on_disk == data[range],
                "{name} differs (direct {direct_writes})"
            );
        }
        for i in 0..s.layout().num_pieces() {
            let p = s.layout().piece(i).unwrap();
            let want: [u8; 20] = Sha1::digest(piece_bytes(s.layout(), &data, i)).into();
            assert_eq!(s.hash_piece_v1(p).unwrap(), want);
        }
    }
}

#[test]
fn remove_files_deletes_only_the_torrents_files_and_empty_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let s = storage(
        dir.path(),
        4,
        &[("t/a", 3, false), ("t/pad", 1, true), ("t/sub/b", 6, false)],
        StorageOptions::default(),
    );
    let data = payload(s.layout());
    for i in 0..s.layout().num_pieces() {
        let p = s.layout().piece(i).unwrap();
        s.write_piece(p, piece_bytes(s.layout(), &data, i)).unwrap();
    }
    // Something of the user's beside the torrent, and inside its directory.
    std::fs::write(dir.path().join("keep"), b"x").unwrap();
    std::fs::write(dir.path().join("t/sub/mine"), b"x").unwrap();
    // A directory the user linked elsewhere: the file behind it is not the torrent's to delete.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(elsewhere.path().join("c"), b"y").unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("t/link")).unwrap();
    let linked = storage(
        dir.path(),
        4,
        &[("t/link/c", 1, false)],
        StorageOptions::default(),
    );
    assert_eq!(linked.remove_files().unwrap().skipped_links, 1);
    assert!(elsewhere.path().join("c").exists());
    std::fs::remove_file(dir.path().join("t/link")).unwrap();

    let r = s.remove_files().unwrap();
    assert_eq!((r.files, r.skipped_links), (2, 0));
    assert!(!dir.path().join("t/a").exists());
    assert!(!dir.path().join("t/sub/b").exists());
    // t/sub still holds the user's file, so it and t stay; the download directory always stays.
    assert!(dir.path().join("t/sub/mine").exists());
    assert!(dir.path().join("keep").exists());
    std::fs::remove_file(dir.path().join("t/sub/mine")).unwrap();
    // Missing files are fine; now the empty directories go too.
    let r = s.remove_files().unwrap();
    assert_eq!((r.files, r.dirs), (0, 2));
    assert!(!dir.path().join("t").exists());
    assert!(dir.path().exists());
}
