//! Fuzzes the DHT KRPC decoder (BEP 5 / BEP 32): decoding never panics, and whatever decodes
//! re-encodes to a datagram that decodes to the same message.
#![no_main]

use ferrent_proto::dht::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Message::decode(data) {
        let mut out = Vec::new();
        msg.encode(&mut out);
        assert_eq!(Message::decode(&out).ok(), Some(msg));
    }
});
