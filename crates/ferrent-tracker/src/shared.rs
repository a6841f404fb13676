//! The state the HTTP and UDP front ends share: sharded swarm store, allow-list, connection-id
//! key and counters. Each request handler is a plain method taking `now`, so the hostile-input
//! rules are testable without sockets.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use ferrent_core::Id20;
use ferrent_proto::tracker::{
    AnnounceRequest, AnnounceResponse, HttpReply, PeerEntry, PeerListFormat, ScrapeRequest,
    ScrapeResponse, ScrapeStats, UdpAnnounceResponse, UdpRequest, UdpResponse,
};

use crate::connid::ConnectionIds;
use crate::store::{
    Announce, AnnounceResult, CompactPeers, Families, Refusal, StoreCounts, SwarmCounts, SwarmStore,
};

/// Counters of what the tracker has handled since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Announces answered with peers over HTTP.
    pub http_announces: u64,
    /// HTTP scrapes answered.
    pub http_scrapes: u64,
    /// HTTP requests answered with a `failure reason` (malformed, refused or not allowed).
    pub http_failures: u64,
    /// HTTP connections closed on accept because [`crate::Config::http_max_connections`]
    /// were open.
    pub http_rejected: u64,
    /// UDP connect requests answered.
    pub udp_connects: u64,
    /// UDP announces answered with peers.
    pub udp_announces: u64,
    /// UDP scrapes answered.
    pub udp_scrapes: u64,
    /// UDP announces answered with an error packet (refused or not allowed).
    pub udp_errors: u64,
    /// UDP packets dropped because they did not decode.
    pub udp_malformed: u64,
    /// UDP announces/scrapes dropped because their connection id was forged, expired or
    /// issued to another address.
    pub udp_bad_connection_id: u64,
    /// Swarms, peers and seeds now.
    pub counts: StoreCounts,
}

#[derive(Default)]
struct Counters {
    http_announces: AtomicU64,
    http_scrapes: AtomicU64,
    http_failures: AtomicU64,
    http_rejected: AtomicU64,
    udp_connects: AtomicU64,
    udp_announces: AtomicU64,
    udp_scrapes: AtomicU64,
    udp_errors: AtomicU64,
    udp_malformed: AtomicU64,
    udp_bad_connection_id: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

pub(crate) struct Shared {
    shards: Box<[Mutex<SwarmStore>]>,
    /// Picks a swarm's shard from its info-hash with a random key, so that nobody can choose
    /// info-hashes that all land in one shard (and fill its share of the swarm cap).
    shard_key: RandomState,
    allow: RwLock<Option<Arc<HashSet<Id20>>>>,
    ids: ConnectionIds,
    interval: u32,
    min_interval: u32,
    counters: Counters,
}

impl Shared {
    pub(crate) fn new(
        shards: Vec<SwarmStore>,
        allow: Option<HashSet<Id20>>,
        ids: ConnectionIds,
        interval: u32,
        min_interval: u32,
    ) -> Self {
        Shared {
            shards: shards.into_iter().map(Mutex::new).collect(),
            shard_key: RandomState::new(),
            allow: RwLock::new(allow.map(Arc::new)),
            ids,
            interval,
            min_interval,
            counters: Counters::default(),
        }
    }

    fn lock(m: &Mutex<SwarmStore>) -> MutexGuard<'_, SwarmStore> {
        // A panic while holding the lock cannot leave the store inconsistent in a way that
        // matters more than stopping the tracker would: keep serving.
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn shard(&self, h: &Id20) -> MutexGuard<'_, SwarmStore> {
        let i = (self.shard_key.hash_one(h) % self.shards.len().max(1) as u64) as usize;
        match self.shards.get(i) {
            Some(m) => Self::lock(m),
            // Unreachable: there is always at least one shard and `i` is reduced modulo their number.
            None => Self::lock(&self.shards[0]),
        }
    }

    pub(crate) fn for_each_shard(&self, mut f: impl FnMut(&mut SwarmStore)) {
        for m in self.shards.iter() {
            f(&mut Self::lock(m));
        }
    }

    fn allowed(&self, h: &Id20) -> bool {
        let g = self.allow.read().unwrap_or_else(|p| p.into_inner());
        g.as_ref().is_none_or(|set| set.contains(h))
    }

