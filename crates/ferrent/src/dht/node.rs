//! [`DhtNode`]: the sans-I/O DHT node (BEP 5) — routing table, lookups, tokens, peer store and
//! rate limits behind `handle_*` / `poll_*`.
#![deny(clippy::disallowed_methods)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrent_proto::dht::{
    Body, ErrorCode, KrpcError, Message, NodeId, NodeInfo, Query, Response, Want,
};

use super::lookup::{Lookup, LookupKind};
use super::peers::PeerStore;
use super::ratelimit::RateLimiter;
use super::routing::{Inserted, K, RoutingTable};
use super::token::Tokens;

/// How long we wait for a reply to one of our queries.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// Our queries awaiting a reply at once (each is one entry of a map keyed by transaction id).
pub const MAX_PENDING_QUERIES: usize = 256;

/// Lookups running at once; [`DhtNode::get_peers`] refuses more.
pub const MAX_LOOKUPS: usize = 32;

/// Datagrams queued for the driver; beyond this, new ones are dropped (and counted).
pub const MAX_QUEUED_TRANSMITS: usize = 512;

/// Events queued for the caller; beyond this, new ones are dropped (and counted).
pub const MAX_QUEUED_EVENTS: usize = 1024;

/// Period of housekeeping: ping questionable nodes, expire peers, re-bootstrap a thin table.
pub const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(5);

/// Questionable nodes pinged per housekeeping round.
pub const PINGS_PER_ROUND: usize = 4;

/// Period of the self-lookup that keeps the buckets near our id fresh (BEP 5: buckets unchanged
/// for 15 minutes are refreshed).
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// Settings of a node. No bootstrap nodes are built in: the caller names them.
#[derive(Debug, Clone)]
pub struct DhtConfig {
    /// Our node id (random, or loaded from the saved routing table).
    pub id: NodeId,
    /// Addresses to bootstrap from (ids unknown).
    pub bootstrap: Vec<SocketAddr>,
    /// Seed of the write-token secrets (random in production).
    pub secret_seed: [u8; 32],
    /// Our `v` (client version): 2 letters and 2 version bytes.
    pub version: [u8; 4],
}

impl DhtConfig {
    /// A config with no bootstrap nodes and version `FE` 0.1.
    pub fn new(id: NodeId, secret_seed: [u8; 32]) -> Self {
        DhtConfig {
            id,
            bootstrap: Vec::new(),
            secret_seed,
            version: *b"FE\x00\x01",
        }
    }
}

/// Identifies a lookup started by [`DhtNode::get_peers`], [`DhtNode::announce`] or
/// [`DhtNode::find_node`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LookupId(pub u64);

/// What the node reports to its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhtEvent {
    /// A get_peers lookup learnt peers: each peer once per lookup from the network, plus, at
    /// the start, the peers in our own store (`source: None`).
    PeersFound {
        /// The lookup.
        lookup: LookupId,
        /// The info-hash.
        info_hash: NodeId,
        /// New peers.
        peers: Vec<SocketAddr>,
        /// The node whose reply carried them; `None` = our own peer store (others announced
        /// to us).
        source: Option<SocketAddr>,
    },
    /// A lookup converged (announces, if any, have been sent).
    LookupDone {
        /// The lookup.
        lookup: LookupId,
        /// Its target.
        target: NodeId,
        /// Nodes that answered.
        responses: usize,
        /// Distinct peers found.
        peers: usize,
        /// announce_peer queries sent.
        announced: usize,
    },
}

/// Counters, for tests, logs and the UI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DhtStats {
    /// Queries received (before rate limiting).
    pub queries_received: u64,
    /// Replies (responses and errors) sent, by transaction id length: index `n` counts ids of
    /// `n` bytes, the last index all ids of 8 bytes or more.
    pub answered_by_tid_len: [u64; 9],
    /// Error replies sent.
    pub errors_sent: u64,
    /// Datagrams that did not decode.
    pub malformed: u64,
    /// Queries dropped by the per-IP rate limit.
    pub rate_limited: u64,
    /// Queries we sent.
    pub queries_sent: u64,
    /// Replies to our queries received (responses and errors).
    pub replies_received: u64,
    /// Replies with an unknown transaction id or from the wrong address.
    pub unexpected_replies: u64,
    /// Our queries that timed out.
    pub timeouts: u64,
    /// Datagrams and events dropped because a queue was full.
    pub dropped: u64,
    /// Nodes in the routing table.
    pub routing_nodes: usize,
    /// Info-hashes and peers in the peer store.
    pub stored: (usize, usize),
}

