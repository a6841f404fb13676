//! # ferrent-bencode
//!
//! Bencoding (BEP 3) for ferrent: the bottom layer of the workspace, used by `.torrent` files,
//! tracker replies, the extension protocol and the DHT. It depends on nothing but std.
//!
//! - **Zero-copy decoding** over `&[u8]`: byte strings in a [`Value`] borrow from the input, and
//!   every dictionary entry keeps the raw bytes its value came from ([`Dict::get_raw`]), so the
//!   info-hash is the SHA-1 of the exact `info` bytes of a file, canonical or not.
//! - **Strict by default** ([`Mode::Strict`]): `i-0e`, `i03e`, `i+1e`, `ie`, leading zeros in
//!   string lengths, lengths past the end, integers beyond `i64`, non-string keys, unsorted or
//!   duplicate keys and trailing bytes are errors. [`Mode::Lenient`] accepts the harmless ones
//!   (non-canonical integers, unsorted keys, trailing bytes) as [`Warning`]s, for v1 `.torrent`
//!   files that libtorrent also opens.
//! - **Explicit limits** ([`DecodeOptions`]: nesting depth, number of values, input size), checked
//!   before anything is allocated. Errors carry the byte offset ([`DecodeError`]).
//! - **Canonical encoding**: [`encode`] always sorts dictionary keys.
//!
//! ```
//! use ferrent_bencode::{decode, encode, ErrorKind};
//!
//! let v = decode(b"d4:spaml1:a1:bee").unwrap();
//! assert_eq!(encode(&v), b"d4:spaml1:a1:bee");
//!
//! let err = decode(b"i03e").unwrap_err();
//! assert_eq!(err.kind, ErrorKind::IntegerLeadingZero);
//! assert_eq!(err.offset, 0);
//! ```
#![deny(missing_docs)]

mod decode;
mod encode;
mod error;
mod value;

pub use decode::{
    DEFAULT_MAX_DEPTH, DEFAULT_MAX_INPUT, DEFAULT_MAX_ITEMS, DecodeOptions, Decoded, Mode, decode,
    decode_prefix, decode_with,
};
pub use encode::{encode, encode_into, encoded_len, write_bytes, write_int};
pub use error::{DecodeError, ErrorKind, Warning, WarningKind};
pub use value::{Dict, DictEntry, Value};
