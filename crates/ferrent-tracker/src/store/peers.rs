//! The peers of one address family in one swarm, stored compactly.
//!
//! A peer is its compact address (BEP 23: 4-byte IPv4 + port, 6 bytes; BEP 7: 18 bytes for
//! IPv6) followed by two bytes of metadata: the seed flag and the time it last announced, in
//! ticks of the store's clock modulo 2^15. An IPv4 peer is 8 bytes, nothing else is kept per
//! peer (no per-swarm hash index): the peers of a swarm sit in one `Vec` sorted by address,
//! found by binary search.
//!
//! Costs: finding a peer is O(log n); adding or removing one moves the entries after it
//! (O(n), a `memmove` of at most 800 KB at the cap of 100,000 IPv4 peers, tens of
//! microseconds, and nothing for the small swarms a private tracker has). Sampling is O(k) for
//! k peers. Past 16,384 peers the vector grows by a quarter at a time (not doubling), and it
//! is shrunk when expiry leaves it mostly empty.

use rand::Rng;
use rand::rngs::SmallRng;

/// Bit of [`Peer::meta`] set for a seed.
const SEED: u16 = 0x8000;
/// Bits of [`Peer::meta`] holding the last-announce tick.
pub(crate) const TICK_MASK: u16 = 0x7fff;