/// Why a lookup could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DhtError {
    /// [`MAX_LOOKUPS`] are running.
    #[error("{max} lookups are already running")]
    TooManyLookups {
        /// The limit.
        max: usize,
    },
    /// The routing table is empty and there are no bootstrap nodes.
    #[error("no DHT nodes known and no bootstrap nodes given")]
    NoNodes,
    /// The driver task has stopped.
    #[error("the DHT task has stopped")]
    Stopped,
}

#[derive(Debug, Clone, Copy)]
enum Purpose {
    Lookup(u64),
    Ping,
    Announce,
}

#[derive(Debug, Clone)]
struct Pending {
    addr: SocketAddr,
    id: Option<NodeId>,
    deadline: Instant,
    purpose: Purpose,
}

/// A DHT node without I/O.
///
/// # Driving contract
/// - Create it with [`DhtNode::new`] (which queues the bootstrap queries), then loop:
/// - every received datagram goes to [`handle_packet`](Self::handle_packet) with the time and
///   source address;
/// - after any `handle_*` call or lookup start, drain [`poll_transmit`](Self::poll_transmit)
///   until `None`, sending each datagram to the returned address, and drain
///   [`poll_event`](Self::poll_event);
/// - wake up at [`poll_timeout`](Self::poll_timeout) and call
///   [`handle_timeout`](Self::handle_timeout) (calling it early is harmless).
///
/// Nothing inside reads the clock or a random source: time comes in as `now`, secrets from
/// [`DhtConfig::secret_seed`]. Memory is bounded by the named limits of each part.
#[derive(Debug)]
pub struct DhtNode {
    config: DhtConfig,
    table: RoutingTable,
    tokens: Tokens,
    store: PeerStore,
    limiter: RateLimiter,
    lookups: HashMap<u64, Lookup>,
    next_lookup: u64,
    pending: HashMap<Vec<u8>, Pending>,
    next_tid: u16,
    transmits: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<DhtEvent>,
    stats: DhtStats,
    next_housekeeping: Instant,
    next_refresh: Instant,
}

impl DhtNode {
    /// A node that starts bootstrapping (a find_node lookup for its own id) at once.
    pub fn new(config: DhtConfig, now: Instant) -> Self {
        let tid_seed = u16::from_be_bytes([config.secret_seed[0], config.secret_seed[1]]);
        let mut n = DhtNode {
            table: RoutingTable::new(config.id),
            tokens: Tokens::new(config.secret_seed, now),
            store: PeerStore::default(),
            limiter: RateLimiter::default(),
            lookups: HashMap::new(),
            next_lookup: 0,
            pending: HashMap::new(),
            next_tid: tid_seed,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: DhtStats::default(),
            next_housekeeping: now + HOUSEKEEPING_INTERVAL,
            next_refresh: now + REFRESH_INTERVAL,
            config,
        };
        let own = n.config.id;
        let _ = n.start(now, own, LookupKind::FindNode);
        n
    }

    /// Our node id.
    pub fn id(&self) -> NodeId {
        self.config.id
    }

    /// Counters.
    pub fn stats(&self) -> DhtStats {
        let mut s = self.stats.clone();
        s.routing_nodes = self.table.len();
        s.stored = self.store.counts();
        s
    }

    /// The nodes of the routing table (to save them).
    pub fn routing_nodes(&self) -> Vec<NodeInfo> {
        self.table.entries().map(|e| e.info).collect()
    }

    /// Pings `addr` (a node from a saved table, or a peer's BEP 5 PORT message); it joins the
    /// routing table when it answers.
    pub fn add_node(&mut self, now: Instant, addr: SocketAddr) {
        let q = Query::Ping { id: self.config.id };
        self.send_query(now, addr, None, q, Purpose::Ping);
    }

    /// Starts a get_peers lookup for `info_hash`; peers arrive as [`DhtEvent::PeersFound`].
    pub fn get_peers(&mut self, now: Instant, info_hash: NodeId) -> Result<LookupId, DhtError> {
        self.start(
            now,
            info_hash,
            LookupKind::GetPeers {
                announce_port: None,
            },
        )
    }

