//! `ut_pex` (BEP 11): peer exchange, peers the sender connected to (`added`, with flags) and
//! disconnected from (`dropped`) since its last message. Payload of
//! [`crate::wire::Message::Extended`] with the id the receiver announced for
//! [`crate::wire::UT_PEX`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::Bytes;
use ferrent_bencode::{Dict, Value};

use super::error::{InvalidExtended, ProtoError};
use super::limits::MAX_PEX_PEERS;

const WHAT: &str = "ut_pex";

/// The flags byte of an added peer (BEP 11 `added.f`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PexFlags(pub u8);

impl PexFlags {
    /// The peer prefers encryption (BEP 8 MSE).
    pub const PREFERS_ENCRYPTION: u8 = 0x01;
    /// The peer is a seed or upload-only.
    pub const SEED: u8 = 0x02;
    /// The peer supports uTP (BEP 29).
    pub const UTP: u8 = 0x04;
    /// The peer supports the holepunch extension (BEP 55).
    pub const HOLEPUNCH: u8 = 0x08;
    /// The sender connected to the peer (so it accepts incoming connections).
    pub const REACHABLE: u8 = 0x10;

    /// Whether every bit of `mask` is set.
    pub fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// A peer in an `added` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PexPeer {
    /// Its address.
    pub addr: SocketAddr,
    /// What the sender knows about it.
    pub flags: PexFlags,
}

/// A `ut_pex` message. IPv4 and IPv6 peers are kept together; on the wire they go to `added` /
/// `dropped` and `added6` / `dropped6` (BEP 11, BEP 7 compact forms: 6 and 18 bytes per peer).
///
/// Decoding: strict bencode; each list at most [`MAX_PEX_PEERS`] peers (more is an error: BEP 11
/// allows 50); a compact list whose length is not a multiple of its entry size is an error; a
/// flags string of the wrong length is ignored (all flags 0), as libtorrent does; absent keys are
/// empty lists.
///
/// ```
/// use ferrent_proto::wire::{PexMessage, PexPeer, PexFlags};
///
/// let m = PexMessage {
///     added: vec![PexPeer { addr: "10.0.0.1:6881".parse().unwrap(), flags: PexFlags(PexFlags::SEED) }],
///     dropped: vec!["[::1]:51413".parse().unwrap()],
/// };
/// assert_eq!(PexMessage::decode(&m.to_bytes()).unwrap(), m);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PexMessage {
    /// Peers the sender is now connected to.
    pub added: Vec<PexPeer>,
    /// Peers the sender disconnected from.
    pub dropped: Vec<SocketAddr>,
}

impl PexMessage {
    /// Decodes an extended message payload (the bytes after the extended id).
    pub fn decode(payload: &[u8]) -> Result<Self, ProtoError> {
        let value =
            ferrent_bencode::decode(payload).map_err(|source| InvalidExtended::Bencode {
                message: WHAT,
                source,
            })?;
        let dict = value
            .as_dict()
            .ok_or(InvalidExtended::NotADict { message: WHAT })?;
        let mut msg = PexMessage::default();
        for (key, flags_key, entry) in [("added", "added.f", 6), ("added6", "added6.f", 18)] {
            let addrs = compact_list(dict, key, entry)?;
            let flags = dict
                .get_bytes(flags_key.as_bytes())
                .filter(|f| f.len() == addrs.len());
            for (i, addr) in addrs.into_iter().enumerate() {
                let flags = PexFlags(flags.and_then(|f| f.get(i).copied()).unwrap_or(0));
                msg.added.push(PexPeer { addr, flags });
            }
        }
        for (key, entry) in [("dropped", 6), ("dropped6", 18)] {
            msg.dropped.extend(compact_list(dict, key, entry)?);
        }
        Ok(msg)
    }

    /// Appends the bencoded dictionary to `dst`. Every key is written, empty lists included, as
    /// libtorrent does. The caller keeps each list within [`MAX_PEX_PEERS`] (BEP 11: 50).
    pub fn encode(&self, dst: &mut Vec<u8>) {
        let (mut added, mut added_f, mut added6, mut added6_f) = (vec![], vec![], vec![], vec![]);
        for p in &self.added {
            match p.addr {
                SocketAddr::V4(_) => {
                    put_compact(&mut added, p.addr);
                    added_f.push(p.flags.0);
                }
                SocketAddr::V6(_) => {
                    put_compact(&mut added6, p.addr);
                    added6_f.push(p.flags.0);
                }
            }
        }
        let (mut dropped, mut dropped6) = (vec![], vec![]);
        for &a in &self.dropped {
            put_compact(
                if a.is_ipv4() {
                    &mut dropped
                } else {
                    &mut dropped6
                },
                a,
            );
        }
        let d = Dict::new()
            .with(b"added", Value::Bytes(&added))
            .with(b"added.f", Value::Bytes(&added_f))
            .with(b"added6", Value::Bytes(&added6))
            .with(b"added6.f", Value::Bytes(&added6_f))
            .with(b"dropped", Value::Bytes(&dropped))
            .with(b"dropped6", Value::Bytes(&dropped6));
        ferrent_bencode::encode_into(&Value::Dict(d), dst);
    }

