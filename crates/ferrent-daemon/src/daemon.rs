//! [`Daemon`]: the torrents of one session, keyed by info-hash, with their life cycle.
//!
//! # Life of a torrent
//! ```text
//!  add .torrent ──> Starting ──(engine add: open, check)──> Running ──stop──> Stopped
//!  add magnet ──> Fetching ──(metadata, BEP 9)──> Starting        ^            │
//!                    │                                            └───start────┘
//!                    └─ fails ──> Failed ──start──> Fetching / Starting
//! ```
//! Operations that change whether the engine runs a torrent (start, stop, remove, and the
//! background start itself) take the torrent's **operation lock** (an async mutex) for their
//! whole duration, so the engine never holds the same info-hash twice: a stop during the
//! start-up check waits for the check, then stops. The map itself sits behind a plain mutex held
//! only for short, non-async steps. Background tasks carry the torrent's **epoch** (bumped by
//! every start, stop and remove) and drop their result when it changed meanwhile.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use ferrent::{AddTorrent, Session, StatsSnapshot, TorrentHandle};
use ferrent_core::{Id20, Magnet, Metainfo};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::store::{Saved, Store};
use crate::view::{Phase, Removed, TorrentView};
use crate::{DaemonError, EVENT_INTERVAL, MAX_EVENT_CLIENTS, MAX_TORRENTS, SHUTDOWN_WAIT};

/// Where the daemon keeps things and what it allows.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Every torrent's data goes here (API clients cannot choose another place).
    pub download_dir: PathBuf,
    /// Saved metainfo and resume files (see the crate docs).
    pub state_dir: PathBuf,
    /// Peers tried for every torrent besides those found (`--peer`).
    pub peers: Vec<SocketAddr>,
    /// Most torrents held at once ([`MAX_TORRENTS`] by default).
    pub max_torrents: usize,
    /// `Host` names accepted besides loopback ones (e.g. the LAN address listened on).
    pub allowed_hosts: Vec<String>,
}

impl DaemonConfig {
    /// Data into `download_dir`, state in `state_dir`, default limits.
    pub fn new(download_dir: impl Into<PathBuf>, state_dir: impl Into<PathBuf>) -> Self {
        DaemonConfig {
            download_dir: download_dir.into(),
            state_dir: state_dir.into(),
            peers: Vec::new(),
            max_torrents: MAX_TORRENTS,
            allowed_hosts: Vec::new(),
        }
    }
}

/// The daemon: a session and its torrents. Cheap to clone (one shared state).
#[derive(Clone)]
pub struct Daemon {
    inner: Arc<Inner>,
}

struct Inner {
    session: Session,
    config: DaemonConfig,
    store: Store,
    torrents: Mutex<Torrents>,
    closing: CancellationToken,
    tasks: TaskTracker,
    event_slots: Arc<Semaphore>,
}

#[derive(Default)]
struct Torrents {
    map: HashMap<Id20, Entry>,
    /// Removed from the map but still stopping or deleting: not addable again yet.
    removing: HashSet<Id20>,
    next_seq: u64,
}

struct Entry {
    seq: u64,
    name: String,
    meta: Option<Arc<Metainfo>>,
    magnet: Option<Magnet>,
    status: Status,
    error: Option<String>,
    epoch: u64,
    op: Arc<tokio::sync::Mutex<()>>,
    /// The counters when it last ran (shown while stopped).
    last: Option<StatsSnapshot>,
    rates: Rates,
}

enum Status {
    Fetching(CancellationToken),
    Starting,
    Running(TorrentHandle),
    Stopped,
    Failed,
}

#[derive(Default, Clone, Copy)]
struct Rates {
    down: f64,
    up: f64,
    sample: Option<(Instant, u64, u64)>,
}

