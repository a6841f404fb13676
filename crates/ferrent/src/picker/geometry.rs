//! Piece and block geometry: how a torrent's bytes split into pieces and 16 KiB blocks.
//!
//! `ferrent-core` is growing the real `Layout` (files, piece ranges, `PieceIndex`); until the engine
//! wires it in, the picker takes this minimal, validated geometry. Building one from a layout is
//! `PieceGeometry::new(layout.num_pieces(), layout.piece_length(), layout.total_length())`.

use super::PickerError;

/// The block size every request uses (BEP 3 practice; peers may refuse larger requests). The last
/// block of the last piece is shorter.
pub const BLOCK_SIZE: u32 = 16 * 1024;

/// The number of pieces, their length and the total length, checked against each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PieceGeometry {
    num_pieces: u32,
    piece_length: u32,
    total_length: u64,
}

impl PieceGeometry {
    /// Checks that `num_pieces == ceil(total_length / piece_length)` and that `piece_length > 0`.
    /// An empty torrent (0 bytes, 0 pieces) is allowed.
    pub fn new(num_pieces: u32, piece_length: u32, total_length: u64) -> Result<Self, PickerError> {
        let expected = if piece_length == 0 {
            None
        } else {
            Some(total_length.div_ceil(u64::from(piece_length)))
        };
        if expected != Some(u64::from(num_pieces)) {
            return Err(PickerError::InvalidGeometry {
                num_pieces,
                piece_length,
                total_length,
            });
        }
        Ok(PieceGeometry {
            num_pieces,
            piece_length,
            total_length,
        })
    }

    /// Number of pieces.
    pub fn num_pieces(&self) -> u32 {
        self.num_pieces
    }

    /// Nominal piece length (every piece but possibly the last).
    pub fn piece_length(&self) -> u32 {
        self.piece_length
    }

    /// Total length in bytes.
    pub fn total_length(&self) -> u64 {
        self.total_length
    }

    /// Length of piece `piece` (0 when out of range).
    pub fn piece_len(&self, piece: u32) -> u32 {
        if piece >= self.num_pieces {
            return 0;
        }
        let start = u64::from(piece) * u64::from(self.piece_length);
        // In range: start < total_length, and the difference fits in u32 (capped by piece_length).
        (self.total_length - start).min(u64::from(self.piece_length)) as u32
    }

    /// Number of blocks in piece `piece` (0 when out of range).
    pub fn blocks_in_piece(&self, piece: u32) -> u32 {
        self.piece_len(piece).div_ceil(BLOCK_SIZE)
    }

    /// Length of block `block` of piece `piece` (0 when either is out of range).
    pub fn block_len(&self, piece: u32, block: u32) -> u32 {
        let piece_len = self.piece_len(piece);
        let start = u64::from(block) * u64::from(BLOCK_SIZE);
        if start >= u64::from(piece_len) {
            return 0;
        }
        (piece_len - block * BLOCK_SIZE).min(BLOCK_SIZE)
    }

    /// The request for block `block` of piece `piece`.
    pub(crate) fn request(&self, piece: u32, block: u32) -> BlockRequest {
        BlockRequest {
            piece,
            offset: block * BLOCK_SIZE,
            len: self.block_len(piece, block),
        }
    }

    /// The block index of `req` if it names exactly one whole block of an existing piece.
    pub(crate) fn block_of(&self, req: BlockRequest) -> Option<u32> {
        if req.piece >= self.num_pieces || !req.offset.is_multiple_of(BLOCK_SIZE) {
            return None;
        }
        let block = req.offset / BLOCK_SIZE;
        let len = self.block_len(req.piece, block);
        (len != 0 && len == req.len).then_some(block)
    }
}

/// One block request as it goes on the wire (`request`/`cancel`/`reject`) and comes back (`piece`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockRequest {
    /// Piece index.
    pub piece: u32,
    /// Byte offset inside the piece (a multiple of [`BLOCK_SIZE`]).
    pub offset: u32,
    /// Length in bytes ([`BLOCK_SIZE`], or less for the last block of the last piece).
    pub len: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_checks_and_lengths() {
        assert!(PieceGeometry::new(3, 0, 10).is_err());
        assert!(PieceGeometry::new(2, 32768, 100_000).is_err());
        assert!(PieceGeometry::new(0, 32768, 0).is_ok());
        let g = PieceGeometry::new(4, 32768, 100_000).unwrap();
        assert_eq!(g.piece_len(3), 100_000 - 3 * 32768);
        assert_eq!(g.piece_len(4), 0);
        assert_eq!(g.blocks_in_piece(0), 2);
        assert_eq!(g.blocks_in_piece(3), 1);
        assert_eq!(g.block_len(3, 0), 1696);
        assert_eq!(g.block_len(3, 1), 0);
        let r = g.request(3, 0);
        assert_eq!(g.block_of(r), Some(0));
        assert_eq!(g.block_of(BlockRequest { len: 16384, ..r }), None);
        assert_eq!(
            g.block_of(BlockRequest {
                piece: 0,
                offset: 100,
                len: 16384
            }),
            None
        );
        assert_eq!(
            g.block_of(BlockRequest {
                piece: 9,
                offset: 0,
                len: 16384
            }),
            None
        );
    }
}
