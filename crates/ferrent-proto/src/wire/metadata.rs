//! `ut_metadata` (BEP 9): the messages that carry the info dictionary, 16 KiB at a time, so a
//! magnet link can become a torrent. Payloads of [`crate::wire::Message::Extended`] with the id
//! the receiver announced for [`crate::wire::UT_METADATA`].

use bytes::Bytes;
use ferrent_bencode::{Dict, Value};

use super::error::{InvalidExtended, ProtoError};
use super::limits::{MAX_METADATA_SIZE, METADATA_PIECE_LEN};

const WHAT: &str = "ut_metadata";

/// Number of 16 KiB pieces of metadata of `total_size` bytes.
pub fn metadata_piece_count(total_size: u32) -> u32 {
    total_size.div_ceil(METADATA_PIECE_LEN)
}

/// Length of metadata piece `piece` of metadata of `total_size` bytes (16 KiB except the last),
/// `None` if there is no such piece.
pub fn metadata_piece_len(piece: u32, total_size: u32) -> Option<u32> {
    let start = u64::from(piece) * u64::from(METADATA_PIECE_LEN);
    let left = u64::from(total_size)
        .checked_sub(start)
        .filter(|&l| l > 0)?;
    Some(left.min(u64::from(METADATA_PIECE_LEN)) as u32)
}

/// A `ut_metadata` message (BEP 9).
///
/// ```
/// use bytes::Bytes;
/// use ferrent_proto::wire::MetadataMessage;
///
/// let m = MetadataMessage::Data { piece: 0, total_size: 3, data: Bytes::from_static(b"d1e") };
/// let bytes = m.to_bytes();
/// assert_eq!(&bytes[..], b"d8:msg_typei1e5:piecei0e10:total_sizei3eed1e");
/// assert_eq!(MetadataMessage::decode(&bytes).unwrap(), m);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MetadataMessage {
    /// `msg_type` 0: asks for a piece.
    Request {
        /// The piece (16 KiB unit) of the info dictionary.
        piece: u32,
    },
    /// `msg_type` 1: a piece, the raw bytes after the bencoded dictionary.
    Data {
        /// The piece.
        piece: u32,
        /// Size of the whole info dictionary (at most [`MAX_METADATA_SIZE`]).
        total_size: u32,
        /// The piece's bytes: 16 KiB, or what is left for the last piece. Shares the message
        /// buffer when decoded from a [`Bytes`].
        data: Bytes,
    },
    /// `msg_type` 2: the sender will not send this piece.
    Reject {
        /// The piece.
        piece: u32,
    },
}

impl MetadataMessage {
    /// The piece the message is about.
    pub fn piece(&self) -> u32 {
        match self {
            MetadataMessage::Request { piece }
            | MetadataMessage::Data { piece, .. }
            | MetadataMessage::Reject { piece } => *piece,
        }
    }

