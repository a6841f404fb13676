//! A full recount of the choker's invariants (see "States and invariants" on
//! [`Choker`](super::Choker)), for tests and debug assertions in the engine.

use super::peer::Slot;
use super::{Choker, ChokerEvent, PeerKey};

impl<K: PeerKey> Choker<K> {
    /// Checks every invariant written on [`Choker`] by recounting; `Err` names the first broken
    /// one. Costs O(peers); meant for tests.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut regular = 0u32;
        let mut optimistic = None;
        let mut live = 0usize;
        for (i, p) in self.peers.iter().enumerate() {
            let Some(p) = p else {
                if !self.free.contains(&i) {
                    return Err(format!("empty slab entry {i} not in the free list"));
                }
                continue;
            };
            live += 1;
            if self.index.get(&p.key) != Some(&i) {
                return Err(format!("peer {:?} at {i} not indexed there", p.key));
            }
            match p.slot {
                Slot::Regular { .. } => regular += 1,
                Slot::Optimistic { .. } => {
                    if optimistic.replace(i).is_some() {
                        return Err("two optimistic peers".into());
                    }
                }
                Slot::Choked { .. } => {}
            }
            if !p.is_choked() && !p.eligible() {
                return Err(format!("peer {:?} unchoked but not eligible", p.key));
            }
        }
        if live != self.index.len() {
            return Err(format!(
                "{live} peers in the slab, {} indexed",
                self.index.len()
            ));
        }
        if regular != self.regular {
            return Err(format!("{regular} regular peers, counted {}", self.regular));
        }
        if optimistic != self.optimistic {
            return Err(format!(
                "optimistic {optimistic:?}, recorded {:?}",
                self.optimistic
            ));
        }
        let waiting = |regular_only: bool| {
            self.peers.iter().flatten().any(|p| {
                p.is_choked()
                    && if regular_only {
                        p.eligible_regular(self.mode)
                    } else {
                        p.eligible()
                    }
            })
        };
        match self.config.regular_slots {
            None => {
                if optimistic.is_some() {
                    return Err("optimistic slot used in unlimited mode".into());
                }
                if waiting(false) {
                    return Err("eligible peer choked in unlimited mode".into());
                }
            }
            Some(slots) => {
                if regular > slots {
                    return Err(format!("{regular} regular peers for {slots} slots"));
                }
                if regular < slots && waiting(true) {
                    return Err("a regular slot is free while a peer waits for it".into());
                }
                if optimistic.is_none() && waiting(false) {
                    return Err("the optimistic slot is empty while a peer waits".into());
                }
            }
        }
        // Queued events: at most one per peer, each leading to the current state.
        for (n, e) in self.events.iter().enumerate() {
            let key = e.peer();
            if self.events.iter().skip(n + 1).any(|o| o.peer() == key) {
                return Err(format!("two events queued for {key:?}"));
            }
            let unchoked = self.is_unchoked(key);
            if matches!(e, ChokerEvent::Unchoke(_)) != unchoked {
                return Err(format!("queued {e:?} disagrees with the slot"));
            }
        }
        Ok(())
    }
}
