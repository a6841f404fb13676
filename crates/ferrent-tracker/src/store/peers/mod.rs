//! The peers of one address family in one shard of the store: every swarm's peers in one
//! vector (a pool), each swarm owning a range of it.
//!
//! A peer is its compact address (BEP 23: 4-byte IPv4 + port, 6 bytes; BEP 7: 18 bytes for
//! IPv6) followed by two bytes of metadata: the seed flag and the time it last announced, in
//! ticks of the store's clock modulo 2^15. An IPv4 peer is 8 bytes and nothing else is kept per
//! peer. A swarm's peers sit in its [`Range`] of the [`Pool`] (a start, a length and a
//! capacity: 12 bytes in the swarm's entry), sorted by address and found by binary search.
//!
//! Why a pool and not a `Vec` per swarm: a `Vec` doubles, so right after growing it is half
//! empty (100 peers in 128 slots: 10.4 bytes per peer), and every swarm pays a heap chunk's
//! header and the holes that reallocating many small vectors leaves in the heap. In the pool a
//! full range grows by a sixteenth (3% spare room on average) by moving to the end of the
//! pool, or by a 64th in place when it is already last or large (below). The slots a move
//! leaves behind are dead until [`Pool::compact`] slides the ranges down over them, which the
//! store does once dead slots pass a 32nd of the owned ones. A range larger than that share would leave too many dead
//! slots (and need its memory twice while moving), so it grows in place instead
//! ([`Pool::grow_in_place`]: the slots after it shift up and the ranges there get new starts).
//! Memory stays within about 5% of the live peers whatever the order of announces, with no
//! per-swarm allocation. The pool's vector is reserved at 128 KiB from the start, so glibc maps
//! it on its own: its pages cost memory only once written, and it grows in place (`mremap`).
//!
//! Costs: finding a peer is O(log n); adding or removing one moves the entries after it in its
//! range (at most 800 KB at the cap of 100,000 IPv4 peers, tens of microseconds, and nothing
//! for small swarms). Growing a range copies it (amortized 16 slots per insert); a compaction
//! or a growth in place moves the pool once per so many inserts that it amortizes to a few
//! hundred slots per insert. Re-announces of known peers move nothing. Sampling is O(k) for
//! k peers.

use rand::Rng;
use rand::rngs::SmallRng;

/// Bit of [`Peer::meta`] set for a seed.
const SEED: u16 = 0x8000;
/// Bits of [`Peer::meta`] holding the last-announce tick.
pub(crate) const TICK_MASK: u16 = 0x7fff;

/// Bytes reserved for a pool when its first range is made: glibc's threshold for mapping a
/// chunk on its own (`M_MMAP_THRESHOLD`, 128 KiB), so that only written pages count and the
/// vector grows without copying.
const POOL_RESERVE_BYTES: usize = 128 * 1024;

/// Dead slots a pool tolerates on top of [`DEAD_SHARE`] of its owned ones before it is
/// compacted: keeps small pools from compacting at every move.
const DEAD_SLACK: usize = 64;

/// A pool is compacted once its dead slots pass this share (1/N) of its owned slots (plus
/// [`DEAD_SLACK`]); a range of more than this share grows in place instead of moving.
const DEAD_SHARE: usize = 32;

/// A compact peer address: `[u8; 6]` (IPv4) or `[u8; 18]` (IPv6), ordered bytewise.
pub(crate) trait CompactAddr: Copy + Ord + Default {
    /// The address bytes as sent in a compact peer list.
    fn bytes(&self) -> &[u8];
}

impl CompactAddr for [u8; 6] {
    fn bytes(&self) -> &[u8] {
        self
    }
}

impl CompactAddr for [u8; 18] {
    fn bytes(&self) -> &[u8] {
        self
    }
}

/// One stored peer: 8 bytes for IPv4, 20 for IPv6 (alignment 2).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Peer<A> {
    pub(crate) addr: A,
    /// [`SEED`] | last-announce tick.
    meta: u16,
}

impl<A> Peer<A> {
    pub(crate) fn is_seed(&self) -> bool {
        self.meta & SEED != 0
    }

    fn tick(&self) -> u16 {
        self.meta & TICK_MASK
    }
}

fn meta(seed: bool, tick: u16) -> u16 {
    (tick & TICK_MASK) | if seed { SEED } else { 0 }
}

