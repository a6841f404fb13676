//! The messages of the peer wire protocol (BEP 3, 5, 6, 10) and their encoding. Decoding is the
//! job of [`crate::wire::MessageDecoder`], which frames them.

use bytes::{BufMut, Bytes};

/// Message ids (the byte after the length prefix).
pub mod id {
    /// `choke` (BEP 3).
    pub const CHOKE: u8 = 0;
    /// `unchoke` (BEP 3).
    pub const UNCHOKE: u8 = 1;
    /// `interested` (BEP 3).
    pub const INTERESTED: u8 = 2;
    /// `not interested` (BEP 3).
    pub const NOT_INTERESTED: u8 = 3;
    /// `have` (BEP 3).
    pub const HAVE: u8 = 4;
    /// `bitfield` (BEP 3).
    pub const BITFIELD: u8 = 5;
    /// `request` (BEP 3).
    pub const REQUEST: u8 = 6;
    /// `piece` (BEP 3).
    pub const PIECE: u8 = 7;
    /// `cancel` (BEP 3).
    pub const CANCEL: u8 = 8;
    /// `port` (BEP 5: the sender's DHT port).
    pub const PORT: u8 = 9;
    /// `suggest piece` (BEP 6).
    pub const SUGGEST_PIECE: u8 = 13;
    /// `have all` (BEP 6).
    pub const HAVE_ALL: u8 = 14;
    /// `have none` (BEP 6).
    pub const HAVE_NONE: u8 = 15;
    /// `reject request` (BEP 6).
    pub const REJECT_REQUEST: u8 = 16;
    /// `allowed fast` (BEP 6).
    pub const ALLOWED_FAST: u8 = 17;
    /// `extended` (BEP 10).
    pub const EXTENDED: u8 = 20;
}

/// A block of a piece, as named by `request`, `cancel` and `reject request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockRequest {
    /// Piece index.
    pub index: u32,
    /// Byte offset within the piece.
    pub begin: u32,
    /// Number of bytes (normally [`crate::wire::BLOCK_LEN`], less at the end of the torrent).
    pub length: u32,
}

/// The data of a block (`piece` message). `data` shares the receive buffer it was decoded from:
/// no copy is made.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Block {
    /// Piece index.
    pub index: u32,
    /// Byte offset within the piece.
    pub begin: u32,
    /// The bytes.
    pub data: Bytes,
}

impl Block {
    /// The request this block answers.
    pub fn request(&self) -> BlockRequest {
        // A decoded block is at most `MAX_MESSAGE_LEN` bytes, and one built locally is a block.
        let length = u32::try_from(self.data.len()).unwrap_or(u32::MAX);
        BlockRequest {
            index: self.index,
            begin: self.begin,
            length,
        }
    }
}

/// One peer wire message.
///
/// Unknown message ids are not an error: they decode to [`Message::Unknown`] and the engine
/// decides (it ignores them, as BEP 10 asks of unknown extension messages; libtorrent disconnects
/// instead). BEP 52 hash messages (ids 21-23) arrive this way until v2 is supported.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Message {
    /// A zero-length frame, sent to keep the connection open (BEP 3: every two minutes).
    KeepAlive,
    /// The sender will not answer requests.
    Choke,
    /// The sender will answer requests.
    Unchoke,
    /// The sender wants pieces from the receiver.
    Interested,
    /// The sender wants nothing from the receiver.
    NotInterested,
    /// The sender has verified a piece.
    Have {
        /// The piece.
        index: u32,
    },
    /// The pieces the sender has, one bit per piece, high bit first; only as the first message
    /// after the handshake. Check it with [`crate::wire::validate_bitfield`].
    Bitfield(Bytes),
    /// Asks for a block.
    Request(BlockRequest),
    /// A block of data.
    Piece(Block),
    /// Withdraws a request.
    Cancel(BlockRequest),
    /// The sender's DHT port (BEP 5).
    Port(u16),
    /// The sender suggests downloading this piece (BEP 6).
    SuggestPiece {
        /// The piece.
        index: u32,
    },
    /// The sender has every piece (BEP 6; instead of a bitfield).
    HaveAll,
    /// The sender has no piece (BEP 6; instead of a bitfield).
    HaveNone,
    /// The sender will not answer this request (BEP 6).
    RejectRequest(BlockRequest),
    /// The receiver may request this piece even while choked (BEP 6).
    AllowedFast {
        /// The piece.
        index: u32,
    },
    /// An extension-protocol message (BEP 10): `id` 0 is the extended handshake
    /// ([`crate::wire::ExtendedHandshake`]); other ids are those the receiver announced in its
    /// handshake's `m` dictionary.
    Extended {
        /// The extended message id.
        id: u8,
        /// The rest of the message (bencoded, maybe followed by raw data).
        payload: Bytes,
    },
    /// A message with an id this module does not know, kept whole (the engine decides).
    Unknown {
        /// The message id.
        id: u8,
        /// The bytes after the id.
        payload: Bytes,
    },
}

