//! Why a KRPC datagram could not be decoded.

use ferrent_bencode::DecodeError;

/// A datagram that is not a valid KRPC message, with as much of its envelope as could be read so
/// a node can still answer a broken query with a protocol error (BEP 5 error 203).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct KrpcError {
    /// The transaction id, if the message had a readable `t`.
    pub transaction_id: Option<Vec<u8>>,
    /// Whether the message said it was a query (`y` = `q`): only queries deserve an error reply.
    pub is_query: bool,
    /// What was wrong.
    pub kind: KrpcErrorKind,
}

/// The classes of broken KRPC messages, each with the field and limit involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KrpcErrorKind {
    /// The datagram is larger than [`super::MAX_PACKET_SIZE`].
    #[error("datagram is {len} bytes; the limit is {max}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not (strict) bencode.
    #[error("not valid bencode: {0}")]
    Bencode(#[from] DecodeError),
    /// The top-level value, or a field that must be a dictionary, is something else.
    #[error("field {field} must be a {expected}")]
    WrongType {
        /// The field (`message` for the top level).
        field: &'static str,
        /// The type it must have.
        expected: &'static str,
    },
    /// A required field is absent.
    #[error("missing field {field}")]
    MissingField {
        /// The field.
        field: &'static str,
    },
    /// A byte-string field has a length outside what is allowed.
    #[error("field {field} is {len} bytes; {expected}")]
    BadLength {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// What is allowed, in words.
        expected: &'static str,
    },
    /// `y` is not `q`, `r` or `e`.
    #[error("unknown message type {y:?}")]
    UnknownType {
        /// The `y` value (truncated to 8 bytes).
        y: Vec<u8>,
    },
    /// More than [`super::MAX_NODES`] compact nodes, or [`super::MAX_VALUES`] peers.
    #[error("{count} entries in {field}; the limit is {max}")]
    TooMany {
        /// The field.
        field: &'static str,
        /// How many there were.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An integer field is out of its range (a port above 65535, a negative error code...).
    #[error("field {field} is out of range: {value}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value.
        value: i64,
    },
}
