//! A fixed-length bit set, one bit per piece.
//!
//! ferrent-core will grow a wire-level `Bitfield`; this one is the picker's private, compact store
//! (`u64` words, no per-bit allocation, never resized after creation).

/// A fixed-length set of bits indexed `0..len`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bitset {
    words: Vec<u64>,
    len: u32,
}

impl Bitset {
    /// All bits clear.
    pub(crate) fn new(len: u32) -> Self {
        Bitset {
            words: vec![0; (len as usize).div_ceil(64)],
            len,
        }
    }

    /// Whether bit `i` is set; `false` when out of range.
    pub(crate) fn get(&self, i: u32) -> bool {
        self.words
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Sets bit `i`; returns whether it was clear before. Out of range is a no-op returning `false`.
    pub(crate) fn set(&mut self, i: u32) -> bool {
        if i >= self.len {
            return false;
        }
        match self.words.get_mut((i / 64) as usize) {
            Some(w) => {
                let mask = 1 << (i % 64);
                let was_clear = *w & mask == 0;
                *w |= mask;
                was_clear
            }
            None => false,
        }
    }

    /// Iterates the indexes of the set bits, ascending.
    pub(crate) fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros();
                w &= w - 1;
                Some(wi as u32 * 64 + bit)
            })
        })
    }

    /// Reads a BEP 3 bitfield payload (high bit of the first byte is piece 0). The caller has
    /// checked the length; spare bits past `len` are ignored here (the caller rejects them).
    pub(crate) fn from_wire(len: u32, bytes: &[u8]) -> Self {
        let mut set = Bitset::new(len);
        for (byte_index, &byte) in bytes.iter().enumerate() {
            for bit in 0..8u32 {
                if byte & (0x80 >> bit) != 0 {
                    set.set(byte_index as u32 * 8 + bit);
                }
            }
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_count_iterate() {
        let mut b = Bitset::new(130);
        assert!(b.set(0));
        assert!(!b.set(0));
        assert!(b.set(64));
        assert!(b.set(129));
        assert!(!b.set(130));
        assert!(b.get(64) && !b.get(65) && !b.get(1000));
        assert_eq!(b.ones().collect::<Vec<_>>(), vec![0, 64, 129]);
    }

    #[test]
    fn wire_order_is_msb_first() {
        let b = Bitset::from_wire(10, &[0b1000_0001, 0b0100_0000]);
        assert_eq!(b.ones().collect::<Vec<_>>(), vec![0, 7, 9]);
    }
}