impl Message {
    /// The message id, `None` for a keep-alive.
    pub fn id(&self) -> Option<u8> {
        Some(match self {
            Message::KeepAlive => return None,
            Message::Choke => id::CHOKE,
            Message::Unchoke => id::UNCHOKE,
            Message::Interested => id::INTERESTED,
            Message::NotInterested => id::NOT_INTERESTED,
            Message::Have { .. } => id::HAVE,
            Message::Bitfield(_) => id::BITFIELD,
            Message::Request(_) => id::REQUEST,
            Message::Piece(_) => id::PIECE,
            Message::Cancel(_) => id::CANCEL,
            Message::Port(_) => id::PORT,
            Message::SuggestPiece { .. } => id::SUGGEST_PIECE,
            Message::HaveAll => id::HAVE_ALL,
            Message::HaveNone => id::HAVE_NONE,
            Message::RejectRequest(_) => id::REJECT_REQUEST,
            Message::AllowedFast { .. } => id::ALLOWED_FAST,
            Message::Extended { .. } => id::EXTENDED,
            Message::Unknown { id, .. } => *id,
        })
    }

    /// A short name for logs ("have", "piece", ...).
    pub fn name(&self) -> &'static str {
        match self {
            Message::KeepAlive => "keep-alive",
            Message::Unknown { .. } => "unknown",
            other => other.id().map_or("keep-alive", name_of),
        }
    }

    /// The value of the length prefix: the bytes after it (id included).
    pub fn body_len(&self) -> usize {
        1 + match self {
            Message::KeepAlive => return 0,
            Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => 0,
            Message::Have { .. } | Message::SuggestPiece { .. } | Message::AllowedFast { .. } => 4,
            Message::Bitfield(b) => b.len(),
            Message::Request(_) | Message::Cancel(_) | Message::RejectRequest(_) => 12,
            Message::Piece(b) => 8 + b.data.len(),
            Message::Port(_) => 2,
            Message::Extended { payload, .. } => 1 + payload.len(),
            Message::Unknown { payload, .. } => payload.len(),
        }
    }

    /// Bytes on the wire: the 4-byte length prefix plus [`Message::body_len`].
    pub fn encoded_len(&self) -> usize {
        4 + self.body_len()
    }

    /// Appends the framed message (length prefix included) to `dst` (`Vec<u8>`, `BytesMut`, ...).
    ///
    /// The caller keeps what it sends within [`crate::wire::MAX_MESSAGE_LEN`] (a longer frame
    /// is written as asked, with its length prefix saturated at `u32::MAX`, and peers will refuse
    /// it). To send a block without copying it, write [`piece_header`] and then the data.
    pub fn encode<B: BufMut>(&self, dst: &mut B) {
        let body_len = u32::try_from(self.body_len()).unwrap_or(u32::MAX);
        dst.put_u32(body_len);
        let Some(id) = self.id() else {
            return;
        };
        dst.put_u8(id);
        match self {
            Message::KeepAlive
            | Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => {}
            Message::Have { index }
            | Message::SuggestPiece { index }
            | Message::AllowedFast { index } => dst.put_u32(*index),
            Message::Bitfield(b) => dst.put_slice(b),
            Message::Request(r) | Message::Cancel(r) | Message::RejectRequest(r) => {
                dst.put_u32(r.index);
                dst.put_u32(r.begin);
                dst.put_u32(r.length);
            }
            Message::Piece(b) => {
                dst.put_u32(b.index);
                dst.put_u32(b.begin);
                dst.put_slice(&b.data);
            }
            Message::Port(p) => dst.put_u16(*p),
            Message::Extended { id, payload } => {
                dst.put_u8(*id);
                dst.put_slice(payload);
            }
            Message::Unknown { payload, .. } => dst.put_slice(payload),
        }
    }

    /// The framed message in a new vector (tests and one-off messages; the engine should reuse a
    /// buffer with [`Message::encode`]).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.encode(&mut v);
        v
    }
}

/// The 13 bytes that precede a block of `data_len` bytes in a `piece` message (length prefix, id,
/// index, begin), so a seeder can write them and then the block from its own buffer (vectored
/// write) without copying the block into a message.
pub fn piece_header(index: u32, begin: u32, data_len: u32) -> [u8; 13] {
    let mut out = [0u8; 13];
    let mut w = &mut out[..];
    w.put_u32(9u32.saturating_add(data_len));
    w.put_u8(id::PIECE);
    w.put_u32(index);
    w.put_u32(begin);
    out
}

