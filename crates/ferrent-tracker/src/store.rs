//! The swarm store: every swarm's peers and counters, and the announce and scrape logic.
//!
//! Sans-I/O: a plain struct with no clock, no sockets and no locks. Every method that depends on
//! time takes `now: Instant`, so tests drive it with a fake clock (DESIGN.md rule 2). The server
//! keeps [`crate::limits::SHARDS`] of these behind mutexes.
//!
//! Invariants: every peer of a swarm is in exactly one entry of its family's `entries`, and
//! `index` maps its address to that position; `seeds` counts entries with `seed` set;
//! `total_peers` is the sum of all entries; a swarm with no peers is removed by
//! [`SwarmStore::expire`].

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::{Duration, Instant};

use ferrent_core::Id20;
use ferrent_proto::tracker::{Event, ScrapeStats};
use rand::SeedableRng;
use rand::rngs::SmallRng;

/// Settings of a [`SwarmStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    /// A peer is dropped when it has not announced for this long.
    pub peer_timeout: Duration,
    /// Peers sent when the client gives no `numwant`.
    pub default_numwant: u32,
    /// Most peers sent per address family, whatever `numwant` says.
    pub max_numwant: u32,
    /// Most peers stored per swarm and address family.
    pub max_peers_per_swarm: usize,
    /// Most swarms.
    pub max_swarms: usize,
    /// Most peers over all swarms.
    pub max_peers_total: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        use crate::limits::*;
        StoreConfig {
            peer_timeout: DEFAULT_INTERVAL * PEER_TIMEOUT_INTERVALS,
            default_numwant: DEFAULT_NUMWANT,
            max_numwant: MAX_NUMWANT,
            max_peers_per_swarm: MAX_PEERS_PER_SWARM,
            max_swarms: MAX_SWARMS,
            max_peers_total: MAX_PEERS_TOTAL,
        }
    }
}

/// One announce, as the store sees it (the protocol front ends build it from the request and
/// the packet's source address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announce {
    /// The swarm.
    pub info_hash: Id20,
    /// Where other peers reach the announcer (source IP and the announced port). An
    /// IPv4-mapped IPv6 address is stored as IPv4.
    pub addr: SocketAddr,
    /// The event.
    pub event: Event,
    /// Bytes left: 0 = seed.
    pub left: u64,
    /// Peers wanted (`None` = the default).
    pub numwant: Option<u32>,
}

/// Which address families the reply may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Families {
    /// IPv4 only (UDP over IPv4).
    V4,
    /// IPv6 only (UDP over IPv6).
    V6,
    /// Both (HTTP: `peers` and `peers6`).
    Both,
}

/// The answer to an announce.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AnnounceResult {
    /// Seeders in the swarm (after this announce).
    pub complete: u32,
    /// Leechers in the swarm (after this announce).
    pub incomplete: u32,
    /// Up to `numwant` (capped) other peers per family, chosen at random when there are more.
    pub peers: Vec<SocketAddr>,
}

/// Why an announce was refused. The `Display` text is what the client gets as the
/// `failure reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The store holds the maximum number of swarms.
    #[error("tracker is full: too many torrents")]
    TooManySwarms,
    /// The announced port is 0.
    #[error("invalid port 0")]
    InvalidPort,
    /// The info-hash is not on the allow-list.
    #[error("info-hash not allowed on this tracker")]
    NotAllowed,
}

/// Peer counts of the whole store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreCounts {
    /// Swarms.
    pub swarms: usize,
    /// Peers over all swarms.
    pub peers: usize,
    /// Of which seeders.
    pub seeds: usize,
}

/// A swarm as saved in and restored from a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmSnapshot {
    /// The swarm.
    pub info_hash: Id20,
    /// Completed downloads counted.
    pub downloaded: u32,
    /// Peers and whether each is a seed.
    pub peers: Vec<(SocketAddr, bool)>,
}

#[derive(Debug, Clone, Copy)]
struct Entry<A> {
    addr: A,
    /// Seconds since the store's epoch.
    last_seen: u32,
    seed: bool,
}

/// The peers of one family in one swarm: a vector for O(1) random sampling plus an index by
/// compact address (6 or 18 bytes, the BEP 23 / BEP 7 form) for O(1) updates.
#[derive(Debug)]
struct PeerSet<A> {
    entries: Vec<Entry<A>>,
    index: HashMap<A, u32>,
    seeds: u32,
}

