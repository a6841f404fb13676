//! [`MagnetError`]: why a magnet link was refused.

use crate::HashParseError;

/// Why a magnet link could not be parsed. Each message names the parameter and (up to 80
/// characters of) the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MagnetError {
    /// The link is longer than [`MAX_MAGNET_LEN`](super::MAX_MAGNET_LEN).
    #[error("magnet link is {len} bytes long; the limit is {max} bytes")]
    TooLong {
        /// Length of the input in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The text does not start with `magnet:?`.
    #[error("not a magnet link (it must start with \"magnet:?\"): {text:?}")]
    NotMagnet {
        /// The start of the text.
        text: String,
    },
    /// No `xt` parameter at all.
    #[error("magnet link has no xt (exact topic) parameter, so it names no torrent")]
    MissingXt,
    /// `xt` parameters exist, but none is `urn:btih:` or `urn:btmh:`.
    #[error(
        "magnet link names no BitTorrent torrent: xt={value:?} is neither urn:btih: nor urn:btmh:"
    )]
    UnsupportedUrn {
        /// The first unsupported `xt` value.
        value: String,
    },
    /// `xt=urn:btih:` is not 40 hex digits or 32 base32 characters.
    #[error("bad v1 info-hash xt=urn:btih:{value}: {source}")]
    BadBtih {
        /// The text after `urn:btih:`.
        value: String,
        /// What is wrong with it (length or digits).
        source: HashParseError,
    },
    /// `xt=urn:btmh:` is a SHA-256 multihash of the wrong shape.
    #[error("bad v2 info-hash xt=urn:btmh:{value}: {reason}")]
    BadBtmh {
        /// The text after `urn:btmh:`.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `xt=urn:btmh:` uses a hash function other than SHA-256 (multihash code `0x12`).
    #[error(
        "unsupported multihash xt=urn:btmh:{value}: BitTorrent v2 uses SHA-256, written 1220 \
         followed by 64 hex digits"
    )]
    UnsupportedMultihash {
        /// The text after `urn:btmh:`.
        value: String,
    },
    /// The same parameter appears twice with different values (two v1 hashes, two v2 hashes,
    /// two lengths).
    #[error("magnet link has two different {param} values: {first} and {second}")]
    Conflicting {
        /// The parameter, e.g. `xt=urn:btih`.
        param: &'static str,
        /// The first value.
        first: String,
        /// The other value.
        second: String,
    },
    /// A `tr`, `ws`, `x.pe`, `xt`, `xl` or `so` value is not UTF-8 once percent-decoded.
    #[error("{param}={value} is not valid UTF-8 once percent-decoded")]
    BadUtf8 {
        /// The parameter name.
        param: &'static str,
        /// The raw (still encoded) value.
        value: String,
    },
    /// An `x.pe` value is not `host:port`, `a.b.c.d:port` or `[v6]:port` with a port 1-65535.
    #[error("bad peer address x.pe={value:?}: {reason}")]
    BadPeer {
        /// The decoded value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A BEP 53 `so` value is not a comma-separated list of indexes and ranges `a-b`.
    #[error("bad file selection so={value:?}: {reason}")]
    BadSelectOnly {
        /// The decoded value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `xl` is not a whole number of bytes that fits in 64 bits.
    #[error("bad exact length xl={value:?}: expected a whole number of bytes")]
    BadExactLength {
        /// The decoded value.
        value: String,
    },
    /// More values of one parameter than its `MAX_MAGNET_*` limit allows.
    #[error("magnet link has more than {max} {param} values")]
    TooMany {
        /// The parameter (`tr`, `ws`, `x.pe`, `so item`).
        param: &'static str,
        /// Its limit.
        max: usize,
    },
}
