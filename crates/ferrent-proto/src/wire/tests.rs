//! Tests of the framing decoder over every message, and round-trip property tests.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;

fn req(index: u32, begin: u32, length: u32) -> BlockRequest {
    BlockRequest {
        index,
        begin,
        length,
    }
}

/// One of each message.
fn samples() -> Vec<Message> {
    vec![
        Message::KeepAlive,
        Message::Choke,
        Message::Unchoke,
        Message::Interested,
        Message::NotInterested,
        Message::Have { index: 42 },
        Message::Bitfield(Bytes::from_static(&[0xff, 0x00, 0x80])),
        Message::Request(req(1, 16384, 16384)),
        Message::Piece(Block {
            index: 1,
            begin: 16384,
            data: Bytes::from(vec![0xab; 16384]),
        }),
        Message::Cancel(req(1, 16384, 16384)),
        Message::Port(6881),
        Message::SuggestPiece { index: 3 },
        Message::HaveAll,
        Message::HaveNone,
        Message::RejectRequest(req(4, 0, 100)),
        Message::AllowedFast { index: 5 },
        Message::Extended {
            id: 0,
            payload: Bytes::from_static(b"d1:md11:ut_metadatai1eee"),
        },
        Message::Extended {
            id: 3,
            payload: Bytes::new(),
        },
        Message::Unknown {
            id: 21,
            payload: Bytes::from_static(b"v2 hash request"),
        },
        Message::Unknown {
            id: 255,
            payload: Bytes::new(),
        },
    ]
}

fn decode_all(buf: &mut BytesMut) -> Result<Vec<Message>, ProtoError> {
    let mut dec = MessageDecoder::new();
    let mut out = Vec::new();
    while let Some(m) = dec.decode(buf)? {
        out.push(m);
    }
    Ok(out)
}

fn frame(len: u32, body: &[u8]) -> BytesMut {
    let mut b = BytesMut::new();
    b.extend_from_slice(&len.to_be_bytes());
    b.extend_from_slice(body);
    b
}

#[test]
fn each_message_decodes_to_itself() {
    for m in samples() {
        let mut buf = BytesMut::from(&m.to_vec()[..]);
        let mut dec = MessageDecoder::new();
        assert_eq!(dec.decode(&mut buf).unwrap(), Some(m.clone()), "{m:?}");
        assert!(buf.is_empty(), "{m:?} consumed whole");
        assert_eq!(dec.decode(&mut buf).unwrap(), None);
    }
}

#[test]
fn every_split_point_needs_more_then_decodes() {
    let msgs = samples();
    let mut all = Vec::new();
    for m in &msgs {
        m.encode(&mut all);
    }
    // Feed the stream in two pieces cut at every byte: the decoder must return the same messages.
    for cut in 0..=all.len() {
        let mut dec = MessageDecoder::new();
        let mut buf = BytesMut::from(&all[..cut]);
        let mut got = Vec::new();
        while let Some(m) = dec.decode(&mut buf).unwrap() {
            got.push(m);
        }
        // What is left is an unfinished frame: decode consumed nothing of it.
        let consumed: usize = got.iter().map(Message::encoded_len).sum();
        assert_eq!(buf.len(), cut - consumed, "cut {cut}");
        buf.extend_from_slice(&all[cut..]);
        while let Some(m) = dec.decode(&mut buf).unwrap() {
            got.push(m);
        }
        assert_eq!(got, msgs, "cut {cut}");
        assert!(buf.is_empty());
    }
}

#[test]
fn each_message_waits_at_every_byte() {
    for m in samples() {
        let bytes = m.to_vec();
        for cut in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..cut]);
            assert_eq!(
                MessageDecoder::new().decode(&mut buf).unwrap(),
                None,
                "{m:?} cut at {cut}"
            );
            assert_eq!(buf.len(), cut);
        }
    }
}

#[test]
fn oversize_length_is_refused_before_reserving() {
    for (len, body) in [
        (u32::MAX, &[][..]),
        (MAX_MESSAGE_LEN + 1, &[5u8][..]),
        (MAX_MESSAGE_LEN + 1, &[][..]),
    ] {
        let mut buf = frame(len, body);
        let cap = buf.capacity();
        let err = MessageDecoder::new().decode(&mut buf).unwrap_err();
        assert_eq!(
            err,
            ProtoError::InvalidMessage(InvalidMessage::TooLarge {
                id: None,
                len,
                max: MAX_MESSAGE_LEN
            })
        );
        assert_eq!(buf.capacity(), cap, "nothing reserved");
    }
    // The largest bitfield is accepted, one byte more is not.
    let mut buf = frame(1 + MAX_BITFIELD_LEN, &[id::BITFIELD]);
    assert_eq!(MessageDecoder::new().decode(&mut buf).unwrap(), None);
    assert!(
        buf.capacity() >= 4 + 1 + MAX_BITFIELD_LEN as usize,
        "room reserved for the accepted frame"
    );
    let mut buf = frame(2 + MAX_BITFIELD_LEN, &[id::BITFIELD]);
    let cap = buf.capacity();
    assert_eq!(
        MessageDecoder::new().decode(&mut buf).unwrap_err(),
        ProtoError::InvalidMessage(InvalidMessage::TooLarge {
            id: Some(id::BITFIELD),
            len: 2 + MAX_BITFIELD_LEN,
            max: 1 + MAX_BITFIELD_LEN
        })
    );
    assert_eq!(buf.capacity(), cap);
}

