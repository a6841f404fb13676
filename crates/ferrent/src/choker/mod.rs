//! The choker: which interested peers we upload to (BEP 3 "choking and optimistic unchoking").
//!
//! A sans-I/O state machine (DESIGN.md rules 1-3, 11): no sockets, no tasks, no clock. The engine
//! tells it who is connected, who is interested, how many bytes moved each way and the time; it
//! answers with `Unchoke`/`Choke` events and the next time it wants to be woken. The algorithms
//! (tit-for-tat, optimistic unchoke, seeding round robin) are explained in `docs/choking.md`; the
//! driving contract and invariants are on [`Choker`].
#![deny(clippy::disallowed_methods)]

mod config;
mod error;
mod invariants;
mod peer;
mod rank;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_prop;

pub use config::{
    ChokerConfig, ChokerMode, DEFAULT_REGULAR_SLOTS, NEW_PEER_WEIGHT, NEW_PEER_WINDOW,
    OPTIMISTIC_INTERVAL, RECHOKE_INTERVAL, SEED_TURN_BYTES, SEED_TURN_TIME, SeedChoking,
};
pub use error::ChokerError;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::PeerKey;
use peer::{PeerState, Slot};
use rank::{Rng, Target};

/// Shortest timer interval accepted: a zero interval in the config would make the driver spin.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// What the engine must tell a peer, drained with [`Choker::poll_event`]. Only net changes are
/// reported: an `Unchoke` for a peer the engine last told it was choked, and the reverse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChokerEvent<K> {
    /// Send `unchoke` to this peer; serve its requests from now on.
    Unchoke(K),
    /// Send `choke` to this peer; drop (or, with BEP 6, reject) its queued requests.
    Choke(K),
}

impl<K: Copy> ChokerEvent<K> {
    /// The peer the event is about.
    pub fn peer(&self) -> K {
        match *self {
            ChokerEvent::Unchoke(k) | ChokerEvent::Choke(k) => k,
        }
    }
}

