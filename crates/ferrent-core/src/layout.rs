//! Piece and file geometry: which byte ranges of which files each piece covers.
//!
//! A torrent's files, in order, form one contiguous byte space that is cut into pieces of
//! [`Layout::piece_length`] bytes (the last piece may be shorter). BEP 47 pad files are part of
//! that space (they are files with [`LayoutFile::pad`] set: zeros that are hashed but never stored
//! or requested). For v2-only torrents the metainfo parser inserts the pad files that align every
//! file to a piece boundary, as libtorrent does, so v1, v2 and hybrid torrents share one geometry.
//!
//! Piece indexes are validated newtypes ([`PieceIndex`]), made only by [`Layout::piece`] (or the
//! explicitly unchecked [`PieceIndex::new_unchecked`]), so the accessors taking one cannot be out
//! of range for the layout that made it.

use std::ops::Range;

/// Largest piece length accepted, in bytes (2^29 = 512 MiB). mktorrent and qBittorrent stop at
/// 256 MiB and libtorrent's creator at 128 MiB; a piece is held in memory while it is hashed, so
/// a larger one is an allocation attack more than a real torrent.
pub const MAX_PIECE_LENGTH: u32 = 1 << 29;

/// Most pieces accepted (2^21, libtorrent's default `max_pieces`). With 20-byte SHA-1 hashes that is
/// a 40 MiB `pieces` string and with the largest pieces a 1 PiB torrent.
pub const MAX_PIECES: u32 = 1 << 21;

/// A piece index checked against a [`Layout`]: `index < num_pieces`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PieceIndex(u32);

impl PieceIndex {
    /// A piece index that was not checked against a layout. Methods of a [`Layout`] given an
    /// out-of-range index return empty or zero results, never panic.
    pub fn new_unchecked(index: u32) -> Self {
        PieceIndex(index)
    }

    /// The index as a number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for PieceIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One file of a [`Layout`]: where it sits in the torrent's byte space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutFile {
    /// Offset of the file's first byte in the torrent.
    pub offset: u64,
    /// Length in bytes (0 for empty files, which cover no piece).
    pub length: u64,
    /// A BEP 47 pad file: zeros, hashed but never written to disk nor requested from peers.
    pub pad: bool,
}

impl LayoutFile {
    /// The byte range of the file in the torrent.
    pub fn range(&self) -> Range<u64> {
        self.offset..self.offset + self.length
    }
}

/// Why a [`Layout`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// The piece length is 0.
    #[error("piece length is 0")]
    PieceLengthZero,
    /// The piece length is above [`MAX_PIECE_LENGTH`].
    #[error("piece length {length} is above the limit of {limit}")]
    PieceLengthTooLarge {
        /// The piece length.
        length: u64,
        /// [`MAX_PIECE_LENGTH`].
        limit: u32,
    },
    /// The file sizes add up to more than `u64::MAX`.
    #[error("total size overflows at file {file}")]
    TotalOverflow {
        /// Index of the file at which the sum overflowed.
        file: usize,
    },
    /// More pieces than [`MAX_PIECES`].
    #[error("{count} pieces is above the limit of {limit}")]
    TooManyPieces {
        /// The number of pieces.
        count: u64,
        /// [`MAX_PIECES`].
        limit: u32,
    },
}

/// The geometry of a torrent: piece length, files and their offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    piece_length: u32,
    total_length: u64,
    num_pieces: u32,
    files: Vec<LayoutFile>,
}

impl Layout {
    /// Builds the layout of files of the given `(length, is_pad)`, in order.
    pub fn new<I>(piece_length: u64, files: I) -> Result<Layout, LayoutError>
    where
        I: IntoIterator<Item = (u64, bool)>,
    {
        if piece_length == 0 {
            return Err(LayoutError::PieceLengthZero);
        }
        let piece_length = u32::try_from(piece_length)
            .ok()
            .filter(|&p| p <= MAX_PIECE_LENGTH)
            .ok_or(LayoutError::PieceLengthTooLarge {
                length: piece_length,
                limit: MAX_PIECE_LENGTH,
            })?;
        let mut total: u64 = 0;
        let mut out = Vec::new();
        for (i, (length, pad)) in files.into_iter().enumerate() {
            let offset = total;
            total = total
                .checked_add(length)
                .ok_or(LayoutError::TotalOverflow { file: i })?;
            out.push(LayoutFile {
                offset,
                length,
                pad,
            });
        }
        let count = total.div_ceil(u64::from(piece_length));
        let num_pieces = u32::try_from(count)
            .ok()
            .filter(|&n| n <= MAX_PIECES)
            .ok_or(LayoutError::TooManyPieces {
                count,
                limit: MAX_PIECES,
            })?;
        Ok(Layout {
            piece_length,
            total_length: total,
            num_pieces,
            files: out,
        })
    }

    /// Nominal piece length in bytes (every piece but the last has this size).
    pub fn piece_length(&self) -> u32 {
        self.piece_length
    }

    /// Total bytes in the torrent, pad files included.
    pub fn total_length(&self) -> u64 {
        self.total_length
    }