impl<A> Default for PeerSet<A> {
    fn default() -> Self {
        PeerSet {
            entries: Vec::new(),
            index: HashMap::new(),
            seeds: 0,
        }
    }
}

enum Upsert {
    /// Updated an existing peer; whether it was a seed before.
    Updated {
        was_seed: bool,
    },
    Inserted,
    Full,
}

impl<A: Copy + Eq + Hash> PeerSet<A> {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn upsert(&mut self, addr: A, seed: bool, now: u32, cap: usize) -> Upsert {
        if let Some(&i) = self.index.get(&addr) {
            if let Some(e) = self.entries.get_mut(i as usize) {
                let was_seed = e.seed;
                e.last_seen = now;
                e.seed = seed;
                self.seeds = self.seeds + u32::from(seed) - u32::from(was_seed);
                return Upsert::Updated { was_seed };
            }
        }
        if self.entries.len() >= cap {
            return Upsert::Full;
        }
        self.index.insert(addr, self.entries.len() as u32);
        self.entries.push(Entry {
            addr,
            last_seen: now,
            seed,
        });
        self.seeds += u32::from(seed);
        Upsert::Inserted
    }

    /// Removes the entry at `i` (swap-remove, fixing the moved entry's index).
    fn remove_at(&mut self, i: usize) {
        if i >= self.entries.len() {
            return;
        }
        let e = self.entries.swap_remove(i);
        self.index.remove(&e.addr);
        self.seeds -= u32::from(e.seed);
        if let Some(moved) = self.entries.get(i) {
            self.index.insert(moved.addr, i as u32);
        }
    }

    fn remove(&mut self, addr: &A) -> bool {
        match self.index.get(addr) {
            Some(&i) => {
                self.remove_at(i as usize);
                true
            }
            None => false,
        }
    }

    /// Removes entries last seen before `cutoff`; returns how many.
    fn expire(&mut self, cutoff: u32) -> usize {
        let before = self.entries.len();
        let mut i = 0;
        while let Some(e) = self.entries.get(i) {
            if e.last_seen < cutoff {
                self.remove_at(i);
            } else {
                i += 1;
            }
        }
        if self.entries.capacity() > 4 * self.entries.len().max(4) {
            self.entries.shrink_to_fit();
            self.index.shrink_to_fit();
        }
        before - self.entries.len()
    }

    /// Up to `k` addresses other than `me`, uniformly at random when there are more.
    fn sample(&self, me: Option<&A>, k: usize, rng: &mut SmallRng, out: &mut Vec<A>) {
        let n = self.entries.len();
        let me_idx = me.and_then(|a| self.index.get(a)).map(|&i| i as usize);
        let others = n - usize::from(me_idx.is_some());
        if others <= k {
            out.extend(
                self.entries
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| Some(*i) != me_idx)
                    .map(|(_, e)| e.addr),
            );
            return;
        }
        // Draw from the n-1 others: positions at or past `me` shift by one.
        for j in rand::seq::index::sample(rng, others, k) {
            let j = match me_idx {
                Some(m) if j >= m => j + 1,
                _ => j,
            };
            if let Some(e) = self.entries.get(j) {
                out.push(e.addr);
            }
        }
    }
}

#[derive(Debug, Default)]
struct Swarm {
    v4: PeerSet<[u8; 6]>,
    v6: PeerSet<[u8; 18]>,
    downloaded: u32,
}

impl Swarm {
    fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    fn stats(&self) -> ScrapeStats {
        let seeds = self.v4.seeds + self.v6.seeds;
        ScrapeStats {
            complete: seeds,
            downloaded: self.downloaded,
            incomplete: self.len() as u32 - seeds,
        }
    }
}

/// The compact key of an address: IPv4 (also IPv4-mapped IPv6) or IPv6.
enum Key {
    V4([u8; 6]),
    V6([u8; 18]),
}

