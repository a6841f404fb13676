//! Deciding who holds which slot: ranking for the regular slots, the weighted draw for the
//! optimistic one, the full rechoke and the immediate fill of free slots.

use std::cmp::Ordering;
use std::time::Instant;

use super::config::{ChokerMode, SeedChoking};
use super::peer::{PeerState, Slot};
use super::{Choker, ChokerEvent, PeerKey};

/// What a rechoke decided for one peer (scratch, indexed like the peer slab).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target {
    Choke,
    Regular,
    Optimistic,
}

impl<K: PeerKey> Choker<K> {
    /// The one place a peer's slot changes: keeps `regular`/`optimistic` right and queues the
    /// event when the peer's choked/unchoked state flips.
    pub(super) fn set_slot(&mut self, i: usize, slot: Slot) {
        let Some(p) = self.peers.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        let old = std::mem::replace(&mut p.slot, slot);
        let key = p.key;
        match old {
            Slot::Regular { .. } => self.regular = self.regular.saturating_sub(1),
            Slot::Optimistic { .. } if self.optimistic == Some(i) => self.optimistic = None,
            _ => {}
        }
        match slot {
            Slot::Regular { .. } => self.regular += 1,
            Slot::Optimistic { .. } => self.optimistic = Some(i),
            Slot::Choked { .. } => {}
        }
        let was_unchoked = !matches!(old, Slot::Choked { .. });
        let is_unchoked = !matches!(slot, Slot::Choked { .. });
        if was_unchoked != is_unchoked {
            let event = if is_unchoked {
                ChokerEvent::Unchoke(key)
            } else {
                ChokerEvent::Choke(key)
            };
            self.push_event(event);
        }
    }

    /// Queues an event, or cancels the opposite one still queued for the same peer (the engine
    /// only ever sees net changes; at most one event per peer is queued).
    fn push_event(&mut self, event: ChokerEvent<K>) {
        let key = event.peer();
        match self.events.iter().position(|e| e.peer() == key) {
            Some(pos) => {
                self.events.remove(pos);
            }
            None => self.events.push_back(event),
        }
    }

    /// Chokes peer `i` if it is unchoked.
    pub(super) fn choke(&mut self, i: usize, now: Instant) {
        if self.peer(i).is_some_and(|p| !p.is_choked()) {
            self.set_slot(i, Slot::Choked { since: now });
        }
    }

    /// Better first (`Less`) for a regular slot in the current mode. Ties keep slab order.
    fn rank(&self, a: &PeerState<K>, b: &PeerState<K>, now: Instant) -> Ordering {
        match (self.mode, self.config.seed_choking) {
            // Tit-for-tat: who gave us most during the last round; then peers that can
            // reciprocate (we want their data); then the current holders (no churn on ties);
            // then who waited longest.
            (ChokerMode::Downloading, _) => b
                .down_last
                .cmp(&a.down_last)
                .then(b.am_interested.cmp(&a.am_interested))
                .then(b.is_regular().cmp(&a.is_regular()))
                .then(a.slot.since().cmp(&b.slot.since())),
            (ChokerMode::Seeding, SeedChoking::FastestUpload) => b
                .up_last
                .cmp(&a.up_last)
                .then(b.is_regular().cmp(&a.is_regular()))
                .then(a.slot.since().cmp(&b.slot.since())),
            // Round robin: unfinished turns keep their slot; then waiting peers, longest wait
            // first; then peers whose turn is over, oldest turn first.
            (ChokerMode::Seeding, SeedChoking::RoundRobin) => self
                .rr_class(a, now)
                .cmp(&self.rr_class(b, now))
                .then(a.slot.since().cmp(&b.slot.since()))
                .then(b.up_last.cmp(&a.up_last)),
        }
    }

    fn rr_class(&self, p: &PeerState<K>, now: Instant) -> u8 {
        match p.slot {
            Slot::Regular { since, uploaded } => {
                let over = uploaded >= self.config.seed_turn_bytes
                    || now.saturating_duration_since(since) >= self.config.seed_turn_time;
                if over { 2 } else { 0 }
            }
            Slot::Choked { .. } | Slot::Optimistic { .. } => 1,
        }
    }

