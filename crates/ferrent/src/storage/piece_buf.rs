//! [`PieceBuf`]: the buffer a downloading piece is assembled in, aligned so that
//! [`Storage::write_piece`](super::Storage::write_piece) can hand it to the disk with `O_DIRECT`
//! (no copy into the page cache; see `docs/block-path.md`, step 8).

/// Alignment of [`PieceBuf`] memory, and the unit `O_DIRECT` writes are cut to: the page size,
/// which is a multiple of every logical block size Linux file systems use.
pub const DIRECT_ALIGN: usize = 4096;

/// A byte buffer whose first byte sits on a [`DIRECT_ALIGN`] boundary.
///
/// Made without `unsafe`: it over-allocates a `Vec` by `DIRECT_ALIGN - 1` bytes and starts at
/// the first aligned address inside it. A `Vec`'s heap memory does not move when the `Vec` is
/// moved, so the start stays aligned for the buffer's life. The bytes of a new buffer are zero;
/// a buffer cut shorter with [`PieceBuf::set_len`] and grown back keeps its old bytes.
#[derive(Default)]
pub struct PieceBuf {
    raw: Vec<u8>,
    start: usize,
    len: usize,
}

impl PieceBuf {
    /// A zeroed buffer of `len` bytes (the memory comes from `calloc`: untouched pages cost
    /// nothing until written).
    pub fn zeroed(len: usize) -> PieceBuf {
        let raw = vec![0u8; len.saturating_add(DIRECT_ALIGN - 1)];
        let start = raw
            .as_ptr()
            .align_offset(DIRECT_ALIGN)
            .min(DIRECT_ALIGN - 1);
        PieceBuf { raw, start, len }
    }

    /// An aligned copy of `bytes`.
    pub fn copy_of(bytes: &[u8]) -> PieceBuf {
        let mut b = PieceBuf::zeroed(bytes.len());
        b.copy_from_slice(bytes);
        b
    }

    /// Bytes the buffer can hold without allocating.
    pub fn capacity(&self) -> usize {
        self.raw.len().saturating_sub(self.start)
    }

    /// Makes the buffer `len` bytes long. Within [`PieceBuf::capacity`] nothing is allocated
    /// or cleared (the bytes are whatever was there); beyond it the buffer is replaced by a
    /// zeroed one.
    pub fn set_len(&mut self, len: usize) {
        if len <= self.capacity() {
            self.len = len;
        } else {
            *self = PieceBuf::zeroed(len);
        }
    }
}

impl std::ops::Deref for PieceBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.raw
            .get(self.start..self.start + self.len)
            .unwrap_or_default()
    }
}

impl std::ops::DerefMut for PieceBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.raw
            .get_mut(self.start..self.start + self.len)
            .unwrap_or_default()
    }
}

/// A clone is a new aligned buffer (a cloned `Vec` would land at another address, and the
/// start offset would no longer be aligned).
impl Clone for PieceBuf {
    fn clone(&self) -> PieceBuf {
        PieceBuf::copy_of(self)
    }
}

impl PartialEq for PieceBuf {
    fn eq(&self, other: &PieceBuf) -> bool {
        **self == **other
    }
}

impl Eq for PieceBuf {}

impl std::fmt::Debug for PieceBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PieceBuf({} bytes)", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_at_every_length_and_after_set_len() {
        for len in [0, 1, 4095, 4096, 16 * 1024 + 3, 1 << 20] {
            let mut b = PieceBuf::zeroed(len);
            assert_eq!(b.len(), len);
            assert_eq!(b.as_ptr().align_offset(DIRECT_ALIGN), 0, "len {len}");
            assert!(b.iter().all(|&x| x == 0));
            b.fill(7);
            b.set_len(len / 2);
            assert_eq!(b.len(), len / 2);
            assert_eq!(b.as_ptr().align_offset(DIRECT_ALIGN), 0);
            b.set_len(len);
            assert!(b.iter().all(|&x| x == 7), "kept its bytes");
            b.set_len(len + DIRECT_ALIGN);
            assert_eq!(b.len(), len + DIRECT_ALIGN);
            assert_eq!(b.as_ptr().align_offset(DIRECT_ALIGN), 0);
        }
    }

    #[test]
    fn clone_and_copy_compare_by_content() {
        let a = PieceBuf::copy_of(b"abcdef");
        let c = a.clone();
        assert_eq!(&*c, b"abcdef");
        assert_eq!(a, c);
        assert_eq!(c.as_ptr().align_offset(DIRECT_ALIGN), 0);
        assert_ne!(a, PieceBuf::copy_of(b"abcdeg"));
    }
}
