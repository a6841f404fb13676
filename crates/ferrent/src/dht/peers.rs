//! The peers other nodes announced to us (announce_peer), bounded per info-hash and in total,
//! each entry expiring after [`PEER_TTL`].
#![deny(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrent_proto::dht::NodeId;

/// How long an announced peer is kept (BEP 5 leaves it open; libtorrent and others use 30 min,
/// and clients re-announce every 15-30 min).
pub const PEER_TTL: Duration = Duration::from_secs(30 * 60);

/// Peers kept per info-hash; a new one replaces the oldest. (libtorrent: `dht_max_peers` 500.)
pub const MAX_PEERS_PER_INFOHASH: usize = 200;

/// Info-hashes kept; announces for new ones are refused when full. (libtorrent:
/// `dht_max_torrents` 2000.) With 200 peers each this bounds the store to ~400,000 entries.
pub const MAX_INFOHASHES: usize = 2000;

/// Peers returned in one get_peers reply: 50 compact IPv4 peers are 400 bytes, which leaves room
/// for nodes and a token in one datagram.
pub const MAX_VALUES_PER_REPLY: usize = 50;

/// The announced peers.
#[derive(Debug, Default, Clone)]
pub struct PeerStore {
    map: HashMap<NodeId, Vec<(SocketAddr, Instant)>>,
}

impl PeerStore {
    /// Records `peer` for `info_hash`, expiring at `now + PEER_TTL`. Returns false if refused
    /// (the store is full of other info-hashes).
    pub fn announce(&mut self, info_hash: NodeId, peer: SocketAddr, now: Instant) -> bool {
        if !self.map.contains_key(&info_hash) && self.map.len() >= MAX_INFOHASHES {
            self.expire(now);
            if self.map.len() >= MAX_INFOHASHES {
                return false;
            }
        }
        let list = self.map.entry(info_hash).or_default();
        let expires = now + PEER_TTL;
        if let Some(e) = list.iter_mut().find(|(a, _)| *a == peer) {
            e.1 = expires;
            return true;
        }
        if list.len() >= MAX_PEERS_PER_INFOHASH {
            if let Some(oldest) = list
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, exp))| *exp)
                .map(|(i, _)| i)
            {
                list.swap_remove(oldest);
            }
        }
        list.push((peer, expires));
        true
    }

    /// Up to [`MAX_VALUES_PER_REPLY`] live peers for `info_hash` of the given family.
    pub fn get(&self, info_hash: &NodeId, now: Instant, v6: bool) -> Vec<SocketAddr> {
        self.map
            .get(info_hash)
            .map(|l| {
                l.iter()
                    .filter(|(a, exp)| *exp > now && a.is_ipv6() == v6)
                    .take(MAX_VALUES_PER_REPLY)
                    .map(|(a, _)| *a)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Drops expired peers and empty info-hashes.
    pub fn expire(&mut self, now: Instant) {
        self.map.retain(|_, l| {
            l.retain(|(_, exp)| *exp > now);
            !l.is_empty()
        });
    }

    /// Number of info-hashes and of peers stored.
    pub fn counts(&self) -> (usize, usize) {
        (self.map.len(), self.map.values().map(Vec::len).sum())
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_expiring() {
        let now = Instant::now();
        let mut s = PeerStore::default();
        let ih = NodeId([1; 20]);
        for i in 0..(MAX_PEERS_PER_INFOHASH as u16 + 10) {
            assert!(s.announce(
                ih,
                SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 1)),
                now
            ));
        }
        assert_eq!(s.counts(), (1, MAX_PEERS_PER_INFOHASH));
        assert_eq!(s.get(&ih, now, false).len(), MAX_VALUES_PER_REPLY);
        assert!(s.get(&ih, now, true).is_empty());
        for i in 1..MAX_INFOHASHES {
            let mut b = [0u8; 20];
            b[..8].copy_from_slice(&(i as u64).to_be_bytes());
            assert!(s.announce(NodeId(b), SocketAddr::from(([10, 0, 0, 1], 1)), now));
        }
        assert!(!s.announce(
            NodeId([0xEE; 20]),
            SocketAddr::from(([10, 0, 0, 1], 1)),
            now
        ));
        let later = now + PEER_TTL + Duration::from_secs(1);
        assert!(s.get(&ih, later, false).is_empty());
        assert!(s.announce(
            NodeId([0xEE; 20]),
            SocketAddr::from(([10, 0, 0, 1], 1)),
            later
        ));
        assert_eq!(s.counts(), (1, 1));
    }
}