/// Decides which interested peers we upload to: `regular_slots` peers ranked by tit-for-tat
/// (or, seeding, by round robin or upload rate), plus one optimistic unchoke, rotated.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ferrent::choker::{Choker, ChokerConfig, ChokerEvent};
///
/// let start = Instant::now(); // the driver's clock; the choker never reads one
/// let mut choker: Choker<u32> = Choker::new(ChokerConfig::default(), 42, start);
/// choker.add_peer(7, start)?;
/// choker.set_peer_interested(7, true, start)?; // a free slot: unchoked at once
/// assert_eq!(choker.poll_event(), Some(ChokerEvent::Unchoke(7)));
/// choker.record_download(7, 16 * 1024)?; // payload bytes it sent us
/// assert_eq!(choker.poll_timeout(), Some(start + Duration::from_secs(10)));
/// choker.handle_timeout(start + Duration::from_secs(10)); // the rechoke keeps it
/// assert_eq!(choker.poll_event(), None);
/// choker.set_peer_interested(7, false, start + Duration::from_secs(11))?;
/// assert_eq!(choker.poll_event(), Some(ChokerEvent::Choke(7)));
/// # Ok::<(), ferrent::choker::ChokerError>(())
/// ```
///
/// # Algorithm (BEP 3, libtorrent's `fixed_slots_choker`)
///
/// - **Downloading** ([`ChokerMode::Downloading`]): every [`ChokerConfig::rechoke_interval`]
///   the regular slots go to the eligible peers that sent us the most payload during the round
///   that just ended (tit-for-tat); ties go to peers we are interested in, then to the current
///   holders, then to the longest waiting. Snubbed peers get no regular slot.
/// - **Seeding** ([`ChokerMode::Seeding`]): [`SeedChoking::RoundRobin`] (default: a turn lasts
///   until the peer got [`ChokerConfig::seed_turn_bytes`] or [`ChokerConfig::seed_turn_time`]
///   passed, then the longest-waiting peer takes the slot) or [`SeedChoking::FastestUpload`].
/// - **Optimistic unchoke**: one more slot, redrawn every
///   [`ChokerConfig::optimistic_interval`] at random among the other eligible peers (not the
///   previous holder unless it is the only one), peers connected less than
///   [`ChokerConfig::new_peer_window`] ago [`ChokerConfig::new_peer_weight`] times as likely.
///   At a redraw the previous holder competes for a regular slot with the rate it just showed.
/// - **Free slots are filled at once**: when a peer becomes interested, leaves, loses interest
///   or stops being snubbed, free slots go to waiting peers immediately (a new leecher does not
///   wait for the next round, as in libtorrent); nobody loses a slot outside a rechoke.
/// - **Unlimited** (`regular_slots: None`): every eligible peer is unchoked as soon as it is
///   eligible; no optimistic slot and no timer.
///
/// # States and invariants
///
/// Each peer holds exactly one slot: `Choked`, `Regular` or `Optimistic`. A peer is *eligible*
/// when it is interested and not a seed (a peer with every piece cannot want data). After every
/// call ([`Choker::check_invariants`] checks them all):
/// - an unchoked peer is eligible: losing interest or becoming a seed chokes at once;
/// - at most `regular_slots` peers are `Regular` and at most one is `Optimistic`, so at most
///   `regular_slots + 1` are unchoked (unlimited: no `Optimistic`, every eligible peer `Regular`);
/// - work conserving: a free regular slot means no waiting peer may take it, and an empty
///   optimistic slot means no eligible peer is waiting;
/// - the events queued are exactly the difference between what the engine was last told and
///   the current slots (at most one per peer);
/// - memory: per peer a few flags, four byte counters and one slot (no history); the event
///   queue holds at most one event per peer.
///
/// # Driving contract
///
/// 1. [`Choker::new`] with the config, an RNG seed (for the optimistic draw) and the time; then
///    [`Choker::set_mode`] if the torrent is already complete.
/// 2. A peer connects: [`Choker::add_peer`] (it starts choked, not interested). It disconnects:
///    [`Choker::remove_peer`] (its slot is given away at once; no event for the removed peer).
/// 3. As the peer's messages arrive: [`Choker::set_peer_interested`] on `interested` /
///    `not interested`; [`Choker::set_peer_seed`] once it has every piece (bitfield, `have all`
///    or its last `have`).
/// 4. From our side: [`Choker::set_am_interested`] when we send `interested` / `not
///    interested`; [`Choker::set_snubbed`] when the picker snubs it or it delivers again;
///    [`Choker::record_download`] / [`Choker::record_upload`] with the payload bytes of each
///    block received from / sent to it (only the bytes since the last call; the choker counts
///    them per round); [`Choker::set_mode`] when the torrent completes (or wants data again).
/// 5. Keep one timer at [`Choker::poll_timeout`]; when it fires call [`Choker::handle_timeout`].
/// 6. After every call, drain [`Choker::poll_event`] and send `unchoke` / `choke`. Serve requests
///    only from peers last reported unchoked ([`Choker::is_unchoked`] says the same).
#[derive(Debug)]
pub struct Choker<K: PeerKey> {
    config: ChokerConfig,
    mode: ChokerMode,
    /// Peer slab; a removed peer leaves `None`, reused by the next `add_peer`.
    peers: Vec<Option<PeerState<K>>>,
    index: HashMap<K, usize>,
    free: Vec<usize>,
    /// Peers in `Slot::Regular`.
    regular: u32,
    /// The peer in `Slot::Optimistic`.
    optimistic: Option<usize>,
    next_rechoke: Instant,
    next_optimistic: Instant,
    rng: Rng,
    events: VecDeque<ChokerEvent<K>>,
    /// Reused buffers of the rechoke (slab indices to rank, target per slab index).
    scratch: Vec<usize>,
    targets: Vec<Target>,
}

impl<K: PeerKey> Choker<K> {
    /// A choker with no peers, in [`ChokerMode::Downloading`]; `seed` makes the optimistic draws
    /// reproducible; the first rechoke and the first rotation are one interval after `now`.
    pub fn new(config: ChokerConfig, seed: u64, now: Instant) -> Self {
        let mut config = config;
        config.rechoke_interval = config.rechoke_interval.max(MIN_INTERVAL);
        config.optimistic_interval = config.optimistic_interval.max(MIN_INTERVAL);
        Choker {
            config,
            mode: ChokerMode::Downloading,
            peers: Vec::new(),
            index: HashMap::new(),
            free: Vec::new(),
            regular: 0,
            optimistic: None,
            next_rechoke: later(now, config.rechoke_interval),
            next_optimistic: later(now, config.optimistic_interval),
            rng: Rng(seed),
            events: VecDeque::new(),
            scratch: Vec::new(),
            targets: Vec::new(),
        }
    }

