//! What the picker knows about one peer: which pieces it has, what we asked it for, how fast it
//! answers, and how deep its pipeline should be.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::bitset::Bitset;
use super::config::{
    INITIAL_PIPELINE, MAX_CANCELLED_REMEMBERED, MAX_EXCLUDED, MAX_PIPELINE, MIN_PIPELINE,
};
use super::geometry::BLOCK_SIZE;

/// How often the rate estimate takes a sample.
const RATE_SAMPLE_PERIOD: Duration = Duration::from_secs(1);

/// Slow start ends when a rate sample grows by less than this factor (in percent) over the previous.
const SLOW_START_MIN_GROWTH_PERCENT: u64 = 110;

/// One request in flight at a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Active {
    pub(crate) piece: u32,
    pub(crate) block: u32,
    pub(crate) sent: Instant,
}

/// Per-peer state. Pieces the peer has: `seed || have.get(i)`.
#[derive(Debug)]
pub(crate) struct Peer<K> {
    pub(crate) key: K,
    /// BEP 6 `have all`: counted in `Picker::seeds` rather than per piece.
    pub(crate) seed: bool,
    pub(crate) have: Bitset,
    /// A bitfield, `have all` or `have none` (or a `have`) has been seen.
    pub(crate) announced: bool,
    /// The peer chokes us (initially true, BEP 3).
    pub(crate) choked: bool,
    /// BEP 6 allowed-fast pieces (only those the peer also has are requested while choked).
    pub(crate) allowed_fast: Vec<u32>,
    /// Requests in flight, oldest first.
    pub(crate) active: Vec<Active>,
    /// Requests we cancelled (or that a choke dropped) whose answer may still arrive.
    pub(crate) cancelled: VecDeque<(u32, u32)>,
    /// Cancelled requests pushed out of `cancelled` (it is bounded): that many answers we can no
    /// longer match are still tolerated, so a slow peer that ignores cancels is not taken for a
    /// liar. A peer cannot abuse it: it is bounded by the requests we sent it.
    pub(crate) forgotten_cancels: u32,
    /// Blocks this peer timed out or rejected: not asked again until it delivers something.
    pub(crate) excluded: VecDeque<(u32, u32)>,
    /// The peer's advertised request queue limit (BEP 10 `reqq`).
    pub(crate) reqq: u32,
    /// Number of pieces the peer has that we want (we are interested iff > 0).
    pub(crate) interesting: u32,
    pub(crate) snubbed: bool,
    pub(crate) slow_start: bool,
    slow_start_depth: u32,
    /// Smoothed download rate from this peer, bytes per second.
    pub(crate) rate: u64,
    last_sample: u64,
    window_start: Option<Instant>,
    window_bytes: u64,
}

impl<K> Peer<K> {
    pub(crate) fn new(key: K, num_pieces: u32) -> Self {
        Peer {
            key,
            seed: false,
            have: Bitset::new(num_pieces),
            announced: false,
            choked: true,
            allowed_fast: Vec::new(),
            active: Vec::new(),
            cancelled: VecDeque::new(),
            forgotten_cancels: 0,
            excluded: VecDeque::new(),
            reqq: MAX_PIPELINE,
            interesting: 0,
            snubbed: false,
            slow_start: true,
            slow_start_depth: INITIAL_PIPELINE,
            rate: 0,
            last_sample: 0,
            window_start: None,
            window_bytes: 0,
        }
    }

    pub(crate) fn has(&self, piece: u32) -> bool {
        self.seed || self.have.get(piece)
    }

    pub(crate) fn is_allowed_fast(&self, piece: u32) -> bool {
        self.allowed_fast.contains(&piece)
    }

    /// May we request `piece` from this peer right now (it has it, and it is unchoked or the piece
    /// is allowed fast)?
    pub(crate) fn can_request(&self, piece: u32) -> bool {
        self.has(piece) && (!self.choked || self.is_allowed_fast(piece))
    }

    pub(crate) fn is_active(&self, piece: u32, block: u32) -> bool {
        self.active
            .iter()
            .any(|a| a.piece == piece && a.block == block)
    }

    pub(crate) fn is_excluded(&self, piece: u32, block: u32) -> bool {
        self.excluded.contains(&(piece, block))
    }

    /// How many requests this peer should have in flight (libtorrent's request queue sizing).
    pub(crate) fn pipeline_depth(&self, target_queue_time: Duration) -> u32 {
        if self.snubbed {
            return 1;
        }
        let cap = self.reqq.clamp(1, MAX_PIPELINE);
        let want = if self.slow_start {
            u64::from(self.slow_start_depth)
        } else {
            let bytes = u128::from(self.rate) * target_queue_time.as_millis() / 1000;
            (bytes / u128::from(BLOCK_SIZE)).min(u128::from(MAX_PIPELINE)) as u64
        };
        (want as u32).clamp(MIN_PIPELINE.min(cap), cap)
    }

    /// Free pipeline slots.
    pub(crate) fn capacity(&self, target_queue_time: Duration) -> u32 {
        self.pipeline_depth(target_queue_time)
            .saturating_sub(self.active.len() as u32)
    }

