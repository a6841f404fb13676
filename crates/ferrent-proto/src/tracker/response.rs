//! The HTTP announce reply (BEP 3): bencoded dictionary with `interval`, the peer list in
//! compact (BEP 23) or dictionary form, `peers6` (BEP 7), or a `failure reason`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use ferrent_bencode::{DecodeOptions, Dict, Value, write_bytes, write_int};
use ferrent_core::Id20;

use super::error::TrackerError;
use super::{MAX_HTTP_RESPONSE_LEN, MAX_MESSAGE_LEN, MAX_PEERS_PER_REPLY};

/// An HTTP tracker reply: the payload, or the tracker's `failure reason` (BEP 3: when present,
/// no other key matters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpReply<T> {
    /// The request succeeded.
    Success(T),
    /// The tracker refused the request, saying why (at most [`MAX_MESSAGE_LEN`] bytes kept).
    Failure(String),
}

/// Appends `d14:failure reason<reason>e`, the reply to a refused request.
pub(crate) fn write_failure(reason: &str, out: &mut Vec<u8>) {
    out.push(b'd');
    write_bytes(out, b"failure reason");
    write_bytes(out, truncate(reason).as_bytes());
    out.push(b'e');
}

impl<T> HttpReply<T> {
    /// Appends the bencoded failure reply `d14:failure reason...e` to `out`.
    pub fn encode_failure(reason: &str, out: &mut Vec<u8>) {
        write_failure(reason, out);
    }
}

/// One peer of a reply: its address and, in the dictionary form, its peer id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerEntry {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The peer id (only in the dictionary form, and not when the client sent `no_peer_id=1`).
    pub peer_id: Option<Id20>,
}

/// How to encode the peer list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerListFormat {
    /// BEP 23: IPv4 peers as 6-byte entries in `peers`, IPv6 as 18-byte entries in `peers6`
    /// (BEP 7). Peer ids are not sent.
    Compact,
    /// BEP 3: a list of `{ip, peer id, port}` dictionaries; `peer_ids: false` leaves the ids out
    /// (`no_peer_id=1`).
    Dict {
        /// Whether to include `peer id`.
        peer_ids: bool,
    },
}

/// A successful HTTP announce reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AnnounceResponse {
    /// `interval`: seconds until the client should announce again.
    pub interval: u32,
    /// `min interval`: the client must not announce more often than this.
    pub min_interval: Option<u32>,
    /// `tracker id`: to send back as `trackerid`.
    pub tracker_id: Option<Vec<u8>>,
    /// `complete`: seeders in the swarm.
    pub complete: Option<u32>,
    /// `incomplete`: leechers in the swarm.
    pub incomplete: Option<u32>,
    /// `warning message`: shown to the user; the request still succeeded.
    pub warning: Option<String>,
    /// The peers, IPv4 and IPv6 together.
    pub peers: Vec<PeerEntry>,
}