    /// Installs a new allow-list and drops swarms it no longer allows.
    pub(crate) fn set_allow(&self, set: HashSet<Id20>) {
        let set = Arc::new(set);
        *self.allow.write().unwrap_or_else(|p| p.into_inner()) = Some(set.clone());
        self.for_each_shard(|s| {
            for h in s.info_hashes() {
                if !set.contains(&h) {
                    s.remove_swarm(&h);
                }
            }
        });
    }

    pub(crate) fn announce(
        &self,
        now: Instant,
        a: &Announce,
        fam: Families,
    ) -> Result<AnnounceResult, Refusal> {
        if !self.allowed(&a.info_hash) {
            return Err(Refusal::NotAllowed);
        }
        self.shard(&a.info_hash).announce(now, a, fam)
    }

    /// [`Shared::announce`] with the peers appended to `out` in compact form.
    fn announce_compact(
        &self,
        now: Instant,
        a: &Announce,
        fam: Families,
        out: &mut CompactPeers,
    ) -> Result<SwarmCounts, Refusal> {
        if !self.allowed(&a.info_hash) {
            return Err(Refusal::NotAllowed);
        }
        self.shard(&a.info_hash).announce_compact(now, a, fam, out)
    }

    fn scrape(&self, h: &Id20) -> Option<ScrapeStats> {
        if !self.allowed(h) {
            return None;
        }
        self.shard(h).scrape(h)
    }