    /// The configuration (intervals raised to at least one second).
    pub fn config(&self) -> &ChokerConfig {
        &self.config
    }

    /// Downloading or seeding.
    pub fn mode(&self) -> ChokerMode {
        self.mode
    }

    fn peer(&self, i: usize) -> Option<&PeerState<K>> {
        self.peers.get(i).and_then(Option::as_ref)
    }

    fn slot_of(&self, key: K) -> Result<usize, ChokerError> {
        self.index
            .get(&key)
            .copied()
            .ok_or(ChokerError::UnknownPeer)
    }

    fn peer_mut(&mut self, key: K) -> Result<(usize, &mut PeerState<K>), ChokerError> {
        let i = self.slot_of(key)?;
        match self.peers.get_mut(i).and_then(Option::as_mut) {
            Some(p) => Ok((i, p)),
            None => Err(ChokerError::UnknownPeer),
        }
    }

    // ----- peers -----

    /// A peer connected at `now` (choked, not interested, not a seed).
    pub fn add_peer(&mut self, key: K, now: Instant) -> Result<(), ChokerError> {
        if self.index.contains_key(&key) {
            return Err(ChokerError::DuplicatePeer);
        }
        let state = Some(PeerState::new(key, now));
        let i = match self.free.pop() {
            Some(i) if i < self.peers.len() => {
                if let Some(slot) = self.peers.get_mut(i) {
                    *slot = state;
                }
                i
            }
            _ => {
                self.peers.push(state);
                self.peers.len() - 1
            }
        };
        self.index.insert(key, i);
        Ok(())
    }

    /// A peer disconnected. Its slot goes to a waiting peer at once; events still queued for
    /// it are dropped.
    pub fn remove_peer(&mut self, key: K, now: Instant) -> Result<(), ChokerError> {
        let i = self.slot_of(key)?;
        let was_unchoked = self.peer(i).is_some_and(|p| !p.is_choked());
        // Through `set_slot` so the counts stay right; then forget the event it queued.
        self.choke(i, now);
        self.events.retain(|e| e.peer() != key);
        if let Some(slot) = self.peers.get_mut(i) {
            *slot = None;
        }
        self.index.remove(&key);
        self.free.push(i);
        if was_unchoked {
            self.fill(now);
        }
        Ok(())
    }

    /// The peer sent `interested` (`true`) or `not interested` (`false`). Interest with a free
    /// slot unchokes at once; losing interest chokes at once and frees the slot.
    pub fn set_peer_interested(
        &mut self,
        key: K,
        interested: bool,
        now: Instant,
    ) -> Result<(), ChokerError> {
        let (i, p) = self.peer_mut(key)?;
        if p.peer_interested == interested {
            return Ok(());
        }
        p.peer_interested = interested;
        self.eligibility_changed(i, now);
        Ok(())
    }

    /// The peer has every piece (`true`), so it is never unchoked; `false` if that was wrong.
    pub fn set_peer_seed(&mut self, key: K, seed: bool, now: Instant) -> Result<(), ChokerError> {
        let (i, p) = self.peer_mut(key)?;
        if p.seed == seed {
            return Ok(());
        }
        p.seed = seed;
        self.eligibility_changed(i, now);
        Ok(())
    }

    /// We sent `interested` / `not interested` to the peer (a tie-break while downloading: a
    /// peer we want data from can reciprocate).
    pub fn set_am_interested(&mut self, key: K, interested: bool) -> Result<(), ChokerError> {
        self.peer_mut(key)?.1.am_interested = interested;
        Ok(())
    }

    /// The engine found the peer snubbing us (`true`), or it delivers again (`false`). While
    /// downloading, a snubbed peer loses its regular slot at the next rechoke and gets none
    /// until unsnubbed (it may still be drawn for the optimistic slot).
    pub fn set_snubbed(&mut self, key: K, snubbed: bool, now: Instant) -> Result<(), ChokerError> {
        let (_, p) = self.peer_mut(key)?;
        if p.snubbed == snubbed {
            return Ok(());
        }
        p.snubbed = snubbed;
        if !snubbed {
            self.fill(now);
        }
        Ok(())
    }

