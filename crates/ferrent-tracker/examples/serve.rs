//! Runs ferrent's tracker with default settings on one address (HTTP and UDP) until SIGTERM or
//! Ctrl-C: the same library and defaults as `ferrent tracker`, without building the whole CLI.
//! Used by `scripts/bench-tracker.sh` when the `ferrent` binary is not available.
//!
//! ```text
//! cargo run --release -p ferrent-tracker --example serve -- 127.0.0.1:6969 [INTERVAL_SECS]
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use ferrent_tracker::{Config, Tracker};

fn main() {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = match args.next().map(|a| a.parse()) {
        Some(Ok(a)) => a,
        _ => {
            eprintln!("usage: serve ADDR:PORT [INTERVAL_SECS [UDP_WORKERS]]");
            std::process::exit(2);
        }
    };
    let interval = args.next().and_then(|s| s.parse().ok()).unwrap_or(1800);
    let defaults = Config::default();
    let udp_workers = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(defaults.udp_workers);
    let config = Config {
        http: Some(addr),
        udp: Some(addr),
        interval: Duration::from_secs(interval),
        udp_workers,
        ..defaults
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("serve: {e}");
            std::process::exit(1);
        }
    };
    let r = rt.block_on(async {
        let t = Tracker::bind(config).await?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| ferrent_tracker::TrackerError::State {
                path: String::new(),
                reason: e.to_string(),
            })?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        t.shutdown().await
    });
    if let Err(e) = r {
        eprintln!("serve: {e}");
        std::process::exit(1);
    }
}