impl AnnounceResponse {
    /// Appends the bencoded reply to `out` with the peer list in `format`.
    pub fn encode(&self, format: PeerListFormat, out: &mut Vec<u8>) {
        out.push(b'd');
        if let Some(c) = self.complete {
            write_bytes(out, b"complete");
            write_int(out, i64::from(c));
        }
        if let Some(i) = self.incomplete {
            write_bytes(out, b"incomplete");
            write_int(out, i64::from(i));
        }
        write_bytes(out, b"interval");
        write_int(out, i64::from(self.interval));
        if let Some(m) = self.min_interval {
            write_bytes(out, b"min interval");
            write_int(out, i64::from(m));
        }
        match format {
            PeerListFormat::Compact => {
                let mut v4 = Vec::new();
                let mut v6 = Vec::new();
                for p in &self.peers {
                    match p.addr {
                        SocketAddr::V4(a) => {
                            v4.extend_from_slice(&a.ip().octets());
                            v4.extend_from_slice(&a.port().to_be_bytes());
                        }
                        SocketAddr::V6(a) => {
                            v6.extend_from_slice(&a.ip().octets());
                            v6.extend_from_slice(&a.port().to_be_bytes());
                        }
                    }
                }
                write_bytes(out, b"peers");
                write_bytes(out, &v4);
                if !v6.is_empty() {
                    write_bytes(out, b"peers6");
                    write_bytes(out, &v6);
                }
            }
            PeerListFormat::Dict { peer_ids } => {
                write_bytes(out, b"peers");
                out.push(b'l');
                for p in &self.peers {
                    out.push(b'd');
                    write_bytes(out, b"ip");
                    write_bytes(out, p.addr.ip().to_string().as_bytes());
                    if let (true, Some(id)) = (peer_ids, p.peer_id) {
                        write_bytes(out, b"peer id");
                        write_bytes(out, id.as_bytes());
                    }
                    write_bytes(out, b"port");
                    write_int(out, i64::from(p.addr.port()));
                    out.push(b'e');
                }
                out.push(b'e');
            }
        }
        if let Some(t) = &self.tracker_id {
            write_bytes(out, b"tracker id");
            write_bytes(out, t);
        }
        if let Some(w) = &self.warning {
            write_bytes(out, b"warning message");
            write_bytes(out, truncate(w).as_bytes());
        }
        out.push(b'e');
    }

    /// Decodes a tracker's reply body. Bounded: at most [`MAX_HTTP_RESPONSE_LEN`] bytes and
    /// [`MAX_PEERS_PER_REPLY`] peers. Non-canonical bencode (unsorted keys) is accepted, as
    /// trackers in the wild send it. Dictionary-form peers whose `ip` is a host name rather than
    /// an address are skipped (resolving is not a codec's job).
    pub fn decode(body: &[u8]) -> Result<HttpReply<AnnounceResponse>, TrackerError> {
        let dict = decode_reply_dict(body)?;
        let dict = match dict {
            Ok(d) => d,
            Err(reason) => return Ok(HttpReply::Failure(reason)),
        };
        let Value::Dict(d) = &dict else {
            return Err(TrackerError::NotADict {
                found: dict.type_name(),
            });
        };
        let interval =
            u32_field(d, "interval")?.ok_or(TrackerError::MissingField { name: "interval" })?;
        let mut peers = Vec::new();
        match d.get(b"peers") {
            None => {}
            Some(Value::Bytes(b)) => compact_peers(b, "peers", 6, &mut peers)?,
            Some(Value::List(list)) => dict_peers(list, &mut peers)?,
            Some(_) => {
                return Err(TrackerError::BadField {
                    name: "peers",
                    reason: "neither a string nor a list",
                });
            }
        }
        match d.get(b"peers6") {
            None => {}
            Some(Value::Bytes(b)) => compact_peers(b, "peers6", 18, &mut peers)?,
            Some(_) => {
                return Err(TrackerError::BadField {
                    name: "peers6",
                    reason: "not a string",
                });
            }
        }
        Ok(HttpReply::Success(AnnounceResponse {
            interval,
            min_interval: u32_field(d, "min interval")?,
            tracker_id: bytes_field(d, "tracker id")?.map(|b| b.to_vec()),
            complete: u32_field(d, "complete")?,
            incomplete: u32_field(d, "incomplete")?,
            warning: bytes_field(d, "warning message")?.map(lossy_message),
            peers,
        }))
    }
}

/// Decodes a bounded reply body; `Ok(Err(reason))` when it is a failure reply.
pub(crate) fn decode_reply_dict(body: &[u8]) -> Result<Result<Value<'_>, String>, TrackerError> {
    if body.len() > MAX_HTTP_RESPONSE_LEN {
        return Err(TrackerError::ResponseTooLarge {
            len: body.len(),
            max: MAX_HTTP_RESPONSE_LEN,
        });
    }
    let opts = DecodeOptions {
        max_input: MAX_HTTP_RESPONSE_LEN,
        // A dictionary peer is 4 values (dict, ip, peer id, port) plus its key strings.
        max_items: MAX_PEERS_PER_REPLY * 8 + 1024,
        max_depth: 8,
        ..DecodeOptions::lenient()
    };
    let v = ferrent_bencode::decode_with(body, &opts)?.value;
    if let Some(r) = v.as_dict().and_then(|d| d.get(b"failure reason")) {
        let reason = r.as_bytes().ok_or(TrackerError::BadField {
            name: "failure reason",
            reason: "not a string",
        })?;
        return Ok(Err(lossy_message(reason)));
    }
    Ok(Ok(v))
}

