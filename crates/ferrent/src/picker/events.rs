//! What peers send back (blocks, rejects, chokes), hash results, and timeouts.

use std::time::Instant;

use super::peer::Active;
use super::{
    BlockOutcome, BlockRequest, PeerKey, PeerMisbehaved, Picker, PickerError, PickerEvent,
    PieceState,
};

/// Why a request is released, which decides what is remembered and what is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Release {
    /// The peer is gone: nothing to remember or send.
    Silent,
    /// The peer choked us (it drops the requests itself, or rejects them under BEP 6): remember
    /// them so late answers are tolerated; send nothing.
    Choked,
    /// The block was rejected: avoid asking this peer again for a while.
    Rejected,
    /// We give the request up: send `cancel`, remember it (the answer may cross the cancel).
    Cancel,
    /// Timed out: as `Cancel`, and avoid asking this peer again for it.
    TimedOut,
}

impl<K: PeerKey> Picker<K> {
    /// A `piece` message from `peer` carrying `block` (its piece, offset and length), received at
    /// `now`. Errors are protocol violations (a block never requested from this peer).
    pub fn on_block(
        &mut self,
        peer: K,
        block: BlockRequest,
        now: Instant,
    ) -> Result<BlockOutcome, PickerError> {
        let slot = self.slot(peer)?;
        let unrequested = PeerMisbehaved::UnrequestedBlock {
            piece: block.piece,
            offset: block.offset,
            len: block.len,
        };
        let Some(b) = self.pieces.geo.block_of(block) else {
            return Err(unrequested.into());
        };
        let piece = block.piece;
        let p = self.peer_mut(slot).ok_or(PickerError::UnknownPeer)?;
        let from_active = match p
            .active
            .iter()
            .position(|a| a.piece == piece && a.block == b)
        {
            Some(i) => {
                p.active.remove(i);
                true
            }
            None if p.take_cancelled(piece, b) => false,
            None => return Err(unrequested.into()),
        };
        p.record_block(block.len, now);
        p.snubbed = false;
        p.excluded.clear();
        if from_active {
            self.requests_in_flight -= 1;
        }
        let len = u64::from(block.len);
        if self.pieces.state(piece) == Some(PieceState::Queued) {
            // A late answer (the request was cancelled or dropped by a choke, and the piece went
            // back to the queue): the data is still wanted, so restart the piece with it.
            let prio = self.pieces.prio(piece);
            self.move_piece(piece, PieceState::Downloading, prio);
        }
        if self.pieces.state(piece) != Some(PieceState::Downloading) {
            debug_assert!(!from_active, "active request for a piece not downloading");
            self.bytes_redundant += len;
            return Ok(BlockOutcome::Redundant);
        }
        let Some((before, complete)) = self.pieces.mark_received(piece, b, peer) else {
            debug_assert!(!from_active, "active request for a received block");
            self.bytes_redundant += len;
            return Ok(BlockOutcome::Redundant);
        };
        self.bytes_received += len;
        if before > u8::from(from_active) {
            self.cancel_others(slot, piece, b);
        }
        if complete {
            let prio = self.pieces.prio(piece);
            self.move_piece(piece, PieceState::Hashing, prio);
            Ok(BlockOutcome::PieceComplete)
        } else {
            Ok(BlockOutcome::Accepted)
        }
    }

    /// Block `b` of `piece` arrived from `except`: cancel it at every other peer.
    fn cancel_others(&mut self, except: usize, piece: u32, b: u32) {
        let request = self.pieces.geo.request(piece, b);
        for slot in 0..self.peers.len() {
            if slot == except {
                continue;
            }
            let Some(p) = self.peers.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            let Some(i) = p
                .active
                .iter()
                .position(|a| a.piece == piece && a.block == b)
            else {
                continue;
            };
            // The block is received: its requester count is gone with it, only the peer's list
            // and the in-flight counter change.
            p.active.remove(i);
            p.remember_cancelled(piece, b);
            self.requests_in_flight -= 1;
            self.events.push_back(PickerEvent::Cancel {
                peer: p.key,
                request,
            });
        }
    }

    /// A BEP 6 `reject` from `peer`. The block goes back to the pool and this peer is not asked
    /// for it again until it delivers something. A reject for a request never sent is an error.
    pub fn on_reject(&mut self, peer: K, block: BlockRequest) -> Result<(), PickerError> {
        let slot = self.slot(peer)?;
        let unrequested = PeerMisbehaved::UnrequestedReject {
            piece: block.piece,
            offset: block.offset,
            len: block.len,
        };
        let Some(b) = self.pieces.geo.block_of(block) else {
            return Err(unrequested.into());
        };
        let p = self.peer_mut(slot).ok_or(PickerError::UnknownPeer)?;
        if let Some(i) = p
            .active
            .iter()
            .position(|a| a.piece == block.piece && a.block == b)
        {
            if p.choked {
                // It will not serve this allowed-fast piece while choking us after all.
                p.allowed_fast.retain(|&f| f != block.piece);
            }
            self.release(slot, i, Release::Rejected);
            Ok(())
        } else if p.take_cancelled(block.piece, b) {
            Ok(())
        } else {
            Err(unrequested.into())
        }
    }

