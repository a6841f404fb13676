//! The running tracker: binds the sockets, spawns the HTTP and UDP tasks and the housekeeping
//! task (expiry, statistics, allow-list reload, state snapshots), and stops them all.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use rand::RngCore;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::allow::read_allow_list;
use crate::connid::ConnectionIds;
use crate::error::TrackerError;
use crate::http::HttpLimits;
use crate::limits::{
    ALLOW_POLL, CONNECTION_ID_WINDOW, DEFAULT_INTERVAL, HTTP_HEADER_TIMEOUT, HTTP_MAX_CONNECTIONS,
    PEER_TIMEOUT_INTERVALS, SHARDS, STATS_EVERY,
};
use crate::shared::{Shared, Stats};
use crate::snapshot::{read_state, write_state};
use crate::store::{StoreConfig, SwarmStore};
use crate::udp::udp_worker;

/// How often the state file is rewritten while running (it is also written at shutdown).
const STATE_SAVE_EVERY: Duration = Duration::from_secs(60);

/// How long a UDP worker blocks in `recv_from` before checking for shutdown.
const UDP_POLL: Duration = Duration::from_millis(200);

/// Tracker settings. [`Config::default`] serves HTTP and UDP on 127.0.0.1:6969.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to serve HTTP (`/announce`, `/scrape`); `None` = no HTTP.
    pub http: Option<SocketAddr>,
    /// Where to serve UDP (BEP 15); `None` = no UDP.
    pub udp: Option<SocketAddr>,
    /// The announce interval sent to clients. Peers expire after
    /// [`PEER_TIMEOUT_INTERVALS`] intervals without an announce.
    pub interval: Duration,
    /// The `min interval` sent to clients (`None` = half the interval).
    pub min_interval: Option<Duration>,
    /// Allow-list file: only these info-hashes are tracked (reloaded when the file changes and
    /// on SIGHUP).
    pub allow_file: Option<PathBuf>,
    /// State snapshot: read at start, written every minute and at shutdown.
    pub state_file: Option<PathBuf>,
    /// Store limits; `peer_timeout` is replaced by `interval * PEER_TIMEOUT_INTERVALS`.
    pub store: StoreConfig,
    /// How often a statistics line is logged.
    pub stats_every: Duration,
    /// UDP worker threads sharing the socket (by default one per core but one, 1 to 4).
    pub udp_workers: usize,
    /// Most HTTP connections open at once ([`HTTP_MAX_CONNECTIONS`] by default).
    pub http_max_connections: usize,
    /// Time a client has to send a request's headers ([`HTTP_HEADER_TIMEOUT`] by default).
    pub http_header_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        let local = SocketAddr::from(([127, 0, 0, 1], 6969));
        Config {
            http: Some(local),
            udp: Some(local),
            interval: DEFAULT_INTERVAL,
            min_interval: None,
            allow_file: None,
            state_file: None,
            store: StoreConfig::default(),
            stats_every: STATS_EVERY,
            udp_workers: default_udp_workers(),
            http_max_connections: HTTP_MAX_CONNECTIONS,
            http_header_timeout: HTTP_HEADER_TIMEOUT,
        }
    }
}

/// One UDP worker per core but one (at least 1, at most 4). A worker answers a whole batch
/// per wake-up (see `udp.rs`), so one keeps up with a core's worth of datagrams; a core is left
/// for the kernel's network processing, the HTTP side and whoever sends the load. Measured
/// with `scripts/bench-tracker.sh` on 2 cores: 2 workers had 3 to 4 times the p99 latency of
/// 1 and no more throughput, as the threads took turns on the cores.
fn default_udp_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).clamp(1, 4))
}

/// Entry point: `Tracker::bind(config).await` starts a tracker.
#[derive(Debug)]
pub struct Tracker;

/// A started tracker. Dropping it does not stop it; call [`RunningTracker::shutdown`].
#[derive(Debug)]
pub struct RunningTracker {
    http_addr: Option<SocketAddr>,
    udp_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    tasks: JoinSet<()>,
    udp_threads: Vec<std::thread::JoinHandle<()>>,
    state_file: Option<PathBuf>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shared")
    }
}