    /// Like [`get_peers`](Self::get_peers), then announces us on `port` (`None`: the UDP source
    /// port, BEP 5 `implied_port`) to the K closest nodes that gave a token.
    pub fn announce(
        &mut self,
        now: Instant,
        info_hash: NodeId,
        port: Option<u16>,
    ) -> Result<LookupId, DhtError> {
        self.start(
            now,
            info_hash,
            LookupKind::GetPeers {
                announce_port: Some(port),
            },
        )
    }

    /// Starts a find_node lookup for `target`.
    pub fn find_node(&mut self, now: Instant, target: NodeId) -> Result<LookupId, DhtError> {
        self.start(now, target, LookupKind::FindNode)
    }

    fn start(
        &mut self,
        now: Instant,
        target: NodeId,
        kind: LookupKind,
    ) -> Result<LookupId, DhtError> {
        if self.lookups.len() >= MAX_LOOKUPS {
            return Err(DhtError::TooManyLookups { max: MAX_LOOKUPS });
        }
        let known = self.table.closest(&target, K, now, |_| true);
        let bootstrap: &[SocketAddr] = if known.len() < K {
            &self.config.bootstrap
        } else {
            &[]
        };
        if known.is_empty() && bootstrap.is_empty() {
            return Err(DhtError::NoNodes);
        }
        let lookup = Lookup::new(target, kind, &known, bootstrap);
        let id = self.next_lookup;
        self.next_lookup += 1;
        if let LookupKind::GetPeers { .. } = kind {
            // We may be one of the closest nodes ourselves: report what others announced to us.
            // These are not marked as seen, so a node's reply reports them again with its source.
            let mut peers = self.store.get(&target, now, false);
            peers.extend(self.store.get(&target, now, true));
            if !peers.is_empty() {
                self.push_event(DhtEvent::PeersFound {
                    lookup: LookupId(id),
                    info_hash: target,
                    peers,
                    source: None,
                });
            }
        }
        self.lookups.insert(id, lookup);
        self.pump(now, id);
        Ok(LookupId(id))
    }

