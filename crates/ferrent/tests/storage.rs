//! Storage scenarios on real files in temporary directories: multi-file torrents with pieces
//! crossing file boundaries, pad files, path escapes, recheck, disk errors (a full tmpfs).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};

use ferrent::{FileState, Storage, StorageError, StorageOptions};
use ferrent_core::Layout;
use sha1::{Digest, Sha1};

/// A deterministic pseudo-random generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// A torrent in memory: layout, relative paths, payload (zeros in pad files), piece hashes.
struct Torrent {
    layout: Layout,
    paths: Vec<PathBuf>,
    data: Vec<u8>,
    hashes: Vec<[u8; 20]>,
}

impl Torrent {
    fn new(piece_length: u64, files: &[(&str, u64, bool)], seed: u64) -> Torrent {
        let layout = Layout::new(piece_length, files.iter().map(|f| (f.1, f.2))).unwrap();
        let mut rng = Rng(seed | 1);
        let mut data: Vec<u8> = (0..layout.total_length())
            .map(|_| rng.next() as u8)
            .collect();
        for f in layout.files().iter().filter(|f| f.pad) {
            data[f.offset as usize..(f.offset + f.length) as usize].fill(0);
        }
        let mut t = Torrent {
            layout,
            paths: files.iter().map(|f| PathBuf::from(f.0)).collect(),
            data,
            hashes: Vec::new(),
        };
        t.hashes = (0..t.layout.num_pieces())
            .map(|i| Sha1::digest(t.piece(i)).into())
            .collect();
        t
    }

    fn piece(&self, i: u32) -> &[u8] {
        let p = self.layout.piece(i).unwrap();
        let start = self.layout.piece_offset(p) as usize;
        &self.data[start..start + self.layout.piece_len(p) as usize]
    }

    fn storage(&self, root: &Path) -> Storage {
        Storage::open(
            root,
            self.layout.clone(),
            self.paths.clone(),
            StorageOptions::default(),
        )
        .unwrap()
    }

    fn file_bytes(&self, i: usize) -> &[u8] {
        let f = self.layout.files()[i];
        &self.data[f.offset as usize..(f.offset + f.length) as usize]
    }

    fn write_all(&self, s: &Storage, seed: u64) {
        let mut order: Vec<u32> = (0..self.layout.num_pieces()).collect();
        Rng(seed).shuffle(&mut order);
        for i in order {
            s.write_piece(self.layout.piece(i).unwrap(), self.piece(i))
                .unwrap();
        }
    }
}

/// Piece length 16: a 0-byte file first, 1-byte files, a 5-byte file that with its neighbours
/// makes a piece span 3 files, a pad file, empty files in the middle and at the end, a short
/// last piece.
fn tricky() -> Torrent {
    Torrent::new(
        16,
        &[
            ("t/empty-first", 0, false),
            ("t/one", 1, false),
            ("t/sub/dir/a", 20, false),
            ("t/b", 5, false),
            ("t/one-again", 1, false),
            ("t/c", 9, false),
            ("t/.pad/12", 12, true),
            ("t/d", 40, false),
            ("t/empty-mid", 0, false),
            ("t/e", 7, false),
            ("t/empty-last", 0, false),
        ],
        7,
    )
}

fn check_files(t: &Torrent, root: &Path) {
    for (i, f) in t.layout.files().iter().enumerate() {
        let path = root.join(&t.paths[i]);
        if f.pad {
            assert!(!path.exists(), "pad file {} was created", path.display());
        } else {
            assert_eq!(
                fs::read(&path).unwrap(),
                t.file_bytes(i),
                "{}",
                path.display()
            );
        }
    }
}