impl Entry {
    fn view(&self, id: Id20) -> TorrentView {
        let (phase, live) = match &self.status {
            Status::Fetching(_) => (Phase::Fetching, None),
            Status::Starting => (Phase::Starting, None),
            Status::Running(h) => (Phase::Running, Some(h.stats())),
            Status::Stopped => (Phase::Stopped, None),
            Status::Failed => (Phase::Failed, None),
        };
        let total = self
            .meta
            .as_ref()
            .map_or((0, 0), |m| (m.content_length(), m.layout().num_pieces()));
        TorrentView::build(
            id.to_hex(),
            self.name.clone(),
            phase,
            self.error.clone(),
            live.as_ref().or(self.last.as_ref()),
            total,
            (self.rates.down as u64, self.rates.up as u64),
        )
    }
}

impl Daemon {
    /// A daemon over `session`; creates the state directories. Call [`Daemon::restore`] next to
    /// bring back the torrents of an earlier run. Must be called inside a tokio runtime.
    pub fn new(session: Session, config: DaemonConfig) -> Result<Daemon, DaemonError> {
        std::fs::create_dir_all(&config.download_dir).map_err(|source| DaemonError::StateDir {
            path: config.download_dir.clone(),
            source,
        })?;
        let store = Store::open(&config.state_dir, &config.download_dir)?;
        let daemon = Daemon {
            inner: Arc::new(Inner {
                session,
                config,
                store,
                torrents: Mutex::default(),
                closing: CancellationToken::new(),
                tasks: TaskTracker::new(),
                event_slots: Arc::new(Semaphore::new(MAX_EVENT_CLIENTS)),
            }),
        };
        let d = daemon.clone();
        daemon
            .inner
            .tasks
            .spawn(async move { d.sample_rates().await });
        Ok(daemon)
    }

    /// The session the torrents run in.
    pub fn session(&self) -> &Session {
        &self.inner.session
    }

    /// The configuration.
    pub fn config(&self) -> &DaemonConfig {
        &self.inner.config
    }

    /// Cancelled when [`Daemon::shutdown`] begins (event streams end on it).
    pub fn closing(&self) -> CancellationToken {
        self.inner.closing.clone()
    }

