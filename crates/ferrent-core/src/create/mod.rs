//! Torrent creation: `.torrent` files for a file or a directory, v1 (BEP 3), v2 (BEP 52) or hybrid
//! (BEP 52 + BEP 47 pad files), with the piece hashing spread over all cores.
//!
//! Two steps, so a front end can show a progress bar against the total size:
//!
//! 1. [`CreatePlan::scan`] walks the input, applies the rules documented on
//!    [`CreatePlan`] and fixes the piece length;
//! 2. [`CreatePlan::hash`] reads and hashes every byte and returns a [`CreatedTorrent`] (the
//!    canonical bencoded bytes and the info-hash(es)), counting hashed bytes in an [`AtomicU64`].
//!
//! [`create_torrent`] does both.
//!
//! The rules for what goes in (order, hidden files, symbolic links, empty directories) and for
//! the piece length are on [`CreatePlan`].
//!
//! ```no_run
//! use std::path::Path;
//! use ferrent_core::{create_torrent, CreateOptions, TorrentVersion};
//!
//! let mut opts = CreateOptions::default();
//! opts.trackers = vec![vec!["http://127.0.0.1:6969/announce".into()]];
//! opts.version = TorrentVersion::Hybrid;
//! let t = create_torrent(Path::new("some/dir"), &opts).unwrap();
//! std::fs::write("dir.torrent", &t.bytes).unwrap();
//! println!("{:?}", t.info_hash);
//! ```

mod encode;
mod hasher;
mod merkle;
mod walk;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::InfoHash;

pub use walk::{SkipReason, Skipped};

/// BEP 52 block size: the leaves of the v2 merkle trees hash 16 KiB each.
pub(crate) const BLOCK_SIZE: u64 = 16 * 1024;

/// The smallest piece length accepted: one BEP 52 block (16 KiB).
pub const CREATE_MIN_PIECE_LENGTH: u64 = BLOCK_SIZE;

/// The largest piece length accepted by hand (256 MiB). Larger pieces make a torrent almost
/// useless for swarming (a peer must fetch a whole piece before it can share any of it), and
/// clients that buffer whole pieces would need that much memory per piece in flight.
pub const CREATE_MAX_PIECE_LENGTH: u64 = 256 * 1024 * 1024;

/// The largest piece length [`auto_piece_length`] picks (16 MiB), as libtorrent and mktorrent.
pub const AUTO_MAX_PIECE_LENGTH: u64 = 16 * 1024 * 1024;

/// [`auto_piece_length`] picks the smallest piece length giving at most this many pieces.
pub const AUTO_TARGET_MAX_PIECES: u64 = 2000;

/// Which kind of torrent to make.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TorrentVersion {
    /// BitTorrent v1 (BEP 3): SHA-1 piece hashes over the concatenated files. Every client reads it.
    #[default]
    V1,
    /// BitTorrent v2 only (BEP 52): per-file SHA-256 merkle trees. Only libtorrent 2.x (and
    /// clients built on it) read it.
    V2,
    /// Both (BEP 52 hybrid): v1 with BEP 47 pad files so every file starts on a piece boundary,
    /// plus the v2 parts; v1 clients use the v1 half.
    Hybrid,
}

impl TorrentVersion {
    fn has_v1(self) -> bool {
        matches!(self, TorrentVersion::V1 | TorrentVersion::Hybrid)
    }
    fn has_v2(self) -> bool {
        matches!(self, TorrentVersion::V2 | TorrentVersion::Hybrid)
    }
}

/// The `creation date` field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CreationDate {
    /// The current time when the torrent is built.
    #[default]
    Now,
    /// A fixed time in seconds since the Unix epoch (for reproducible torrents).
    Unix(i64),
    /// No `creation date` field.
    Omit,
}

