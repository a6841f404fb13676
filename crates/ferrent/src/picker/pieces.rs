//! The piece table: each piece's state and priority, availability, the rarest-first queue and the
//! block map of pieces being downloaded. Every counter lives here and changes in one function,
//! [`Pieces::transition`] (plus the block-level helpers below it).

use super::bitset::Bitset;
use super::geometry::PieceGeometry;

/// Where a piece is. Every piece is in exactly one state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PieceState {
    /// Priority 0 and not had: never requested.
    NotWanted = 0,
    /// Wanted, nothing requested or received yet: waits in the rarest-first queue.
    Queued = 1,
    /// Some block is requested or received, and some block is still missing.
    Downloading = 2,
    /// Every block received; the engine is checking the hash.
    Hashing = 3,
    /// Verified.
    Have = 4,
}

impl PieceState {
    fn index(self) -> usize {
        self as usize
    }
}

/// Block map value: received.
pub(crate) const RECEIVED: u8 = u8::MAX;

/// The per-block state of a piece that is downloading or hashing.
#[derive(Debug)]
pub(crate) struct Partial<K> {
    /// Per block: 0 = free, `1..RECEIVED` = number of peers with an active request, `RECEIVED`.
    pub(crate) blocks: Vec<u8>,
    /// Blocks with value 0.
    pub(crate) free: u32,
    /// Blocks with value `RECEIVED`.
    pub(crate) received: u32,
    /// Of those, blocks wholly inside BEP 47 pad files: never requested, zeros by definition.
    pub(crate) pad: u32,
    /// Peers whose blocks were kept (for smart ban), without duplicates.
    pub(crate) contributors: Vec<K>,
}

/// `queue_pos`/`partial_slot` value meaning "none".
const NONE: u32 = u32::MAX;

/// See the module doc.
#[derive(Debug)]
pub(crate) struct Pieces<K> {
    pub(crate) geo: PieceGeometry,
    pub(crate) state: Vec<PieceState>,
    pub(crate) prio: Vec<u8>,
    /// Number of non-seed peers that have each piece (seeds are counted once, in `Picker::seeds`:
    /// they add the same amount to every piece, so rarest-first order does not change).
    pub(crate) avail: Vec<u32>,
    pub(crate) have: Bitset,
    /// Queued pieces by `[priority][availability]`, unordered inside a bucket.
    pub(crate) queue: Vec<Vec<Vec<u32>>>,
    queue_pos: Vec<u32>,
    partial_slot: Vec<u32>,
    partials: Vec<Partial<K>>,
    spare_partials: Vec<u32>,
    /// Pieces in state `Downloading`, in the order they were started.
    pub(crate) downloading: Vec<u32>,
    /// Number of pieces per state, indexed by `PieceState as usize`.
    pub(crate) counts: [u32; 5],
    /// Sum of `free` over `Downloading` pieces.
    pub(crate) free_blocks: u64,
    /// Bytes of `Have` pieces.
    pub(crate) bytes_have: u64,
    /// Bytes of wanted pieces (priority > 0, not `Have`).
    pub(crate) bytes_wanted_left: u64,
    /// Wanted pieces (priority > 0, not `Have`).
    pub(crate) wanted: u32,
    /// Byte ranges `[start, end)` of BEP 47 pad files in the torrent, sorted, not overlapping.
    pub(crate) pads: Vec<(u64, u64)>,
}

impl<K: Copy + PartialEq> Pieces<K> {
    pub(crate) fn new(geo: PieceGeometry, default_prio: u8) -> Self {
        let n = geo.num_pieces();
        let mut pieces = Pieces {
            geo,
            state: vec![PieceState::NotWanted; n as usize],
            prio: vec![0; n as usize],
            avail: vec![0; n as usize],
            have: Bitset::new(n),
            queue: (0..=super::MAX_PRIORITY).map(|_| Vec::new()).collect(),
            queue_pos: vec![NONE; n as usize],
            partial_slot: vec![NONE; n as usize],
            partials: Vec::new(),
            spare_partials: Vec::new(),
            downloading: Vec::new(),
            counts: [n, 0, 0, 0, 0],
            free_blocks: 0,
            bytes_have: 0,
            bytes_wanted_left: 0,
            wanted: 0,
            pads: Vec::new(),
        };
        if default_prio > 0 {
            for piece in 0..n {
                pieces.transition(piece, PieceState::Queued, default_prio);
            }
        }
        pieces
    }

    pub(crate) fn num_pieces(&self) -> u32 {
        self.geo.num_pieces()
    }

    pub(crate) fn state(&self, piece: u32) -> Option<PieceState> {
        self.state.get(piece as usize).copied()
    }

    pub(crate) fn prio(&self, piece: u32) -> u8 {
        self.prio.get(piece as usize).copied().unwrap_or(0)
    }

    pub(crate) fn is_wanted(&self, piece: u32) -> bool {
        self.prio(piece) > 0 && self.state(piece).is_some_and(|s| s != PieceState::Have)
    }