    /// Number of pieces: `ceil(total_length / piece_length)`.
    pub fn num_pieces(&self) -> u32 {
        self.num_pieces
    }

    /// The files, in torrent order (pad files included).
    pub fn files(&self) -> &[LayoutFile] {
        &self.files
    }

    /// The piece with this index, if it exists.
    pub fn piece(&self, index: u32) -> Option<PieceIndex> {
        (index < self.num_pieces).then_some(PieceIndex(index))
    }

    /// All pieces, in order.
    pub fn pieces(&self) -> impl ExactSizeIterator<Item = PieceIndex> + use<> {
        (0..self.num_pieces).map(PieceIndex)
    }

    /// Offset of the piece's first byte in the torrent.
    pub fn piece_offset(&self, piece: PieceIndex) -> u64 {
        u64::from(piece.0) * u64::from(self.piece_length)
    }

    /// Size of the piece: the piece length, except for the last piece (and 0 for an unchecked index
    /// past the end).
    pub fn piece_len(&self, piece: PieceIndex) -> u32 {
        let start = self.piece_offset(piece);
        let left = self.total_length.saturating_sub(start);
        // min() with a u32 fits in u32.
        u32::try_from(left.min(u64::from(self.piece_length))).unwrap_or(self.piece_length)
    }

    /// Size of the last piece (0 if the torrent is empty).
    pub fn last_piece_len(&self) -> u32 {
        match self.num_pieces.checked_sub(1) {
            Some(last) => self.piece_len(PieceIndex(last)),
            None => 0,
        }
    }

    /// The parts of files that make up `piece`, in order: their concatenation is exactly the
    /// piece's bytes. Empty files are skipped; pad files are included (see [`FileRange::pad`]).
    pub fn file_ranges(&self, piece: PieceIndex) -> FileRanges<'_> {
        let start = self.piece_offset(piece);
        let end = start + u64::from(self.piece_len(piece));
        // First file that ends after `start`.
        let first = self.files.partition_point(|f| f.offset + f.length <= start);
        FileRanges {
            files: &self.files,
            next: first,
            pos: start,
            end,
        }
    }

    /// The pieces that hold bytes of `file`: an empty range for empty files and unknown indexes.
    pub fn pieces_of_file(&self, file: usize) -> Range<u32> {
        let Some(f) = self.files.get(file) else {
            return 0..0;
        };
        if f.length == 0 {
            return 0..0;
        }
        let pl = u64::from(self.piece_length);
        let first = f.offset / pl;
        let last = (f.offset + f.length - 1) / pl;
        // Both are below num_pieces, which is a u32.
        let first = u32::try_from(first).unwrap_or(self.num_pieces);
        let last = u32::try_from(last).unwrap_or(self.num_pieces);
        first..last.saturating_add(1).min(self.num_pieces)
    }
}

/// One part of a piece that lies in one file; see [`Layout::file_ranges`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRange {
    /// Index of the file.
    pub file: usize,
    /// Offset of the part within the file.
    pub offset: u64,
    /// Length of the part (never 0).
    pub len: u32,
    /// Whether the file is a pad file (its bytes are zeros, not stored).
    pub pad: bool,
}

/// Iterator over the [`FileRange`]s of a piece; see [`Layout::file_ranges`].
#[derive(Debug, Clone)]
pub struct FileRanges<'a> {
    files: &'a [LayoutFile],
    next: usize,
    pos: u64,
    end: u64,
}