#[test]
fn pieces_in_random_order_read_back_equal() {
    let t = tricky();
    // Piece 1 (bytes 16..32) spans 4 files: the end of "a", all of "b" (5 bytes, smaller
    // than a piece), "one-again" (1 byte) and the start of "c".
    let spans: Vec<usize> = t
        .layout
        .file_ranges(t.layout.piece(1).unwrap())
        .map(|r| r.file)
        .collect();
    assert_eq!(spans, [2, 3, 4, 5]);
    for seed in 1..6 {
        let dir = tempfile::tempdir().unwrap();
        let s = t.storage(dir.path());
        s.prepare().unwrap();
        t.write_all(&s, seed);
        s.sync().unwrap();
        check_files(&t, dir.path());
        for i in 0..t.layout.num_pieces() {
            let p = t.layout.piece(i).unwrap();
            assert_eq!(s.read_piece(p).unwrap(), t.piece(i));
            assert_eq!(s.hash_piece_v1(p).unwrap(), t.hashes[i as usize]);
            // Every 3-byte block, including ones that straddle file and pad boundaries.
            let len = t.layout.piece_len(p);
            for off in 0..len.saturating_sub(3) {
                let mut b = [0xAA; 3];
                s.read(p, off, &mut b).unwrap();
                assert_eq!(&b, &t.piece(i)[off as usize..off as usize + 3]);
            }
        }
    }
}

#[test]
fn pad_files_are_never_created_and_read_as_zeros() {
    let t = tricky();
    let dir = tempfile::tempdir().unwrap();
    let s = t.storage(dir.path());
    s.prepare().unwrap();
    t.write_all(&s, 3);
    let pad = t.layout.files()[6];
    assert!(pad.pad);
    assert!(!dir.path().join("t/.pad").exists());
    assert_eq!(s.stat_files().unwrap()[6], FileState::Pad);
    // The bytes of the pad file inside its piece read as zeros.
    let p = t.layout.piece((pad.offset / 16) as u32).unwrap();
    let in_piece = (pad.offset % 16) as u32;
    let mut b = vec![0xFF; (16 - in_piece) as usize];
    s.read(p, in_piece, &mut b).unwrap();
    assert!(b.iter().all(|&x| x == 0));
}

#[test]
fn empty_files_exist_after_prepare() {
    let t = tricky();
    let dir = tempfile::tempdir().unwrap();
    let s = t.storage(dir.path());
    s.prepare().unwrap();
    for name in ["t/empty-first", "t/empty-mid", "t/empty-last"] {
        assert_eq!(
            fs::metadata(dir.path().join(name)).unwrap().len(),
            0,
            "{name}"
        );
    }
    // Nothing else exists before a write.
    assert!(!dir.path().join("t/one").exists());
}

#[test]
fn path_escapes_are_rejected_even_when_passed_directly() {
    let layout = Layout::new(16, [(4, false)]).unwrap();
    let root = tempfile::tempdir().unwrap();
    for bad in [
        "../evil",
        "t/../../evil",
        "/etc/evil",
        "./evil",
        "",
        "t/..",
        "/",
    ] {
        let e = Storage::open(
            root.path(),
            layout.clone(),
            vec![PathBuf::from(bad)],
            StorageOptions::default(),
        );
        match e {
            Err(StorageError::UnsafePath { path, .. }) => assert_eq!(path, Path::new(bad)),
            other => panic!("{bad:?} was accepted: {other:?}"),
        }
    }
    assert_eq!(fs::read_dir(root.path()).unwrap().count(), 0);
}

