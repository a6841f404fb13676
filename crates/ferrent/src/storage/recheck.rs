//! Checking what is on disk: [`Storage::stat_files`] (cheap: sizes and mtimes, for comparing with
//! resume data) and [`Storage::recheck`] (hash every piece on all cores).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::SystemTime;
use std::{fs, io, thread};

use ferrent_core::{Bitfield, MAX_HASH_LANES, PieceIndex, Sha1Lanes, lanes_in_steps};

use super::{Storage, StorageError, error::is_missing};

/// Pieces a recheck worker takes at a time: one per SHA-1 lane.
const GROUP: usize = MAX_HASH_LANES;

/// Bytes read per lane per step when pieces are hashed side by side: four lanes of 64 KiB stay
/// in a core's L2 cache, so the hash reads what the copy from the page cache just wrote.
const LANE_CHUNK: usize = 64 * 1024;

/// What [`Storage::stat_files`] found for one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// A BEP 47 pad file: never on disk, not looked at.
    Pad,
    /// Nothing at the path (or a parent is not a directory).
    Missing,
    /// Something is there (symbolic links are followed).
    Present {
        /// Its size in bytes (may be more or less than the torrent's file).
        len: u64,
        /// Its modification time, where the file system keeps one.
        mtime: Option<SystemTime>,
    },
}

impl Storage {
    /// Size and modification time of every file, in layout order, without opening or creating
    /// anything. Resume data stores these; when they still match at start, the saved bitfield
    /// is trusted, otherwise the engine runs [`Storage::recheck`]. Blocking.
    pub fn stat_files(&self) -> Result<Vec<FileState>, StorageError> {
        self.files
            .iter()
            .map(|f| {
                if f.pad {
                    return Ok(FileState::Pad);
                }
                match fs::metadata(&f.path) {
                    Ok(m) => Ok(FileState::Present {
                        len: m.len(),
                        mtime: m.modified().ok(),
                    }),
                    Err(e) if is_missing(&e) => Ok(FileState::Missing),
                    Err(source) => Err(StorageError::Stat {
                        path: f.path.clone(),
                        source,
                    }),
                }
            })
            .collect()
    }

    /// Verifies the data on disk against the v1 piece `hashes` (one per piece) and returns the
    /// pieces whose SHA-1 matches.
    ///
    /// Runs on `threads` threads (0 = all cores); each takes the next four pieces from a
    /// shared counter and hashes them side by side ([`Sha1Lanes`]). A piece that lies in a
    /// missing file or past the end of a short file is simply absent (its bytes are not read at
    /// all); other I/O errors (`EIO`, permission denied...) stop the recheck with that error.
    /// `progress` is increased by one for every piece done (matched, failed or absent), for a
    /// progress bar. Setting `cancel` stops the workers
    /// after their current group and returns [`StorageError::Cancelled`]. Blocking: call it from
    /// a dedicated thread or `spawn_blocking`.
    pub fn recheck(
        &self,
        hashes: &[[u8; 20]],
        threads: usize,
        progress: &AtomicU64,
        cancel: &AtomicBool,
    ) -> Result<Bitfield, StorageError> {
        self.check_pieces(hashes, None, threads, progress, cancel)
    }

    /// [`Storage::recheck`] of only the listed pieces (indexes out of range are skipped): the
    /// result has just those of them that match. For resume data that still covers most
    /// files, where only the pieces touching a changed file need hashing.
    pub fn recheck_pieces(
        &self,
        hashes: &[[u8; 20]],
        pieces: &[u32],
        threads: usize,
        progress: &AtomicU64,
        cancel: &AtomicBool,
    ) -> Result<Bitfield, StorageError> {
        self.check_pieces(hashes, Some(pieces), threads, progress, cancel)
    }

