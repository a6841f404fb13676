//! [`MetadataFetch`]: which `ut_metadata` piece (BEP 9) to ask which peer for, and what to do
//! when a peer rejects, stalls, leaves or lies. Sans-I/O: the driver in [`super`] feeds it peer
//! events and the time, sends the [`FetchAction`]s it returns, and calls [`MetadataFetch::tick`]
//! at [`MetadataFetch::next_deadline`]. Tests script peers and jump a fake clock
//! (`fetch_tests.rs`).
//!
//! Rules, in the order they apply:
//! - a peer's `metadata_size` is checked against [`MAX_FETCH_METADATA_SIZE`] before anything is
//!   allocated for it; a peer that gives none or too much is dropped;
//! - the fetch works on one size at a time (the first usable peer's); peers that announce
//!   another size wait, and are used only if every peer of the current size is gone;
//! - each usable peer has up to [`PIPELINE`] pieces outstanding, so the pieces spread over the
//!   peers; a request unanswered after [`REQUEST_TIMEOUT`] goes to another peer, and a peer
//!   that times out [`MAX_TIMEOUTS`] times is dropped;
//! - a `reject` puts the peer aside for [`REJECT_BACKOFF`]; after [`MAX_REJECTS`] it is dropped;
//! - the assembled bytes must hash (SHA-1) to the info-hash. If they do not and one peer sent
//!   every piece, that peer is dropped as a liar. If several did, the SHA-1 of each piece and its
//!   sender are kept, and everything is fetched again from a single peer: when that copy is
//!   right, the senders whose pieces differ from it are the liars; when it is wrong, the single
//!   peer is. After [`MAX_HASH_FAILURES`] failed copies the fetch gives up.
#![deny(clippy::disallowed_methods)]

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrent_core::Id20;
use ferrent_proto::wire::{MAX_METADATA_SIZE, metadata_piece_count, metadata_piece_len};
use sha1::{Digest, Sha1};

/// Largest `metadata_size` we fetch: 30 MiB. It is [`ferrent_core::MAX_INFO_SIZE`], the largest
/// info dictionary the metainfo parser accepts (libtorrent's default `max_metadata_size`; rqbit
/// allows 32 MiB, aria2 8 MiB), so nothing we fetch is refused afterwards; and never more than
/// the wire codec's [`MAX_METADATA_SIZE`] (32 MiB).
pub const MAX_FETCH_METADATA_SIZE: u32 = {
    let core = ferrent_core::MAX_INFO_SIZE as u32;
    if core < MAX_METADATA_SIZE {
        core
    } else {
        MAX_METADATA_SIZE
    }
};

/// Pieces outstanding per peer. Two keep a peer busy across one round trip; more would only
/// pile requests on one peer that could go to another.
pub const PIPELINE: usize = 2;

/// How long a peer may take to answer one request before the piece goes to another peer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Request timeouts after which a peer is dropped.
pub const MAX_TIMEOUTS: u32 = 2;

/// How long a peer that rejected a request is not asked again.
pub const REJECT_BACKOFF: Duration = Duration::from_secs(5);

/// Rejects after which a peer is dropped.
pub const MAX_REJECTS: u32 = 3;

/// Copies of the metadata that may fail the info-hash before the fetch gives up: bounds the
/// work a swarm of liars can cause.
pub const MAX_HASH_FAILURES: u32 = 6;

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAction<P> {
    /// Send `ut_metadata` request for `piece` to `peer`.
    Request {
        /// The peer.
        peer: P,
        /// The metadata piece (16 KiB unit).
        piece: u32,
    },
    /// Close the connection to `peer`; do not use it again for this torrent.
    Drop {
        /// The peer.
        peer: P,
        /// Why, for logs and the final error.
        reason: String,
        /// It sent bytes that failed the info-hash: keep it out of the download too.
        liar: bool,
    },
}

#[derive(Debug)]
struct PeerState {
    size: u32,
    /// Pieces asked of this peer and when each request times out.
    outstanding: Vec<(u32, Instant)>,
    backoff_until: Option<Instant>,
    rejects: u32,
    timeouts: u32,
}

#[derive(Debug, Clone)]
enum Slot<P> {
    Missing,
    Requested,
    Have(Bytes, P),
}