#[test]
fn recheck_finds_exactly_the_good_pieces() {
    let t = tricky();
    let dir = tempfile::tempdir().unwrap();
    let s = t.storage(dir.path());
    let n = t.layout.num_pieces();
    // Write every piece but 0 and the last.
    for i in 1..n - 1 {
        s.write_piece(t.layout.piece(i).unwrap(), t.piece(i))
            .unwrap();
    }
    s.sync().unwrap();
    s.close_files();
    // Corrupt one byte of "t/d" (file 7), which holds pieces 3..=5.
    let d = dir.path().join("t/d");
    let mut bytes = fs::read(&d).unwrap();
    bytes[20] ^= 1;
    fs::write(&d, &bytes).unwrap();
    let corrupt = ((t.layout.files()[7].offset + 20) / 16) as u32;
    // Delete "t/one" (file 1, in piece 0 which was never written anyway) and "t/b" (file 3).
    fs::remove_file(dir.path().join("t/b")).unwrap();
    let b_pieces = t.layout.pieces_of_file(3);

    let expected: Vec<u32> = (1..n - 1)
        .filter(|&i| i != corrupt && !b_pieces.contains(&i))
        .collect();
    assert!(!expected.is_empty());
    for threads in [1, 2, 0] {
        let progress = AtomicU64::new(0);
        let have = s
            .recheck(&t.hashes, threads, &progress, &AtomicBool::new(false))
            .unwrap();
        assert_eq!(
            have.ones().collect::<Vec<_>>(),
            expected,
            "threads {threads}"
        );
        assert_eq!(progress.into_inner(), u64::from(n));
    }
    // The recheck created nothing.
    assert!(!dir.path().join("t/b").exists());
    assert!(!dir.path().join("t/one").exists());
}

#[test]
fn recheck_of_complete_data_finds_everything_and_truncation_loses_the_tail() {
    let t = Torrent::new(
        1024,
        &[("x/big", 100_000, false), ("x/small", 3000, false)],
        11,
    );
    let dir = tempfile::tempdir().unwrap();
    let s = t.storage(dir.path());
    t.write_all(&s, 5);
    s.sync().unwrap();
    let never = AtomicBool::new(false);
    let have = s.recheck(&t.hashes, 0, &AtomicU64::new(0), &never).unwrap();
    assert!(have.all());
    // Truncate the big file mid-piece: the pieces from there on are absent, not an error.
    fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("x/big"))
        .unwrap()
        .set_len(50_000)
        .unwrap();
    let have = s.recheck(&t.hashes, 2, &AtomicU64::new(0), &never).unwrap();
    let first_lost = 50_000 / 1024;
    let last_big = 100_000 / 1024;
    for i in 0..t.layout.num_pieces() {
        assert_eq!(have.get(i), i < first_lost || i > last_big, "piece {i}");
    }
    match s.stat_files().unwrap()[0] {
        FileState::Present { len, mtime } => {
            assert_eq!(len, 50_000);
            assert!(mtime.is_some());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_directory_where_a_file_should_be_is_an_error_naming_it() {
    let t = Torrent::new(16, &[("t/a", 10, false), ("t/b", 10, false)], 5);
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("t/b")).unwrap();
    let s = t.storage(dir.path());
    s.write_piece(t.layout.piece(1).unwrap(), t.piece(1))
        .unwrap_err();
    let e = s
        .write_piece(t.layout.piece(0).unwrap(), t.piece(0))
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&dir.path().join("t/b").display().to_string()),
        "{msg}"
    );
    assert!(e.io_error().is_some(), "{e:?}");
    // A parent that is a file.
    let t2 = Torrent::new(16, &[("f/x", 4, false)], 5);
    fs::write(dir.path().join("f"), b"i am a file").unwrap();
    let s2 = t2.storage(dir.path());
    let e = s2
        .write_piece(t2.layout.piece(0).unwrap(), t2.piece(0))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains(&dir.path().join("f").display().to_string()),
        "{e}"
    );
}

/// ENOSPC without mounting anything: the user symlinked a file of the torrent to `/dev/full`
/// (storage follows user-made links; writes there fail with "No space left on device"). Runs
/// everywhere, unlike the tmpfs tests below.
#[test]
fn enospc_from_dev_full_is_an_error_naming_the_file() {
    if !Path::new("/dev/full").exists() {
        eprintln!("note: no /dev/full here; skipping");
        return;
    }
    let t = Torrent::new(16, &[("t/a", 10, false), ("t/b", 30, false)], 13);
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("t")).unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.path().join("t/b")).unwrap();
    let s = t.storage(dir.path());
    // Piece 0 spans a and b: the write to b fails after a's part was written.
    let e = s
        .write_piece(t.layout.piece(0).unwrap(), t.piece(0))
        .unwrap_err();
    assert!(matches!(e, StorageError::Write { .. }), "{e:?}");
    assert_eq!(
        e.io_error().and_then(io::Error::raw_os_error),
        Some(28),
        "{e}"
    );
    assert_eq!(e.path(), Some(dir.path().join("t/b").as_path()));
    assert!(e.to_string().contains("No space left on device"), "{e}");
}

