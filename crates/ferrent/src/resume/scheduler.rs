//! [`ResumeScheduler`]: *when* to save resume data. Sans-I/O: time comes in as `now`.
#![deny(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

/// Default time between two saves while pieces keep arriving ("every few seconds", issue 4). Each
/// save costs an `fdatasync` of the files written meanwhile plus a small file write and two
/// `fsync`s; 5 s bounds the work a crash can lose to what arrives in 5 s.
pub const DEFAULT_SAVE_INTERVAL: Duration = Duration::from_secs(5);

/// Decides when a torrent's resume data is saved: at most once per interval, only when pieces were
/// written (or the bitfield otherwise changed) since the last successful save, and at exit.
///
/// # Driving contract
/// - [`ResumeScheduler::record_change`] each time [`crate::Storage::write_piece`] returned `Ok`
///   for a verified piece, and once after a recheck produced a new bitfield (so it is saved).
/// - Arm a timer at [`ResumeScheduler::poll_timeout`]; when it fires (or on any tick), if
///   [`ResumeScheduler::should_save`]`(now)`, call [`ResumeScheduler::begin_save`]`(now)` and
///   **in the same step** copy the bitfield of written pieces; then `Storage::sync`, `stat_files`,
///   build, [`super::save_atomic`] (the order in the [module doc](super)), and finally
///   [`ResumeScheduler::save_done`] with the ticket and whether everything returned `Ok`.
/// - At exit: wait for a save in flight, stop writing, then if [`ResumeScheduler::is_dirty`] do
///   one last save the same way (`begin_save` works whatever the interval).
///
/// Changes recorded while a save is in flight are not covered by its ticket, so they keep the
/// scheduler dirty for the next one. A failed save leaves it dirty and is retried one interval
/// after it began.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ferrent::resume::ResumeScheduler;
/// # #[allow(clippy::disallowed_methods)]
/// let t0 = Instant::now();
/// let mut s = ResumeScheduler::new(t0, Duration::from_secs(5));
/// assert_eq!(s.poll_timeout(), None); // nothing to save
/// s.record_change(); // a piece was written
/// assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(5)));
/// let now = t0 + Duration::from_secs(5);
/// assert!(s.should_save(now));
/// let ticket = s.begin_save(now).expect("no save in flight");
/// // ... snapshot bitfield, storage.sync(), stat_files(), save_atomic() ...
/// s.save_done(ticket, now, true);
/// assert!(!s.is_dirty());
/// ```
#[derive(Debug, Clone)]
pub struct ResumeScheduler {
    interval: Duration,
    /// Changes recorded so far (monotonic).
    changes: u64,
    /// `changes` as of the snapshot of the last successful save.
    saved: u64,
    /// Whether a save is between `begin_save` and `save_done`.
    in_flight: bool,
    /// Earliest time of the next periodic save.
    next_due: Instant,
}

/// Proof that a save began: its snapshot point. Give it back to [`ResumeScheduler::save_done`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "give the ticket back to ResumeScheduler::save_done"]
pub struct SaveTicket {
    changes: u64,
    started: Instant,
}

impl ResumeScheduler {
    /// A scheduler with nothing to save; the first periodic save is due one `interval` after
    /// `now` (an interval of zero saves on every tick with changes).
    pub fn new(now: Instant, interval: Duration) -> ResumeScheduler {
        ResumeScheduler {
            interval,
            changes: 0,
            saved: 0,
            in_flight: false,
            next_due: now.checked_add(interval).unwrap_or(now),
        }
    }

    /// The save interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The set of durable-to-be pieces changed: a verified piece was written (call after
    /// `write_piece` returned `Ok`), or a recheck replaced the bitfield.
    pub fn record_change(&mut self) {
        self.changes = self.changes.saturating_add(1);
    }

    /// Whether changes were recorded since the snapshot of the last successful save.
    pub fn is_dirty(&self) -> bool {
        self.changes > self.saved
    }

    /// Whether a save is in flight.
    pub fn is_saving(&self) -> bool {
        self.in_flight
    }

