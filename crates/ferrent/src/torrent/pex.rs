//! Peer exchange (`ut_pex`, BEP 11), sans-I/O: which peers to tell each connected peer about and
//! when, and which peers a received message teaches us. [`super::TorrentCore`] owns one [`Pex`]
//! and feeds it connections, extension handshakes, messages and the time.
//!
//! Sending: every peer that announced `ut_pex` gets, at most once per [`PEX_INTERVAL`], the
//! peers that joined (`added`) and left (`dropped`) our connection set since its last message
//! (the first message: the whole set), at most [`MAX_PEX_ADDED`] and [`MAX_PEX_DROPPED`] per
//! message; the rest follows in the next one. Only peers whose listen address we know are
//! listed: those we connected to (flag `reachable`), and those that connected to us and sent
//! their port (`p`) in their extension handshake. A peer never hears its own address. Nothing is
//! sent when nothing changed.
//!
//! Receiving: at most [`PEX_RECV_BURST`] messages at once, then one per [`PEX_RECV_INTERVAL`]
//! (more are ignored: libtorrent sends one a minute); the first [`MAX_PEX_LEARN_PER_MESSAGE`]
//! new addresses of `added` are learned, at most [`MAX_PEX_LEARNED`] in the torrent's life
//! (the driver's known-peer list is bounded too). Addresses of connected peers, our own
//! addresses, port 0 and unspecified, multicast or broadcast IPs are skipped.
//!
//! Disabled (the default, and always for private torrents, BEP 27: see
//! [`super::PeerSources`]): nothing is announced, sent or learned.
#![deny(clippy::disallowed_methods)]

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ferrent_proto::wire::{ExtendedHandshake, PexFlags, PexMessage, PexPeer, UT_PEX};

use super::core::ConnId;

/// The extended message id we receive `ut_pex` messages with (announced in our extension
/// handshake; libtorrent uses 1 too). Differs from [`crate::metadata::OUR_UT_METADATA_ID`].
pub const OUR_UT_PEX_ID: u8 = 1;

/// Least time between two `ut_pex` messages to one peer (BEP 11: at most one a minute).
pub const PEX_INTERVAL: Duration = Duration::from_secs(60);

/// Most `added` peers (IPv4 and IPv6 together) in one message we send (BEP 11: 50).
pub const MAX_PEX_ADDED: usize = 50;

/// Most `dropped` peers in one message we send (BEP 11: 50).
pub const MAX_PEX_DROPPED: usize = 50;

/// Messages a peer may send us back to back before the rate limit applies.
pub const PEX_RECV_BURST: u32 = 2;

/// One more message is accepted per this much time after the burst (a little under
/// [`PEX_INTERVAL`], so a sender's jitter does not lose messages).
pub const PEX_RECV_INTERVAL: Duration = Duration::from_secs(45);

/// Most new addresses taken from one received message (BEP 11 senders list at most 50).
pub const MAX_PEX_LEARN_PER_MESSAGE: usize = 50;

/// Most distinct addresses learned through PEX over a torrent's life: a quarter of the driver's
/// [`super::MAX_KNOWN_PEERS`], so peers cannot crowd trackers' peers out of it.
pub const MAX_PEX_LEARNED: usize = 500;

/// What PEX knows of one connection.
#[derive(Debug)]
struct PeerPex {
    addr: SocketAddr,
    /// We connected to it, so `addr` is where it listens.
    outgoing: bool,
    /// `p` from its extension handshake.
    listen_port: Option<u16>,
    seed: bool,
    /// The id it receives `ut_pex` with; `None`: it does not speak PEX (or turned it off).
    their_id: Option<u8>,
    /// When its extension handshake announced `ut_pex` (the first message may go then).
    ready_at: Option<Instant>,
    last_sent: Option<Instant>,
    /// [`Pex::generation`] when this peer was last brought up to date; equal means nothing new.
    synced_at: Option<u64>,
    /// The addresses this peer has from us: added and not dropped since.
    told: BTreeSet<SocketAddr>,
    recv_tokens: u32,
    recv_refill: Option<Instant>,
}

