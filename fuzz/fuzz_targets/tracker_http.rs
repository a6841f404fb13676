//! Fuzzes the HTTP tracker codecs: announce and scrape query parsing (server side) and reply
//! decoding (client side) never panic, and what parses re-encodes to an equal value.
#![no_main]

use ferrent_proto::tracker::{
    AnnounceRequest, AnnounceResponse, HttpReply, PeerListFormat, ScrapeRequest, ScrapeResponse,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(query) = std::str::from_utf8(data) {
        if let Ok(req) = AnnounceRequest::parse_query(query) {
            let mut q = String::new();
            req.write_query(&mut q);
            assert_eq!(AnnounceRequest::parse_query(&q).ok(), Some(req));
        }
        if let Ok(req) = ScrapeRequest::parse_query(query) {
            let mut q = String::new();
            req.write_query(&mut q);
            assert_eq!(ScrapeRequest::parse_query(&q).ok(), Some(req));
        }
    }
    if let Ok(HttpReply::Success(resp)) = AnnounceResponse::decode(data) {
        let mut out = Vec::new();
        resp.encode(PeerListFormat::Dict { peer_ids: true }, &mut out);
        assert!(AnnounceResponse::decode(&out).is_ok());
    }
    if let Ok(HttpReply::Success(resp)) = ScrapeResponse::decode(data) {
        let mut out = Vec::new();
        resp.encode(&mut out);
        assert!(ScrapeResponse::decode(&out).is_ok());
    }
});
