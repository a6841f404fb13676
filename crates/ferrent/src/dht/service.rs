//! [`DhtService`]: a session's DHT node shared by its torrents. It routes the node's events to
//! whoever subscribed to an info-hash (a magnet link waiting for peers, a running torrent), runs
//! each running torrent's periodic get_peers + announce_peer ([`run_torrent`]), and saves the
//! routing table between runs ([`DhtService::save`]).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrent_proto::dht::NodeId;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::driver::{Dht, DhtHandle};
use super::node::{DhtConfig, DhtError, DhtEvent, LookupId};
use super::persist::{SavedTable, load_table, save_table};
use super::schedule::AnnounceSchedule;
use crate::torrent::DriverEvent;

/// Events queued per subscriber; beyond this its events are dropped (lookups go on).
pub const SUBSCRIBER_QUEUE: usize = 128;

/// Nodes of a saved table used as extra bootstrap nodes at start (the closest-first order of
/// the save is kept; each costs one query).
pub const SAVED_BOOTSTRAP_NODES: usize = 64;

/// Default period between saves of the routing table while running.
pub const DEFAULT_SAVE_INTERVAL: Duration = Duration::from_secs(5 * 60);

type Subscribers = Arc<Mutex<HashMap<NodeId, Vec<mpsc::Sender<DhtEvent>>>>>;

/// How to start a [`DhtService`].
#[derive(Debug, Clone)]
pub struct DhtServiceConfig {
    /// The UDP address to bind (port 0: any).
    pub bind: SocketAddr,
    /// Bootstrap nodes given by the user.
    pub bootstrap: Vec<SocketAddr>,
    /// Where the routing table is loaded from at start and saved to (`None`: not kept).
    pub state_file: Option<PathBuf>,
    /// Period of the background save (when `state_file` is set).
    pub save_interval: Duration,
}

/// The session's DHT node and the tasks around it. Dropping it stops them.
#[derive(Debug)]
pub struct DhtService {
    dht: Dht,
    id: NodeId,
    subs: Subscribers,
    state_file: Option<PathBuf>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for DhtService {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl DhtService {
    /// Binds the socket, loads the saved table (its id, and its nodes as extra bootstrap
    /// nodes; a missing or broken file only logs), and starts the node, the event router and
    /// the periodic save. Must be called inside a tokio runtime.
    pub fn start(config: DhtServiceConfig) -> io::Result<DhtService> {
        let mut id = NodeId(rand::random());
        let mut bootstrap = config.bootstrap.clone();
        if let Some(path) = &config.state_file {
            match load_table(path) {
                Ok(saved) => {
                    tracing::info!(
                        nodes = saved.nodes.len(),
                        "DHT table loaded from {}",
                        path.display()
                    );
                    id = saved.id;
                    for n in saved.nodes.iter().take(SAVED_BOOTSTRAP_NODES) {
                        if !bootstrap.contains(&n.addr) {
                            bootstrap.push(n.addr);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("ignoring DHT table {}: {e}", path.display()),
            }
        }
        let mut cfg = DhtConfig::new(id, rand::random());
        cfg.bootstrap = bootstrap;
        let sock = std::net::UdpSocket::bind(config.bind)?;
        let (dht, mut events) = Dht::from_std(sock, cfg)?;
        let subs: Subscribers = Arc::default();
        let router = {
            let subs = subs.clone();
            tokio::spawn(async move {
                while let Some(ev) = events.recv().await {
                    route(&subs, ev);
                }
            })
        };
        let mut tasks = vec![router];
        if let Some(path) = config.state_file.clone() {
            let handle = dht.handle();
            let every = config.save_interval.max(Duration::from_secs(1));
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if let Err(e) = save(&handle, id, &path).await {
                        tracing::warn!("saving the DHT table to {}: {e}", path.display());
                    }
                }
            }));
        }
        Ok(DhtService {
            dht,
            id,
            subs,
            state_file: config.state_file,
            tasks,
        })
    }

    /// The node.
    pub fn dht(&self) -> &Dht {
        &self.dht
    }

    /// Our node id (kept across runs by the saved table).
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// A queue of the node's events about `info_hash` (peers found, lookups done), for as long
    /// as the receiver lives.
    pub fn subscribe(&self, info_hash: NodeId) -> mpsc::Receiver<DhtEvent> {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
        if let Ok(mut subs) = self.subs.lock() {
            subs.retain(|_, v| {
                v.retain(|s| !s.is_closed());
                !v.is_empty()
            });
            subs.entry(info_hash).or_default().push(tx);
        }
        rx
    }

    /// Saves the routing table to the state file now (crash-safe; see [`save_table`]). Returns
    /// the nodes written; an empty table is not written, so a short run that reached nobody
    /// does not erase a good table. `Ok(0)` also when there is no state file.
    pub async fn save(&self) -> io::Result<usize> {
        match &self.state_file {
            Some(path) => save(&self.dht.handle(), self.id, path).await,
            None => Ok(0),
        }
    }
}

async fn save(dht: &DhtHandle, id: NodeId, path: &std::path::Path) -> io::Result<usize> {
    let nodes = dht
        .routing_nodes()
        .await
        .map_err(|e| io::Error::other(e.to_string()))?;
    if nodes.is_empty() {
        return Ok(0);
    }
    let n = nodes.len();
    let table = SavedTable { id, nodes };
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || save_table(&path, &table))
        .await
        .map_err(|e| io::Error::other(e.to_string()))??;
    tracing::debug!(nodes = n, "DHT table saved");
    Ok(n)
}

