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

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use ferrent_core::{Id20, Metainfo};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::announce::{TrackerClient, TrackerClientConfig, TrackerTiers};
use crate::storage::{Storage, StorageError, StorageOptions};
use crate::torrent::{
    Announcer, Driver, DriverEvent, DriverParts, EVENT_QUEUE, PeerSources, TorrentCore,
    TorrentHandle, TorrentState, TorrentStats,
};
use ferrent_proto::wire::{Handshake, Reserved};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// Default connection limit per torrent.
pub const DEFAULT_MAX_PEERS: usize = 50;

/// Longest a magnet link waits for DHT peers (bootstrap plus one lookup).
pub const DHT_LOOKUP_TIME: std::time::Duration = std::time::Duration::from_secs(15);

/// Once a DHT lookup has found peers, how much longer it may run before the metadata fetch
/// starts with what it has: the rest of a lookup can be queries to dead nodes, each waiting
/// [`crate::dht::QUERY_TIMEOUT`].
pub const DHT_PEERS_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// Settings shared by every torrent of a session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Our peer id; random (`-FE0001-` + 12 random bytes) when `None`.
    pub peer_id: Option<Id20>,
    /// The port we tell trackers and peers we listen on (replaced by the bound port when
    /// `listen` is set).
    pub listen_port: u16,
    /// Where to accept incoming peer connections (`None`: no listener). Port 0 picks one.
    pub listen: Option<SocketAddr>,
    /// Local IP to bind outgoing connections and tracker sockets to (tests give each client
    /// its own 127.0.0.X).
    pub bind_ip: Option<IpAddr>,
    /// Tracker client settings.
    pub tracker: TrackerClientConfig,
    /// Connection limit per torrent.
    pub max_peers_per_torrent: usize,
    /// DHT nodes to bootstrap from (BEP 5). Empty: no DHT. There is deliberately no default
    /// here: front ends choose (tests give loopback nodes only).
    pub dht_bootstrap: Vec<SocketAddr>,
    /// Where the DHT routing table is kept between runs (loaded at start as extra bootstrap
    /// nodes, saved every [`dht_save_interval`](Self::dht_save_interval) and by
    /// [`Session::shutdown`]). `None`: not kept. Used only when the DHT is on.
    pub dht_state_file: Option<PathBuf>,
    /// Period between the routing table's background saves.
    pub dht_save_interval: std::time::Duration,
    /// Period of each running torrent's DHT get_peers + announce (BEP 5).
    pub dht_announce_interval: std::time::Duration,
    /// Local Service Discovery (BEP 14) on 239.192.152.143:6771. Off by default.
    pub lsd: bool,
    /// Period of each torrent's LSD announce.
    pub lsd_interval: std::time::Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            peer_id: None,
            listen_port: 6881,
            listen: None,
            bind_ip: None,
            tracker: TrackerClientConfig::default(),
            max_peers_per_torrent: DEFAULT_MAX_PEERS,
            dht_bootstrap: Vec::new(),
            dht_state_file: None,
            dht_save_interval: crate::dht::DEFAULT_SAVE_INTERVAL,
            dht_announce_interval: crate::dht::DEFAULT_ANNOUNCE_INTERVAL,
            lsd: false,
            lsd_interval: crate::lsd::DEFAULT_LSD_INTERVAL,
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
    /// Only upload: never request pieces (what `ferrent seed` does with partial data).
    pub upload_only: bool,
    /// Priority of each file by index (as `ferrent info` numbers them; 0 = skip, 1-7 = get,
    /// higher first). `None`: every file at the default priority. A piece gets the highest
    /// priority of the files it overlaps, so pieces shared with a wanted file are fetched.
    pub file_priorities: Option<Vec<u8>>,
    /// Where the crash-safe resume file lives (`None`: beside the data, in `save_dir`; see
    /// [`crate::resume`]).
    pub resume_dir: Option<PathBuf>,
}

impl AddTorrent {
    /// Download into `save_dir`.
    pub fn new(save_dir: impl Into<PathBuf>) -> Self {
        AddTorrent {
            save_dir: save_dir.into(),
            peers: Vec::new(),
            upload_only: false,
            file_priorities: None,
            resume_dir: None,
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
    /// The metadata of a magnet link could not be had or is invalid.
    #[error("magnet link: {0}")]
    Magnet(String),
    /// The listen socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file of the torrent would sit where ferrent keeps its own files in the download
    /// directory ([`crate::resume::is_reserved_name`]).
    #[error(
        "the torrent's file {path:?} has a name ferrent keeps for its own files in the download directory (resume data, DHT table); refusing to save it there"
    )]
    ReservedPath {
        /// The file's path in the torrent.
        path: PathBuf,
    },
    /// A background task failed.
    #[error("internal task failed: {0}")]
    Task(String),
    /// The DHT's UDP socket could not be opened.
    #[error("cannot start the DHT: {0}")]
    Dht(std::io::Error),
    /// The Local Service Discovery sockets could not be opened.
    #[error("cannot start local service discovery (BEP 14, UDP 6771): {0}")]
    Lsd(std::io::Error),
}