/// What to put into a torrent besides the data. [`Default`] gives a public v1 torrent with an
/// automatic piece length, no trackers, the current date and `created by` = `ferrent/<version>`.
#[derive(Clone, Debug)]
pub struct CreateOptions {
    /// Trackers by tier (BEP 12). The first URL of the first tier also becomes `announce`;
    /// `announce-list` is written when there is more than one URL. Empty tiers are dropped.
    pub trackers: Vec<Vec<String>>,
    /// Piece length in bytes; `None` chooses [`auto_piece_length`] of the total size.
    pub piece_length: Option<u64>,
    /// Sets `private` = 1 in the info dictionary (BEP 27: no DHT, PEX or LSD).
    pub private: bool,
    /// The `comment` field.
    pub comment: Option<String>,
    /// Web seeds (BEP 19 `url-list`).
    pub web_seeds: Vec<String>,
    /// The `source` field of the info dictionary (private trackers use it to make the info-hash
    /// unique to them).
    pub source: Option<String>,
    /// The `creation date` field.
    pub creation_date: CreationDate,
    /// The `created by` field; `None` leaves it out.
    pub created_by: Option<String>,
    /// v1, v2 or hybrid.
    pub version: TorrentVersion,
    /// Hashing threads; `None` or 0 uses all available cores.
    pub threads: Option<usize>,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            trackers: Vec::new(),
            piece_length: None,
            private: false,
            comment: None,
            web_seeds: Vec::new(),
            source: None,
            creation_date: CreationDate::Now,
            created_by: Some(default_created_by()),
            version: TorrentVersion::V1,
            threads: None,
        }
    }
}

/// `ferrent/<version of this crate>`, the default `created by`.
pub fn default_created_by() -> String {
    format!("ferrent/{}", env!("CARGO_PKG_VERSION"))
}

/// Why a torrent could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreateError {
    /// Reading the input failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The input holds no data (an empty file, or only empty files and directories).
    #[error("{}: nothing to share (no file with data)", path.display())]
    EmptyInput {
        /// The input path.
        path: PathBuf,
    },
    /// The input itself is not a regular file or directory.
    #[error("{}: not a regular file or directory", path.display())]
    NotFileOrDir {
        /// The input path.
        path: PathBuf,
    },
    /// A file or directory name is not valid UTF-8.
    #[error("{}: the name is not valid UTF-8", path.display())]
    NonUtf8Name {
        /// The path with the bad name.
        path: PathBuf,
    },
    /// The piece length given is not allowed.
    #[error(
        "piece length {length} is not a power of two from {CREATE_MIN_PIECE_LENGTH} to {CREATE_MAX_PIECE_LENGTH}"
    )]
    BadPieceLength {
        /// The length given.
        length: u64,
    },
    /// A file got shorter between the scan and the hashing.
    #[error("{}: file changed while hashing (shorter than {expected} bytes)", path.display())]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// The length seen by the scan.
        expected: u64,
    },
    /// The total size does not fit the format (over `i64::MAX` bytes).
    #[error("the input is too large ({total} bytes)")]
    TooLarge {
        /// The total size.
        total: u64,
    },
}

/// The smallest power of two from 16 KiB to 16 MiB that splits `total_size` bytes into at most
/// [`AUTO_TARGET_MAX_PIECES`] pieces (16 MiB for anything above 32 GiB).
pub fn auto_piece_length(total_size: u64) -> u64 {
    let mut p = CREATE_MIN_PIECE_LENGTH;
    while p < AUTO_MAX_PIECE_LENGTH && total_size.div_ceil(p) > AUTO_TARGET_MAX_PIECES {
        p *= 2;
    }
    p
}

