//! The UDP tracker protocol (BEP 15): connect, announce, scrape and error packets.
//!
//! A client first sends a connect request (with [`UDP_PROTOCOL_ID`]) and gets a 64-bit
//! connection id, then sends announces and scrapes carrying that id. Every packet starts with
//! a 32-bit action and a 32-bit transaction id that the reply echoes. All integers are
//! big-endian.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use ferrent_core::Id20;

use super::announce::Event;
use super::error::TrackerError;
use super::response::{compact_entry, lossy_message, truncate};
use super::scrape::ScrapeStats;
use super::{MAX_PEERS_PER_REPLY, MAX_SCRAPE_HASHES, MAX_UDP_PACKET};

/// The magic constant that starts a connect request (BEP 15).
pub const UDP_PROTOCOL_ID: u64 = 0x0417_2710_1980;

const ACTION_CONNECT: u32 = 0;
const ACTION_ANNOUNCE: u32 = 1;
const ACTION_SCRAPE: u32 = 2;
const ACTION_ERROR: u32 = 3;

/// Size of an announce request without BEP 41 options.
const ANNOUNCE_REQUEST_LEN: usize = 98;

/// A UDP announce (BEP 15, action 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpAnnounceRequest {
    /// The id from the connect reply.
    pub connection_id: u64,
    /// Echoed in the reply.
    pub transaction_id: u32,
    /// The torrent.
    pub info_hash: Id20,
    /// The client's peer id.
    pub peer_id: Id20,
    /// Bytes received.
    pub downloaded: u64,
    /// Bytes missing.
    pub left: u64,
    /// Bytes sent.
    pub uploaded: u64,
    /// The event.
    pub event: Event,
    /// The address to announce (0.0.0.0 = the packet's source address).
    pub ip: Ipv4Addr,
    /// The client's key.
    pub key: u32,
    /// Peers wanted (-1 = the tracker's default).
    pub num_want: i32,
    /// The client's listen port.
    pub port: u16,
}

/// A packet a UDP tracker receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpRequest {
    /// Action 0: asks for a connection id.
    Connect {
        /// Echoed in the reply.
        transaction_id: u32,
    },
    /// Action 1.
    Announce(UdpAnnounceRequest),
    /// Action 2: counters for up to [`MAX_SCRAPE_HASHES`] torrents.
    Scrape {
        /// The id from the connect reply.
        connection_id: u64,
        /// Echoed in the reply.
        transaction_id: u32,
        /// The torrents.
        info_hashes: Vec<Id20>,
    },
}

impl UdpRequest {
    /// The transaction id the reply must carry.
    pub fn transaction_id(&self) -> u32 {
        match self {
            UdpRequest::Connect { transaction_id }
            | UdpRequest::Scrape { transaction_id, .. }
            | UdpRequest::Announce(UdpAnnounceRequest { transaction_id, .. }) => *transaction_id,
        }
    }

