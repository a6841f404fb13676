//! [`StorageError`]: what went wrong on disk, naming the file and the operating system's reason.

use std::io;
use std::path::PathBuf;

/// An error of the storage layer. Messages name the file and the operating system's reason
/// (`No space left on device (os error 28)`, `Read-only file system (os error 30)`,
/// `Permission denied (os error 13)`...), so the engine can stop the torrent with one clear line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// A file path of the torrent is not a plain relative path under the download directory.
    #[error("unsafe file path {path:?}: {reason}")]
    UnsafePath {
        /// The path as given.
        path: PathBuf,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// The number of paths does not match the number of files of the layout.
    #[error("the layout has {expected} files but {got} paths were given")]
    FileCount {
        /// Files in the layout.
        expected: usize,
        /// Paths given.
        got: usize,
    },
    /// The number of piece hashes does not match the number of pieces.
    #[error("the layout has {expected} pieces but {got} hashes were given")]
    HashCount {
        /// Pieces in the layout.
        expected: u32,
        /// Hashes given.
        got: usize,
    },
    /// A piece index that is not in the layout (only possible through
    /// `PieceIndex::new_unchecked`).
    #[error("piece {piece} is out of range (the torrent has {num_pieces} pieces)")]
    PieceOutOfRange {
        /// The index.
        piece: u32,
        /// Number of pieces.
        num_pieces: u32,
    },
    /// The buffer given to `write_piece` is not exactly the piece's size.
    #[error("piece {piece} is {expected} bytes but {got} bytes were given")]
    PieceSize {
        /// The piece.
        piece: u32,
        /// Its size.
        expected: u32,
        /// The buffer's size.
        got: usize,
    },
    /// A read that does not fit in the piece.
    #[error(
        "read of {len} bytes at offset {offset} does not fit in piece {piece} of {piece_len} bytes"
    )]
    ReadOutOfRange {
        /// The piece.
        piece: u32,
        /// Offset in the piece.
        offset: u32,
        /// Bytes asked for.
        len: usize,
        /// Size of the piece.
        piece_len: u32,
    },
    /// A file index that is not in the layout.
    #[error("file {file} is out of range (the torrent has {num_files} files)")]
    FileOutOfRange {
        /// The index.
        file: usize,
        /// Number of files.
        num_files: usize,
    },
    /// Creating a directory failed.
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Opening (or creating) a file failed.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Writing a file failed (`ENOSPC` for a full disk, `EROFS`, `EIO`...).
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Reading a file failed; a file shorter than the data asked for gives
    /// [`io::ErrorKind::UnexpectedEof`].
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// `fdatasync` failed: data written earlier may not be on disk.
    #[error("cannot sync {path} to disk: {source}")]
    Sync {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Preallocating a file failed (`ENOSPC` when the disk cannot hold the torrent).
    #[error("cannot allocate {path}: {source}")]
    Allocate {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Reading a file's metadata failed for a reason other than the file being absent.
    #[error("cannot stat {path}: {source}")]
    Stat {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// A recheck was cancelled through its cancel flag.
    #[error("recheck cancelled")]
    Cancelled,
    /// Deleting a file or directory of the torrent failed ([`super::Storage::remove_files`]).
    #[error("cannot remove {path}: {source}")]
    Remove {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
}

impl StorageError {
    /// The file the error is about, if it is about one.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            StorageError::UnsafePath { path, .. }
            | StorageError::CreateDir { path, .. }
            | StorageError::Open { path, .. }
            | StorageError::Write { path, .. }
            | StorageError::Read { path, .. }
            | StorageError::Sync { path, .. }
            | StorageError::Allocate { path, .. }
            | StorageError::Stat { path, .. }
            | StorageError::Remove { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The operating system's error, if the error came from one.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            StorageError::CreateDir { source, .. }
            | StorageError::Open { source, .. }
            | StorageError::Write { source, .. }
            | StorageError::Read { source, .. }
            | StorageError::Sync { source, .. }
            | StorageError::Allocate { source, .. }
            | StorageError::Stat { source, .. }
            | StorageError::Remove { source, .. } => Some(source),
            _ => None,
        }
    }

    /// Whether the data simply is not there (a missing file or a file shorter than the range
    /// read): for a recheck that means "piece missing", not a disk fault.
    pub fn is_missing_data(&self) -> bool {
        match self {
            StorageError::Open { source, .. } | StorageError::Read { source, .. } => {
                is_missing(source)
            }
            _ => false,
        }
    }
}

/// Whether an I/O error means "the data is not there": no such file, a path component that is
/// not a directory, or end of file before the range ends.
pub(crate) fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::UnexpectedEof | io::ErrorKind::NotADirectory
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_the_reason() {
        let e = StorageError::Write {
            path: PathBuf::from("/data/t/a.bin"),
            source: io::Error::from_raw_os_error(28),
        };
        let s = e.to_string();
        assert!(s.contains("/data/t/a.bin"), "{s}");
        assert!(s.contains("No space left on device"), "{s}");
        assert_eq!(e.path(), Some(std::path::Path::new("/data/t/a.bin")));
        assert_eq!(e.io_error().and_then(io::Error::raw_os_error), Some(28));
        assert!(!e.is_missing_data());
    }
}