/// A scanned input with a fixed piece length, ready to hash. Made by [`CreatePlan::scan`].
///
/// # What goes into a torrent of a directory
///
/// - **Order**: files are sorted by their path inside the directory, compared component by
///   component as byte strings (so `a/z` comes before `a.txt`, because the component `a` sorts
///   before `a.txt`). This is the order of the BEP 52 `file tree` (a bencoded dictionary at each
///   level), so v1 `files` and v2 `file tree` always agree, and the result does not depend on the
///   order in which the file system lists entries.
/// - **Hidden files** (names starting with `.`) are included, as libtorrent and mktorrent do.
/// - **Symbolic links**: a link to a regular file is followed (the torrent holds the target's bytes
///   under the link's name); a link to a directory is *not* followed (skipped), so a tree cannot
///   loop or pull in data from outside it; a dangling link is skipped. The input path itself is
///   always followed. Everything skipped is listed in [`CreatedTorrent::skipped`].
/// - **Empty directories** cannot be expressed in a v1 torrent and are skipped (and listed).
/// - **Zero-length files** are included (v1 `files` entry of length 0; v2 `file tree` entry without
///   `pieces root`).
/// - **Other file types** (sockets, FIFOs, devices) are skipped and listed.
/// - Names must be valid UTF-8 (BEP 3 strings are UTF-8); a name that is not is an error.
/// - An input with no bytes at all (an empty file, or a directory with only empty files) is an
///   error: a torrent needs at least one piece.
///
/// # Piece length
///
/// Unless set, the piece length is [`auto_piece_length`]: the smallest power of two from 16 KiB to
/// 16 MiB that gives at most 2000 pieces (so 1000 to 2000 pieces between 32 MiB and 32 GiB of data),
/// as mktorrent and libtorrent aim for. A piece length given by hand must be a power of two from
/// [`CREATE_MIN_PIECE_LENGTH`] to [`CREATE_MAX_PIECE_LENGTH`] (BEP 52 requires a power of two
/// >= 16 KiB; we ask the same of v1 so any torrent can be re-made as v2).
///
/// # Hybrid torrents
///
/// The v1 `files` list gets a BEP 47 pad file (`attr` = `p`, path `.pad/<length>`, zeros) after
/// every file with data that does not end on a piece boundary (the last one too, as libtorrent
/// does: the same files and piece length then give the same info-hashes as libtorrent's), so
/// that every file starts a new piece as v2 requires. Pad files are not in the v2 `file tree`.
/// A single-file hybrid has none (its v1 part is a plain single-file torrent).
///
#[derive(Debug)]
pub struct CreatePlan {
    root: PathBuf,
    name: String,
    single_file: bool,
    files: Vec<walk::InputFile>,
    skipped: Vec<Skipped>,
    total_size: u64,
    piece_length: u64,
    options: CreateOptions,
}

/// One file of a plan, in torrent order.
#[derive(Clone, Copy, Debug)]
pub struct PlannedFile<'a> {
    /// Path components inside the torrent (just the name for a single-file torrent).
    pub path: &'a [String],
    /// Where the bytes are read from.
    pub source: &'a Path,
    /// Length in bytes.
    pub length: u64,
}

impl CreatePlan {
    /// Walks `path` (a file or a directory) with the rules above and fixes the piece length.
    /// Reads no file contents.
    pub fn scan(path: &Path, options: &CreateOptions) -> Result<CreatePlan, CreateError> {
        // A bad piece length is refused before any I/O.
        if let Some(p) = options.piece_length {
            if !p.is_power_of_two()
                || !(CREATE_MIN_PIECE_LENGTH..=CREATE_MAX_PIECE_LENGTH).contains(&p)
            {
                return Err(CreateError::BadPieceLength { length: p });
            }
        }
        let scanned = walk::scan(path)?;
        let total_size = scanned.files.iter().map(|f| f.length).sum::<u64>();
        if total_size == 0 {
            return Err(CreateError::EmptyInput {
                path: path.to_path_buf(),
            });
        }
        if i64::try_from(total_size).is_err() {
            return Err(CreateError::TooLarge { total: total_size });
        }
        let piece_length = options
            .piece_length
            .unwrap_or_else(|| auto_piece_length(total_size));
        Ok(CreatePlan {
            root: path.to_path_buf(),
            name: scanned.name,
            single_file: scanned.single_file,
            files: scanned.files,
            skipped: scanned.skipped,
            total_size,
            piece_length,
            options: options.clone(),
        })
    }

    /// The torrent's `name` (the input's file or directory name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The input path given to [`CreatePlan::scan`].
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Total bytes of data (without pad files); what [`CreatePlan::hash`] counts up to.
    pub fn total_size(&self) -> u64 {
        self.total_size
    }

