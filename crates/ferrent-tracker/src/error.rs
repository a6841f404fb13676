//! The tracker's error type.

/// Why the tracker could not start, reload or save.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrackerError {
    /// Binding a listening socket failed.
    #[error("cannot bind {proto} on {addr}: {source}")]
    Bind {
        /// "HTTP" or "UDP".
        proto: &'static str,
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The allow-list could not be read or has a bad line.
    #[error("allow-list {path}: {reason}")]
    AllowList {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The state file could not be read, parsed or written.
    #[error("state file {path}: {reason}")]
    State {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Neither HTTP nor UDP is enabled.
    #[error("nothing to serve: both HTTP and UDP are disabled")]
    NothingToServe,
}
