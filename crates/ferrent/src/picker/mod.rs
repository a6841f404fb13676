//! The piece picker and block request scheduler: which block to ask which peer for, and when.
//!
//! A sans-I/O state machine (DESIGN.md rules 1-3, 11): no sockets, no tasks, no clock. The engine
//! feeds it what peers say (`bitfield`, `have`, `choke`, `piece`, `reject`...) and the time, and it
//! answers with requests to send, cancels to send, and pieces to hash.
//!
//! The driving contract and the invariants are documented on [`Picker`].
#![deny(clippy::disallowed_methods)]

mod bitset;
mod config;
mod error;
mod events;
mod geometry;
mod invariants;
mod peer;
mod pieces;
mod select;
#[cfg(test)]
mod tests;

pub use config::{
    DEFAULT_PRIORITY, INITIAL_PIPELINE, MAX_ALLOWED_FAST, MAX_CANCELLED_REMEMBERED, MAX_EXCLUDED,
    MAX_PIPELINE, MAX_PRIORITY, MIN_PIPELINE, PickerConfig,
};
pub use error::{PeerMisbehaved, PickerError};
pub use geometry::{BLOCK_SIZE, BlockRequest, PieceGeometry};
pub use pieces::PieceState;
use std::collections::{HashMap, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;

use bitset::Bitset;
use peer::Peer;
use pieces::Pieces;

/// What the engine uses to name a peer (a connection id, a slab key...). Any small `Copy` key.
pub trait PeerKey: Copy + Eq + Hash + Debug {}
impl<T: Copy + Eq + Hash + Debug> PeerKey for T {}

/// Something the engine must do, drained with [`Picker::poll_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PickerEvent<K> {
    /// Send `cancel` for `request` to `peer` (the block came from elsewhere, or timed out).
    Cancel {
        /// The peer that has the request.
        peer: K,
        /// The request to cancel.
        request: BlockRequest,
    },
    /// We became interested (`true`) or not interested (`false`) in `peer`: send the message.
    Interest {
        /// The peer.
        peer: K,
        /// New state.
        interested: bool,
    },
    /// `peer` let a request time out; its pipeline is down to 1 until it delivers again.
    Snubbed {
        /// The peer.
        peer: K,
    },
    /// A partially downloaded piece was given up (its priority went to 0): drop its buffer.
    Abandoned {
        /// Piece index.
        piece: u32,
    },
}

/// What to do with a block just received ([`Picker::on_block`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockOutcome {
    /// New data: keep it; the piece still misses blocks.
    Accepted,
    /// New data and the last missing block: keep it, hash the piece, then report the result.
    PieceComplete,
    /// Already received, or for a piece no longer downloading (an endgame duplicate, or the answer
    /// to a request we cancelled): drop the data.
    Redundant,
}

/// Counters, all maintained incrementally (see [`Picker::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PickerStats {
    /// Pieces in the torrent.
    pub pieces_total: u32,
    /// Verified pieces.
    pub pieces_have: u32,
    /// Pieces being downloaded (some block requested or received).
    pub pieces_downloading: u32,
    /// Pieces waiting for their hash check.
    pub pieces_hashing: u32,
    /// Wanted pieces not started.
    pub pieces_queued: u32,
    /// Pieces with priority 0 that we do not have.
    pub pieces_not_wanted: u32,
    /// Bytes of verified pieces.
    pub bytes_have: u64,
    /// Bytes of wanted pieces not yet verified.
    pub bytes_wanted_left: u64,
    /// Bytes of blocks accepted (new data, counted once per block; failed pieces count again when
    /// fetched again).
    pub bytes_received: u64,
    /// Bytes of blocks received but not needed (endgame duplicates, late answers).
    pub bytes_redundant: u64,
    /// Bytes of pieces that failed their hash check.
    pub bytes_failed: u64,
    /// Requests in flight, over all peers.
    pub requests_in_flight: u32,
    /// Whether the picker is in endgame (every wanted block is requested or received).
    pub endgame: bool,
}

