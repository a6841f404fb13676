//! # ferrent-proto
//!
//! Every BitTorrent wire format as plain data plus encode/decode, with no sockets and no clock
//! (sans-I/O, after quinn-proto). It sits above [`ferrent_core`] and below the engine:
//!
//! - [`wire`]: the peer wire protocol (BEP 3 handshake and messages, BEP 6 fast extension,
//!   BEP 10 extension protocol envelope), with length-prefixed framing bounded by a named limit;
//! - [`dht`]: KRPC messages of the DHT (BEP 5, BEP 32 nodes6), for the engine's DHT node;
//! - [`lsd`]: Local Service Discovery announces (BEP 14);
//! - [`tracker`]: tracker requests and replies, HTTP (BEP 3, 23, 7, 48) and UDP (BEP 15).
//!
//! Every decoder treats its input as hostile: lengths are checked against named limits before
//! anything is allocated, and malformed input is an error that says what and where, never a panic.
#![deny(missing_docs)]

pub mod dht;
pub mod lsd;
pub mod tracker;
pub mod wire;