    /// A slot for one event stream, while fewer than [`MAX_EVENT_CLIENTS`] are open.
    pub(crate) fn event_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, DaemonError> {
        self.inner
            .event_slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| DaemonError::TooManyStreams {
                max: MAX_EVENT_CLIENTS,
            })
    }

    fn lock(&self) -> MutexGuard<'_, Torrents> {
        // A panic while holding the lock leaves plain data behind: keep serving it.
        self.inner
            .torrents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every torrent, in the order they were added.
    pub fn list(&self) -> Vec<TorrentView> {
        let t = self.lock();
        let mut entries: Vec<(&Id20, &Entry)> = t.map.iter().collect();
        entries.sort_by_key(|(_, e)| e.seq);
        entries.into_iter().map(|(id, e)| e.view(*id)).collect()
    }

    /// One torrent.
    pub fn get(&self, id: Id20) -> Result<TorrentView, DaemonError> {
        let t = self.lock();
        t.map
            .get(&id)
            .map(|e| e.view(id))
            .ok_or_else(|| DaemonError::NotFound(id.to_hex()))
    }

    /// Adds a `.torrent` file's bytes: saves them in the state directory and starts the
    /// torrent in the background (state `checking`, then `downloading` or `seeding`).
    pub async fn add_torrent_file(&self, bytes: &[u8]) -> Result<TorrentView, DaemonError> {
        let meta = Metainfo::from_bytes(bytes)?;
        if !meta.version().has_v1() {
            return Err(DaemonError::Unsupported(
                "v2-only torrents cannot be downloaded yet (no v1 piece hashes)".into(),
            ));
        }
        if let Some(path) = self.inner.store.clash(&meta) {
            return Err(DaemonError::Unsupported(format!(
                "its file {} would be written into the daemon's state directory",
                path.display()
            )));
        }
        let id = meta.info_hash().wire_id();
        let meta = Arc::new(meta);
        self.reserve(id, meta.name().to_owned(), Some(meta.clone()), None, false)?;
        let (store, owned) = (self.inner.store.clone(), bytes.to_vec());
        if let Err(e) = blocking(move || store.save_torrent(id, &owned)).await {
            self.lock().map.remove(&id);
            return Err(e);
        }
        self.spawn_start(id, meta, Vec::new(), 0);
        self.get(id)
    }

    /// Adds a magnet link: saves it and fetches its metadata in the background (state
    /// `fetching metadata`); the torrent then starts as if added from a `.torrent`.
    pub async fn add_magnet(&self, link: &str) -> Result<TorrentView, DaemonError> {
        let magnet = Magnet::parse(link)?;
        if magnet.info_hash.v1_hash().is_none() {
            return Err(DaemonError::Unsupported(
                "v2-only magnet links are not supported yet".into(),
            ));
        }
        let id = magnet.info_hash.wire_id();
        let name = magnet.name.clone().unwrap_or_else(|| id.to_hex());
        let token = self.reserve(id, name, None, Some(magnet.clone()), false)?;
        let (store, text) = (self.inner.store.clone(), magnet.to_string());
        if let Err(e) = blocking(move || store.save_magnet(id, &text)).await {
            if let Some(t) = &token {
                t.cancel();
            }
            self.lock().map.remove(&id);
            return Err(e);
        }
        if let Some(token) = token {
            self.spawn_fetch(id, magnet, token, 0);
        }
        self.get(id)
    }

    /// Inserts a new entry (stopped; else starting, or fetching when there is no metadata: the
    /// fetch's cancel token is returned) after the duplicate, capacity and shutdown checks.
    fn reserve(
        &self,
        id: Id20,
        name: String,
        meta: Option<Arc<Metainfo>>,
        magnet: Option<Magnet>,
        stopped: bool,
    ) -> Result<Option<CancellationToken>, DaemonError> {
        if self.inner.closing.is_cancelled() {
            return Err(DaemonError::ShuttingDown);
        }
        let mut t = self.lock();
        let removing = t.removing.contains(&id);
        if removing || t.map.contains_key(&id) {
            return Err(DaemonError::Duplicate {
                info_hash: id.to_hex(),
                removing,
            });
        }
        let max = self.inner.config.max_torrents;
        if t.map.len() + t.removing.len() >= max {
            return Err(DaemonError::Full { max });
        }
        let token = (meta.is_none() && !stopped).then(CancellationToken::new);
        let status = match &token {
            _ if stopped => Status::Stopped,
            Some(tok) => Status::Fetching(tok.clone()),
            None => Status::Starting,
        };
        let seq = t.next_seq;
        t.next_seq += 1;
        t.map.insert(
            id,
            Entry {
                seq,
                name,
                meta,
                magnet,
                status,
                error: None,
                epoch: 0,
                op: Arc::default(),
                last: None,
                rates: Rates::default(),
            },
        );
        Ok(token)
    }

    /// Starts the engine side of a torrent in the background, under its operation lock.
    fn spawn_start(&self, id: Id20, meta: Arc<Metainfo>, peers: Vec<SocketAddr>, epoch: u64) {
        let d = self.clone();
        self.inner
            .tasks
            .spawn(async move { d.start_task(id, meta, peers, epoch).await });
    }

    async fn start_task(&self, id: Id20, meta: Arc<Metainfo>, peers: Vec<SocketAddr>, epoch: u64) {
        let Some(op) = self.current_op(id, epoch) else {
            return;
        };
        let _guard = op.lock().await;
        // A stop may have come first and taken the lock before us.
        if self.current_op(id, epoch).is_none() || self.inner.closing.is_cancelled() {
            return;
        }
        let mut add = AddTorrent::new(&self.inner.config.download_dir);
        add.peers = peers;
        add.peers.extend(&self.inner.config.peers);
        add.resume_dir = Some(self.inner.store.resume_dir().to_path_buf());
        let result = self.inner.session.add_torrent((*meta).clone(), add).await;
        // Kept only when the torrent is still wanted; otherwise stopped below, lock released.
        let unwanted = {
            let mut t = self.lock();
            let current = t
                .map
                .get_mut(&id)
                .filter(|e| e.epoch == epoch && !self.inner.closing.is_cancelled());
            match (result, current) {
                (Ok(handle), Some(e)) => {
                    e.status = Status::Running(handle);
                    e.error = None;
                    e.rates = Rates::default();
                    None
                }
                (Ok(handle), None) => Some(handle),
                (Err(err), Some(e)) => {
                    tracing::warn!(torrent = %e.name, "cannot start: {err}");
                    e.status = Status::Failed;
                    e.error = Some(err.to_string());
                    None
                }
                (Err(_), None) => None,
            }
        };
        if let Some(handle) = unwanted {
            handle.stop().await;
        }
    }

    /// The operation lock of `id` while its epoch is still `epoch`.
    fn current_op(&self, id: Id20, epoch: u64) -> Option<Arc<tokio::sync::Mutex<()>>> {
        let t = self.lock();
        t.map
            .get(&id)
            .filter(|e| e.epoch == epoch)
            .map(|e| e.op.clone())
    }

    fn spawn_fetch(&self, id: Id20, magnet: Magnet, token: CancellationToken, epoch: u64) {
        let d = self.clone();
        self.inner
            .tasks
            .spawn(async move { d.fetch_task(id, magnet, token, epoch).await });
    }

    async fn fetch_task(&self, id: Id20, magnet: Magnet, token: CancellationToken, epoch: u64) {
        let session = &self.inner.session;
        let fetched = tokio::select! {
            r = session.fetch_magnet_metadata(&magnet, &self.inner.config.peers) => r,
            () = token.cancelled() => return,
            () = self.inner.closing.cancelled() => return,
        };
        let (meta, peers) = match fetched {
            Ok(f) => f,
            Err(err) => {
                let mut t = self.lock();
                if let Some(e) = t.map.get_mut(&id).filter(|e| e.epoch == epoch) {
                    tracing::warn!(torrent = %e.name, "no metadata: {err}");
                    e.status = Status::Failed;
                    e.error = Some(err.to_string());
                }
                return;
            }
        };
        if let Some(path) = self.inner.store.clash(&meta) {
            let mut t = self.lock();
            if let Some(e) = t.map.get_mut(&id).filter(|e| e.epoch == epoch) {
                e.status = Status::Failed;
                e.error = Some(format!(
                    "its file {} would be written into the daemon's state directory",
                    path.display()
                ));
            }
            return;
        }
        let (store, bytes) = (self.inner.store.clone(), meta.to_torrent_file());
        if let Err(e) = blocking(move || store.save_torrent(id, &bytes)).await {
            tracing::warn!("cannot save the metadata of {id}: {e}");
        }
        let meta = Arc::new(meta);
        {
            let mut t = self.lock();
            let Some(e) = t.map.get_mut(&id).filter(|e| e.epoch == epoch) else {
                return;
            };
            e.name = meta.name().to_owned();
            e.meta = Some(meta.clone());
            e.status = Status::Starting;
        }
        self.start_task(id, meta, peers, epoch).await;
    }

    /// Stops a torrent (closing its connections, announcing `stopped`, saving resume data).
    /// Waits for a start-up check in progress to end first. Stopping a stopped torrent is fine.
    pub async fn stop(&self, id: Id20) -> Result<TorrentView, DaemonError> {
        // `None`: a metadata fetch, cancelled at once; no engine torrent to wait for.
        let op = {
            let mut t = self.lock();
            let e = t
                .map
                .get_mut(&id)
                .ok_or_else(|| DaemonError::NotFound(id.to_hex()))?;
            if let Status::Fetching(token) = &e.status {
                token.cancel();
                e.epoch += 1;
                e.status = Status::Stopped;
                None
            } else {
                Some(e.op.clone())
            }
        };
        self.mark_stopped(id, true).await;
        let Some(op) = op else {
            return self.get(id);
        };
        let _guard = op.lock().await;
        let handle = {
            let mut t = self.lock();
            let Some(e) = t.map.get_mut(&id) else {
                return Err(DaemonError::NotFound(id.to_hex()));
            };
            e.epoch += 1;
            match std::mem::replace(&mut e.status, Status::Stopped) {
                Status::Running(h) => {
                    e.last = Some(h.stats());
                    Some(h)
                }
                Status::Fetching(token) => {
                    token.cancel();
                    None
                }
                Status::Failed => {
                    e.status = Status::Failed;
                    None
                }
                Status::Starting | Status::Stopped => None,
            }
        };
        if let Some(h) = handle {
            h.stop().await;
        }
        self.get(id)
    }

    /// Records (in the state directory) whether the user stopped `id`; errors are logged: the
    /// torrent itself is stopped or started either way.
    async fn mark_stopped(&self, id: Id20, stopped: bool) {
        let store = self.inner.store.clone();
        if let Err(e) = blocking(move || store.set_stopped(id, stopped)).await {
            tracing::warn!("cannot record that {id} is stopped: {e}");
        }
    }

    /// Starts a stopped or failed torrent again (fetching a magnet's metadata again when it
    /// never arrived). Starting a running torrent is fine.
    pub async fn start(&self, id: Id20) -> Result<TorrentView, DaemonError> {
        if self.inner.closing.is_cancelled() {
            return Err(DaemonError::ShuttingDown);
        }
        self.get(id)?;
        self.mark_stopped(id, false).await;
        let mut t = self.lock();
        let e = t
            .map
            .get_mut(&id)
            .ok_or_else(|| DaemonError::NotFound(id.to_hex()))?;
        if !matches!(e.status, Status::Stopped | Status::Failed) {
            return Ok(e.view(id));
        }
        e.epoch += 1;
        e.error = None;
        let epoch = e.epoch;
        match (&e.meta, &e.magnet) {
            (Some(meta), _) => {
                e.status = Status::Starting;
                let meta = meta.clone();
                let view = e.view(id);
                drop(t);
                self.spawn_start(id, meta, Vec::new(), epoch);
                Ok(view)
            }
            (None, Some(magnet)) => {
                let token = CancellationToken::new();
                e.status = Status::Fetching(token.clone());
                let magnet = magnet.clone();
                let view = e.view(id);
                drop(t);
                self.spawn_fetch(id, magnet, token, epoch);
                Ok(view)
            }
            (None, None) => Err(DaemonError::Task(
                "torrent has neither metadata nor magnet".into(),
            )),
        }
    }

    /// Stops a torrent and forgets it (its saved metainfo too). With `delete_data`, also deletes
    /// its files from the download directory (and its resume file), through the storage
    /// layer's sanitised paths.
    pub async fn remove(&self, id: Id20, delete_data: bool) -> Result<Removed, DaemonError> {
        let entry = {
            let mut t = self.lock();
            let e = t
                .map
                .remove(&id)
                .ok_or_else(|| DaemonError::NotFound(id.to_hex()))?;
            t.removing.insert(id);
            e
        };
        if let Status::Fetching(token) = &entry.status {
            token.cancel();
        }
        let result = self.finish_remove(id, entry, delete_data).await;
        self.lock().removing.remove(&id);
        result
    }

    async fn finish_remove(
        &self,
        id: Id20,
        mut entry: Entry,
        delete_data: bool,
    ) -> Result<Removed, DaemonError> {
        // Waits for a running start to finish; it then finds the entry gone and stops itself.
        let _guard = entry.op.clone().lock_owned().await;
        if let Status::Running(h) = std::mem::replace(&mut entry.status, Status::Stopped) {
            h.stop().await;
        }
        let (store, dir, meta) = (
            self.inner.store.clone(),
            self.inner.config.download_dir.clone(),
            entry.meta.clone(),
        );
        let deleted = blocking(move || {
            store.remove(id, delete_data);
            match (delete_data, meta) {
                (true, Some(meta)) => delete_files(&dir, &meta),
                _ => Ok(0),
            }
        })
        .await?;
        Ok(Removed {
            info_hash: id.to_hex(),
            deleted_files: deleted,
        })
    }

    /// Re-adds the torrents saved by an earlier run (bad files are skipped with a warning).
    /// Returns how many were restored.
    pub async fn restore(&self) -> usize {
        let (store, max) = (self.inner.store.clone(), self.inner.config.max_torrents);
        let saved = tokio::task::spawn_blocking(move || store.load_all(max))
            .await
            .unwrap_or_default();
        let mut n = 0;
        for (id, s, stopped) in saved {
            let added = match s {
                Saved::Torrent(meta) if self.inner.store.clash(&meta).is_some() => {
                    tracing::warn!("{id} would write into the state directory: not restored");
                    continue;
                }
                Saved::Torrent(meta) => {
                    let meta: Arc<Metainfo> = Arc::from(meta);
                    let name = meta.name().to_owned();
                    self.reserve(id, name, Some(meta.clone()), None, stopped)
                        .map(|_| {
                            if !stopped {
                                self.spawn_start(id, meta, Vec::new(), 0);
                            }
                        })
                }
                Saved::Magnet(magnet) => {
                    let name = magnet.name.clone().unwrap_or_else(|| id.to_hex());
                    self.reserve(id, name, None, Some(magnet.clone()), stopped)
                        .map(|token| {
                            if let Some(token) = token {
                                self.spawn_fetch(id, magnet, token, 0);
                            }
                        })
                }
            };
            match added {
                Ok(()) => n += 1,
                Err(e) => tracing::warn!("cannot restore {id}: {e}"),
            }
        }
        n
    }

    /// Stops every torrent cleanly (announce `stopped`, save resume data) and the background
    /// work, then saves the session's state. New requests get 503 from here on.
    pub async fn shutdown(&self) {
        self.inner.closing.cancel();
        self.inner.tasks.close();
        let handles: Vec<TorrentHandle> = {
            let mut t = self.lock();
            t.map
                .values_mut()
                .filter_map(
                    |e| match std::mem::replace(&mut e.status, Status::Stopped) {
                        Status::Running(h) => Some(h),
                        _ => None,
                    },
                )
                .collect()
        };
        futures_util::future::join_all(handles.into_iter().map(TorrentHandle::stop)).await;
        if tokio::time::timeout(SHUTDOWN_WAIT, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some torrents were still starting at shutdown");
        }
        self.inner.session.shutdown().await;
    }

    /// Every [`EVENT_INTERVAL`], the transfer rates of running torrents (smoothed).
    async fn sample_rates(&self) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(EVENT_INTERVAL) => {}
                () = self.inner.closing.cancelled() => return,
            }
            let now = Instant::now();
            let mut t = self.lock();
            for e in t.map.values_mut() {
                let Status::Running(h) = &e.status else {
                    continue;
                };
                let s = h.stats();
                if let Some((at, down, up)) = e.rates.sample {
                    let dt = now.duration_since(at).as_secs_f64().max(1e-3);
                    let d = s.downloaded.saturating_sub(down) as f64 / dt;
                    let u = s.uploaded.saturating_sub(up) as f64 / dt;
                    e.rates.down = 0.5 * e.rates.down + 0.5 * d;
                    e.rates.up = 0.5 * e.rates.up + 0.5 * u;
                }
                e.rates.sample = Some((now, s.downloaded, s.uploaded));
            }
        }
    }
}

/// Deletes the torrent's files under `dir` through [`ferrent::Storage::remove_files`].
/// Runs file work of the state directory or the data on the blocking pool; a task that
/// panicked or was cancelled is a [`DaemonError::Task`].
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DaemonError> + Send + 'static,
) -> Result<T, DaemonError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| DaemonError::Task(e.to_string()))?
}

fn delete_files(dir: &std::path::Path, meta: &Metainfo) -> Result<usize, DaemonError> {
    let files = meta.files().iter().map(|f| f.path()).collect();
    let storage = ferrent::Storage::open(
        dir,
        meta.layout().clone(),
        files,
        ferrent::StorageOptions::default(),
    )?;
    Ok(storage.remove_files()?.files)
}