#[test]
fn oversize_block_is_refused() {
    let mut buf = frame(MAX_PIECE_MESSAGE_LEN + 1, &[id::PIECE]);
    let cap = buf.capacity();
    assert_eq!(
        MessageDecoder::new().decode(&mut buf).unwrap_err(),
        ProtoError::InvalidMessage(InvalidMessage::TooLarge {
            id: Some(id::PIECE),
            len: MAX_PIECE_MESSAGE_LEN + 1,
            max: MAX_PIECE_MESSAGE_LEN
        })
    );
    assert_eq!(buf.capacity(), cap);
    // A full block is fine.
    let m = Message::Piece(Block {
        index: 0,
        begin: 0,
        data: Bytes::from(vec![1; BLOCK_LEN as usize]),
    });
    assert_eq!(
        decode_all(&mut BytesMut::from(&m.to_vec()[..])).unwrap(),
        [m]
    );
}

#[test]
fn lower_limit_is_honoured() {
    let mut dec = MessageDecoder::with_max_len(100);
    assert_eq!(dec.max_len(), 100);
    let err = dec.decode(&mut frame(101, &[id::BITFIELD])).unwrap_err();
    assert!(matches!(
        err,
        ProtoError::InvalidMessage(InvalidMessage::TooLarge {
            len: 101,
            max: 100,
            ..
        })
    ));
    assert_eq!(
        MessageDecoder::with_max_len(u32::MAX).max_len(),
        MAX_MESSAGE_LEN
    );
}

#[test]
fn fixed_size_messages_with_wrong_length() {
    let fixed = [
        (id::CHOKE, 1),
        (id::UNCHOKE, 1),
        (id::INTERESTED, 1),
        (id::NOT_INTERESTED, 1),
        (id::HAVE, 5),
        (id::REQUEST, 13),
        (id::CANCEL, 13),
        (id::PORT, 3),
        (id::SUGGEST_PIECE, 5),
        (id::HAVE_ALL, 1),
        (id::HAVE_NONE, 1),
        (id::REJECT_REQUEST, 13),
        (id::ALLOWED_FAST, 5),
    ];
    for (msg_id, expected) in fixed {
        for len in [expected - 1, expected + 1, 1000] {
            if len == 0 {
                continue; // that is a keep-alive
            }
            // Refused as soon as the id is known, before the body arrives.
            let mut buf = frame(len, &[msg_id]);
            let err = MessageDecoder::new().decode(&mut buf).unwrap_err();
            assert_eq!(
                err,
                ProtoError::InvalidMessage(InvalidMessage::BadLength {
                    id: msg_id,
                    name: name_of(msg_id),
                    len,
                    expected
                }),
                "id {msg_id} len {len}"
            );
        }
    }
}

#[test]
fn variable_messages_too_short() {
    let err = MessageDecoder::new()
        .decode(&mut frame(8, &[id::PIECE]))
        .unwrap_err();
    assert_eq!(
        err,
        ProtoError::InvalidMessage(InvalidMessage::TooShort {
            id: 7,
            name: "piece",
            len: 8,
            min: 9
        })
    );
    let err = MessageDecoder::new()
        .decode(&mut frame(1, &[id::EXTENDED]))
        .unwrap_err();
    assert_eq!(
        err,
        ProtoError::InvalidMessage(InvalidMessage::TooShort {
            id: 20,
            name: "extended",
            len: 1,
            min: 2
        })
    );
    // An empty block and an empty bitfield are well-formed; the engine judges them.
    let mut buf = frame(9, &[id::PIECE, 0, 0, 0, 1, 0, 0, 0, 2]);
    assert_eq!(
        decode_all(&mut buf).unwrap(),
        [Message::Piece(Block {
            index: 1,
            begin: 2,
            data: Bytes::new()
        })]
    );
    assert_eq!(
        decode_all(&mut frame(1, &[id::BITFIELD])).unwrap(),
        [Message::Bitfield(Bytes::new())]
    );
}

#[test]
fn errors_are_sticky() {
    let mut dec = MessageDecoder::new();
    let mut buf = frame(2, &[id::CHOKE, 0]);
    let err = dec.decode(&mut buf).unwrap_err();
    assert!(dec.has_failed());
    let mut good = BytesMut::from(&Message::Choke.to_vec()[..]);
    assert_eq!(dec.decode(&mut good).unwrap_err(), err);
    assert_eq!(good.len(), 5, "nothing consumed after failure");
}

