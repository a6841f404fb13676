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
//! range grows by an eighth (6% spare room on average, 8.5 bytes per peer at 100 peers) by
//! moving to the end of the pool, or in place when it is already last. The slots it leaves
//! behind are dead until [`Pool::compact`] slides the ranges down over them, which the store
//! does once dead slots are more than a sixteenth of the owned ones: memory stays within
//! about 13% of the live peers, whatever the order of announces, with no per-swarm
//! allocation. The pool's vector is reserved at 128 KiB from the start, so glibc maps it on
//! its own: its pages cost memory only once written, and it grows in place (`mremap`).
//!
//! Costs: finding a peer is O(log n); adding or removing one moves the entries after it in its
//! range (at most 800 KB at the cap of 100,000 IPv4 peers, tens of microseconds, and nothing
//! for small swarms). Growing a range copies it (amortized a few slots per insert); a
//! compaction moves the whole pool, amortized over the inserts that made a sixteenth of it
//! dead (about 1 KB of copying per insert). Sampling is O(k) for k peers.

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

/// Room for `len` peers and a few more: a sixteenth, at least two.
fn grown(len: usize) -> usize {
    len + 2 + len / 16
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

    /// Gives the full range starting at `target` room for [`grown`] peers where it is, by
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
        let cap = grown(target.len());
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

    /// Gives the full range `r` room for [`grown`] peers: in place if it is the pool's last
    /// range, else by moving it to the end (its old slots become dead). False (and `r`
    /// unchanged) if the pool cannot be indexed by `u32` any more.
    fn make_room(&mut self, r: &mut Range) -> bool {
        let (start, len, old_cap) = (r.start as usize, r.len(), r.cap as usize);
        let cap = grown(len);
        let last = old_cap > 0 && start + old_cap == self.slots.len();
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
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn v4(i: u32) -> [u8; 6] {
        let [a, b, c, d] = i.to_be_bytes();
        [a, b, c, d, 0, 1]
    }

    /// Upserts into `ranges[i]` as the store does: growing the range in place when asked.
    fn put(pool: &mut Pool<[u8; 6]>, ranges: &mut [Range], i: usize, a: u32, cap: usize) -> Upsert {
        match pool.upsert(&mut ranges[i], v4(a), false, 0, cap) {
            Upsert::Crowded => {
                let r = ranges[i];
                pool.grow_in_place(&r, ranges.iter_mut());
                pool.upsert(&mut ranges[i], v4(a), false, 0, cap)
            }
            up => up,
        }
    }

    /// Every range's peers in order, and the pool's accounting adds up.
    fn check(pool: &Pool<[u8; 6]>, ranges: &[Range]) {
        let owned: usize = ranges.iter().map(|r| r.cap as usize).sum();
        assert_eq!(owned, pool.owned(), "owned slots");
        let mut spans: Vec<(usize, usize)> = ranges
            .iter()
            .filter(|r| r.cap > 0)
            .map(|r| (r.start as usize, (r.start + r.cap) as usize))
            .collect();
        spans.sort_unstable();
        for w in spans.windows(2) {
            assert!(w[0].1 <= w[1].0, "ranges overlap: {w:?}");
        }
        for r in ranges {
            assert!(r.len <= r.cap);
            let p = pool.peers(r);
            assert_eq!(p.len(), r.len());
            assert!(p.windows(2).all(|w| w[0].addr < w[1].addr), "sorted");
        }
    }

    #[test]
    fn a_peer_is_eight_bytes_and_a_range_twelve() {
        assert_eq!(std::mem::size_of::<Peer<[u8; 6]>>(), 8);
        assert_eq!(std::mem::size_of::<Peer<[u8; 18]>>(), 20);
        assert_eq!(std::mem::size_of::<Range>(), 12);
    }

    #[test]
    fn sorted_insert_find_remove_and_wrapping_expiry() {
        let mut pool = Pool::<[u8; 6]>::default();
        let mut r = Range::default();
        for i in [5u8, 1, 9, 3] {
            assert!(matches!(
                pool.upsert(&mut r, [i, 0, 0, 0, 0, 1], i == 9, 32_760, 10),
                Upsert::Inserted
            ));
        }
        let addrs: Vec<u8> = pool.peers(&r).iter().map(|x| x.addr[0]).collect();
        assert_eq!(addrs, [1, 3, 5, 9]);
        assert!(matches!(
            pool.upsert(&mut r, [9, 0, 0, 0, 0, 1], false, 5, 10),
            Upsert::Updated { was_seed: true }
        ));
        assert_eq!(pool.find(&r, &[5, 0, 0, 0, 0, 1]), Ok(2));
        assert_eq!(pool.remove(&mut r, &[3, 0, 0, 0, 0, 1]), Some(false));
        assert_eq!(pool.remove(&mut r, &[3, 0, 0, 0, 0, 1]), None);
        // The clock wrapped from 32,760 to 5: peer 9 (tick 5) is fresh, 1 and 5 are 13 old.
        assert_eq!(pool.expire(&mut r, 5, 13), (0, 0));
        assert_eq!(pool.expire(&mut r, 6, 13), (2, 0));
        assert_eq!(r.len(), 1);
        check(&pool, &[r]);
        // The last peer expires: the range owns nothing any more.
        assert_eq!(pool.expire(&mut r, 5_000, 13), (1, 0));
        assert_eq!(r, Range::default());
        assert_eq!(pool.owned(), 0);
    }

    #[test]
    fn a_full_swarm_refuses_new_peers_but_refreshes_old_ones() {
        let mut pool = Pool::<[u8; 6]>::default();
        let mut r = Range::default();
        for i in 0..3 {
            assert!(matches!(
                pool.upsert(&mut r, v4(i), false, 0, 3),
                Upsert::Inserted
            ));
        }
        assert!(matches!(
            pool.upsert(&mut r, v4(7), false, 0, 3),
            Upsert::Full
        ));
        assert!(matches!(
            pool.upsert(&mut r, v4(1), true, 0, 3),
            Upsert::Updated { was_seed: false }
        ));
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn interleaved_growth_and_compaction_keep_every_swarm_intact() {
        let mut pool = Pool::<[u8; 6]>::default();
        let mut ranges = vec![Range::default(); 50];
        let mut rng = SmallRng::seed_from_u64(9);
        let mut expect: Vec<Vec<u32>> = vec![Vec::new(); 50];
        for n in 0..20_000u32 {
            let s = rng.random_range(0..50usize);
            let a = rng.random_range(0..1_000_000u32);
            match put(&mut pool, &mut ranges, s, a, usize::MAX) {
                Upsert::Inserted => expect[s].push(a),
                Upsert::Updated { .. } => {}
                Upsert::Full | Upsert::Crowded => panic!("no cap"),
            }
            if n % 7 == 0 {
                let gone = expect[s].pop().unwrap();
                assert_eq!(pool.remove(&mut ranges[s], &v4(gone)), Some(false));
            }
            if pool.wants_compaction() {
                pool.compact(ranges.iter_mut());
                assert_eq!(pool.dead(), 0);
            }
        }
        check(&pool, &ranges);
        for (r, e) in ranges.iter().zip(&mut expect) {
            e.sort_unstable();
            let got: Vec<[u8; 6]> = pool.peers(r).iter().map(|p| p.addr).collect();
            let want: Vec<[u8; 6]> = e.iter().map(|&a| v4(a)).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_flood_of_distinct_peers_stays_within_a_bounded_overhead() {
        // 1,000 swarms filled one peer each in turn (the worst order for moving ranges), as
        // a flood of distinct peers would: the pool never holds much more than the peers.
        let mut pool = Pool::<[u8; 6]>::default();
        let mut ranges = vec![Range::default(); 1000];
        let mut most = 0;
        for p in 0..100u32 {
            for i in 0..ranges.len() {
                put(&mut pool, &mut ranges, i, p, usize::MAX);
            }
            if pool.wants_compaction() {
                pool.compact(ranges.iter_mut());
            }
            most = most.max(pool.slots.len());
        }
        check(&pool, &ranges);
        let live = 100 * 1000;
        // Spare room (a sixteenth and two at most), plus dead slots (a 32nd and the slack,
        // and one range moving).
        assert!(
            pool.owned() <= live + live / 16 + 2 * 1000,
            "{}",
            pool.owned()
        );
        assert!(most <= pool.owned() + pool.owned() / DEAD_SHARE + DEAD_SLACK + 110);
        // With a cap, the flood stops at the cap.
        let mut r = Range::default();
        for a in 0..10_000 {
            pool.upsert(&mut r, v4(a), false, 0, 500);
        }
        assert_eq!(r.len(), 500);
    }

    #[test]
    fn expiry_gives_back_spare_room_and_compaction_the_memory() {
        let mut pool = Pool::<[u8; 6]>::default();
        let mut ranges = vec![Range::default(); 10];
        for i in 0..10 {
            for a in 0..10_000 {
                put(&mut pool, &mut ranges, i, a, usize::MAX);
            }
            // Old peers at tick 0, one fresh peer at tick 100.
            pool.upsert(&mut ranges[i], v4(0), false, 100, usize::MAX);
        }
        pool.compact(ranges.iter_mut());
        let big = pool.capacity();
        assert!(big >= 100_000);
        for r in ranges.iter_mut() {
            assert_eq!(pool.expire(r, 100, 50), (9_999, 0));
            assert_eq!(r.len(), 1);
            assert!(r.cap <= 3, "spare room given back: {}", r.cap);
        }
        assert!(pool.wants_compaction());
        pool.compact(ranges.iter_mut());
        check(&pool, &ranges);
        assert_eq!(pool.dead(), 0);
        assert!(pool.capacity() < big / 4, "{} of {big}", pool.capacity());
        for r in &ranges {
            assert_eq!(
                pool.peers(r).iter().map(|p| p.addr).collect::<Vec<_>>(),
                [v4(0)]
            );
        }
    }

    #[test]
    fn a_large_range_grows_in_place_and_moves_the_ranges_after_it() {
        let mut pool = Pool::<[u8; 6]>::default();
        let mut ranges = vec![Range::default(); 3];
        // Three swarms filled in turn: the first is not last in the pool and is a third of
        // it, so it grows in place rather than moving (which would leave a third dead).
        for a in 0..300 {
            for i in 0..3 {
                assert!(matches!(
                    put(&mut pool, &mut ranges, i, a, usize::MAX),
                    Upsert::Inserted
                ));
            }
        }
        check(&pool, &ranges);
        assert!(pool.dead() <= DEAD_SLACK, "{}", pool.dead());
        let mut r = ranges[0];
        r.len = r.cap;
        assert!(
            pool.moves_in_place(&r)
                || ranges[0].start as usize + ranges[0].cap as usize == pool.slots.len()
        );
        for r in &ranges {
            let got: Vec<[u8; 6]> = pool.peers(r).iter().map(|p| p.addr).collect();
            assert_eq!(got, (0..300).map(v4).collect::<Vec<_>>());
        }
    }

    #[test]
    fn sample_excludes_me_without_repeats() {
        let mut rng = SmallRng::seed_from_u64(3);
        let mut pool = Pool::<[u8; 6]>::default();
        let mut r = Range::default();
        for i in 0..100u8 {
            pool.upsert(&mut r, [10, 0, 0, i, 0, 1], false, 0, 1000);
        }
        for k in [0, 1, 50, 98, 99, 100, 200] {
            let mut out = Vec::new();
            pool.sample(&r, Some(7), k, &mut rng, &mut out);
            let mut got: Vec<u8> = out.chunks(6).map(|c| c[3]).collect();
            assert_eq!(got.len(), k.min(99), "k = {k}");
            assert!(!got.contains(&7));
            got.sort_unstable();
            got.dedup();
            assert_eq!(got.len(), k.min(99));
        }
    }
}