impl PeerPex {
    /// Where it accepts connections, if we know.
    fn listen_addr(&self) -> Option<SocketAddr> {
        if self.outgoing {
            Some(self.addr)
        } else {
            self.listen_port.map(|p| SocketAddr::new(self.addr.ip(), p))
        }
    }

    fn flags(&self) -> PexFlags {
        let mut f = 0;
        if self.seed {
            f |= PexFlags::SEED;
        }
        if self.outgoing {
            f |= PexFlags::REACHABLE;
        }
        PexFlags(f)
    }

    /// When a message to it may go next, if it speaks PEX and may have something to hear.
    fn due(&self, generation: u64) -> Option<Instant> {
        if self.their_id.is_none() || self.synced_at == Some(generation) {
            return None;
        }
        match self.last_sent {
            Some(t) => Some(t + PEX_INTERVAL),
            None => self.ready_at,
        }
    }

    /// Takes one receive token (token bucket: [`PEX_RECV_BURST`], one more per
    /// [`PEX_RECV_INTERVAL`]).
    fn take_recv_token(&mut self, now: Instant) -> bool {
        let refill = *self.recv_refill.get_or_insert(now);
        let periods = now.saturating_duration_since(refill).as_secs() / PEX_RECV_INTERVAL.as_secs();
        if periods > 0 {
            let add = u32::try_from(periods).unwrap_or(u32::MAX);
            self.recv_tokens = self.recv_tokens.saturating_add(add).min(PEX_RECV_BURST);
            self.recv_refill = Some(now);
        }
        if self.recv_tokens == 0 {
            return false;
        }
        self.recv_tokens -= 1;
        true
    }
}

/// One torrent's peer exchange state (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct Pex {
    enabled: bool,
    peers: BTreeMap<ConnId, PeerPex>,
    /// Bumped whenever the set of listable peers may have changed.
    generation: u64,
    /// Our own addresses, never learned.
    own: Vec<SocketAddr>,
    /// Every address learned so far (bounded by [`MAX_PEX_LEARNED`]).
    learned: HashSet<SocketAddr>,
}

