//! Peer wire decoder over arbitrary bytes: the handshake first, then framed messages fed in
//! chunks (the first input byte picks the chunk size, so partial frames are exercised), and every
//! extended payload through the BEP 10 / 9 / 11 decoders. Never panics; every decoded message
//! re-encodes to exactly the bytes it was decoded from; extension messages that decode re-encode
//! to bytes that decode to the same value.
#![no_main]

use bytes::{Bytes, BytesMut};
use ferrent_proto::wire::{
    ExtendedHandshake, Handshake, MAX_MESSAGE_LEN, Message, MessageDecoder, MetadataMessage,
    PexMessage,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, data)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);

    // The handshake, all at once.
    let mut buf = BytesMut::from(data);
    match Handshake::decode(&mut buf) {
        Ok(Some(hs)) => assert_eq!(&hs.to_bytes()[..], &data[..68]),
        Ok(None) => {
            assert!(data.len() < 68);
            return;
        }
        Err(_) => return,
    }
    let stream = buf.freeze();

    // The messages, in chunks.
    let mut dec = MessageDecoder::new();
    let mut rx = BytesMut::new();
    let mut consumed = 0usize;
    for piece in stream.chunks(chunk) {
        rx.extend_from_slice(piece);
        loop {
            match dec.decode(&mut rx) {
                Ok(Some(m)) => {
                    let enc = m.to_vec();
                    assert!(enc.len() <= 4 + MAX_MESSAGE_LEN as usize);
                    assert_eq!(&enc[..], &stream[consumed..consumed + enc.len()], "{m:?}");
                    consumed += enc.len();
                    if let Message::Extended { id, payload } = &m {
                        extended(*id, payload);
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    assert!(dec.decode(&mut rx).is_err(), "errors are sticky");
                    return;
                }
            }
        }
    }
    let _ = dec.decode_eof(&mut rx);
});

fn extended(id: u8, payload: &Bytes) {
    if id == 0 {
        if let Ok(hs) = ExtendedHandshake::decode(payload) {
            let again =
                ExtendedHandshake::decode(&hs.to_bytes()).expect("re-encoded handshake decodes");
            assert_eq!(again, hs);
        }
        return;
    }
    if let Ok(m) = MetadataMessage::decode(payload) {
        let again = MetadataMessage::decode(&m.to_bytes()).expect("re-encoded ut_metadata decodes");
        assert_eq!(again, m);
    }
    if let Ok(m) = PexMessage::decode(payload) {
        let again = PexMessage::decode(&m.to_bytes()).expect("re-encoded ut_pex decodes");
        assert_eq!(again, m);
    }
}