impl Tracker {
    /// Reads the allow-list and state (if configured), binds the sockets and starts serving.
    /// Must be called inside a tokio runtime (with the `net`, `time` and `signal` drivers).
    pub async fn bind(config: Config) -> Result<RunningTracker, TrackerError> {
        if config.http.is_none() && config.udp.is_none() {
            return Err(TrackerError::NothingToServe);
        }
        let allow = match &config.allow_file {
            Some(p) => Some(read_allow_list(p)?),
            None => None,
        };
        let epoch = Instant::now();
        let mut store_cfg = config.store;
        store_cfg.peer_timeout = config.interval * PEER_TIMEOUT_INTERVALS;
        store_cfg.max_swarms = store_cfg.max_swarms.div_ceil(SHARDS);
        store_cfg.max_peers_total = store_cfg.max_peers_total.div_ceil(SHARDS);
        let mut rng = rand::rng();
        let shards = (0..SHARDS)
            .map(|_| SwarmStore::new(store_cfg, epoch, rng.next_u64()))
            .collect();
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        let secs = |d: Duration| u32::try_from(d.as_secs().max(1)).unwrap_or(u32::MAX);
        let interval = secs(config.interval);
        let min_interval = config.min_interval.map_or((interval / 2).max(1), secs);
        let shared = Arc::new(Shared::new(
            shards,
            allow.clone(),
            ConnectionIds::new(secret, epoch, CONNECTION_ID_WINDOW),
            interval,
            min_interval,
        ));
        if let Some(p) = &config.state_file {
            let mut swarms = read_state(p)?;
            if let Some(allow) = &allow {
                swarms.retain(|s| allow.contains(&s.info_hash));
            }
            let n = swarms.len();
            let now = Instant::now();
            for s in swarms {
                let h = s.info_hash;
                shared.restore(now, h, s);
            }
            tracing::info!(swarms = n, path = %p.display(), "restored tracker state");
        }

        let cancel = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let mut http_addr = None;
        if let Some(addr) = config.http {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| TrackerError::Bind {
                    proto: "HTTP",
                    addr,
                    source,
                })?;
            http_addr = l.local_addr().ok();
            let app = Router::new()
                .route("/announce", get(http_announce))
                .route("/scrape", get(http_scrape))
                .with_state(shared.clone());
            let limits = HttpLimits {
                max_connections: config.http_max_connections,
                header_timeout: config.http_header_timeout,
            };
            tasks.spawn(crate::http::serve(
                l,
                app,
                limits,
                shared.clone(),
                cancel.clone(),
            ));
        }
        let mut udp_addr = None;
        let mut udp_threads = Vec::new();
        if let Some(addr) = config.udp {
            let bind_err = |source| TrackerError::Bind {
                proto: "UDP",
                addr,
                source,
            };
            let sock = std::net::UdpSocket::bind(addr).map_err(bind_err)?;
            sock.set_read_timeout(Some(UDP_POLL)).map_err(bind_err)?;
            udp_addr = sock.local_addr().ok();
            for i in 0..config.udp_workers.max(1) {
                let sock = sock.try_clone().map_err(bind_err)?;
                let (s, c) = (shared.clone(), cancel.clone());
                let t = std::thread::Builder::new()
                    .name(format!("tracker-udp-{i}"))
                    .spawn(move || udp_worker(&sock, &s, &c))
                    .map_err(bind_err)?;
                udp_threads.push(t);
            }
        }
        tasks.spawn(housekeeping(shared.clone(), config.clone(), cancel.clone()));
        tracing::info!(http = ?http_addr, udp = ?udp_addr, interval, "tracker listening");
        Ok(RunningTracker {
            http_addr,
            udp_addr,
            shared,
            cancel,
            tasks,
            udp_threads,
            state_file: config.state_file,
        })
    }
}

impl RunningTracker {
    /// The bound HTTP address (useful with port 0).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The bound UDP address.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp_addr
    }

    /// `http://ADDR/announce`, if HTTP is served.
    pub fn http_announce_url(&self) -> Option<String> {
        self.http_addr.map(|a| format!("http://{a}/announce"))
    }

    /// `udp://ADDR/announce`, if UDP is served.
    pub fn udp_announce_url(&self) -> Option<String> {
        self.udp_addr.map(|a| format!("udp://{a}/announce"))
    }

    /// Counters and current swarm/peer counts.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Stops serving, waits for the tasks and writes the state file (if configured).
    pub async fn shutdown(mut self) -> Result<(), TrackerError> {
        self.cancel.cancel();
        while self.tasks.join_next().await.is_some() {}
        let threads = std::mem::take(&mut self.udp_threads);
        // Each thread notices the cancellation within `UDP_POLL`.
        let _ =
            tokio::task::spawn_blocking(move || threads.into_iter().for_each(|t| drop(t.join())))
                .await;
        match self.state_file.take() {
            Some(p) => save_state(self.shared.clone(), p).await,
            None => Ok(()),
        }
    }
}

