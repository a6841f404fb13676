//! The cache of open file handles, and the bookkeeping that [`Storage::sync`] needs: which files
//! were written and which directories gained entries since the last sync.
//!
//! Handles are opened lazily and kept in a small LRU ([`MAX_OPEN_FILES`] by default) so a
//! torrent of 100,000 files does not exhaust the process's descriptors. Each handle is an
//! `Arc<File>`: a caller takes a clone under the lock and does its positional I/O *outside* it,
//! so concurrent reads and writes never wait for each other's I/O. A handle evicted while a
//! file still has unsynced writes is `fdatasync`ed first (outside the lock); if that fails, the
//! error is kept and returned by the next [`Storage::sync`], so the engine never claims pieces
//! whose bytes may not be durable.
//!
//! [`Storage::sync`]: super::Storage::sync

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::StorageError;

/// Default number of files kept open per torrent. Each open file costs a descriptor; the usual
/// soft limit is 1024 per process and a session holds many torrents and sockets. libtorrent's
/// default `file_pool_size` is 40 per session; Transmission keeps 32. 128 per torrent keeps
/// the files of a typical multi-file torrent open while it downloads.
pub const MAX_OPEN_FILES: usize = 128;

/// What a handle is needed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reading existing data: never creates anything; a read-only file is fine.
    Read,
    /// Writing: creates the file (and its directories) if needed.
    Write,
}

struct Slot {
    file: Arc<File>,
    /// A second descriptor of the same file opened with `O_DIRECT`, for aligned piece writes
    /// ([`Handles::direct`]); opened on first use, closed with the slot.
    direct: Option<Arc<File>>,
    path: PathBuf,
    writable: bool,
    last_use: u64,
}

#[derive(Default)]
struct Inner {
    slots: HashMap<usize, Slot>,
    tick: u64,
    /// Files written since the last successful sync.
    dirty: BTreeSet<usize>,
    /// Directories that gained an entry (a created file or subdirectory) since the last sync.
    dirs: BTreeSet<PathBuf>,
    /// An error from syncing an evicted handle, returned by the next sync.
    sticky: Option<StorageError>,
}

/// The open-file cache of one [`Storage`](super::Storage).
pub(crate) struct Handles {
    cap: usize,
    inner: Mutex<Inner>,
    /// Set once the file system refused `O_DIRECT` (tmpfs, some FUSE and network file
    /// systems): every later write goes through the page cache without asking again.
    direct_refused: AtomicBool,
}

impl Handles {
    pub(crate) fn new(cap: usize) -> Self {
        Handles {
            cap: cap.max(1),
            inner: Mutex::new(Inner::default()),
            direct_refused: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding the lock; if something did, the data is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A handle to file `index` at `path`, opened (and for [`Access::Write`] created) if needed.
    pub(crate) fn get(
        &self,
        index: usize,
        path: &Path,
        access: Access,
    ) -> Result<Arc<File>, StorageError> {
        {
            let mut inner = self.lock();
            inner.tick += 1;
            let tick = inner.tick;
            if let Some(slot) = inner.slots.get_mut(&index) {
                if access == Access::Read || slot.writable {
                    slot.last_use = tick;
                    return Ok(Arc::clone(&slot.file));
                }
            }
        }
        let (file, writable) = match access {
            Access::Read => open_for_read(path)?,
            Access::Write => (self.open_for_write(path)?, true),
        };
        let file = Arc::new(file);
        let evicted = {
            let mut inner = self.lock();
            let evicted = if inner.slots.len() >= self.cap && !inner.slots.contains_key(&index) {
                let oldest = inner
                    .slots
                    .iter()
                    .min_by_key(|(_, s)| s.last_use)
                    .map(|(&i, _)| i);
                oldest.and_then(|i| {
                    let slot = inner.slots.remove(&i)?;
                    let dirty = inner.dirty.remove(&i);
                    Some((slot.file, slot.path, dirty))
                })
            } else {
                None
            };
            let tick = inner.tick;
            let slot = Slot {
                file: Arc::clone(&file),
                direct: None,
                path: path.to_path_buf(),
                writable,
                last_use: tick,
            };
            inner.slots.insert(index, slot);
            evicted
        };
        if let Some((old, old_path, true)) = evicted {
            // Make its writes durable before the descriptor goes away (see the module doc).
            if let Err(source) = old.sync_data() {
                let mut inner = self.lock();
                if inner.sticky.is_none() {
                    inner.sticky = Some(StorageError::Sync {
                        path: old_path,
                        source,
                    });
                }
            }
        }
        Ok(file)
    }

    /// An `O_DIRECT` write descriptor of file `index`, which must already be open for writing
    /// through [`Handles::get`] (so it exists, and its creation was recorded for the next
    /// sync). `None` when the file system refuses `O_DIRECT` (remembered, see
    /// [`Handles::refuse_direct`]) or the file is not cached: the caller then writes through
    /// the page cache. The descriptor needs no sync of its own: `fdatasync` on any descriptor
    /// of the file makes the inode durable, and [`Handles::mark_dirty`] is by file.
    pub(crate) fn direct(&self, index: usize) -> Option<Arc<File>> {
        if self.direct_refused.load(Ordering::Relaxed) {
            return None;
        }
        let path = {
            let inner = self.lock();
            let slot = inner.slots.get(&index).filter(|s| s.writable)?;
            if let Some(d) = &slot.direct {
                return Some(Arc::clone(d));
            }
            slot.path.clone()
        };
        let mut o = OpenOptions::new();
        o.write(true)
            .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32);
        match o.open(&path) {
            Ok(f) => {
                let f = Arc::new(f);
                let mut inner = self.lock();
                if let Some(slot) = inner.slots.get_mut(&index) {
                    slot.direct.get_or_insert_with(|| Arc::clone(&f));
                }
                Some(f)
            }
            Err(e) => {
                if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) {
                    self.refuse_direct();
                }
                None
            }
        }
    }