fn key_of(addr: SocketAddr) -> Key {
    let ip = match addr.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        ip => ip,
    };
    let port = addr.port().to_be_bytes();
    match ip {
        IpAddr::V4(v4) => {
            let mut k = [0u8; 6];
            k[..4].copy_from_slice(&v4.octets());
            k[4..].copy_from_slice(&port);
            Key::V4(k)
        }
        IpAddr::V6(v6) => {
            let mut k = [0u8; 18];
            k[..16].copy_from_slice(&v6.octets());
            k[16..].copy_from_slice(&port);
            Key::V6(k)
        }
    }
}

fn addr_v4(k: [u8; 6]) -> SocketAddr {
    let [a, b, c, d, p0, p1] = k;
    SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::new(a, b, c, d),
        u16::from_be_bytes([p0, p1]),
    ))
}

fn addr_v6(k: [u8; 18]) -> SocketAddr {
    let mut ip = [0u8; 16];
    ip.copy_from_slice(&k[..16]);
    SocketAddr::V6(SocketAddrV6::new(
        Ipv6Addr::from(ip),
        u16::from_be_bytes([k[16], k[17]]),
        0,
        0,
    ))
}

/// All swarms. See the module documentation for the driving contract: call
/// [`SwarmStore::announce`] / [`SwarmStore::scrape`] per request and [`SwarmStore::expire`]
/// periodically (every few seconds to a minute), always with the current time.
#[derive(Debug)]
pub struct SwarmStore {
    config: StoreConfig,
    epoch: Instant,
    swarms: HashMap<Id20, Swarm>,
    total_peers: usize,
    rng: SmallRng,
    v4_buf: Vec<[u8; 6]>,
    v6_buf: Vec<[u8; 18]>,
}

