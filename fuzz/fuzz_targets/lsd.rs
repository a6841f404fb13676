//! Fuzz target for Local Service Discovery announces (BEP 14): `LsdAnnounce::decode` must never
//! panic on any datagram, and whatever it accepts must encode to a datagram that decodes to an
//! equal value and fits `MAX_MESSAGE_SIZE`.
#![no_main]

use ferrent_proto::lsd::{LSD_GROUP_V4, LsdAnnounce, MAX_MESSAGE_SIZE, host_header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(a) = LsdAnnounce::decode(data) else { return };
    let bytes = a.encode(&host_header(LSD_GROUP_V4.into()));
    assert!(bytes.len() <= MAX_MESSAGE_SIZE, "encoding too large");
    match LsdAnnounce::decode(&bytes) {
        Ok(again) => assert_eq!(again, a, "round trip changed the announce"),
        Err(e) => panic!("encoded announce does not decode: {e}"),
    }
});
