//! The iterative lookup (BEP 5 find_node / get_peers): ask the closest known nodes, [`ALPHA`] at a
//! time, learn closer ones from their replies, and stop when the [`K`] closest nodes that are
//! still alive have all answered.
#![deny(clippy::disallowed_methods)]

use std::collections::HashSet;
use std::net::SocketAddr;

use ferrent_proto::dht::{NodeId, NodeInfo, Response};

use super::routing::{K, distance};

/// Queries a lookup keeps in flight (Kademlia's alpha).
pub const ALPHA: usize = 3;

/// Candidates a lookup remembers; the farthest unqueried ones are dropped beyond this.
pub const MAX_CANDIDATES: usize = 128;

/// Distinct peers a get_peers lookup reports; more are ignored.
pub const MAX_PEERS_PER_LOOKUP: usize = 1000;

/// What a lookup is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupKind {
    /// find_node (bootstrap, refresh).
    FindNode,
    /// get_peers; with `announce_port` set, the K closest nodes get an announce_peer at the end
    /// (`Some(None)` = implied port).
    GetPeers {
        /// Port to announce, if announcing.
        announce_port: Option<Option<u16>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Fresh,
    InFlight,
    Responded,
    Failed,
}

#[derive(Debug, Clone)]
struct Candidate {
    id: Option<NodeId>,
    addr: SocketAddr,
    state: State,
    token: Option<Vec<u8>>,
}

/// One lookup's progress.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// The id or info-hash looked for.
    pub target: NodeId,
    /// find_node or get_peers.
    pub kind: LookupKind,
    candidates: Vec<Candidate>,
    in_flight: usize,
    peers_seen: HashSet<SocketAddr>,
    responses: usize,
}

impl Lookup {
    /// A lookup seeded with known nodes and, optionally, addresses whose ids we do not know yet
    /// (bootstrap nodes).
    pub fn new(
        target: NodeId,
        kind: LookupKind,
        known: &[NodeInfo],
        bootstrap: &[SocketAddr],
    ) -> Self {
        let mut l = Lookup {
            target,
            kind,
            candidates: Vec::new(),
            in_flight: 0,
            peers_seen: HashSet::new(),
            responses: 0,
        };
        for n in known {
            l.add(Some(n.id), n.addr);
        }
        for a in bootstrap {
            l.add(None, *a);
        }
        l
    }

    fn key(&self, c: &Candidate) -> [u8; 20] {
        // Unknown ids (bootstrap addresses) sort after every known node.
        c.id.map_or([0xFF; 20], |id| distance(&id, &self.target))
    }

    fn add(&mut self, id: Option<NodeId>, addr: SocketAddr) {
        if self
            .candidates
            .iter()
            .any(|c| c.addr == addr || (id.is_some() && c.id == id))
        {
            return;
        }
        let c = Candidate {
            id,
            addr,
            state: State::Fresh,
            token: None,
        };
        let key = self.key(&c);
        let pos = self.candidates.partition_point(|x| self.key(x) <= key);
        self.candidates.insert(pos, c);
        if self.candidates.len() > MAX_CANDIDATES {
            if let Some(far) = self
                .candidates
                .iter()
                .rposition(|c| c.state == State::Fresh)
            {
                self.candidates.remove(far);
            }
        }
    }

    /// The next node to query, if one may be queried now: the closest fresh candidate among the
    /// K closest that are not failed, while fewer than [`ALPHA`] queries are in flight.
    pub fn next_query(&mut self) -> Option<(Option<NodeId>, SocketAddr)> {
        if self.in_flight >= ALPHA {
            return None;
        }
        let c = self
            .candidates
            .iter_mut()
            .filter(|c| c.state != State::Failed)
            .take(K)
            .find(|c| c.state == State::Fresh)?;
        c.state = State::InFlight;
        self.in_flight += 1;
        Some((c.id, c.addr))
    }

    fn in_flight_mut(&mut self, addr: SocketAddr) -> Option<&mut Candidate> {
        self.candidates
            .iter_mut()
            .find(|c| c.addr == addr && c.state == State::InFlight)
    }

    /// A queried node answered. Returns the peers in the reply not reported before.
    pub fn on_response(&mut self, addr: SocketAddr, r: &Response) -> Vec<SocketAddr> {
        let target = self.target;
        let Some(c) = self.in_flight_mut(addr) else {
            return Vec::new();
        };
        c.state = State::Responded;
        c.id = Some(r.id);
        c.token = r.token.clone();
        self.in_flight = self.in_flight.saturating_sub(1);
        self.responses += 1;
        // Re-sort: a bootstrap node just got its id.
        self.candidates
            .sort_by_key(|c| c.id.map_or([0xFF; 20], |id| distance(&id, &target)));
        for n in r.nodes.iter().chain(r.nodes6.iter()) {
            self.add(Some(n.id), n.addr);
        }
        self.note_peers(&r.values)
    }