    /// Appends the packet to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            UdpRequest::Connect { transaction_id } => {
                out.extend_from_slice(&UDP_PROTOCOL_ID.to_be_bytes());
                out.extend_from_slice(&ACTION_CONNECT.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
            }
            UdpRequest::Announce(a) => {
                out.extend_from_slice(&a.connection_id.to_be_bytes());
                out.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
                out.extend_from_slice(&a.transaction_id.to_be_bytes());
                out.extend_from_slice(a.info_hash.as_bytes());
                out.extend_from_slice(a.peer_id.as_bytes());
                out.extend_from_slice(&a.downloaded.to_be_bytes());
                out.extend_from_slice(&a.left.to_be_bytes());
                out.extend_from_slice(&a.uploaded.to_be_bytes());
                out.extend_from_slice(&a.event.as_udp().to_be_bytes());
                out.extend_from_slice(&a.ip.octets());
                out.extend_from_slice(&a.key.to_be_bytes());
                out.extend_from_slice(&a.num_want.to_be_bytes());
                out.extend_from_slice(&a.port.to_be_bytes());
            }
            UdpRequest::Scrape {
                connection_id,
                transaction_id,
                info_hashes,
            } => {
                out.extend_from_slice(&connection_id.to_be_bytes());
                out.extend_from_slice(&ACTION_SCRAPE.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                for h in info_hashes {
                    out.extend_from_slice(h.as_bytes());
                }
            }
        }
    }

    /// Decodes a request packet. Announces may carry BEP 41 options after the 98 fixed bytes;
    /// they are ignored. A scrape's trailing partial info-hash is ignored; more than
    /// [`MAX_SCRAPE_HASHES`] is an error.
    pub fn decode(b: &[u8]) -> Result<UdpRequest, TrackerError> {
        if b.len() > MAX_UDP_PACKET {
            return Err(TrackerError::PacketTooLong {
                what: "request",
                len: b.len(),
                max: MAX_UDP_PACKET,
            });
        }
        let short = |what, min| TrackerError::PacketTooShort {
            what,
            len: b.len(),
            min,
        };
        let (Some(conn), Some(action), Some(tid)) = (be_u64(b, 0), be_u32(b, 8), be_u32(b, 12))
        else {
            return Err(short("request", 16));
        };
        match action {
            ACTION_CONNECT => {
                if conn != UDP_PROTOCOL_ID {
                    return Err(TrackerError::BadProtocolId { found: conn });
                }
                Ok(UdpRequest::Connect {
                    transaction_id: tid,
                })
            }
            ACTION_ANNOUNCE => {
                let r = (|| {
                    let event_code = be_u32(b, 80)?;
                    Some((
                        UdpAnnounceRequest {
                            connection_id: conn,
                            transaction_id: tid,
                            info_hash: Id20::from_slice(b.get(16..36)?)?,
                            peer_id: Id20::from_slice(b.get(36..56)?)?,
                            downloaded: be_u64(b, 56)?,
                            left: be_u64(b, 64)?,
                            uploaded: be_u64(b, 72)?,
                            event: Event::None,
                            ip: Ipv4Addr::from(be_u32(b, 84)?),
                            key: be_u32(b, 88)?,
                            num_want: be_u32(b, 92)? as i32,
                            port: be_u16(b, 96)?,
                        },
                        event_code,
                    ))
                })();
                let (mut a, code) = r.ok_or_else(|| short("announce", ANNOUNCE_REQUEST_LEN))?;
                a.event =
                    Event::from_udp(code).ok_or(TrackerError::UnknownEvent { event: code })?;
                Ok(UdpRequest::Announce(a))
            }
            ACTION_SCRAPE => {
                let body = b.get(16..).unwrap_or_default();
                let count = body.len() / 20;
                if count == 0 {
                    return Err(short("scrape", 36));
                }
                if count > MAX_SCRAPE_HASHES {
                    return Err(TrackerError::TooManyInfoHashes {
                        count,
                        max: MAX_SCRAPE_HASHES,
                    });
                }
                let info_hashes = body.chunks_exact(20).filter_map(Id20::from_slice).collect();
                Ok(UdpRequest::Scrape {
                    connection_id: conn,
                    transaction_id: tid,
                    info_hashes,
                })
            }
            action => Err(TrackerError::UnknownAction { action }),
        }
    }
}

/// The peers of a UDP announce reply: 6-byte IPv4 entries, or 18-byte IPv6 entries when the
/// request came over IPv6 (BEP 15). One reply never mixes the two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpPeers {
    /// IPv4 peers.
    V4(Vec<SocketAddrV4>),
    /// IPv6 peers.
    V6(Vec<SocketAddrV6>),
}