/// The copy being assembled.
#[derive(Debug)]
struct Target<P> {
    size: u32,
    slots: Vec<Slot<P>>,
    /// Single-source mode (after a mixed copy failed): only this peer is asked.
    single: Option<P>,
    single_mode: bool,
    /// From the failed mixed copy: each piece's sender and the SHA-1 of what it sent.
    suspects: Vec<(P, [u8; 20])>,
}

/// BEP 9 fetch state for one info-hash: see the module doc for the rules.
#[derive(Debug)]
pub struct MetadataFetch<P: Ord + Copy> {
    info_hash: Id20,
    max_size: u32,
    peers: BTreeMap<P, PeerState>,
    target: Option<Target<P>>,
    hash_failures: u32,
    actions: VecDeque<FetchAction<P>>,
    result: Option<Result<Vec<u8>, String>>,
}

impl<P: Ord + Copy + std::fmt::Debug> MetadataFetch<P> {
    /// A fetch for `info_hash`, with sizes capped at `max_size` (at most
    /// [`MAX_FETCH_METADATA_SIZE`]; tests use less).
    pub fn new(info_hash: Id20, max_size: u32) -> Self {
        MetadataFetch {
            info_hash,
            max_size: max_size.min(MAX_FETCH_METADATA_SIZE),
            peers: BTreeMap::new(),
            target: None,
            hash_failures: 0,
            actions: VecDeque::new(),
            result: None,
        }
    }

    /// A peer finished its extension handshake (BEP 10) and offers `ut_metadata` with this
    /// `metadata_size` (unchecked, as it came).
    pub fn add_peer(&mut self, peer: P, metadata_size: Option<u64>, now: Instant) {
        if self.result.is_some() || self.peers.contains_key(&peer) {
            return;
        }
        let size = match metadata_size {
            None => return self.drop_peer(peer, "did not say the metadata size".into(), false),
            Some(s) => match u32::try_from(s) {
                Ok(s) if s > 0 && s <= self.max_size => s,
                _ => {
                    let reason = format!(
                        "announces {s} bytes of metadata, outside 1..={}",
                        self.max_size
                    );
                    return self.drop_peer(peer, reason, false);
                }
            },
        };
        self.peers.insert(
            peer,
            PeerState {
                size,
                outstanding: Vec::new(),
                backoff_until: None,
                rejects: 0,
                timeouts: 0,
            },
        );
        self.schedule(now);
    }

    /// `peer` sent piece `piece` of metadata it says is `total_size` bytes.
    pub fn on_data(&mut self, peer: P, piece: u32, total_size: u32, data: Bytes, now: Instant) {
        if self.result.is_some() {
            return;
        }
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        if total_size != state.size {
            let reason = format!(
                "sent total_size {total_size} after announcing {}",
                state.size
            );
            self.drop_peer(peer, reason, false);
            return self.schedule(now);
        }
        let asked = state.outstanding.iter().any(|&(p, _)| p == piece);
        state.outstanding.retain(|&(p, _)| p != piece);
        let Some(target) = self.target.as_mut() else {
            return;
        };
        let from_single = !target.single_mode || target.single == Some(peer);
        if target.size == total_size && from_single && asked {
            let want = metadata_piece_len(piece, total_size).map(|l| l as usize);
            if want != Some(data.len()) {
                let reason = format!("sent {} bytes for metadata piece {piece}", data.len());
                self.drop_peer(peer, reason, false);
                return self.schedule(now);
            }
            if let Some(slot) = target.slots.get_mut(piece as usize)
                && !matches!(slot, Slot::Have(..))
            {
                *slot = Slot::Have(data, peer);
            }
            if target.slots.iter().all(|s| matches!(s, Slot::Have(..))) {
                self.finish();
            }
        }
        self.schedule(now);
    }

    /// `peer` rejected the request for `piece`.
    pub fn on_reject(&mut self, peer: P, piece: u32, now: Instant) {
        if self.result.is_some() {
            return;
        }
        let Some(state) = self.peers.get_mut(&peer) else {
            return;
        };
        state.outstanding.retain(|&(p, _)| p != piece);
        state.rejects += 1;
        if state.rejects >= MAX_REJECTS {
            let reason = format!("rejected {} metadata requests", state.rejects);
            self.drop_peer(peer, reason, false);
        } else {
            state.backoff_until = Some(now + REJECT_BACKOFF);
            self.release(piece);
        }
        self.schedule(now);
    }

