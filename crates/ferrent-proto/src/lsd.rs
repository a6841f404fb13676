//! Local Service Discovery messages (BEP 14): the `BT-SEARCH` datagram peers multicast on the
//! local network to say "I have these torrents, connect to me on this port".
//!
//! ```text
//! BT-SEARCH * HTTP/1.1\r\n
//! Host: 239.192.152.143:6771\r\n
//! Port: 6881\r\n
//! Infohash: 7f9713b27a16bd0ea61657e48bfa201df50ec531\r\n
//! cookie: 5864ae88\r\n
//! \r\n
//! \r\n
//! ```
//!
//! `Infohash` may repeat (BEP 14 allows several per message; libtorrent sends one). `cookie` is
//! an opaque token the sender uses to recognise (and ignore) its own announces, which multicast
//! loops back. The decoder treats every datagram as hostile: it is bounded by
//! [`MAX_MESSAGE_SIZE`], [`MAX_INFOHASHES`] and [`MAX_COOKIE_LEN`], header names are
//! case-insensitive (as in HTTP), unknown headers are ignored, and every failure is an
//! [`LsdError`] that names what was wrong.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use ferrent_core::Id20;

/// The IPv4 multicast group and port of BEP 14.
pub const LSD_GROUP_V4: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 192, 152, 143), 6771);

/// The IPv6 multicast group and port of BEP 14 (site-local scope).
pub const LSD_GROUP_V6: SocketAddrV6 = SocketAddrV6::new(
    Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0xefc0, 0x0152, 0x0143),
    6771,
    0,
    0,
);

/// Largest datagram accepted or produced (BEP 14: a message should fit one Ethernet frame).
pub const MAX_MESSAGE_SIZE: usize = 1400;

/// Info-hashes per message at most, in both directions (20 lines of 51 bytes plus the other
/// headers stay under [`MAX_MESSAGE_SIZE`]).
pub const MAX_INFOHASHES: usize = 20;

/// Longest cookie accepted or sent.
pub const MAX_COOKIE_LEN: usize = 64;

/// Header lines read at most (the request line, a few headers, [`MAX_INFOHASHES`] hashes).
pub const MAX_LINES: usize = 40;

/// One `BT-SEARCH` announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsdAnnounce {
    /// The TCP port the sender accepts peers on (the peer's IP is the datagram's source).
    pub port: u16,
    /// The torrents announced (v1 info-hashes, or v2 ones truncated to 20 bytes).
    pub info_hashes: Vec<Id20>,
    /// The sender's cookie, if it sent one.
    pub cookie: Option<String>,
}

/// Why a datagram is not a valid announce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LsdError {
    /// Larger than [`MAX_MESSAGE_SIZE`].
    #[error("LSD message of {len} bytes exceeds {max}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not ASCII text.
    #[error("LSD message is not ASCII text")]
    NotText,
    /// The first line is not `BT-SEARCH * HTTP/1.1`.
    #[error("LSD message does not start with BT-SEARCH * HTTP/1.1")]
    NotSearch,
    /// More than [`MAX_LINES`] lines.
    #[error("LSD message has more than {max} lines")]
    TooManyLines {
        /// The limit.
        max: usize,
    },
    /// A header line without `:`.
    #[error("LSD header line {line} has no colon")]
    BadHeader {
        /// The line number (the request line is 1).
        line: usize,
    },
    /// No `Port` header, or one that is not a port in 1..=65535.
    #[error("LSD message has a missing or invalid Port")]
    BadPort,
    /// An `Infohash` value that is not 40 hex digits.
    #[error("LSD Infohash on line {line} is not 40 hex digits")]
    BadInfohash {
        /// The line number.
        line: usize,
    },
    /// More than [`MAX_INFOHASHES`] info-hashes.
    #[error("LSD message has more than {max} info-hashes")]
    TooManyInfohashes {
        /// The limit.
        max: usize,
    },
    /// No `Infohash` header.
    #[error("LSD message has no Infohash")]
    NoInfohash,
    /// A cookie longer than [`MAX_COOKIE_LEN`] or with spaces or control characters.
    #[error("LSD cookie is too long or not a token")]
    BadCookie,
}

