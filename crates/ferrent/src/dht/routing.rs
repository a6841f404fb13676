//! The routing table (BEP 5): k-buckets over the 160-bit XOR metric, split around our own id.
#![deny(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrent_proto::dht::{NodeId, NodeInfo};

/// Nodes per bucket (BEP 5's k), also the number of closest nodes a lookup converges on and a
/// reply carries.
pub const K: usize = 8;

/// Number of buckets at most: one per bit of the id space.
pub const MAX_BUCKETS: usize = 160;

/// Replacement candidates kept per full bucket, used when a node in it goes bad.
pub const MAX_REPLACEMENTS: usize = 8;

/// A node that has not been heard from for this long is questionable (BEP 5: 15 minutes).
pub const GOOD_FOR: Duration = Duration::from_secs(15 * 60);

/// Queries in a row a node may fail to answer before it is bad (BEP 5: "multiple").
pub const MAX_FAILURES: u8 = 2;

/// XOR distance between two ids; comparing the arrays compares the distances (big-endian).
pub fn distance(a: &NodeId, b: &NodeId) -> [u8; 20] {
    let mut d = [0u8; 20];
    for ((o, x), y) in d.iter_mut().zip(a.0.iter()).zip(b.0.iter()) {
        *o = x ^ y;
    }
    d
}

/// Number of leading bits `a` and `b` share (160 if equal).
pub fn common_prefix_len(a: &NodeId, b: &NodeId) -> usize {
    let d = distance(a, b);
    let mut n = 0;
    for byte in d {
        if byte == 0 {
            n += 8;
        } else {
            n += byte.leading_zeros() as usize;
            break;
        }
    }
    n
}

/// BEP 5 node states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Answered us, and was active within [`GOOD_FOR`].
    Good,
    /// No activity for [`GOOD_FOR`]: worth a ping before trusting it.
    Questionable,
    /// Failed [`MAX_FAILURES`] queries in a row: replaced as soon as there is a candidate.
    Bad,
}

/// One node in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Its id and address.
    pub info: NodeInfo,
    /// Last time it answered one of our queries or sent us a query.
    pub last_active: Instant,
    /// Queries in a row it did not answer.
    pub failures: u8,
}

impl Entry {
    /// Its state at `now`.
    pub fn state(&self, now: Instant) -> NodeState {
        if self.failures >= MAX_FAILURES {
            NodeState::Bad
        } else if now.saturating_duration_since(self.last_active) < GOOD_FOR {
            NodeState::Good
        } else {
            NodeState::Questionable
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Bucket {
    nodes: Vec<Entry>,
    replacements: Vec<Entry>,
}

/// What [`RoutingTable::node_responded`] did with a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Already known: refreshed.
    Refreshed,
    /// Added to a bucket (possibly after splitting, or in place of a bad node).
    Added,
    /// The bucket is full of good or questionable nodes: kept as a replacement candidate. The
    /// caller should ping `ping` (the least recently active questionable node), if any.
    Replacement {
        /// A questionable node worth pinging.
        ping: Option<NodeInfo>,
    },
    /// Not added: our own id, or an id already known at another address (or vice versa).
    Ignored,
}

/// The k-bucket routing table. Bucket `i` (for `i` below the last) holds the nodes sharing exactly
/// `i` leading bits with our id; the last bucket holds every node sharing at least as many, and is
/// the only one that splits. So the table never holds more than `MAX_BUCKETS * K` nodes plus as
/// many replacements.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    own: NodeId,
    buckets: Vec<Bucket>,
}

impl RoutingTable {
    /// An empty table around `own`.
    pub fn new(own: NodeId) -> Self {
        RoutingTable {
            own,
            buckets: vec![Bucket::default()],
        }
    }

    /// Our id.
    pub fn own_id(&self) -> NodeId {
        self.own
    }

    fn index(&self, id: &NodeId) -> usize {
        common_prefix_len(&self.own, id).min(self.buckets.len().saturating_sub(1))
    }