fn route(subs: &Subscribers, ev: DhtEvent) {
    let key = match &ev {
        DhtEvent::PeersFound { info_hash, .. } => *info_hash,
        DhtEvent::LookupDone { target, .. } => *target,
    };
    let Ok(mut subs) = subs.lock() else { return };
    if let Some(list) = subs.get_mut(&key) {
        list.retain(|s| !matches!(s.try_send(ev.clone()), Err(TrySendError::Closed(_))));
        if list.is_empty() {
            subs.remove(&key);
        }
    }
}

/// What [`run_torrent`] needs for one torrent.
#[derive(Debug)]
pub struct TorrentDht {
    /// The torrent's info-hash (the wire id).
    pub info_hash: NodeId,
    /// Our TCP listen port to announce (`None`: no listener, so look up only).
    pub announce_port: Option<u16>,
    /// Period between lookups ([`super::DEFAULT_ANNOUNCE_INTERVAL`] by default).
    pub interval: Duration,
    /// The torrent's driver queue, where found peers go as [`DriverEvent::AddPeers`].
    pub peers: mpsc::Sender<DriverEvent>,
}

/// One running torrent's DHT life (BEP 5): a get_peers lookup at start and every interval
/// ([`AnnounceSchedule`]), the peers found fed to the torrent's connect queue (bounded there by
/// `MAX_KNOWN_PEERS`), and an announce_peer with our listen port (`implied_port` 0) to the
/// closest nodes that gave a token. Runs until `cancel` or the torrent's queue closes.
pub async fn run_torrent(service: Arc<DhtService>, t: TorrentDht, cancel: CancellationToken) {
    let mut events = service.subscribe(t.info_hash);
    let dht = service.dht.handle();
    let mut sched = AnnounceSchedule::new(Instant::now(), t.interval);
    let mut current: Option<LookupId> = None;
    loop {
        if sched.poll_start(Instant::now()) {
            let started = match t.announce_port {
                Some(port) => dht.announce(t.info_hash, Some(port)).await,
                None => dht.get_peers(t.info_hash).await,
            };
            match started {
                Ok(id) => current = Some(id),
                Err(DhtError::Stopped) => return,
                Err(e) => {
                    tracing::debug!("DHT lookup for {} not started: {e}", hex(&t.info_hash));
                    sched.done(Instant::now(), 0);
                }
            }
        }
        let wake = tokio::time::Instant::from_std(sched.poll_timeout());
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep_until(wake) => {
                if sched.handle_timeout(Instant::now()) {
                    current = None;
                }
            }
            ev = events.recv() => match ev {
                None => return,
                Some(DhtEvent::PeersFound { lookup, peers, .. }) if Some(lookup) == current => {
                    if t.peers.send(DriverEvent::AddPeers(peers)).await.is_err() {
                        return;
                    }
                }
                Some(DhtEvent::LookupDone { lookup, responses, peers, announced, .. })
                    if Some(lookup) == current =>
                {
                    tracing::info!(
                        responses, peers, announced,
                        "DHT lookup for {} done", hex(&t.info_hash)
                    );
                    sched.done(Instant::now(), responses);
                    current = None;
                }
                Some(_) => {}
            },
        }
    }
}

fn hex(id: &NodeId) -> String {
    ferrent_core::Id20(id.0).to_hex()
}