/// Ticks from `then` to `now` on the 15-bit wrapping clock.
pub(crate) fn age(now: u16, then: u16) -> u16 {
    now.wrapping_sub(then) & TICK_MASK
}

/// The result of [`Pool::upsert`].
pub(crate) enum Upsert {
    /// An existing peer was refreshed; whether it was a seed before.
    Updated { was_seed: bool },
    /// A new peer was stored.
    Inserted,
    /// A new peer was not stored: the swarm (or the store) is full.
    Full,
    /// A new peer was not stored: the range is full and too large to move; call
    /// [`Pool::grow_in_place`] and try again.
    Crowded,
}

/// Where one swarm's peers of one family are in their [`Pool`]: `len` peers sorted by
/// address from `start`, in room for `cap` (the slots past `len` are this swarm's spare room).
/// An empty range owns nothing (all zero).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Range {
    start: u32,
    len: u32,
    cap: u32,
}

impl Range {
    /// Peers in the range.
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }
}

/// Room for `len` peers and a few more when a range moves: a sixteenth, at least two. Each
/// move leaves the old slots dead, so a larger step means fewer moves and compactions.
fn grown(len: usize) -> usize {
    len + 2 + len / 16
}

/// Room for `len` peers and a few more when a range grows where it is (no dead slots, only a
/// shift of what follows): a 64th, at least two.
fn grown_in_place(len: usize) -> usize {
    len + 2 + len / 64
}

/// Whether a range of `len` peers in `cap` slots has so much spare room that it should give
/// some back (hysteresis: a swarm whose peers come and go does not move at every change).
fn too_roomy(len: usize, cap: usize) -> bool {
    cap > len + len / 4 + 4
}

/// The peers of one address family of all swarms of one shard. Invariant: the ranges of the
/// swarms do not overlap, lie within `slots`, and their capacities sum to `owned`; the other
/// slots are dead.
#[derive(Debug)]
pub(crate) struct Pool<A> {
    slots: Vec<Peer<A>>,
    owned: usize,
}

impl<A> Default for Pool<A> {
    fn default() -> Self {
        Pool {
            slots: Vec::new(),
            owned: 0,
        }
    }
}

impl<A: CompactAddr> Pool<A> {
    /// The peers of `r`, sorted by address.
    pub(crate) fn peers(&self, r: &Range) -> &[Peer<A>] {
        let s = r.start as usize;
        self.slots.get(s..s + r.len()).unwrap_or_default()
    }

    fn peers_mut(&mut self, r: &Range) -> &mut [Peer<A>] {
        let s = r.start as usize;
        self.slots.get_mut(s..s + r.len()).unwrap_or_default()
    }

    /// Slots in use by no range.
    pub(crate) fn dead(&self) -> usize {
        self.slots.len() - self.owned
    }

    /// Slots owned by ranges (their peers and spare room).
    #[cfg(test)]
    pub(crate) fn owned(&self) -> usize {
        self.owned
    }

    /// Slots the pool's vector has room for (written or not).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// Position of `addr` in `r`, or where it would be inserted.
    pub(crate) fn find(&self, r: &Range, addr: &A) -> Result<usize, usize> {
        self.peers(r).binary_search_by(|p| p.addr.cmp(addr))
    }

    /// Refreshes `addr` in `r` (or adds it if `r` has fewer than `cap` peers).
    pub(crate) fn upsert(
        &mut self,
        r: &mut Range,
        addr: A,
        seed: bool,
        tick: u16,
        cap: usize,
    ) -> Upsert {
        match self.find(r, &addr) {
            Ok(i) => match self.peers_mut(r).get_mut(i) {
                Some(p) => {
                    let was_seed = p.is_seed();
                    p.meta = meta(seed, tick);
                    Upsert::Updated { was_seed }
                }
                None => Upsert::Full,
            },
            Err(_) if r.len() >= cap => Upsert::Full,
            Err(i) => {
                if r.len == r.cap {
                    if self.moves_in_place(r) {
                        return Upsert::Crowded;
                    }
                    if !self.make_room(r) {
                        return Upsert::Full;
                    }
                }
                let (s, end) = (r.start as usize, r.start as usize + r.len());
                // The range has a spare slot at `end`; checked again so that a broken
                // invariant cannot panic.
                if end >= self.slots.len() || i > r.len() {
                    return Upsert::Full;
                }
                self.slots.copy_within(s + i..end, s + i + 1);
                if let Some(p) = self.slots.get_mut(s + i) {
                    *p = Peer {
                        addr,
                        meta: meta(seed, tick),
                    };
                }
                r.len += 1;
                Upsert::Inserted
            }
        }
    }

