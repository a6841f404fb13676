//! Tracker protocol codecs: HTTP announce and scrape (BEP 3, 7, 23, 48) and UDP (BEP 15).
//!
//! Both sides of each exchange are here, as plain data with encode and decode and no I/O:
//!
//! - HTTP announce: [`AnnounceRequest`] builds the query string a client sends
//!   ([`AnnounceRequest::write_query`], binary `info_hash`/`peer_id` percent-encoded) and parses
//!   the one a tracker receives ([`AnnounceRequest::parse_query`], every field validated);
//!   [`AnnounceResponse`] is the bencoded reply (compact BEP 23, dictionary form, `peers6` BEP 7),
//!   wrapped in [`HttpReply`] together with the `failure reason` form.
//! - HTTP scrape (BEP 48): [`ScrapeRequest`] and [`ScrapeResponse`], several info-hashes at once;
//!   [`scrape_url`] derives the scrape URL from an announce URL.
//! - UDP (BEP 15): [`UdpRequest`] and [`UdpResponse`], connect / announce / scrape / error,
//!   including the IPv6 announce reply (18-byte peers when the request came over IPv6).
//!
//! Every decoder bounds its input with the limits below before allocating, and reports
//! malformed input as a [`TrackerError`] saying what was wrong; nothing here panics on input.
//!
//! ```
//! use ferrent_core::Id20;
//! use ferrent_proto::tracker::{AnnounceRequest, Event};
//!
//! let mut req = AnnounceRequest::new(Id20([0xab; 20]), Id20(*b"-FE0001-abcdefghijkl"), 6881);
//! req.left = 1000;
//! req.event = Event::Started;
//! let mut query = String::new();
//! req.write_query(&mut query);
//! assert!(query.starts_with("info_hash=%AB%AB"));
//! assert_eq!(AnnounceRequest::parse_query(&query).unwrap(), req);
//! ```

mod announce;
mod error;
mod query;
mod response;
mod scrape;
mod udp;

pub use announce::{AnnounceRequest, Event};
pub use error::TrackerError;
pub use query::{percent_decode, percent_encode};
pub use response::{AnnounceResponse, HttpReply, PeerEntry, PeerListFormat};
pub use scrape::{ScrapeRequest, ScrapeResponse, ScrapeStats, scrape_url};
pub use udp::{
    UDP_PROTOCOL_ID, UdpAnnounceRequest, UdpAnnounceResponse, UdpPeers, UdpRequest, UdpResponse,
};

/// Longest HTTP query string accepted. An announce with every parameter is under 400 bytes;
/// a scrape of [`MAX_SCRAPE_HASHES`] percent-encoded info-hashes is about 4.6 KiB. 8 KiB leaves
/// room for extensions and matches common HTTP servers' request-line limits.
pub const MAX_QUERY_LEN: usize = 8 * 1024;

/// Most info-hashes in one scrape (HTTP or UDP). BEP 15 notes that about 74 fit in one UDP
/// packet; opentracker allows 64 per HTTP scrape. Larger requests are rejected, not truncated.
pub const MAX_SCRAPE_HASHES: usize = 74;

/// Longest `key` and `trackerid` value accepted (bytes after percent-decoding). Clients send
/// 8 hex digits for `key`; tracker ids are short tokens.
pub const MAX_TOKEN_LEN: usize = 64;

/// Largest bencoded HTTP tracker reply decoded. 1 MiB holds ~170,000 compact peers, far more than
/// any tracker returns (a few hundred at most); anything bigger is a broken or hostile server.
pub const MAX_HTTP_RESPONSE_LEN: usize = 1024 * 1024;

/// Most peers decoded from one reply (HTTP or UDP), counting IPv4 and IPv6. Bounds the
/// `Vec<PeerEntry>` a hostile tracker can make us allocate.
pub const MAX_PEERS_PER_REPLY: usize = 10_000;

/// Longest `failure reason` / `warning message` / UDP error text kept (bytes). Longer text is
/// truncated: it is shown to a user, and never needs more.
pub const MAX_MESSAGE_LEN: usize = 1024;

/// Largest UDP tracker packet decoded. Matches the largest UDP payload over IPv4 (65,507);
/// BEP 15 packets are usually under 1,500 bytes.
pub const MAX_UDP_PACKET: usize = 65_507;