    pub(crate) fn partial(&self, piece: u32) -> Option<&Partial<K>> {
        let slot = *self.partial_slot.get(piece as usize)?;
        self.partials.get(slot as usize)
    }

    /// The block map of `piece` and the free-block counter, borrowed together.
    fn partial_and_free(&mut self, piece: u32) -> Option<(&mut Partial<K>, &mut u64)> {
        let slot = *self.partial_slot.get(piece as usize)?;
        let p = self.partials.get_mut(slot as usize)?;
        Some((p, &mut self.free_blocks))
    }

    /// Moves `piece` to `state` with priority `prio`, keeping the queue, the block maps, the
    /// `downloading` list and every counter in step. Returns `Some(now_wanted)` when the piece's
    /// wanted-ness changed (the caller updates peer interest). The one place counters change at
    /// piece level.
    pub(crate) fn transition(&mut self, piece: u32, state: PieceState, prio: u8) -> Option<bool> {
        let i = piece as usize;
        let (Some(&old), Some(&old_prio)) = (self.state.get(i), self.prio.get(i)) else {
            return None;
        };
        let len = u64::from(self.geo.piece_len(piece));
        let was_wanted = old_prio > 0 && old != PieceState::Have;
        let now_wanted = prio > 0 && state != PieceState::Have;

        // Leave the old state.
        if old == PieceState::Queued {
            self.queue_remove(piece, old_prio);
        }
        if old == PieceState::Downloading {
            if let Some(p) = self.partial(piece) {
                self.free_blocks -= u64::from(p.free);
            }
            self.downloading.retain(|&d| d != piece);
        }
        let had_partial = matches!(old, PieceState::Downloading | PieceState::Hashing);
        let has_partial = matches!(state, PieceState::Downloading | PieceState::Hashing);
        if had_partial && !has_partial {
            self.release_partial(piece);
        }
        if old == PieceState::Have {
            self.bytes_have -= len;
        }
        self.counts[old.index()] -= 1;

        // Enter the new one.
        self.state[i] = state;
        self.prio[i] = prio;
        self.counts[state.index()] += 1;
        if state == PieceState::Have {
            self.bytes_have += len;
            self.have.set(piece);
        }
        if !had_partial && has_partial {
            self.alloc_partial(piece);
        }
        if state == PieceState::Downloading {
            if let Some(p) = self.partial(piece) {
                self.free_blocks += u64::from(p.free);
            }
            self.downloading.push(piece);
        }
        if state == PieceState::Queued {
            self.queue_insert(piece, prio);
        }
        match (was_wanted, now_wanted) {
            (false, true) => {
                self.wanted += 1;
                self.bytes_wanted_left += len;
                Some(true)
            }
            (true, false) => {
                self.wanted -= 1;
                self.bytes_wanted_left -= len;
                Some(false)
            }
            _ => None,
        }
    }

    /// Availability of `piece` (non-seed peers) changes by +1 or -1.
    pub(crate) fn change_avail(&mut self, piece: u32, up: bool) {
        let i = piece as usize;
        let Some(&a) = self.avail.get(i) else { return };
        let queued = self.state.get(i) == Some(&PieceState::Queued);
        let prio = self.prio(piece);
        if queued {
            self.queue_remove(piece, prio);
        }
        self.avail[i] = if up { a + 1 } else { a.saturating_sub(1) };
        if queued {
            self.queue_insert(piece, prio);
        }
    }

    fn queue_insert(&mut self, piece: u32, prio: u8) {
        let avail = self.avail[piece as usize] as usize;
        let Some(level) = self.queue.get_mut(prio as usize) else {
            return;
        };
        if level.len() <= avail {
            level.resize_with(avail + 1, Vec::new);
        }
        let bucket = &mut level[avail];
        self.queue_pos[piece as usize] = bucket.len() as u32;
        bucket.push(piece);
    }

    fn queue_remove(&mut self, piece: u32, prio: u8) {
        let avail = self.avail[piece as usize] as usize;
        let pos = self.queue_pos[piece as usize] as usize;
        let Some(bucket) = self
            .queue
            .get_mut(prio as usize)
            .and_then(|l| l.get_mut(avail))
        else {
            return;
        };
        if bucket.get(pos) != Some(&piece) {
            debug_assert!(false, "queue position of piece {piece} is stale");
            return;
        }
        bucket.swap_remove(pos);
        if let Some(&moved) = bucket.get(pos) {
            self.queue_pos[moved as usize] = pos as u32;
        }
        self.queue_pos[piece as usize] = NONE;
    }

    /// The queue position of a queued piece (for invariant checks).
    pub(crate) fn queue_pos(&self, piece: u32) -> Option<usize> {
        self.queue_pos
            .get(piece as usize)
            .filter(|&&p| p != NONE)
            .map(|&p| p as usize)
    }