/// Mounts a tmpfs of `size` at a fresh temp dir; `None` (with a note) when mounting is not
/// possible (not root, no CAP_SYS_ADMIN, a sandbox).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("note: cannot mount a tmpfs here (needs root); skipping the disk-full check");
            return None;
        }
        Some(Tmpfs { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_full_disk_is_an_error_naming_the_file() {
    let Some(fs_) = Tmpfs::mount("256k") else {
        return;
    };
    // 1 MiB of data on a 256 KiB file system.
    let t = Torrent::new(
        64 * 1024,
        &[("t/first", 100_000, false), ("t/second", 948_576, false)],
        3,
    );
    let s = t.storage(fs_.dir.path());
    s.prepare().unwrap();
    let mut failed = None;
    for i in 0..t.layout.num_pieces() {
        if let Err(e) = s.write_piece(t.layout.piece(i).unwrap(), t.piece(i)) {
            failed = Some((i, e));
            break;
        }
    }
    let (i, e) = failed.expect("a 256 KiB file system held 1 MiB");
    assert!(matches!(e, StorageError::Write { .. }), "{e:?}");
    assert_eq!(
        e.io_error().and_then(io::Error::raw_os_error),
        Some(28),
        "{e}"
    );
    let msg = e.to_string();
    assert!(msg.contains("No space left on device"), "{msg}");
    assert!(msg.contains("t/second") || msg.contains("t/first"), "{msg}");
    eprintln!("piece {i}: {msg}");
    // Pieces written before the failure are intact and a recheck finds exactly them (the failed
    // piece may be partly on disk; its hash fails).
    let have = s
        .recheck(&t.hashes, 2, &AtomicU64::new(0), &AtomicBool::new(false))
        .unwrap();
    assert_eq!(have.ones().collect::<Vec<_>>(), (0..i).collect::<Vec<_>>());
}

#[test]
fn preallocation_on_a_full_disk_fails_up_front() {
    let Some(fs_) = Tmpfs::mount("64k") else {
        return;
    };
    let layout = Layout::new(16384, [(1 << 20, false)]).unwrap();
    let options = StorageOptions {
        preallocate: ferrent::Preallocate::Full,
        ..StorageOptions::default()
    };
    let s = Storage::open(fs_.dir.path(), layout, vec!["big".into()], options).unwrap();
    let e = s.prepare().unwrap_err();
    assert!(matches!(e, StorageError::Allocate { .. }), "{e:?}");
    assert!(e.to_string().contains("big"), "{e}");
}

#[test]
fn a_read_only_file_system_is_an_error_naming_the_file() {
    let Some(fs_) = Tmpfs::mount("1m") else {
        return;
    };
    let t = Torrent::new(16, &[("t/a", 40, false)], 9);
    let s = t.storage(fs_.dir.path());
    s.write_piece(t.layout.piece(0).unwrap(), t.piece(0))
        .unwrap();
    s.sync().unwrap();
    s.close_files();
    let remount = std::process::Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(fs_.dir.path())
        .status();
    if !remount.is_ok_and(|s| s.success()) {
        eprintln!("note: cannot remount read-only; skipping");
        return;
    }
    let e = s
        .write_piece(t.layout.piece(1).unwrap(), t.piece(1))
        .unwrap_err();
    assert_eq!(
        e.io_error().and_then(io::Error::raw_os_error),
        Some(30),
        "{e}"
    );
    assert!(e.to_string().contains("t/a"), "{e}");
    // Reading (seeding) from the read-only file system still works.
    assert_eq!(
        s.read_piece(t.layout.piece(0).unwrap()).unwrap(),
        t.piece(0)
    );
}

#[test]
fn storage_is_shared_between_threads() {
    let t = Torrent::new(
        4096,
        &[
            ("m/a", 50_000, false),
            ("m/b", 1, false),
            ("m/c", 70_000, false),
        ],
        21,
    );
    let dir = tempfile::tempdir().unwrap();
    let s = t.storage(dir.path());
    let n = t.layout.num_pieces();
    std::thread::scope(|scope| {
        for w in 0..4u32 {
            let (s, t) = (&s, &t);
            scope.spawn(move || {
                for i in (w..n).step_by(4) {
                    s.write_piece(t.layout.piece(i).unwrap(), t.piece(i))
                        .unwrap();
                }
            });
        }
    });
    s.sync().unwrap();
    check_files(&t, dir.path());
}

/// Throughput figures, not a check: `cargo test -p ferrent --release --test storage -- --ignored
/// --nocapture` (size in MiB from `FERRENT_BENCH_MIB`, default 1024; 1 MiB pieces, one file,
/// data in the page cache).
#[test]
#[ignore = "benchmark; run by hand"]
#[allow(clippy::disallowed_methods)] // a benchmark reads the clock; crates/ferrent/clippy.toml
fn bench_write_hash_recheck() {
    use std::time::Instant;
    let mib: u32 = std::env::var("FERRENT_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let piece_len = 1u32 << 20;
    let total = u64::from(mib) * u64::from(piece_len);
    let layout = Layout::new(u64::from(piece_len), [(total, false)]).unwrap();
    let dir = tempfile::tempdir_in(
        std::env::var_os("FERRENT_BENCH_DIR").unwrap_or_else(|| "/tmp".into()),
    )
    .unwrap();
    let s = Storage::open(
        dir.path(),
        layout.clone(),
        vec!["bench/data".into()],
        StorageOptions::default(),
    )
    .unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut buf: Vec<u8> = (0..piece_len).map(|_| rng.next() as u8).collect();
    let mut hashes = Vec::new();
    // Wall time and CPU time (user + system of the whole process, from /proc): on a shared,
    // loaded machine the CPU figure is the one that says what the code costs.
    let clock = || (Instant::now(), cpu_seconds());
    let report = |what: &str, start: (Instant, f64), end: (Instant, f64), bytes: f64| {
        let wall = (end.0 - start.0).as_secs_f64();
        let cpu = end.1 - start.1;
        eprintln!(
            "  {what:<22} wall {wall:7.3} s {:7.0} MB/s   cpu {cpu:7.3} s {:7.0} MB/cpu-s",
            bytes / 1e6 / wall,
            bytes / 1e6 / cpu.max(1e-9)
        );
    };
    eprintln!("{mib} MiB, 1 MiB pieces, page cache:");
    for i in 0..layout.num_pieces() {
        buf[..4].copy_from_slice(&i.to_le_bytes());
        hashes.push(<[u8; 20]>::from(Sha1::digest(&buf)));
    }
    let t0 = clock();
    for i in 0..layout.num_pieces() {
        buf[..4].copy_from_slice(&i.to_le_bytes());
        s.write_piece(layout.piece(i).unwrap(), &buf).unwrap();
    }
    report("write_piece", t0, clock(), total as f64);
    let t0 = clock();
    s.sync().unwrap();
    report("sync (fdatasync)", t0, clock(), total as f64);
    let t0 = clock();
    for p in layout.pieces() {
        assert_eq!(s.hash_piece_v1(p).unwrap(), hashes[p.get() as usize]);
    }
    report("hash_piece_v1", t0, clock(), total as f64);
    for (threads, what) in [(1, "recheck, 1 thread"), (0, "recheck, all cores")] {
        let t0 = clock();
        let have = s
            .recheck(
                &hashes,
                threads,
                &AtomicU64::new(0),
                &AtomicBool::new(false),
            )
            .unwrap();
        report(what, t0, clock(), total as f64);
        assert!(have.all());
    }
}

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`, 100 ticks/s).
fn cpu_seconds() -> f64 {
    let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}
