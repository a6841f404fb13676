//! Checking what is on disk: [`Storage::stat_files`] (cheap: sizes and mtimes, for comparing with
//! resume data) and [`Storage::recheck`] (hash every piece on all cores).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::SystemTime;
use std::{fs, io, thread};

use ferrent_core::{Bitfield, PieceIndex};

use super::{Storage, StorageError, error::is_missing};

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
    /// Runs on `threads` threads (0 = all cores); each takes the next piece from a shared
    /// counter. A piece that lies in a missing file or past the end of a short file is simply
    /// absent (its bytes are not read at all); other I/O errors (`EIO`, permission denied...)
    /// stop the recheck with that error. `progress` is increased by one for every piece done
    /// (matched, failed or absent), for a progress bar. Setting `cancel` stops the workers
    /// after their current piece and returns [`StorageError::Cancelled`]. Blocking: call it from
    /// a dedicated thread or `spawn_blocking`.
    pub fn recheck(
        &self,
        hashes: &[[u8; 20]],
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
        let threads = threads.clamp(1, (num_pieces as usize).max(1));
        let next = AtomicU32::new(0);
        let stop = AtomicBool::new(false);
        let failure: Mutex<Option<StorageError>> = Mutex::new(None);

        let worker = || {
            let mut good = Vec::new();
            let mut buf = Vec::new();
            loop {
                if stop.load(Ordering::Relaxed) || cancel.load(Ordering::Relaxed) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(piece) = self.layout.piece(i) else {
                    break;
                };
                if on_disk(piece) {
                    match self.hash_with(piece, &mut buf) {
                        Ok(h) if hashes.get(i as usize) == Some(&h) => good.push(i),
                        Ok(_) => {}
                        // Shrunk or deleted since the stat: absent.
                        Err(e) if e.is_missing_data() => {}
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            let mut f = failure
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner);
                            f.get_or_insert(e);
                            break;
                        }
                    }
                }
                progress.fetch_add(1, Ordering::Relaxed);
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
