//! One torrent: its sans-I/O [`TorrentCore`], the driver task that runs it, its announcer, and
//! the [`TorrentHandle`] the outside world holds.

mod announcer;
mod core;
#[cfg(test)]
mod core_tests;
mod driver;
mod pex;
mod sources;
mod startup;
mod stats;
mod upload;
mod verify;

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use announcer::{
    AnnouncerEvent, FIRST_RETRY_DELAY, MAX_RETRY_DELAY, MIN_ANNOUNCE_INTERVAL, NUM_WANT,
    STOPPED_TIMEOUT,
};
pub use core::{
    Action, ConnId, CoreCounters, OUR_REQQ, PieceCheck, SPARE_BUFFER_BYTES, TorrentCore,
};
pub use driver::{CONNECTS_PER_TICK, DriverEvent, EVENT_QUEUE, MAX_KNOWN_PEERS};
pub use pex::{
    MAX_PEX_ADDED, MAX_PEX_DROPPED, MAX_PEX_LEARN_PER_MESSAGE, MAX_PEX_LEARNED, OUR_UT_PEX_ID,
    PEX_INTERVAL, PEX_RECV_BURST, PEX_RECV_INTERVAL,
};
pub use sources::PeerSources;
pub use stats::{StatsSnapshot, TorrentState, TorrentStats};

pub(crate) use announcer::Announcer;
pub(crate) use driver::{Driver, DriverParts};
pub use startup::{StartupCheck, initial_check, save_resume};

/// A running torrent. Dropping the handle does not stop it; call [`TorrentHandle::stop`].
pub struct TorrentHandle {
    pub(crate) stats: Arc<TorrentStats>,
    pub(crate) state: watch::Receiver<TorrentState>,
    pub(crate) events: mpsc::Sender<DriverEvent>,
    pub(crate) cancel: CancellationToken,
    pub(crate) tasks: Vec<tokio::task::JoinHandle<()>>,
    pub(crate) name: String,
}

impl TorrentHandle {
    /// The torrent's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Live counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Waits until the torrent is complete, stopped or failed, and returns that state.
    pub async fn wait_finished(&mut self) -> TorrentState {
        loop {
            let s = *self.state.borrow_and_update();
            if matches!(
                s,
                TorrentState::Complete | TorrentState::Stopped | TorrentState::Failed
            ) {
                return s;
            }
            if self.state.changed().await.is_err() {
                return self.stats.state();
            }
        }
    }

    /// Adds peer addresses to try (e.g. `--peer` on the command line).
    pub async fn add_peers(&self, peers: Vec<std::net::SocketAddr>) {
        let _ = self.events.send(DriverEvent::AddPeers(peers)).await;
    }

    /// Stops the torrent: closes connections, announces `stopped` (bounded), waits for its tasks.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}
