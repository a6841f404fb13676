//! `ferrent seed <torrent> -d DIR`: verify the data on disk, then upload it to the swarm until
//! Ctrl-C, `--ratio` or `--seed-time`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytesize::ByteSize;
use ferrent::{AddTorrent, Session, SessionConfig, TorrentHandle, TorrentState};

/// The DHT routing table's file name in the data directory (hidden, like the resume files
/// `.<info-hash>.ferrent-resume` beside it).
pub const DHT_STATE_FILE: &str = ".ferrent-dht";

/// How often a status line is printed while seeding.
const STATUS_EVERY: Duration = Duration::from_secs(10);

/// Arguments of `ferrent seed`.
#[derive(clap::Args)]
pub struct Args {
    /// The .torrent file.
    pub torrent: PathBuf,
    /// Directory holding the torrent's content (as `download -o DIR` leaves it).
    #[arg(short = 'd', long = "dir", default_value = ".")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub net: NetArgs,
    #[command(flatten)]
    pub until: SeedLimits,
}

/// Network options shared by `download` and `seed`.
#[derive(clap::Args, Clone)]
pub struct NetArgs {
    /// Port to accept peers on (0 = any free port).
    #[arg(long, default_value_t = 6881)]
    pub port: u16,
    /// Local IP address to listen on and to connect from.
    #[arg(long, value_name = "IP")]
    pub bind: Option<IpAddr>,
    /// A peer to connect to directly, IP:PORT (repeatable); no tracker needed.
    #[arg(long = "peer", value_name = "IP:PORT")]
    pub peers: Vec<SocketAddr>,
    /// A DHT node to bootstrap from, HOST:PORT (repeatable; BEP 5). Without one, the DHT is
    /// off. (Public routers such as router.bittorrent.com:6881 work on the internet.)
    #[arg(long = "dht-bootstrap", value_name = "HOST:PORT")]
    pub dht_bootstrap: Vec<String>,
    /// Where the DHT routing table is kept between runs (default: `.ferrent-dht` beside the
    /// resume files: the data directory, or the daemon's state directory). Loaded at start as
    /// extra bootstrap nodes, saved every 5 minutes and at exit. Used only with --dht-bootstrap.
    #[arg(long = "dht-state", value_name = "PATH")]
    pub dht_state: Option<PathBuf>,
    /// Period of each torrent's DHT lookup and announce (BEP 5).
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration, hide = true)]
    pub dht_announce_interval: Duration,
    /// Local Service Discovery (BEP 14): find peers on the local network by multicast on
    /// 239.192.152.143:6771, and announce ours. Not used for private torrents.
    #[arg(long)]
    pub lsd: bool,
    /// Period of each torrent's LSD announce.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration, hide = true)]
    pub lsd_interval: Duration,
    /// Base of the UDP tracker retransmission timeout (BEP 15 says 15s).
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration, hide = true)]
    pub udp_retry_base: Duration,
}

impl NetArgs {
    /// The session configuration these options describe (with a listener); `data_dir` is the
    /// directory of the torrent's data, where the DHT table is kept unless --dht-state says
    /// otherwise.
    pub fn session(&self, data_dir: &Path) -> anyhow::Result<Session> {
        let ip = self.bind.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let mut config = SessionConfig {
            listen: Some(SocketAddr::new(ip, self.port)),
            bind_ip: self.bind,
            ..SessionConfig::default()
        };
        config.tracker.udp_retry.base = self.udp_retry_base;
        for node in &self.dht_bootstrap {
            let addrs = std::net::ToSocketAddrs::to_socket_addrs(node.as_str())
                .map_err(|e| anyhow::anyhow!("DHT bootstrap node {node}: {e}"))?;
            config.dht_bootstrap.extend(addrs.take(1));
        }
        config.dht_state_file = Some(
            self.dht_state
                .clone()
                .unwrap_or_else(|| data_dir.join(DHT_STATE_FILE)),
        );
        config.dht_announce_interval = self.dht_announce_interval;
        config.lsd = self.lsd;
        config.lsd_interval = self.lsd_interval;
        Ok(Session::new(config)?)
    }
}

/// When to stop seeding.
#[derive(clap::Args, Clone)]
pub struct SeedLimits {
    /// Stop once uploaded / torrent size reaches this ratio (e.g. 2.0).
    #[arg(long)]
    pub ratio: Option<f64>,
    /// Stop after seeding this long (e.g. 30m, 2h).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub seed_time: Option<Duration>,
}

/// Runs `ferrent seed`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let meta = super::info::read_torrent(&args.torrent)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let session = args.net.session(&args.dir)?;
        let result = seed(&session, meta, &args).await;
        session.shutdown().await;
        result
    })
}

/// Adds the torrent to `session` and seeds it.
async fn seed(session: &Session, meta: ferrent_core::Metainfo, args: &Args) -> anyhow::Result<()> {
    let name = meta.name().to_owned();
    let mut add = AddTorrent::new(&args.dir);
    add.upload_only = true;
    add.peers = args.net.peers.clone();
    let torrent = session
        .add_torrent(meta, add)
        .await
        .with_context(|| format!("cannot start {name}"))?;
    let s = torrent.stats();
    if s.pieces_have == 0 {
        torrent.stop().await;
        bail!(
            "{name}: no verified data in {} (nothing to seed)",
            args.dir.display()
        );
    }
    println!(
        "{name}: {} of {} pieces present ({:.1}%), seeding on {}",
        s.pieces_have,
        s.pieces_total,
        f64::from(s.pieces_have) * 100.0 / f64::from(s.pieces_total.max(1)),
        session.local_addr().map_or("-".into(), |a| a.to_string()),
    );
    seed_until(&name, torrent, &args.until).await
}

/// Seeds until Ctrl-C or a limit; then stops the torrent (announcing `stopped`) and prints a
/// summary line.
pub async fn seed_until(
    name: &str,
    torrent: TorrentHandle,
    limits: &SeedLimits,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut last_status = Instant::now();
    let total = torrent.stats().total_bytes.max(1);
    let reason = loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break "interrupted",
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        let s = torrent.stats();
        if s.state == TorrentState::Failed {
            let e = s.error.unwrap_or_else(|| "failed".into());
            torrent.stop().await;
            bail!("{name}: {e}");
        }
        if limits
            .ratio
            .is_some_and(|r| s.uploaded as f64 / total as f64 >= r)
        {
            break "ratio reached";
        }
        if limits.seed_time.is_some_and(|t| start.elapsed() >= t) {
            break "seed time reached";
        }
        if last_status.elapsed() >= STATUS_EVERY {
            last_status = Instant::now();
            println!(
                "{name}: seeding, uploaded {}, {} peers connected",
                ByteSize::b(s.uploaded).display().iec(),
                s.peers_connected
            );
        }
    };
    let s = torrent.stats();
    torrent.stop().await;
    println!(
        "{name}: stopped seeding ({reason}), uploaded {} in {}",
        ByteSize::b(s.uploaded).display().iec(),
        humantime::format_duration(Duration::from_secs(start.elapsed().as_secs()))
    );
    Ok(())
}
