//! The peer wire protocol: BEP 3 handshake and messages, BEP 5 `port`, BEP 6 fast extension,
//! BEP 10 extension protocol, and the extension messages `ut_metadata` (BEP 9) and `ut_pex`
//! (BEP 11). Plain data plus encode/decode: no sockets, no clock.
//!
//! A connection, seen from here:
//!
//! 1. Both sides send a [`Handshake`] (68 bytes). [`Handshake::decode`] reads it from the receive
//!    buffer (`Ok(None)` until all of it is there); [`Handshake::peek_info_hash`] gives the
//!    info-hash after 48 bytes, for the side that accepted the connection.
//! 2. Then length-prefixed [`Message`]s, framed by a [`MessageDecoder`] (the tokio-util
//!    `Decoder` shape: `Ok(None)` = need more bytes, `Err` = the peer is broken, sticky) and
//!    written by [`Message::encode`] into a caller-owned buffer.
//! 3. If both set [`Reserved::extension_protocol`], [`Message::Extended`] carries the
//!    [`ExtendedHandshake`] (id 0) and the messages of the extensions it negotiated:
//!    [`MetadataMessage`] and [`PexMessage`].
//!
//! Every length a peer sends is checked against a named limit (see the constants below, all in
//! `limits.rs`) before any memory is reserved for it. Semantic checks that need the torrent
//! ([`validate_bitfield`], [`check_piece_index`], [`check_request`]) return [`PeerMisbehaved`].
//!
//! ```
//! use bytes::BytesMut;
//! use ferrent_core::Id20;
//! use ferrent_proto::wire::{make_peer_id, Handshake, Message, MessageDecoder, Reserved};
//!
//! // What a peer sent us: its handshake, then a bitfield and an unchoke, in one read.
//! let theirs = Handshake {
//!     reserved: Reserved::default().with_extension_protocol(true),
//!     info_hash: Id20([7; 20]),
//!     peer_id: make_peer_id(*b"0123456789ab"),
//! };
//! let mut rx = BytesMut::new();
//! theirs.encode(&mut rx);
//! Message::Bitfield(vec![0b1010_0000].into()).encode(&mut rx);
//! Message::Unchoke.encode(&mut rx);
//!
//! assert_eq!(Handshake::decode(&mut rx).unwrap(), Some(theirs));
//! let mut decoder = MessageDecoder::new();
//! let mut got = Vec::new();
//! while let Some(m) = decoder.decode(&mut rx).unwrap() {
//!     got.push(m);
//! }
//! assert_eq!(got, [Message::Bitfield(vec![0b1010_0000].into()), Message::Unchoke]);
//! ```

mod codec;
mod error;
mod extended;
mod handshake;
mod limits;
mod message;
mod metadata;
mod pex;
mod validate;

#[cfg(test)]
mod tests;

pub use codec::MessageDecoder;
pub use error::{InvalidExtended, InvalidHandshake, InvalidMessage, PeerMisbehaved, ProtoError};
pub use extended::{EXTENDED_HANDSHAKE_ID, ExtendedHandshake, UT_METADATA, UT_PEX};
pub use handshake::{HANDSHAKE_LEN, Handshake, PEER_ID_PREFIX, PROTOCOL, Reserved, make_peer_id};
pub use limits::{
    BLOCK_LEN, MAX_BITFIELD_LEN, MAX_CLIENT_NAME_LEN, MAX_EXTENSIONS, MAX_MESSAGE_LEN,
    MAX_METADATA_SIZE, MAX_PEX_PEERS, MAX_PIECE_MESSAGE_LEN, MAX_PIECES, MAX_REQQ,
    METADATA_PIECE_LEN,
};
pub use message::{Block, BlockRequest, Message, id, name_of, piece_header};
pub use metadata::{MetadataMessage, metadata_piece_count, metadata_piece_len};
pub use pex::{PexFlags, PexMessage, PexPeer};
pub use validate::{check_piece_index, check_request, validate_bitfield};