    /// Stops using `O_DIRECT` for good (its open or a write failed with `EINVAL`: the file
    /// system does not support it, or not with this alignment).
    pub(crate) fn refuse_direct(&self) {
        if !self.direct_refused.swap(true, Ordering::Relaxed) {
            tracing::debug!("O_DIRECT refused here; writing through the page cache");
        }
    }

    /// The handle of file `index` if it is open already: never opens anything (opening may
    /// wait for the disk; see [`Storage::read_cached`](super::Storage::read_cached)).
    pub(crate) fn cached(&self, index: usize) -> Option<Arc<File>> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let slot = inner.slots.get_mut(&index)?;
        slot.last_use = tick;
        Some(Arc::clone(&slot.file))
    }

    /// Records that file `index` was written (call *after* the write returned).
    pub(crate) fn mark_dirty(&self, index: usize) {
        self.lock().dirty.insert(index);
    }

    /// Takes the sticky eviction error, the dirty files and the new directories, for a sync.
    pub(crate) fn take_pending(
        &self,
    ) -> (Option<StorageError>, BTreeSet<usize>, BTreeSet<PathBuf>) {
        let mut inner = self.lock();
        (
            inner.sticky.take(),
            std::mem::take(&mut inner.dirty),
            std::mem::take(&mut inner.dirs),
        )
    }

    /// Puts back what a failed sync did not finish.
    pub(crate) fn restore_pending(
        &self,
        files: impl IntoIterator<Item = usize>,
        dirs: impl IntoIterator<Item = PathBuf>,
    ) {
        let mut inner = self.lock();
        inner.dirty.extend(files);
        inner.dirs.extend(dirs);
    }

    /// Drops every cached handle (files are closed once no I/O holds them).
    pub(crate) fn close_all(&self) {
        self.lock().slots.clear();
    }

    /// Number of cached handles.
    pub(crate) fn open_count(&self) -> usize {
        self.lock().slots.len()
    }

    /// Opens `path` read-write, creating it and its parent directories if needed, and records
    /// the directories that gained entries.
    fn open_for_write(&self, path: &Path) -> Result<File, StorageError> {
        match rw().open(path) {
            Ok(f) => return Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StorageError::Open {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
        let parent = path.parent().unwrap_or(Path::new("."));
        let created = match rw().create_new(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // Another thread created it meanwhile.
                return rw().open(path).map_err(|source| StorageError::Open {
                    path: path.to_path_buf(),
                    source,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.create_dirs(parent)?;
                match rw().create_new(true).open(path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        rw().open(path).map_err(|source| StorageError::Open {
                            path: path.to_path_buf(),
                            source,
                        })?
                    }
                    Err(source) => {
                        return Err(StorageError::Open {
                            path: path.to_path_buf(),
                            source,
                        });
                    }
                }
            }
            Err(source) => {
                return Err(StorageError::Open {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        self.lock().dirs.insert(parent.to_path_buf());
        Ok(created)
    }

    /// `create_dir_all(dir)`, recording the parent of every directory it creates.
    fn create_dirs(&self, dir: &Path) -> Result<(), StorageError> {
        let missing: Vec<PathBuf> = dir
            .ancestors()
            .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
            .map(Path::to_path_buf)
            .collect();
        fs::create_dir_all(dir).map_err(|source| StorageError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut inner = self.lock();
        for d in missing {
            inner.dirs.insert(
                d.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .to_path_buf(),
            );
        }
        Ok(())
    }
}

fn rw() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.read(true).write(true);
    o
}

/// Opens an existing file for reading: read-write if allowed (so the handle also serves later
/// writes), else read-only (data seeded from a read-only disk or with read-only permissions).
fn open_for_read(path: &Path) -> Result<(File, bool), StorageError> {
    match rw().open(path) {
        Ok(f) => Ok((f, true)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            File::open(path)
                .map(|f| (f, false))
                .map_err(|source| StorageError::Open {
                    path: path.to_path_buf(),
                    source,
                })
        }
        Err(source) => Err(StorageError::Open {
            path: path.to_path_buf(),
            source,
        }),
    }
}