/// The piece picker and request scheduler: which block to ask which peer for, and when.
///
/// A sans-I/O state machine: the engine feeds it what peers say and the time (`now`), it answers
/// with requests to send, events (cancels, interest) and pieces to hash.
///
/// ```
/// use std::time::Instant;
/// use ferrent::{BlockOutcome, Picker, PickerConfig, PieceGeometry};
///
/// // Two pieces of 32 KiB, 48 KiB in all: blocks of 16 + 16 and 16 KiB.
/// let geometry = PieceGeometry::new(2, 32 * 1024, 48 * 1024)?;
/// let mut picker: Picker<u32> = Picker::new(geometry, PickerConfig::default(), 42);
/// let now = Instant::now(); // the driver's clock; the picker never reads one
/// picker.add_peer(7)?;
/// picker.peer_have_all(7)?;
/// picker.peer_unchoked(7)?;
/// let mut requests = Vec::new();
/// picker.next_requests(7, now, &mut requests)?;
/// assert_eq!(requests.len(), 3);
/// for r in requests {
///     if picker.on_block(7, r, now)? == BlockOutcome::PieceComplete {
///         // hash it off the async threads, then:
///         picker.on_piece_verified(r.piece)?;
///     }
/// }
/// assert!(picker.is_complete());
/// # Ok::<(), ferrent::PickerError>(())
/// ```
///
/// # States and invariants
///
/// Every piece is in exactly one [`PieceState`]:
///
/// | state | meaning | block map | where |
/// |---|---|---|---|
/// | `NotWanted` | priority 0, not had | none | nowhere |
/// | `Queued` | wanted, nothing requested or received | none | rarest-first queue, bucket `[priority][availability]` |
/// | `Downloading` | some block requested or received, some missing; priority > 0 | yes | `downloading` list |
/// | `Hashing` | all blocks received, the engine checks the hash | yes (all received) | - |
/// | `Have` | verified | none | `have` bit set |
///
/// Transitions: `NotWanted <-> Queued` (priority), `Queued -> Downloading` (first request, or a
/// late answer to a cancelled request),
/// `Downloading -> Queued` (the last request released with nothing received, or the priority set
/// to 0, which abandons the piece), `Downloading -> Hashing` (last block received),
/// `Hashing -> Have` ([`Picker::on_piece_verified`]), `Hashing -> Queued/NotWanted`
/// ([`Picker::on_piece_failed`]), and `Queued/NotWanted -> Have` ([`Picker::set_have`], resume).
///
/// Block invariants ([`Picker::check_invariants`] checks them all):
/// - a block of a `Downloading` piece is free, requested by `k` peers (`k` = the number of peers with
///   that block in their active list), or received; a received block has no active request;
/// - an active request is for a block of a `Downloading` piece that the peer has, and, when the peer
///   chokes us, that is in its allowed-fast set; no peer has the same block twice;
/// - outside endgame a block is requested from at most one peer; in endgame from at most
///   [`PickerConfig::endgame_max_requesters`];
/// - availability counts, the per-state counts, the byte counters and each peer's "interesting"
///   count equal what a recount gives.
///
/// Memory is bounded: per piece a few bytes; per downloading piece one byte per block (block maps
/// are recycled, not freed); per peer a bitset, at most [`MAX_PIPELINE`] active requests and the
/// bounded cancelled/excluded lists. Nothing allocates per request once warm.
///
/// # Driving contract
///
/// 1. [`Picker::new`], then the resume state: [`Picker::set_have`] per verified piece and the
///    priorities ([`Picker::set_priorities`], derived from file priorities by the caller).
/// 2. A peer connects: [`Picker::add_peer`]; then exactly one of [`Picker::peer_bitfield`],
///    [`Picker::peer_have_all`], [`Picker::peer_have_none`] if the peer sent one, and
///    [`Picker::peer_have`] for each `have`; [`Picker::peer_allowed_fast`] for BEP 6
///    `allowed fast`; [`Picker::set_peer_reqq`] from its BEP 10 handshake.
///    [`Picker::peer_unchoked`] / [`Picker::peer_choked`] as it (un)chokes us (peers start choking).
/// 3. Whenever a peer may take more requests (after unchoke, a block, a reject, a have, an
///    allowed-fast, and for every peer after [`Picker::handle_timeout`] or a
///    [`Picker::on_piece_failed`]), call [`Picker::next_requests`] and send what it appends.
/// 4. Every `piece` message: [`Picker::on_block`]. `Accepted` / `PieceComplete`: keep the data; on
///    `PieceComplete` hash the piece and then call exactly one of [`Picker::on_piece_verified`] or
///    [`Picker::on_piece_failed`] (which returns the contributors, for smart ban). `Redundant`: drop
///    the data. An error is a protocol violation: close the connection (then `remove_peer`).
///    Every BEP 6 `reject`: [`Picker::on_reject`].
/// 5. After every call, drain [`Picker::poll_event`]: `Cancel` (send a `cancel`), `Interest` (send
///    `interested`/`not interested`), `Snubbed`, `Abandoned` (drop a partial piece's buffer).
/// 6. Keep one timer at [`Picker::poll_timeout`]; when it fires call [`Picker::handle_timeout`].
/// 7. A peer disconnects: [`Picker::remove_peer`] (its requests go back to the pool).
#[derive(Debug)]
pub struct Picker<K: PeerKey> {
    config: PickerConfig,
    pieces: Pieces<K>,
    peers: Vec<Option<Peer<K>>>,
    slots: HashMap<K, usize>,
    free_slots: Vec<usize>,
    /// Peers that sent `have all`.
    seeds: u32,
    rng: Rng,
    events: VecDeque<PickerEvent<K>>,
    requests_in_flight: u32,
    bytes_received: u64,
    bytes_redundant: u64,
    bytes_failed: u64,
}

