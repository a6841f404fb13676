//! What the choker keeps per peer: a few flags, four byte counters and the slot it holds.

use std::time::Instant;

use super::config::ChokerMode;

/// The upload slot a peer holds. Exactly one per peer; the transitions are made by
/// `Choker::set_slot` only, which keeps the slot counts and emits the events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    /// Choked, waiting since `since` (when it connected or was last choked).
    Choked {
        /// Start of the wait.
        since: Instant,
    },
    /// Holds one of the regular slots since `since`; `uploaded` bytes sent to it since then (the
    /// round-robin seed choker ends the turn on a byte quota).
    Regular {
        /// Start of the turn.
        since: Instant,
        /// Bytes sent during this turn.
        uploaded: u64,
    },
    /// Holds the optimistic slot since `since`.
    Optimistic {
        /// Start of the turn.
        since: Instant,
    },
}

impl Slot {
    /// When the current state began (wait or turn).
    pub(super) fn since(self) -> Instant {
        match self {
            Slot::Choked { since } | Slot::Regular { since, .. } | Slot::Optimistic { since } => {
                since
            }
        }
    }
}

/// One peer as the choker sees it.
#[derive(Clone, Debug)]
pub(super) struct PeerState<K> {
    pub(super) key: K,
    /// When the peer was added (new peers are favoured by the optimistic unchoke).
    pub(super) connected_at: Instant,
    /// It sent `interested` (and not `not interested` since).
    pub(super) peer_interested: bool,
    /// We are interested in it (it could reciprocate: a tie-break while downloading).
    pub(super) am_interested: bool,
    /// It has every piece; such a peer cannot want data, so its interest is ignored.
    pub(super) seed: bool,
    /// The engine found it snubbing us; no regular slot while downloading.
    pub(super) snubbed: bool,
    pub(super) slot: Slot,
    /// Payload bytes it sent us during the current round.
    pub(super) down_round: u64,
    /// Payload bytes we sent it during the current round.
    pub(super) up_round: u64,
    /// Payload bytes it sent us during the last complete round (the tit-for-tat rate).
    pub(super) down_last: u64,
    /// Payload bytes we sent it during the last complete round.
    pub(super) up_last: u64,
}

impl<K> PeerState<K> {
    pub(super) fn new(key: K, now: Instant) -> Self {
        PeerState {
            key,
            connected_at: now,
            peer_interested: false,
            am_interested: false,
            seed: false,
            snubbed: false,
            slot: Slot::Choked { since: now },
            down_round: 0,
            up_round: 0,
            down_last: 0,
            up_last: 0,
        }
    }

    /// May be unchoked at all: interested and not a seed.
    pub(super) fn eligible(&self) -> bool {
        self.peer_interested && !self.seed
    }

    /// May hold a regular slot in this mode (snubbed peers may not while downloading).
    pub(super) fn eligible_regular(&self, mode: ChokerMode) -> bool {
        self.eligible() && (mode == ChokerMode::Seeding || !self.snubbed)
    }

    pub(super) fn is_choked(&self) -> bool {
        matches!(self.slot, Slot::Choked { .. })
    }

    pub(super) fn is_regular(&self) -> bool {
        matches!(self.slot, Slot::Regular { .. })
    }

    /// Ends the current rate round: its counts become the rates used for ranking.
    pub(super) fn close_round(&mut self) {
        self.down_last = std::mem::take(&mut self.down_round);
        self.up_last = std::mem::take(&mut self.up_round);
    }
}
