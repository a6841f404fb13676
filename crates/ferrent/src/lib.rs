//! # ferrent (the engine)
//!
//! The BitTorrent engine behind the `ferrent` command and daemon: a [`Session`] holds what its
//! torrents share (peer id, listener, tracker client, DHT node) and runs torrents that download,
//! verify, store, seed and resume. It sits above [`ferrent_proto`] (wire formats) and
//! [`ferrent_core`] (torrent types) and below the front ends (see `DESIGN.md`).
//!
//! Decision-making parts are sans-I/O state machines, driven by thin tokio tasks, so tests run
//! them with a fake clock:
//! - [`torrent::TorrentCore`]: one torrent's protocol state (peer messages in, actions out);
//! - [`Picker`]: which block to ask which peer for (rarest first, pipelines, endgame, timeouts);
//! - [`choker::Choker`]: who we upload to (tit-for-tat, optimistic unchoke, seeding turns);
//! - [`announce::UdpExchange`] and [`announce::TrackerTiers`]: BEP 15 retries, BEP 12 order;
//! - [`dht::DhtNode`]: the DHT (BEP 5), [`dht::AnnounceSchedule`]: when a running torrent asks it;
//! - [`lsd::LsdCore`]: Local Service Discovery (BEP 14);
//!   [`resume::ResumeScheduler`]: when to save resume data.
//!
//! Around them: [`Storage`] (positional I/O into the files a piece spans, no mmap),
//! [`resume`] (crash-safe resume files), [`metadata`] (magnet links, BEP 9), [`torrent_url`]
//! (`.torrent` files over HTTP(S)), the peer
//! connection tasks and the torrent driver.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use ferrent::{AddTorrent, Session, SessionConfig, TorrentState};
//! let session = Session::new(SessionConfig::default())?;
//! let meta = ferrent_core::Metainfo::from_bytes(&std::fs::read("t.torrent")?)?;
//! let mut torrent = session.add_torrent(meta, AddTorrent::new("downloads")).await?;
//! assert_eq!(torrent.wait_finished().await, TorrentState::Complete);
//! torrent.stop().await;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
// clippy.toml disallows `Instant::now`/`SystemTime::now` (DESIGN.md rule 2). The lint is off for the
// crate and turned on as an error in each sans-I/O state module with
// `#![deny(clippy::disallowed_methods)]` (the picker does); drivers read the clock freely.
#![allow(clippy::disallowed_methods)]

pub mod announce;
pub mod choker;
pub mod dht;
pub mod lsd;
pub mod metadata;
mod peer;
mod picker;
pub mod resume;
mod session;
mod storage;
pub mod torrent;
pub mod torrent_url;

pub use peer::{
    CONNECT_TIMEOUT, HANDSHAKE_TIMEOUT, KEEPALIVE_INTERVAL, PEER_COMMAND_QUEUE, READ_IDLE_TIMEOUT,
};
pub use picker::{
    BLOCK_SIZE, BlockOutcome, BlockRequest, DEFAULT_PRIORITY, INITIAL_PIPELINE, MAX_ALLOWED_FAST,
    MAX_CANCELLED_REMEMBERED, MAX_EXCLUDED, MAX_PIPELINE, MAX_PRIORITY, MIN_PIPELINE, PeerKey,
    PeerMisbehaved, Picker, PickerConfig, PickerError, PickerEvent, PickerStats, PieceGeometry,
    PieceState,
};
pub use session::{AddTorrent, Session, SessionConfig, SessionError};
pub use storage::{
    DIRECT_ALIGN, FileState, HASH_CHUNK, MAX_OPEN_FILES, PieceBuf, Preallocate, RemovedFiles,
    Storage, StorageError, StorageOptions,
};
pub use torrent::{PeerSources, StatsSnapshot, TorrentHandle, TorrentState};
