//! The swarm store: every swarm's peers and counters, and the announce and scrape logic.
//!
//! Sans-I/O: a plain struct with no clock, no sockets and no locks. Every method that depends on
//! time takes `now: Instant`, so tests drive it with a fake clock (DESIGN.md rule 2). The server
//! keeps [`crate::limits::SHARDS`] of these behind mutexes.
//!
//! How a peer is stored, and why, is in [`peers`]: 8 bytes per IPv4 peer, each swarm's peers
//! a range sorted by address in one pool per shard and family, no per-peer index and no
//! allocation per swarm.
//!
//! Invariants: every peer of a swarm is in exactly one family's [`peers::Range`]; the ranges
//! of all swarms are exactly the ranges of the store's two [`peers::Pool`]s; a swarm's `seeds`
//! counts its peers with the seed flag; `total_peers` is the sum over all swarms; a swarm with
//! no peers is removed by [`SwarmStore::expire`].

mod peers;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::{Duration, Instant};

use ferrent_core::Id20;
use ferrent_proto::tracker::{Event, ScrapeStats};
use rand::SeedableRng;
use rand::rngs::SmallRng;

use peers::{Pool, Range, TICK_MASK, Upsert};

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

/// Counters of one swarm after an announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SwarmCounts {
    /// Seeders.
    pub complete: u32,
    /// Leechers.
    pub incomplete: u32,
}

/// The peers picked for a reply, in compact form (what a tracker sends anyway), so the hot
/// path builds no address list: reuse one per worker and [`CompactPeers::clear`] it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactPeers {
    /// IPv4 peers, 6 bytes each (BEP 23).
    pub v4: Vec<u8>,
    /// IPv6 peers, 18 bytes each (BEP 7).
    pub v6: Vec<u8>,
}

impl CompactPeers {
    /// Empties both lists, keeping their capacity.
    pub fn clear(&mut self) {
        self.v4.clear();
        self.v6.clear();
    }

    /// The peers as socket addresses (IPv4 first).
    pub fn to_socket_addrs(&self) -> Vec<SocketAddr> {
        let v4 = self.v4.chunks_exact(6).filter_map(|c| {
            let k: [u8; 6] = c.try_into().ok()?;
            Some(addr_v4(k))
        });
        let v6 = self.v6.chunks_exact(18).filter_map(|c| {
            let k: [u8; 18] = c.try_into().ok()?;
            Some(addr_v6(k))
        });
        v4.chain(v6).collect()
    }
}

/// One swarm's entry in the swarm table: 32 bytes, no pointer (with its 20-byte info-hash, a
/// table slot is 52 bytes). Its peers live in the store's pools.
#[derive(Debug, Default)]
struct Swarm {
    /// Its IPv4 peers in [`SwarmStore::v4`].
    v4: Range,
    /// Its IPv6 peers in [`SwarmStore::v6`].
    v6: Range,
    /// Seeds over both families.
    seeds: u32,
    downloaded: u32,
}

impl Swarm {
    fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    fn stats(&self) -> ScrapeStats {
        ScrapeStats {
            complete: self.seeds,
            downloaded: self.downloaded,
            incomplete: (self.len() as u32).saturating_sub(self.seeds),
        }
    }