    pub(crate) fn stats(&self) -> Stats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut counts = StoreCounts::default();
        self.for_each_shard(|s| {
            let x = s.counts();
            counts.swarms += x.swarms;
            counts.peers += x.peers;
            counts.seeds += x.seeds;
        });
        Stats {
            http_announces: get(&c.http_announces),
            http_scrapes: get(&c.http_scrapes),
            http_failures: get(&c.http_failures),
            http_rejected: get(&c.http_rejected),
            udp_connects: get(&c.udp_connects),
            udp_announces: get(&c.udp_announces),
            udp_scrapes: get(&c.udp_scrapes),
            udp_errors: get(&c.udp_errors),
            udp_malformed: get(&c.udp_malformed),
            udp_bad_connection_id: get(&c.udp_bad_connection_id),
            counts,
        }
    }

    /// Counts an HTTP connection closed because too many were open.
    pub(crate) fn count_http_rejected(&self) {
        bump(&self.counters.http_rejected);
    }

    fn http_failure(&self, reason: &str, out: &mut Vec<u8>) {
        bump(&self.counters.http_failures);
        HttpReply::<AnnounceResponse>::encode_failure(reason, out);
    }

    /// Answers an HTTP announce (`query` is the raw query string, `from` the TCP peer) into
    /// `out`: a bencoded reply or `failure reason`. The announced address is the connection's
    /// source IP with the `port` parameter; the `ip` parameter is ignored, so nobody can
    /// announce a third party's address.
    pub(crate) fn http_announce(
        &self,
        now: Instant,
        query: &str,
        from: SocketAddr,
        out: &mut Vec<u8>,
    ) {
        let req = match AnnounceRequest::parse_query(query) {
            Ok(r) => r,
            Err(e) => return self.http_failure(&e.to_string(), out),
        };
        let a = Announce {
            info_hash: req.info_hash,
            addr: SocketAddr::new(canonical_ip(from.ip()), req.port),
            event: req.event,
            left: req.left,
            numwant: req.numwant,
        };
        match self.announce(now, &a, Families::Both) {
            Err(r) => self.http_failure(&r.to_string(), out),
            Ok(r) => {
                bump(&self.counters.http_announces);
                let resp = AnnounceResponse {
                    interval: self.interval,
                    min_interval: Some(self.min_interval),
                    complete: Some(r.complete),
                    incomplete: Some(r.incomplete),
                    peers: r
                        .peers
                        .into_iter()
                        .map(|addr| PeerEntry {
                            addr,
                            peer_id: None,
                        })
                        .collect(),
                    ..AnnounceResponse::default()
                };
                let format = if req.compact {
                    PeerListFormat::Compact
                } else {
                    PeerListFormat::Dict { peer_ids: false }
                };
                resp.encode(format, out);
            }
        }
    }

    /// Answers an HTTP scrape (BEP 48) into `out`. Unknown and not-allowed info-hashes are
    /// left out of `files`; a scrape without `info_hash` (a "full scrape") is refused.
    pub(crate) fn http_scrape(&self, query: &str, out: &mut Vec<u8>) {
        let req = match ScrapeRequest::parse_query(query) {
            Ok(r) => r,
            Err(e) => return self.http_failure(&e.to_string(), out),
        };
        if req.info_hashes.is_empty() {
            return self.http_failure("scrape needs at least one info_hash (no full scrape)", out);
        }
        bump(&self.counters.http_scrapes);
        let files = req
            .info_hashes
            .iter()
            .filter_map(|h| Some((*h, self.scrape(h)?)))
            .collect();
        ScrapeResponse { files }.encode(out);
    }

    /// Handles one UDP datagram from `from`; returns whether `out` holds a reply to send.
    /// `scratch` is the caller's reusable buffer for the peers picked (no allocation per
    /// announce).
    /// Malformed packets and packets with a bad connection id are dropped without a reply (an
    /// error reply to a forged source address would make the tracker a reflector).
    pub(crate) fn udp_packet(
        &self,
        now: Instant,
        packet: &[u8],
        from: SocketAddr,
        out: &mut Vec<u8>,
        scratch: &mut CompactPeers,
    ) -> bool {
        let from = SocketAddr::new(canonical_ip(from.ip()), from.port());
        let req = match UdpRequest::decode(packet) {
            Ok(r) => r,
            Err(_) => {
                bump(&self.counters.udp_malformed);
                return false;
            }
        };
        let resp = match req {
            UdpRequest::Connect { transaction_id } => {
                bump(&self.counters.udp_connects);
                UdpResponse::Connect {
                    transaction_id,
                    connection_id: self.ids.issue(now, &from),
                }
            }
            UdpRequest::Announce(a) => {
                if !self.ids.check(now, &from, a.connection_id) {
                    bump(&self.counters.udp_bad_connection_id);
                    return false;
                }
                let fam = if from.is_ipv4() {
                    Families::V4
                } else {
                    Families::V6
                };
                let ann = Announce {
                    info_hash: a.info_hash,
                    addr: SocketAddr::new(from.ip(), a.port),
                    event: a.event,
                    left: a.left,
                    numwant: u32::try_from(a.num_want).ok().filter(|_| a.num_want >= 0),
                };
                scratch.clear();
                match self.announce_compact(now, &ann, fam, scratch) {
                    Err(r) => {
                        bump(&self.counters.udp_errors);
                        UdpResponse::Error {
                            transaction_id: a.transaction_id,
                            message: r.to_string(),
                        }
                    }
                    Ok(c) => {
                        bump(&self.counters.udp_announces);
                        let peers = if fam == Families::V4 {
                            &scratch.v4
                        } else {
                            &scratch.v6
                        };
                        UdpAnnounceResponse::encode_compact(
                            a.transaction_id,
                            self.interval,
                            c.incomplete,
                            c.complete,
                            peers,
                            out,
                        );
                        return true;
                    }
                }
            }
            UdpRequest::Scrape {
                connection_id,
                transaction_id,
                info_hashes,
            } => {
                if !self.ids.check(now, &from, connection_id) {
                    bump(&self.counters.udp_bad_connection_id);
                    return false;
                }
                bump(&self.counters.udp_scrapes);
                let stats = info_hashes
                    .iter()
                    .map(|h| self.scrape(h).unwrap_or_default())
                    .collect();
                UdpResponse::Scrape {
                    transaction_id,
                    stats,
                }
            }
        };
        resp.encode(out);
        true
    }
}

/// IPv4-mapped IPv6 addresses (from dual-stack sockets) as IPv4.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        ip => ip,
    }
}

impl Shared {
    /// Restores one swarm of a snapshot into its shard.
    pub(crate) fn restore(&self, now: Instant, h: Id20, s: crate::store::SwarmSnapshot) {
        self.shard(&h).restore(now, vec![s]);
    }
}