    /// Peers learnt elsewhere (our own peer store): returns those not reported before.
    pub fn note_peers(&mut self, peers: &[SocketAddr]) -> Vec<SocketAddr> {
        let mut new = Vec::new();
        for p in peers {
            if self.peers_seen.len() < MAX_PEERS_PER_LOOKUP && self.peers_seen.insert(*p) {
                new.push(*p);
            }
        }
        new
    }

    /// A query timed out or got an error reply.
    pub fn on_failure(&mut self, addr: SocketAddr) {
        if let Some(c) = self.in_flight_mut(addr) {
            c.state = State::Failed;
            self.in_flight = self.in_flight.saturating_sub(1);
        }
    }

    /// Done: nothing in flight and nothing left worth asking.
    pub fn is_done(&self) -> bool {
        self.in_flight == 0
            && !self
                .candidates
                .iter()
                .filter(|c| c.state != State::Failed)
                .take(K)
                .any(|c| c.state == State::Fresh)
    }

    /// Nodes that answered, closest first (at most K), with the token each gave.
    pub fn closest_responded(&self) -> Vec<(NodeInfo, Option<Vec<u8>>)> {
        self.candidates
            .iter()
            .filter(|c| c.state == State::Responded)
            .filter_map(|c| {
                c.id.map(|id| (NodeInfo { id, addr: c.addr }, c.token.clone()))
            })
            .take(K)
            .collect()
    }

    /// Replies received so far.
    pub fn responses(&self) -> usize {
        self.responses
    }

    /// Distinct peers found so far.
    pub fn peers_found(&self) -> usize {
        self.peers_seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(b: u8, port: u16) -> NodeInfo {
        NodeInfo {
            id: NodeId([b; 20]),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    #[test]
    fn alpha_parallel_then_converges_on_closest() {
        let target = NodeId([0; 20]);
        let seeds: Vec<NodeInfo> = (1..=10).map(|i| node(0x80 + i, u16::from(i))).collect();
        let mut l = Lookup::new(target, LookupKind::FindNode, &seeds, &[]);
        let q: Vec<_> = std::iter::from_fn(|| l.next_query()).collect();
        assert_eq!(q.len(), ALPHA);
        // The first reply brings closer nodes; they are asked before farther seeds.
        let closer: Vec<NodeInfo> = (1..=3).map(|i| node(i, 100 + u16::from(i))).collect();
        let r = Response {
            id: seeds[0].id,
            nodes: closer.clone(),
            ..Response::default()
        };
        assert!(l.on_response(q[0].1, &r).is_empty());
        let (_, next) = l.next_query().unwrap();
        assert_eq!(next, closer[0].addr);
        l.on_failure(q[1].1);
        // Drive everything to completion: answer all with no new nodes.
        let mut guard = 0;
        while !l.is_done() {
            guard += 1;
            assert!(guard < 100);
            while let Some((id, a)) = l.next_query() {
                let r = Response {
                    id: id.unwrap(),
                    token: Some(vec![1]),
                    ..Response::default()
                };
                l.on_response(a, &r);
            }
            for c in l.candidates.clone() {
                if c.state == State::InFlight {
                    l.on_response(
                        c.addr,
                        &Response {
                            id: c.id.unwrap(),
                            ..Response::default()
                        },
                    );
                }
            }
        }
        let best = l.closest_responded();
        assert_eq!(best.len(), K);
        assert_eq!(best[0].0.id, closer[0].id);
        assert!(
            !best.iter().any(|(n, _)| n.addr == q[1].1),
            "failed node excluded"
        );
    }

    #[test]
    fn bootstrap_addresses_and_duplicate_peers() {
        let target = NodeId([5; 20]);
        let b = SocketAddr::from(([127, 0, 0, 2], 6881));
        let mut l = Lookup::new(
            target,
            LookupKind::GetPeers {
                announce_port: None,
            },
            &[],
            &[b],
        );
        assert_eq!(l.next_query(), Some((None, b)));
        assert_eq!(l.next_query(), None);
        let p = SocketAddr::from(([127, 0, 0, 3], 7000));
        let r = Response {
            id: NodeId([6; 20]),
            values: vec![p, p],
            ..Response::default()
        };
        assert_eq!(l.on_response(b, &r), vec![p]);
        assert!(l.is_done());
        // A reply from an address we did not ask is ignored.
        assert!(
            l.on_response(SocketAddr::from(([127, 0, 0, 9], 1)), &r)
                .is_empty()
        );
        assert_eq!(l.responses(), 1);
    }
}