impl<K: PeerKey> Picker<K> {
    /// A picker for a torrent of this geometry. Every piece starts wanted at
    /// [`DEFAULT_PRIORITY`]; `seed` makes the random choices (initial pieces, tie-breaks)
    /// reproducible.
    pub fn new(geometry: PieceGeometry, config: PickerConfig, seed: u64) -> Self {
        Picker {
            config,
            pieces: Pieces::new(geometry, DEFAULT_PRIORITY),
            peers: Vec::new(),
            slots: HashMap::new(),
            free_slots: Vec::new(),
            seeds: 0,
            rng: Rng(seed),
            events: VecDeque::new(),
            requests_in_flight: 0,
            bytes_received: 0,
            bytes_redundant: 0,
            bytes_failed: 0,
        }
    }

    /// The geometry given to [`Picker::new`].
    pub fn geometry(&self) -> &PieceGeometry {
        &self.pieces.geo
    }

    /// The configuration given to [`Picker::new`].
    pub fn config(&self) -> &PickerConfig {
        &self.config
    }

    fn check_piece(&self, piece: u32) -> Result<(), PickerError> {
        if piece < self.pieces.num_pieces() {
            Ok(())
        } else {
            Err(PickerError::PieceOutOfRange {
                index: piece,
                num_pieces: self.pieces.num_pieces(),
            })
        }
    }

    fn check_peer_piece(&self, piece: u32) -> Result<(), PickerError> {
        if piece < self.pieces.num_pieces() {
            Ok(())
        } else {
            Err(PeerMisbehaved::PieceIndexOutOfRange {
                index: piece,
                num_pieces: self.pieces.num_pieces(),
            }
            .into())
        }
    }

    // ----- torrent-level state -----

    /// Marks `piece` verified without downloading it (resume data, or a recheck). Only for pieces
    /// that are `Queued`, `NotWanted` or already `Have`.
    pub fn set_have(&mut self, piece: u32) -> Result<(), PickerError> {
        self.check_piece(piece)?;
        match self.pieces.state(piece) {
            Some(PieceState::Have) => Ok(()),
            Some(PieceState::Queued | PieceState::NotWanted) => {
                let prio = self.pieces.prio(piece);
                self.move_piece(piece, PieceState::Have, prio);
                Ok(())
            }
            _ => Err(PickerError::PieceBusy { piece }),
        }
    }