    /// The recheck of `only` these pieces, or of all of them.
    fn check_pieces(
        &self,
        hashes: &[[u8; 20]],
        only: Option<&[u32]>,
        threads: usize,
        progress: &AtomicU64,
        cancel: &AtomicBool,
    ) -> Result<Bitfield, StorageError> {
        let num_pieces = self.layout.num_pieces();
        if hashes.len() != num_pieces as usize {
            return Err(StorageError::HashCount {
                expected: num_pieces,
                got: hashes.len(),
            });
        }
        // One stat per file up front: pieces beyond what is on disk are absent without reading.
        let sizes: Vec<Option<u64>> = self
            .stat_files()?
            .into_iter()
            .map(|s| match s {
                FileState::Present { len, .. } => Some(len),
                FileState::Pad | FileState::Missing => None,
            })
            .collect();
        let on_disk = |piece: PieceIndex| {
            self.layout.file_ranges(piece).all(|r| {
                r.pad
                    || sizes
                        .get(r.file)
                        .copied()
                        .flatten()
                        .is_some_and(|len| r.offset + u64::from(r.len) <= len)
            })
        };

        let threads = if threads == 0 {
            thread::available_parallelism().map_or(1, usize::from)
        } else {
            threads
        };
        let count = only.map_or(num_pieces as usize, <[u32]>::len);
        // The n-th piece to check.
        let nth = |n: usize| match only {
            Some(list) => list.get(n).copied(),
            None => u32::try_from(n).ok().filter(|&i| i < num_pieces),
        };
        let groups = count.div_ceil(GROUP);
        let threads = threads.clamp(1, groups.max(1));
        let next_group = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let failure: Mutex<Option<StorageError>> = Mutex::new(None);
        let fail = |e: StorageError| {
            stop.store(true, Ordering::Relaxed);
            let mut f = failure
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f.get_or_insert(e);
        };

        // Each worker takes the next GROUP pieces and hashes those on disk side by side.
        let worker = || {
            let mut good = Vec::new();
            let mut buf = Vec::new();
            loop {
                if stop.load(Ordering::Relaxed) || cancel.load(Ordering::Relaxed) {
                    break;
                }
                let first = next_group
                    .fetch_add(1, Ordering::Relaxed)
                    .saturating_mul(GROUP);
                if first >= count {
                    break;
                }
                let group: Vec<PieceIndex> = (first..first.saturating_add(GROUP))
                    .map_while(nth)
                    .filter_map(|i| self.layout.piece(i))
                    .collect();
                let present: Vec<PieceIndex> =
                    group.iter().copied().filter(|&p| on_disk(p)).collect();
                match self.hash_pieces(&present, &mut buf) {
                    Ok(digests) => good.extend(
                        present
                            .iter()
                            .zip(digests)
                            .filter(|(p, d)| {
                                d.is_some_and(|d| hashes.get(p.get() as usize) == Some(&d))
                            })
                            .map(|(p, _)| p.get()),
                    ),
                    Err(e) => {
                        fail(e);
                        break;
                    }
                }
                progress.fetch_add(group.len() as u64, Ordering::Relaxed);
            }
            good
        };

        let results: Vec<thread::Result<Vec<u32>>> = thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
            handles.into_iter().map(|h| h.join()).collect()
        });
        if let Some(e) = failure
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            return Err(e);
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(StorageError::Cancelled);
        }
        let mut have = Bitfield::new(num_pieces);
        for r in results {
            // A worker can only panic on a bug; report it as an I/O-style error, not a panic.
            let good = r.map_err(|_| StorageError::Read {
                path: self.root.clone(),
                source: io::Error::other("a recheck worker panicked"),
            })?;
            for i in good {
                have.set(i, true);
            }
        }
        Ok(have)
    }
}

impl Storage {
    /// SHA-1 of each of `pieces`, in order. Pieces of one length are hashed side by side,
    /// [`MAX_HASH_LANES`] at a time, reading [`LANE_CHUNK`] of each in turn into `buf`. A piece
    /// whose data is missing (shrunk or deleted since the recheck's stat) gets `None`; other
    /// I/O errors are returned.
    fn hash_pieces(
        &self,
        pieces: &[PieceIndex],
        buf: &mut Vec<u8>,
    ) -> Result<Vec<Option<[u8; 20]>>, StorageError> {
        let mut digests = Vec::with_capacity(pieces.len());
        // Only a torrent's last piece can be shorter: split where the length changes.
        let runs = pieces.chunk_by(|a, b| self.layout.piece_len(*a) == self.layout.piece_len(*b));
        for same_len in runs.flat_map(|run| run.chunks(MAX_HASH_LANES)) {
            match self.hash_side_by_side(same_len, buf) {
                Ok(d) => digests.extend(d.into_iter().map(Some)),
                // One of them failed to read: hash them one by one to tell which.
                Err(_) => {
                    for &piece in same_len {
                        match self.hash_with(piece, buf) {
                            Ok(d) => digests.push(Some(d)),
                            Err(e) if e.is_missing_data() => digests.push(None),
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        }
        Ok(digests)
    }

    /// One [`Sha1Lanes`] run over up to [`MAX_HASH_LANES`] pieces of one length.
    fn hash_side_by_side(
        &self,
        pieces: &[PieceIndex],
        buf: &mut Vec<u8>,
    ) -> Result<Vec<[u8; 20]>, StorageError> {
        let Some(&first) = pieces.first() else {
            return Ok(Vec::new());
        };
        let piece_len = u64::from(self.check_piece(first)?);
        let mut lanes = Sha1Lanes::new(pieces.len());
        let read = |lane: usize, off: u64, part: &mut [u8]| match pieces.get(lane) {
            Some(&piece) => self.read_span(piece, off, part),
            None => Ok(()),
        };
        lanes_in_steps(pieces.len(), piece_len, LANE_CHUNK, buf, read, |parts| {
            lanes.update(parts)
        })?;
        Ok(lanes.finalize())
    }
}
