//! The HTTP announce request (BEP 3): the query string a client sends and a tracker parses.

use std::net::IpAddr;

use ferrent_core::Id20;

use super::error::TrackerError;
use super::query::{pairs, percent_decode, push_bytes_param, push_param};
use super::{MAX_QUERY_LEN, MAX_TOKEN_LEN};

/// The `event` of an announce (BEP 3; BEP 15 numbers them 0..=3 in the same meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Event {
    /// A regular, periodic announce (no `event` parameter; UDP 0).
    #[default]
    None,
    /// The download finished (UDP 1). Sent once, not when starting as a seed.
    Completed,
    /// The first announce of a session (UDP 2).
    Started,
    /// The client leaves the swarm (UDP 3).
    Stopped,
}

impl Event {
    /// The HTTP `event` value, or `None` for a regular announce.
    pub fn as_http(self) -> Option<&'static str> {
        match self {
            Event::None => None,
            Event::Completed => Some("completed"),
            Event::Started => Some("started"),
            Event::Stopped => Some("stopped"),
        }
    }

    /// The BEP 15 event code.
    pub fn as_udp(self) -> u32 {
        match self {
            Event::None => 0,
            Event::Completed => 1,
            Event::Started => 2,
            Event::Stopped => 3,
        }
    }

    /// The event for a BEP 15 event code.
    pub fn from_udp(code: u32) -> Option<Event> {
        match code {
            0 => Some(Event::None),
            1 => Some(Event::Completed),
            2 => Some(Event::Started),
            3 => Some(Event::Stopped),
            _ => None,
        }
    }

    /// The event for an HTTP `event` value. The empty value, `empty` (sent by some clients) and
    /// BEP 21's `paused` mean a regular announce.
    pub fn from_http(s: &[u8]) -> Option<Event> {
        match s {
            b"" | b"empty" | b"paused" => Some(Event::None),
            b"completed" => Some(Event::Completed),
            b"started" => Some(Event::Started),
            b"stopped" => Some(Event::Stopped),
            _ => None,
        }
    }
}

/// An HTTP announce (BEP 3, with BEP 23 `compact`). Build one with [`AnnounceRequest::new`] and
/// set the fields; [`AnnounceRequest::write_query`] produces the query string and
/// [`AnnounceRequest::parse_query`] reads one back with every field validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// `info_hash`: the torrent (20 bytes; for v2-only torrents the truncated v2 hash, BEP 52).
    pub info_hash: Id20,
    /// `peer_id`: the client's 20-byte id.
    pub peer_id: Id20,
    /// `port`: where the client accepts peer connections.
    pub port: u16,
    /// `uploaded`: bytes sent since the `started` event.
    pub uploaded: u64,
    /// `downloaded`: bytes received since the `started` event.
    pub downloaded: u64,
    /// `left`: bytes still missing (0 = seed).
    pub left: u64,
    /// `event`.
    pub event: Event,
    /// `compact=1`: the client accepts the compact peer list (BEP 23). Parsing treats an absent
    /// `compact` as `false`.
    pub compact: bool,
    /// `no_peer_id=1`: the dictionary peer list may omit peer ids.
    pub no_peer_id: bool,
    /// `numwant`: how many peers the client wants (`None` = the tracker's default). Parsing
    /// saturates huge values at `u32::MAX` and reads a negative value as `None`.
    pub numwant: Option<u32>,
    /// `key`: a token that identifies the client across IP changes (at most
    /// [`MAX_TOKEN_LEN`] bytes).
    pub key: Option<Vec<u8>>,
    /// `trackerid`: the `tracker id` of a previous reply (at most [`MAX_TOKEN_LEN`] bytes).
    pub tracker_id: Option<Vec<u8>>,
    /// `ip`: the address the client asks to be announced with (an IP literal; host names are
    /// rejected by the parser).
    pub ip: Option<IpAddr>,
}