    /// Book `len` bytes received at `now`: rate estimate, slow start.
    pub(crate) fn record_block(&mut self, len: u32, now: Instant) {
        if self.slow_start {
            self.slow_start_depth = (self.slow_start_depth + 1).min(MAX_PIPELINE);
        }
        let start = *self.window_start.get_or_insert(now);
        self.window_bytes += u64::from(len);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= RATE_SAMPLE_PERIOD {
            let sample = (u128::from(self.window_bytes) * 1000 / elapsed.as_millis().max(1)) as u64;
            self.rate = if self.rate == 0 {
                sample
            } else {
                (self.rate * 3 + sample) / 4
            };
            if self.slow_start
                && self.last_sample > 0
                && sample * 100 < self.last_sample * SLOW_START_MIN_GROWTH_PERCENT
            {
                self.slow_start = false;
            }
            self.last_sample = sample;
            self.window_start = Some(now);
            self.window_bytes = 0;
        }
    }

    /// Ends slow start (after a timeout or choke); the measured rate sizes the pipeline from now on.
    pub(crate) fn end_slow_start(&mut self) {
        if self.slow_start {
            self.slow_start = false;
            if self.rate == 0 {
                // No sample yet: keep roughly the depth slow start had reached.
                self.rate = u64::from(self.slow_start_depth) * u64::from(BLOCK_SIZE) / 3;
            }
        }
    }

    /// Remembers a cancelled request so its late answer is tolerated (bounded, oldest forgotten).
    pub(crate) fn remember_cancelled(&mut self, piece: u32, block: u32) {
        if self.cancelled.len() >= MAX_CANCELLED_REMEMBERED {
            self.cancelled.pop_front();
            self.forgotten_cancels = self.forgotten_cancels.saturating_add(1);
        }
        self.cancelled.push_back((piece, block));
    }

    /// Matches an answer (block or reject) against the cancelled requests: forgets the one it
    /// answers, or uses up one forgotten cancel. Returns whether it matched.
    pub(crate) fn take_cancelled(&mut self, piece: u32, block: u32) -> bool {
        match self.cancelled.iter().position(|&c| c == (piece, block)) {
            Some(i) => {
                self.cancelled.remove(i);
                true
            }
            None if self.forgotten_cancels > 0 => {
                self.forgotten_cancels -= 1;
                true
            }
            None => false,
        }
    }

    pub(crate) fn exclude(&mut self, piece: u32, block: u32) {
        if self.is_excluded(piece, block) {
            return;
        }
        if self.excluded.len() >= MAX_EXCLUDED {
            self.excluded.pop_front();
        }
        self.excluded.push_back((piece, block));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_sizing() {
        let t0 = crate::picker::test_epoch();
        let mut p = Peer::new(1u32, 10);
        let tq = Duration::from_secs(3);
        assert_eq!(p.pipeline_depth(tq), INITIAL_PIPELINE);
        for i in 0..10 {
            p.record_block(BLOCK_SIZE, t0 + Duration::from_millis(i * 10));
        }
        assert_eq!(p.pipeline_depth(tq), INITIAL_PIPELINE + 10);
        p.slow_start = false;
        p.rate = 1_000_000; // 1 MB/s * 3 s / 16 KiB = 183
        assert_eq!(p.pipeline_depth(tq), 183);
        p.reqq = 50;
        assert_eq!(p.pipeline_depth(tq), 50);
        p.rate = 1000;
        assert_eq!(p.pipeline_depth(tq), MIN_PIPELINE);
        p.snubbed = true;
        assert_eq!(p.pipeline_depth(tq), 1);
        p.snubbed = false;
        p.reqq = 1;
        assert_eq!(p.pipeline_depth(tq), 1);
    }

    #[test]
    fn cancelled_list_is_bounded_and_overflow_is_tolerated_once_each() {
        let mut p = Peer::new(1u32, 10);
        for i in 0..MAX_CANCELLED_REMEMBERED as u32 + 3 {
            p.remember_cancelled(i, 0);
        }
        assert_eq!(p.cancelled.len(), MAX_CANCELLED_REMEMBERED);
        assert!(p.take_cancelled(5, 0));
        // Three entries were pushed out: three unmatched answers pass, the fourth does not.
        assert!(p.take_cancelled(0, 0) && p.take_cancelled(0, 0) && p.take_cancelled(0, 0));
        assert!(!p.take_cancelled(0, 0));
    }

    #[test]
    fn slow_start_ends_when_rate_stops_growing() {
        let t0 = crate::picker::test_epoch();
        let mut p = Peer::new(1u32, 10);
        // 10 blocks per second for 4 seconds: flat rate.
        for i in 0..40u64 {
            p.record_block(BLOCK_SIZE, t0 + Duration::from_millis(i * 100));
        }
        assert!(!p.slow_start);
        assert!(p.rate > 100_000 && p.rate < 250_000, "rate {}", p.rate);
    }
}
