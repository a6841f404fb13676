//! Node ids and the compact encodings of nodes and peers (BEP 5 and BEP 32).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Bytes of one IPv4 compact node: 20-byte id, 4-byte address, 2-byte port (BEP 5).
pub const COMPACT_NODE_V4_LEN: usize = 26;
/// Bytes of one IPv6 compact node: 20-byte id, 16-byte address, 2-byte port (BEP 32).
pub const COMPACT_NODE_V6_LEN: usize = 38;

/// A 160-bit DHT node id (or info-hash: they share one key space).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NodeId(pub [u8; 20]);

impl NodeId {
    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// The id from a slice, if it is exactly 20 bytes long.
    pub fn from_slice(b: &[u8]) -> Option<NodeId> {
        <[u8; 20]>::try_from(b).ok().map(NodeId)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A node as carried in `nodes` / `nodes6`: its id and UDP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeInfo {
    /// The node's id.
    pub id: NodeId,
    /// Its UDP address.
    pub addr: SocketAddr,
}

/// Writes the compact form of an address: 4 or 16 address bytes then the port, big-endian
/// (BEP 5 "compact IP-address/port info", BEP 32 for IPv6).
pub fn encode_compact_addr(addr: &SocketAddr, out: &mut Vec<u8>) {
    match addr.ip() {
        IpAddr::V4(ip) => out.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => out.extend_from_slice(&ip.octets()),
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

/// Reads a compact address of 6 (IPv4) or 18 (IPv6) bytes; any other length is `None`.
pub fn decode_compact_addr(b: &[u8]) -> Option<SocketAddr> {
    match b.len() {
        6 => {
            let ip: [u8; 4] = b.get(..4)?.try_into().ok()?;
            let port = u16::from_be_bytes(b.get(4..6)?.try_into().ok()?);
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port))
        }
        18 => {
            let ip: [u8; 16] = b.get(..16)?.try_into().ok()?;
            let port = u16::from_be_bytes(b.get(16..18)?.try_into().ok()?);
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port))
        }
        _ => None,
    }
}

/// Writes the compact nodes of one address family (callers split by family).
pub(crate) fn encode_nodes(nodes: &[NodeInfo], out: &mut Vec<u8>) {
    for n in nodes {
        out.extend_from_slice(&n.id.0);
        encode_compact_addr(&n.addr, out);
    }
}

/// Reads a `nodes` (entry length 26) or `nodes6` (38) string. `None` if the length is not a
/// multiple of the entry length.
pub(crate) fn decode_nodes(b: &[u8], entry_len: usize) -> Option<Vec<NodeInfo>> {
    if !b.len().is_multiple_of(entry_len) {
        return None;
    }
    b.chunks_exact(entry_len)
        .map(|c| {
            let (id, addr) = c.split_at(20);
            Some(NodeInfo {
                id: NodeId::from_slice(id)?,
                addr: decode_compact_addr(addr)?,
            })
        })
        .collect()
}