    /// The peer choked us: requests outside its allowed-fast set are dropped (a BEP 6 peer will
    /// `reject` them; those rejects are tolerated).
    pub fn peer_choked(&mut self, peer: K) -> Result<(), PickerError> {
        let slot = self.slot(peer)?;
        let Some(p) = self.peer_mut(slot) else {
            return Err(PickerError::UnknownPeer);
        };
        p.choked = true;
        let fast = std::mem::take(&mut p.allowed_fast);
        self.release_all(slot, |a| fast.contains(&a.piece), Release::Choked);
        if let Some(p) = self.peer_mut(slot) {
            p.allowed_fast = fast;
        }
        Ok(())
    }

    /// Releases every active request of `slot` for which `keep` is false.
    pub(crate) fn release_all(
        &mut self,
        slot: usize,
        keep: impl Fn(&Active) -> bool,
        how: Release,
    ) {
        let mut i = 0;
        while let Some(a) = self.peer(slot).and_then(|p| p.active.get(i)) {
            if keep(a) {
                i += 1;
            } else {
                self.release(slot, i, how);
            }
        }
    }

    /// Releases active request `i` of `slot`: the block is free again unless others requested it.
    fn release(&mut self, slot: usize, i: usize, how: Release) {
        let Some(p) = self.peers.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        if i >= p.active.len() {
            return;
        }
        let a = p.active.remove(i);
        self.requests_in_flight -= 1;
        match how {
            Release::Silent | Release::Rejected => {}
            Release::Choked | Release::Cancel | Release::TimedOut => {
                p.remember_cancelled(a.piece, a.block)
            }
        }
        if matches!(how, Release::Rejected | Release::TimedOut) {
            p.exclude(a.piece, a.block);
        }
        if matches!(how, Release::Cancel | Release::TimedOut) {
            let request = self.pieces.geo.request(a.piece, a.block);
            self.events.push_back(PickerEvent::Cancel {
                peer: p.key,
                request,
            });
        }
        if self.pieces.remove_requester(a.piece, a.block)
            && self.pieces.state(a.piece) == Some(PieceState::Downloading)
        {
            // Nothing requested or received any more: back to the rarest-first queue.
            let prio = self.pieces.prio(a.piece);
            self.move_piece(a.piece, PieceState::Queued, prio);
        }
    }

    /// Cancels every active request for `piece`, at every peer.
    pub(crate) fn cancel_piece_requests(&mut self, piece: u32) {
        for slot in 0..self.peers.len() {
            self.release_all(slot, |a| a.piece != piece, Release::Cancel);
        }
    }

    /// The piece reported by `PieceComplete` passed its hash check: it is ours.
    pub fn on_piece_verified(&mut self, piece: u32) -> Result<(), PickerError> {
        self.check_piece(piece)?;
        if self.pieces.state(piece) != Some(PieceState::Hashing) {
            return Err(PickerError::NotHashing { piece });
        }
        let prio = self.pieces.prio(piece);
        self.move_piece(piece, PieceState::Have, prio);
        Ok(())
    }

    /// The piece reported by `PieceComplete` failed its hash check: it is downloaded again, and
    /// the peers whose blocks it held are returned (each once) for smart ban.
    pub fn on_piece_failed(&mut self, piece: u32) -> Result<Vec<K>, PickerError> {
        self.check_piece(piece)?;
        if self.pieces.state(piece) != Some(PieceState::Hashing) {
            return Err(PickerError::NotHashing { piece });
        }
        let contributors = self
            .pieces
            .partial(piece)
            .map(|p| p.contributors.clone())
            .unwrap_or_default();
        self.bytes_failed += u64::from(self.pieces.geo.piece_len(piece));
        let prio = self.pieces.prio(piece);
        let state = if prio > 0 {
            PieceState::Queued
        } else {
            PieceState::NotWanted
        };
        self.move_piece(piece, state, prio);
        Ok(contributors)
    }

    /// When [`Picker::handle_timeout`] should next be called (the oldest request's deadline).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.peers
            .iter()
            .flatten()
            .filter_map(|p| p.active.first())
            .map(|a| a.sent + self.config.request_timeout)
            .min()
    }

    /// Times out every request older than the request timeout: it is cancelled at its peer
    /// (`Cancel` event), given back to the pool for other peers, and the peer is snubbed
    /// (`Snubbed` event; pipeline 1 until it delivers). Then call `next_requests` for each peer.
    pub fn handle_timeout(&mut self, now: Instant) {
        let timeout = self.config.request_timeout;
        for slot in 0..self.peers.len() {
            let mut timed_out = false;
            while let Some(a) = self.peer(slot).and_then(|p| p.active.first()) {
                if a.sent + timeout > now {
                    break;
                }
                self.release(slot, 0, Release::TimedOut);
                timed_out = true;
            }
            if timed_out && let Some(p) = self.peer_mut(slot) {
                p.end_slow_start();
                if !p.snubbed {
                    p.snubbed = true;
                    let peer = p.key;
                    self.events.push_back(PickerEvent::Snubbed { peer });
                }
            }
        }
    }
}