#[test]
fn eof_inside_a_message() {
    let mut dec = MessageDecoder::new();
    let mut buf = BytesMut::from(&Message::Have { index: 1 }.to_vec()[..]);
    buf.extend_from_slice(&[0, 0, 0, 5, 4, 0]);
    assert_eq!(
        dec.decode_eof(&mut buf).unwrap(),
        Some(Message::Have { index: 1 })
    );
    assert_eq!(
        dec.decode_eof(&mut buf).unwrap_err(),
        ProtoError::InvalidMessage(InvalidMessage::Truncated { buffered: 6 })
    );
    assert_eq!(
        MessageDecoder::new()
            .decode_eof(&mut BytesMut::new())
            .unwrap(),
        None
    );
}

#[test]
fn block_shares_the_receive_buffer() {
    let m = Message::Piece(Block {
        index: 0,
        begin: 0,
        data: Bytes::from(vec![7; 1000]),
    });
    let mut buf = BytesMut::from(&m.to_vec()[..]);
    let start = buf.as_ptr() as usize;
    let Some(Message::Piece(block)) = MessageDecoder::new().decode(&mut buf).unwrap() else {
        panic!("not a piece");
    };
    assert_eq!(
        block.data.as_ptr() as usize,
        start + 13,
        "no copy of the block"
    );
}

#[test]
fn unknown_ids_are_returned_not_refused() {
    for msg_id in (10u8..=12).chain([18, 19]).chain(21..=255) {
        let mut buf = frame(3, &[msg_id, 1, 2]);
        let got = MessageDecoder::new().decode(&mut buf).unwrap();
        assert_eq!(
            got,
            Some(Message::Unknown {
                id: msg_id,
                payload: Bytes::from_static(&[1, 2])
            })
        );
    }
}

#[test]
fn keep_alives_between_messages() {
    let mut buf = frame(0, &[0, 0, 0, 0]);
    buf.extend_from_slice(&Message::Interested.to_vec());
    assert_eq!(
        decode_all(&mut buf).unwrap(),
        [Message::KeepAlive, Message::KeepAlive, Message::Interested]
    );
}

pub(crate) fn arb_message() -> impl Strategy<Value = Message> {
    let bytes = |max: usize| prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from);
    let request = (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(i, b, l)| req(i, b, l));
    prop_oneof![
        Just(Message::KeepAlive),
        Just(Message::Choke),
        Just(Message::Unchoke),
        Just(Message::Interested),
        Just(Message::NotInterested),
        Just(Message::HaveAll),
        Just(Message::HaveNone),
        any::<u32>().prop_map(|index| Message::Have { index }),
        any::<u32>().prop_map(|index| Message::SuggestPiece { index }),
        any::<u32>().prop_map(|index| Message::AllowedFast { index }),
        bytes(600).prop_map(Message::Bitfield),
        request.clone().prop_map(Message::Request),
        request.clone().prop_map(Message::Cancel),
        request.prop_map(Message::RejectRequest),
        (any::<u32>(), any::<u32>(), bytes(BLOCK_LEN as usize + 1))
            .prop_map(|(index, begin, data)| Message::Piece(Block { index, begin, data })),
        any::<u16>().prop_map(Message::Port),
        (any::<u8>(), bytes(300)).prop_map(|(id, payload)| Message::Extended { id, payload }),
        (any::<u8>(), bytes(300)).prop_filter_map("known id", |(id, payload)| {
            (name_of(id) == "unknown").then_some(Message::Unknown { id, payload })
        }),
    ]
}

proptest! {
    #[test]
    fn roundtrip_one(m in arb_message()) {
        let bytes = m.to_vec();
        prop_assert_eq!(bytes.len(), m.encoded_len());
        let mut buf = BytesMut::from(&bytes[..]);
        prop_assert_eq!(decode_all(&mut buf).unwrap(), vec![m]);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn roundtrip_sequence_in_random_chunks(
        msgs in prop::collection::vec(arb_message(), 0..20),
        chunk in 1usize..5000,
    ) {
        let mut wire = BytesMut::new();
        for m in &msgs {
            m.encode(&mut wire);
        }
        let mut dec = MessageDecoder::new();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for piece in wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(m) = dec.decode(&mut buf).unwrap() {
                got.push(m);
            }
        }
        prop_assert_eq!(got, msgs);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_reencode(data in prop::collection::vec(any::<u8>(), 0..2000)) {
        let mut buf = BytesMut::from(&data[..]);
        let mut dec = MessageDecoder::new();
        let mut consumed = 0;
        while let Ok(Some(m)) = dec.decode(&mut buf) {
            // Every decoded message re-encodes to exactly the bytes it came from.
            let enc = m.to_vec();
            prop_assert_eq!(&enc[..], &data[consumed..consumed + enc.len()]);
            consumed += enc.len();
        }
    }
}
