//! A full recount of the picker's state against its incremental bookkeeping (tests and debugging).

use std::collections::HashSet;

use super::pieces::{PieceState, RECEIVED};
use super::{PeerKey, Picker};

impl<K: PeerKey> Picker<K> {
    /// Recounts everything and compares it with the incremental state; describes the first
    /// difference. O(pieces x peers + blocks): for tests and debug builds, not the hot path.
    pub fn check_invariants(&self) -> Result<(), String> {
        let pc = &self.pieces;
        let n = pc.num_pieces();
        let peers: Vec<_> = self.peers.iter().flatten().collect();
        let mut counts = [0u32; 5];
        let (mut bytes_have, mut bytes_wanted, mut wanted, mut free_blocks) =
            (0u64, 0u64, 0u32, 0u64);
        for piece in 0..n {
            let state = pc.state(piece).ok_or("state table too short")?;
            let prio = pc.prio(piece);
            let len = u64::from(pc.geo.piece_len(piece));
            counts[state as usize] += 1;
            if (state == PieceState::Have) != pc.have.get(piece) {
                return Err(format!(
                    "piece {piece}: have bit disagrees with state {state:?}"
                ));
            }
            if state == PieceState::Have {
                bytes_have += len;
            } else if prio > 0 {
                bytes_wanted += len;
                wanted += 1;
            }
            match state {
                PieceState::NotWanted if prio != 0 => {
                    return Err(format!("piece {piece}: NotWanted with priority {prio}"));
                }
                PieceState::Queued | PieceState::Downloading if prio == 0 => {
                    return Err(format!("piece {piece}: {state:?} with priority 0"));
                }
                _ => {}
            }
            // Queue membership.
            let avail = pc.avail[piece as usize] as usize;
            let in_queue = pc.queue_pos(piece).is_some_and(|pos| {
                pc.queue
                    .get(prio as usize)
                    .and_then(|l| l.get(avail))
                    .and_then(|b| b.get(pos))
                    == Some(&piece)
            });
            if in_queue != (state == PieceState::Queued) {
                return Err(format!(
                    "piece {piece}: in queue {in_queue} but state {state:?}"
                ));
            }
            // Availability.
            let real = peers
                .iter()
                .filter(|p| !p.seed && p.have.get(piece))
                .count();
            if real != avail {
                return Err(format!(
                    "piece {piece}: availability {avail}, recount {real}"
                ));
            }
            // Block map.
            let partial = pc.partial(piece);
            let has_map = matches!(state, PieceState::Downloading | PieceState::Hashing);
            if partial.is_some() != has_map {
                return Err(format!(
                    "piece {piece}: block map presence wrong for {state:?}"
                ));
            }
            if (state == PieceState::Downloading) != pc.downloading.contains(&piece) {
                return Err(format!(
                    "piece {piece}: downloading list disagrees with {state:?}"
                ));
            }
            let Some(partial) = partial else { continue };
            if partial.blocks.len() as u32 != pc.geo.blocks_in_piece(piece) {
                return Err(format!("piece {piece}: block map of wrong size"));
            }
            let (mut free, mut received, mut requested) = (0u32, 0u32, 0u32);
            for (b, &v) in partial.blocks.iter().enumerate() {
                let b = b as u32;
                let active = peers.iter().filter(|p| p.is_active(piece, b)).count() as u32;
                match v {
                    0 => free += 1,
                    RECEIVED => received += 1,
                    k => {
                        requested += 1;
                        if u32::from(k) > u32::from(self.config.endgame_max_requesters.max(1)) {
                            return Err(format!("piece {piece} block {b}: {k} requesters"));
                        }
                    }
                }
                let expected = if v == RECEIVED { 0 } else { u32::from(v) };
                if active != expected {
                    return Err(format!(
                        "piece {piece} block {b}: map says {v}, {active} active"
                    ));
                }
            }
            if free != partial.free || received != partial.received {
                return Err(format!("piece {piece}: free/received counts wrong"));
            }
            match state {
                PieceState::Downloading => {
                    free_blocks += u64::from(free);
                    if received == partial.blocks.len() as u32 {
                        return Err(format!("piece {piece}: Downloading but complete"));
                    }
                    if received == partial.pad && requested == 0 {
                        return Err(format!("piece {piece}: Downloading with no progress"));
                    }
                }
                _ => {
                    if received != partial.blocks.len() as u32 {
                        return Err(format!("piece {piece}: Hashing but incomplete"));
                    }
                }
            }
        }
        if counts != pc.counts {
            return Err(format!("state counts {:?}, recount {counts:?}", pc.counts));
        }
        if bytes_have != pc.bytes_have
            || bytes_wanted != pc.bytes_wanted_left
            || wanted != pc.wanted
        {
            return Err("byte or wanted counters disagree with a recount".into());
        }
        if free_blocks != pc.free_blocks {
            return Err(format!(
                "free blocks {}, recount {free_blocks}",
                pc.free_blocks
            ));
        }
        // Peers.
        let seeds = peers.iter().filter(|p| p.seed).count() as u32;
        if seeds != self.seeds {
            return Err(format!("seeds {}, recount {seeds}", self.seeds));
        }
        if self.slots.len() != peers.len() {
            return Err("slot map and peer table disagree".into());
        }
        let mut in_flight = 0u32;
        for p in &peers {
            if self
                .slots
                .get(&p.key)
                .and_then(|&s| self.peer(s))
                .map(|q| q.key)
                != Some(p.key)
            {
                return Err(format!("peer {:?}: slot map wrong", p.key));
            }
            let mut seen = HashSet::new();
            for a in &p.active {
                if !seen.insert((a.piece, a.block)) {
                    return Err(format!("peer {:?}: block {a:?} requested twice", p.key));
                }
                if pc.state(a.piece) != Some(PieceState::Downloading) {
                    return Err(format!(
                        "peer {:?}: request for a piece not downloading",
                        p.key
                    ));
                }
                if !p.has(a.piece) {
                    return Err(format!("peer {:?}: request for a piece it lacks", p.key));
                }
                if p.choked && !p.is_allowed_fast(a.piece) {
                    return Err(format!(
                        "peer {:?}: choked, request not allowed fast",
                        p.key
                    ));
                }
            }
            in_flight += p.active.len() as u32;
            let interesting = (0..n).filter(|&i| p.has(i) && pc.is_wanted(i)).count() as u32;
            if interesting != p.interesting {
                return Err(format!(
                    "peer {:?}: interesting {}, recount {interesting}",
                    p.key, p.interesting
                ));
            }
            if p.active.len() > super::MAX_PIPELINE as usize
                || p.cancelled.len() > super::MAX_CANCELLED_REMEMBERED
                || p.excluded.len() > super::MAX_EXCLUDED
                || p.allowed_fast.len() > super::MAX_ALLOWED_FAST
            {
                return Err(format!("peer {:?}: a bounded list overflowed", p.key));
            }
        }
        if in_flight != self.requests_in_flight {
            return Err(format!(
                "in flight {}, recount {in_flight}",
                self.requests_in_flight
            ));
        }
        Ok(())
    }
}