pub(crate) fn u32_field(d: &Dict<'_>, name: &'static str) -> Result<Option<u32>, TrackerError> {
    match d.get(name.as_bytes()) {
        None => Ok(None),
        Some(Value::Int(n)) => u32::try_from(*n)
            .map(Some)
            .map_err(|_| TrackerError::BadField {
                name,
                reason: "out of range 0..2^32",
            }),
        Some(_) => Err(TrackerError::BadField {
            name,
            reason: "not an integer",
        }),
    }
}

fn bytes_field<'a>(d: &Dict<'a>, name: &'static str) -> Result<Option<&'a [u8]>, TrackerError> {
    match d.get(name.as_bytes()) {
        None => Ok(None),
        Some(Value::Bytes(b)) => Ok(Some(b)),
        Some(_) => Err(TrackerError::BadField {
            name,
            reason: "not a string",
        }),
    }
}

fn compact_peers(
    b: &[u8],
    name: &'static str,
    unit: usize,
    out: &mut Vec<PeerEntry>,
) -> Result<(), TrackerError> {
    if !b.len().is_multiple_of(unit) {
        return Err(TrackerError::BadCompactPeers {
            name,
            len: b.len(),
            unit,
        });
    }
    let count = out.len() + b.len() / unit;
    if count > MAX_PEERS_PER_REPLY {
        return Err(TrackerError::TooManyPeers {
            count,
            max: MAX_PEERS_PER_REPLY,
        });
    }
    out.extend(
        b.chunks_exact(unit)
            .filter_map(compact_entry)
            .map(|addr| PeerEntry {
                addr,
                peer_id: None,
            }),
    );
    Ok(())
}

/// One 6-byte (IPv4) or 18-byte (IPv6) compact entry: address then big-endian port.
pub(crate) fn compact_entry(c: &[u8]) -> Option<SocketAddr> {
    match c.len() {
        6 => {
            let ip: [u8; 4] = c.get(..4)?.try_into().ok()?;
            let port = u16::from_be_bytes(c.get(4..6)?.try_into().ok()?);
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        18 => {
            let ip: [u8; 16] = c.get(..16)?.try_into().ok()?;
            let port = u16::from_be_bytes(c.get(16..18)?.try_into().ok()?);
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                0,
                0,
            )))
        }
        _ => None,
    }
}

