//! # ferrent-tracker
//!
//! A BitTorrent tracker, HTTP and UDP, for private swarms: the server behind `ferrent tracker`
//! and `ferrent share`. It sits above [`ferrent_proto`] (whose tracker codecs it uses) next to
//! the other front ends (see `DESIGN.md`).
//!
//! - HTTP announce (BEP 3) with compact (BEP 23) and dictionary replies, `peers6` (BEP 7),
//!   `numwant` capped at [`limits::MAX_NUMWANT`], `stopped` and `completed` events, `interval`
//!   and `min interval`; HTTP scrape (BEP 48) for several info-hashes.
//! - UDP (BEP 15): connect, announce (IPv4 and IPv6 replies), scrape. Connection ids are a
//!   keyed hash of a secret, the client address and the time window ([`ConnectionIds`]):
//!   nothing is stored per connect, and ids from other addresses or older windows are dropped.
//! - Peers expire after two intervals; swarms, peers per swarm and peers in total are capped
//!   ([`limits`]); replies pick a random subset.
//! - An allow-list file (reloaded on change and on SIGHUP) and a crash-safe state snapshot.
//!
//! The decision-making part, [`SwarmStore`], is sans-I/O (time is a parameter); the server is
//! thin around it: plain threads answering UDP in batches, hyper on tokio for HTTP, and a
//! housekeeping task. `docs/tracker-server.md` explains the design and the benchmark.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferrent_tracker::TrackerError> {
//! use ferrent_tracker::{Config, Tracker};
//! let config = Config { http: Some("127.0.0.1:0".parse().unwrap()), ..Config::default() };
//! let tracker = Tracker::bind(config).await?;
//! println!("announce to {}", tracker.http_announce_url().unwrap());
//! tracker.shutdown().await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod allow;
mod connid;
mod error;
mod http;
pub mod limits;
mod server;
mod shared;
mod snapshot;
mod store;
mod udp;

pub use allow::{parse_allow_list, read_allow_list};
pub use connid::ConnectionIds;
pub use error::TrackerError;
pub use server::{Config, RunningTracker, Tracker};
pub use shared::Stats;
pub use snapshot::{format_state, parse_state, read_state, write_state};
pub use store::{
    Announce, AnnounceResult, CompactPeers, Families, Refusal, StoreConfig, StoreCounts,
    SwarmCounts, SwarmSnapshot, SwarmStore,
};
