//! [`Bitfield`]: which pieces a peer (or we) have, in the wire layout of BEP 3.

use std::fmt;

/// One bit per piece, most significant bit of the first byte = piece 0 (BEP 3 `bitfield`
/// message). The spare bits of the last byte are always zero.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
    ones: u32,
}

/// Why bytes from a peer or a resume file are not a valid bitfield for the torrent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BitfieldError {
    /// The byte length is not ceil(pieces / 8).
    #[error("bitfield has {got} bytes, expected {expected} for {pieces} pieces")]
    WrongLength {
        /// Bytes received.
        got: usize,
        /// Bytes expected.
        expected: usize,
        /// Pieces in the torrent.
        pieces: u32,
    },
    /// A bit past the last piece is set (BEP 3: spare bits must be cleared).
    #[error("bitfield sets spare bits past piece {pieces}")]
    SpareBitsSet {
        /// Pieces in the torrent.
        pieces: u32,
    },
}

impl Bitfield {
    /// All bits clear.
    pub fn new(len: u32) -> Self {
        Bitfield {
            bytes: vec![0; Self::byte_len(len)],
            len,
            ones: 0,
        }
    }

    /// All bits set.
    pub fn full(len: u32) -> Self {
        let mut b = Bitfield {
            bytes: vec![0xff; Self::byte_len(len)],
            len,
            ones: len,
        };
        b.clear_spare();
        b
    }

    /// Bytes needed for `len` bits.
    pub fn byte_len(len: u32) -> usize {
        (len as usize).div_ceil(8)
    }

    /// From wire bytes, checking the length and that spare bits are clear.
    pub fn from_bytes(bytes: &[u8], len: u32) -> Result<Self, BitfieldError> {
        let expected = Self::byte_len(len);
        if bytes.len() != expected {
            return Err(BitfieldError::WrongLength {
                got: bytes.len(),
                expected,
                pieces: len,
            });
        }
        let mut b = Bitfield {
            bytes: bytes.to_vec(),
            len,
            ones: 0,
        };
        let before: u32 = b.bytes.last().map_or(0, |x| x.count_ones());
        b.clear_spare();
        if b.bytes.last().map_or(0, |x| x.count_ones()) != before {
            return Err(BitfieldError::SpareBitsSet { pieces: len });
        }
        b.ones = b.bytes.iter().map(|x| x.count_ones()).sum();
        Ok(b)
    }

    fn clear_spare(&mut self) {
        let rem = self.len % 8;
        if rem != 0 {
            if let Some(last) = self.bytes.last_mut() {
                *last &= 0xffu8 << (8 - rem);
            }
        }
    }

    /// Number of bits.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether there are no bits at all (a torrent has at least one piece, so rarely true).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether bit `i` is set (false when out of range).
    pub fn get(&self, i: u32) -> bool {
        i < self.len
            && self
                .bytes
                .get((i / 8) as usize)
                .is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
    }

    /// Sets or clears bit `i`; returns whether it changed. Out of range: no change.
    pub fn set(&mut self, i: u32, value: bool) -> bool {
        if i >= self.len {
            return false;
        }
        let Some(byte) = self.bytes.get_mut((i / 8) as usize) else {
            return false;
        };
        let mask = 0x80 >> (i % 8);
        let was = *byte & mask != 0;
        if was == value {
            return false;
        }
        if value {
            *byte |= mask;
            self.ones += 1;
        } else {
            *byte &= !mask;
            self.ones -= 1;
        }
        true
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> u32 {
        self.ones
    }

    /// Whether every bit is set.
    pub fn all(&self) -> bool {
        self.ones == self.len
    }

    /// Indexes of the set bits, ascending.
    pub fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len).filter(|&i| self.get(i))
    }

    /// The wire bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bitfield({}/{})", self.ones, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_layout_is_msb_first() {
        let mut b = Bitfield::new(10);
        assert!(b.set(0, true));
        assert!(b.set(9, true));
        assert!(!b.set(9, true));
        assert_eq!(b.as_bytes(), &[0x80, 0x40]);
        assert_eq!(b.count_ones(), 2);
        assert_eq!(b.ones().collect::<Vec<_>>(), vec![0, 9]);
        assert!(!b.get(10));
        assert!(!b.set(10, true));
    }

    #[test]
    fn from_bytes_checks_length_and_spare_bits() {
        assert_eq!(
            Bitfield::from_bytes(&[0xff], 10),
            Err(BitfieldError::WrongLength {
                got: 1,
                expected: 2,
                pieces: 10
            })
        );
        assert_eq!(
            Bitfield::from_bytes(&[0xff, 0xe0], 10),
            Err(BitfieldError::SpareBitsSet { pieces: 10 })
        );
        let b = Bitfield::from_bytes(&[0xff, 0xc0], 10).unwrap();
        assert!(b.all());
        assert_eq!(b, Bitfield::full(10));
    }
}