    /// Tells the picker where the torrent's BEP 47 pad files are (`[start, end)` byte ranges in
    /// the torrent, any order). Blocks wholly inside them are never requested: they are zeros,
    /// and count as received as soon as their piece starts ([`Picker::pad_blocks`] lists them so
    /// the piece's buffer can be zeroed there). Call before any piece starts downloading.
    pub fn set_pad_ranges(&mut self, mut ranges: Vec<(u64, u64)>) {
        ranges.retain(|&(s, e)| s < e);
        ranges.sort_unstable();
        // Merge overlapping or touching ranges, so the lookup can stop at the first one past a
        // piece.
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
        for (s, e) in ranges {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.pieces.pads = merged;
    }

    /// The blocks of `piece` wholly inside pad files that the picker never requests (empty
    /// when the whole piece is padding: then every block is requested).
    pub fn pad_blocks(&self, piece: u32) -> Vec<u32> {
        let blocks = self.pieces.pad_blocks(piece);
        if blocks.len() as u32 >= self.pieces.geo.blocks_in_piece(piece) {
            return Vec::new();
        }
        blocks
    }

    /// The state of `piece`, `None` when out of range.
    pub fn piece_state(&self, piece: u32) -> Option<PieceState> {
        self.pieces.state(piece)
    }

    /// Whether `piece` is verified (false when out of range).
    pub fn have(&self, piece: u32) -> bool {
        self.pieces.have.get(piece)
    }

    /// The verified pieces as a BEP 3 bitfield payload (for our `bitfield` message).
    pub fn have_bitfield(&self) -> Vec<u8> {
        let n = self.pieces.num_pieces();
        let mut out = vec![0u8; (n as usize).div_ceil(8)];
        for piece in self.pieces.have.ones() {
            if let Some(byte) = out.get_mut((piece / 8) as usize) {
                *byte |= 0x80 >> (piece % 8);
            }
        }
        out
    }

    /// Whether every wanted piece is verified (priority-0 pieces do not count).
    pub fn is_complete(&self) -> bool {
        self.pieces.wanted == 0
    }

    /// Priority of `piece` (0 = do not download ..= [`MAX_PRIORITY`]), `None` when out of range.
    pub fn piece_priority(&self, piece: u32) -> Option<u8> {
        self.pieces.prio.get(piece as usize).copied()
    }

    /// Sets the priority of one piece. Setting 0 on a downloading piece abandons it: its requests
    /// are cancelled (`Cancel` events) and its received blocks dropped (`Abandoned` event).
    pub fn set_piece_priority(&mut self, piece: u32, prio: u8) -> Result<(), PickerError> {
        self.check_piece(piece)?;
        if prio > MAX_PRIORITY {
            return Err(PickerError::InvalidPriority(prio));
        }
        let state = self.pieces.state(piece).unwrap_or(PieceState::NotWanted);
        match state {
            PieceState::NotWanted | PieceState::Queued => {
                let new = if prio == 0 {
                    PieceState::NotWanted
                } else {
                    PieceState::Queued
                };
                self.move_piece(piece, new, prio);
            }
            PieceState::Downloading if prio == 0 => {
                self.cancel_piece_requests(piece);
                self.move_piece(piece, PieceState::NotWanted, 0);
                self.events.push_back(PickerEvent::Abandoned { piece });
            }
            PieceState::Downloading | PieceState::Hashing | PieceState::Have => {
                self.move_piece(piece, state, prio);
            }
        }
        Ok(())
    }

    /// Sets every piece's priority at once (`prios.len()` must be the number of pieces). The
    /// engine derives it from file priorities: a piece gets the highest priority of the files it
    /// overlaps, so pieces shared with a wanted file are fetched.
    pub fn set_priorities(&mut self, prios: &[u8]) -> Result<(), PickerError> {
        let n = self.pieces.num_pieces();
        if prios.len() != n as usize {
            return Err(PickerError::PriorityCount {
                got: prios.len(),
                num_pieces: n,
            });
        }
        if let Some(&bad) = prios.iter().find(|&&p| p > MAX_PRIORITY) {
            return Err(PickerError::InvalidPriority(bad));
        }
        for (piece, &prio) in (0..n).zip(prios) {
            if self.pieces.prio(piece) != prio {
                self.set_piece_priority(piece, prio)?;
            }
        }
        Ok(())
    }

    /// The counters.
    pub fn stats(&self) -> PickerStats {
        let c = &self.pieces.counts;
        PickerStats {
            pieces_total: self.pieces.num_pieces(),
            pieces_not_wanted: c[PieceState::NotWanted as usize],
            pieces_queued: c[PieceState::Queued as usize],
            pieces_downloading: c[PieceState::Downloading as usize],
            pieces_hashing: c[PieceState::Hashing as usize],
            pieces_have: c[PieceState::Have as usize],
            bytes_have: self.pieces.bytes_have,
            bytes_wanted_left: self.pieces.bytes_wanted_left,
            bytes_received: self.bytes_received,
            bytes_redundant: self.bytes_redundant,
            bytes_failed: self.bytes_failed,
            requests_in_flight: self.requests_in_flight,
            endgame: self.in_endgame(),
        }
    }

    /// Endgame: no wanted piece that some peer has is waiting to start, and every block of the
    /// pieces being downloaded is requested or received.
    pub fn in_endgame(&self) -> bool {
        let queued = self.pieces.counts[PieceState::Queued as usize] as usize;
        let available = if self.seeds > 0 {
            queued
        } else {
            queued - self.pieces.queued_unavailable()
        };
        available == 0 && self.pieces.free_blocks == 0 && self.pieces.wanted > 0
    }

    /// Next thing for the engine to do, if any (see [`PickerEvent`]).
    pub fn poll_event(&mut self) -> Option<PickerEvent<K>> {
        self.events.pop_front()
    }

    // ----- peers -----

    fn slot(&self, peer: K) -> Result<usize, PickerError> {
        self.slots
            .get(&peer)
            .copied()
            .ok_or(PickerError::UnknownPeer)
    }

    fn peer(&self, slot: usize) -> Option<&Peer<K>> {
        self.peers.get(slot).and_then(Option::as_ref)
    }

    fn peer_mut(&mut self, slot: usize) -> Option<&mut Peer<K>> {
        self.peers.get_mut(slot).and_then(Option::as_mut)
    }

    /// A new connection. It chokes us and has nothing until it says otherwise.
    pub fn add_peer(&mut self, peer: K) -> Result<(), PickerError> {
        if self.slots.contains_key(&peer) {
            return Err(PickerError::DuplicatePeer);
        }
        let state = Peer::new(peer, self.pieces.num_pieces());
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.peers[slot] = Some(state);
                slot
            }
            None => {
                self.peers.push(Some(state));
                self.peers.len() - 1
            }
        };
        self.slots.insert(peer, slot);
        Ok(())
    }

    /// Number of peers.
    pub fn num_peers(&self) -> usize {
        self.slots.len()
    }

    /// The peer's BEP 3 `bitfield` payload. Checks its length and spare bits.
    pub fn peer_bitfield(&mut self, peer: K, bitfield: &[u8]) -> Result<(), PickerError> {
        let slot = self.slot(peer)?;
        let n = self.pieces.num_pieces();
        let expected = (n as usize).div_ceil(8);
        if bitfield.len() != expected {
            return Err(PeerMisbehaved::BitfieldLength {
                got: bitfield.len(),
                expected,
            }
            .into());
        }
        if !n.is_multiple_of(8) && bitfield.last().is_some_and(|&b| b & (0xff >> (n % 8)) != 0) {
            return Err(PeerMisbehaved::BitfieldSpareBits.into());
        }
        self.announce(slot)?;
        let bits = Bitset::from_wire(n, bitfield);
        for piece in bits.ones() {
            self.add_have(slot, piece);
        }
        Ok(())
    }

    /// The peer sent BEP 6 `have all`.
    pub fn peer_have_all(&mut self, peer: K) -> Result<(), PickerError> {
        let slot = self.slot(peer)?;
        self.announce(slot)?;
        let wanted = self.pieces.wanted;
        if let Some(p) = self.peer_mut(slot) {
            p.seed = true;
        }
        self.seeds += 1;
        self.add_interest(slot, wanted);
        Ok(())
    }

    /// The peer sent BEP 6 `have none`.
    pub fn peer_have_none(&mut self, peer: K) -> Result<(), PickerError> {
        let slot = self.slot(peer)?;
        self.announce(slot)
    }

    fn announce(&mut self, slot: usize) -> Result<(), PickerError> {
        let p = self.peer_mut(slot).ok_or(PickerError::UnknownPeer)?;
        if p.announced {
            return Err(PeerMisbehaved::LateBitfield.into());
        }
        p.announced = true;
        Ok(())
    }

    /// The peer sent `have` for `piece` (repeats are harmless).
    pub fn peer_have(&mut self, peer: K, piece: u32) -> Result<(), PickerError> {
        let slot = self.slot(peer)?;
        self.check_peer_piece(piece)?;
        if let Some(p) = self.peer_mut(slot) {
            p.announced = true;
        }
        self.add_have(slot, piece);
        Ok(())
    }

    fn add_have(&mut self, slot: usize, piece: u32) {
        let Some(p) = self.peer_mut(slot) else { return };
        if p.seed || !p.have.set(piece) {
            return;
        }
        self.pieces.change_avail(piece, true);
        if self.pieces.is_wanted(piece) {
            self.add_interest(slot, 1);
        }
    }

    fn add_interest(&mut self, slot: usize, n: u32) {
        let Some(p) = self.peer_mut(slot) else { return };
        let before = p.interesting;
        p.interesting += n;
        if before == 0 && p.interesting > 0 {
            let peer = p.key;
            self.events.push_back(PickerEvent::Interest {
                peer,
                interested: true,
            });
        }
    }

    fn remove_interest(&mut self, slot: usize) {
        let Some(p) = self.peer_mut(slot) else { return };
        if p.interesting == 0 {
            return;
        }
        p.interesting -= 1;
        if p.interesting == 0 {
            let peer = p.key;
            self.events.push_back(PickerEvent::Interest {
                peer,
                interested: false,
            });
        }
    }

    /// Whether we want something `peer` has (what our `interested` message should say).
    pub fn is_interested(&self, peer: K) -> bool {
        self.slot(peer)
            .ok()
            .and_then(|s| self.peer(s))
            .is_some_and(|p| p.interesting > 0)
    }

    /// Whether `peer` is snubbed (let a request time out and has not delivered since).
    pub fn is_snubbed(&self, peer: K) -> bool {
        self.slot(peer)
            .ok()
            .and_then(|s| self.peer(s))
            .is_some_and(|p| p.snubbed)
    }

    /// The pipeline depth the picker aims for at `peer` (0 for an unknown peer).
    pub fn pipeline_depth(&self, peer: K) -> u32 {
        self.slot(peer)
            .ok()
            .and_then(|s| self.peer(s))
            .map_or(0, |p| p.pipeline_depth(self.config.target_queue_time))
    }

    /// The measured download rate from `peer`, bytes per second.
    pub fn peer_rate(&self, peer: K) -> u64 {
        self.slot(peer)
            .ok()
            .and_then(|s| self.peer(s))
            .map_or(0, |p| p.rate)
    }

    /// Requests in flight at `peer`.
    pub fn peer_requests(&self, peer: K) -> impl Iterator<Item = BlockRequest> + '_ {
        let slot = self.slot(peer).ok();
        slot.and_then(|s| self.peer(s)).into_iter().flat_map(|p| {
            p.active
                .iter()
                .map(|a| self.pieces.geo.request(a.piece, a.block))
        })
    }

    /// The peer's BEP 10 `reqq` (how many requests it queues); caps its pipeline.
    pub fn set_peer_reqq(&mut self, peer: K, reqq: u32) -> Result<(), PickerError> {
        let slot = self.slot(peer)?;
        if let Some(p) = self.peer_mut(slot) {
            p.reqq = reqq.max(1);
        }
        Ok(())
    }

    /// The peer sent BEP 6 `allowed fast` for `piece`: we may request it while choked. At most
    /// [`MAX_ALLOWED_FAST`] are kept.
    pub fn peer_allowed_fast(&mut self, peer: K, piece: u32) -> Result<(), PickerError> {
        let slot = self.slot(peer)?;
        self.check_peer_piece(piece)?;
        if let Some(p) = self.peer_mut(slot)
            && !p.is_allowed_fast(piece)
            && p.allowed_fast.len() < MAX_ALLOWED_FAST
        {
            p.allowed_fast.push(piece);
        }
        Ok(())
    }

    /// The peer unchoked us: call [`Picker::next_requests`] next.
    pub fn peer_unchoked(&mut self, peer: K) -> Result<(), PickerError> {
        let slot = self.slot(peer)?;
        if let Some(p) = self.peer_mut(slot) {
            p.choked = false;
        }
        Ok(())
    }

    /// The peer disconnected: its requests go back to the pool and its pieces stop counting.
    pub fn remove_peer(&mut self, peer: K) -> Result<(), PickerError> {
        let slot = self.slot(peer)?;
        self.release_all(slot, |_| false, events::Release::Silent);
        self.slots.remove(&peer);
        let Some(state) = self.peers.get_mut(slot).and_then(Option::take) else {
            return Ok(());
        };
        if state.seed {
            self.seeds -= 1;
        } else {
            for piece in state.have.ones() {
                self.pieces.change_avail(piece, false);
            }
        }
        self.free_slots.push(slot);
        Ok(())
    }

    /// Moves a piece to a new state/priority and updates peer interest: the only caller of
    /// `Pieces::transition`.
    fn move_piece(&mut self, piece: u32, state: PieceState, prio: u8) {
        let Some(now_wanted) = self.pieces.transition(piece, state, prio) else {
            return;
        };
        for slot in 0..self.peers.len() {
            if !self.peer(slot).is_some_and(|p| p.has(piece)) {
                continue;
            }
            if now_wanted {
                self.add_interest(slot, 1);
            } else {
                self.remove_interest(slot);
            }
        }
    }
}

/// SplitMix64: tiny, seedable, good enough for tie-breaks.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// A fixed instant for tests (only differences matter).
#[cfg(test)]
#[allow(clippy::disallowed_methods)]
pub(crate) fn test_epoch() -> std::time::Instant {
    use std::sync::OnceLock;
    use std::time::Instant;
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}