impl AnnounceRequest {
    /// A regular announce of a client that has nothing yet (`left` = 0 until set), compact.
    pub fn new(info_hash: Id20, peer_id: Id20, port: u16) -> Self {
        AnnounceRequest {
            info_hash,
            peer_id,
            port,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: Event::None,
            compact: true,
            no_peer_id: false,
            numwant: None,
            key: None,
            tracker_id: None,
            ip: None,
        }
    }

    /// Appends the query string (without `?`) to `out`, binary values percent-encoded.
    pub fn write_query(&self, out: &mut String) {
        push_bytes_param(out, "info_hash", self.info_hash.as_bytes());
        push_bytes_param(out, "peer_id", self.peer_id.as_bytes());
        push_param(out, "port", self.port);
        push_param(out, "uploaded", self.uploaded);
        push_param(out, "downloaded", self.downloaded);
        push_param(out, "left", self.left);
        push_param(out, "compact", u8::from(self.compact));
        if self.no_peer_id {
            push_param(out, "no_peer_id", 1);
        }
        if let Some(ev) = self.event.as_http() {
            push_param(out, "event", ev);
        }
        if let Some(n) = self.numwant {
            push_param(out, "numwant", n);
        }
        if let Some(k) = &self.key {
            push_bytes_param(out, "key", k);
        }
        if let Some(t) = &self.tracker_id {
            push_bytes_param(out, "trackerid", t);
        }
        if let Some(ip) = self.ip {
            push_param(out, "ip", ip);
        }
    }

    /// The full announce URL: `announce_url` plus the query, joined with `?` or, when the URL
    /// already has a query (some private trackers put a passkey there), with `&`.
    pub fn to_url(&self, announce_url: &str) -> String {
        let mut q = String::with_capacity(256);
        self.write_query(&mut q);
        let sep = if announce_url.contains('?') { '&' } else { '?' };
        format!("{announce_url}{sep}{q}")
    }

    /// Parses the query string of an announce (what follows `?`), as a tracker receives it.
    ///
    /// `info_hash`, `peer_id` and `port` are required; `info_hash` and `peer_id` must be exactly
    /// 20 bytes after percent-decoding; numbers must be plain decimal; `uploaded`, `downloaded`
    /// and `left` default to 0. Unknown parameters are ignored; a known one given twice is an
    /// error. The query must be at most [`MAX_QUERY_LEN`] bytes.
    pub fn parse_query(query: &str) -> Result<Self, TrackerError> {
        if query.len() > MAX_QUERY_LEN {
            return Err(TrackerError::QueryTooLong {
                len: query.len(),
                max: MAX_QUERY_LEN,
            });
        }
        let mut p = Parsed::default();
        for (name, raw) in pairs(query) {
            let slot = match name {
                "info_hash" => &mut p.info_hash,
                "peer_id" => &mut p.peer_id,
                "port" => &mut p.port,
                "uploaded" => &mut p.uploaded,
                "downloaded" => &mut p.downloaded,
                "left" => &mut p.left,
                "event" => &mut p.event,
                "compact" => &mut p.compact,
                "no_peer_id" => &mut p.no_peer_id,
                "numwant" | "num_want" => &mut p.numwant,
                "key" => &mut p.key,
                "trackerid" => &mut p.tracker_id,
                "ip" => &mut p.ip,
                _ => continue,
            };
            if slot.is_some() {
                return Err(TrackerError::DuplicateParam {
                    name: static_name(name),
                });
            }
            let value = percent_decode(raw).map_err(|offset| TrackerError::BadPercentEncoding {
                name: name.chars().take(32).collect(),
                offset,
            })?;
            *slot = Some(value);
        }
        let info_hash = id20("info_hash", p.info_hash)?;
        let peer_id = id20("peer_id", p.peer_id)?;
        let port = p.port.ok_or(TrackerError::MissingParam { name: "port" })?;
        let port =
            u16::try_from(parse_u64("port", &port)?).map_err(|_| TrackerError::BadParam {
                name: "port",
                reason: "greater than 65535",
            })?;
        let event = match p.event {
            None => Event::None,
            Some(v) => Event::from_http(&v).ok_or(TrackerError::BadParam {
                name: "event",
                reason: "not one of started, completed, stopped",
            })?,
        };
        Ok(AnnounceRequest {
            info_hash,
            peer_id,
            port,
            uploaded: opt_u64("uploaded", p.uploaded)?,
            downloaded: opt_u64("downloaded", p.downloaded)?,
            left: opt_u64("left", p.left)?,
            event,
            compact: flag("compact", p.compact)?,
            no_peer_id: flag("no_peer_id", p.no_peer_id)?,
            numwant: p.numwant.map(|v| parse_numwant(&v)).transpose()?.flatten(),
            key: token("key", p.key)?,
            tracker_id: token("trackerid", p.tracker_id)?,
            ip: p.ip.map(|v| parse_ip(&v)).transpose()?,
        })
    }
}