/// A compact peer address: `[u8; 6]` (IPv4) or `[u8; 18]` (IPv6), ordered bytewise.
pub(crate) trait CompactAddr: Copy + Ord {
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
#[derive(Debug, Clone, Copy)]
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

/// The result of [`Peers::upsert`].
pub(crate) enum Upsert {
    /// An existing peer was refreshed; whether it was a seed before.
    Updated { was_seed: bool },
    /// A new peer was stored.
    Inserted,
    /// A new peer was not stored: the swarm (or the store) is full.
    Full,
}

/// Peers of one family, sorted by address.
#[derive(Debug)]
pub(crate) struct Peers<A> {
    v: Vec<Peer<A>>,
}

impl<A> Default for Peers<A> {
    fn default() -> Self {
        Peers { v: Vec::new() }
    }
}

impl<A: CompactAddr> Peers<A> {
    pub(crate) fn len(&self) -> usize {
        self.v.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Peer<A>> {
        self.v.iter()
    }

    /// Position of `addr`, or where it would be inserted.
    pub(crate) fn find(&self, addr: &A) -> Result<usize, usize> {
        self.v.binary_search_by(|p| p.addr.cmp(addr))
    }

    /// Refreshes `addr` (or adds it if there are fewer than `cap` peers).
    pub(crate) fn upsert(&mut self, addr: A, seed: bool, tick: u16, cap: usize) -> Upsert {
        match self.find(&addr) {
            Ok(i) => match self.v.get_mut(i) {
                Some(p) => {
                    let was_seed = p.is_seed();
                    p.meta = meta(seed, tick);
                    Upsert::Updated { was_seed }
                }
                None => Upsert::Full,
            },
            Err(_) if self.v.len() >= cap => Upsert::Full,
            Err(i) => {
                if self.v.len() == self.v.capacity() {
                    grow(&mut self.v);
                }
                self.v.insert(
                    i.min(self.v.len()),
                    Peer {
                        addr,
                        meta: meta(seed, tick),
                    },
                );
                Upsert::Inserted
            }
        }
    }

    /// Removes `addr`; returns `Some(was_seed)` if it was there.
    pub(crate) fn remove(&mut self, addr: &A) -> Option<bool> {
        let i = self.find(addr).ok()?;
        (i < self.v.len()).then(|| self.v.remove(i).is_seed())
    }

    /// Removes peers older than `timeout` ticks at `now`; returns (peers, seeds) removed.
    pub(crate) fn expire(&mut self, now: u16, timeout: u16) -> (usize, u32) {
        let before = self.v.len();
        let mut seeds = 0;
        self.v.retain(|p| {
            let keep = age(now, p.tick()) <= timeout;
            if !keep && p.is_seed() {
                seeds += 1;
            }
            keep
        });
        let len = self.v.len();
        if self.v.capacity() > len + len / 2 + 8 {
            self.v.shrink_to(len + len / 8);
        }
        (before - len, seeds)
    }

    /// Appends to `out` the compact bytes of up to `k` peers other than the one at `me`,
    /// chosen at random when there are more: a random start and a random step coprime with
    /// the number of candidates, so every peer is equally likely, there are no repeats, no
    /// allocation and O(k) work.
    pub(crate) fn sample(
        &self,
        me: Option<usize>,
        k: usize,
        rng: &mut SmallRng,
        out: &mut Vec<u8>,
    ) {
        let n = self.v.len();
        let me = me.filter(|&m| m < n);
        let others = n - usize::from(me.is_some());
        // Candidate j is stored at j, or j + 1 past the announcer.
        let pos = |j: usize| match me {
            Some(m) if j >= m => j + 1,
            _ => j,
        };
        let mut push = |j: usize| {
            if let Some(p) = self.v.get(pos(j)) {
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

/// Makes room for one more peer. Below [`GROW_SLOWLY_FROM`] peers a vector doubles like any
/// `Vec`: its chunks come from the heap, and a chunk freed by growing is only reused whole, so
/// growing in small steps would leave more holes than it saves. From there on the vector is
/// over 128 KiB, which the allocator maps on its own and resizes in place (`mremap`), so it
/// grows by a quarter: about 11% spare capacity instead of doubling's 25 to 50%.
fn grow<T>(v: &mut Vec<T>) {
    if v.len() < GROW_SLOWLY_FROM {
        v.reserve(1);
    } else {
        v.reserve_exact(v.len() / 4);
    }
}

/// See [`grow`]: 16,384 IPv4 peers are 128 KiB, glibc's threshold for mapping a chunk.
const GROW_SLOWLY_FROM: usize = 16_384;

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

    #[test]
    fn a_peer_is_eight_bytes() {
        assert_eq!(std::mem::size_of::<Peer<[u8; 6]>>(), 8);
        assert_eq!(std::mem::size_of::<Peer<[u8; 18]>>(), 20);
    }

    #[test]
    fn sorted_insert_find_remove_and_wrapping_expiry() {
        let mut p = Peers::<[u8; 6]>::default();
        for i in [5u8, 1, 9, 3] {
            assert!(matches!(
                p.upsert([i, 0, 0, 0, 0, 1], i == 9, 32_760, 10),
                Upsert::Inserted
            ));
        }
        let addrs: Vec<u8> = p.iter().map(|x| x.addr[0]).collect();
        assert_eq!(addrs, [1, 3, 5, 9]);
        assert!(matches!(
            p.upsert([9, 0, 0, 0, 0, 1], false, 5, 10),
            Upsert::Updated { was_seed: true }
        ));
        assert_eq!(p.remove(&[3, 0, 0, 0, 0, 1]), Some(false));
        assert_eq!(p.remove(&[3, 0, 0, 0, 0, 1]), None);
        // The clock wrapped from 32,760 to 5: peer 9 (tick 5) is fresh, 1 and 5 are 13 old.
        assert_eq!(p.expire(5, 13), (0, 0));
        assert_eq!(p.expire(6, 13), (2, 0));
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn sample_excludes_me_without_repeats() {
        let mut rng = SmallRng::seed_from_u64(3);
        let mut p = Peers::<[u8; 6]>::default();
        for i in 0..100u8 {
            p.upsert([10, 0, 0, i, 0, 1], false, 0, 1000);
        }
        for k in [0, 1, 50, 98, 99, 100, 200] {
            let mut out = Vec::new();
            p.sample(Some(7), k, &mut rng, &mut out);
            let mut got: Vec<u8> = out.chunks(6).map(|c| c[3]).collect();
            assert_eq!(got.len(), k.min(99), "k = {k}");
            assert!(!got.contains(&7));
            got.sort_unstable();
            got.dedup();
            assert_eq!(got.len(), k.min(99));
        }
    }
}