    /// Decodes an extended message payload (the bytes after the extended id). A `Data` message's
    /// block is checked against its piece and `total_size` (which must be 1..=
    /// [`MAX_METADATA_SIZE`]); an unknown `msg_type` is an error (the engine may ignore it). Takes
    /// `&Bytes` so that the block shares its memory instead of being copied.
    pub fn decode(payload: &Bytes) -> Result<Self, ProtoError> {
        let (value, used) =
            ferrent_bencode::decode_prefix(payload).map_err(|source| InvalidExtended::Bencode {
                message: WHAT,
                source,
            })?;
        let dict = value
            .as_dict()
            .ok_or(InvalidExtended::NotADict { message: WHAT })?;
        let msg_type = int_field(dict, "msg_type")?;
        let piece = int_field(dict, "piece")?;
        let max_piece = i64::from(metadata_piece_count(MAX_METADATA_SIZE)) - 1;
        let piece = u32::try_from(piece)
            .ok()
            .filter(|&p| i64::from(p) <= max_piece)
            .ok_or(InvalidExtended::OutOfRange {
                message: WHAT,
                field: "piece",
                value: piece,
                range: "0..2048 (32 MiB of metadata)",
            })?;
        let trailing = payload.len().saturating_sub(used);
        match msg_type {
            0 | 2 => {
                if trailing != 0 {
                    return Err(InvalidExtended::TrailingBytes {
                        message: WHAT,
                        count: trailing,
                    }
                    .into());
                }
                Ok(if msg_type == 0 {
                    MetadataMessage::Request { piece }
                } else {
                    MetadataMessage::Reject { piece }
                })
            }
            1 => {
                let total = int_field(dict, "total_size")?;
                let total_size = u32::try_from(total)
                    .ok()
                    .filter(|&t| t > 0 && t <= MAX_METADATA_SIZE)
                    .ok_or(InvalidExtended::OutOfRange {
                        message: WHAT,
                        field: "total_size",
                        value: total,
                        range: "1..=33554432 (32 MiB)",
                    })?;
                let expected =
                    metadata_piece_len(piece, total_size).ok_or(InvalidExtended::OutOfRange {
                        message: WHAT,
                        field: "piece",
                        value: i64::from(piece),
                        range: "0..total_size/16KiB",
                    })? as usize;
                if trailing != expected {
                    return Err(InvalidExtended::MetadataPieceLength {
                        piece,
                        len: trailing,
                        expected,
                        total_size,
                    }
                    .into());
                }
                Ok(MetadataMessage::Data {
                    piece,
                    total_size,
                    data: payload.slice(used..),
                })
            }
            other => Err(InvalidExtended::OutOfRange {
                message: WHAT,
                field: "msg_type",
                value: other,
                range: "0 (request), 1 (data), 2 (reject)",
            }
            .into()),
        }
    }

    /// Appends the payload (bencoded dictionary, then the block for `Data`) to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        let (msg_type, piece) = match self {
            MetadataMessage::Request { piece } => (0, piece),
            MetadataMessage::Data { piece, .. } => (1, piece),
            MetadataMessage::Reject { piece } => (2, piece),
        };
        let mut d = Dict::new()
            .with(b"msg_type", Value::Int(msg_type))
            .with(b"piece", Value::Int(i64::from(*piece)));
        if let MetadataMessage::Data { total_size, .. } = self {
            d.insert(b"total_size", Value::Int(i64::from(*total_size)));
        }
        ferrent_bencode::encode_into(&Value::Dict(d), dst);
        if let MetadataMessage::Data { data, .. } = self {
            dst.extend_from_slice(data);
        }
    }

    /// The payload as bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut v = Vec::new();
        self.encode(&mut v);
        Bytes::from(v)
    }
}