impl Iterator for FileRanges<'_> {
    type Item = FileRange;

    fn next(&mut self) -> Option<FileRange> {
        while self.pos < self.end {
            let index = self.next;
            let f = self.files.get(index)?;
            self.next += 1;
            let file_end = f.offset + f.length;
            if file_end <= self.pos {
                continue; // empty file at this offset
            }
            let stop = file_end.min(self.end);
            let offset = self.pos - f.offset;
            // stop - pos <= piece length, a u32.
            let len = u32::try_from(stop - self.pos).ok()?;
            self.pos = stop;
            return Some(FileRange {
                file: index,
                offset,
                len,
                pad: f.pad,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn layout(pl: u64, sizes: &[u64]) -> Layout {
        Layout::new(pl, sizes.iter().map(|&s| (s, false))).unwrap()
    }

    #[test]
    fn single_file_geometry() {
        let l = layout(16384, &[40000]);
        assert_eq!(l.num_pieces(), 3);
        assert_eq!(l.total_length(), 40000);
        assert_eq!(l.last_piece_len(), 40000 - 2 * 16384);
        assert_eq!(l.piece_len(l.piece(0).unwrap()), 16384);
        assert_eq!(l.piece(3), None);
        let r: Vec<_> = l.file_ranges(l.piece(2).unwrap()).collect();
        assert_eq!(
            r,
            [FileRange {
                file: 0,
                offset: 32768,
                len: 7232,
                pad: false
            }]
        );
        assert_eq!(l.pieces_of_file(0), 0..3);
    }

    #[test]
    fn exact_multiple_has_a_full_last_piece() {
        let l = layout(4, &[8]);
        assert_eq!(l.num_pieces(), 2);
        assert_eq!(l.last_piece_len(), 4);
    }

    #[test]
    fn pieces_span_files_and_skip_empty_ones() {
        // files: 3 bytes, 0 bytes, 5 bytes, 0 bytes, 2 bytes; piece length 4
        let l = layout(4, &[3, 0, 5, 0, 2]);
        assert_eq!(l.num_pieces(), 3);
        let p0: Vec<_> = l
            .file_ranges(l.piece(0).unwrap())
            .map(|r| (r.file, r.offset, r.len))
            .collect();
        assert_eq!(p0, [(0, 0, 3), (2, 0, 1)]);
        let p1: Vec<_> = l
            .file_ranges(l.piece(1).unwrap())
            .map(|r| (r.file, r.offset, r.len))
            .collect();
        assert_eq!(p1, [(2, 1, 4)]);
        let p2: Vec<_> = l
            .file_ranges(l.piece(2).unwrap())
            .map(|r| (r.file, r.offset, r.len))
            .collect();
        assert_eq!(p2, [(4, 0, 2)]);
        assert_eq!(l.pieces_of_file(0), 0..1);
        assert_eq!(l.pieces_of_file(1), 0..0);
        assert_eq!(l.pieces_of_file(2), 0..2);
        assert_eq!(l.pieces_of_file(4), 2..3);
        assert_eq!(l.pieces_of_file(99), 0..0);
    }

    #[test]
    fn pad_files_are_flagged() {
        let l = Layout::new(4, [(3, false), (1, true), (4, false)]).unwrap();
        let r: Vec<_> = l.file_ranges(l.piece(0).unwrap()).collect();
        assert_eq!(r.len(), 2);
        assert!(!r[0].pad && r[1].pad);
        assert!(l.files()[1].pad);
    }

    #[test]
    fn errors() {
        assert_eq!(
            Layout::new(0, [(1, false)]),
            Err(LayoutError::PieceLengthZero)
        );
        assert!(matches!(
            Layout::new(u64::from(MAX_PIECE_LENGTH) + 1, [(1, false)]),
            Err(LayoutError::PieceLengthTooLarge { .. })
        ));
        assert_eq!(
            Layout::new(16384, [(u64::MAX, false), (1, false)]),
            Err(LayoutError::TotalOverflow { file: 1 })
        );
        assert!(matches!(
            Layout::new(1, [(u64::from(MAX_PIECES) + 1, false)]),
            Err(LayoutError::TooManyPieces { .. })
        ));
        assert_eq!(
            Layout::new(1, [(u64::from(MAX_PIECES), false)])
                .unwrap()
                .num_pieces(),
            MAX_PIECES
        );
    }

    #[test]
    fn empty_layout_and_unchecked_indexes_do_not_panic() {
        let l = layout(16, &[]);
        assert_eq!(l.num_pieces(), 0);
        assert_eq!(l.last_piece_len(), 0);
        let far = PieceIndex::new_unchecked(u32::MAX);
        assert_eq!(l.piece_len(far), 0);
        assert_eq!(l.file_ranges(far).count(), 0);
        let l = layout(16, &[100]);
        assert_eq!(l.file_ranges(far).count(), 0);
    }

    proptest! {
        #[test]
        fn ranges_cover_every_byte_exactly_once(
            pl in 1u64..64,
            files in proptest::collection::vec((0u64..200, any::<bool>()), 0..12),
        ) {
            let l = Layout::new(pl, files.iter().copied()).unwrap();
            let total: u64 = files.iter().map(|f| f.0).sum();
            prop_assert_eq!(l.total_length(), total);
            prop_assert_eq!(u64::from(l.num_pieces()), total.div_ceil(pl));
            // seen[file][byte] counts how often each byte was covered.
            let mut seen: Vec<Vec<u8>> = files.iter().map(|f| vec![0; f.0 as usize]).collect();
            let mut piece_bytes = 0u64;
            for p in l.pieces() {
                let mut sum = 0u64;
                for r in l.file_ranges(p) {
                    prop_assert!(r.len > 0);
                    prop_assert_eq!(r.pad, files[r.file].1);
                    prop_assert!(l.pieces_of_file(r.file).contains(&p.get()));
                    for b in r.offset..r.offset + u64::from(r.len) {
                        seen[r.file][b as usize] += 1;
                    }
                    sum += u64::from(r.len);
                }
                prop_assert_eq!(sum, u64::from(l.piece_len(p)));
                piece_bytes += sum;
            }
            prop_assert_eq!(piece_bytes, total);
            for (i, s) in seen.iter().enumerate() {
                prop_assert!(s.iter().all(|&c| c == 1), "file {} not covered exactly once", i);
                // pieces_of_file is exactly the pieces whose ranges touch the file.
                let touching: Vec<u32> = l.pieces().filter(|&p| l.file_ranges(p).any(|r| r.file == i)).map(PieceIndex::get).collect();
                let expected: Vec<u32> = l.pieces_of_file(i).collect();
                prop_assert_eq!(touching, expected);
            }
        }
    }
}