impl UdpPeers {
    /// Number of peers.
    pub fn len(&self) -> usize {
        match self {
            UdpPeers::V4(v) => v.len(),
            UdpPeers::V6(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The peers as socket addresses.
    pub fn to_socket_addrs(&self) -> Vec<SocketAddr> {
        match self {
            UdpPeers::V4(v) => v.iter().map(|a| SocketAddr::V4(*a)).collect(),
            UdpPeers::V6(v) => v.iter().map(|a| SocketAddr::V6(*a)).collect(),
        }
    }
}

/// A UDP announce reply (action 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpAnnounceResponse {
    /// From the request.
    pub transaction_id: u32,
    /// Seconds until the next announce.
    pub interval: u32,
    /// Leechers in the swarm.
    pub leechers: u32,
    /// Seeders in the swarm.
    pub seeders: u32,
    /// The peers.
    pub peers: UdpPeers,
}

impl UdpAnnounceResponse {
    /// Appends an announce reply whose peers are already compact entries (6 bytes each for
    /// IPv4, 18 for IPv6, concatenated): the same bytes as [`UdpResponse::encode`] gives for
    /// [`UdpResponse::Announce`], for a tracker that stores peers compactly and would
    /// otherwise build an address list per reply only to flatten it again.
    pub fn encode_compact(
        transaction_id: u32,
        interval: u32,
        leechers: u32,
        seeders: u32,
        compact_peers: &[u8],
        out: &mut Vec<u8>,
    ) {
        out.reserve(20 + compact_peers.len());
        out.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
        out.extend_from_slice(&transaction_id.to_be_bytes());
        out.extend_from_slice(&interval.to_be_bytes());
        out.extend_from_slice(&leechers.to_be_bytes());
        out.extend_from_slice(&seeders.to_be_bytes());
        out.extend_from_slice(compact_peers);
    }
}

/// A packet a UDP tracker sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpResponse {
    /// Action 0: the connection id to use.
    Connect {
        /// From the request.
        transaction_id: u32,
        /// To put in announces and scrapes.
        connection_id: u64,
    },
    /// Action 1.
    Announce(UdpAnnounceResponse),
    /// Action 2: counters in request order.
    Scrape {
        /// From the request.
        transaction_id: u32,
        /// One entry per requested info-hash.
        stats: Vec<ScrapeStats>,
    },
    /// Action 3: the request failed.
    Error {
        /// From the request.
        transaction_id: u32,
        /// Why (at most [`super::MAX_MESSAGE_LEN`] bytes are written and kept).
        message: String,
    },
}

impl UdpResponse {
    /// The transaction id, to match the reply to its request.
    pub fn transaction_id(&self) -> u32 {
        match self {
            UdpResponse::Connect { transaction_id, .. }
            | UdpResponse::Scrape { transaction_id, .. }
            | UdpResponse::Error { transaction_id, .. }
            | UdpResponse::Announce(UdpAnnounceResponse { transaction_id, .. }) => *transaction_id,
        }
    }

