//! [`MagnetPeer`]: a peer address from `x.pe`.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use super::{MagnetError, shorten};

/// Longest host name accepted in `x.pe` (the DNS limit, RFC 1035).
const MAX_HOST_LEN: usize = 253;

/// A peer address from an `x.pe` parameter (BEP 9).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MagnetPeer {
    /// A literal address: `a.b.c.d:port` or `[v6]:port` (an IPv6 scope id `%N` is kept).
    Addr(SocketAddr),
    /// A host name to resolve, `name:port`. `host` holds only ASCII letters, digits, `-`, `.` and
    /// `_`, and is not made of digits and dots only (that would be an IPv4 address).
    Host {
        /// The host name.
        host: String,
        /// The port, 1-65535.
        port: u16,
    },
}

impl MagnetPeer {
    /// Parses `host:port`, `a.b.c.d:port` or `[v6]:port`; the port must be 1-65535.
    pub fn parse(s: &str) -> Result<Self, MagnetError> {
        parse_peer(s).map_err(|reason| MagnetError::BadPeer {
            value: shorten(s),
            reason,
        })
    }

    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            MagnetPeer::Addr(a) => a.port(),
            MagnetPeer::Host { port, .. } => *port,
        }
    }
}

fn parse_peer(s: &str) -> Result<MagnetPeer, &'static str> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return match addr.port() {
            0 => Err("port 0 cannot be connected to"),
            _ => Ok(MagnetPeer::Addr(addr)),
        };
    }
    if s.starts_with('[') {
        return Err("expected [IPv6 address]:port");
    }
    let (host, port) = s.rsplit_once(':').ok_or("missing :port")?;
    if host.contains(':') {
        return Err("an IPv6 address must be written in brackets: [address]:port");
    }
    let port = match super::parse_digits::<u16>(port) {
        Some(0) | None => return Err("the port must be a number from 1 to 65535"),
        Some(p) => p,
    };
    if host.is_empty() {
        return Err("missing host");
    }
    if host.len() > MAX_HOST_LEN {
        return Err("host name longer than 253 characters");
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Err("host names may hold only letters, digits, '-', '.' and '_'");
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err("not a valid IPv4 address");
    }
    Ok(MagnetPeer::Host {
        host: host.to_owned(),
        port,
    })
}

impl FromStr for MagnetPeer {
    type Err = MagnetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MagnetPeer::parse(s)
    }
}

impl fmt::Display for MagnetPeer {
    /// `a.b.c.d:port`, `[v6]:port` or `host:port`, as [`MagnetPeer::parse`] reads it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MagnetPeer::Addr(a) => write!(f, "{a}"),
            MagnetPeer::Host { host, port } => write!(f, "{host}:{port}"),
        }
    }
}