    /// When the next periodic save is due: `None` when there is nothing to save or a save is in
    /// flight (the engine polls again after [`ResumeScheduler::save_done`] or
    /// [`ResumeScheduler::record_change`]).
    pub fn poll_timeout(&self) -> Option<Instant> {
        (self.is_dirty() && !self.in_flight).then_some(self.next_due)
    }

    /// Whether a periodic save should begin at `now`.
    pub fn should_save(&self, now: Instant) -> bool {
        self.poll_timeout().is_some_and(|due| now >= due)
    }

    /// Marks the snapshot point of a save (periodic or final): the engine copies its bitfield
    /// of written pieces in the same step. `None` while another save is in flight.
    pub fn begin_save(&mut self, now: Instant) -> Option<SaveTicket> {
        if self.in_flight {
            return None;
        }
        self.in_flight = true;
        Some(SaveTicket {
            changes: self.changes,
            started: now,
        })
    }

    /// The save of `ticket` finished at `now`: `ok` when sync, stat and [`super::save_atomic`]
    /// all returned `Ok`. The next periodic save is due one interval after this one began (at
    /// once if it took longer).
    pub fn save_done(&mut self, ticket: SaveTicket, now: Instant, ok: bool) {
        self.in_flight = false;
        if ok {
            self.saved = self.saved.max(ticket.changes);
        }
        self.next_due = ticket.started.checked_add(self.interval).unwrap_or(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::disallowed_methods)]
    fn t0() -> Instant {
        Instant::now()
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn nothing_written_nothing_due() {
        let t = t0();
        let s = ResumeScheduler::new(t, 5 * S);
        assert_eq!(s.poll_timeout(), None);
        assert!(!s.should_save(t + 100 * S));
        assert!(!s.is_dirty());
    }

    #[test]
    fn saves_after_interval_only_when_dirty() {
        let t = t0();
        let mut s = ResumeScheduler::new(t, 5 * S);
        s.record_change();
        assert!(!s.should_save(t + 4 * S));
        assert!(s.should_save(t + 5 * S));
        let k = s.begin_save(t + 5 * S).expect("ticket");
        assert_eq!(s.poll_timeout(), None, "nothing due while in flight");
        s.save_done(k, t + 6 * S, true);
        assert!(!s.is_dirty());
        assert_eq!(s.poll_timeout(), None);
        // A new piece: due one interval after the previous save began.
        s.record_change();
        assert_eq!(s.poll_timeout(), Some(t + 10 * S));
        assert!(!s.should_save(t + 9 * S));
        assert!(s.should_save(t + 10 * S));
    }

    #[test]
    fn change_during_save_stays_dirty() {
        let t = t0();
        let mut s = ResumeScheduler::new(t, 5 * S);
        s.record_change();
        let k = s.begin_save(t + 5 * S).expect("ticket");
        s.record_change(); // written after the snapshot: not claimed by this save
        s.save_done(k, t + 6 * S, true);
        assert!(s.is_dirty());
        assert_eq!(s.poll_timeout(), Some(t + 10 * S));
    }

    #[test]
    fn failed_save_stays_dirty_and_retries() {
        let t = t0();
        let mut s = ResumeScheduler::new(t, 5 * S);
        s.record_change();
        let k = s.begin_save(t + 5 * S).expect("ticket");
        s.save_done(k, t + 6 * S, false);
        assert!(s.is_dirty());
        assert_eq!(s.poll_timeout(), Some(t + 10 * S));
    }

    #[test]
    fn one_save_in_flight_at_a_time() {
        let t = t0();
        let mut s = ResumeScheduler::new(t, 5 * S);
        s.record_change();
        let k = s
            .begin_save(t)
            .expect("final save works before the interval");
        assert!(s.begin_save(t).is_none());
        assert!(s.is_saving());
        s.save_done(k, t, true);
        assert!(!s.is_saving());
        assert!(s.begin_save(t).is_some());
    }

    #[test]
    fn slow_save_makes_the_next_due_at_once() {
        let t = t0();
        let mut s = ResumeScheduler::new(t, 5 * S);
        s.record_change();
        let k = s.begin_save(t + 5 * S).expect("ticket");
        s.record_change();
        s.save_done(k, t + 20 * S, true);
        assert!(s.should_save(t + 20 * S), "due 10 s, already past");
    }
}
