//! The ferrent engine: session, torrents, peers, picker, storage (to come).
//!
//! Decision-making parts are sans-I/O state machines driven by thin tokio tasks (DESIGN.md). So far:
//! the piece picker and request scheduler ([`Picker`]).
#![deny(missing_docs)]
// clippy.toml disallows `Instant::now`/`SystemTime::now` (DESIGN.md rule 2). The lint is off for the
// crate and turned on as an error in each sans-I/O state module with
// `#![deny(clippy::disallowed_methods)]` (the picker does); drivers read the clock freely.
#![allow(clippy::disallowed_methods)]

pub mod announce;
pub mod choker;
pub mod dht;
pub mod metadata;
mod peer;
mod picker;
pub mod resume;
mod session;
mod storage;
pub mod torrent;

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
    FileState, HASH_CHUNK, MAX_OPEN_FILES, Preallocate, Storage, StorageError, StorageOptions,
};
pub use torrent::{StatsSnapshot, TorrentHandle, TorrentState};
