//! # ferrent-core
//!
//! What a torrent *is*, with no networking: the layer above [`ferrent_bencode`] and below the
//! protocol codecs and the engine (see `DESIGN.md`).
//!
//! - info-hashes and ids ([`Id20`], [`Id32`], [`InfoHash`]);
//! - magnet links, parsed and formatted ([`Magnet`], [`MagnetPeer`], [`MagnetError`]);
//! - torrent creation, v1, v2 and hybrid, hashed on all cores ([`create_torrent`], [`CreatePlan`]);
//! - metainfo, v1, v2 and hybrid, parsed and validated ([`Metainfo`], [`FileEntry`], [`MetainfoError`]),
//!   untrusted paths made safe ([`path`] rules: [`sanitize_path`]) and piece/file geometry
//!   ([`Layout`], [`PieceIndex`], [`FileRange`]);
//! - SHA-1 and SHA-256 of several pieces or blocks at once, for rechecks, downloads and creation
//!   ([`Sha1Lanes`], [`Sha256Lanes`]);
#![deny(missing_docs)]

mod bitfield;
mod create;
mod hash_lanes;
mod infohash;
mod layout;
mod magnet;
mod metainfo;
pub mod path;

pub use bitfield::{Bitfield, BitfieldError};
pub use create::{
    AUTO_MAX_PIECE_LENGTH, AUTO_TARGET_MAX_PIECES, CREATE_MAX_PIECE_LENGTH,
    CREATE_MIN_PIECE_LENGTH, CreateError, CreateOptions, CreatePlan, CreatedTorrent, CreationDate,
    PlannedFile, SkipReason, Skipped, TorrentVersion, auto_piece_length, create_torrent,
    default_created_by,
};
pub use hash_lanes::{MAX_LANES as MAX_HASH_LANES, Sha1Lanes, Sha256Lanes, lanes_in_steps};
pub use infohash::{HashParseError, Id20, Id32, InfoHash};
pub use layout::{
    FileRange, FileRanges, Layout, LayoutError, LayoutFile, MAX_PIECE_LENGTH, MAX_PIECES,
    PieceIndex,
};
pub use magnet::{
    MAX_MAGNET_LEN, MAX_MAGNET_PEERS, MAX_MAGNET_SELECT_ITEMS, MAX_MAGNET_TRACKERS,
    MAX_MAGNET_WEB_SEEDS, Magnet, MagnetError, MagnetPeer,
};
pub use metainfo::{
    FileAttr, FileEntry, MAX_FILES, MAX_INFO_SIZE, MIN_V2_PIECE_LENGTH, MetaVersion, Metainfo,
    MetainfoError, MetainfoWarning, V2_BLOCK_SIZE,
};
pub use path::{MAX_ELEMENT_BYTES, MAX_PATH_DEPTH, PathError, sanitize_element, sanitize_path};