    /// Appends the packet to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            UdpResponse::Connect {
                transaction_id,
                connection_id,
            } => {
                out.extend_from_slice(&ACTION_CONNECT.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                out.extend_from_slice(&connection_id.to_be_bytes());
            }
            UdpResponse::Announce(a) => {
                out.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
                out.extend_from_slice(&a.transaction_id.to_be_bytes());
                out.extend_from_slice(&a.interval.to_be_bytes());
                out.extend_from_slice(&a.leechers.to_be_bytes());
                out.extend_from_slice(&a.seeders.to_be_bytes());
                match &a.peers {
                    UdpPeers::V4(v) => {
                        for p in v {
                            out.extend_from_slice(&p.ip().octets());
                            out.extend_from_slice(&p.port().to_be_bytes());
                        }
                    }
                    UdpPeers::V6(v) => {
                        for p in v {
                            out.extend_from_slice(&p.ip().octets());
                            out.extend_from_slice(&p.port().to_be_bytes());
                        }
                    }
                }
            }
            UdpResponse::Scrape {
                transaction_id,
                stats,
            } => {
                out.extend_from_slice(&ACTION_SCRAPE.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                for s in stats {
                    out.extend_from_slice(&s.complete.to_be_bytes());
                    out.extend_from_slice(&s.downloaded.to_be_bytes());
                    out.extend_from_slice(&s.incomplete.to_be_bytes());
                }
            }
            UdpResponse::Error {
                transaction_id,
                message,
            } => {
                out.extend_from_slice(&ACTION_ERROR.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                out.extend_from_slice(truncate(message).as_bytes());
            }
        }
    }

    /// Decodes a reply packet. `peers_v6` says whether the request went over IPv6, which
    /// makes announce-reply peers 18 bytes instead of 6 (BEP 15).
    pub fn decode(b: &[u8], peers_v6: bool) -> Result<UdpResponse, TrackerError> {
        if b.len() > MAX_UDP_PACKET {
            return Err(TrackerError::PacketTooLong {
                what: "reply",
                len: b.len(),
                max: MAX_UDP_PACKET,
            });
        }
        let short = |what, min| TrackerError::PacketTooShort {
            what,
            len: b.len(),
            min,
        };
        let (Some(action), Some(tid)) = (be_u32(b, 0), be_u32(b, 4)) else {
            return Err(short("reply", 8));
        };
        let body = b.get(8..).unwrap_or_default();
        match action {
            ACTION_CONNECT => {
                let connection_id = be_u64(b, 8).ok_or_else(|| short("connect reply", 16))?;
                Ok(UdpResponse::Connect {
                    transaction_id: tid,
                    connection_id,
                })
            }
            ACTION_ANNOUNCE => {
                let (Some(interval), Some(leechers), Some(seeders)) =
                    (be_u32(b, 8), be_u32(b, 12), be_u32(b, 16))
                else {
                    return Err(short("announce reply", 20));
                };
                let peers = b.get(20..).unwrap_or_default();
                let unit = if peers_v6 { 18 } else { 6 };
                if peers.len() % unit != 0 {
                    return Err(TrackerError::BadCompactPeers {
                        name: "udp announce",
                        len: peers.len(),
                        unit,
                    });
                }
                let count = peers.len() / unit;
                if count > MAX_PEERS_PER_REPLY {
                    return Err(TrackerError::TooManyPeers {
                        count,
                        max: MAX_PEERS_PER_REPLY,
                    });
                }
                let entries = peers.chunks_exact(unit).filter_map(compact_entry);
                let peers = if peers_v6 {
                    UdpPeers::V6(
                        entries
                            .filter_map(|a| match a {
                                SocketAddr::V6(a) => Some(a),
                                _ => None,
                            })
                            .collect(),
                    )
                } else {
                    UdpPeers::V4(
                        entries
                            .filter_map(|a| match a {
                                SocketAddr::V4(a) => Some(a),
                                _ => None,
                            })
                            .collect(),
                    )
                };
                Ok(UdpResponse::Announce(UdpAnnounceResponse {
                    transaction_id: tid,
                    interval,
                    leechers,
                    seeders,
                    peers,
                }))
            }
            ACTION_SCRAPE => {
                if body.len() % 12 != 0 {
                    return Err(TrackerError::BadCompactPeers {
                        name: "udp scrape",
                        len: body.len(),
                        unit: 12,
                    });
                }
                let stats = body
                    .chunks_exact(12)
                    .filter_map(|c| {
                        Some(ScrapeStats {
                            complete: be_u32(c, 0)?,
                            downloaded: be_u32(c, 4)?,
                            incomplete: be_u32(c, 8)?,
                        })
                    })
                    .collect();
                Ok(UdpResponse::Scrape {
                    transaction_id: tid,
                    stats,
                })
            }
            ACTION_ERROR => Ok(UdpResponse::Error {
                transaction_id: tid,
                message: lossy_message(body),
            }),
            action => Err(TrackerError::UnknownAction { action }),
        }
    }
}

fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn connect_request_is_the_bep15_bytes() {
        let mut out = Vec::new();
        UdpRequest::Connect {
            transaction_id: 0x01020304,
        }
        .encode(&mut out);
        assert_eq!(
            out,
            [
                0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 1, 2, 3, 4
            ]
        );
        assert_eq!(
            UdpRequest::decode(&out).unwrap(),
            UdpRequest::Connect {
                transaction_id: 0x01020304
            }
        );
    }