    fn counts(&self) -> SwarmCounts {
        let st = self.stats();
        SwarmCounts {
            complete: st.complete,
            incomplete: st.incomplete,
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
            let [a, b, c, d] = v4.octets();
            Key::V4([a, b, c, d, port[0], port[1]])
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

fn v4_of(s: &mut Swarm) -> &mut Range {
    &mut s.v4
}

fn v6_of(s: &mut Swarm) -> &mut Range {
    &mut s.v6
}

/// [`Pool::upsert`] into the range `range` picks of swarm `h` (which must exist), growing the
/// range in place (which moves other swarms' ranges) when the pool asks for it.
#[allow(clippy::too_many_arguments)]
fn upsert_in<A: peers::CompactAddr>(
    pool: &mut Pool<A>,
    swarms: &mut HashMap<Id20, Swarm>,
    range: fn(&mut Swarm) -> &mut Range,
    h: &Id20,
    addr: A,
    seed: bool,
    tick: u16,
    cap: usize,
) -> Upsert {
    let Some(s) = swarms.get_mut(h) else {
        return Upsert::Full;
    };
    let up = pool.upsert(range(s), addr, seed, tick, cap);
    if !matches!(up, Upsert::Crowded) {
        return up;
    }
    let r = *range(s);
    pool.grow_in_place(&r, swarms.values_mut().map(range));
    match swarms
        .get_mut(h)
        .map(|s| pool.upsert(range(s), addr, seed, tick, cap))
    {
        Some(Upsert::Crowded) | None => Upsert::Full,
        Some(up) => up,
    }
}

/// Most ticks a peer timeout is divided into: the 15-bit tick clock then covers eight
/// timeouts, so wrapping is harmless as long as [`SwarmStore::expire`] runs at least once per
/// seven timeouts (the server runs it every few seconds).
const TIMEOUT_TICKS: u64 = 4096;

/// All swarms. See the module documentation for the driving contract: call
/// [`SwarmStore::announce`] / [`SwarmStore::scrape`] per request and [`SwarmStore::expire`]
/// periodically (every few seconds to a minute), always with the current time.
#[derive(Debug)]
pub struct SwarmStore {
    config: StoreConfig,
    epoch: Instant,
    /// Seconds per tick of the peers' last-announce clock.
    tick_secs: u64,
    /// The peer timeout in ticks (at most [`TIMEOUT_TICKS`]).
    timeout_ticks: u16,
    swarms: HashMap<Id20, Swarm>,
    /// The IPv4 peers of all swarms.
    v4: Pool<[u8; 6]>,
    /// The IPv6 peers of all swarms.
    v6: Pool<[u8; 18]>,
    total_peers: usize,
    rng: SmallRng,
    scratch: CompactPeers,
}

impl SwarmStore {
    /// An empty store. `epoch` is any instant not after the first `now` passed in; `seed` seeds
    /// the random peer selection (fixed in tests, random in the server).
    pub fn new(config: StoreConfig, epoch: Instant, seed: u64) -> Self {
        let timeout = config.peer_timeout.as_secs();
        let tick_secs = timeout.div_ceil(TIMEOUT_TICKS).max(1);
        let timeout_ticks = u16::try_from(timeout.div_ceil(tick_secs)).unwrap_or(TICK_MASK);
        SwarmStore {
            config,
            epoch,
            tick_secs,
            timeout_ticks,
            swarms: HashMap::new(),
            v4: Pool::default(),
            v6: Pool::default(),
            total_peers: 0,
            rng: SmallRng::seed_from_u64(seed),
            scratch: CompactPeers::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    fn tick(&self, now: Instant) -> u16 {
        let secs = now.saturating_duration_since(self.epoch).as_secs();
        ((secs / self.tick_secs) & u64::from(TICK_MASK)) as u16
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
        let mut peers = std::mem::take(&mut self.scratch);
        peers.clear();
        let r = self.announce_compact(now, a, families, &mut peers);
        let out = r.map(|c| AnnounceResult {
            complete: c.complete,
            incomplete: c.incomplete,
            peers: peers.to_socket_addrs(),
        });
        self.scratch = peers;
        out
    }

    /// [`SwarmStore::announce`] without building an address list: appends the chosen peers to
    /// `out` in compact form and returns the swarm's counters.
    pub fn announce_compact(
        &mut self,
        now: Instant,
        a: &Announce,
        families: Families,
        out: &mut CompactPeers,
    ) -> Result<SwarmCounts, Refusal> {
        if a.addr.port() == 0 {
            return Err(Refusal::InvalidPort);
        }
        let t = self.tick(now);
        let key = key_of(a.addr);
        let seed = a.left == 0;
        if a.event == Event::Stopped {
            let Some(s) = self.swarms.get_mut(&a.info_hash) else {
                return Ok(SwarmCounts::default());
            };
            let removed = match &key {
                Key::V4(k) => self.v4.remove(&mut s.v4, k),
                Key::V6(k) => self.v6.remove(&mut s.v6, k),
            };
            if let Some(was_seed) = removed {
                self.total_peers -= 1;
                s.seeds -= u32::from(was_seed);
            }
            // An emptied swarm stays (with its `downloaded` count) until the next expiry.
            return Ok(s.counts());
        }
        if !self.swarms.contains_key(&a.info_hash) && self.swarms.len() >= self.config.max_swarms {
            return Err(Refusal::TooManySwarms);
        }
        let cap = if self.total_peers < self.config.max_peers_total {
            self.config.max_peers_per_swarm
        } else {
            0
        };
        self.swarms.entry(a.info_hash).or_default();
        let h = &a.info_hash;
        let up = match &key {
            Key::V4(k) => upsert_in(&mut self.v4, &mut self.swarms, v4_of, h, *k, seed, t, cap),
            Key::V6(k) => upsert_in(&mut self.v6, &mut self.swarms, v6_of, h, *k, seed, t, cap),
        };
        let Some(swarm) = self.swarms.get_mut(h) else {
            return Ok(SwarmCounts::default());
        };
        let completed = a.event == Event::Completed && seed;
        match up {
            Upsert::Inserted => {
                self.total_peers += 1;
                swarm.seeds += u32::from(seed);
                if completed {
                    swarm.downloaded = swarm.downloaded.saturating_add(1);
                }
            }
            Upsert::Updated { was_seed } => {
                swarm.seeds = swarm.seeds + u32::from(seed) - u32::from(was_seed);
                if completed && !was_seed {
                    swarm.downloaded = swarm.downloaded.saturating_add(1);
                }
            }
            Upsert::Full | Upsert::Crowded => {}
        }
        let want = a
            .numwant
            .unwrap_or(self.config.default_numwant)
            .min(self.config.max_numwant) as usize;
        if matches!(families, Families::V4 | Families::Both) {
            let me = match &key {
                Key::V4(k) => self.v4.find(&swarm.v4, k).ok(),
                Key::V6(_) => None,
            };
            self.v4
                .sample(&swarm.v4, me, want, &mut self.rng, &mut out.v4);
        }
        if matches!(families, Families::V6 | Families::Both) {
            let me = match &key {
                Key::V6(k) => self.v6.find(&swarm.v6, k).ok(),
                Key::V4(_) => None,
            };
            self.v6
                .sample(&swarm.v6, me, want, &mut self.rng, &mut out.v6);
        }
        let c = swarm.counts();
        if swarm.len() == 0 {
            // A full store refused the only peer: keep no empty swarm around (it owns no
            // slots: an empty range is released).
            self.swarms.remove(&a.info_hash);
        }
        if matches!(up, Upsert::Inserted) {
            self.compact_if_needed();
        }
        Ok(c)
    }

    /// Counters of one swarm (`None` if unknown).
    pub fn scrape(&self, info_hash: &Id20) -> Option<ScrapeStats> {
        self.swarms.get(info_hash).map(Swarm::stats)
    }

    /// Drops peers not seen for [`StoreConfig::peer_timeout`] and swarms left empty. Returns
    /// how many peers were dropped.
    pub fn expire(&mut self, now: Instant) -> usize {
        let (t, timeout) = (self.tick(now), self.timeout_ticks);
        let mut removed = 0;
        let (v4, v6) = (&mut self.v4, &mut self.v6);
        self.swarms.retain(|_, s| {
            let (n4, s4) = v4.expire(&mut s.v4, t, timeout);
            let (n6, s6) = v6.expire(&mut s.v6, t, timeout);
            removed += n4 + n6;
            s.seeds = s.seeds.saturating_sub(s4 + s6);
            // An empty swarm's ranges own nothing any more (expiry released them).
            s.len() > 0
        });
        self.total_peers -= removed;
        if self.swarms.capacity() > 4 * self.swarms.len().max(16) {
            self.swarms.shrink_to_fit();
        }
        self.compact_if_needed();
        removed
    }

    /// Compacts a pool once it has too many dead slots (see [`peers`]).
    fn compact_if_needed(&mut self) {
        if self.v4.wants_compaction() {
            self.v4.compact(self.swarms.values_mut().map(|s| &mut s.v4));
        }
        if self.v6.wants_compaction() {
            self.v6.compact(self.swarms.values_mut().map(|s| &mut s.v6));
        }
    }

    /// Removes a swarm and its peers (e.g. when the allow-list drops it).
    pub fn remove_swarm(&mut self, info_hash: &Id20) {
        if let Some(mut s) = self.swarms.remove(info_hash) {
            self.total_peers -= s.len();
            self.v4.release(&mut s.v4);
            self.v6.release(&mut s.v6);
            self.compact_if_needed();
        }
    }

    /// Info-hashes of all swarms.
    pub fn info_hashes(&self) -> Vec<Id20> {
        self.swarms.keys().copied().collect()
    }

    /// Swarm, peer and seed counts.
    pub fn counts(&self) -> StoreCounts {
        StoreCounts {
            swarms: self.swarms.len(),
            peers: self.total_peers,
            seeds: self.swarms.values().map(|s| s.seeds as usize).sum(),
        }
    }

    /// Every swarm with its peers, for a state snapshot.
    pub fn snapshot(&self) -> Vec<SwarmSnapshot> {
        self.swarms
            .iter()
            .map(|(h, s)| SwarmSnapshot {
                info_hash: *h,
                downloaded: s.downloaded,
                peers: self
                    .v4
                    .peers(&s.v4)
                    .iter()
                    .map(|p| (addr_v4(p.addr), p.is_seed()))
                    .chain(
                        self.v6
                            .peers(&s.v6)
                            .iter()
                            .map(|p| (addr_v6(p.addr), p.is_seed())),
                    )
                    .collect(),
            })
            .collect()
    }

    /// Restores swarms from a snapshot, as if every peer had just announced (limits apply).
    pub fn restore(&mut self, now: Instant, swarms: Vec<SwarmSnapshot>) {
        let mut sink = CompactPeers::default();
        for s in swarms {
            for (addr, seed) in s.peers {
                let a = Announce {
                    info_hash: s.info_hash,
                    addr,
                    event: Event::None,
                    left: u64::from(!seed),
                    numwant: Some(0),
                };
                let _ = self.announce_compact(now, &a, Families::Both, &mut sink);
            }
            if let Some(sw) = self.swarms.get_mut(&s.info_hash) {
                sw.downloaded = sw.downloaded.max(s.downloaded);
            }
        }
    }
}

#[cfg(test)]
mod tests;