    /// Sorts `self.scratch` (slab indices) best first.
    fn sort_scratch(&mut self, now: Instant) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.sort_by(|&a, &b| match (self.peer(a), self.peer(b)) {
            (Some(pa), Some(pb)) => self.rank(pa, pb, now),
            _ => Ordering::Equal,
        });
        self.scratch = scratch;
    }

    /// Draws the optimistic peer among the eligible peers whose target is `Choke` (waiting, or
    /// just losing a regular slot), new
    /// peers [`ChokerConfig::new_peer_weight`](super::ChokerConfig::new_peer_weight) times as
    /// likely; `avoid` (the previous holder) only if nobody else can take it.
    fn draw_optimistic(&mut self, now: Instant, avoid: Option<usize>) -> Option<usize> {
        let window = self.config.new_peer_window;
        let new_weight = u64::from(self.config.new_peer_weight.max(1));
        let weight = |p: &PeerState<K>| {
            if now.saturating_duration_since(p.connected_at) < window {
                new_weight
            } else {
                1
            }
        };
        let candidate = |i: usize, p: &PeerState<K>| {
            p.eligible() && Some(i) != avoid && self.targets.get(i) == Some(&Target::Choke)
        };
        let total: u64 = self
            .peers
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.as_ref().filter(|p| candidate(i, p)).map(weight))
            .sum();
        if total == 0 {
            return avoid.filter(|&i| {
                self.peer(i).is_some_and(|p| p.eligible())
                    && self.targets.get(i) == Some(&Target::Choke)
            });
        }
        let mut r = self.rng.below(total);
        for (i, p) in self.peers.iter().enumerate() {
            let Some(p) = p.as_ref().filter(|p| candidate(i, p)) else {
                continue;
            };
            let w = weight(p);
            if r < w {
                return Some(i);
            }
            r -= w;
        }
        None
    }

    /// Re-decides every slot: the regular ones by rank, and the optimistic one if `rotate` (or
    /// if it is empty or its holder can no longer take it). Chokes are queued before unchokes.
    pub(super) fn rechoke(&mut self, now: Instant, rotate: bool) {
        let mode = self.mode;
        let previous = self.optimistic;
        self.targets.clear();
        self.targets.resize(self.peers.len(), Target::Choke);
        let Some(slots) = self.config.regular_slots else {
            for (i, p) in self.peers.iter().enumerate() {
                if let (Some(p), Some(t)) = (p, self.targets.get_mut(i))
                    && p.eligible()
                {
                    *t = Target::Regular;
                }
            }
            self.apply_targets(now);
            return;
        };
        let keep = previous.filter(|&i| !rotate && self.peer(i).is_some_and(|p| p.eligible()));
        self.scratch.clear();
        for (i, p) in self.peers.iter().enumerate() {
            if let Some(p) = p
                && p.eligible_regular(mode)
                && Some(i) != keep
            {
                self.scratch.push(i);
            }
        }
        self.sort_scratch(now);
        for &i in self.scratch.iter().take(slots as usize) {
            if let Some(t) = self.targets.get_mut(i) {
                *t = Target::Regular;
            }
        }
        let optimistic = match keep {
            Some(i) => Some(i),
            None => self.draw_optimistic(now, previous),
        };
        if let Some(t) = optimistic.and_then(|i| self.targets.get_mut(i)) {
            *t = Target::Optimistic;
        }
        self.apply_targets(now);
    }

    /// Moves every peer to its target slot: chokes first, then unchokes and slot changes.
    fn apply_targets(&mut self, now: Instant) {
        for i in 0..self.peers.len() {
            if self.targets.get(i) == Some(&Target::Choke) {
                self.choke(i, now);
            }
        }
        for i in 0..self.peers.len() {
            let (Some(&target), Some(p)) = (self.targets.get(i), self.peer(i)) else {
                continue;
            };
            let slot = match (target, p.slot) {
                (Target::Choke, _)
                | (Target::Regular, Slot::Regular { .. })
                | (Target::Optimistic, Slot::Optimistic { .. }) => continue,
                (Target::Regular, Slot::Optimistic { since }) => {
                    Slot::Regular { since, uploaded: 0 }
                }
                (Target::Regular, Slot::Choked { .. }) => Slot::Regular {
                    since: now,
                    uploaded: 0,
                },
                (Target::Optimistic, _) => Slot::Optimistic { since: now },
            };
            self.set_slot(i, slot);
        }
    }

    /// Gives free slots to waiting peers without taking a slot from anyone (a peer became
    /// interested, one left or lost interest): regular slots by rank, then the optimistic slot
    /// by a draw. Unlimited mode unchokes every eligible peer.
    pub(super) fn fill(&mut self, now: Instant) {
        let mode = self.mode;
        let unlimited = self.config.regular_slots.is_none();
        let free = match self.config.regular_slots {
            None => usize::MAX,
            Some(slots) => slots.saturating_sub(self.regular) as usize,
        };
        self.scratch.clear();
        for (i, p) in self.peers.iter().enumerate() {
            if let Some(p) = p
                && p.is_choked()
                && (p.eligible_regular(mode) || (unlimited && p.eligible()))
            {
                self.scratch.push(i);
            }
        }
        if free < self.scratch.len() {
            self.sort_scratch(now);
        }
        for j in 0..free.min(self.scratch.len()) {
            let Some(&i) = self.scratch.get(j) else {
                break;
            };
            self.set_slot(
                i,
                Slot::Regular {
                    since: now,
                    uploaded: 0,
                },
            );
        }
        if self.config.regular_slots.is_some() && self.optimistic.is_none() {
            // Only waiting peers may be drawn: nobody loses a slot here.
            self.targets.clear();
            for p in &self.peers {
                let waiting = p.as_ref().is_some_and(PeerState::is_choked);
                self.targets.push(if waiting {
                    Target::Choke
                } else {
                    Target::Regular
                });
            }
            if let Some(i) = self.draw_optimistic(now, None) {
                self.set_slot(i, Slot::Optimistic { since: now });
            }
        }
    }
}

/// SplitMix64: tiny, seedable, plenty for a weighted draw among a few dozen peers.
#[derive(Clone, Debug)]
pub(super) struct Rng(pub(super) u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..n` (`n > 0`; the modulo bias is below 2^-50 for our `n`).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
