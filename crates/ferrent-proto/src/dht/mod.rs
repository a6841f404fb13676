//! KRPC, the message format of the BitTorrent DHT (BEP 5), with the IPv6 extension (BEP 32).
//!
//! A KRPC message is one bencoded dictionary in one UDP datagram. [`Message::decode`] turns a
//! datagram into a [`Message`] and [`Message::encode`] writes one into a buffer the caller owns.
//! There is no framing: a datagram is a whole message or garbage, so the decoder takes a slice
//! and returns `Result<Message, KrpcError>` rather than the streaming `Ok(None)` shape of the
//! peer wire codec (DESIGN.md rule 8 is for byte streams).
//!
//! What is accepted, and why:
//! - **Transaction ids of any length** from 0 to [`MAX_TRANSACTION_ID_LEN`] bytes. libtorrent
//!   sends 2 bytes, others 4 or 8; the id is opaque and echoed back unchanged.
//! - **Strict bencode** (ferrent-bencode's [`Strict`](ferrent_bencode::Mode::Strict) mode), bounded by
//!   [`MAX_PACKET_SIZE`]; at most [`MAX_NODES`] entries in `nodes` / `nodes6` and
//!   [`MAX_VALUES`] peers in `values`.
//! - Unknown keys are ignored (BEP 5 extensions such as BEP 33 `scrape`, BEP 44 `v`...); an
//!   unknown query method decodes to [`Query::Unknown`] so a node can answer it with error 204.
//!
//! ```
//! use ferrent_proto::dht::{Body, Message, NodeId, Query};
//!
//! let ping = Message::query(b"aa".to_vec(), Query::Ping { id: NodeId([1; 20]) });
//! let mut buf = Vec::new();
//! ping.encode(&mut buf);
//! assert_eq!(&buf[..], &b"d1:ad2:id20:\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01e1:q4:ping1:t2:aa1:y1:qe"[..]);
//! let back = Message::decode(&buf).unwrap();
//! assert!(matches!(back.body, Body::Query(Query::Ping { .. })));
//! ```

mod compact;
mod decode;
mod error;
mod message;
#[cfg(test)]
mod tests;

pub use compact::{
    COMPACT_NODE_V4_LEN, COMPACT_NODE_V6_LEN, NodeId, NodeInfo, decode_compact_addr,
    encode_compact_addr,
};
pub use error::{KrpcError, KrpcErrorKind};
pub use message::{Body, ErrorCode, ErrorMessage, Message, Query, Response, Want};

/// Largest datagram decoded. Mainline DHT messages are built to fit one unfragmented datagram on
/// an Ethernet path (libtorrent and the `mainline` crate both read into 1500-byte buffers); a
/// full BEP 32 reply with 8 + 8 nodes and a token is about 600 bytes.
pub const MAX_PACKET_SIZE: usize = 1500;

/// Longest transaction id accepted. The id is opaque and echoed back; libtorrent uses 2 bytes,
/// most others 4. 64 is generous and keeps a hostile id from bloating our replies.
pub const MAX_TRANSACTION_ID_LEN: usize = 64;

/// Longest write token accepted (`token` in a get_peers reply and in announce_peer). libtorrent
/// sends 4 bytes, other implementations up to 20 (a SHA-1).
pub const MAX_TOKEN_LEN: usize = 64;

/// Most compact nodes accepted in one `nodes` or `nodes6` string. Replies carry 8 (k); 32 leaves
/// room for implementations that send more, and 32 IPv6 nodes (1216 bytes) still fit a packet.
pub const MAX_NODES: usize = 32;

/// Most peers accepted in one `values` list. libtorrent sends up to ~100; 1500 / 8 bytes per
/// bencoded IPv4 peer bounds what a packet can carry.
pub const MAX_VALUES: usize = 200;

/// Longest client version string (`v`) kept. Clients send 4 bytes (2 letters + 2 version bytes).
pub const MAX_VERSION_LEN: usize = 32;

/// Longest error message text kept from an error reply.
pub const MAX_ERROR_TEXT_LEN: usize = 256;