impl LsdAnnounce {
    /// The datagram for this announce, with `Host: host` (the group address, e.g.
    /// `239.192.152.143:6771`). At most [`MAX_INFOHASHES`] hashes are written, and a cookie
    /// that is not a valid token (see [`LsdError::BadCookie`]) is left out, so the result always
    /// decodes.
    pub fn encode(&self, host: &str) -> Vec<u8> {
        let mut s = String::with_capacity(128 + 51 * self.info_hashes.len());
        s.push_str("BT-SEARCH * HTTP/1.1\r\n");
        s.push_str("Host: ");
        s.push_str(host);
        s.push_str("\r\n");
        s.push_str(&format!("Port: {}\r\n", self.port));
        for ih in self.info_hashes.iter().take(MAX_INFOHASHES) {
            s.push_str("Infohash: ");
            s.push_str(&ih.to_hex());
            s.push_str("\r\n");
        }
        if let Some(c) = self.cookie.as_deref().filter(|c| valid_cookie(c)) {
            s.push_str("cookie: ");
            s.push_str(c);
            s.push_str("\r\n");
        }
        s.push_str("\r\n\r\n");
        s.into_bytes()
    }

    /// Parses one datagram.
    pub fn decode(bytes: &[u8]) -> Result<LsdAnnounce, LsdError> {
        if bytes.len() > MAX_MESSAGE_SIZE {
            return Err(LsdError::TooLarge {
                len: bytes.len(),
                max: MAX_MESSAGE_SIZE,
            });
        }
        let text = std::str::from_utf8(bytes)
            .ok()
            .filter(|t| t.is_ascii())
            .ok_or(LsdError::NotText)?;
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let first = lines.next().unwrap_or_default();
        let mut words = first.split_ascii_whitespace();
        let is_search = words
            .next()
            .is_some_and(|m| m.eq_ignore_ascii_case("BT-SEARCH"))
            && words.next() == Some("*")
            && words
                .next()
                .is_some_and(|v| v.to_ascii_uppercase().starts_with("HTTP/1."))
            && words.next().is_none();
        if !is_search {
            return Err(LsdError::NotSearch);
        }
        let mut port = None;
        let mut info_hashes = Vec::new();
        let mut cookie = None;
        for (i, line) in lines.enumerate() {
            let line_no = i + 2;
            if line_no > MAX_LINES {
                return Err(LsdError::TooManyLines { max: MAX_LINES });
            }
            if line.is_empty() {
                // The blank line ends the header; what follows (BEP 14's second CRLF) is ignored.
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or(LsdError::BadHeader { line: line_no })?;
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("port") {
                port = Some(
                    value
                        .parse::<u16>()
                        .ok()
                        .filter(|&p| p != 0)
                        .ok_or(LsdError::BadPort)?,
                );
            } else if name.eq_ignore_ascii_case("infohash") {
                if info_hashes.len() >= MAX_INFOHASHES {
                    return Err(LsdError::TooManyInfohashes {
                        max: MAX_INFOHASHES,
                    });
                }
                let ih = (value.len() == 40)
                    .then(|| Id20::from_hex(value).ok())
                    .flatten()
                    .ok_or(LsdError::BadInfohash { line: line_no })?;
                if !info_hashes.contains(&ih) {
                    info_hashes.push(ih);
                }
            } else if name.eq_ignore_ascii_case("cookie") {
                if !valid_cookie(value) {
                    return Err(LsdError::BadCookie);
                }
                cookie = Some(value.to_owned());
            }
        }
        let port = port.ok_or(LsdError::BadPort)?;
        if info_hashes.is_empty() {
            return Err(LsdError::NoInfohash);
        }
        Ok(LsdAnnounce {
            port,
            info_hashes,
            cookie,
        })
    }
}

/// A cookie we accept and send: 1 to [`MAX_COOKIE_LEN`] visible ASCII characters.
fn valid_cookie(c: &str) -> bool {
    !c.is_empty() && c.len() <= MAX_COOKIE_LEN && c.bytes().all(|b| b.is_ascii_graphic())
}

/// The `Host` value for a group address (`239.192.152.143:6771`, `[ff15::efc0:152:143]:6771`).
pub fn host_header(group: SocketAddr) -> String {
    group.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIBTORRENT: &[u8] = b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 7000\r\nInfohash: 7f9713b27a16bd0ea61657e48bfa201df50ec531\r\ncookie: 5864ae88\r\n\r\n\r\n";

    fn ih(b: u8) -> Id20 {
        Id20([b; 20])
    }

    #[test]
    fn group_addresses() {
        assert_eq!(LSD_GROUP_V4.to_string(), "239.192.152.143:6771");
        assert_eq!(LSD_GROUP_V6.to_string(), "[ff15::efc0:152:143]:6771");
    }

    #[test]
    fn decodes_libtorrent_announce() {
        let a = LsdAnnounce::decode(LIBTORRENT).expect("decode");
        assert_eq!(a.port, 7000);
        assert_eq!(
            a.info_hashes,
            vec![Id20::from_hex("7f9713b27a16bd0ea61657e48bfa201df50ec531").expect("hex")]
        );
        assert_eq!(a.cookie.as_deref(), Some("5864ae88"));
    }

    #[test]
    fn encodes_like_libtorrent() {
        let a = LsdAnnounce::decode(LIBTORRENT).expect("decode");
        assert_eq!(a.encode(&host_header(LSD_GROUP_V4.into())), LIBTORRENT);
    }

    #[test]
    fn round_trip_several_hashes() {
        let a = LsdAnnounce {
            port: 6881,
            info_hashes: (0..MAX_INFOHASHES as u8).map(ih).collect(),
            cookie: Some("abc".into()),
        };
        let bytes = a.encode("239.192.152.143:6771");
        assert!(bytes.len() <= MAX_MESSAGE_SIZE, "{} bytes", bytes.len());
        assert_eq!(LsdAnnounce::decode(&bytes), Ok(a));
    }

    #[test]
    fn lenient_forms() {
        // Bare LF, odd case, upper-case hex, no cookie, unknown headers, no trailing blank line.
        let m = b"bt-search * HTTP/1.0\nHOST: x\nX-Other: y\nport:  51413 \nINFOHASH: 7F9713B27A16BD0EA61657E48BFA201DF50EC531\n";
        let a = LsdAnnounce::decode(m).expect("decode");
        assert_eq!(a.port, 51413);
        assert_eq!(a.cookie, None);
        assert_eq!(a.info_hashes.len(), 1);
    }

    #[test]
    fn rejects_malformed() {
        let cases: &[(&[u8], LsdError)] = &[
            (b"GET / HTTP/1.1\r\n\r\n", LsdError::NotSearch),
            (b"", LsdError::NotSearch),
            (b"BT-SEARCH * HTTP/1.1 extra\r\n", LsdError::NotSearch),
            (
                b"BT-SEARCH * HTTP/1.1\r\nInfohash: 7f9713b27a16bd0ea61657e48bfa201df50ec531\r\n\r\n",
                LsdError::BadPort,
            ),
            (
                b"BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: 7f9713b27a16bd0ea61657e48bfa201df50ec531\r\n",
                LsdError::BadPort,
            ),
            (
                b"BT-SEARCH * HTTP/1.1\r\nPort: 70000\r\n",
                LsdError::BadPort,
            ),
            (b"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n\r\n", LsdError::NoInfohash),
            (
                b"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: 7f97\r\n",
                LsdError::BadInfohash { line: 3 },
            ),
            (
                b"BT-SEARCH * HTTP/1.1\r\nPort 1\r\n",
                LsdError::BadHeader { line: 2 },
            ),
            (
                b"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\ncookie: a b\r\n",
                LsdError::BadCookie,
            ),
            (b"BT-SEARCH * HTTP/1.1\r\n\xff\r\n", LsdError::NotText),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                LsdAnnounce::decode(bytes).as_ref(),
                Err(want),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn limits() {
        let big = vec![b'a'; MAX_MESSAGE_SIZE + 1];
        assert!(matches!(
            LsdAnnounce::decode(&big),
            Err(LsdError::TooLarge { .. })
        ));
        let mut m = String::from("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n");
        for i in 0..=MAX_INFOHASHES {
            m.push_str(&format!("Infohash: {}\r\n", ih(i as u8).to_hex()));
        }
        assert_eq!(
            LsdAnnounce::decode(m.as_bytes()),
            Err(LsdError::TooManyInfohashes {
                max: MAX_INFOHASHES
            })
        );
        let mut m = String::from("BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n");
        for _ in 0..MAX_LINES {
            m.push_str("X: y\r\n");
        }
        assert_eq!(
            LsdAnnounce::decode(m.as_bytes()),
            Err(LsdError::TooManyLines { max: MAX_LINES })
        );
        let long = "c".repeat(MAX_COOKIE_LEN + 1);
        let a = LsdAnnounce {
            port: 1,
            info_hashes: vec![ih(1)],
            cookie: Some(long),
        };
        // An invalid cookie is not sent, so the encoding still decodes.
        assert_eq!(
            LsdAnnounce::decode(&a.encode("h")).expect("decode").cookie,
            None
        );
    }

    #[test]
    fn duplicate_hashes_collapse() {
        let h = ih(7).to_hex();
        let m = format!("BT-SEARCH * HTTP/1.1\r\nPort: 9\r\nInfohash: {h}\r\nInfohash: {h}\r\n");
        assert_eq!(
            LsdAnnounce::decode(m.as_bytes())
                .expect("decode")
                .info_hashes,
            vec![ih(7)]
        );
    }
}
