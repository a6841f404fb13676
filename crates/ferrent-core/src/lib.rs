//! # ferrent-core
//!
//! What a torrent *is*, with no networking: the layer above [`ferrent_bencode`] and below the
//! protocol codecs and the engine (see `DESIGN.md`).
//!
//! - info-hashes and ids ([`Id20`], [`Id32`], [`InfoHash`]);
//! - magnet links, parsed and formatted ([`Magnet`], [`MagnetPeer`], [`MagnetError`]);
//! - torrent creation, v1, v2 and hybrid, hashed on all cores ([`create_torrent`], [`CreatePlan`]);
#![deny(missing_docs)]

mod create;
mod infohash;
mod magnet;

pub use create::{
    AUTO_MAX_PIECE_LENGTH, AUTO_TARGET_MAX_PIECES, CREATE_MAX_PIECE_LENGTH,
    CREATE_MIN_PIECE_LENGTH, CreateError, CreateOptions, CreatePlan, CreatedTorrent, CreationDate,
    PlannedFile, SkipReason, Skipped, TorrentVersion, auto_piece_length, create_torrent,
    default_created_by,
};
pub use infohash::{HashParseError, Id20, Id32, InfoHash};
pub use magnet::{
    MAX_MAGNET_LEN, MAX_MAGNET_PEERS, MAX_MAGNET_SELECT_ITEMS, MAX_MAGNET_TRACKERS,
    MAX_MAGNET_WEB_SEEDS, Magnet, MagnetError, MagnetPeer,
};
