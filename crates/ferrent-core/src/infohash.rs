//! Fixed-size hashes and ids: [`Id20`] (SHA-1 info-hashes, peer ids, DHT node ids), [`Id32`]
//! (SHA-256 v2 info-hashes) and [`InfoHash`], the v1 and/or v2 identity of a torrent.

use std::fmt;
use std::str::FromStr;

use data_encoding::{BASE32, HEXLOWER_PERMISSIVE};

/// A 20-byte identifier: a v1 info-hash (SHA-1 of the bencoded info dictionary, BEP 3), a peer
/// id, or a DHT node id (BEP 5).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Id20(pub [u8; 20]);

/// A 32-byte identifier: a v2 info-hash (SHA-256 of the bencoded info dictionary, BEP 52).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Id32(pub [u8; 32]);

/// Why a hash could not be read from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashParseError {
    /// The text has neither the hex nor the base32 length of the hash.
    #[error("hash {text:?} has {len} characters; expected {hex} (hex) or {base32} (base32)")]
    BadLength {
        /// The text (shortened).
        text: String,
        /// Its length.
        len: usize,
        /// Expected hex length.
        hex: usize,
        /// Expected base32 length (0 where base32 is not used).
        base32: usize,
    },
    /// The text has the right length but a character outside the alphabet.
    #[error("hash {text:?} is not valid {encoding}")]
    BadDigit {
        /// The text (shortened).
        text: String,
        /// "hex" or "base32".
        encoding: &'static str,
    },
}

fn shorten(s: &str) -> String {
    s.chars().take(80).collect()
}

macro_rules! impl_id {
    ($ty:ident, $n:expr) => {
        impl $ty {
            /// Number of bytes.
            pub const LEN: usize = $n;

            /// The id from a byte slice of exactly the right length.
            pub fn from_slice(b: &[u8]) -> Option<Self> {
                <[u8; $n]>::try_from(b).ok().map($ty)
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $n] {
                &self.0
            }

            /// Lower-case hex.
            pub fn to_hex(&self) -> String {
                data_encoding::HEXLOWER.encode(&self.0)
            }

            /// Upper-case RFC 4648 base32 without padding (the 32-character form of v1 magnets).
            pub fn to_base32(&self) -> String {
                data_encoding::BASE32_NOPAD.encode(&self.0)
            }

            /// Parses hex (either case).
            pub fn from_hex(s: &str) -> Result<Self, HashParseError> {
                if s.len() != 2 * $n {
                    return Err(HashParseError::BadLength {
                        text: shorten(s),
                        len: s.len(),
                        hex: 2 * $n,
                        base32: 0,
                    });
                }
                let v = HEXLOWER_PERMISSIVE.decode(s.as_bytes()).map_err(|_| {
                    HashParseError::BadDigit {
                        text: shorten(s),
                        encoding: "hex",
                    }
                })?;
                Self::from_slice(&v).ok_or(HashParseError::BadDigit {
                    text: shorten(s),
                    encoding: "hex",
                })
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($ty), self.to_hex())
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
    };
}

impl_id!(Id20, 20);
impl_id!(Id32, 32);

impl Id20 {
    /// Parses 40 hex digits or 32 base32 characters (both forms appear in `xt=urn:btih:`).
    pub fn from_hex_or_base32(s: &str) -> Result<Self, HashParseError> {
        match s.len() {
            40 => Self::from_hex(s),
            32 => {
                let upper = s.to_ascii_uppercase();
                let bad = || HashParseError::BadDigit {
                    text: shorten(s),
                    encoding: "base32",
                };
                // 32 base32 characters are exactly 20 bytes, so no padding is involved.
                let v = BASE32.decode(upper.as_bytes()).map_err(|_| bad())?;
                Self::from_slice(&v).ok_or_else(bad)
            }
            len => Err(HashParseError::BadLength {
                text: shorten(s),
                len,
                hex: 40,
                base32: 32,
            }),
        }
    }
}

impl FromStr for Id20 {
    type Err = HashParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex_or_base32(s)
    }
}

impl FromStr for Id32 {
    type Err = HashParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

/// The identity of a torrent: its v1 info-hash, its v2 info-hash, or both (a hybrid, BEP 52).
/// At least one is always present.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct InfoHash {
    v1: Option<Id20>,
    v2: Option<Id32>,
}

impl InfoHash {
    /// A v1-only torrent.
    pub fn v1(h: Id20) -> Self {
        InfoHash {
            v1: Some(h),
            v2: None,
        }
    }

    /// A v2-only torrent.
    pub fn v2(h: Id32) -> Self {
        InfoHash {
            v1: None,
            v2: Some(h),
        }
    }

    /// A hybrid torrent.
    pub fn hybrid(v1: Id20, v2: Id32) -> Self {
        InfoHash {
            v1: Some(v1),
            v2: Some(v2),
        }
    }

    /// From optional parts; `None` when both are missing.
    pub fn from_parts(v1: Option<Id20>, v2: Option<Id32>) -> Option<Self> {
        (v1.is_some() || v2.is_some()).then_some(InfoHash { v1, v2 })
    }

    /// The v1 (SHA-1) info-hash, if the torrent has one.
    pub fn v1_hash(&self) -> Option<Id20> {
        self.v1
    }

    /// The v2 (SHA-256) info-hash, if the torrent has one.
    pub fn v2_hash(&self) -> Option<Id32> {
        self.v2
    }

    /// The 20 bytes used on the wire and at trackers: the v1 hash, or for v2-only torrents the v2
    /// hash truncated to 20 bytes (BEP 52).
    pub fn wire_id(&self) -> Id20 {
        match (self.v1, self.v2) {
            (Some(v1), _) => v1,
            (None, Some(v2)) => {
                let mut b = [0u8; 20];
                b.copy_from_slice(&v2.0[..20]);
                Id20(b)
            }
            // Unreachable by construction: every constructor sets at least one.
            (None, None) => Id20::default(),
        }
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash(")?;
        if let Some(v1) = self.v1 {
            write!(f, "v1={v1}")?;
        }
        if let Some(v2) = self.v2 {
            write!(f, "{}v2={v2}", if self.v1.is_some() { " " } else { "" })?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base32_agree() {
        let h = Id20::from_hex("c12fe1c06bba254a9dc9f519b335aa7c1367a88a").unwrap();
        let b32 = h.to_base32();
        assert_eq!(b32.len(), 32);
        assert_eq!(Id20::from_hex_or_base32(&b32).unwrap(), h);
        assert_eq!(Id20::from_hex_or_base32(&b32.to_lowercase()).unwrap(), h);
        assert_eq!(
            Id20::from_hex("C12FE1C06BBA254A9DC9F519B335AA7C1367A88A").unwrap(),
            h
        );
    }

    #[test]
    fn bad_lengths_and_digits_are_errors() {
        assert!(matches!(
            Id20::from_hex_or_base32("abc"),
            Err(HashParseError::BadLength { .. })
        ));
        let bad = "z".repeat(40);
        assert!(matches!(
            Id20::from_hex(&bad),
            Err(HashParseError::BadDigit { .. })
        ));
        let bad32 = "1".repeat(32); // '1' is not in the base32 alphabet
        assert!(matches!(
            Id20::from_hex_or_base32(&bad32),
            Err(HashParseError::BadDigit { .. })
        ));
    }

    #[test]
    fn v2_wire_id_is_truncated() {
        let mut b = [0u8; 32];
        b.iter_mut().enumerate().for_each(|(i, x)| *x = i as u8);
        let ih = InfoHash::v2(Id32(b));
        assert_eq!(ih.wire_id().0[..], b[..20]);
    }
}