    /// The next datagram to send: its bytes replace `buf`'s content; returns the destination.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> Option<SocketAddr> {
        let (addr, data) = self.transmits.pop_front()?;
        buf.clear();
        buf.extend_from_slice(&data);
        Some(addr)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<DhtEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self
            .next_housekeeping
            .min(self.next_refresh)
            .min(self.tokens.next_rotation());
        for p in self.pending.values() {
            t = t.min(p.deadline);
        }
        Some(t)
    }

    /// Expires queries, rotates the token secret, runs housekeeping and refreshes.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<Vec<u8>> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(t, _)| t.clone())
            .collect();
        for tid in expired {
            let Some(p) = self.pending.remove(&tid) else {
                continue;
            };
            self.stats.timeouts += 1;
            if let Some(id) = p.id {
                self.table.node_failed(&id, now);
            }
            if let Purpose::Lookup(l) = p.purpose {
                if let Some(lookup) = self.lookups.get_mut(&l) {
                    lookup.on_failure(p.addr);
                }
                self.pump(now, l);
            }
        }
        self.tokens.handle_timeout(now);
        if now >= self.next_housekeeping {
            self.next_housekeeping = now + HOUSEKEEPING_INTERVAL;
            self.store.expire(now);
            for n in self.table.questionable(now, PINGS_PER_ROUND) {
                let q = Query::Ping { id: self.config.id };
                self.send_query(now, n.addr, Some(n.id), q, Purpose::Ping);
            }
            // A thin table (fewer than K nodes, e.g. right after a bootstrap during which the
            // bootstrap node knew nobody yet) gets a self-lookup each round until it fills.
            if self.table.len() < K && self.lookups.is_empty() {
                let own = self.config.id;
                let _ = self.start(now, own, LookupKind::FindNode);
            }
        }
        if now >= self.next_refresh {
            self.next_refresh = now + REFRESH_INTERVAL;
            let own = self.config.id;
            let _ = self.start(now, own, LookupKind::FindNode);
        }
    }

    /// One received datagram from `from`.
    pub fn handle_packet(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let msg = match Message::decode(bytes) {
            Ok(m) => m,
            Err(e) => return self.malformed(now, from, e),
        };
        match msg.body {
            Body::Query(q) => {
                self.stats.queries_received += 1;
                if !self.limiter.allow(from.ip(), now) {
                    self.stats.rate_limited += 1;
                    return;
                }
                self.handle_query(now, from, msg.transaction_id, msg.read_only, q);
            }
            Body::Response(r) => self.handle_reply(now, from, &msg.transaction_id, Some(r)),
            Body::Error(_) => self.handle_reply(now, from, &msg.transaction_id, None),
        }
    }

    fn malformed(&mut self, now: Instant, from: SocketAddr, e: KrpcError) {
        self.stats.malformed += 1;
        if let (true, Some(tid)) = (e.is_query, e.transaction_id) {
            if self.limiter.allow(from.ip(), now) {
                self.reply(
                    from,
                    Message::error(tid, ErrorCode::PROTOCOL, "invalid arguments"),
                );
            } else {
                self.stats.rate_limited += 1;
            }
        }
    }

    fn reply(&mut self, to: SocketAddr, mut msg: Message) {
        let len = msg.transaction_id.len().min(8);
        if let Some(c) = self.stats.answered_by_tid_len.get_mut(len) {
            *c += 1;
        }
        if matches!(msg.body, Body::Error(_)) {
            self.stats.errors_sent += 1;
        }
        msg.ip = Some(to);
        self.queue(to, &msg);
    }

    fn queue(&mut self, to: SocketAddr, msg: &Message) {
        if self.transmits.len() >= MAX_QUEUED_TRANSMITS {
            self.stats.dropped += 1;
            return;
        }
        let mut out = Vec::with_capacity(128);
        let mut msg = msg.clone();
        msg.version = Some(self.config.version.to_vec());
        msg.encode(&mut out);
        self.transmits.push_back((to, out));
    }

    fn handle_query(
        &mut self,
        now: Instant,
        from: SocketAddr,
        tid: Vec<u8>,
        read_only: bool,
        q: Query,
    ) {
        if let (Some(id), false) = (q.sender_id(), read_only) {
            let info = NodeInfo { id, addr: from };
            self.table.node_queried_us(info, now);
            // Unknown querier: ping it so it can join the table once it answers.
            if id != self.config.id
                && !self.table.entries().any(|e| e.info.id == id)
                && self.pending.len() < MAX_PENDING_QUERIES / 2
            {
                let ping = Query::Ping { id: self.config.id };
                self.send_query(now, from, Some(id), ping, Purpose::Ping);
            }
        }
        let own = self.config.id;
        let nodes_for = |table: &RoutingTable, target: &NodeId, want: Want| {
            let (n4, n6) = if want.n4 || want.n6 {
                (want.n4, want.n6)
            } else {
                (from.is_ipv4(), from.is_ipv6())
            };
            let v4 = if n4 {
                table.closest(target, K, now, SocketAddr::is_ipv4)
            } else {
                Vec::new()
            };
            let v6 = if n6 {
                table.closest(target, K, now, SocketAddr::is_ipv6)
            } else {
                Vec::new()
            };
            (v4, v6)
        };
        let msg = match q {
            Query::Ping { .. } => Message::response(
                tid,
                Response {
                    id: own,
                    ..Response::default()
                },
            ),
            Query::FindNode { target, want, .. } => {
                let (nodes, nodes6) = nodes_for(&self.table, &target, want);
                Message::response(
                    tid,
                    Response {
                        id: own,
                        nodes,
                        nodes6,
                        ..Response::default()
                    },
                )
            }
            Query::GetPeers {
                info_hash, want, ..
            } => {
                let (nodes, nodes6) = nodes_for(&self.table, &info_hash, want);
                let values = self.store.get(&info_hash, now, from.is_ipv6());
                let token = Some(self.tokens.issue(from.ip()).to_vec());
                Message::response(
                    tid,
                    Response {
                        id: own,
                        nodes,
                        nodes6,
                        values,
                        token,
                    },
                )
            }
            Query::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token,
                ..
            } => {
                let port = if implied_port { from.port() } else { port };
                if !self.tokens.verify(from.ip(), &token) {
                    Message::error(tid, ErrorCode::PROTOCOL, "bad token")
                } else if port == 0 {
                    Message::error(tid, ErrorCode::PROTOCOL, "invalid port")
                } else if !self
                    .store
                    .announce(info_hash, SocketAddr::new(from.ip(), port), now)
                {
                    Message::error(tid, ErrorCode::SERVER, "peer store full")
                } else {
                    Message::response(
                        tid,
                        Response {
                            id: own,
                            ..Response::default()
                        },
                    )
                }
            }
            Query::Unknown { .. } => {
                Message::error(tid, ErrorCode::METHOD_UNKNOWN, "method unknown")
            }
        };
        self.reply(from, msg);
    }

    fn handle_reply(&mut self, now: Instant, from: SocketAddr, tid: &[u8], r: Option<Response>) {
        // Only a reply from the address we asked settles a query (anti-spoofing).
        match self.pending.get(tid) {
            Some(p) if p.addr == from => {}
            _ => {
                self.stats.unexpected_replies += 1;
                return;
            }
        }
        let Some(p) = self.pending.remove(tid) else {
            return;
        };
        self.stats.replies_received += 1;
        let Some(r) = r else {
            if let Purpose::Lookup(l) = p.purpose {
                if let Some(lookup) = self.lookups.get_mut(&l) {
                    lookup.on_failure(from);
                }
                self.pump(now, l);
            }
            return;
        };
        if let Inserted::Replacement { ping: Some(q) } = self.table.node_responded(
            NodeInfo {
                id: r.id,
                addr: from,
            },
            now,
        ) {
            let ping = Query::Ping { id: self.config.id };
            self.send_query(now, q.addr, Some(q.id), ping, Purpose::Ping);
        }
        if let Purpose::Lookup(l) = p.purpose {
            if let Some(lookup) = self.lookups.get_mut(&l) {
                let peers = lookup.on_response(from, &r);
                if !peers.is_empty() {
                    let ev = DhtEvent::PeersFound {
                        lookup: LookupId(l),
                        info_hash: lookup.target,
                        peers,
                        source: Some(from),
                    };
                    self.push_event(ev);
                }
            }
            self.pump(now, l);
        }
    }

    fn push_event(&mut self, ev: DhtEvent) {
        if self.events.len() >= MAX_QUEUED_EVENTS {
            self.stats.dropped += 1;
        } else {
            self.events.push_back(ev);
        }
    }

    /// Sends what lookup `l` may send now; finishes it when it has converged.
    fn pump(&mut self, now: Instant, l: u64) {
        let Some(mut lookup) = self.lookups.remove(&l) else {
            return;
        };
        while let Some((id, addr)) = lookup.next_query() {
            let q = match lookup.kind {
                LookupKind::FindNode => Query::FindNode {
                    id: self.config.id,
                    target: lookup.target,
                    want: Want::default(),
                },
                LookupKind::GetPeers { .. } => Query::GetPeers {
                    id: self.config.id,
                    info_hash: lookup.target,
                    want: Want::default(),
                },
            };
            if !self.send_query(now, addr, id, q, Purpose::Lookup(l)) {
                lookup.on_failure(addr);
            }
        }
        if !lookup.is_done() {
            self.lookups.insert(l, lookup);
            return;
        }
        let mut announced = 0;
        if let LookupKind::GetPeers {
            announce_port: Some(port),
        } = lookup.kind
        {
            for (node, token) in lookup.closest_responded() {
                let Some(token) = token else { continue };
                let q = Query::AnnouncePeer {
                    id: self.config.id,
                    info_hash: lookup.target,
                    port: port.unwrap_or(0),
                    implied_port: port.is_none(),
                    token,
                };
                if self.send_query(now, node.addr, Some(node.id), q, Purpose::Announce) {
                    announced += 1;
                }
            }
        }
        self.push_event(DhtEvent::LookupDone {
            lookup: LookupId(l),
            target: lookup.target,
            responses: lookup.responses(),
            peers: lookup.peers_found(),
            announced,
        });
    }

    /// Queues a query; false if [`MAX_PENDING_QUERIES`] are pending or the queue is full.
    fn send_query(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        id: Option<NodeId>,
        q: Query,
        purpose: Purpose,
    ) -> bool {
        if self.pending.len() >= MAX_PENDING_QUERIES || self.transmits.len() >= MAX_QUEUED_TRANSMITS
        {
            self.stats.dropped += 1;
            return false;
        }
        // 2-byte transaction ids, like libtorrent; skip ids still pending.
        let mut tid = self.next_tid.to_be_bytes().to_vec();
        for _ in 0..=MAX_PENDING_QUERIES {
            self.next_tid = self.next_tid.wrapping_add(1);
            if !self.pending.contains_key(&tid) {
                break;
            }
            tid = self.next_tid.to_be_bytes().to_vec();
        }
        self.stats.queries_sent += 1;
        let msg = Message::query(tid.clone(), q);
        self.queue(addr, &msg);
        self.pending.insert(
            tid,
            Pending {
                addr,
                id,
                deadline: now + QUERY_TIMEOUT,
                purpose,
            },
        );
        true
    }
}
