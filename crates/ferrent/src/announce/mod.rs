//! The client side of trackers: one announce to an HTTP(S) tracker (BEP 3, 23, 7) or a UDP
//! tracker (BEP 15), and the BEP 12 order in which a torrent's trackers are tried.
//!
//! The decisions are sans-I/O ([`TrackerTiers`], [`UdpExchange`]); [`TrackerClient`] is the thin
//! async driver that owns the HTTP client, the UDP sockets and the cached UDP connection ids.
//! See `docs/tracker-round.md` for a walk through one announce.

mod client;
mod tiers;
mod udp;

use std::net::SocketAddr;
use std::time::Duration;

pub(crate) use client::http_failure;
pub use client::{TrackerClient, TrackerClientConfig};
pub use ferrent_proto::tracker::Event;
pub use tiers::TrackerTiers;
pub use udp::{CONNECTION_ID_LIFETIME, ConnectionId, UdpExchange, UdpRetry};

/// What the torrent tells a tracker in one announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnounceParams {
    /// The 20-byte info-hash used on the wire.
    pub info_hash: ferrent_core::Id20,
    /// Our peer id.
    pub peer_id: ferrent_core::Id20,
    /// Our listen port.
    pub port: u16,
    /// Bytes uploaded since `started`.
    pub uploaded: u64,
    /// Bytes downloaded since `started`.
    pub downloaded: u64,
    /// Bytes still missing.
    pub left: u64,
    /// The event.
    pub event: Event,
    /// Peers wanted.
    pub num_want: u32,
    /// Our key (identifies us across IP changes).
    pub key: u32,
}

/// What a tracker answered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AnnounceOutcome {
    /// Peers to connect to.
    pub peers: Vec<SocketAddr>,
    /// When to announce again.
    pub interval: Duration,
    /// Not before this (HTTP `min interval`).
    pub min_interval: Option<Duration>,
    /// Seeders, if the tracker said.
    pub seeders: Option<u32>,
    /// Leechers, if the tracker said.
    pub leechers: Option<u32>,
    /// A warning from the tracker (the announce still succeeded).
    pub warning: Option<String>,
}

/// Why an announce failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnnounceError {
    /// The tracker refused: its `failure reason` (HTTP) or error message (UDP).
    #[error("tracker refused: {0}")]
    Failure(String),
    /// No reply in time.
    #[error("no reply after {attempts} attempt(s)")]
    Timeout {
        /// Requests sent.
        attempts: u32,
    },
    /// The URL's scheme is not http, https or udp, or it has no host.
    #[error("unsupported tracker URL {0:?}")]
    UnsupportedUrl(String),
    /// Name resolution, connection or HTTP status problems.
    #[error("{0}")]
    Transport(String),
    /// The reply could not be decoded.
    #[error("malformed reply: {0}")]
    BadReply(String),
}