    /// The piece length in bytes.
    pub fn piece_length(&self) -> u64 {
        self.piece_length
    }

    /// True when the input was a single file (no `files` list, no directory level).
    pub fn is_single_file(&self) -> bool {
        self.single_file
    }

    /// The files in torrent order.
    pub fn files(&self) -> impl ExactSizeIterator<Item = PlannedFile<'_>> {
        self.files.iter().map(|f| PlannedFile {
            path: &f.path,
            source: &f.source,
            length: f.length,
        })
    }

    /// What the scan left out, and why.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Number of pieces the torrent will have: v1 pieces over the concatenated files for V1, and
    /// for v2 and hybrid the sum of each file's pieces (every file starts on a piece boundary).
    pub fn num_pieces(&self) -> u64 {
        match self.options.version {
            TorrentVersion::V1 => self.total_size.div_ceil(self.piece_length),
            TorrentVersion::V2 | TorrentVersion::Hybrid => self
                .files
                .iter()
                .map(|f| f.length.div_ceil(self.piece_length))
                .sum(),
        }
    }

    /// Reads and hashes all data on [`CreateOptions::threads`] threads, adding the number of data
    /// bytes hashed to `progress` as it goes (it reaches [`CreatePlan::total_size`] at the end),
    /// and builds the torrent.
    pub fn hash(self, progress: &AtomicU64) -> Result<CreatedTorrent, CreateError> {
        let threads = match self.options.threads {
            Some(n) if n > 0 => n,
            _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let hashes = match self.options.version {
            TorrentVersion::V1 => encode::Hashes::V1(hasher::hash_v1(
                &self.files,
                self.piece_length,
                threads,
                progress,
            )?),
            v => encode::Hashes::Aligned(hasher::hash_aligned(
                &self.files,
                self.piece_length,
                v.has_v1(),
                !self.single_file,
                threads,
                progress,
            )?),
        };
        let date = match self.options.creation_date {
            CreationDate::Now => Some(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            ),
            CreationDate::Unix(t) => Some(t),
            CreationDate::Omit => None,
        };
        let built = encode::build(&self, &hashes, date);
        Ok(CreatedTorrent {
            bytes: built.bytes,
            info_hash: built.info_hash,
            name: self.name.clone(),
            total_size: self.total_size,
            piece_length: self.piece_length,
            num_pieces: self.num_pieces(),
            num_files: self.files.len(),
            pad_bytes: built.pad_bytes,
            version: self.options.version,
            skipped: self.skipped,
        })
    }
}

/// A finished torrent.
#[derive(Clone, Debug)]
pub struct CreatedTorrent {
    /// The `.torrent` file: canonical bencode.
    pub bytes: Vec<u8>,
    /// SHA-1 (v1, hybrid) and/or SHA-256 (v2, hybrid) of the bencoded info dictionary.
    pub info_hash: InfoHash,
    /// The torrent's `name`.
    pub name: String,
    /// Total bytes of data (without pad files).
    pub total_size: u64,
    /// Piece length in bytes.
    pub piece_length: u64,
    /// Number of pieces (see [`CreatePlan::num_pieces`]).
    pub num_pieces: u64,
    /// Number of data files (without pad files).
    pub num_files: usize,
    /// Bytes of BEP 47 pad files in the v1 part (hybrid only; 0 otherwise).
    pub pad_bytes: u64,
    /// The kind of torrent made.
    pub version: TorrentVersion,
    /// What the scan left out, and why.
    pub skipped: Vec<Skipped>,
}

/// Scans and hashes `path` in one call ([`CreatePlan::scan`] then [`CreatePlan::hash`]), without
/// progress reporting. The rules for what goes in are on [`CreatePlan`].
pub fn create_torrent(path: &Path, options: &CreateOptions) -> Result<CreatedTorrent, CreateError> {
    CreatePlan::scan(path, options)?.hash(&AtomicU64::new(0))
}

#[cfg(test)]
mod tests;
