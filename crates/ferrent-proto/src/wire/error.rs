//! Errors of the peer wire protocol, grouped by cause (DESIGN.md rule 9, after rustls):
//!
//! - [`InvalidHandshake`]: the 68-byte BEP 3 handshake is malformed;
//! - [`InvalidMessage`]: a frame is too large or a message has the wrong length;
//! - [`InvalidExtended`]: an extension-protocol payload (BEP 9, 10, 11) is malformed;
//! - [`PeerMisbehaved`]: a well-formed message that breaks the rules of the torrent or the
//!   connection (the engine detects these; this module only names them and offers checks).
//!
//! Every one of them means the peer is broken or hostile: the connection should be closed and the
//! error logged. A [`crate::wire::MessageDecoder`] that returned an error returns it again on
//! every later call (errors are sticky).

use ferrent_bencode::DecodeError;

/// Any error of the peer wire protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// The handshake is malformed.
    #[error("invalid handshake: {0}")]
    InvalidHandshake(#[from] InvalidHandshake),
    /// A message frame is malformed.
    #[error("invalid message: {0}")]
    InvalidMessage(#[from] InvalidMessage),
    /// An extension-protocol payload is malformed.
    #[error("invalid extension message: {0}")]
    InvalidExtended(#[from] InvalidExtended),
    /// The peer broke a rule of the protocol with a well-formed message.
    #[error("peer misbehaved: {0}")]
    PeerMisbehaved(#[from] PeerMisbehaved),
}

/// Why a handshake (BEP 3) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidHandshake {
    /// The first byte (length of the protocol string) is not 19.
    #[error("protocol string length is {len}, expected 19")]
    ProtocolLength {
        /// The byte received.
        len: u8,
    },
    /// The protocol string is not `BitTorrent protocol` (an encrypted stream, BEP 8 MSE, or
    /// another protocol altogether).
    #[error("protocol string is {found:?}, expected \"BitTorrent protocol\"")]
    ProtocolString {
        /// The bytes received where the protocol string belongs (lossy UTF-8).
        found: String,
    },
}

/// Why a message frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidMessage {
    /// The length prefix exceeds the limit for the message (for `id` when it is known).
    #[error("message {} of {len} bytes exceeds the limit of {max}", fmt_id(*.id))]
    TooLarge {
        /// The message id, when the limit is specific to it.
        id: Option<u8>,
        /// The length prefix received.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// A message of fixed size has another length.
    #[error("{name} message (id {id}) has length {len}, expected {expected}")]
    BadLength {
        /// The message id.
        id: u8,
        /// The message name.
        name: &'static str,
        /// The length prefix received (id byte included).
        len: u32,
        /// The only valid length.
        expected: u32,
    },
    /// A message of variable size is shorter than its fixed header.
    #[error("{name} message (id {id}) has length {len}, at least {min} needed")]
    TooShort {
        /// The message id.
        id: u8,
        /// The message name.
        name: &'static str,
        /// The length prefix received (id byte included).
        len: u32,
        /// The smallest valid length.
        min: u32,
    },
    /// The connection ended in the middle of a message.
    #[error("connection closed inside a message ({buffered} bytes of it buffered)")]
    Truncated {
        /// Bytes of the unfinished message that had arrived.
        buffered: usize,
    },
}

fn fmt_id(id: Option<u8>) -> String {
    match id {
        Some(id) => format!("(id {id})"),
        None => String::from("(any id)"),
    }
}

/// Why an extension-protocol payload (BEP 10 handshake, BEP 9 `ut_metadata`, BEP 11 `ut_pex`)
/// was refused. `message` names the message ("extended handshake", "ut_metadata", "ut_pex").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidExtended {
    /// The payload is empty: there is not even an extended message id.
    #[error("extended message without an extended id")]
    Empty,
    /// The bencoded part is not valid (strict) bencode.
    #[error("{message}: {source}")]
    Bencode {
        /// Which message.
        message: &'static str,
        /// The decoder's error.
        source: DecodeError,
    },
    /// The bencoded part is not a dictionary.
    #[error("{message}: not a dictionary")]
    NotADict {
        /// Which message.
        message: &'static str,
    },
    /// A required key is missing or has the wrong type.
    #[error("{message}: key {field:?} missing or not {expected}")]
    MissingField {
        /// Which message.
        message: &'static str,
        /// The key.
        field: &'static str,
        /// The type it must have.
        expected: &'static str,
    },
    /// A key holds a value outside its valid range.
    #[error("{message}: key {field:?} is {value}, outside {range}")]
    OutOfRange {
        /// Which message.
        message: &'static str,
        /// The key.
        field: &'static str,
        /// The value received.
        value: i64,
        /// The valid range, in words.
        range: &'static str,
    },
    /// A list or dictionary has more entries than the limit.
    #[error("{message}: key {field:?} has {count} entries, limit {max}")]
    TooMany {
        /// Which message.
        message: &'static str,
        /// The key.
        field: &'static str,
        /// Entries received.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A compact address list's length is not a multiple of the entry size.
    #[error("{message}: key {field:?} has {len} bytes, not a multiple of {entry}")]
    CompactLength {
        /// Which message.
        message: &'static str,
        /// The key.
        field: &'static str,
        /// Its length.
        len: usize,
        /// Size of one entry (6 for IPv4, 18 for IPv6).
        entry: usize,
    },
    /// Bytes follow the bencoded dictionary of a message that has none.
    #[error("{message}: {count} bytes after the dictionary")]
    TrailingBytes {
        /// Which message.
        message: &'static str,
        /// How many.
        count: usize,
    },
    /// A `ut_metadata` data message whose block has the wrong size for its piece.
    #[error(
        "ut_metadata piece {piece} has {len} bytes, expected {expected} (total_size {total_size})"
    )]
    MetadataPieceLength {
        /// The piece.
        piece: u32,
        /// Bytes received.
        len: usize,
        /// Bytes a piece of that index has.
        expected: usize,
        /// The total size the peer announced.
        total_size: u32,
    },
}

