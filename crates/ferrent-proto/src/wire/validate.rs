//! Semantic checks the engine applies to well-formed messages once it knows the torrent.

use super::error::PeerMisbehaved;
use super::limits::BLOCK_LEN;
use super::message::BlockRequest;

/// Checks a `bitfield` payload for a torrent of `num_pieces` pieces (BEP 3): exactly
/// `ceil(num_pieces / 8)` bytes, and the spare bits after the last piece all zero.
///
/// ```
/// use ferrent_proto::wire::{validate_bitfield, PeerMisbehaved};
/// assert_eq!(validate_bitfield(&[0xff, 0xe0], 11), Ok(()));
/// assert_eq!(validate_bitfield(&[0xff, 0xf0], 11), Err(PeerMisbehaved::BitfieldSpareBits { num_pieces: 11 }));
/// assert!(matches!(validate_bitfield(&[0xff], 11), Err(PeerMisbehaved::BitfieldLength { .. })));
/// ```
pub fn validate_bitfield(bytes: &[u8], num_pieces: u32) -> Result<(), PeerMisbehaved> {
    let expected = num_pieces.div_ceil(8) as usize;
    if bytes.len() != expected {
        return Err(PeerMisbehaved::BitfieldLength {
            len: bytes.len(),
            expected,
            num_pieces,
        });
    }
    let used_bits = num_pieces % 8;
    if used_bits != 0 {
        let spare_mask = 0xffu8 >> used_bits;
        if bytes.last().is_some_and(|&last| last & spare_mask != 0) {
            return Err(PeerMisbehaved::BitfieldSpareBits { num_pieces });
        }
    }
    Ok(())
}

/// Checks a piece index from `have`, `request`, `suggest piece`, ... against the torrent.
pub fn check_piece_index(index: u32, num_pieces: u32) -> Result<(), PeerMisbehaved> {
    if index < num_pieces {
        Ok(())
    } else {
        Err(PeerMisbehaved::PieceIndexOutOfRange { index, num_pieces })
    }
}

/// Checks a `request` from a peer against the torrent: the piece exists, the length is
/// `1..=`[`BLOCK_LEN`], and the range ends within the piece. `piece_len` is the length of piece
/// `index` (the last piece may be short), asked of the torrent's layout only when the index is
/// valid.
pub fn check_request(
    req: &BlockRequest,
    num_pieces: u32,
    piece_len: impl FnOnce(u32) -> u32,
) -> Result<(), PeerMisbehaved> {
    check_piece_index(req.index, num_pieces)?;
    if req.length == 0 || req.length > BLOCK_LEN {
        return Err(PeerMisbehaved::BadRequestLength {
            length: req.length,
            max: BLOCK_LEN,
        });
    }
    let piece_len = piece_len(req.index);
    if u64::from(req.begin) + u64::from(req.length) > u64::from(piece_len) {
        return Err(PeerMisbehaved::RequestPastEnd {
            index: req.index,
            begin: req.begin,
            length: req.length,
            piece_len,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitfield_lengths_and_spare_bits() {
        assert_eq!(validate_bitfield(&[], 0), Ok(()));
        assert_eq!(validate_bitfield(&[0xff], 8), Ok(()));
        assert_eq!(validate_bitfield(&[0x80], 1), Ok(()));
        assert_eq!(
            validate_bitfield(&[0x40], 1),
            Err(PeerMisbehaved::BitfieldSpareBits { num_pieces: 1 })
        );
        assert_eq!(
            validate_bitfield(&[0xff, 0], 8),
            Err(PeerMisbehaved::BitfieldLength {
                len: 2,
                expected: 1,
                num_pieces: 8
            })
        );
        assert_eq!(validate_bitfield(&[0xff, 0xfe], 15), Ok(()));
        assert_eq!(
            validate_bitfield(&[0xff, 0xff], 15),
            Err(PeerMisbehaved::BitfieldSpareBits { num_pieces: 15 })
        );
        let big = vec![0xffu8; (super::super::limits::MAX_PIECES / 8) as usize];
        assert_eq!(
            validate_bitfield(&big, super::super::limits::MAX_PIECES),
            Ok(())
        );
    }

    #[test]
    fn requests() {
        let len = |i: u32| if i == 9 { 100 } else { 65536 };
        let r = |index, begin, length| BlockRequest {
            index,
            begin,
            length,
        };
        assert_eq!(check_request(&r(0, 0, BLOCK_LEN), 10, len), Ok(()));
        assert_eq!(check_request(&r(9, 0, 100), 10, len), Ok(()));
        assert_eq!(
            check_request(&r(10, 0, 1), 10, len),
            Err(PeerMisbehaved::PieceIndexOutOfRange {
                index: 10,
                num_pieces: 10
            })
        );
        assert_eq!(
            check_request(&r(0, 0, BLOCK_LEN + 1), 10, len),
            Err(PeerMisbehaved::BadRequestLength {
                length: BLOCK_LEN + 1,
                max: BLOCK_LEN
            })
        );
        assert!(matches!(
            check_request(&r(0, 0, 0), 10, len),
            Err(PeerMisbehaved::BadRequestLength { .. })
        ));
        assert!(matches!(
            check_request(&r(9, 1, 100), 10, len),
            Err(PeerMisbehaved::RequestPastEnd { .. })
        ));
        assert!(matches!(
            check_request(&r(0, u32::MAX, 1), 10, len),
            Err(PeerMisbehaved::RequestPastEnd { .. })
        ));
    }
}
