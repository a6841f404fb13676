//! Live statistics of a torrent, written by its driver and read by anyone (the CLI's progress
//! bar, the announcer) without locking.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

/// Where a torrent is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TorrentState {
    /// Checking data already on disk.
    Checking,
    /// Fetching pieces.
    Downloading,
    /// Every wanted piece is verified and written.
    Complete,
    /// Stopped by the user.
    Stopped,
    /// Stopped by an error (see [`TorrentStats::error`]).
    Failed,
}

impl TorrentState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => TorrentState::Checking,
            1 => TorrentState::Downloading,
            2 => TorrentState::Complete,
            3 => TorrentState::Stopped,
            _ => TorrentState::Failed,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            TorrentState::Checking => 0,
            TorrentState::Downloading => 1,
            TorrentState::Complete => 2,
            TorrentState::Stopped => 3,
            TorrentState::Failed => 4,
        }
    }
}

/// Counters shared between a torrent's driver and its observers.
#[derive(Debug, Default)]
pub struct TorrentStats {
    state: AtomicU8,
    pub(crate) downloaded: AtomicU64,
    pub(crate) uploaded: AtomicU64,
    pub(crate) wasted: AtomicU64,
    pub(crate) verified_bytes: AtomicU64,
    pub(crate) wanted_bytes: AtomicU64,
    pub(crate) total_bytes: AtomicU64,
    pub(crate) pieces_have: AtomicU32,
    pub(crate) pieces_total: AtomicU32,
    pub(crate) pieces_resumed: AtomicU32,
    pub(crate) hash_failures: AtomicU32,
    pub(crate) peers_connected: AtomicU32,
    pub(crate) peers_known: AtomicU32,
    pub(crate) peers_banned: AtomicU32,
    pub(crate) checked_pieces: AtomicU64,
    error: Mutex<Option<String>>,
    tracker_error: Mutex<Option<String>>,
}

/// A consistent-enough copy of [`TorrentStats`] at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// The state.
    pub state: TorrentState,
    /// Payload bytes received (accepted blocks).
    pub downloaded: u64,
    /// Payload bytes sent.
    pub uploaded: u64,
    /// Payload bytes received but not needed.
    pub wasted: u64,
    /// Bytes of verified pieces.
    pub verified_bytes: u64,
    /// Bytes of wanted pieces (all pieces unless some files are skipped).
    pub wanted_bytes: u64,
    /// Size of the torrent.
    pub total_bytes: u64,
    /// Verified pieces.
    pub pieces_have: u32,
    /// Pieces in the torrent.
    pub pieces_total: u32,
    /// Pieces found verified on disk at start.
    pub pieces_resumed: u32,
    /// Pieces that failed their hash.
    pub hash_failures: u32,
    /// Peers connected now.
    pub peers_connected: u32,
    /// Peer addresses known.
    pub peers_known: u32,
    /// Addresses banned for sending data that failed hash checks.
    pub peers_banned: u32,
    /// Pieces looked at so far by the start-up check.
    pub checked_pieces: u64,
    /// Why the torrent failed, when it did.
    pub error: Option<String>,
    /// Why every tracker failed in the last round, if they did.
    pub tracker_error: Option<String>,
}

impl TorrentStats {
    /// The current state.
    pub fn state(&self) -> TorrentState {
        TorrentState::from_u8(self.state.load(Ordering::Acquire))
    }

    pub(crate) fn set_state(&self, s: TorrentState) {
        self.state.store(s.to_u8(), Ordering::Release);
    }

    pub(crate) fn fail(&self, error: String) {
        if let Ok(mut e) = self.error.lock() {
            e.get_or_insert(error);
        }
        self.set_state(TorrentState::Failed);
    }

    pub(crate) fn set_tracker_error(&self, e: Option<String>) {
        if let Ok(mut t) = self.tracker_error.lock() {
            *t = e;
        }
    }

    /// Why the last announce round failed at every tracker (`None` once one answers).
    pub fn tracker_error(&self) -> Option<String> {
        self.tracker_error.lock().ok().and_then(|e| e.clone())
    }

    /// Why the torrent failed, if it did.
    pub fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }

    /// Bytes still missing of the wanted pieces (what trackers call `left`).
    pub fn left(&self) -> u64 {
        let wanted = self.wanted_bytes.load(Ordering::Relaxed);
        wanted.saturating_sub(self.verified_bytes.load(Ordering::Relaxed))
    }

    /// A copy of every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let r32 = |a: &AtomicU32| a.load(Ordering::Relaxed);
        StatsSnapshot {
            state: self.state(),
            downloaded: r(&self.downloaded),
            uploaded: r(&self.uploaded),
            wasted: r(&self.wasted),
            verified_bytes: r(&self.verified_bytes),
            wanted_bytes: r(&self.wanted_bytes),
            total_bytes: r(&self.total_bytes),
            pieces_have: r32(&self.pieces_have),
            pieces_total: r32(&self.pieces_total),
            pieces_resumed: r32(&self.pieces_resumed),
            hash_failures: r32(&self.hash_failures),
            peers_connected: r32(&self.peers_connected),
            peers_known: r32(&self.peers_known),
            peers_banned: r32(&self.peers_banned),
            checked_pieces: r(&self.checked_pieces),
            error: self.error(),
            tracker_error: self.tracker_error(),
        }
    }
}