#[derive(Default)]
struct Parsed {
    info_hash: Option<Vec<u8>>,
    peer_id: Option<Vec<u8>>,
    port: Option<Vec<u8>>,
    uploaded: Option<Vec<u8>>,
    downloaded: Option<Vec<u8>>,
    left: Option<Vec<u8>>,
    event: Option<Vec<u8>>,
    compact: Option<Vec<u8>>,
    no_peer_id: Option<Vec<u8>>,
    numwant: Option<Vec<u8>>,
    key: Option<Vec<u8>>,
    tracker_id: Option<Vec<u8>>,
    ip: Option<Vec<u8>>,
}

fn static_name(name: &str) -> &'static str {
    const NAMES: [&str; 14] = [
        "info_hash",
        "peer_id",
        "port",
        "uploaded",
        "downloaded",
        "left",
        "event",
        "compact",
        "no_peer_id",
        "numwant",
        "num_want",
        "key",
        "trackerid",
        "ip",
    ];
    NAMES.iter().find(|n| **n == name).copied().unwrap_or("?")
}

pub(crate) fn id20(name: &'static str, v: Option<Vec<u8>>) -> Result<Id20, TrackerError> {
    let v = v.ok_or(TrackerError::MissingParam { name })?;
    Id20::from_slice(&v).ok_or(TrackerError::BadLength {
        name,
        len: v.len(),
        expected: 20,
    })
}

/// Plain decimal digits (no sign, no spaces), at most `u64::MAX`.
fn parse_u64(name: &'static str, v: &[u8]) -> Result<u64, TrackerError> {
    if v.is_empty() {
        return Err(TrackerError::BadParam {
            name,
            reason: "empty",
        });
    }
    let mut n: u64 = 0;
    for &c in v {
        if !c.is_ascii_digit() {
            return Err(TrackerError::BadParam {
                name,
                reason: "not a non-negative integer",
            });
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(c - b'0')))
            .ok_or(TrackerError::BadParam {
                name,
                reason: "too large",
            })?;
    }
    Ok(n)
}

fn opt_u64(name: &'static str, v: Option<Vec<u8>>) -> Result<u64, TrackerError> {
    v.map_or(Ok(0), |v| parse_u64(name, &v))
}

fn flag(name: &'static str, v: Option<Vec<u8>>) -> Result<bool, TrackerError> {
    match v.as_deref() {
        None | Some(b"0") => Ok(false),
        Some(b"1") => Ok(true),
        Some(_) => Err(TrackerError::BadParam {
            name,
            reason: "expected 0 or 1",
        }),
    }
}