fn int_field(dict: &Dict<'_>, field: &'static str) -> Result<i64, InvalidExtended> {
    dict.get_int(field.as_bytes())
        .ok_or(InvalidExtended::MissingField {
            message: WHAT,
            field,
            expected: "an integer",
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(b: &'static [u8]) -> Result<MetadataMessage, ProtoError> {
        MetadataMessage::decode(&Bytes::from_static(b))
    }

    #[test]
    fn request_and_reject() {
        assert_eq!(
            dec(b"d8:msg_typei0e5:piecei0ee").unwrap(),
            MetadataMessage::Request { piece: 0 }
        );
        assert_eq!(
            dec(b"d8:msg_typei2e5:piecei7ee").unwrap(),
            MetadataMessage::Reject { piece: 7 }
        );
        // Extra keys are ignored (libtorrent adds total_size to rejects).
        assert_eq!(
            dec(b"d8:msg_typei2e5:piecei7e10:total_sizei9ee").unwrap(),
            MetadataMessage::Reject { piece: 7 }
        );
    }

    #[test]
    fn data_block_length_is_checked() {
        // total 16 KiB + 1: piece 0 is 16 KiB, piece 1 is 1 byte.
        let total = METADATA_PIECE_LEN + 1;
        let ok = MetadataMessage::Data {
            piece: 1,
            total_size: total,
            data: Bytes::from_static(b"x"),
        };
        assert_eq!(MetadataMessage::decode(&ok.to_bytes()).unwrap(), ok);
        let mut bad = ok.to_bytes().to_vec();
        bad.push(b'y');
        assert!(matches!(
            MetadataMessage::decode(&Bytes::from(bad)),
            Err(ProtoError::InvalidExtended(
                InvalidExtended::MetadataPieceLength {
                    len: 2,
                    expected: 1,
                    ..
                }
            ))
        ));
        // A piece past the end.
        let past = b"d8:msg_typei1e5:piecei2e10:total_sizei16385eex";
        assert!(matches!(
            dec(past),
            Err(ProtoError::InvalidExtended(InvalidExtended::OutOfRange {
                field: "piece",
                ..
            }))
        ));
    }

    #[test]
    fn refused() {
        let e = |b| dec(b).unwrap_err();
        assert!(matches!(
            e(b"d5:piecei0ee"),
            ProtoError::InvalidExtended(InvalidExtended::MissingField {
                field: "msg_type",
                ..
            })
        ));
        assert!(matches!(
            e(b"d8:msg_typei0ee"),
            ProtoError::InvalidExtended(InvalidExtended::MissingField { field: "piece", .. })
        ));
        assert!(matches!(
            e(b"d8:msg_typei3e5:piecei0ee"),
            ProtoError::InvalidExtended(InvalidExtended::OutOfRange {
                field: "msg_type",
                ..
            })
        ));
        assert!(matches!(
            e(b"d8:msg_typei0e5:piecei-1ee"),
            ProtoError::InvalidExtended(InvalidExtended::OutOfRange { field: "piece", .. })
        ));
        assert!(matches!(
            e(b"d8:msg_typei0e5:piecei2048ee"),
            ProtoError::InvalidExtended(InvalidExtended::OutOfRange { field: "piece", .. })
        ));
        assert!(matches!(
            e(b"d8:msg_typei0e5:piecei0eex"),
            ProtoError::InvalidExtended(InvalidExtended::TrailingBytes { count: 1, .. })
        ));
        assert!(matches!(
            e(b"d8:msg_typei1e5:piecei0ee"),
            ProtoError::InvalidExtended(InvalidExtended::MissingField {
                field: "total_size",
                ..
            })
        ));
        assert!(matches!(
            e(b"d8:msg_typei1e5:piecei0e10:total_sizei33554433ee"),
            ProtoError::InvalidExtended(InvalidExtended::OutOfRange {
                field: "total_size",
                ..
            })
        ));
        assert!(matches!(
            e(b"i0e"),
            ProtoError::InvalidExtended(InvalidExtended::NotADict { .. })
        ));
        assert!(matches!(
            e(b""),
            ProtoError::InvalidExtended(InvalidExtended::Bencode { .. })
        ));
    }

    #[test]
    fn piece_geometry() {
        assert_eq!(metadata_piece_count(1), 1);
        assert_eq!(metadata_piece_count(METADATA_PIECE_LEN), 1);
        assert_eq!(metadata_piece_count(METADATA_PIECE_LEN + 1), 2);
        assert_eq!(
            metadata_piece_len(0, METADATA_PIECE_LEN),
            Some(METADATA_PIECE_LEN)
        );
        assert_eq!(metadata_piece_len(1, METADATA_PIECE_LEN), None);
        assert_eq!(metadata_piece_len(u32::MAX, u32::MAX), None);
    }

    fn arb_message() -> impl Strategy<Value = MetadataMessage> {
        prop_oneof![
            (0u32..2048).prop_map(|piece| MetadataMessage::Request { piece }),
            (0u32..2048).prop_map(|piece| MetadataMessage::Reject { piece }),
            (1..=MAX_METADATA_SIZE, any::<u32>(), any::<u8>()).prop_map(|(total_size, p, fill)| {
                let piece = p % metadata_piece_count(total_size);
                let len = metadata_piece_len(piece, total_size).unwrap_or(0) as usize;
                MetadataMessage::Data {
                    piece,
                    total_size,
                    data: Bytes::from(vec![fill; len]),
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn roundtrip(m in arb_message()) {
            prop_assert_eq!(MetadataMessage::decode(&m.to_bytes()).unwrap(), m);
        }

        #[test]
        fn never_panics(data in prop::collection::vec(any::<u8>(), 0..100)) {
            let _ = MetadataMessage::decode(&Bytes::from(data));
        }
    }
}
