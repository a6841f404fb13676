//! The announce loop of one torrent: BEP 12 order over its trackers, `started` first,
//! `completed` once, re-announce on the tracker's interval, `stopped` on the way out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ferrent_core::Id20;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::stats::{TorrentState, TorrentStats};
use crate::announce::{AnnounceParams, Event, TrackerClient, TrackerTiers};

/// Shortest re-announce interval we honour, whatever a tracker says: protects trackers from a
/// misconfigured interval of 0. Tests run trackers with intervals of a few seconds.
pub const MIN_ANNOUNCE_INTERVAL: Duration = Duration::from_secs(2);

/// Retry delay after every tracker failed, doubled per failure up to
/// [`MAX_RETRY_DELAY`].
pub const FIRST_RETRY_DELAY: Duration = Duration::from_secs(5);

/// Longest retry delay after failures.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

/// How long the final `stopped` announce may take before we give up on it.
pub const STOPPED_TIMEOUT: Duration = Duration::from_secs(5);

/// Peers asked for per announce.
pub const NUM_WANT: u32 = 200;

/// What the announcer tells its torrent.
#[derive(Debug)]
pub enum AnnouncerEvent {
    /// Peers from a tracker.
    Peers(Vec<SocketAddr>),
    /// Every tracker failed this round (the messages, one per tracker).
    AllFailed(Vec<String>),
}

pub(crate) struct Announcer {
    pub client: Arc<TrackerClient>,
    pub tiers: TrackerTiers,
    pub info_hash: Id20,
    pub peer_id: Id20,
    pub port: u16,
    pub key: u32,
    pub stats: Arc<TorrentStats>,
    pub state: watch::Receiver<TorrentState>,
}

impl Announcer {
    fn params(&self, event: Event) -> AnnounceParams {
        AnnounceParams {
            info_hash: self.info_hash,
            peer_id: self.peer_id,
            port: self.port,
            uploaded: self.stats.uploaded.load(Ordering::Relaxed),
            downloaded: self.stats.downloaded.load(Ordering::Relaxed),
            left: self.stats.left(),
            event,
            num_want: if event == Event::Stopped { 0 } else { NUM_WANT },
            key: self.key,
        }
    }

    /// One round: the trackers in BEP 12 order until one answers.
    async fn round(&mut self, event: Event) -> Result<(Vec<SocketAddr>, Duration), Vec<String>> {
        let params = self.params(event);
        let mut errors = Vec::new();
        for url in self.tiers.attempt_order() {
            match self.client.announce(&url, &params).await {
                Ok(outcome) => {
                    self.tiers.succeeded(&url);
                    if let Some(w) = &outcome.warning {
                        tracing::warn!(tracker = %url, "tracker warning: {w}");
                    }
                    let interval = outcome
                        .min_interval
                        .map_or(outcome.interval, |m| outcome.interval.max(m))
                        .max(MIN_ANNOUNCE_INTERVAL);
                    tracing::debug!(tracker = %url, peers = outcome.peers.len(), "announced");
                    return Ok((outcome.peers, interval));
                }
                Err(e) => {
                    tracing::debug!(tracker = %url, "announce failed: {e}");
                    errors.push(format!("{url}: {e}"));
                }
            }
        }
        Err(errors)
    }

    /// Runs until `cancel`; then sends `stopped` (bounded by [`STOPPED_TIMEOUT`]).
    pub async fn run(mut self, events: mpsc::Sender<AnnouncerEvent>, cancel: CancellationToken) {
        if self.tiers.is_empty() {
            return;
        }
        let mut event = Event::Started;
        let mut started_ok = false;
        let mut completed_sent = *self.state.borrow() == TorrentState::Complete;
        let mut retry = FIRST_RETRY_DELAY;
        loop {
            let wait = match self.round(event).await {
                Ok((peers, interval)) => {
                    started_ok = true;
                    if event == Event::Completed {
                        completed_sent = true;
                    }
                    retry = FIRST_RETRY_DELAY;
                    event = Event::None;
                    if events.send(AnnouncerEvent::Peers(peers)).await.is_err() {
                        return;
                    }
                    interval
                }
                Err(errors) => {
                    if events
                        .send(AnnouncerEvent::AllFailed(errors))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let w = retry;
                    retry = (retry * 2).min(MAX_RETRY_DELAY);
                    w
                }
            };
            let sleep = tokio::time::sleep(wait);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => {
                        if started_ok {
                            let _ = tokio::time::timeout(STOPPED_TIMEOUT, self.round(Event::Stopped)).await;
                        }
                        return;
                    }
                    _ = &mut sleep => break,
                    changed = self.state.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let complete = *self.state.borrow() == TorrentState::Complete;
                        if complete && !completed_sent && started_ok {
                            // BEP 3: `completed` once, as soon as the download finishes.
                            event = Event::Completed;
                            break;
                        }
                    }
                }
            }
        }
    }
}