/// `numwant`: digits, saturated at `u32::MAX`; a negative number (`-1` = "default", sent by
/// some clients) is `None`.
fn parse_numwant(v: &[u8]) -> Result<Option<u32>, TrackerError> {
    const NAME: &str = "numwant";
    let (neg, digits) = match v.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, v),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(TrackerError::BadParam {
            name: NAME,
            reason: "not an integer",
        });
    }
    if neg {
        return Ok(None);
    }
    let n = digits
        .iter()
        .try_fold(0u32, |n, &c| {
            n.checked_mul(10)?.checked_add(u32::from(c - b'0'))
        })
        .unwrap_or(u32::MAX);
    Ok(Some(n))
}

fn token(name: &'static str, v: Option<Vec<u8>>) -> Result<Option<Vec<u8>>, TrackerError> {
    match v {
        Some(v) if v.len() > MAX_TOKEN_LEN => Err(TrackerError::BadParam {
            name,
            reason: "longer than 64 bytes",
        }),
        v => Ok(v),
    }
}

fn parse_ip(v: &[u8]) -> Result<IpAddr, TrackerError> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(TrackerError::BadParam {
            name: "ip",
            reason: "not an IPv4 or IPv6 address",
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const IH: &str = "%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A";
    const PID: &str = "-FE0001-abcdefghijkl";

    fn base() -> String {
        format!("info_hash={IH}&peer_id={PID}&port=6881")
    }

    #[test]
    fn minimal_query_has_defaults() {
        let r = AnnounceRequest::parse_query(&base()).unwrap();
        assert_eq!(r.info_hash.0[..4], [0x12, 0x34, 0x56, 0x78]);
        assert_eq!(&r.peer_id.0, PID.as_bytes());
        assert_eq!(r.port, 6881);
        assert_eq!((r.uploaded, r.downloaded, r.left), (0, 0, 0));
        assert_eq!(r.event, Event::None);
        assert!(!r.compact);
        assert_eq!(r.numwant, None);
    }

    #[test]
    fn libtorrent_style_query_parses() {
        let q = format!(
            "{}&uploaded=1&downloaded=2&left=3&corrupt=0&key=ABCD1234&event=started\
             &numwant=200&compact=1&no_peer_id=1&supportcrypto=1&redundant=0",
            base()
        );
        let r = AnnounceRequest::parse_query(&q).unwrap();
        assert_eq!((r.uploaded, r.downloaded, r.left), (1, 2, 3));
        assert_eq!(r.event, Event::Started);
        assert_eq!(r.numwant, Some(200));
        assert!(r.compact && r.no_peer_id);
        assert_eq!(r.key.as_deref(), Some(&b"ABCD1234"[..]));
    }

    #[test]
    fn missing_and_wrong_length_params_are_named() {
        let q = format!("peer_id={PID}&port=1");
        assert_eq!(
            AnnounceRequest::parse_query(&q),
            Err(TrackerError::MissingParam { name: "info_hash" })
        );
        let q = format!("info_hash=abc&peer_id={PID}&port=1");
        assert_eq!(
            AnnounceRequest::parse_query(&q),
            Err(TrackerError::BadLength {
                name: "info_hash",
                len: 3,
                expected: 20
            })
        );
        let q = format!("info_hash={IH}&peer_id=short&port=1");
        assert!(matches!(
            AnnounceRequest::parse_query(&q),
            Err(TrackerError::BadLength {
                name: "peer_id",
                len: 5,
                ..
            })
        ));
        let q = format!("info_hash={IH}&peer_id={PID}");
        assert_eq!(
            AnnounceRequest::parse_query(&q),
            Err(TrackerError::MissingParam { name: "port" })
        );
    }

    #[test]
    fn malformed_values_are_rejected() {
        for (extra, name) in [
            ("&left=-1", "left"),
            ("&left=1x", "left"),
            ("&uploaded=", "uploaded"),
            ("&downloaded=99999999999999999999999", "downloaded"),
            ("&event=bogus", "event"),
            ("&compact=yes", "compact"),
            ("&numwant=lots", "numwant"),
            ("&ip=not.an.ip", "ip"),
        ] {
            let q = format!("{}{extra}", base());
            match AnnounceRequest::parse_query(&q) {
                Err(TrackerError::BadParam { name: n, .. }) => assert_eq!(n, name, "{extra}"),
                other => panic!("{extra}: {other:?}"),
            }
        }
        let q = format!("info_hash={IH}&peer_id={PID}&port=70000");
        assert!(matches!(
            AnnounceRequest::parse_query(&q),
            Err(TrackerError::BadParam { name: "port", .. })
        ));
        let q = format!("{}&key=%zz", base());
        assert!(matches!(
            AnnounceRequest::parse_query(&q),
            Err(TrackerError::BadPercentEncoding { offset: 0, .. })
        ));
    }

    #[test]
    fn duplicates_and_oversized_queries_are_rejected() {
        let q = format!("{}&port=2", base());
        assert_eq!(
            AnnounceRequest::parse_query(&q),
            Err(TrackerError::DuplicateParam { name: "port" })
        );
        let q = format!("{}&x={}", base(), "a".repeat(MAX_QUERY_LEN));
        assert!(matches!(
            AnnounceRequest::parse_query(&q),
            Err(TrackerError::QueryTooLong { .. })
        ));
        let q = format!("{}&key={}", base(), "k".repeat(65));
        assert!(matches!(
            AnnounceRequest::parse_query(&q),
            Err(TrackerError::BadParam { name: "key", .. })
        ));
    }

    #[test]
    fn numwant_saturates_and_negative_means_default() {
        let q = format!("{}&numwant=99999999999999999999999999", base());
        assert_eq!(
            AnnounceRequest::parse_query(&q).unwrap().numwant,
            Some(u32::MAX)
        );
        let q = format!("{}&numwant=-1", base());
        assert_eq!(AnnounceRequest::parse_query(&q).unwrap().numwant, None);
    }

    #[test]
    fn url_joins_with_the_right_separator() {
        let r = AnnounceRequest::new(Id20([1; 20]), Id20([2; 20]), 1);
        assert!(
            r.to_url("http://t/announce")
                .starts_with("http://t/announce?info_hash=")
        );
        assert!(
            r.to_url("http://t/a?passkey=x")
                .starts_with("http://t/a?passkey=x&info_hash=")
        );
    }

    fn arb_event() -> impl Strategy<Value = Event> {
        prop_oneof![
            Just(Event::None),
            Just(Event::Started),
            Just(Event::Completed),
            Just(Event::Stopped)
        ]
    }

    fn arb_request() -> impl Strategy<Value = AnnounceRequest> {
        (
            (
                any::<[u8; 20]>(),
                any::<[u8; 20]>(),
                any::<u16>(),
                any::<u64>(),
                any::<u64>(),
            ),
            (
                any::<u64>(),
                arb_event(),
                any::<bool>(),
                any::<bool>(),
                any::<Option<u32>>(),
            ),
            (
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=MAX_TOKEN_LEN)),
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=MAX_TOKEN_LEN)),
                proptest::option::of(any::<IpAddr>()),
            ),
        )
            .prop_map(
                |((ih, pid, port, up, down), (left, event, c, npi, nw), (k, t, ip))| {
                    AnnounceRequest {
                        info_hash: Id20(ih),
                        peer_id: Id20(pid),
                        port,
                        uploaded: up,
                        downloaded: down,
                        left,
                        event,
                        compact: c,
                        no_peer_id: npi,
                        numwant: nw,
                        key: k,
                        tracker_id: t,
                        ip,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn query_round_trip(r in arb_request()) {
            let mut q = String::new();
            r.write_query(&mut q);
            prop_assert_eq!(AnnounceRequest::parse_query(&q).unwrap(), r);
        }

        #[test]
        fn parse_never_panics(q in "[a-z_=&%0-9A-F-]{0,200}") {
            let _ = AnnounceRequest::parse_query(&q);
        }
    }
}