    /// The bencoded dictionary.
    pub fn to_bytes(&self) -> Bytes {
        let mut v = Vec::new();
        self.encode(&mut v);
        Bytes::from(v)
    }
}

/// The peers of compact list `key` (`entry` = 6 for IPv4, 18 for IPv6), empty when absent.
fn compact_list(
    dict: &Dict<'_>,
    key: &'static str,
    entry: usize,
) -> Result<Vec<SocketAddr>, InvalidExtended> {
    let Some(bytes) = dict.get_bytes(key.as_bytes()) else {
        return Ok(Vec::new());
    };
    if bytes.len() % entry != 0 {
        return Err(InvalidExtended::CompactLength {
            message: WHAT,
            field: key,
            len: bytes.len(),
            entry,
        });
    }
    let count = bytes.len() / entry;
    if count > MAX_PEX_PEERS {
        return Err(InvalidExtended::TooMany {
            message: WHAT,
            field: key,
            count,
            max: MAX_PEX_PEERS,
        });
    }
    Ok(bytes
        .chunks_exact(entry)
        .filter_map(parse_compact)
        .collect())
}

fn parse_compact(c: &[u8]) -> Option<SocketAddr> {
    let (ip, port) = c.split_at_checked(c.len().checked_sub(2)?)?;
    let port = u16::from_be_bytes(<[u8; 2]>::try_from(port).ok()?);
    let ip: IpAddr = match ip.len() {
        4 => Ipv4Addr::from(<[u8; 4]>::try_from(ip).ok()?).into(),
        16 => Ipv6Addr::from(<[u8; 16]>::try_from(ip).ok()?).into(),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

fn put_compact(out: &mut Vec<u8>, addr: SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => out.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => out.extend_from_slice(&ip.octets()),
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_bep11_example_shape() {
        let raw = b"d5:added12:\x0a\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x1a\xe27:added.f2:\x02\x107:dropped6:\x7f\x00\x00\x01\x00\x50e";
        let m = PexMessage::decode(raw).unwrap();
        assert_eq!(m.added.len(), 2);
        assert_eq!(m.added[0].addr, "10.0.0.1:6881".parse().unwrap());
        assert!(m.added[0].flags.has(PexFlags::SEED));
        assert!(m.added[1].flags.has(PexFlags::REACHABLE));
        assert_eq!(
            m.dropped,
            vec!["127.0.0.1:80".parse::<SocketAddr>().unwrap()]
        );
    }

    #[test]
    fn wrong_flags_length_is_ignored() {
        let raw = b"d5:added6:\x0a\x00\x00\x01\x1a\xe17:added.f2:\x02\x02e";
        let m = PexMessage::decode(raw).unwrap();
        assert_eq!(m.added[0].flags, PexFlags(0));
    }

    #[test]
    fn refused() {
        let e = |b: &[u8]| PexMessage::decode(b).unwrap_err();
        assert!(matches!(
            e(b"d5:added5:abcdee"),
            ProtoError::InvalidExtended(InvalidExtended::CompactLength {
                field: "added",
                len: 5,
                entry: 6,
                ..
            })
        ));
        let mut many = format!("d8:dropped6{}:", 18 * (MAX_PEX_PEERS + 1)).into_bytes();
        many.extend(std::iter::repeat_n(1u8, 18 * (MAX_PEX_PEERS + 1)));
        many.push(b'e');
        assert!(matches!(
            e(&many),
            ProtoError::InvalidExtended(InvalidExtended::TooMany {
                field: "dropped6",
                ..
            })
        ));
        assert!(matches!(
            e(b"le"),
            ProtoError::InvalidExtended(InvalidExtended::NotADict { .. })
        ));
    }

    fn arb_message() -> impl Strategy<Value = PexMessage> {
        let v4 = (any::<Ipv4Addr>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(ip.into(), port));
        let v6 = (any::<Ipv6Addr>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(ip.into(), port));
        let peer = |s: BoxedStrategy<SocketAddr>| {
            (s, any::<u8>()).prop_map(|(addr, f)| PexPeer {
                addr,
                flags: PexFlags(f),
            })
        };
        (
            prop::collection::vec(peer(v4.clone().boxed()), 0..50),
            prop::collection::vec(peer(v6.clone().boxed()), 0..50),
            prop::collection::vec(v4, 0..50),
            prop::collection::vec(v6, 0..50),
        )
            .prop_map(|(mut a4, a6, mut d4, d6)| {
                // Decoding yields IPv4 before IPv6.
                a4.extend(a6);
                d4.extend(d6);
                PexMessage {
                    added: a4,
                    dropped: d4,
                }
            })
    }

    proptest! {
        #[test]
        fn roundtrip(m in arb_message()) {
            prop_assert_eq!(PexMessage::decode(&m.to_bytes()).unwrap(), m);
        }

        #[test]
        fn never_panics(data in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = PexMessage::decode(&data);
        }
    }
}