    fn alloc_partial(&mut self, piece: u32) {
        let nblocks = self.geo.blocks_in_piece(piece);
        let slot = match self.spare_partials.pop() {
            Some(slot) => slot,
            None => {
                self.partials.push(Partial {
                    blocks: Vec::new(),
                    free: 0,
                    received: 0,
                    pad: 0,
                    contributors: Vec::new(),
                });
                self.partials.len() as u32 - 1
            }
        };
        let pad_blocks = self.pad_blocks(piece);
        if let Some(p) = self.partials.get_mut(slot as usize) {
            p.blocks.clear();
            p.blocks.resize(nblocks as usize, 0);
            p.free = nblocks;
            p.received = 0;
            p.pad = 0;
            p.contributors.clear();
            // Pad blocks count as received from the start, unless the whole piece is padding
            // (never made by BEP 47 creators): it is then downloaded like any other.
            if (pad_blocks.len() as u32) < nblocks {
                for &b in &pad_blocks {
                    if let Some(v) = p.blocks.get_mut(b as usize) {
                        *v = RECEIVED;
                        p.free -= 1;
                        p.received += 1;
                        p.pad += 1;
                    }
                }
            }
        }
        self.partial_slot[piece as usize] = slot;
    }

    /// The blocks of `piece` that lie wholly inside pad files.
    pub(crate) fn pad_blocks(&self, piece: u32) -> Vec<u32> {
        let mut out = Vec::new();
        if self.pads.is_empty() {
            return out;
        }
        let start = u64::from(piece) * u64::from(self.geo.piece_length());
        let end = start + u64::from(self.geo.piece_len(piece));
        // The first pad range that ends after the piece starts.
        let first = self.pads.partition_point(|&(_, e)| e <= start);
        for &(ps, pe) in self.pads.get(first..).unwrap_or_default() {
            if ps >= end {
                break;
            }
            // Blocks wholly inside [ps, pe).
            let lo = ps.max(start) - start;
            let hi = pe.min(end) - start;
            let bs = u64::from(super::BLOCK_SIZE);
            let mut b = lo.div_ceil(bs);
            while b * bs < hi {
                let block_end = (b * bs + bs).min(end - start);
                if block_end > hi {
                    break;
                }
                out.push(b as u32);
                b += 1;
            }
        }
        out
    }

    fn release_partial(&mut self, piece: u32) {
        let slot = std::mem::replace(&mut self.partial_slot[piece as usize], NONE);
        if slot != NONE {
            self.spare_partials.push(slot);
        }
    }

    /// One more active request for a block of a `Downloading` piece.
    pub(crate) fn add_requester(&mut self, piece: u32, block: u32) {
        let Some((p, free_blocks)) = self.partial_and_free(piece) else {
            return;
        };
        let Some(b) = p.blocks.get_mut(block as usize) else {
            return;
        };
        debug_assert!(*b < RECEIVED - 1);
        if *b == 0 {
            p.free -= 1;
            *free_blocks -= 1;
        }
        *b += 1;
    }

    /// One active request for a block fewer (answered by a reject, cancelled, timed out). Returns
    /// whether the piece now has no progress at all (nothing requested, nothing received).
    pub(crate) fn remove_requester(&mut self, piece: u32, block: u32) -> bool {
        let downloading = self.state(piece) == Some(PieceState::Downloading);
        let Some((p, free_blocks)) = self.partial_and_free(piece) else {
            return false;
        };
        let Some(b) = p.blocks.get_mut(block as usize) else {
            return false;
        };
        if *b == RECEIVED || *b == 0 {
            return false;
        }
        *b -= 1;
        if *b == 0 {
            p.free += 1;
            if downloading {
                *free_blocks += 1;
            }
        }
        p.received == p.pad && (p.free + p.pad) as usize == p.blocks.len()
    }

    /// Marks a block received from `from`. Returns `(requesters_before, piece_now_complete)`, or
    /// `None` if the block was already received (or the piece has no block map).
    pub(crate) fn mark_received(&mut self, piece: u32, block: u32, from: K) -> Option<(u8, bool)> {
        let downloading = self.state(piece) == Some(PieceState::Downloading);
        let (p, free_blocks) = self.partial_and_free(piece)?;
        let b = p.blocks.get_mut(block as usize)?;
        if *b == RECEIVED {
            return None;
        }
        let before = *b;
        *b = RECEIVED;
        p.received += 1;
        if !p.contributors.contains(&from) {
            p.contributors.push(from);
        }
        if before == 0 {
            p.free -= 1;
            if downloading {
                *free_blocks -= 1;
            }
        }
        let complete = p.received as usize == p.blocks.len();
        Some((before, complete))
    }

    /// Queued pieces with no peer at all (not counting seeds).
    pub(crate) fn queued_unavailable(&self) -> usize {
        self.queue
            .iter()
            .map(|level| level.first().map_or(0, Vec::len))
            .sum()
    }
}