impl Drop for RunningTracker {
    fn drop(&mut self) {
        // Without an explicit shutdown the tasks still end (no state is written).
        self.cancel.cancel();
    }
}

async fn http_announce(
    State(s): State<Arc<Shared>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    RawQuery(q): RawQuery,
) -> impl IntoResponse {
    let mut out = Vec::with_capacity(512);
    s.http_announce(Instant::now(), q.as_deref().unwrap_or(""), from, &mut out);
    ([(CONTENT_TYPE, "text/plain")], out)
}

async fn http_scrape(State(s): State<Arc<Shared>>, RawQuery(q): RawQuery) -> impl IntoResponse {
    let mut out = Vec::with_capacity(256);
    s.http_scrape(q.as_deref().unwrap_or(""), &mut out);
    ([(CONTENT_TYPE, "text/plain")], out)
}

async fn save_state(s: Arc<Shared>, path: PathBuf) -> Result<(), TrackerError> {
    let mut swarms = Vec::new();
    s.for_each_shard(|st| swarms.extend(st.snapshot()));
    let p = path.clone();
    tokio::task::spawn_blocking(move || write_state(&p, &swarms))
        .await
        .map_err(|e| TrackerError::State {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?
}

fn mtime(p: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn reload_allow(s: &Shared, p: &std::path::Path) {
    match read_allow_list(p) {
        Ok(set) => {
            tracing::info!(entries = set.len(), path = %p.display(), "allow-list reloaded");
            s.set_allow(set);
        }
        Err(e) => tracing::warn!("{e}; keeping the previous allow-list"),
    }
}

/// Expires peers, logs statistics, reloads the allow-list and saves the state.
async fn housekeeping(s: Arc<Shared>, config: Config, cancel: CancellationToken) {
    let sweep = (config.interval / 2).clamp(Duration::from_secs(1), Duration::from_secs(30));
    let mut sweep_t = tokio::time::interval(sweep);
    let mut stats_t = tokio::time::interval(config.stats_every.max(Duration::from_secs(1)));
    let mut allow_t = tokio::time::interval(ALLOW_POLL);
    let mut save_t = tokio::time::interval(STATE_SAVE_EVERY);
    for t in [&mut sweep_t, &mut stats_t, &mut allow_t, &mut save_t] {
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    #[cfg(unix)]
    let mut hup = match (
        &config.allow_file,
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()),
    ) {
        (Some(_), Ok(h)) => Some(h),
        _ => None,
    };
    let mut allow_mtime = config.allow_file.as_deref().and_then(mtime);
    let mut last = (Instant::now(), 0u64);
    loop {
        #[cfg(unix)]
        let hup_recv = async {
            match hup.as_mut() {
                Some(h) => h.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let hup_recv = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = sweep_t.tick() => {
                let now = Instant::now();
                let mut dropped = 0;
                s.for_each_shard(|st| dropped += st.expire(now));
                if dropped > 0 {
                    tracing::debug!(dropped, "expired peers");
                }
            }
            _ = stats_t.tick() => {
                let st = s.stats();
                let total = st.http_announces + st.udp_announces;
                let secs = last.0.elapsed().as_secs_f64().max(0.001);
                let rate = (total - last.1) as f64 / secs;
                last = (Instant::now(), total);
                tracing::info!(
                    swarms = st.counts.swarms,
                    peers = st.counts.peers,
                    seeds = st.counts.seeds,
                    announces_per_s = format!("{rate:.1}"),
                    udp_dropped = st.udp_malformed + st.udp_bad_connection_id,
                    "tracker stats"
                );
            }
            _ = allow_t.tick(), if config.allow_file.is_some() => {
                if let Some(p) = &config.allow_file {
                    let m = mtime(p);
                    if m != allow_mtime {
                        allow_mtime = m;
                        reload_allow(&s, p);
                    }
                }
            }
            _ = hup_recv => {
                if let Some(p) = &config.allow_file {
                    allow_mtime = mtime(p);
                    reload_allow(&s, p);
                }
            }
            _ = save_t.tick(), if config.state_file.is_some() => {
                if let Some(p) = &config.state_file {
                    if let Err(e) = save_state(s.clone(), p.clone()).await {
                        tracing::warn!("{e}");
                    }
                }
            }
        }
    }
}
