//! Storage: a torrent's verified pieces written into, and read back from, the files they span.
//!
//! A torrent is one contiguous byte space cut into pieces; its files tile that space in order
//! ([`Layout`]). A piece therefore covers parts of one or more files, and [`Layout::file_ranges`]
//! says which. [`Storage`] turns a verified piece into one positional write per file range
//! (`pwrite`, [`std::os::unix::fs::FileExt::write_all_at`]) and a block request into positional
//! reads. There is no mmap: with mmap a full disk or an I/O error arrives as `SIGBUS` and kills
//! the process (libtorrent 2.0 users met it); with `pwrite` it is an [`StorageError::Write`] that
//! names the file and the reason, and the engine stops the torrent cleanly. See
//! `docs/storage.md` for the walk-through.
//!
//! The driving contract and the rules (paths, pad files, skipped files, open files,
//! preallocation) are written on [`Storage`].

mod error;
mod handles;
mod nowait;
mod paths;
mod piece_buf;
mod recheck;
mod remove;

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use ferrent_core::{Layout, PieceIndex};
use sha1::{Digest, Sha1};

pub use error::StorageError;
pub use handles::MAX_OPEN_FILES;
pub use piece_buf::{DIRECT_ALIGN, PieceBuf};
pub use recheck::FileState;
pub use remove::RemovedFiles;

use handles::{Access, Handles};

/// Size of the chunks a piece is read in for hashing. Small enough to stay in L2 cache between
/// the copy from the page cache and the hash, large enough that a read costs little per byte.
pub const HASH_CHUNK: usize = 256 * 1024;

/// Whether files get their full size allocated up front.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preallocate {
    /// Files grow as pieces are written (holes where nothing was written yet). The default.
    #[default]
    Sparse,
    /// [`Storage::prepare`] allocates each wanted file with `fallocate` (a full disk fails
    /// there, before any download); where the file system cannot, it extends the file sparse.
    Full,
}

/// Options of [`Storage::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageOptions {
    /// Preallocation; [`Preallocate::Sparse`] by default.
    pub preallocate: Preallocate,
    /// Most file handles kept open; [`MAX_OPEN_FILES`] by default (at least 1 is used).
    pub max_open_files: usize,
    /// Write the aligned part of each piece with `O_DIRECT`, past the page cache (on by
    /// default; see [`Storage::write_piece`]). Off, or where the file system refuses it, every
    /// byte goes through the page cache.
    pub direct_writes: bool,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            preallocate: Preallocate::Sparse,
            max_open_files: MAX_OPEN_FILES,
            direct_writes: true,
        }
    }
}

/// One file: where it lives and what it is.
struct FileEntry {
    path: PathBuf,
    length: u64,
    pad: bool,
    wanted: AtomicBool,
}

