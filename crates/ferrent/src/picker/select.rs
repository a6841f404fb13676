//! Choosing what to request from a peer: partial pieces first, then a new piece (random for the
//! first few, rarest first after), then, in endgame, blocks already requested elsewhere.

use std::time::Instant;

use super::peer::Active;
use super::pieces::{PieceState, RECEIVED};
use super::{BlockRequest, MAX_PRIORITY, PeerKey, Picker, PickerError};

/// Which blocks of a piece a pass may take.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Take {
    /// Free blocks not excluded at this peer.
    Free,
    /// Blocks with exactly this many requesters (not this peer), endgame only.
    Busy(u8),
}

impl<K: PeerKey> Picker<K> {
    /// Appends to `out` the requests to send to `peer` now (as many as its pipeline has room for,
    /// possibly none) and returns how many. The caller owns `out` and sends each as a `request`.
    ///
    /// Order: blocks of pieces already being downloaded (finish them first); then new pieces, at
    /// random among the highest priority until [`PickerConfig::initial_random_pieces`] are had,
    /// rarest first (random among equals) after; in endgame, blocks requested from others. Only
    /// pieces the peer has; while it chokes us, only its allowed-fast pieces.
    ///
    /// [`PickerConfig::initial_random_pieces`]: super::PickerConfig::initial_random_pieces
    pub fn next_requests(
        &mut self,
        peer: K,
        now: Instant,
        out: &mut Vec<BlockRequest>,
    ) -> Result<usize, PickerError> {
        let slot = self.slot(peer)?;
        let start = out.len();
        self.fill(slot, now, out);
        let idle = self
            .peer(slot)
            .is_some_and(|p| p.active.is_empty() && !p.excluded.is_empty());
        if out.len() == start && idle {
            // Nothing else to do for this peer: give it another chance at what it failed to send
            // (it may be the only peer that has those pieces).
            if let Some(p) = self.peer_mut(slot) {
                p.excluded.clear();
            }
            self.fill(slot, now, out);
        }
        Ok(out.len() - start)
    }

    fn fill(&mut self, slot: usize, now: Instant, out: &mut Vec<BlockRequest>) {
        let tq = self.config.target_queue_time;
        let Some(p) = self.peer(slot) else { return };
        let mut cap = p.capacity(tq);
        if cap == 0 || (p.choked && p.allowed_fast.is_empty()) {
            return;
        }
        let was_idle = p.active.is_empty();
        // 1. Pieces already downloading.
        let mut i = 0;
        while cap > 0 && i < self.pieces.downloading.len() {
            let piece = self.pieces.downloading[i];
            cap = self.take_blocks(slot, piece, Take::Free, cap, now, out);
            i += 1;
        }
        // 2. New pieces.
        while cap > 0 {
            let Some(piece) = self.pick_new_piece(slot) else {
                break;
            };
            let prio = self.pieces.prio(piece);
            self.move_piece(piece, PieceState::Downloading, prio);
            cap = self.take_blocks(slot, piece, Take::Free, cap, now, out);
        }
        // 3. Endgame: one duplicate request, fewest requesters first, and only for a peer that
        //    had nothing in flight (as libtorrent does). Filling every pipeline with duplicates
        //    instead made 12-25 % of a download's bytes arrive twice: with deep pipelines the
        //    copies are on the wire before our `cancel`s reach the peers.
        if cap > 0 && was_idle && self.in_endgame() {
            cap = 1;
            for requesters in 1..self.config.endgame_max_requesters.min(RECEIVED - 1) {
                let mut i = 0;
                while cap > 0 && i < self.pieces.downloading.len() {
                    let piece = self.pieces.downloading[i];
                    cap = self.take_blocks(slot, piece, Take::Busy(requesters), cap, now, out);
                    i += 1;
                }
            }
        }
    }

    /// Requests up to `cap` blocks of `piece` from `slot`; returns the capacity left.
    fn take_blocks(
        &mut self,
        slot: usize,
        piece: u32,
        take: Take,
        mut cap: u32,
        now: Instant,
        out: &mut Vec<BlockRequest>,
    ) -> u32 {
        let Some(p) = self.peers.get_mut(slot).and_then(Option::as_mut) else {
            return cap;
        };
        if !p.can_request(piece) {
            return cap;
        }
        let Some(partial) = self.pieces.partial(piece) else {
            return cap;
        };
        if take == Take::Free && partial.free == 0 {
            return cap;
        }
        let nblocks = partial.blocks.len() as u32;
        for block in 0..nblocks {
            if cap == 0 {
                break;
            }
            let Some(state) = self
                .pieces
                .partial(piece)
                .and_then(|q| q.blocks.get(block as usize))
            else {
                break;
            };
            let eligible = match take {
                Take::Free => *state == 0,
                Take::Busy(n) => *state == n && !p.is_active(piece, block),
            };
            if !eligible || p.is_excluded(piece, block) {
                continue;
            }
            self.pieces.add_requester(piece, block);
            p.active.push(Active {
                piece,
                block,
                sent: now,
            });
            self.requests_in_flight += 1;
            out.push(self.pieces.geo.request(piece, block));
            cap -= 1;
        }
        cap
    }

    /// A queued piece to start at `slot`, or `None`. Pieces with a block excluded at this peer are
    /// skipped, so the piece picked always yields at least one request (a `Downloading` piece
    /// always has progress).
    fn pick_new_piece(&mut self, slot: usize) -> Option<u32> {
        let p = self.peers.get(slot)?.as_ref()?;
        let eligible = |piece: u32| p.has(piece) && !p.excluded.iter().any(|&(x, _)| x == piece);
        if p.choked {
            return p
                .allowed_fast
                .iter()
                .copied()
                .find(|&f| eligible(f) && self.pieces.state(f) == Some(PieceState::Queued));
        }
        let n = self.pieces.num_pieces();
        if self.pieces.counts[PieceState::Have as usize] < self.config.initial_random_pieces {
            // Random start, then the first piece of the highest priority found.
            if n == 0 {
                return None;
            }
            let start = self.rng.below(n as usize) as u32;
            let mut best: Option<(u8, u32)> = None;
            for k in 0..n {
                let piece = (start + k) % n;
                if self.pieces.state(piece) != Some(PieceState::Queued) || !eligible(piece) {
                    continue;
                }
                let prio = self.pieces.prio(piece);
                if best.is_none_or(|(b, _)| prio > b) {
                    best = Some((prio, piece));
                    if prio == MAX_PRIORITY {
                        break;
                    }
                }
            }
            return best.map(|(_, piece)| piece);
        }
        // Rarest first: highest priority, then lowest availability, random start in the bucket.
        for prio in (1..=MAX_PRIORITY as usize).rev() {
            let Some(level) = self.pieces.queue.get(prio) else {
                continue;
            };
            for (avail, bucket) in level.iter().enumerate() {
                if bucket.is_empty() || (avail == 0 && !p.seed) {
                    continue;
                }
                let start = self.rng.below(bucket.len());
                let found = (0..bucket.len())
                    .map(|k| bucket[(start + k) % bucket.len()])
                    .find(|&piece| eligible(piece));
                if found.is_some() {
                    return found;
                }
            }
        }
        None
    }
}
