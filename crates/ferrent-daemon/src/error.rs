//! [`DaemonError`]: why a daemon operation failed, and the HTTP status each cause maps to.

use std::path::PathBuf;

/// Why an operation of the [`crate::Daemon`] or a request to its API failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The body is not a valid `.torrent` file.
    #[error("not a valid .torrent file: {0}")]
    BadTorrent(#[from] ferrent_core::MetainfoError),
    /// The magnet link cannot be parsed.
    #[error("not a valid magnet link: {0}")]
    BadMagnet(#[from] ferrent_core::MagnetError),
    /// The torrent is valid but this version cannot download it.
    #[error("unsupported torrent: {0}")]
    Unsupported(String),
    /// Something else about the request is wrong (JSON, query, info-hash syntax).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The torrent is already in the daemon (or still being removed).
    #[error("torrent {info_hash} is already in the daemon{}", if *.removing { " (it is still being removed)" } else { "" })]
    Duplicate {
        /// Its info-hash, hex.
        info_hash: String,
        /// Whether it is on its way out.
        removing: bool,
    },
    /// No torrent with that info-hash.
    #[error("no torrent with info-hash {0}")]
    NotFound(String),
    /// The daemon holds its maximum number of torrents.
    #[error("the daemon already holds its maximum of {max} torrents: remove one first")]
    Full {
        /// The limit.
        max: usize,
    },
    /// The request body is over the limit.
    #[error("the request body is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit ([`crate::MAX_BODY_SIZE`]).
        limit: usize,
    },
    /// The body has a content type other than the two accepted.
    #[error(
        "unsupported content type {0:?}: send a .torrent as application/x-bittorrent or {{\"magnet\": \"magnet:?...\"}} as application/json"
    )]
    UnsupportedType(String),
    /// The `Host` header names something other than this machine (DNS-rebinding guard).
    #[error(
        "host {0:?} is not allowed: use 127.0.0.1, [::1] or localhost (or start the daemon with --allow-host)"
    )]
    ForbiddenHost(String),
    /// A browser says the request comes from a page of another origin (`Origin` header).
    #[error("requests from pages of origin {0:?} are not allowed")]
    ForbiddenOrigin(String),
    /// Too many event streams are open.
    #[error("too many event streams are open (at most {max})")]
    TooManyStreams {
        /// The limit ([`crate::MAX_EVENT_CLIENTS`]).
        max: usize,
    },
    /// The daemon is shutting down and takes no new work.
    #[error("the daemon is shutting down")]
    ShuttingDown,
    /// The engine refused to start the torrent.
    #[error(transparent)]
    Session(#[from] ferrent::SessionError),
    /// A file of the state directory could not be written or read.
    #[error("state directory: {0}")]
    Save(#[from] ferrent::resume::ResumeError),
    /// The state directory could not be created or listed.
    #[error("state directory {path}: {source}")]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// Another process (a second daemon) holds the state directory's lock.
    #[error("state directory {path} is in use by another ferrent daemon")]
    StateInUse {
        /// The state directory.
        path: PathBuf,
    },
    /// Deleting the torrent's data failed.
    #[error("deleting the data: {0}")]
    Storage(#[from] ferrent::StorageError),
    /// A background task panicked or was cancelled.
    #[error("internal task failed: {0}")]
    Task(String),
}

impl DaemonError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            DaemonError::BadTorrent(_)
            | DaemonError::BadMagnet(_)
            | DaemonError::Unsupported(_)
            | DaemonError::BadRequest(_)
            | DaemonError::Session(ferrent::SessionError::ReservedPath { .. }) => 400,
            DaemonError::ForbiddenHost(_) | DaemonError::ForbiddenOrigin(_) => 403,
            DaemonError::NotFound(_) => 404,
            DaemonError::Duplicate { .. } => 409,
            DaemonError::TooLarge { .. } => 413,
            DaemonError::UnsupportedType(_) => 415,
            DaemonError::TooManyStreams { .. } | DaemonError::ShuttingDown => 503,
            DaemonError::Full { .. } => 507,
            DaemonError::Session(_)
            | DaemonError::Save(_)
            | DaemonError::StateDir { .. }
            | DaemonError::StateInUse { .. }
            | DaemonError::Storage(_)
            | DaemonError::Task(_) => 500,
        }
    }
}