    /// The connection to `peer` closed (or never opened).
    pub fn peer_gone(&mut self, peer: P, now: Instant) {
        if let Some(state) = self.peers.remove(&peer) {
            for (piece, _) in state.outstanding {
                self.release(piece);
            }
        }
        self.schedule(now);
    }

    /// Handles request timeouts and ended back-offs. Call at [`Self::next_deadline`].
    pub fn tick(&mut self, now: Instant) {
        if self.result.is_some() {
            return;
        }
        let mut expired = Vec::new();
        let mut dropped = Vec::new();
        for (&peer, state) in &mut self.peers {
            let before = state.outstanding.len();
            state.outstanding.retain(|&(piece, deadline)| {
                let late = deadline <= now;
                if late {
                    expired.push(piece);
                }
                !late
            });
            if state.outstanding.len() < before {
                state.timeouts += 1;
                if state.timeouts >= MAX_TIMEOUTS {
                    dropped.push((peer, state.timeouts));
                }
            }
        }
        for piece in expired {
            self.release(piece);
        }
        for (peer, n) in dropped {
            self.drop_peer(peer, format!("let {n} metadata requests time out"), false);
        }
        self.schedule(now);
    }

    /// When [`Self::tick`] must next be called, if anything waits on the clock.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.peers
            .values()
            .flat_map(|s| s.outstanding.iter().map(|&(_, d)| d).chain(s.backoff_until))
            .min()
    }

    /// The next action for the driver.
    pub fn poll_action(&mut self) -> Option<FetchAction<P>> {
        self.actions.pop_front()
    }

    /// The outcome once there is one: the info dictionary (its SHA-1 is the info-hash), or why
    /// the fetch gave up.
    pub fn result(&self) -> Option<&Result<Vec<u8>, String>> {
        self.result.as_ref()
    }

    /// Takes the outcome (see [`Self::result`]).
    pub fn take_result(&mut self) -> Option<Result<Vec<u8>, String>> {
        self.result.take()
    }

    /// Whether `peer` is (or, once its back-off ends, will be) asked for pieces: known, and
    /// announcing the size being fetched. The driver opens new connections while fewer than
    /// it wants are useful.
    pub fn is_useful(&self, peer: P) -> bool {
        self.peers.get(&peer).is_some_and(|s| {
            self.target.as_ref().is_none_or(|t| {
                t.size == s.size && (!t.single_mode || t.single.is_none_or(|x| x == peer))
            })
        })
    }

    /// Pieces received of the copy being assembled, and how many it has (0 of 0 while no size
    /// is known).
    pub fn progress(&self) -> (u32, u32) {
        self.target.as_ref().map_or((0, 0), |t| {
            let have = t
                .slots
                .iter()
                .filter(|s| matches!(s, Slot::Have(..)))
                .count();
            (have as u32, t.slots.len() as u32)
        })
    }

    /// Copies that failed the info-hash so far.
    pub fn hash_failures(&self) -> u32 {
        self.hash_failures
    }

    fn release(&mut self, piece: u32) {
        if let Some(t) = self.target.as_mut()
            && let Some(slot) = t.slots.get_mut(piece as usize)
            && matches!(slot, Slot::Requested)
        {
            *slot = Slot::Missing;
        }
    }

    fn drop_peer(&mut self, peer: P, reason: String, liar: bool) {
        if let Some(state) = self.peers.remove(&peer) {
            for (piece, _) in state.outstanding {
                self.release(piece);
            }
        }
        self.actions
            .push_back(FetchAction::Drop { peer, reason, liar });
    }

    /// Every piece is here: keep the copy if its SHA-1 is the info-hash, else find the liar.
    fn finish(&mut self) {
        let Some(target) = self.target.as_mut() else {
            return;
        };
        let mut info = Vec::with_capacity(target.size as usize);
        let mut senders: Vec<P> = Vec::new();
        for slot in &target.slots {
            if let Slot::Have(data, from) = slot {
                info.extend_from_slice(data);
                if !senders.contains(from) {
                    senders.push(*from);
                }
            }
        }
        if Id20(Sha1::digest(&info).into()) == self.info_hash {
            // Senders in the failed mixed copy whose piece differs from the right one lied.
            let mut liars = Vec::new();
            for (slot, (from, sha)) in target.slots.iter().zip(&target.suspects) {
                if let Slot::Have(data, _) = slot
                    && <[u8; 20]>::from(Sha1::digest(data)) != *sha
                    && !liars.contains(from)
                {
                    liars.push(*from);
                }
            }
            for peer in liars {
                self.drop_peer(
                    peer,
                    "sent metadata pieces that failed the info-hash".into(),
                    true,
                );
            }
            self.result = Some(Ok(info));
            return;
        }
        drop(info);
        self.hash_failures += 1;
        let mixed = senders.len() > 1;
        if let [only] = senders[..] {
            self.drop_peer(only, "sent metadata that fails the info-hash".into(), true);
        } else if target.suspects.is_empty() {
            target.suspects = target
                .slots
                .iter()
                .filter_map(|s| match s {
                    Slot::Have(data, from) => Some((*from, Sha1::digest(data).into())),
                    _ => None,
                })
                .collect();
        }
        if let Some(t) = self.target.as_mut() {
            t.single_mode |= mixed;
            t.single = None;
            t.slots.iter_mut().for_each(|s| *s = Slot::Missing);
        }
        if self.hash_failures >= MAX_HASH_FAILURES {
            self.result = Some(Err(format!(
                "{} copies of the metadata failed the info-hash",
                self.hash_failures
            )));
        }
    }

    /// Picks the size to fetch if needed, then hands missing pieces to peers with room.
    fn schedule(&mut self, now: Instant) {
        if self.result.is_some() {
            return;
        }
        for s in self.peers.values_mut() {
            if s.backoff_until.is_some_and(|b| b <= now) {
                s.backoff_until = None;
            }
        }
        let target_ok = self
            .target
            .as_ref()
            .is_some_and(|t| self.peers.values().any(|s| s.size == t.size));
        if !target_ok {
            // The size most peers announce (the smallest on a tie), allocated only now that it
            // is known to be within the cap.
            let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
            for s in self.peers.values() {
                *counts.entry(s.size).or_default() += 1;
            }
            let best = counts
                .iter()
                .max_by_key(|&(size, n)| (*n, std::cmp::Reverse(*size)));
            let Some((&size, _)) = best else {
                return;
            };
            // A new size: the old one's suspects do not apply.
            let count = metadata_piece_count(size) as usize;
            self.target = Some(Target {
                size,
                slots: vec![Slot::Missing; count],
                single: None,
                single_mode: false,
                suspects: Vec::new(),
            });
        }
        let Some(target) = self.target.as_mut() else {
            return;
        };
        if target.single_mode && target.single.is_none_or(|p| !self.peers.contains_key(&p)) {
            // A new single source: start its copy from nothing, prefer a peer not backing off.
            let pick = self
                .peers
                .iter()
                .filter(|(_, s)| s.size == target.size)
                .min_by_key(|(_, s)| s.backoff_until.is_some())
                .map(|(p, _)| *p);
            target.single = pick;
            for slot in &mut target.slots {
                if !matches!(slot, Slot::Missing) {
                    *slot = Slot::Missing;
                }
            }
            for s in self.peers.values_mut() {
                s.outstanding.clear();
            }
        }
        for (index, slot) in target.slots.iter_mut().enumerate() {
            if !matches!(slot, Slot::Missing) {
                continue;
            }
            let best = self
                .peers
                .iter_mut()
                .filter(|(p, s)| {
                    s.size == target.size
                        && s.backoff_until.is_none()
                        && s.outstanding.len() < PIPELINE
                        && (!target.single_mode || target.single == Some(**p))
                })
                .min_by_key(|(_, s)| s.outstanding.len());
            let Some((&peer, state)) = best else {
                break;
            };
            let piece = index as u32;
            state.outstanding.push((piece, now + REQUEST_TIMEOUT));
            *slot = Slot::Requested;
            self.actions.push_back(FetchAction::Request { peer, piece });
        }
    }
}
