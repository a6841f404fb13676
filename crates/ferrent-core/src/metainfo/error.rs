//! Why a torrent was rejected ([`MetainfoError`]) and what was tolerated ([`MetainfoWarning`]).

use ferrent_bencode::{DecodeError, Warning};

use crate::layout::LayoutError;
use crate::path::PathError;

/// Why a `.torrent` file or info dictionary is invalid. Each variant says what was wrong and where:
/// `key` fields hold the key path (e.g. `info.files[3].length`), `file` fields a file index in
/// torrent order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetainfoError {
    /// The input is not bencode (the error carries the byte offset).
    #[error("invalid bencode: {0}")]
    Bencode(#[source] DecodeError),
    /// The torrent has v2 metadata (`meta version` 2) but is not canonical bencode; BEP 52
    /// metadata must be strict.
    #[error("v2 torrent is not canonical bencode: {0}")]
    NotCanonical(#[source] DecodeError),
    /// The input (or the `info` dictionary in it) is larger than the limit.
    #[error("{what} is {len} bytes; the limit is {limit}")]
    TooLarge {
        /// "info dictionary" or "torrent file".
        what: &'static str,
        /// Its size.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A required key is missing.
    #[error("missing key {key}")]
    MissingKey {
        /// The key path.
        key: String,
    },
    /// A key has a value of the wrong type.
    #[error("{key} is a {found}; expected a {expected}")]
    WrongType {
        /// The key path.
        key: String,
        /// What was expected ("integer", "string", "list", "dictionary").
        expected: &'static str,
        /// What was found.
        found: &'static str,
    },
    /// A size is negative.
    #[error("{key} is negative ({value})")]
    NegativeLength {
        /// The key path.
        key: String,
        /// The value.
        value: i64,
    },
    /// A value is out of its allowed range or has the wrong form.
    #[error("{key} is invalid: {reason}")]
    InvalidValue {
        /// The key path.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `piece length` is unusable (0, too large, or for v2 not a power of two >= 16 KiB).
    #[error("piece length {value} is invalid: {reason}")]
    BadPieceLength {
        /// The value found.
        value: i64,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// `pieces` is not a whole number of 20-byte SHA-1 hashes.
    #[error("info.pieces is {len} bytes, not a multiple of 20")]
    PiecesNotMultipleOf20 {
        /// Length of the string.
        len: usize,
    },
    /// `pieces` holds a different number of hashes than the files need.
    #[error("info.pieces holds {found} hashes but the files need {expected} pieces")]
    PieceCountMismatch {
        /// `ceil(total length / piece length)`.
        expected: u64,
        /// Hashes in `pieces`.
        found: u64,
    },
    /// Geometry limits (piece count, total size overflow).
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The torrent has no file, or only empty files.
    #[error("torrent has no data (no files or all files empty)")]
    NoData,
    /// More files than [`crate::MAX_FILES`].
    #[error("torrent has more than {limit} files")]
    TooManyFiles {
        /// The limit.
        limit: usize,
    },
    /// A v1 info dictionary has both `length` and `files`, or neither.
    #[error("info must have exactly one of `length` (single file) and `files` (multi-file)")]
    LengthAndFiles,
    /// A path is unacceptable (see [`crate::path`]).
    #[error("{key}: {source}")]
    BadPath {
        /// The key path of the name or path.
        key: String,
        /// Why.
        #[source]
        source: PathError,
    },
    /// Two files resolve to the same path (or one file's path is another file's directory).
    #[error("files {first} and {second} both resolve to {path:?}")]
    DuplicatePath {
        /// The earlier file.
        first: usize,
        /// The later file.
        second: usize,
        /// The (sanitised) path, `/`-separated.
        path: String,
    },
    /// `meta version` is not 2 (the only version BEP 52 defines).
    #[error("unsupported meta version {0}")]
    UnsupportedVersion(i64),
    /// A node of the v2 `file tree` is malformed.
    #[error("{key}: {reason}")]
    BadFileTree {
        /// The key path of the node.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A v2 file larger than one piece has no entry in `piece layers`.
    #[error("file {file} has no entry in piece layers")]
    MissingPieceLayer {
        /// The file index.
        file: usize,
    },
    /// A v2 piece layer has the wrong length.
    #[error("piece layer of file {file} is {found} bytes; expected {expected} (32 per piece)")]
    PieceLayerLength {
        /// The file index.
        file: usize,
        /// 32 * pieces of the file.
        expected: u64,
        /// The layer's length.
        found: usize,
    },
    /// A v2 piece layer does not hash to its file's `pieces root`.
    #[error("piece layer of file {file} does not match its pieces root")]
    PieceLayerRootMismatch {
        /// The file index.
        file: usize,
    },
    /// The v1 and v2 parts of a hybrid torrent describe different files.
    #[error("hybrid torrent: v1 and v2 file lists differ at v2 file {file}: {reason}")]
    HybridMismatch {
        /// Index of the file in the v2 file tree (non-pad files, in order).
        file: usize,
        /// What differs.
        reason: String,
    },
}

impl From<DecodeError> for MetainfoError {
    fn from(e: DecodeError) -> Self {
        MetainfoError::Bencode(e)
    }
}

/// Something a torrent did that ferrent tolerated; kept in the
/// [`Metainfo`](crate::Metainfo) so front ends can show it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetainfoWarning {
    /// Non-canonical bencode accepted in a v1 torrent.
    #[error("non-canonical bencode {0}")]
    Bencode(Warning),
    /// An optional field with a wrong type or value was ignored.
    #[error("ignored {key}: {reason}")]
    IgnoredField {
        /// The key path.
        key: String,
        /// Why.
        reason: &'static str,
    },
    /// A name was not valid UTF-8 and was decoded lossily (invalid bytes became U+FFFD).
    #[error("{key} is not UTF-8; decoded lossily as {lossy:?}")]
    NotUtf8 {
        /// The key path.
        key: String,
        /// The lossily decoded text.
        lossy: String,
    },
    /// The torrent's name was changed by sanitisation (see [`crate::path`]).
    #[error("name {original:?} sanitised to {sanitised:?}")]
    NameSanitised {
        /// The name as written in the torrent.
        original: String,
        /// The name used.
        sanitised: String,
    },
    /// A file path was changed by sanitisation (see [`crate::path`]).
    #[error("file {file}: path {original:?} sanitised to {sanitised:?}")]
    PathSanitised {
        /// The file index.
        file: usize,
        /// The path as written in the torrent, `/`-separated.
        original: String,
        /// The path used, `/`-separated.
        sanitised: String,
    },
}
