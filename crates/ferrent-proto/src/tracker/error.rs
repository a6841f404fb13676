//! The error type shared by the tracker codecs.

/// Why a tracker request or reply could not be encoded or decoded. Each variant says what was
/// wrong and, where it helps, which parameter or field and what limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrackerError {
    /// The HTTP query string is longer than [`super::MAX_QUERY_LEN`].
    #[error("query string is {len} bytes; the limit is {max}")]
    QueryTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A `%` escape in the query is not followed by two hex digits.
    #[error("bad percent-encoding at byte {offset} of parameter {name:?}")]
    BadPercentEncoding {
        /// The parameter (as far as it could be read).
        name: String,
        /// Byte offset in the parameter's value.
        offset: usize,
    },
    /// A required query parameter is absent.
    #[error("missing parameter {name}")]
    MissingParam {
        /// The parameter.
        name: &'static str,
    },
    /// A parameter that may appear once appeared several times.
    #[error("parameter {name} given more than once")]
    DuplicateParam {
        /// The parameter.
        name: &'static str,
    },
    /// A binary parameter has the wrong length (e.g. an `info_hash` that is not 20 bytes).
    #[error("parameter {name} is {len} bytes; expected {expected}")]
    BadLength {
        /// The parameter.
        name: &'static str,
        /// Its length after percent-decoding.
        len: usize,
        /// The required length.
        expected: usize,
    },
    /// A parameter's value is not valid (not a number, out of range, unknown event...).
    #[error("parameter {name} is invalid: {reason}")]
    BadParam {
        /// The parameter.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// More info-hashes than [`super::MAX_SCRAPE_HASHES`] in one scrape.
    #[error("{count} info-hashes in one scrape; the limit is {max}")]
    TooManyInfoHashes {
        /// How many were given (at least).
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An HTTP reply is larger than [`super::MAX_HTTP_RESPONSE_LEN`].
    #[error("tracker reply is {len} bytes; the limit is {max}")]
    ResponseTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An HTTP reply is not valid bencode.
    #[error("tracker reply is not valid bencode: {0}")]
    Bencode(#[from] ferrent_bencode::DecodeError),
    /// An HTTP reply is not a dictionary.
    #[error("tracker reply is a {found}, not a dictionary")]
    NotADict {
        /// The type found.
        found: &'static str,
    },
    /// A required field of a reply is absent.
    #[error("tracker reply lacks {name:?}")]
    MissingField {
        /// The field.
        name: &'static str,
    },
    /// A field of a reply has the wrong type or an out-of-range value.
    #[error("tracker reply field {name:?} is invalid: {reason}")]
    BadField {
        /// The field.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A compact peer list's length is not a multiple of the entry size.
    #[error("compact {name:?} is {len} bytes, not a multiple of {unit}")]
    BadCompactPeers {
        /// `peers` or `peers6` (or `udp announce` for BEP 15).
        name: &'static str,
        /// Its length.
        len: usize,
        /// 6 (IPv4) or 18 (IPv6).
        unit: usize,
    },
    /// A reply lists more peers than [`super::MAX_PEERS_PER_REPLY`].
    #[error("tracker reply lists {count} peers; the limit is {max}")]
    TooManyPeers {
        /// How many (at least).
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A UDP packet is shorter than its action requires.
    #[error("udp {what} packet is {len} bytes; it needs at least {min}")]
    PacketTooShort {
        /// Which packet.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// A UDP packet is longer than [`super::MAX_UDP_PACKET`] or than its action allows.
    #[error("udp {what} packet is {len} bytes; the limit is {max}")]
    PacketTooLong {
        /// Which packet.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A UDP connect request without the BEP 15 protocol id.
    #[error("udp connect request has protocol id {found:#x}, not 0x41727101980")]
    BadProtocolId {
        /// The id found.
        found: u64,
    },
    /// A UDP packet with an action this codec does not know.
    #[error("udp packet has unknown action {action}")]
    UnknownAction {
        /// The action.
        action: u32,
    },
    /// A UDP announce with an event code outside 0..=3.
    #[error("udp announce has unknown event {event}")]
    UnknownEvent {
        /// The code.
        event: u32,
    },
}