/// Where incoming connections are routed: the torrents by the 20-byte info-hash of their
/// handshake.
type Registry = Arc<Mutex<HashMap<Id20, mpsc::Sender<DriverEvent>>>>;

/// Incoming connections whose handshake is being read at once; more wait in the kernel's
/// accept queue. Bounds the memory a connection flood can take.
pub const MAX_PENDING_HANDSHAKES: usize = 64;

/// The engine: create one, add torrents to it.
pub struct Session {
    config: SessionConfig,
    peer_id: Id20,
    tracker: Arc<TrackerClient>,
    registry: Registry,
    local_addr: Option<SocketAddr>,
    cancel: CancellationToken,
    /// The DHT node, when [`SessionConfig::dht_bootstrap`] is set.
    dht: Option<Arc<crate::dht::DhtService>>,
    /// Local Service Discovery, when [`SessionConfig::lsd`] is set and there is a listener.
    lsd: Option<Arc<crate::lsd::Lsd>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
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
            config.tracker.http_bind = Some(ip);
        }

        let tracker = Arc::new(TrackerClient::new(config.tracker.clone())?);
        let registry: Registry = Arc::default();
        let cancel = CancellationToken::new();
        let mut local_addr = None;
        if let Some(addr) = config.listen {
            let listener = bind_listener(addr)?;
            let bound = listener
                .local_addr()
                .map_err(|e| SessionError::Listen { addr, source: e })?;
            config.listen_port = bound.port();
            local_addr = Some(bound);
            let ours = (peer_id, TorrentCore::our_reserved());
            tokio::spawn(accept_loop(
                listener,
                registry.clone(),
                ours,
                cancel.clone(),
            ));
        }
        let dht = if config.dht_bootstrap.is_empty() {
            None
        } else {
            let ip = config.bind_ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
            let svc = crate::dht::DhtService::start(crate::dht::DhtServiceConfig {
                bind: SocketAddr::new(ip, 0),
                bootstrap: config.dht_bootstrap.clone(),
                state_file: config.dht_state_file.clone(),
                save_interval: config.dht_save_interval,
            })
            .map_err(SessionError::Dht)?;
            Some(Arc::new(svc))
        };
        let lsd = match (config.lsd, local_addr) {
            (true, Some(bound)) => {
                let mut lc = crate::lsd::LsdConfig::new(config.bind_ip, bound.port());
                lc.interval = config.lsd_interval;
                Some(Arc::new(
                    crate::lsd::Lsd::start(lc).map_err(SessionError::Lsd)?,
                ))
            }
            (true, None) => {
                tracing::warn!("LSD needs a listener to announce: off");
                None
            }
            _ => None,
        };
        Ok(Session {
            config,
            peer_id,
            tracker,
            registry,
            local_addr,
            cancel,
            dht,
            lsd,
        })
    }

    /// Saves what should outlive the process: the DHT routing table (when
    /// [`SessionConfig::dht_state_file`] is set). Call before exiting; errors are logged.
    pub async fn shutdown(&self) {
        if let Some(dht) = &self.dht {
            match dht.save().await {
                Ok(n) => tracing::debug!(nodes = n, "DHT table saved at exit"),
                Err(e) => tracing::warn!("saving the DHT table: {e}"),
            }
        }
    }

    /// The DHT service, when the DHT is on.
    pub fn dht(&self) -> Option<&Arc<crate::dht::DhtService>> {
        self.dht.as_ref()
    }

    /// Local Service Discovery, when it is on.
    pub fn lsd(&self) -> Option<&Arc<crate::lsd::Lsd>> {
        self.lsd.as_ref()
    }

    /// The address the listener is bound to, if there is one.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// Our peer id.
    pub fn peer_id(&self) -> Id20 {
        self.peer_id
    }

    /// The metadata (info dictionary) of a magnet link, from its `x.pe` peers, `extra_peers`
    /// and the peers its `tr` trackers return (BEP 9). The result carries the magnet's trackers
    /// and web seeds; hand it to [`Session::add_torrent`] with the peers returned beside it
    /// (those found for the metadata, to download from).
    pub async fn fetch_magnet_metadata(
        &self,
        magnet: &ferrent_core::Magnet,
        extra_peers: &[SocketAddr],
    ) -> Result<(Metainfo, Vec<SocketAddr>), SessionError> {
        self.fetch_magnet_metadata_with(magnet, extra_peers, None)
            .await
    }

    /// [`Session::fetch_magnet_metadata`], reporting to `progress` while it runs (for a
    /// progress line). Peers whose metadata failed the info-hash are left out of the peers
    /// returned.
    pub async fn fetch_magnet_metadata_with(
        &self,
        magnet: &ferrent_core::Magnet,
        extra_peers: &[SocketAddr],
        progress: Option<&crate::metadata::MetadataProgress>,
    ) -> Result<(Metainfo, Vec<SocketAddr>), SessionError> {
        let Some(info_hash) = magnet.info_hash.v1_hash() else {
            return Err(SessionError::Unsupported(
                "v2-only magnet links are not supported yet".into(),
            ));
        };
        let mut peers: Vec<SocketAddr> = extra_peers.to_vec();
        for p in &magnet.peers {
            match p {
                ferrent_core::MagnetPeer::Addr(a) => peers.push(*a),
                ferrent_core::MagnetPeer::Host { host, port } => {
                    if let Ok(mut addrs) = tokio::net::lookup_host((host.as_str(), *port)).await {
                        peers.extend(addrs.next());
                    }
                }
            }
        }
        // One announce round for peers (BEP 12 order; we do not know `left` yet).
        let tiers: Vec<Vec<String>> = magnet.trackers.iter().map(|t| vec![t.clone()]).collect();
        let params = crate::announce::AnnounceParams {
            info_hash,
            peer_id: self.peer_id,
            port: self.config.listen_port,
            uploaded: 0,
            downloaded: 0,
            left: 1,
            event: crate::announce::Event::Started,
            num_want: crate::torrent::NUM_WANT,
            key: rand::random(),
        };
        // The order is taken before the first await: the thread-local RNG must not live across
        // one, or this future could not be spawned on a multi-threaded runtime (the daemon does).
        let order = TrackerTiers::new(tiers.clone(), &mut rand::rng()).attempt_order();
        for url in order {
            match self.tracker.announce(&url, &params).await {
                Ok(out) => {
                    peers.extend(out.peers);
                    break;
                }
                Err(e) => tracing::debug!(tracker = %url, "announce for metadata failed: {e}"),
            }
        }
        if self.dht.is_some() {
            peers.extend(self.dht_peers(info_hash).await);
        }
        peers.sort();
        peers.dedup();
        let fetched = crate::metadata::fetch_metadata_from(
            info_hash,
            &peers,
            self.peer_id,
            self.config.bind_ip,
            progress,
        )
        .await
        .map_err(|e| SessionError::Magnet(e.to_string()))?;
        peers.retain(|p| !fetched.liars.contains(p));
        let meta = Metainfo::from_info_bytes(&fetched.info)
            .map_err(|e| SessionError::Magnet(format!("invalid metadata: {e}")))?;
        let meta = meta
            .with_trackers(tiers)
            .with_web_seeds(magnet.web_seeds.clone());
        Ok((meta, peers))
    }

    /// Peers for `info_hash` from the DHT: waits briefly for a routing table, runs one get_peers
    /// lookup and collects what it finds (bounded by [`DHT_LOOKUP_TIME`]).
    async fn dht_peers(&self, info_hash: Id20) -> Vec<SocketAddr> {
        let Some(svc) = &self.dht else {
            return Vec::new();
        };
        let dht = svc.dht();
        let target = ferrent_proto::dht::NodeId(info_hash.0);
        let mut events = svc.subscribe(target);
        let deadline = tokio::time::Instant::now() + DHT_LOOKUP_TIME;
        // The table fills from the bootstrap nodes' replies; a lookup on an empty table ends at once.
        while tokio::time::Instant::now() < deadline {
            if dht.stats().await.is_ok_and(|s| s.routing_nodes > 0) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let Ok(lookup) = dht.get_peers(target).await else {
            return Vec::new();
        };
        let mut found = Vec::new();
        let mut deadline = deadline;
        while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, events.recv()).await {
            match ev {
                crate::dht::DhtEvent::PeersFound {
                    lookup: l, peers, ..
                } if l == lookup => {
                    if found.is_empty() && !peers.is_empty() {
                        // Peers in hand: do not wait for queries to dead nodes to time out.
                        deadline = deadline.min(tokio::time::Instant::now() + DHT_PEERS_GRACE);
                    }
                    found.extend(peers);
                }
                crate::dht::DhtEvent::LookupDone { lookup: l, .. } if l == lookup => break,
                _ => {}
            }
        }
        tracing::info!(peers = found.len(), "DHT lookup for {info_hash} done");
        found
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
        let top_is_reserved = |p: &PathBuf| {
            p.components()
                .next()
                .is_some_and(|c| crate::resume::is_reserved_name(&c.as_os_str().to_string_lossy()))
        };
        let files: Vec<PathBuf> = meta.files().iter().map(|f| f.path()).collect();
        if let Some(path) = files.iter().find(|p| top_is_reserved(p)) {
            return Err(SessionError::ReservedPath { path: path.clone() });
        }
        let meta = Arc::new(meta);
        let layout = meta.layout().clone();
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
        let piece_prios = match &add.file_priorities {
            Some(fp) => Some(piece_priorities(&layout, fp, &storage)?),
            None => None,
        };

        let resume_file = crate::resume::resume_path(
            add.resume_dir.as_deref().unwrap_or(&add.save_dir),
            meta.info_hash().wire_id(),
        );
        let have = {
            let (m, storage, stats) = (meta.clone(), storage.clone(), stats.clone());
            let file = resume_file.clone();
            let (have, how) = tokio::task::spawn_blocking(move || {
                crate::torrent::initial_check(&m, &storage, &stats, &file)
            })
            .await
            .map_err(|e| SessionError::Task(e.to_string()))??;
            tracing::info!(
                torrent = meta.name(),
                pieces = have.len(),
                "start-up check: {how:?}"
            );
            have
        };
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
        core.set_pad_ranges(
            layout
                .files()
                .iter()
                .filter(|f| f.pad)
                .map(|f| (f.offset, f.offset + f.length))
                .collect(),
        );
        for piece in &have {
            let _ = core.set_have(*piece);
        }
        if let Some(prios) = &piece_prios {
            core.set_priorities(prios)
                .map_err(|e| SessionError::Unsupported(format!("priorities: {e}")))?;
            let wanted: u64 = (0..layout.num_pieces())
                .filter(|&i| prios.get(i as usize).is_some_and(|&p| p > 0))
                .filter_map(|i| layout.piece(i))
                .map(|p| u64::from(layout.piece_len(p)))
                .sum();
            stats.wanted_bytes.store(wanted, Ordering::Relaxed);
        }
        if add.upload_only {
            let none = vec![0u8; layout.num_pieces() as usize];
            core.set_priorities(&none)
                .map_err(|e| SessionError::Unsupported(format!("priorities: {e}")))?;
            let have_bytes = core.picker().stats().bytes_have;
            stats.wanted_bytes.store(have_bytes, Ordering::Relaxed);
        }
        stats
            .pieces_resumed
            .store(have.len() as u32, Ordering::Relaxed);
        // Published before the driver starts, so the caller sees it right away.
        let picked = core.picker().stats();
        stats
            .pieces_have
            .store(picked.pieces_have, Ordering::Relaxed);
        stats
            .verified_bytes
            .store(picked.bytes_have, Ordering::Relaxed);
        // BEP 3 choking: 4 tit-for-tat slots + 1 optimistic; seeding turns of 20 pieces, as
        // libtorrent sizes them.
        let choker = crate::choker::ChokerConfig {
            seed_turn_bytes: 20 * u64::from(layout.piece_length()),
            ..crate::choker::ChokerConfig::default()
        };
        core.enable_choker(choker, rand::random(), std::time::Instant::now());
        core.serve_metadata(Arc::new(meta.info_bytes().to_vec()));
        // BEP 27: a private torrent uses its trackers only (no PEX; DHT and LSD ask the same).
        core.set_peer_sources(PeerSources::for_torrent(&meta));
        let initial = if core.is_complete() {
            TorrentState::Complete
        } else {
            TorrentState::Downloading
        };
        stats.set_state(initial);
        let (state_tx, state_rx) = watch::channel(initial);
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let cancel = CancellationToken::new();

        let mut own_addrs: Vec<SocketAddr> = self
            .config
            .bind_ip
            .map(|ip| vec![SocketAddr::new(ip, self.config.listen_port)])
            .unwrap_or_default();
        own_addrs.extend(self.local_addr);
        core.set_own_addrs(own_addrs.clone());
        if let Ok(mut reg) = self.registry.lock() {
            reg.insert(meta.info_hash().wire_id(), events_tx.clone());
        }
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
            resume_file,
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
        // BEP 27: the one policy (PeerSources) decides DHT and LSD as it decides PEX.
        let sources = PeerSources::for_torrent(&meta);
        let ih = meta.info_hash().wire_id();
        if sources.dht {
            if let Some(svc) = &self.dht {
                let t = crate::dht::TorrentDht {
                    info_hash: ferrent_proto::dht::NodeId(ih.0),
                    announce_port: self.local_addr.map(|a| a.port()),
                    interval: self.config.dht_announce_interval,
                    peers: events_tx.clone(),
                };
                tasks.push(tokio::spawn(crate::dht::run_torrent(
                    svc.clone(),
                    t,
                    cancel.clone(),
                )));
            }
        }
        if sources.lsd {
            if let Some(lsd) = &self.lsd {
                lsd.add(ih, events_tx.clone()).await;
                let (lsd, cancel) = (lsd.clone(), cancel.clone());
                tasks.push(tokio::spawn(async move {
                    cancel.cancelled().await;
                    lsd.remove(ih).await;
                }));
            }
        }
        if !sources.public_discovery_allowed() && (self.dht.is_some() || self.lsd.is_some()) {
            tracing::info!(
                torrent = meta.name(),
                "private torrent: no DHT or LSD, trackers only (BEP 27)"
            );
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

fn bind_listener(addr: SocketAddr) -> Result<TcpListener, SessionError> {
    let err = |source| SessionError::Listen { addr, source };
    let std_listener = std::net::TcpListener::bind(addr).map_err(err)?;
    std_listener.set_nonblocking(true).map_err(err)?;
    TcpListener::from_std(std_listener).map_err(err)
}

/// Accepts connections, reads each handshake (bounded in time and in how many at once), and
/// hands the connection to the torrent it names; unknown info-hashes are closed (issue 4).
async fn accept_loop(
    listener: TcpListener,
    registry: Registry,
    ours: (Id20, Reserved),
    cancel: CancellationToken,
) {
    let pending = Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_HANDSHAKES));
    loop {
        let Ok(permit) = pending.clone().acquire_owned().await else {
            return;
        };
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let (stream, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let registry = registry.clone();
        tokio::spawn(async move {
            if let Err(reason) = incoming(stream, addr, &registry, ours).await {
                tracing::debug!(%addr, "incoming connection dropped: {reason}");
            }
            drop(permit);
        });
    }
}

async fn incoming(
    mut stream: TcpStream,
    addr: SocketAddr,
    registry: &Registry,
    (peer_id, reserved): (Id20, Reserved),
) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let (theirs, leftover) = crate::peer::read_handshake(&mut stream).await?;
    let torrent = registry
        .lock()
        .map_err(|_| "registry poisoned".to_string())?
        .get(&theirs.info_hash)
        .cloned()
        .ok_or_else(|| format!("unknown info-hash {}", theirs.info_hash))?;
    let hs = Handshake {
        reserved,
        info_hash: theirs.info_hash,
        peer_id,
    };
    stream
        .write_all(&hs.to_bytes())
        .await
        .map_err(|e| format!("send handshake: {e}"))?;
    torrent
        .send(DriverEvent::Incoming {
            addr,
            stream,
            theirs,
            leftover,
        })
        .await
        .map_err(|_| "torrent stopped".to_string())
}

/// Piece priorities from file priorities (the highest of the files a piece overlaps; pad files
/// do not count), and the storage told which files are wanted.
fn piece_priorities(
    layout: &ferrent_core::Layout,
    file_prios: &[u8],
    storage: &Storage,
) -> Result<Vec<u8>, SessionError> {
    let files = layout.files();
    if file_prios.len() != files.len() {
        return Err(SessionError::Unsupported(format!(
            "{} file priorities given for {} files",
            file_prios.len(),
            files.len()
        )));
    }
    let max = crate::picker::MAX_PRIORITY;
    let mut prios = vec![0u8; layout.num_pieces() as usize];
    for piece in layout.pieces() {
        let p = layout
            .file_ranges(piece)
            .filter(|r| !r.pad)
            .map(|r| file_prios.get(r.file).copied().unwrap_or(0).min(max))
            .max()
            .unwrap_or(0);
        if let Some(slot) = prios.get_mut(piece.get() as usize) {
            *slot = p;
        }
    }
    for (i, &p) in file_prios.iter().enumerate() {
        storage.set_file_wanted(i, p > 0)?;
    }
    Ok(prios)
}
