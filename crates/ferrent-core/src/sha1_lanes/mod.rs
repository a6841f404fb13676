//! SHA-1 of several messages of the same length at once, one per *lane*.
//!
//! Why: a piece hash (BEP 3) is a chain of 64-byte blocks, each block's compression waiting for
//! the last. With SHA-NI the chain, not the hardware, is the limit: `sha1rnds4` takes several
//! cycles to produce a result but can start a new one sooner. Feeding the instructions of up to
//! [`MAX_LANES`] independent pieces side by side keeps the unit busy; on this project's Zen 4
//! machine four lanes hash 4.9 GB/s per core against 1.9 GB/s for one (the `sha1` crate, or
//! OpenSSL). Rechecking data and creating torrents hash many pieces of one length, so they can
//! use it; a single message is better served by [`sha1::Sha1`].
//!
//! Without SHA-NI (other CPUs, other architectures) each lane runs through the `sha1` crate's
//! compression function in turn: the same results, no faster.
//!
//! ```
//! use ferrent_core::Sha1Lanes;
//! use sha1::{Digest, Sha1};
//!
//! let (a, b) = (vec![1u8; 100_000], vec![2u8; 100_000]);
//! let mut lanes = Sha1Lanes::new(2);
//! for (x, y) in a.chunks(4096).zip(b.chunks(4096)) {
//!     lanes.update(&[x, y]);
//! }
//! let digests = lanes.finalize();
//! assert_eq!(digests[0], <[u8; 20]>::from(Sha1::digest(&a)));
//! assert_eq!(digests[1], <[u8; 20]>::from(Sha1::digest(&b)));
//! ```

#[cfg(target_arch = "x86_64")]
mod x86;

/// The most lanes a [`Sha1Lanes`] runs; four is where SHA-NI throughput levels off (three give
/// 3.8 GB/s here, four 4.9, six 5.1 with register spills).
pub const MAX_LANES: usize = 4;

const BLOCK: usize = 64;

/// SHA-1 initial state (FIPS 180-4, 5.3.1).
const INIT: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// Hashes 1 to [`MAX_LANES`] messages that are fed together and have the same length.
///
/// Feed with [`update`](Self::update) (one part per lane, all parts the same length, any size:
/// partial blocks are kept until the next call), then [`finalize`](Self::finalize) for one
/// digest per lane. Feeding multiples of 64 bytes avoids a copy.
#[derive(Clone, Debug)]
pub struct Sha1Lanes {
    lanes: usize,
    states: [[u32; 5]; MAX_LANES],
    /// The start of an unfinished block, per lane; all lanes hold `pending_len` bytes.
    pending: [[u8; BLOCK]; MAX_LANES],
    pending_len: usize,
    /// Bytes fed to each lane so far.
    total: u64,
}

impl Sha1Lanes {
    /// A hasher for `lanes` messages, clamped to `1..=MAX_LANES`.
    pub fn new(lanes: usize) -> Self {
        Sha1Lanes {
            lanes: lanes.clamp(1, MAX_LANES),
            states: [INIT; MAX_LANES],
            pending: [[0; BLOCK]; MAX_LANES],
            pending_len: 0,
            total: 0,
        }
    }

    /// How many messages this hasher takes.
    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// Feeds `parts[i]` to lane `i`.
    ///
    /// # Panics
    /// When `parts.len()` is not [`lanes`](Self::lanes) or the parts differ in length: the
    /// lanes would no longer hash messages of one length, a bug in the caller (like
    /// `copy_from_slice` with slices of different lengths).
    pub fn update(&mut self, parts: &[&[u8]]) {
        assert_eq!(
            parts.len(),
            self.lanes,
            "Sha1Lanes::update: one part per lane"
        );
        let len = parts.first().map_or(0, |p| p.len());
        assert!(
            parts.iter().all(|p| p.len() == len),
            "Sha1Lanes::update: parts of different lengths"
        );
        self.total += len as u64;
        let mut rest: [&[u8]; MAX_LANES] = [&[]; MAX_LANES];
        rest[..self.lanes].copy_from_slice(parts);

        // Top up an unfinished block first.
        if self.pending_len > 0 {
            let take = (BLOCK - self.pending_len).min(len);
            for (pending, part) in self.pending.iter_mut().zip(rest.iter_mut()) {
                let (head, tail) = part.split_at(take.min(part.len()));
                pending[self.pending_len..self.pending_len + head.len()].copy_from_slice(head);
                *part = tail;
            }
            self.pending_len += take;
            if self.pending_len < BLOCK {
                return;
            }
            let blocks = self.pending;
            self.compress(std::array::from_fn(|l| &blocks[l][..]));
            self.pending_len = 0;
        }

        // Whole blocks straight from the parts, then keep what is left over.
        let whole = rest[0].len() / BLOCK * BLOCK;
        self.compress(std::array::from_fn(|l| {
            &rest[l][..whole.min(rest[l].len())]
        }));
        for (pending, part) in self.pending.iter_mut().zip(rest) {
            let tail = part.get(whole..).unwrap_or_default();
            pending[..tail.len()].copy_from_slice(tail);
        }
        self.pending_len = rest[0].len() - whole;
    }

    /// The SHA-1 of each lane's message, lane 0 first (`lanes()` digests).
    pub fn finalize(mut self) -> Vec<[u8; 20]> {
        // Padding (FIPS 180-4, 5.1.1): 0x80, zeros, then the length in bits as a big-endian u64,
        // filling one block, or two when fewer than 9 bytes are free.
        let bits = self.total.wrapping_mul(8).to_be_bytes();
        let used = self.pending_len;
        let blocks = if used + 1 + bits.len() <= BLOCK { 1 } else { 2 };
        let mut tails = [[0u8; 2 * BLOCK]; MAX_LANES];
        for (tail, pending) in tails.iter_mut().zip(&self.pending) {
            tail[..used].copy_from_slice(&pending[..used]);
            tail[used] = 0x80;
            tail[blocks * BLOCK - bits.len()..blocks * BLOCK].copy_from_slice(&bits);
        }
        self.compress(std::array::from_fn(|l| &tails[l][..blocks * BLOCK]));
        self.states[..self.lanes]
            .iter()
            .map(|state| {
                let mut digest = [0u8; 20];
                for (out, word) in digest.chunks_exact_mut(4).zip(state) {
                    out.copy_from_slice(&word.to_be_bytes());
                }
                digest
            })
            .collect()
    }

    /// Runs the compression function over `data[l]` (whole blocks, the same count in every
    /// used lane) for each lane.
    fn compress(&mut self, data: [&[u8]; MAX_LANES]) {
        if data[0].is_empty() {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if x86::compress(self.lanes, &mut self.states, data) {
            return;
        }
        compress_one_by_one(self.lanes, &mut self.states, data);
    }
}

/// The fallback without SHA-NI: each lane through the `sha1` crate's block function in turn.
fn compress_one_by_one(lanes: usize, states: &mut [[u32; 5]; MAX_LANES], data: [&[u8]; MAX_LANES]) {
    for (state, part) in states.iter_mut().zip(data).take(lanes) {
        for block in part.chunks_exact(BLOCK) {
            if let Ok(block) = <[u8; BLOCK]>::try_from(block) {
                sha1::block_api::compress(state, &[block]);
            }
        }
    }
}

#[cfg(test)]
mod tests;
