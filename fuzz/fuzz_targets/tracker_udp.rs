//! Fuzzes the BEP 15 UDP tracker codecs: decoding never panics, and whatever decodes
//! re-encodes to a packet that decodes to the same value.
#![no_main]

use ferrent_proto::tracker::{UdpRequest, UdpResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = UdpRequest::decode(data) {
        let mut out = Vec::new();
        req.encode(&mut out);
        assert_eq!(UdpRequest::decode(&out).ok(), Some(req));
    }
    for v6 in [false, true] {
        if let Ok(resp) = UdpResponse::decode(data, v6) {
            let mut out = Vec::new();
            resp.encode(&mut out);
            assert_eq!(UdpResponse::decode(&out, v6).ok(), Some(resp));
        }
    }
});
