//! Local Service Discovery (BEP 14): find peers of the same torrents on the local network by
//! multicasting `BT-SEARCH` announces to 239.192.152.143:6771 (the message format is
//! [`ferrent_proto::lsd`]).
//!
//! - [`LsdCore`]: the sans-I/O part: which torrents to announce when (at start, then every
//!   interval, at most one datagram per [`SEND_GAP`], several info-hashes per datagram), and
//!   what to make of a received datagram (our own cookie ignored, malformed ones counted,
//!   a flood cut at [`MAX_RECEIVED_PER_SECOND`]);
//! - [`Lsd`]: the tokio driver (one multicast socket to receive, one to send from the bound IP)
//!   that hands found peers to the matching torrents' connect queues.
//!
//! Off by default (`SessionConfig::lsd`); never used for private torrents (BEP 27). See
//! docs/lsd.md.
#![deny(clippy::disallowed_methods)]

mod driver;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ferrent_core::Id20;
use ferrent_proto::lsd::{LsdAnnounce, MAX_INFOHASHES};

pub use driver::{LSD_COMMAND_QUEUE, Lsd, LsdConfig};

/// Default period between a torrent's announces (BEP 14 and libtorrent: 5 minutes).
pub const DEFAULT_LSD_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Least time between two datagrams we send, whatever the number of torrents (each datagram
/// carries up to [`MAX_INFOHASHES`]).
pub const SEND_GAP: Duration = Duration::from_secs(1);

/// A torrent removed and added again is not announced again sooner than this.
pub const MIN_REANNOUNCE: Duration = Duration::from_secs(60);

/// Received datagrams handled per second at most; the rest are dropped (and counted).
pub const MAX_RECEIVED_PER_SECOND: u32 = 64;

/// Torrents announced at most (a bound on the schedule's memory).
pub const MAX_LSD_TORRENTS: usize = 10_000;

/// Counters, for tests and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LsdStats {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams received (before rate limiting).
    pub received: u64,
    /// Datagrams dropped by the rate limit.
    pub rate_limited: u64,
    /// Datagrams that did not decode.
    pub malformed: u64,
    /// Our own announces (cookie matched), looped back by multicast.
    pub own: u64,
    /// Peers handed to torrents.
    pub peers_found: u64,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    next: Instant,
    last_sent: Option<Instant>,
}

/// The sans-I/O LSD state. Time comes in as `now`; nothing reads the clock.
#[derive(Debug)]
pub struct LsdCore {
    port: u16,
    cookie: String,
    interval: Duration,
    host: String,
    torrents: HashMap<Id20, Slot>,
    /// Last send time of removed torrents, so a quick re-add is rate limited too.
    recently_removed: HashMap<Id20, Instant>,
    next_send: Instant,
    window: (Instant, u32),
    stats: LsdStats,
}

impl LsdCore {
    /// A core announcing TCP `port` with `cookie` (random per session), `Host: host`.
    pub fn new(port: u16, cookie: String, interval: Duration, host: String, now: Instant) -> Self {
        LsdCore {
            port,
            cookie,
            interval: interval.max(Duration::from_millis(10)),
            host,
            torrents: HashMap::new(),
            recently_removed: HashMap::new(),
            next_send: now,
            window: (now, 0),
            stats: LsdStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> LsdStats {
        self.stats.clone()
    }

    /// Starts announcing `ih`: due now, unless it was announced less than
    /// [`MIN_REANNOUNCE`] (or the interval, if shorter) ago.
    pub fn add_torrent(&mut self, ih: Id20, now: Instant) {
        if self.torrents.len() >= MAX_LSD_TORRENTS && !self.torrents.contains_key(&ih) {
            return;
        }
        let gap = MIN_REANNOUNCE.min(self.interval);
        let last = self.recently_removed.remove(&ih);
        let next = last.map_or(now, |t| (t + gap).max(now));
        self.torrents.entry(ih).or_insert(Slot {
            next,
            last_sent: last,
        });
    }

    /// Stops announcing `ih` (and stops matching announces for it).
    pub fn remove_torrent(&mut self, ih: &Id20, now: Instant) {
        if let Some(Slot {
            last_sent: Some(t), ..
        }) = self.torrents.remove(ih)
        {
            let gap = MIN_REANNOUNCE.min(self.interval);
            self.recently_removed.retain(|_, &mut at| at + gap > now);
            if self.recently_removed.len() < MAX_LSD_TORRENTS {
                self.recently_removed.insert(*ih, t);
            }
        }
    }

    /// The next datagram to multicast, if one is due: the torrents due now (earliest first, at
    /// most [`MAX_INFOHASHES`]), each then due again an interval later.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        if now < self.next_send {
            return None;
        }
        let mut due: Vec<(Instant, Id20)> = self
            .torrents
            .iter()
            .filter(|(_, s)| s.next <= now)
            .map(|(ih, s)| (s.next, *ih))
            .collect();
        if due.is_empty() {
            return None;
        }
        due.sort();
        due.truncate(MAX_INFOHASHES);
        for (_, ih) in &due {
            if let Some(s) = self.torrents.get_mut(ih) {
                s.next = now + self.interval;
                s.last_sent = Some(now);
            }
        }
        self.next_send = now + SEND_GAP;
        self.stats.sent += 1;
        let a = LsdAnnounce {
            port: self.port,
            info_hashes: due.into_iter().map(|(_, ih)| ih).collect(),
            cookie: Some(self.cookie.clone()),
        };
        Some(a.encode(&self.host))
    }

    /// When [`poll_transmit`](Self::poll_transmit) next has something (`None`: no torrents).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.torrents
            .values()
            .map(|s| s.next)
            .min()
            .map(|t| t.max(self.next_send))
    }

    /// One received datagram from `from`: the (torrent, peer) pairs it announces for torrents
    /// we have. Malformed datagrams, our own, unusable source addresses and datagrams beyond
    /// the rate limit yield nothing.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Vec<(Id20, SocketAddr)> {
        self.stats.received += 1;
        if now >= self.window.0 + Duration::from_secs(1) {
            self.window = (now, 0);
        }
        if self.window.1 >= MAX_RECEIVED_PER_SECOND {
            self.stats.rate_limited += 1;
            return Vec::new();
        }
        self.window.1 += 1;
        let a = match LsdAnnounce::decode(bytes) {
            Ok(a) => a,
            Err(e) => {
                self.stats.malformed += 1;
                tracing::debug!(%from, "LSD datagram ignored: {e}");
                return Vec::new();
            }
        };
        if a.cookie.as_deref() == Some(self.cookie.as_str()) {
            self.stats.own += 1;
            return Vec::new();
        }
        if !usable_source(from.ip()) {
            return Vec::new();
        }
        let peer = SocketAddr::new(from.ip(), a.port);
        let found: Vec<(Id20, SocketAddr)> = a
            .info_hashes
            .into_iter()
            .filter(|ih| self.torrents.contains_key(ih))
            .map(|ih| (ih, peer))
            .collect();
        self.stats.peers_found += found.len() as u64;
        found
    }
}

/// A source address a peer can be reached at (not unspecified, multicast or broadcast).
fn usable_source(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast()),
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
    }
}

#[cfg(test)]
mod tests;