    #[test]
    fn hostile_requests_are_errors() {
        assert!(matches!(
            UdpRequest::decode(&[0; 15]),
            Err(TrackerError::PacketTooShort { .. })
        ));
        let mut bad = vec![0u8; 16];
        assert!(matches!(
            UdpRequest::decode(&bad),
            Err(TrackerError::BadProtocolId { found: 0 })
        ));
        bad[11] = 9;
        assert!(matches!(
            UdpRequest::decode(&bad),
            Err(TrackerError::UnknownAction { action: 9 })
        ));
        bad[11] = 1;
        bad.resize(97, 0);
        assert!(matches!(
            UdpRequest::decode(&bad),
            Err(TrackerError::PacketTooShort { min: 98, .. })
        ));
        bad.resize(98, 0);
        bad[83] = 4;
        assert!(matches!(
            UdpRequest::decode(&bad),
            Err(TrackerError::UnknownEvent { event: 4 })
        ));
        bad[83] = 0;
        bad.extend_from_slice(&[2, 5, 1, 2, 3, 4, 5]); // BEP 41 options are ignored
        assert!(matches!(
            UdpRequest::decode(&bad),
            Ok(UdpRequest::Announce(_))
        ));
        let mut scrape = vec![0u8; 16];
        scrape[11] = 2;
        assert!(matches!(
            UdpRequest::decode(&scrape),
            Err(TrackerError::PacketTooShort { .. })
        ));
        scrape.resize(16 + 20 * (MAX_SCRAPE_HASHES + 1), 0);
        assert!(matches!(
            UdpRequest::decode(&scrape),
            Err(TrackerError::TooManyInfoHashes { .. })
        ));
        assert!(matches!(
            UdpRequest::decode(&vec![0; MAX_UDP_PACKET + 1]),
            Err(TrackerError::PacketTooLong { .. })
        ));
    }

    #[test]
    fn ipv6_announce_reply_uses_18_byte_peers() {
        let r = UdpResponse::Announce(UdpAnnounceResponse {
            transaction_id: 7,
            interval: 60,
            leechers: 1,
            seeders: 2,
            peers: UdpPeers::V6(vec!["[::1]:6881".parse().unwrap()]),
        });
        let mut out = Vec::new();
        r.encode(&mut out);
        assert_eq!(out.len(), 20 + 18);
        assert_eq!(UdpResponse::decode(&out, true).unwrap(), r);
        // Read as IPv4, 18 bytes are three 6-byte entries: well-formed, but different.
        assert_ne!(UdpResponse::decode(&out, false).unwrap(), r);
        out.push(0);
        assert!(matches!(
            UdpResponse::decode(&out, true),
            Err(TrackerError::BadCompactPeers { .. })
        ));
    }

    #[test]
    fn error_reply_round_trips() {
        let r = UdpResponse::Error {
            transaction_id: 3,
            message: "bad connection id".into(),
        };
        let mut out = Vec::new();
        r.encode(&mut out);
        assert_eq!(UdpResponse::decode(&out, false).unwrap(), r);
    }

    fn arb_event() -> impl Strategy<Value = Event> {
        (0u32..4).prop_map(|c| Event::from_udp(c).unwrap_or_default())
    }

    fn arb_request() -> impl Strategy<Value = UdpRequest> {
        let announce = (
            (
                any::<u64>(),
                any::<u32>(),
                any::<[u8; 20]>(),
                any::<[u8; 20]>(),
            ),
            (any::<u64>(), any::<u64>(), any::<u64>(), arb_event()),
            (any::<u32>(), any::<u32>(), any::<i32>(), any::<u16>()),
        )
            .prop_map(|((c, t, ih, pid), (d, l, u, e), (ip, key, nw, port))| {
                UdpRequest::Announce(UdpAnnounceRequest {
                    connection_id: c,
                    transaction_id: t,
                    info_hash: Id20(ih),
                    peer_id: Id20(pid),
                    downloaded: d,
                    left: l,
                    uploaded: u,
                    event: e,
                    ip: Ipv4Addr::from(ip),
                    key,
                    num_want: nw,
                    port,
                })
            });
        prop_oneof![
            any::<u32>().prop_map(|t| UdpRequest::Connect { transaction_id: t }),
            announce,
            (
                any::<u64>(),
                any::<u32>(),
                proptest::collection::vec(any::<[u8; 20]>(), 1..=MAX_SCRAPE_HASHES)
            )
                .prop_map(|(c, t, hs)| UdpRequest::Scrape {
                    connection_id: c,
                    transaction_id: t,
                    info_hashes: hs.into_iter().map(Id20).collect(),
                }),
        ]
    }

