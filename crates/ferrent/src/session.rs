//! [`Session`]: the engine's entry point. It holds what torrents share (our peer id, the tracker
//! client, network settings) and starts torrents.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ferrent::{AddTorrent, Session, SessionConfig};
//! let session = Session::new(SessionConfig::default())?;
//! let meta = ferrent_core::Metainfo::from_bytes(&std::fs::read("t.torrent")?)?;
//! let mut torrent = session.add_torrent(meta, AddTorrent::new("downloads")).await?;
//! let state = torrent.wait_finished().await;
//! println!("{state:?}: {:?}", torrent.stats());
//! torrent.stop().await;
//! # Ok(()) }
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferrent_core::{Id20, Metainfo};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::announce::{TrackerClient, TrackerClientConfig, TrackerTiers};
use crate::storage::{FileState, Storage, StorageError, StorageOptions};
use crate::torrent::{
    Announcer, Driver, DriverParts, EVENT_QUEUE, TorrentCore, TorrentHandle, TorrentState,
    TorrentStats,
};

/// Default connection limit per torrent.
pub const DEFAULT_MAX_PEERS: usize = 50;

/// Settings shared by every torrent of a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Our peer id; random (`-FE0001-` + 12 random bytes) when `None`.
    pub peer_id: Option<Id20>,
    /// The port we tell trackers and peers we listen on.
    pub listen_port: u16,
    /// Local IP to bind outgoing connections and tracker sockets to (tests give each client
    /// its own 127.0.0.X).
    pub bind_ip: Option<IpAddr>,
    /// Tracker client settings.
    pub tracker: TrackerClientConfig,
    /// Connection limit per torrent.
    pub max_peers_per_torrent: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            peer_id: None,
            listen_port: 6881,
            bind_ip: None,
            tracker: TrackerClientConfig::default(),
            max_peers_per_torrent: DEFAULT_MAX_PEERS,
        }
    }
}

/// How to add one torrent.
#[derive(Debug, Clone)]
pub struct AddTorrent {
    /// The directory the torrent's files go in (its name is the top-level file or directory).
    pub save_dir: PathBuf,
    /// Peers to try besides those trackers return.
    pub peers: Vec<SocketAddr>,
}

impl AddTorrent {
    /// Download into `save_dir`.
    pub fn new(save_dir: impl Into<PathBuf>) -> Self {
        AddTorrent {
            save_dir: save_dir.into(),
            peers: Vec::new(),
        }
    }
}

/// Why a session or torrent could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// Tracker client set-up failed.
    #[error("tracker client: {0}")]
    Tracker(#[from] crate::announce::AnnounceError),
    /// The download directory or its files could not be used.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The torrent cannot be downloaded by this version.
    #[error("{0}")]
    Unsupported(String),
    /// A background task failed.
    #[error("internal task failed: {0}")]
    Task(String),
}

/// The engine: create one, add torrents to it.
pub struct Session {
    config: SessionConfig,
    peer_id: Id20,
    tracker: Arc<TrackerClient>,
}

impl Session {
    /// A session with `config`. Must be called inside a tokio runtime for later calls.
    pub fn new(mut config: SessionConfig) -> Result<Self, SessionError> {
        let peer_id = config
            .peer_id
            .unwrap_or_else(|| ferrent_proto::wire::make_peer_id(rand::random()));
        if let Some(ip) = config.bind_ip {
            if ip.is_ipv4() {
                config.tracker.udp_bind_v4 = SocketAddr::new(ip, 0);
            }
        }
        let tracker = Arc::new(TrackerClient::new(config.tracker.clone())?);
        Ok(Session {
            config,
            peer_id,
            tracker,
        })
    }

    /// Our peer id.
    pub fn peer_id(&self) -> Id20 {
        self.peer_id
    }

