//! # ferrent-core
//!
//! What a torrent *is*, with no networking: the layer above [`ferrent_bencode`] and below the
//! protocol codecs and the engine (see `DESIGN.md`).
//!
//! - info-hashes and ids ([`Id20`], [`Id32`], [`InfoHash`]);
#![deny(missing_docs)]

mod infohash;

pub use infohash::{HashParseError, Id20, Id32, InfoHash};