    /// Number of nodes in buckets (replacements not counted).
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.nodes.len()).sum()
    }

    /// Whether the table has no node.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of buckets.
    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    /// Every node in the buckets.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.iter().flat_map(|b| b.nodes.iter())
    }

    fn find_mut(&mut self, id: &NodeId) -> Option<&mut Entry> {
        let i = self.index(id);
        self.buckets
            .get_mut(i)?
            .nodes
            .iter_mut()
            .find(|e| e.info.id == *id)
    }

    /// A node answered one of our queries (the only way into the table: the address is then known
    /// to work and to belong to that id).
    pub fn node_responded(&mut self, info: NodeInfo, now: Instant) -> Inserted {
        if info.id == self.own {
            return Inserted::Ignored;
        }
        if let Some(e) = self.find_mut(&info.id) {
            if e.info.addr != info.addr {
                return Inserted::Ignored;
            }
            e.last_active = now;
            e.failures = 0;
            return Inserted::Refreshed;
        }
        if self.entries().any(|e| e.info.addr == info.addr) {
            return Inserted::Ignored;
        }
        let entry = Entry {
            info,
            last_active: now,
            failures: 0,
        };
        // Each split moves the own-id bucket one bit deeper: at most MAX_BUCKETS rounds.
        for _ in 0..=MAX_BUCKETS {
            let count = self.buckets.len();
            let last = count - 1;
            let i = self.index(&info.id);
            let Some(bucket) = self.buckets.get_mut(i) else {
                return Inserted::Ignored;
            };
            if bucket.nodes.len() < K {
                bucket.nodes.push(entry);
                bucket.replacements.retain(|r| r.info.id != info.id);
                return Inserted::Added;
            }
            if let Some(bad) = bucket
                .nodes
                .iter_mut()
                .find(|e| e.state(now) == NodeState::Bad)
            {
                *bad = entry;
                return Inserted::Added;
            }
            if i == last && count < MAX_BUCKETS {
                self.split();
                continue;
            }
            let ping = bucket
                .nodes
                .iter()
                .filter(|e| e.state(now) == NodeState::Questionable)
                .min_by_key(|e| e.last_active)
                .map(|e| e.info);
            bucket
                .replacements
                .retain(|r| r.info.id != info.id && r.info.addr != info.addr);
            if bucket.replacements.len() >= MAX_REPLACEMENTS {
                bucket.replacements.remove(0);
            }
            bucket.replacements.push(entry);
            return Inserted::Replacement { ping };
        }
        Inserted::Ignored
    }

    /// Splits the last bucket: nodes sharing more bits with our id move into a new last bucket.
    fn split(&mut self) {
        let depth = self.buckets.len() - 1;
        let own = self.own;
        let Some(last) = self.buckets.last_mut() else {
            return;
        };
        let (stay, go): (Vec<Entry>, Vec<Entry>) = last
            .nodes
            .drain(..)
            .partition(|e| common_prefix_len(&own, &e.info.id) == depth);
        let (rstay, rgo): (Vec<Entry>, Vec<Entry>) = last
            .replacements
            .drain(..)
            .partition(|e| common_prefix_len(&own, &e.info.id) == depth);
        last.nodes = stay;
        last.replacements = rstay;
        self.buckets.push(Bucket {
            nodes: go,
            replacements: rgo,
        });
    }

    /// A node in the table sent us a query: it is still alive (BEP 5 keeps it good).
    pub fn node_queried_us(&mut self, info: NodeInfo, now: Instant) {
        if let Some(e) = self.find_mut(&info.id) {
            if e.info.addr == info.addr {
                e.last_active = now;
            }
        }
    }

    /// A query to `id` timed out. A node that is now bad is replaced by the most recent
    /// replacement candidate, if there is one.
    pub fn node_failed(&mut self, id: &NodeId, now: Instant) {
        let i = self.index(id);
        let Some(bucket) = self.buckets.get_mut(i) else {
            return;
        };
        let Some(pos) = bucket.nodes.iter().position(|e| e.info.id == *id) else {
            bucket.replacements.retain(|r| r.info.id != *id);
            return;
        };
        let Some(e) = bucket.nodes.get_mut(pos) else {
            return;
        };
        e.failures = e.failures.saturating_add(1);
        if e.state(now) == NodeState::Bad {
            if let Some(r) = bucket.replacements.pop() {
                if let Some(slot) = bucket.nodes.get_mut(pos) {
                    *slot = r;
                }
            }
        }
    }

    /// The up to `count` non-bad nodes closest to `target`, closest first; `filter` selects
    /// e.g. one address family.
    pub fn closest(
        &self,
        target: &NodeId,
        count: usize,
        now: Instant,
        filter: impl Fn(&SocketAddr) -> bool,
    ) -> Vec<NodeInfo> {
        let mut all: Vec<&Entry> = self
            .entries()
            .filter(|e| e.state(now) != NodeState::Bad && filter(&e.info.addr))
            .collect();
        all.sort_by_key(|e| distance(&e.info.id, target));
        all.into_iter().take(count).map(|e| e.info).collect()
    }

    /// Up to `max` questionable nodes, least recently active first, to ping.
    pub fn questionable(&self, now: Instant, max: usize) -> Vec<NodeInfo> {
        let mut q: Vec<&Entry> = self
            .entries()
            .filter(|e| e.state(now) == NodeState::Questionable)
            .collect();
        q.sort_by_key(|e| e.last_active);
        q.into_iter().take(max).map(|e| e.info).collect()
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    fn id_with_prefix(first: u8, rest: u8) -> NodeId {
        let mut b = [rest; 20];
        b[0] = first;
        NodeId(b)
    }

    fn addr(n: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 10_000 + n))
    }

    #[test]
    fn distance_and_prefix() {
        let a = NodeId([0; 20]);
        let mut b = [0; 20];
        b[0] = 0x10;
        assert_eq!(common_prefix_len(&a, &NodeId(b)), 3);
        assert_eq!(common_prefix_len(&a, &a), 160);
        assert!(distance(&a, &NodeId(b)) > distance(&a, &NodeId([0; 20])));
    }

    #[test]
    fn buckets_split_around_own_id_and_stay_bounded() {
        let now = Instant::now();
        let own = NodeId([0; 20]);
        let mut t = RoutingTable::new(own);
        // 8 far nodes (first bit 1) and 8 near ones (first bits 0000_0001).
        for i in 0..8u8 {
            assert_eq!(
                t.node_responded(
                    NodeInfo {
                        id: id_with_prefix(0x80 | i, i),
                        addr: addr(i.into())
                    },
                    now
                ),
                Inserted::Added
            );
        }
        for i in 0..8u8 {
            assert_eq!(
                t.node_responded(
                    NodeInfo {
                        id: id_with_prefix(0x01, i + 1),
                        addr: addr(100 + u16::from(i))
                    },
                    now
                ),
                Inserted::Added
            );
        }
        assert_eq!(t.len(), 16);
        assert!(t.bucket_count() >= 2);
        // The far bucket is full and cannot split: a 9th far node becomes a replacement.
        let extra = NodeInfo {
            id: id_with_prefix(0xF0, 9),
            addr: addr(200),
        };
        assert_eq!(
            t.node_responded(extra, now),
            Inserted::Replacement { ping: None }
        );
        assert_eq!(t.len(), 16);
        // After GOOD_FOR the far nodes are questionable and one is proposed for a ping.
        let later = now + GOOD_FOR + Duration::from_secs(1);
        let extra2 = NodeInfo {
            id: id_with_prefix(0xF1, 9),
            addr: addr(201),
        };
        assert!(matches!(
            t.node_responded(extra2, later),
            Inserted::Replacement { ping: Some(_) }
        ));
        // A far node failing twice is bad and replaced by a replacement.
        let victim = id_with_prefix(0x80, 0);
        t.node_failed(&victim, later);
        assert!(t.entries().any(|e| e.info.id == victim));
        t.node_failed(&victim, later);
        assert!(!t.entries().any(|e| e.info.id == victim));
        assert_eq!(t.len(), 16);
    }

    #[test]
    fn own_id_and_conflicting_addresses_are_ignored() {
        let now = Instant::now();
        let own = NodeId([7; 20]);
        let mut t = RoutingTable::new(own);
        assert_eq!(
            t.node_responded(
                NodeInfo {
                    id: own,
                    addr: addr(1)
                },
                now
            ),
            Inserted::Ignored
        );
        let n = NodeInfo {
            id: NodeId([1; 20]),
            addr: addr(2),
        };
        assert_eq!(t.node_responded(n, now), Inserted::Added);
        assert_eq!(t.node_responded(n, now), Inserted::Refreshed);
        assert_eq!(
            t.node_responded(
                NodeInfo {
                    id: n.id,
                    addr: addr(3)
                },
                now
            ),
            Inserted::Ignored
        );
        assert_eq!(
            t.node_responded(
                NodeInfo {
                    id: NodeId([2; 20]),
                    addr: addr(2)
                },
                now
            ),
            Inserted::Ignored
        );
    }

    #[test]
    fn table_never_exceeds_its_bound() {
        let now = Instant::now();
        let own = NodeId([0x55; 20]);
        let mut t = RoutingTable::new(own);
        let mut x: u64 = 1;
        for n in 0..5000u32 {
            let mut b = [0u8; 20];
            for chunk in b.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let bytes = x.to_be_bytes();
                chunk.copy_from_slice(&bytes[..chunk.len()]);
            }
            let a = SocketAddr::from(([10, (n >> 16) as u8, (n >> 8) as u8, n as u8], 1));
            t.node_responded(
                NodeInfo {
                    id: NodeId(b),
                    addr: a,
                },
                now,
            );
        }
        assert!(t.len() <= MAX_BUCKETS * K);
        assert!(t.bucket_count() <= MAX_BUCKETS);
        let target = NodeId([0x55; 20]);
        let c = t.closest(&target, K, now, |_| true);
        assert_eq!(c.len(), K);
        for w in c.windows(2) {
            assert!(distance(&w[0].id, &target) <= distance(&w[1].id, &target));
        }
    }
}
