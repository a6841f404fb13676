//! [`AnnounceSchedule`]: when a running torrent next asks the DHT for peers and announces
//! itself (BEP 5). Sans-I/O: time comes in as `now`, so tests drive it with a fake clock.
#![deny(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

/// Default period between a torrent's DHT announces (libtorrent's `dht_announce_interval` is
/// 15 minutes; announced peers expire from other nodes after 30).
pub const DEFAULT_ANNOUNCE_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// Delay before retrying a lookup that reached no node (the table was still empty, or every
/// query timed out); capped by the interval itself.
pub const RETRY_DELAY: Duration = Duration::from_secs(60);

/// Longest one lookup is waited for before the schedule moves on (a lookup normally converges
/// in seconds; its queries time out after 3 s each).
pub const LOOKUP_DEADLINE: Duration = Duration::from_secs(120);

/// The state of one torrent's periodic lookup: due at start, then every `interval` after the
/// previous one ended; a lookup that reached nobody is retried sooner.
#[derive(Debug, Clone)]
pub struct AnnounceSchedule {
    interval: Duration,
    next: Instant,
    running: Option<Instant>,
}

impl AnnounceSchedule {
    /// A schedule whose first lookup is due at `now`.
    pub fn new(now: Instant, interval: Duration) -> Self {
        AnnounceSchedule {
            interval: interval.max(Duration::from_millis(1)),
            next: now,
            running: None,
        }
    }

    /// Whether a lookup should start now; if so it is marked running (call
    /// [`done`](Self::done) when it ends).
    pub fn poll_start(&mut self, now: Instant) -> bool {
        if self.running.is_some() || now < self.next {
            return false;
        }
        self.running = Some(now);
        true
    }

    /// The lookup ended (`responses`: nodes that answered). The next one is due an interval
    /// later, or after [`RETRY_DELAY`] when nobody answered or it could not start.
    pub fn done(&mut self, now: Instant, responses: usize) {
        self.running = None;
        let wait = if responses == 0 {
            RETRY_DELAY.min(self.interval)
        } else {
            self.interval
        };
        self.next = now + wait;
    }

    /// When the running lookup is given up on, or when the next is due: the time to wake up.
    pub fn poll_timeout(&self) -> Instant {
        match self.running {
            Some(started) => started + LOOKUP_DEADLINE,
            None => self.next,
        }
    }

    /// Call at [`poll_timeout`](Self::poll_timeout): a lookup running past
    /// [`LOOKUP_DEADLINE`] counts as done without answers. Returns whether it expired.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.running {
            Some(started) if now >= started + LOOKUP_DEADLINE => {
                self.done(now, 0);
                true
            }
            _ => false,
        }
    }

    /// Whether a lookup is running.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests pick an arbitrary start time
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn due_at_start_then_every_interval() {
        let t0 = Instant::now();
        let mut s = AnnounceSchedule::new(t0, 15 * MIN);
        assert_eq!(s.poll_timeout(), t0);
        assert!(s.poll_start(t0));
        assert!(!s.poll_start(t0), "one lookup at a time");
        let end = t0 + Duration::from_secs(5);
        s.done(end, 8);
        assert!(!s.is_running());
        assert_eq!(s.poll_timeout(), end + 15 * MIN);
        assert!(!s.poll_start(end + 14 * MIN));
        assert!(s.poll_start(end + 15 * MIN));
        s.done(end + 15 * MIN, 3);
        assert_eq!(s.poll_timeout(), end + 30 * MIN);
    }

    #[test]
    fn no_answer_retries_sooner() {
        let t0 = Instant::now();
        let mut s = AnnounceSchedule::new(t0, 15 * MIN);
        assert!(s.poll_start(t0));
        s.done(t0, 0);
        assert_eq!(s.poll_timeout(), t0 + RETRY_DELAY);
        // A short interval (tests) is not stretched by the retry delay.
        let mut s = AnnounceSchedule::new(t0, Duration::from_secs(2));
        assert!(s.poll_start(t0));
        s.done(t0, 0);
        assert_eq!(s.poll_timeout(), t0 + Duration::from_secs(2));
    }

    #[test]
    fn stuck_lookup_expires() {
        let t0 = Instant::now();
        let mut s = AnnounceSchedule::new(t0, 15 * MIN);
        assert!(s.poll_start(t0));
        assert_eq!(s.poll_timeout(), t0 + LOOKUP_DEADLINE);
        assert!(!s.handle_timeout(t0 + LOOKUP_DEADLINE - Duration::from_secs(1)));
        assert!(s.is_running());
        let t1 = t0 + LOOKUP_DEADLINE;
        assert!(s.handle_timeout(t1));
        assert!(!s.is_running());
        assert_eq!(s.poll_timeout(), t1 + RETRY_DELAY);
        assert!(s.poll_start(t1 + RETRY_DELAY));
    }

    #[test]
    fn many_hours_on_a_fake_clock() {
        // Over 10 simulated hours with 15-minute announces that each take 10 s: 40 lookups.
        let t0 = Instant::now();
        let mut s = AnnounceSchedule::new(t0, 15 * MIN);
        let mut now = t0;
        let mut started = 0;
        while now < t0 + 600 * MIN {
            if s.poll_start(now) {
                started += 1;
                now += Duration::from_secs(10);
                s.done(now, 8);
            }
            now = s.poll_timeout().max(now);
        }
        assert_eq!(started, 40);
    }
}