    /// Whether the full range `r` should grow by [`Pool::grow_in_place`] rather than move:
    /// moving it would leave more dead slots than a compaction tolerates (and, while both
    /// copies exist, need that much more memory).
    fn moves_in_place(&self, r: &Range) -> bool {
        let (start, cap) = (r.start as usize, r.cap as usize);
        cap > self.owned / DEAD_SHARE && start + cap != self.slots.len()
    }

    /// Gives the full range starting at `target` room for [`grown_in_place`] peers where it is, by
    /// moving every slot after it up (one `memmove`) and the ranges there with them. `ranges`
    /// must be all ranges of this pool; if their capacities do not add up to what the pool
    /// owns, or `target` is not one of them, nothing changes.
    pub(crate) fn grow_in_place<'a>(
        &mut self,
        target: &Range,
        ranges: impl Iterator<Item = &'a mut Range>,
    ) {
        let rs: Vec<&mut Range> = ranges.filter(|r| r.cap > 0).collect();
        let owned: usize = rs.iter().map(|r| r.cap as usize).sum();
        if owned != self.owned || !rs.iter().any(|r| **r == *target) {
            debug_assert!(false, "grow_in_place: ranges do not match the pool");
            return;
        }
        let (len, old) = (
            self.slots.len(),
            target.start as usize + target.cap as usize,
        );
        let cap = grown_in_place(target.len());
        let extra = cap.saturating_sub(target.cap as usize);
        if u32::try_from(len + extra).is_err() || old > len {
            return;
        }
        self.slots.resize(len + extra, Peer::default());
        self.slots.copy_within(old..len, old + extra);
        for r in rs {
            if r.start as usize >= old {
                r.start += extra as u32;
            } else if *r == *target {
                r.cap = cap as u32;
            }
        }
        self.owned += extra;
    }

    /// Gives the full range `r` room for more peers: in place ([`grown_in_place`]) if it is
    /// the pool's last range, else by moving it to the end ([`grown`]; its old slots become
    /// dead). False (and `r` unchanged) if the pool cannot be indexed by `u32` any more.
    fn make_room(&mut self, r: &mut Range) -> bool {
        let (start, len, old_cap) = (r.start as usize, r.len(), r.cap as usize);
        let last = old_cap > 0 && start + old_cap == self.slots.len();
        let cap = if last {
            grown_in_place(len)
        } else {
            grown(len)
        };
        let new_start = if last { start } else { self.slots.len() };
        let Ok(new_start32) = u32::try_from(new_start) else {
            return false;
        };
        if u32::try_from(new_start + cap).is_err() {
            return false;
        }
        if self.slots.capacity() == 0 {
            self.slots
                .reserve_exact(POOL_RESERVE_BYTES / size_of::<Peer<A>>().max(1));
        }
        if !last {
            self.slots.extend_from_within(start..start + len);
        }
        self.slots.resize(new_start + cap, Peer::default());
        self.owned = self.owned + cap - old_cap;
        *r = Range {
            start: new_start32,
            len: r.len,
            cap: cap as u32,
        };
        true
    }

    /// Removes `addr` from `r`; returns `Some(was_seed)` if it was there.
    pub(crate) fn remove(&mut self, r: &mut Range, addr: &A) -> Option<bool> {
        let i = self.find(r, addr).ok()?;
        let was_seed = self.peers(r).get(i)?.is_seed();
        let (s, end) = (r.start as usize, r.start as usize + r.len());
        self.slots.copy_within(s + i + 1..end, s + i);
        r.len -= 1;
        self.trim(r);
        Some(was_seed)
    }

    /// Removes the peers of `r` older than `timeout` ticks at `now`; returns (peers, seeds)
    /// removed.
    pub(crate) fn expire(&mut self, r: &mut Range, now: u16, timeout: u16) -> (usize, u32) {
        let peers = self.peers_mut(r);
        let (mut kept, mut seeds) = (0, 0);
        for i in 0..peers.len() {
            let Some(&p) = peers.get(i) else { break };
            if age(now, p.tick()) <= timeout {
                if let Some(slot) = peers.get_mut(kept) {
                    *slot = p;
                }
                kept += 1;
            } else if p.is_seed() {
                seeds += 1;
            }
        }
        let removed = r.len() - kept;
        r.len = kept as u32;
        self.trim(r);
        (removed, seeds)
    }

    /// Gives back the spare room of `r` past what [`grown`] would give, once there is too
    /// much of it (all of it when `r` is empty): the slots become dead.
    fn trim(&mut self, r: &mut Range) {
        let (len, cap) = (r.len(), r.cap as usize);
        if len == 0 {
            self.release(r);
        } else if too_roomy(len, cap) {
            let keep = grown(len).min(cap);
            self.owned -= cap - keep;
            r.cap = keep as u32;
        }
    }

    /// Drops `r` and its peers (its slots become dead).
    pub(crate) fn release(&mut self, r: &mut Range) {
        self.owned -= r.cap as usize;
        *r = Range::default();
    }

    /// Whether dead slots have grown past [`DEAD_SHARE`] of the owned ones (and
    /// [`DEAD_SLACK`]), so that [`Pool::compact`] should run.
    pub(crate) fn wants_compaction(&self) -> bool {
        self.dead() > self.owned / DEAD_SHARE + DEAD_SLACK
    }

    /// Slides every range down over the dead slots, in order, and shortens the pool (giving
    /// memory back when it is mostly empty). `ranges` must be all ranges of this pool; if
    /// their capacities do not add up to what the pool owns, nothing is moved.
    pub(crate) fn compact<'a>(&mut self, ranges: impl Iterator<Item = &'a mut Range>) {
        let mut rs: Vec<&mut Range> = ranges.filter(|r| r.cap > 0).collect();
        if rs.iter().map(|r| r.cap as usize).sum::<usize>() != self.owned {
            debug_assert!(false, "compact: ranges do not match the pool");
            return;
        }
        rs.sort_unstable_by_key(|r| r.start);
        let mut w = 0usize;
        for r in rs {
            let (s, len) = (r.start as usize, r.len());
            // Ranges are disjoint and sorted, so w <= s and the copy stays in bounds.
            if s != w && s + len <= self.slots.len() {
                self.slots.copy_within(s..s + len, w);
            }
            r.start = w as u32;
            w += r.cap as usize;
        }
        self.slots.truncate(w);
        let reserve = POOL_RESERVE_BYTES / size_of::<Peer<A>>().max(1);
        if self.slots.capacity() > reserve && self.slots.capacity() > 2 * w {
            self.slots.shrink_to((w + w / 4).max(reserve));
        }
    }

    /// Appends to `out` the compact bytes of up to `k` peers of `r` other than the one at
    /// `me`, chosen at random when there are more: a random start and a random step coprime
    /// with the number of candidates, so every peer is equally likely, there are no repeats,
    /// no allocation and O(k) work.
    pub(crate) fn sample(
        &self,
        r: &Range,
        me: Option<usize>,
        k: usize,
        rng: &mut SmallRng,
        out: &mut Vec<u8>,
    ) {
        let peers = self.peers(r);
        let n = peers.len();
        let me = me.filter(|&m| m < n);
        let others = n - usize::from(me.is_some());
        // Candidate j is stored at j, or j + 1 past the announcer.
        let pos = |j: usize| match me {
            Some(m) if j >= m => j + 1,
            _ => j,
        };
        let mut push = |j: usize| {
            if let Some(p) = peers.get(pos(j)) {
                out.extend_from_slice(p.addr.bytes());
            }
        };
        if k == 0 {
            return;
        }
        if others <= k {
            (0..others).for_each(push);
            return;
        }
        // Here others > k >= 1, so others >= 2.
        let mut j = rng.random_range(0..others);
        let step = coprime_step(others, rng);
        for _ in 0..k {
            push(j);
            j = (j + step) % others;
        }
    }
}

/// A random step in `1..n` with gcd(step, n) = 1 (so `k <= n` steps never repeat), or 1.
fn coprime_step(n: usize, rng: &mut SmallRng) -> usize {
    // Over half the numbers below n are coprime with it for all practical n: a few tries.
    for _ in 0..16 {
        let s = rng.random_range(1..n);
        if gcd(s, n) == 1 {
            return s;
        }
    }
    1
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests;