impl Pex {
    /// Turns PEX on or off; call before peers connect.
    pub fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
    }

    /// Our own listen addresses, never to be learned.
    pub fn set_own_addrs(&mut self, own: Vec<SocketAddr>) {
        self.own = own;
    }

    /// Adds `ut_pex` to our extension handshake when enabled.
    pub fn announce(&self, hs: &mut ExtendedHandshake) {
        if self.enabled {
            hs.m.insert(UT_PEX.into(), OUR_UT_PEX_ID);
        }
    }

    /// A connection to `addr` finished its handshake (inbound until [`Pex::set_outgoing`]).
    pub fn peer_connected(&mut self, conn: ConnId, addr: SocketAddr) {
        self.peers.insert(
            conn,
            PeerPex {
                addr,
                outgoing: false,
                listen_port: None,
                seed: false,
                their_id: None,
                ready_at: None,
                last_sent: None,
                synced_at: None,
                told: BTreeSet::new(),
                recv_tokens: PEX_RECV_BURST,
                recv_refill: None,
            },
        );
        self.generation += 1;
    }

    /// We dialled `conn`: its address is where it listens, and it gets the `reachable` flag.
    pub fn set_outgoing(&mut self, conn: ConnId) {
        if let Some(p) = self.peers.get_mut(&conn) {
            p.outgoing = true;
            self.generation += 1;
        }
    }

    /// The connection is gone: it goes to the others' next `dropped` lists.
    pub fn peer_disconnected(&mut self, conn: ConnId) {
        if self.peers.remove(&conn).is_some() {
            self.generation += 1;
        }
    }

    /// The peer's extension handshake (or an update of it, BEP 10), received at `now`.
    pub fn extension_handshake(&mut self, conn: ConnId, hs: &ExtendedHandshake, now: Instant) {
        if let Some(p) = self.peers.get_mut(&conn) {
            p.their_id = hs.extension_id(UT_PEX);
            if p.their_id.is_some() && p.ready_at.is_none() {
                p.ready_at = Some(now);
            }
            if hs.p.is_some() {
                p.listen_port = hs.p;
            }
            if hs.upload_only == Some(true) {
                p.seed = true;
            }
            p.synced_at = None;
            self.generation += 1;
        }
    }

    /// Whether we know `conn` has every piece (for the `seed` flag).
    pub fn set_seed(&mut self, conn: ConnId, seed: bool) {
        if let Some(p) = self.peers.get_mut(&conn) {
            p.seed |= seed;
        }
    }

    /// When [`Pex::poll_send`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.enabled {
            return None;
        }
        self.peers
            .values()
            .filter_map(|p| p.due(self.generation))
            .min()
    }

    /// Builds the messages due at `now`: `(connection, their ut_pex id, message)`.
    pub fn poll_send(&mut self, now: Instant, out: &mut Vec<(ConnId, u8, PexMessage)>) {
        if self.poll_timeout().is_none_or(|t| t > now) {
            return;
        }
        let listable: BTreeMap<SocketAddr, (ConnId, PexFlags)> = self
            .peers
            .iter()
            .filter_map(|(&c, p)| Some((p.listen_addr()?, (c, p.flags()))))
            .collect();
        let generation = self.generation;
        for (&conn, p) in &mut self.peers {
            let (Some(due), Some(id)) = (p.due(generation), p.their_id) else {
                continue;
            };
            if due > now {
                continue;
            }
            let own = p.listen_addr();
            let current = listable
                .iter()
                .filter(|&(a, (c, _))| *c != conn && Some(*a) != own && *a != p.addr);
            let added: Vec<PexPeer> = current
                .clone()
                .filter(|(a, _)| !p.told.contains(a))
                .map(|(&addr, &(_, flags))| PexPeer { addr, flags })
                .collect();
            let dropped: Vec<SocketAddr> = p
                .told
                .iter()
                .filter(|a| !listable.contains_key(a))
                .copied()
                .collect();
            let complete = added.len() <= MAX_PEX_ADDED && dropped.len() <= MAX_PEX_DROPPED;
            if complete {
                p.synced_at = Some(generation);
            }
            if added.is_empty() && dropped.is_empty() {
                continue;
            }
            let msg = PexMessage {
                added: added.into_iter().take(MAX_PEX_ADDED).collect(),
                dropped: dropped.into_iter().take(MAX_PEX_DROPPED).collect(),
            };
            for a in &msg.added {
                p.told.insert(a.addr);
            }
            for a in &msg.dropped {
                p.told.remove(a);
            }
            p.last_sent = Some(now);
            out.push((conn, id, msg));
        }
    }

    /// A `ut_pex` message from `conn` (sent with our id). Returns the addresses to try (empty
    /// when PEX is off, the peer is over its rate, or nothing is new); a message that does not
    /// decode is a protocol violation (libtorrent closes such peers too).
    pub fn on_message(
        &mut self,
        conn: ConnId,
        payload: &[u8],
        now: Instant,
    ) -> Result<Vec<SocketAddr>, String> {
        if !self.enabled {
            return Ok(Vec::new());
        }
        let Some(p) = self.peers.get_mut(&conn) else {
            return Ok(Vec::new());
        };
        if !p.take_recv_token(now) {
            return Ok(Vec::new());
        }
        let msg =
            PexMessage::decode(payload).map_err(|e| format!("invalid ut_pex message: {e}"))?;
        let connected: HashSet<SocketAddr> = self
            .peers
            .values()
            .flat_map(|p| [Some(p.addr), p.listen_addr()])
            .flatten()
            .collect();
        let mut new = Vec::new();
        for peer in msg.added {
            if new.len() >= MAX_PEX_LEARN_PER_MESSAGE || self.learned.len() >= MAX_PEX_LEARNED {
                break;
            }
            let a = peer.addr;
            if !usable(a) || connected.contains(&a) || self.own.contains(&a) {
                continue;
            }
            if self.learned.insert(a) {
                new.push(a);
            }
        }
        Ok(new)
    }
}

/// An address one could connect to: a port, and an IP that names one host.
fn usable(a: SocketAddr) -> bool {
    if a.port() == 0 || a.ip().is_unspecified() || a.ip().is_multicast() {
        return false;
    }
    match a.ip() {
        IpAddr::V4(ip) => !ip.is_broadcast(),
        IpAddr::V6(_) => true,
    }
}