/// A well-formed message that breaks the rules: the peer is broken or hostile. The engine detects
/// most of these (it knows the torrent and the connection state); the helpers of this module
/// ([`crate::wire::validate_bitfield`], [`crate::wire::check_piece_index`]) detect the rest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    /// A piece index at or past the number of pieces.
    #[error("piece index {index} out of range (torrent has {num_pieces} pieces)")]
    PieceIndexOutOfRange {
        /// The index received.
        index: u32,
        /// Pieces in the torrent.
        num_pieces: u32,
    },
    /// A bitfield whose length is not `ceil(num_pieces / 8)`.
    #[error("bitfield of {len} bytes, expected {expected} for {num_pieces} pieces")]
    BitfieldLength {
        /// Bytes received.
        len: usize,
        /// Bytes expected.
        expected: usize,
        /// Pieces in the torrent.
        num_pieces: u32,
    },
    /// A bitfield with bits set past the last piece (BEP 3: spare bits must be zero).
    #[error("bitfield has spare bits set past piece {num_pieces}")]
    BitfieldSpareBits {
        /// Pieces in the torrent.
        num_pieces: u32,
    },
    /// A bitfield, have-all or have-none sent after other messages (BEP 3, BEP 6: only as the
    /// first message after the handshake).
    #[error("{name} sent after the first message")]
    LateBitfield {
        /// Which message.
        name: &'static str,
    },
    /// A request for more than [`crate::wire::BLOCK_LEN`] bytes, or for zero bytes.
    #[error("request of {length} bytes (valid: 1..={max})")]
    BadRequestLength {
        /// Bytes requested.
        length: u32,
        /// The largest block served.
        max: u32,
    },
    /// A request for a range past the end of the piece.
    #[error("request past the end of piece {index}: begin {begin} + length {length} > {piece_len}")]
    RequestPastEnd {
        /// The piece.
        index: u32,
        /// Offset in the piece.
        begin: u32,
        /// Bytes requested.
        length: u32,
        /// Length of the piece.
        piece_len: u32,
    },
    /// A block we never requested (or already received, or cancelled and then rejected).
    #[error("unrequested block: piece {index}, offset {begin}, {length} bytes")]
    UnrequestedBlock {
        /// The piece.
        index: u32,
        /// Offset in the piece.
        begin: u32,
        /// Bytes received.
        length: u32,
    },
    /// More outstanding requests than the request queue we announced (`reqq`) allows.
    #[error("{queued} requests outstanding, our queue holds {max}")]
    TooManyRequests {
        /// Requests outstanding.
        queued: usize,
        /// Our announced queue length.
        max: usize,
    },
    /// A message of an extension the peer did not negotiate, or of the fast extension (BEP 6)
    /// when either side did not set its reserved bit.
    #[error("{name} message without the extension being negotiated")]
    NotNegotiated {
        /// Which message.
        name: &'static str,
    },
    /// A `metadata_size` (BEP 9) above [`crate::wire::MAX_METADATA_SIZE`] or zero.
    #[error("metadata size {size} (valid: 1..={max})")]
    MetadataSize {
        /// The size announced.
        size: u64,
        /// The limit.
        max: u32,
    },
}