/// The name of a known message id, "unknown" otherwise.
pub fn name_of(message_id: u8) -> &'static str {
    match message_id {
        id::CHOKE => "choke",
        id::UNCHOKE => "unchoke",
        id::INTERESTED => "interested",
        id::NOT_INTERESTED => "not interested",
        id::HAVE => "have",
        id::BITFIELD => "bitfield",
        id::REQUEST => "request",
        id::PIECE => "piece",
        id::CANCEL => "cancel",
        id::PORT => "port",
        id::SUGGEST_PIECE => "suggest piece",
        id::HAVE_ALL => "have all",
        id::HAVE_NONE => "have none",
        id::REJECT_REQUEST => "reject request",
        id::ALLOWED_FAST => "allowed fast",
        id::EXTENDED => "extended",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(index: u32, begin: u32, length: u32) -> BlockRequest {
        BlockRequest {
            index,
            begin,
            length,
        }
    }

    /// Each message against bytes written out by hand from the BEPs.
    #[test]
    fn encodings_match_the_beps() {
        let cases: Vec<(Message, Vec<u8>)> = vec![
            (Message::KeepAlive, vec![0, 0, 0, 0]),
            (Message::Choke, vec![0, 0, 0, 1, 0]),
            (Message::Unchoke, vec![0, 0, 0, 1, 1]),
            (Message::Interested, vec![0, 0, 0, 1, 2]),
            (Message::NotInterested, vec![0, 0, 0, 1, 3]),
            (
                Message::Have { index: 0x01020304 },
                vec![0, 0, 0, 5, 4, 1, 2, 3, 4],
            ),
            (
                Message::Bitfield(Bytes::from_static(&[0xff, 0x80])),
                vec![0, 0, 0, 3, 5, 0xff, 0x80],
            ),
            (
                Message::Request(req(1, 0x4000, 0x4000)),
                vec![0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
            ),
            (
                Message::Piece(Block {
                    index: 2,
                    begin: 3,
                    data: Bytes::from_static(b"abc"),
                }),
                vec![0, 0, 0, 12, 7, 0, 0, 0, 2, 0, 0, 0, 3, b'a', b'b', b'c'],
            ),
            (
                Message::Cancel(req(1, 2, 3)),
                vec![0, 0, 0, 13, 8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3],
            ),
            (Message::Port(6881), vec![0, 0, 0, 3, 9, 0x1a, 0xe1]),
            (
                Message::SuggestPiece { index: 5 },
                vec![0, 0, 0, 5, 13, 0, 0, 0, 5],
            ),
            (Message::HaveAll, vec![0, 0, 0, 1, 14]),
            (Message::HaveNone, vec![0, 0, 0, 1, 15]),
            (
                Message::RejectRequest(req(1, 2, 3)),
                vec![0, 0, 0, 13, 16, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3],
            ),
            (
                Message::AllowedFast { index: 7 },
                vec![0, 0, 0, 5, 17, 0, 0, 0, 7],
            ),
            (
                Message::Extended {
                    id: 0,
                    payload: Bytes::from_static(b"de"),
                },
                vec![0, 0, 0, 4, 20, 0, b'd', b'e'],
            ),
            (
                Message::Unknown {
                    id: 99,
                    payload: Bytes::from_static(b"x"),
                },
                vec![0, 0, 0, 2, 99, b'x'],
            ),
        ];
        for (msg, bytes) in cases {
            assert_eq!(msg.to_vec(), bytes, "{msg:?}");
            assert_eq!(msg.encoded_len(), bytes.len(), "{msg:?}");
        }
    }

    #[test]
    fn piece_header_matches_encoding() {
        let data = Bytes::from(vec![9u8; 100]);
        let msg = Message::Piece(Block {
            index: 3,
            begin: 16384,
            data: data.clone(),
        });
        let mut v = piece_header(3, 16384, 100).to_vec();
        v.extend_from_slice(&data);
        assert_eq!(v, msg.to_vec());
    }

    #[test]
    fn names_and_ids() {
        assert_eq!(Message::KeepAlive.name(), "keep-alive");
        assert_eq!(Message::KeepAlive.id(), None);
        assert_eq!(Message::HaveAll.name(), "have all");
        assert_eq!(
            Message::Unknown {
                id: 99,
                payload: Bytes::new()
            }
            .name(),
            "unknown"
        );
        let b = Block {
            index: 1,
            begin: 2,
            data: Bytes::from_static(b"xyz"),
        };
        assert_eq!(b.request(), req(1, 2, 3));
    }
}