impl SwarmStore {
    /// An empty store. `epoch` is any instant not after the first `now` passed in; `seed` seeds
    /// the random peer selection (fixed in tests, random in the server).
    pub fn new(config: StoreConfig, epoch: Instant, seed: u64) -> Self {
        SwarmStore {
            config,
            epoch,
            swarms: HashMap::new(),
            total_peers: 0,
            rng: SmallRng::seed_from_u64(seed),
            v4_buf: Vec::new(),
            v6_buf: Vec::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    fn secs(&self, now: Instant) -> u32 {
        u32::try_from(now.saturating_duration_since(self.epoch).as_secs()).unwrap_or(u32::MAX)
    }

    /// Handles an announce: records, updates or (on `stopped`) removes the peer, counts a
    /// `completed` event once per peer that was not already a seed, and picks the peers to
    /// return (never the announcer itself; none on `stopped`).
    pub fn announce(
        &mut self,
        now: Instant,
        a: &Announce,
        families: Families,
    ) -> Result<AnnounceResult, Refusal> {
        if a.addr.port() == 0 {
            return Err(Refusal::InvalidPort);
        }
        let t = self.secs(now);
        let key = key_of(a.addr);
        let seed = a.left == 0;
        if a.event == Event::Stopped {
            if let Some(s) = self.swarms.get_mut(&a.info_hash) {
                let removed = match &key {
                    Key::V4(k) => s.v4.remove(k),
                    Key::V6(k) => s.v6.remove(k),
                };
                self.total_peers -= usize::from(removed);
                let st = s.stats();
                return Ok(AnnounceResult {
                    complete: st.complete,
                    incomplete: st.incomplete,
                    peers: Vec::new(),
                });
            }
            return Ok(AnnounceResult::default());
        }
        if !self.swarms.contains_key(&a.info_hash) && self.swarms.len() >= self.config.max_swarms {
            return Err(Refusal::TooManySwarms);
        }
        let room = self.total_peers < self.config.max_peers_total;
        let cap = if room {
            self.config.max_peers_per_swarm
        } else {
            0
        };
        let swarm = self.swarms.entry(a.info_hash).or_default();
        let up = match &key {
            Key::V4(k) => swarm.v4.upsert(*k, seed, t, cap),
            Key::V6(k) => swarm.v6.upsert(*k, seed, t, cap),
        };
        match up {
            Upsert::Inserted => {
                self.total_peers += 1;
                if a.event == Event::Completed && seed {
                    swarm.downloaded = swarm.downloaded.saturating_add(1);
                }
            }
            Upsert::Updated { was_seed } => {
                if a.event == Event::Completed && seed && !was_seed {
                    swarm.downloaded = swarm.downloaded.saturating_add(1);
                }
            }
            Upsert::Full => {}
        }
        let want = a
            .numwant
            .unwrap_or(self.config.default_numwant)
            .min(self.config.max_numwant) as usize;
        let mut peers = Vec::new();
        if matches!(families, Families::V4 | Families::Both) {
            self.v4_buf.clear();
            let me = match &key {
                Key::V4(k) => Some(k),
                Key::V6(_) => None,
            };
            swarm.v4.sample(me, want, &mut self.rng, &mut self.v4_buf);
            peers.extend(self.v4_buf.iter().map(|k| addr_v4(*k)));
        }
        if matches!(families, Families::V6 | Families::Both) {
            self.v6_buf.clear();
            let me = match &key {
                Key::V6(k) => Some(k),
                Key::V4(_) => None,
            };
            swarm.v6.sample(me, want, &mut self.rng, &mut self.v6_buf);
            peers.extend(self.v6_buf.iter().map(|k| addr_v6(*k)));
        }
        let st = swarm.stats();
        if swarm.len() == 0 {
            // A full store refused the only peer: keep no empty swarm around.
            self.swarms.remove(&a.info_hash);
        }
        Ok(AnnounceResult {
            complete: st.complete,
            incomplete: st.incomplete,
            peers,
        })
    }

    /// Counters of one swarm (`None` if unknown).
    pub fn scrape(&self, info_hash: &Id20) -> Option<ScrapeStats> {
        self.swarms.get(info_hash).map(Swarm::stats)
    }

    /// Drops peers not seen for [`StoreConfig::peer_timeout`] and swarms left empty. Returns
    /// how many peers were dropped.
    pub fn expire(&mut self, now: Instant) -> usize {
        let timeout = u32::try_from(self.config.peer_timeout.as_secs()).unwrap_or(u32::MAX);
        let cutoff = self.secs(now).saturating_sub(timeout);
        let mut removed = 0;
        self.swarms.retain(|_, s| {
            removed += s.v4.expire(cutoff) + s.v6.expire(cutoff);
            s.len() > 0
        });
        self.total_peers -= removed;
        removed
    }

    /// Removes a swarm and its peers (e.g. when the allow-list drops it).
    pub fn remove_swarm(&mut self, info_hash: &Id20) {
        if let Some(s) = self.swarms.remove(info_hash) {
            self.total_peers -= s.len();
        }
    }

    /// Info-hashes of all swarms.
    pub fn info_hashes(&self) -> Vec<Id20> {
        self.swarms.keys().copied().collect()
    }

    /// Swarm, peer and seed counts.
    pub fn counts(&self) -> StoreCounts {
        let seeds = self
            .swarms
            .values()
            .map(|s| (s.v4.seeds + s.v6.seeds) as usize)
            .sum();
        StoreCounts {
            swarms: self.swarms.len(),
            peers: self.total_peers,
            seeds,
        }
    }

    /// Every swarm with its peers, for a state snapshot.
    pub fn snapshot(&self) -> Vec<SwarmSnapshot> {
        self.swarms
            .iter()
            .map(|(h, s)| SwarmSnapshot {
                info_hash: *h,
                downloaded: s.downloaded,
                peers: s
                    .v4
                    .entries
                    .iter()
                    .map(|e| (addr_v4(e.addr), e.seed))
                    .chain(s.v6.entries.iter().map(|e| (addr_v6(e.addr), e.seed)))
                    .collect(),
            })
            .collect()
    }

    /// Restores swarms from a snapshot, as if every peer had just announced (limits apply).
    pub fn restore(&mut self, now: Instant, swarms: Vec<SwarmSnapshot>) {
        for s in swarms {
            for (addr, seed) in s.peers {
                let a = Announce {
                    info_hash: s.info_hash,
                    addr,
                    event: Event::None,
                    left: u64::from(!seed),
                    numwant: Some(0),
                };
                let _ = self.announce(now, &a, Families::Both);
            }
            if let Some(sw) = self.swarms.get_mut(&s.info_hash) {
                sw.downloaded = sw.downloaded.max(s.downloaded);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> Id20 {
        Id20([n; 20])
    }

    fn ann(ih: u8, addr: &str, left: u64, event: Event) -> Announce {
        Announce {
            info_hash: h(ih),
            addr: addr.parse().unwrap(),
            event,
            left,
            numwant: None,
        }
    }

    fn store() -> (SwarmStore, Instant) {
        let t0 = Instant::now();
        let cfg = StoreConfig {
            peer_timeout: Duration::from_secs(20),
            ..StoreConfig::default()
        };
        (SwarmStore::new(cfg, t0, 1), t0)
    }

    #[test]
    fn peers_find_each_other_but_not_themselves() {
        let (mut s, t0) = store();
        let r = s
            .announce(
                t0,
                &ann(1, "10.0.0.1:1000", 0, Event::Started),
                Families::Both,
            )
            .unwrap();
        assert!(r.peers.is_empty());
        assert_eq!((r.complete, r.incomplete), (1, 0));
        let r = s
            .announce(
                t0,
                &ann(1, "10.0.0.2:2000", 5, Event::Started),
                Families::Both,
            )
            .unwrap();
        assert_eq!(r.peers, ["10.0.0.1:1000".parse().unwrap()]);
        assert_eq!((r.complete, r.incomplete), (1, 1));
        let r = s
            .announce(t0, &ann(1, "10.0.0.1:1000", 0, Event::None), Families::Both)
            .unwrap();
        assert_eq!(r.peers, ["10.0.0.2:2000".parse::<SocketAddr>().unwrap()]);
        // Another swarm is separate.
        let r = s
            .announce(t0, &ann(2, "10.0.0.3:1", 5, Event::Started), Families::Both)
            .unwrap();
        assert!(r.peers.is_empty());
    }

    #[test]
    fn families_are_kept_apart_and_mapped_v4_is_v4() {
        let (mut s, t0) = store();
        s.announce(
            t0,
            &ann(1, "[::ffff:10.0.0.1]:1", 0, Event::None),
            Families::Both,
        )
        .unwrap();
        s.announce(
            t0,
            &ann(1, "[2001:db8::1]:2", 0, Event::None),
            Families::Both,
        )
        .unwrap();
        let r = s
            .announce(t0, &ann(1, "10.0.0.9:3", 5, Event::None), Families::V4)
            .unwrap();
        assert_eq!(r.peers, ["10.0.0.1:1".parse().unwrap()]);
        let r = s
            .announce(t0, &ann(1, "10.0.0.9:3", 5, Event::None), Families::V6)
            .unwrap();
        assert_eq!(r.peers, ["[2001:db8::1]:2".parse().unwrap()]);
        let r = s
            .announce(t0, &ann(1, "10.0.0.9:3", 5, Event::None), Families::Both)
            .unwrap();
        assert_eq!(r.peers.len(), 2);
        assert_eq!((r.complete, r.incomplete), (2, 1));
    }

    #[test]
    fn stopped_removes_and_completed_counts_once() {
        let (mut s, t0) = store();
        s.announce(
            t0,
            &ann(1, "10.0.0.1:1", 10, Event::Started),
            Families::Both,
        )
        .unwrap();
        s.announce(
            t0,
            &ann(1, "10.0.0.1:1", 0, Event::Completed),
            Families::Both,
        )
        .unwrap();
        s.announce(
            t0,
            &ann(1, "10.0.0.1:1", 0, Event::Completed),
            Families::Both,
        )
        .unwrap();
        assert_eq!(
            s.scrape(&h(1)),
            Some(ScrapeStats {
                complete: 1,
                downloaded: 1,
                incomplete: 0
            })
        );
        let r = s
            .announce(t0, &ann(1, "10.0.0.1:1", 0, Event::Stopped), Families::Both)
            .unwrap();
        assert!(r.peers.is_empty());
        assert_eq!(s.scrape(&h(1)).map(|x| x.complete), Some(0));
        assert_eq!(s.counts().peers, 0);
        // Stopping an unknown peer of an unknown swarm creates nothing.
        s.announce(t0, &ann(9, "10.0.0.1:1", 0, Event::Stopped), Families::Both)
            .unwrap();
        assert_eq!(s.scrape(&h(9)), None);
    }

    #[test]
    fn numwant_is_capped_and_sample_is_random_without_duplicates() {
        let (mut s, t0) = store();
        for i in 0..500u32 {
            let addr = SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 1000));
            s.announce(
                t0,
                &Announce {
                    info_hash: h(1),
                    addr,
                    event: Event::None,
                    left: 1,
                    numwant: Some(0),
                },
                Families::Both,
            )
            .unwrap();
        }
        let me: SocketAddr = "10.0.0.7:1000".parse().unwrap();
        let big = Announce {
            info_hash: h(1),
            addr: me,
            event: Event::None,
            left: 1,
            numwant: Some(u32::MAX),
        };
        let r1 = s.announce(t0, &big, Families::Both).unwrap();
        assert_eq!(r1.peers.len(), crate::limits::MAX_NUMWANT as usize);
        let mut uniq = r1.peers.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), r1.peers.len());
        assert!(!r1.peers.contains(&me));
        let r2 = s.announce(t0, &big, Families::Both).unwrap();
        assert_ne!(
            r1.peers, r2.peers,
            "two samples of 200 out of 499 should differ"
        );
        let small = Announce {
            numwant: Some(3),
            ..big
        };
        assert_eq!(
            s.announce(t0, &small, Families::Both).unwrap().peers.len(),
            3
        );
        let dflt = Announce {
            numwant: None,
            ..big
        };
        assert_eq!(
            s.announce(t0, &dflt, Families::Both).unwrap().peers.len(),
            50
        );
    }

    #[test]
    fn peers_expire_after_the_timeout_with_a_fake_clock() {
        let (mut s, t0) = store();
        s.announce(t0, &ann(1, "10.0.0.1:1", 0, Event::None), Families::Both)
            .unwrap();
        s.announce(
            t0 + Duration::from_secs(15),
            &ann(1, "10.0.0.2:1", 0, Event::None),
            Families::Both,
        )
        .unwrap();
        assert_eq!(s.expire(t0 + Duration::from_secs(20)), 0);
        assert_eq!(s.expire(t0 + Duration::from_secs(21)), 1);
        assert_eq!(
            s.counts(),
            StoreCounts {
                swarms: 1,
                peers: 1,
                seeds: 1
            }
        );
        // A re-announce refreshes.
        s.announce(
            t0 + Duration::from_secs(30),
            &ann(1, "10.0.0.2:1", 0, Event::None),
            Families::Both,
        )
        .unwrap();
        assert_eq!(s.expire(t0 + Duration::from_secs(45)), 0);
        assert_eq!(s.expire(t0 + Duration::from_secs(51)), 1);
        assert_eq!(s.counts(), StoreCounts::default());
    }

    #[test]
    fn caps_bound_swarms_and_peers() {
        let t0 = Instant::now();
        let cfg = StoreConfig {
            max_swarms: 2,
            max_peers_per_swarm: 3,
            max_peers_total: 4,
            ..StoreConfig::default()
        };
        let mut s = SwarmStore::new(cfg, t0, 1);
        for i in 1..=5u8 {
            let r = s
                .announce(
                    t0,
                    &ann(1, &format!("10.0.0.{i}:1"), 1, Event::None),
                    Families::Both,
                )
                .unwrap();
            assert!(r.peers.len() <= 3);
        }
        assert_eq!(s.counts().peers, 3);
        s.announce(t0, &ann(2, "10.0.0.1:1", 1, Event::None), Families::Both)
            .unwrap();
        assert_eq!(
            s.announce(t0, &ann(3, "10.0.0.1:1", 1, Event::None), Families::Both),
            Err(Refusal::TooManySwarms)
        );
        s.announce(t0, &ann(2, "10.0.0.2:1", 1, Event::None), Families::Both)
            .unwrap();
        assert_eq!(s.counts().peers, 4, "total cap");
        assert_eq!(
            s.announce(t0, &ann(2, "10.0.0.2:0", 1, Event::None), Families::Both),
            Err(Refusal::InvalidPort)
        );
    }

    #[test]
    fn snapshot_restores_swarms() {
        let (mut s, t0) = store();
        s.announce(
            t0,
            &ann(1, "10.0.0.1:1", 0, Event::Completed),
            Families::Both,
        )
        .unwrap();
        s.announce(t0, &ann(1, "[::1]:2", 5, Event::None), Families::Both)
            .unwrap();
        let snap = s.snapshot();
        let (mut s2, t1) = store();
        s2.restore(t1, snap);
        assert_eq!(s2.scrape(&h(1)), s.scrape(&h(1)));
        assert_eq!(s2.counts(), s.counts());
    }
}