/// The files of one torrent on disk: pieces written to and read from the files they span with
/// positional I/O.
///
/// # Driving contract
/// All methods are **blocking** and take `&self`; a [`Storage`] is `Send + Sync`, so the engine
/// keeps it in an `Arc` and calls it from `tokio::task::spawn_blocking` (or any thread),
/// concurrently:
/// 1. [`Storage::open`] checks every path (plain relative names only, see *Rules*) and touches
///    nothing on disk.
/// 2. [`Storage::set_file_wanted`] for files skipped by selective download, then
///    [`Storage::prepare`]: creates the empty files of wanted files (and with
///    [`Preallocate::Full`] allocates the others). Directories and other files appear lazily on
///    the first write.
/// 3. When resuming, [`Storage::stat_files`] (sizes and mtimes to compare with the resume file)
///    and, if they differ, [`Storage::recheck`] (parallel hashing of what is on disk).
/// 4. [`Storage::write_piece`] for each piece *after* its hash matched (storage never sees
///    unverified data); [`Storage::read`] to serve a block to a peer.
/// 5. Periodically [`Storage::sync`], and only after it returned `Ok` record the pieces written
///    before it in the resume file: a crash can lose work, never make ferrent trust bytes that
///    were not on disk (issue 4, resume durability).
///
/// # Rules
/// - **Paths**: every file path must be relative and made only of plain names (no `..`, no root,
///   no `.`), checked again here although the metainfo parser already sanitised it, because this
///   is the layer that creates files. Symbolic links the *user* put under the download
///   directory are followed, as libtorrent and Transmission do; a torrent cannot create one.
/// - **Pad files** (BEP 47) are never created, written or opened; their bytes read as zeros.
/// - **Skipped files** (not wanted): [`Storage::prepare`] neither creates nor preallocates them.
///   A written piece is always stored whole (minus pad ranges), so when a wanted piece spans
///   into a skipped file, that piece's bytes are written there and the file is created, sparse,
///   as libtorrent does without part files. The engine decides which pieces to fetch.
/// - **Open files** are cached, at most [`StorageOptions::max_open_files`] (default
///   [`MAX_OPEN_FILES`]), least recently used first out.
/// - **Sparse by default**: files grow as pieces land; [`Preallocate::Full`] reserves the space
///   up front with `fallocate` (so a full disk shows at start), falling back to a sparse
///   `set_len` where the file system cannot allocate.
///
/// ```
/// use ferrent::{Storage, StorageOptions};
/// use ferrent_core::Layout;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// // Two files of 3 and 5 bytes, pieces of 4 bytes: piece 0 spans both files.
/// let layout = Layout::new(4, [(3, false), (5, false)])?;
/// let files = vec!["t/a".into(), "t/b".into()];
/// let storage = Storage::open(dir.path(), layout, files, StorageOptions::default())?;
/// storage.prepare()?;
/// let p0 = storage.layout().piece(0).ok_or("no piece 0")?;
/// storage.write_piece(p0, b"abcd")?;
/// storage.sync()?;
/// let mut block = [0u8; 2];
/// storage.read(p0, 2, &mut block)?;
/// assert_eq!(&block, b"cd");
/// assert_eq!(std::fs::read(dir.path().join("t/a"))?, b"abc");
/// # Ok(())
/// # }
/// ```
pub struct Storage {
    root: PathBuf,
    layout: Layout,
    files: Vec<FileEntry>,
    options: StorageOptions,
    handles: Handles,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("root", &self.root)
            .field("files", &self.files.len())
            .field("pieces", &self.layout.num_pieces())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// Storage for a torrent of this `layout` whose files (in layout order, pad files included)
    /// have these sanitised relative `files` paths, under the download directory `root`.
    ///
    /// Every path must be relative and made of plain names only; otherwise
    /// [`StorageError::UnsafePath`]. Nothing is created or opened yet.
    pub fn open(
        root: &Path,
        layout: Layout,
        files: Vec<PathBuf>,
        options: StorageOptions,
    ) -> Result<Storage, StorageError> {
        if files.len() != layout.files().len() {
            return Err(StorageError::FileCount {
                expected: layout.files().len(),
                got: files.len(),
            });
        }
        let entries = files
            .iter()
            .zip(layout.files())
            .map(|(rel, lf)| {
                Ok(FileEntry {
                    path: paths::join_under(root, rel)?,
                    length: lf.length,
                    pad: lf.pad,
                    wanted: AtomicBool::new(true),
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        let handles = Handles::new(options.max_open_files);
        Ok(Storage {
            root: root.to_path_buf(),
            layout,
            files: entries,
            options,
            handles,
        })
    }

    /// The download directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The torrent's geometry.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The full path of file `index` (under [`Storage::root`]), if it exists in the layout.
    pub fn file_path(&self, index: usize) -> Option<&Path> {
        self.files.get(index).map(|f| f.path.as_path())
    }

    /// Marks file `index` wanted or not (selective download). All files start wanted. Only
    /// [`Storage::prepare`] looks at it; see the module doc for pieces shared with other files.
    pub fn set_file_wanted(&self, index: usize, wanted: bool) -> Result<(), StorageError> {
        let f = self.file(index)?;
        f.wanted.store(wanted, Ordering::Relaxed);
        Ok(())
    }

    /// Whether file `index` is wanted (`false` for an unknown index).
    pub fn file_wanted(&self, index: usize) -> bool {
        self.files
            .get(index)
            .is_some_and(|f| f.wanted.load(Ordering::Relaxed))
    }

    /// Number of file handles currently open.
    pub fn open_files(&self) -> usize {
        self.handles.open_count()
    }

    /// Creates the empty files of wanted files and, with [`Preallocate::Full`], allocates every
    /// other wanted file to its full size. Pad files and files not wanted are left alone.
    /// Existing files are kept as they are (never truncated). Blocking.
    pub fn prepare(&self) -> Result<(), StorageError> {
        for (i, f) in self.files.iter().enumerate() {
            if f.pad || !f.wanted.load(Ordering::Relaxed) {
                continue;
            }
            if f.length == 0 {
                self.handles.get(i, &f.path, Access::Write)?;
            } else if self.options.preallocate == Preallocate::Full {
                let file = self.handles.get(i, &f.path, Access::Write)?;
                allocate(&file, f.length).map_err(|source| StorageError::Allocate {
                    path: f.path.clone(),
                    source,
                })?;
                self.handles.mark_dirty(i);
            }
        }
        Ok(())
    }

    /// Writes a verified piece (`data` is exactly the piece) at its offsets in the files it spans,
    /// one positional write per file range, skipping pad ranges. Creates files and directories
    /// as needed. Blocking. Errors name the file and the reason (a full disk is
    /// [`StorageError::Write`] with `ENOSPC`); a failed write may leave part of the piece on
    /// disk, which is harmless because only pieces recorded after a [`Storage::sync`] are trusted.
    ///
    /// Where a range starts on a [`DIRECT_ALIGN`] boundary both in its file and in `data` (a
    /// [`PieceBuf`] is aligned; so is every piece of a single-file torrent), its aligned part is
    /// written with `O_DIRECT`: the disk reads it straight from `data`, with no copy into the
    /// page cache, which was half of a download's CPU time. The rest (a short last piece's
    /// tail, ranges of multi-file torrents that start mid-page) goes through the page cache, as
    /// everything does where the file system refuses `O_DIRECT` or with
    /// [`StorageOptions::direct_writes`] off. Durability is the same either way: only
    /// [`Storage::sync`] (`fdatasync`) makes a piece safe to record.
    pub fn write_piece(&self, piece: PieceIndex, data: &[u8]) -> Result<(), StorageError> {
        let piece_len = self.check_piece(piece)?;
        if data.len() != piece_len as usize {
            return Err(StorageError::PieceSize {
                piece: piece.get(),
                expected: piece_len,
                got: data.len(),
            });
        }
        let mut rest = data;
        for r in self.layout.file_ranges(piece) {
            let Some((part, tail)) = rest.split_at_checked(r.len as usize) else {
                break;
            };
            rest = tail;
            if r.pad {
                continue;
            }
            let f = self.file(r.file)?;
            let file = self.handles.get(r.file, &f.path, Access::Write)?;
            let done = self.write_direct(r.file, part, r.offset);
            let buffered = part.get(done..).unwrap_or_default();
            file.write_all_at(buffered, r.offset + done as u64)
                .map_err(|source| StorageError::Write {
                    path: f.path.clone(),
                    source,
                })?;
            self.handles.mark_dirty(r.file);
        }
        Ok(())
    }

    /// Writes the [`DIRECT_ALIGN`]ed head of `part` (at `offset` in file `index`) with
    /// `O_DIRECT` if it can, and returns how many bytes it wrote; the caller writes the rest
    /// through the page cache. On any failure it returns 0, so the buffered write does the
    /// whole range and reports the error if there is one (it would hit the same disk fault).
    fn write_direct(&self, index: usize, part: &[u8], offset: u64) -> usize {
        let len = part.len() / DIRECT_ALIGN * DIRECT_ALIGN;
        let aligned = offset.is_multiple_of(DIRECT_ALIGN as u64)
            && part.as_ptr().align_offset(DIRECT_ALIGN) == 0;
        if !self.options.direct_writes || len == 0 || !aligned {
            return 0;
        }
        let (Some(head), Some(direct)) = (part.get(..len), self.handles.direct(index)) else {
            return 0;
        };
        match direct.write_all_at(head, offset) {
            Ok(()) => len,
            Err(e) => {
                if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) {
                    self.handles.refuse_direct();
                }
                0
            }
        }
    }

    /// Reads `buf.len()` bytes of `piece` starting at `offset` within the piece (a block to
    /// serve to a peer). Pad ranges read as zeros. A missing or short file is an error
    /// ([`StorageError::is_missing_data`] tells it apart from a disk fault). Blocking.
    pub fn read(&self, piece: PieceIndex, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        let piece_len = self.check_piece(piece)?;
        let fits = u64::from(offset) + buf.len() as u64 <= u64::from(piece_len);
        if !fits {
            return Err(StorageError::ReadOutOfRange {
                piece: piece.get(),
                offset,
                len: buf.len(),
                piece_len,
            });
        }
        self.read_span(piece, u64::from(offset), buf)
    }

    /// Reads a whole piece into a new buffer. Blocking.
    pub fn read_piece(&self, piece: PieceIndex) -> Result<Vec<u8>, StorageError> {
        let piece_len = self.check_piece(piece)?;
        let mut buf = vec![0u8; piece_len as usize];
        self.read_span(piece, 0, &mut buf)?;
        Ok(buf)
    }

    /// The SHA-1 of a piece as it is on disk (BEP 3 v1 piece hash), read in [`HASH_CHUNK`]
    /// chunks into a buffer reused per thread. Blocking.
    pub fn hash_piece_v1(&self, piece: PieceIndex) -> Result<[u8; 20], StorageError> {
        thread_local! {
            static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        BUF.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => self.hash_with(piece, &mut buf),
            // Only reachable by re-entrance, which cannot happen here; use a fresh buffer anyway.
            Err(_) => self.hash_with(piece, &mut Vec::new()),
        })
    }

    /// Makes every write that returned before this call durable: `fdatasync` on each file
    /// written since the last sync, then `fsync` on each directory that gained an entry. Only
    /// after this returns `Ok` may the engine record those pieces as verified in its resume
    /// data. Blocking (it waits for the disk).
    ///
    /// An error means some data written since the last successful sync may not be on disk
    /// (the kernel may already have dropped the failed pages): stop the torrent and do not
    /// trust those pieces without a [`Storage::recheck`]. Files not yet synced stay pending.
    pub fn sync(&self) -> Result<(), StorageError> {
        let (sticky, files, dirs) = self.handles.take_pending();
        if let Some(e) = sticky {
            self.handles.restore_pending(files, dirs);
            return Err(e);
        }
        let mut files = files.into_iter();
        while let Some(i) = files.next() {
            let result = self.file(i).and_then(|f| {
                let file = self.handles.get(i, &f.path, Access::Read)?;
                file.sync_data().map_err(|source| StorageError::Sync {
                    path: f.path.clone(),
                    source,
                })
            });
            if let Err(e) = result {
                self.handles
                    .restore_pending(std::iter::once(i).chain(files), dirs);
                return Err(e);
            }
        }
        let mut dirs = dirs.into_iter();
        while let Some(d) = dirs.next() {
            if let Err(source) = File::open(&d).and_then(|dir| dir.sync_all()) {
                self.handles
                    .restore_pending(None, std::iter::once(d.clone()).chain(dirs));
                return Err(StorageError::Sync { path: d, source });
            }
        }
        Ok(())
    }

    /// Closes every cached file handle (they reopen on demand). Does not sync.
    pub fn close_files(&self) {
        self.handles.close_all();
    }

    fn file(&self, index: usize) -> Result<&FileEntry, StorageError> {
        self.files.get(index).ok_or(StorageError::FileOutOfRange {
            file: index,
            num_files: self.files.len(),
        })
    }

    /// The piece's length, or an error if the index is not in the layout.
    fn check_piece(&self, piece: PieceIndex) -> Result<u32, StorageError> {
        if self.layout.piece(piece.get()).is_none() {
            return Err(StorageError::PieceOutOfRange {
                piece: piece.get(),
                num_pieces: self.layout.num_pieces(),
            });
        }
        Ok(self.layout.piece_len(piece))
    }

    /// Reads `buf.len()` bytes of the piece from `start` (in the piece; the caller checked the
    /// bounds), one positional read per file range, zeros for pad ranges.
    fn read_span(&self, piece: PieceIndex, start: u64, buf: &mut [u8]) -> Result<(), StorageError> {
        self.for_each_span_part(piece, start, buf, |file, at, part| {
            let f = self.file(file)?;
            let handle = self.handles.get(file, &f.path, Access::Read)?;
            handle
                .read_exact_at(part, at)
                .map_err(|source| StorageError::Read {
                    path: f.path.clone(),
                    source,
                })
        })
        .map(|_| ())
    }

    /// Splits `[start, start + buf.len())` of the piece (offsets in the piece) by the file
    /// ranges it spans: pad ranges are zero-filled, and `read(file, offset in the file, part)`
    /// fills each other part of `buf`. Stops at the first error; `Ok(true)` when the ranges
    /// covered the whole of `buf`.
    fn for_each_span_part<E>(
        &self,
        piece: PieceIndex,
        start: u64,
        buf: &mut [u8],
        mut read: impl FnMut(usize, u64, &mut [u8]) -> Result<(), E>,
    ) -> Result<bool, E> {
        let end = start + buf.len() as u64;
        let mut rest = buf;
        let mut pos = 0u64; // offset in the piece of the current range
        for r in self.layout.file_ranges(piece) {
            let (r_start, r_end) = (pos, pos + u64::from(r.len));
            pos = r_end;
            if r_end <= start {
                continue;
            }
            if r_start >= end || rest.is_empty() {
                break;
            }
            let from = start.max(r_start);
            let n = (end.min(r_end) - from) as usize;
            let Some((part, tail)) = std::mem::take(&mut rest).split_at_mut_checked(n) else {
                break;
            };
            rest = tail;
            if r.pad {
                part.fill(0);
            } else {
                read(r.file, r.offset + (from - r_start), part)?;
            }
        }
        Ok(rest.is_empty())
    }

    /// SHA-1 of the piece, read in chunks through `buf` (grown to the chunk size once).
    fn hash_with(&self, piece: PieceIndex, buf: &mut Vec<u8>) -> Result<[u8; 20], StorageError> {
        let piece_len = u64::from(self.check_piece(piece)?);
        let chunk = HASH_CHUNK.min(piece_len as usize);
        if buf.len() < chunk {
            buf.resize(chunk, 0);
        }
        let mut hasher = Sha1::new();
        let mut off = 0u64;
        while off < piece_len {
            let n = (piece_len - off).min(chunk as u64) as usize;
            let Some(part) = buf.get_mut(..n) else { break };
            self.read_span(piece, off, part)?;
            hasher.update(&*part);
            off += n as u64;
        }
        Ok(hasher.finalize().into())
    }
}

/// Reserves `len` bytes for `file` (`fallocate` mode 0: allocates and extends, never shrinks);
/// where the file system cannot, extends the file sparse instead.
fn allocate(file: &File, len: u64) -> io::Result<()> {
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => {
            if file.metadata()?.len() < len {
                file.set_len(len)?;
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests;
