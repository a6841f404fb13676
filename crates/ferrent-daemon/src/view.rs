//! [`TorrentView`]: one torrent as the API shows it (the JSON of `GET /api/torrents`).

use ferrent::{StatsSnapshot, TorrentState};
use serde::Serialize;

/// One torrent as the API and the event stream show it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TorrentView {
    /// The info-hash the torrent is known by, 40 lower-case hex digits (the v1 hash, or the
    /// truncated v2 hash of a v2-only torrent: what peers use on the wire).
    pub info_hash: String,
    /// Its name (a magnet's `dn`, or the info-hash, until the metadata arrives).
    pub name: String,
    /// `fetching metadata`, `checking`, `downloading`, `seeding` (complete and serving peers),
    /// `stopped` or `error`.
    pub state: &'static str,
    /// Why it is in state `error`.
    pub error: Option<String>,
    /// Size of the content in bytes (0 while the metadata is missing).
    pub total_bytes: u64,
    /// Bytes of verified pieces.
    pub have_bytes: u64,
    /// `have_bytes` over the bytes wanted, 0.0 to 1.0.
    pub progress: f64,
    /// Whether every piece is verified.
    pub complete: bool,
    /// Payload bytes received since the torrent last started.
    pub downloaded: u64,
    /// Payload bytes sent since the torrent last started.
    pub uploaded: u64,
    /// Bytes per second received, over the last seconds.
    pub download_rate: u64,
    /// Bytes per second sent, over the last seconds.
    pub upload_rate: u64,
    /// Peers connected now.
    pub peers: u32,
    /// Verified pieces.
    pub pieces_have: u32,
    /// Pieces in the torrent (0 while the metadata is missing).
    pub pieces_total: u32,
}

/// The answer to `DELETE /api/torrents/{infohash}`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Removed {
    /// The info-hash removed.
    pub info_hash: String,
    /// Files of its data deleted (0 unless `delete_data=true`).
    pub deleted_files: usize,
}

/// Where a torrent is, as the daemon tracks it (the engine's state while it runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// A magnet link's metadata is being fetched.
    Fetching,
    /// The engine is opening it and checking the data on disk.
    Starting,
    /// The engine runs it.
    Running,
    /// Stopped by the user (or not started).
    Stopped,
    /// Failed to fetch, start or run.
    Failed,
}

impl TorrentView {
    /// The view of a torrent in `phase` with its last `stats` (if it ever ran) and rates.
    pub(crate) fn build(
        info_hash: String,
        name: String,
        phase: Phase,
        error: Option<String>,
        stats: Option<&StatsSnapshot>,
        total: (u64, u32),
        rates: (u64, u64),
    ) -> TorrentView {
        let running = phase == Phase::Running;
        let engine = stats.map(|s| s.state);
        let (state, error) = match phase {
            Phase::Fetching => ("fetching metadata", None),
            Phase::Starting => ("checking", None),
            Phase::Stopped => ("stopped", None),
            Phase::Failed => ("error", error),
            Phase::Running => match engine {
                Some(TorrentState::Checking) => ("checking", None),
                Some(TorrentState::Complete) => ("seeding", None),
                Some(TorrentState::Stopped) => ("stopped", None),
                Some(TorrentState::Failed) => {
                    ("error", stats.and_then(|s| s.error.clone()).or(error))
                }
                Some(TorrentState::Downloading) | None => ("downloading", None),
            },
        };
        let have = stats.map_or(0, |s| s.verified_bytes);
        let wanted = stats.map_or(total.0, |s| s.wanted_bytes);
        let pieces_total = stats.map_or(total.1, |s| s.pieces_total);
        let pieces_have = stats.map_or(0, |s| s.pieces_have);
        let progress = if wanted == 0 {
            if pieces_total > 0 { 1.0 } else { 0.0 }
        } else {
            (have as f64 / wanted as f64).min(1.0)
        };
        TorrentView {
            info_hash,
            name,
            state,
            error,
            total_bytes: stats.map_or(total.0, |s| s.total_bytes),
            have_bytes: have,
            progress,
            complete: pieces_total > 0 && pieces_have == pieces_total,
            downloaded: stats.map_or(0, |s| s.downloaded),
            uploaded: stats.map_or(0, |s| s.uploaded),
            download_rate: if running { rates.0 } else { 0 },
            upload_rate: if running { rates.1 } else { 0 },
            peers: if running {
                stats.map_or(0, |s| s.peers_connected)
            } else {
                0
            },
            pieces_have,
            pieces_total,
        }
    }
}