    /// Payload bytes the peer sent us since the last call (blocks accepted from it).
    pub fn record_download(&mut self, key: K, bytes: u64) -> Result<(), ChokerError> {
        let p = self.peer_mut(key)?.1;
        p.down_round = p.down_round.saturating_add(bytes);
        Ok(())
    }

    /// Payload bytes we sent the peer since the last call (blocks served to it).
    pub fn record_upload(&mut self, key: K, bytes: u64) -> Result<(), ChokerError> {
        let p = self.peer_mut(key)?.1;
        p.up_round = p.up_round.saturating_add(bytes);
        if let Slot::Regular { uploaded, .. } = &mut p.slot {
            *uploaded = uploaded.saturating_add(bytes);
        }
        Ok(())
    }

    fn eligibility_changed(&mut self, i: usize, now: Instant) {
        let Some(p) = self.peer(i) else {
            return;
        };
        if p.eligible() {
            self.fill(now);
        } else if !p.is_choked() {
            self.choke(i, now);
            self.fill(now);
        }
    }

    /// The torrent started seeding (it has every wanted piece) or wants data again. A change
    /// re-ranks the regular slots at once (the optimistic one stays).
    pub fn set_mode(&mut self, mode: ChokerMode, now: Instant) {
        if self.mode != mode {
            self.mode = mode;
            self.rechoke(now, false);
        }
    }

    /// Changes the number of regular slots (`None`: unlimited), e.g. from a user setting; the
    /// slots are re-ranked at once (extra peers are choked, new slots filled).
    pub fn set_regular_slots(&mut self, slots: Option<u32>, now: Instant) {
        if self.config.regular_slots != slots {
            if self.config.regular_slots.is_none() {
                // The timers did not run while unlimited: restart the rhythm from now.
                self.next_rechoke = later(now, self.config.rechoke_interval);
                self.next_optimistic = later(now, self.config.optimistic_interval);
            }
            self.config.regular_slots = slots;
            self.rechoke(now, false);
        }
    }

    // ----- output and time -----

    /// The next `Unchoke` / `Choke` to send; drain after every call.
    pub fn poll_event(&mut self) -> Option<ChokerEvent<K>> {
        self.events.pop_front()
    }

    /// When [`Choker::handle_timeout`] must run next (the next rechoke or optimistic rotation);
    /// `None` in unlimited mode, which needs no timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.config.regular_slots?;
        Some(self.next_rechoke.min(self.next_optimistic))
    }

    /// Runs what is due at `now`: a rechoke ends the rate round and re-ranks the regular slots;
    /// an optimistic rotation also redraws the optimistic slot. Early calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.config.regular_slots.is_none() {
            return;
        }
        let rechoke = now >= self.next_rechoke;
        let rotate = now >= self.next_optimistic;
        if rechoke {
            for p in self.peers.iter_mut().flatten() {
                p.close_round();
            }
            self.next_rechoke = next_deadline(self.next_rechoke, self.config.rechoke_interval, now);
        }
        if rotate {
            self.next_optimistic =
                next_deadline(self.next_optimistic, self.config.optimistic_interval, now);
        }
        if rechoke || rotate {
            self.rechoke(now, rotate);
        }
    }

    // ----- queries -----

    /// Whether the peer is unchoked (the state the queued events lead to); `false` for unknown
    /// keys.
    pub fn is_unchoked(&self, key: K) -> bool {
        self.index
            .get(&key)
            .and_then(|&i| self.peer(i))
            .is_some_and(|p| !p.is_choked())
    }

    /// The peer holding the optimistic slot.
    pub fn optimistic(&self) -> Option<K> {
        self.optimistic.and_then(|i| self.peer(i)).map(|p| p.key)
    }

    /// Peers unchoked (regular and optimistic).
    pub fn unchoked_count(&self) -> usize {
        self.regular as usize + usize::from(self.optimistic.is_some())
    }

    /// Peers known.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// No peers known.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// `now + interval`, or `now` if that overflows `Instant`.
fn later(now: Instant, interval: Duration) -> Instant {
    now.checked_add(interval).unwrap_or(now)
}

/// The deadline after `deadline`, keeping the rhythm; restarts from `now` if the driver was
/// late by a whole interval (no burst of catch-up rounds).
fn next_deadline(deadline: Instant, interval: Duration, now: Instant) -> Instant {
    let next = later(deadline, interval);
    if next > now {
        next
    } else {
        later(now, interval)
    }
}
