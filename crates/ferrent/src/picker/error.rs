//! The picker's errors, grouped by cause (DESIGN.md rule 9).

/// What went wrong in a [`Picker`](super::Picker) call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PickerError {
    /// The peer broke the protocol; the engine should close the connection with this reason.
    #[error("peer misbehaved: {0}")]
    PeerMisbehaved(#[from] PeerMisbehaved),
    /// `num_pieces`, `piece_length` and `total_length` disagree.
    #[error(
        "invalid geometry: {num_pieces} pieces of {piece_length} bytes cannot hold {total_length} bytes"
    )]
    InvalidGeometry {
        /// Claimed number of pieces.
        num_pieces: u32,
        /// Claimed piece length.
        piece_length: u32,
        /// Claimed total length.
        total_length: u64,
    },
    /// The peer key was never added (or already removed).
    #[error("unknown peer")]
    UnknownPeer,
    /// The peer key is already in use.
    #[error("peer added twice")]
    DuplicatePeer,
    /// A piece index passed by the engine is out of range.
    #[error("piece index {index} out of range (torrent has {num_pieces} pieces)")]
    PieceOutOfRange {
        /// The index given.
        index: u32,
        /// Number of pieces in the torrent.
        num_pieces: u32,
    },
    /// Priorities are `0..=MAX_PRIORITY`.
    #[error("priority {0} out of range (0..={max})", max = super::MAX_PRIORITY)]
    InvalidPriority(u8),
    /// A priority list whose length is not the number of pieces.
    #[error("{got} priorities given for {num_pieces} pieces")]
    PriorityCount {
        /// Entries given.
        got: usize,
        /// Number of pieces in the torrent.
        num_pieces: u32,
    },
    /// `on_piece_verified`/`on_piece_failed` for a piece that is not waiting for its hash check.
    #[error("piece {piece} is not waiting for a hash check")]
    NotHashing {
        /// The piece.
        piece: u32,
    },
    /// `set_have` for a piece that is being downloaded or hashed.
    #[error("piece {piece} is busy (downloading or hashing)")]
    PieceBusy {
        /// The piece.
        piece: u32,
    },
}

/// Protocol violations detected from the messages a peer sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerMisbehaved {
    /// `have`, `allowed_fast` or `piece` named a piece past the end.
    #[error("piece index {index} out of range (torrent has {num_pieces} pieces)")]
    PieceIndexOutOfRange {
        /// The index sent.
        index: u32,
        /// Number of pieces in the torrent.
        num_pieces: u32,
    },
    /// A bitfield of the wrong length (BEP 3: `ceil(num_pieces / 8)` bytes).
    #[error("bitfield of {got} bytes, expected {expected}")]
    BitfieldLength {
        /// Bytes received.
        got: usize,
        /// Bytes expected.
        expected: usize,
    },
    /// A bitfield with bits set past the last piece (BEP 3 says they must be clear).
    #[error("bitfield has spare bits set past the last piece")]
    BitfieldSpareBits,
    /// A second `bitfield`/`have all`/`have none`, or one after a `have` (BEP 3, BEP 6: only the
    /// first message).
    #[error("bitfield, have all or have none sent twice or after a have")]
    LateBitfield,
    /// A block we never asked this peer for (or that does not match any block's offset and length).
    #[error("block piece {piece} offset {offset} length {len} was never requested from this peer")]
    UnrequestedBlock {
        /// Piece index.
        piece: u32,
        /// Offset.
        offset: u32,
        /// Length.
        len: u32,
    },
    /// A BEP 6 `reject` for a request we never sent to this peer.
    #[error("reject for piece {piece} offset {offset} length {len}, which was never requested")]
    UnrequestedReject {
        /// Piece index.
        piece: u32,
        /// Offset.
        offset: u32,
        /// Length.
        len: u32,
    },
}