fn dict_peers(list: &[Value<'_>], out: &mut Vec<PeerEntry>) -> Result<(), TrackerError> {
    let count = out.len() + list.len();
    if count > MAX_PEERS_PER_REPLY {
        return Err(TrackerError::TooManyPeers {
            count,
            max: MAX_PEERS_PER_REPLY,
        });
    }
    for v in list {
        let d = v.as_dict().ok_or(TrackerError::BadField {
            name: "peers",
            reason: "entry is not a dictionary",
        })?;
        let ip = d.get_bytes(b"ip").ok_or(TrackerError::BadField {
            name: "peers",
            reason: "entry lacks ip",
        })?;
        let port = d
            .get_int(b"port")
            .and_then(|p| u16::try_from(p).ok())
            .ok_or(TrackerError::BadField {
                name: "peers",
                reason: "entry lacks a port in 0..65536",
            })?;
        let peer_id = match d.get(b"peer id") {
            None => None,
            Some(Value::Bytes(b)) => Id20::from_slice(b),
            Some(_) => {
                return Err(TrackerError::BadField {
                    name: "peers",
                    reason: "peer id is not a string",
                });
            }
        };
        let Some(ip) = std::str::from_utf8(ip)
            .ok()
            .and_then(|s| s.parse::<IpAddr>().ok())
        else {
            continue;
        };
        out.push(PeerEntry {
            addr: SocketAddr::new(ip, port),
            peer_id,
        });
    }
    Ok(())
}

/// Text from a tracker, lossily decoded and truncated to [`MAX_MESSAGE_LEN`] bytes.
pub(crate) fn lossy_message(b: &[u8]) -> String {
    let b = b.get(..MAX_MESSAGE_LEN).unwrap_or(b);
    truncate(&String::from_utf8_lossy(b)).to_owned()
}

/// `s` cut to at most [`MAX_MESSAGE_LEN`] bytes, on a character boundary.
pub(crate) fn truncate(s: &str) -> &str {
    if s.len() <= MAX_MESSAGE_LEN {
        return s;
    }
    let mut end = MAX_MESSAGE_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(a: [u8; 4], port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::from(a), port)
    }

    #[test]
    fn compact_reply_matches_bep23() {
        let r = AnnounceResponse {
            interval: 1800,
            min_interval: Some(900),
            complete: Some(1),
            incomplete: Some(2),
            peers: vec![
                PeerEntry {
                    addr: v4([127, 0, 0, 1], 6881),
                    peer_id: None,
                },
                PeerEntry {
                    addr: "[::1]:80".parse().unwrap(),
                    peer_id: None,
                },
            ],
            ..Default::default()
        };
        let mut out = Vec::new();
        r.encode(PeerListFormat::Compact, &mut out);
        let mut expected = b"d8:completei1e10:incompletei2e8:intervali1800e12:min intervali900e5:peers6:\x7f\x00\x00\x01\x1a\xe16:peers618:".to_vec();
        expected.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        expected.extend_from_slice(b"\x00\x50e");
        assert_eq!(out, expected);
        // The encoding is canonical bencode.
        assert!(ferrent_bencode::decode(&out).is_ok());
        assert_eq!(
            AnnounceResponse::decode(&out).unwrap(),
            HttpReply::Success(r)
        );
    }

    #[test]
    fn dict_reply_carries_peer_ids_when_asked() {
        let r = AnnounceResponse {
            interval: 60,
            peers: vec![PeerEntry {
                addr: v4([10, 0, 0, 2], 1),
                peer_id: Some(Id20([7; 20])),
            }],
            ..Default::default()
        };
        let mut with = Vec::new();
        r.encode(PeerListFormat::Dict { peer_ids: true }, &mut with);
        assert!(ferrent_bencode::decode(&with).is_ok());
        assert_eq!(
            AnnounceResponse::decode(&with).unwrap(),
            HttpReply::Success(r.clone())
        );
        let mut without = Vec::new();
        r.encode(PeerListFormat::Dict { peer_ids: false }, &mut without);
        let HttpReply::Success(d) = AnnounceResponse::decode(&without).unwrap() else {
            panic!()
        };
        assert_eq!(d.peers[0].peer_id, None);
    }

    #[test]
    fn failure_reason_wins() {
        let mut out = Vec::new();
        HttpReply::<AnnounceResponse>::encode_failure("nope", &mut out);
        assert_eq!(out, b"d14:failure reason4:nopee");
        assert_eq!(
            AnnounceResponse::decode(&out).unwrap(),
            HttpReply::Failure("nope".into())
        );
        let long = "x".repeat(5000);
        out.clear();
        HttpReply::<AnnounceResponse>::encode_failure(&long, &mut out);
        let HttpReply::Failure(r) = AnnounceResponse::decode(&out).unwrap() else {
            panic!()
        };
        assert_eq!(r.len(), MAX_MESSAGE_LEN);
    }

    #[test]
    fn hostile_replies_are_errors() {
        assert!(matches!(
            AnnounceResponse::decode(b"le"),
            Err(TrackerError::NotADict { .. })
        ));
        assert!(matches!(
            AnnounceResponse::decode(b"d5:peers0:e"),
            Err(TrackerError::MissingField { name: "interval" })
        ));
        assert!(matches!(
            AnnounceResponse::decode(b"d8:intervali-1e5:peers0:e"),
            Err(TrackerError::BadField {
                name: "interval",
                ..
            })
        ));
        assert!(matches!(
            AnnounceResponse::decode(b"d8:intervali1e5:peers5:abcdee"),
            Err(TrackerError::BadCompactPeers {
                len: 5,
                unit: 6,
                ..
            })
        ));
        let big = vec![b' '; MAX_HTTP_RESPONSE_LEN + 1];
        assert!(matches!(
            AnnounceResponse::decode(&big),
            Err(TrackerError::ResponseTooLarge { .. })
        ));
        let mut many = b"d8:intervali1e5:peers".to_vec();
        let n = (MAX_PEERS_PER_REPLY + 1) * 6;
        many.extend_from_slice(format!("{n}:").as_bytes());
        many.extend(std::iter::repeat_n(1u8, n));
        many.push(b'e');
        assert!(matches!(
            AnnounceResponse::decode(&many),
            Err(TrackerError::TooManyPeers { .. })
        ));
    }

    #[test]
    fn unsorted_keys_and_host_names_are_tolerated() {
        let body = b"d5:peersld2:ip9:host.name4:porti1eed2:ip8:10.0.0.14:porti2eee8:intervali5ee";
        let HttpReply::Success(r) = AnnounceResponse::decode(body).unwrap() else {
            panic!()
        };
        assert_eq!(r.interval, 5);
        assert_eq!(
            r.peers,
            [PeerEntry {
                addr: v4([10, 0, 0, 1], 2),
                peer_id: None
            }]
        );
    }

    fn arb_peer(with_id: bool) -> impl Strategy<Value = PeerEntry> {
        (any::<SocketAddr>(), any::<[u8; 20]>()).prop_map(move |(addr, id)| {
            let addr = match addr {
                SocketAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(*a.ip(), a.port(), 0, 0)),
                a => a,
            };
            PeerEntry {
                addr,
                peer_id: with_id.then_some(Id20(id)),
            }
        })
    }

    fn arb_response(with_id: bool) -> impl Strategy<Value = AnnounceResponse> {
        (
            (
                any::<u32>(),
                any::<Option<u32>>(),
                any::<Option<u32>>(),
                any::<Option<u32>>(),
            ),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..32)),
            proptest::option::of("\\PC{0,40}"),
            proptest::collection::vec(arb_peer(with_id), 0..20),
        )
            .prop_map(
                |((interval, min_interval, complete, incomplete), tracker_id, warning, peers)| {
                    AnnounceResponse {
                        interval,
                        min_interval,
                        tracker_id,
                        complete,
                        incomplete,
                        warning,
                        peers,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn dict_round_trip(r in arb_response(true)) {
            let mut out = Vec::new();
            r.encode(PeerListFormat::Dict { peer_ids: true }, &mut out);
            prop_assert!(ferrent_bencode::decode(&out).is_ok(), "not canonical");
            prop_assert_eq!(AnnounceResponse::decode(&out).unwrap(), HttpReply::Success(r));
        }

        #[test]
        fn compact_round_trip(r in arb_response(false)) {
            let mut out = Vec::new();
            r.encode(PeerListFormat::Compact, &mut out);
            prop_assert!(ferrent_bencode::decode(&out).is_ok(), "not canonical");
            let HttpReply::Success(mut d) = AnnounceResponse::decode(&out).unwrap() else {
                return Err(TestCaseError::fail("failure"));
            };
            // Compact form groups IPv4 before IPv6.
            let mut want = r.clone();
            want.peers.sort_by_key(|p| p.addr.is_ipv6());
            d.peers.sort_by_key(|p| p.addr.is_ipv6());
            prop_assert_eq!(d, want);
        }

        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = AnnounceResponse::decode(&b);
        }
    }
}