    /// Starts a torrent: opens its storage, checks data already present (resuming what is
    /// there), then downloads from trackers' peers and `add.peers`.
    pub async fn add_torrent(
        &self,
        meta: Metainfo,
        add: AddTorrent,
    ) -> Result<TorrentHandle, SessionError> {
        if !meta.version().has_v1() {
            return Err(SessionError::Unsupported(
                "v2-only torrents cannot be downloaded yet (no v1 piece hashes)".into(),
            ));
        }
        let meta = Arc::new(meta);
        let layout = meta.layout().clone();
        let files = meta.files().iter().map(|f| f.path()).collect();
        let storage = Arc::new(Storage::open(
            &add.save_dir,
            layout.clone(),
            files,
            StorageOptions::default(),
        )?);
        let stats = Arc::new(TorrentStats::default());
        stats
            .pieces_total
            .store(layout.num_pieces(), Ordering::Relaxed);
        stats
            .total_bytes
            .store(meta.content_length(), Ordering::Relaxed);
        stats
            .wanted_bytes
            .store(layout.total_length(), Ordering::Relaxed);
        stats.set_state(TorrentState::Checking);

        let have = check_existing(&meta, &storage, &stats).await?;
        let seed: u64 = rand::random();
        let mut core = TorrentCore::new(
            layout.num_pieces(),
            layout.piece_length(),
            layout.total_length(),
            self.peer_id,
            Some(self.config.listen_port),
            seed,
        )
        .map_err(|e| SessionError::Unsupported(format!("torrent geometry: {e}")))?;
        for piece in &have {
            let _ = core.set_have(*piece);
        }
        stats
            .pieces_resumed
            .store(have.len() as u32, Ordering::Relaxed);
        let initial = if core.is_complete() {
            TorrentState::Complete
        } else {
            TorrentState::Downloading
        };
        stats.set_state(initial);
        let (state_tx, state_rx) = watch::channel(initial);
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let cancel = CancellationToken::new();

        let own_addrs = self
            .config
            .bind_ip
            .map(|ip| vec![SocketAddr::new(ip, self.config.listen_port)])
            .unwrap_or_default();
        let driver = Driver::new(DriverParts {
            meta: meta.clone(),
            storage,
            core,
            stats: stats.clone(),
            state_tx,
            events_tx: events_tx.clone(),
            events_rx,
            peer_id: self.peer_id,
            bind_ip: self.config.bind_ip,
            own_addrs,
            max_peers: self.config.max_peers_per_torrent,
            cancel: cancel.clone(),
        });
        let mut tasks = vec![tokio::spawn(driver.run())];

        let announcer = Announcer {
            client: self.tracker.clone(),
            tiers: TrackerTiers::new(meta.trackers(), &mut rand::rng()),
            info_hash: meta.info_hash().wire_id(),
            peer_id: self.peer_id,
            port: self.config.listen_port,
            key: rand::random(),
            stats: stats.clone(),
            state: state_rx.clone(),
        };
        let (ann_tx, mut ann_rx) = mpsc::channel(16);
        tasks.push(tokio::spawn(announcer.run(ann_tx, cancel.clone())));
        // Forward announcer events into the driver's queue.
        let fwd = events_tx.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(ev) = ann_rx.recv().await {
                if fwd
                    .send(crate::torrent::DriverEvent::Announcer(ev))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }));
        if !add.peers.is_empty() {
            let _ = events_tx
                .send(crate::torrent::DriverEvent::AddPeers(add.peers))
                .await;
        }
        Ok(TorrentHandle {
            stats,
            state: state_rx,
            events: events_tx,
            cancel,
            tasks,
            name: meta.name().to_owned(),
        })
    }
}

/// Hashes whatever data is already on disk (all cores) and returns the verified pieces. Skipped
/// entirely when no file exists yet.
async fn check_existing(
    meta: &Arc<Metainfo>,
    storage: &Arc<Storage>,
    stats: &Arc<TorrentStats>,
) -> Result<Vec<u32>, SessionError> {
    let storage = storage.clone();
    let meta = meta.clone();
    let stats = stats.clone();
    tokio::task::spawn_blocking(move || {
        storage.prepare()?;
        let present = storage
            .stat_files()?
            .iter()
            .any(|f| matches!(f, FileState::Present { len, .. } if *len > 0));
        if !present {
            return Ok(Vec::new());
        }
        let hashes: Vec<[u8; 20]> = meta
            .layout()
            .pieces()
            .map(|p| meta.piece_hash_v1(p).map(|h| h.0).unwrap_or([0; 20]))
            .collect();
        let cancel = AtomicBool::new(false);
        let bits = storage.recheck(&hashes, 0, &stats.checked_pieces, &cancel)?;
        Ok(bits.ones().collect())
    })
    .await
    .map_err(|e| SessionError::Task(e.to_string()))?
}
