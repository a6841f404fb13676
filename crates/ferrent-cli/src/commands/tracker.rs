//! `ferrent tracker`: runs the built-in BitTorrent tracker (HTTP and UDP, see `ferrent-tracker`)
//! until Ctrl-C or SIGTERM, then stops cleanly and writes the state file if one is given.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use ferrent_tracker::{Config, Tracker};

/// Arguments of `ferrent tracker`.
#[derive(clap::Args)]
pub struct Args {
    /// Serve HTTP announces and scrapes on this address (binding a non-loopback address is an
    /// explicit choice).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:6969")]
    http: SocketAddr,
    /// Serve UDP (BEP 15) on this address.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:6969")]
    udp: SocketAddr,
    /// Do not serve HTTP.
    #[arg(long)]
    no_http: bool,
    /// Do not serve UDP.
    #[arg(long)]
    no_udp: bool,
    /// Only track the info-hashes in FILE (one per line, hex or base32; `#` comments). The file
    /// is reloaded when it changes and on SIGHUP.
    #[arg(long, value_name = "FILE")]
    allow: Option<PathBuf>,
    /// Keep swarms across restarts: read FILE at start, rewrite it every minute and at exit
    /// (crash-safely).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Announce interval sent to clients, in seconds; peers expire after two intervals.
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    interval: u64,
    /// `min interval` sent to clients, in seconds (default: half the interval).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    min_interval: Option<u64>,
}

/// Runs `ferrent tracker`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = Config {
        http: (!args.no_http).then_some(args.http),
        udp: (!args.no_udp).then_some(args.udp),
        interval: Duration::from_secs(args.interval),
        min_interval: args.min_interval.map(Duration::from_secs),
        allow_file: args.allow,
        state_file: args.state,
        ..Config::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let tracker = Tracker::bind(config).await?;
    if let Some(u) = tracker.http_announce_url() {
        println!("tracker: {u}");
    }
    if let Some(u) = tracker.udp_announce_url() {
        println!("tracker: {u}");
    }
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.tick().await;
    let mut last = (std::time::Instant::now(), 0u64);
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            r = &mut stop => {
                r?;
                break;
            }
            _ = tick.tick() => {
                let s = tracker.stats();
                let total = s.http_announces + s.udp_announces;
                let rate = (total - last.1) as f64 / last.0.elapsed().as_secs_f64().max(0.001);
                last = (std::time::Instant::now(), total);
                println!(
                    "tracker: {} swarms, {} peers ({} seeds), {rate:.1} announces/s",
                    s.counts.swarms, s.counts.peers, s.counts.seeds
                );
            }
        }
    }
    println!("tracker: stopping");
    tracker.shutdown().await?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot listen for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("cannot listen for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")?;
    Ok(())
}