    fn arb_response(v6: bool) -> impl Strategy<Value = UdpResponse> {
        let peers = if v6 {
            proptest::collection::vec(any::<([u8; 16], u16)>(), 0..50)
                .prop_map(|v| {
                    UdpPeers::V6(
                        v.into_iter()
                            .map(|(ip, p)| SocketAddrV6::new(ip.into(), p, 0, 0))
                            .collect(),
                    )
                })
                .boxed()
        } else {
            proptest::collection::vec(any::<SocketAddrV4>(), 0..50)
                .prop_map(UdpPeers::V4)
                .boxed()
        };
        prop_oneof![
            (any::<u32>(), any::<u64>()).prop_map(|(t, c)| UdpResponse::Connect {
                transaction_id: t,
                connection_id: c
            }),
            (any::<(u32, u32, u32, u32)>(), peers).prop_map(|((t, i, l, s), peers)| {
                UdpResponse::Announce(UdpAnnounceResponse {
                    transaction_id: t,
                    interval: i,
                    leechers: l,
                    seeders: s,
                    peers,
                })
            }),
            (
                any::<u32>(),
                proptest::collection::vec(any::<(u32, u32, u32)>(), 0..74)
            )
                .prop_map(|(t, s)| {
                    UdpResponse::Scrape {
                        transaction_id: t,
                        stats: s
                            .into_iter()
                            .map(|(c, d, i)| ScrapeStats {
                                complete: c,
                                downloaded: d,
                                incomplete: i,
                            })
                            .collect(),
                    }
                }),
            (any::<u32>(), "\\PC{0,60}").prop_map(|(t, m)| UdpResponse::Error {
                transaction_id: t,
                message: m
            }),
        ]
    }

    proptest! {
        #[test]
        fn request_round_trip(r in arb_request()) {
            let mut out = Vec::new();
            r.encode(&mut out);
            prop_assert_eq!(UdpRequest::decode(&out).unwrap(), r);
        }

        #[test]
        fn response_round_trip_v4(r in arb_response(false)) {
            let mut out = Vec::new();
            r.encode(&mut out);
            prop_assert_eq!(UdpResponse::decode(&out, false).unwrap(), r);
        }

        #[test]
        fn response_round_trip_v6(r in arb_response(true)) {
            let mut out = Vec::new();
            r.encode(&mut out);
            prop_assert_eq!(UdpResponse::decode(&out, true).unwrap(), r);
        }

        #[test]
        fn compact_announce_encoding_matches(r in arb_response(false)) {
            if let UdpResponse::Announce(a) = &r {
                let mut full = Vec::new();
                r.encode(&mut full);
                let mut compact = Vec::new();
                if let UdpPeers::V4(v) = &a.peers {
                    for p in v {
                        compact.extend_from_slice(&p.ip().octets());
                        compact.extend_from_slice(&p.port().to_be_bytes());
                    }
                }
                let mut out = Vec::new();
                UdpAnnounceResponse::encode_compact(
                    a.transaction_id, a.interval, a.leechers, a.seeders, &compact, &mut out,
                );
                prop_assert_eq!(out, full);
            }
        }

        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200), v6 in any::<bool>()) {
            let _ = UdpRequest::decode(&b);
            let _ = UdpResponse::decode(&b, v6);
        }
    }
}
