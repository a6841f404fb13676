//! `ferrent daemon --dir DIR`: run torrents in the background, driven over HTTP (a JSON API and
//! a web page, served by `ferrent-daemon`), until Ctrl-C or SIGTERM. The torrents come back when
//! the daemon is started again with the same state directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use ferrent_daemon::{BoundedListener, Daemon, DaemonConfig, MAX_HTTP_CONNECTIONS, router};

/// The state directory's name inside --dir when --state is not given (hidden, like the resume
/// files and the DHT table).
pub const DEFAULT_STATE_DIR: &str = ".ferrent-daemon";

/// How long open HTTP connections get to finish after the torrents stopped.
const HTTP_DRAIN: Duration = Duration::from_secs(5);

/// Arguments of `ferrent daemon`.
#[derive(clap::Args)]
pub struct Args {
    /// Where the HTTP API and web page listen. Loopback by default: the API can add torrents
    /// and delete their data, and has no authentication. Listen elsewhere only on a network
    /// you trust (and name the host with --allow-host).
    #[arg(long, default_value = "127.0.0.1:9091", value_name = "IP:PORT")]
    pub listen: SocketAddr,
    /// Directory every torrent downloads into (API clients cannot choose another).
    #[arg(short = 'd', long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Where the daemon keeps its torrents' metainfo, resume files and DHT table between runs
    /// (default: DIR/.ferrent-daemon).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Also accept requests whose Host header names this (repeatable; e.g. the machine's LAN
    /// name). Loopback names and the --listen address are always accepted.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_host: Vec<String>,
    #[command(flatten)]
    pub net: super::seed::NetArgs,
}

/// Runs `ferrent daemon`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let state = args
        .state
        .clone()
        .unwrap_or_else(|| args.dir.join(DEFAULT_STATE_DIR));
    // The DHT table (with --dht-bootstrap) is kept in the state directory too.
    let session = args.net.session(&state)?;
    let mut config = DaemonConfig::new(&args.dir, &state);
    config.peers = args.net.peers.clone();
    config.allowed_hosts = args.allow_host.clone();
    let ip = args.listen.ip();
    if !ip.is_unspecified() {
        config.allowed_hosts.push(ip.to_string());
    }
    let daemon = Daemon::new(session, config)
        .with_context(|| format!("cannot use {} / {}", args.dir.display(), state.display()))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let bound = listener.local_addr().context("listener address")?;
    let restored = daemon.restore().await;
    println!(
        "ferrent daemon: web page and API on http://{bound}/ ({restored} torrents restored; data in {}, state in {})",
        args.dir.display(),
        state.display()
    );
    println!(
        "  add a torrent: curl --data-binary @file.torrent -H 'Content-Type: application/x-bittorrent' http://{bound}/api/torrents"
    );

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let listener = BoundedListener::new(listener, MAX_HTTP_CONNECTIONS);
    let server = axum::serve(listener, router(daemon.clone())).with_graceful_shutdown(async {
        let _ = stop_rx.await;
    });
    let mut server = tokio::spawn(server.into_future());
    let served = tokio::select! {
        r = &mut server => Some(r),
        s = stop_signal() => {
            s?;
            None
        }
    };
    println!("ferrent daemon: stopping the torrents");
    daemon.shutdown().await;
    if let Some(r) = served {
        r.context("HTTP server task")?
            .context("HTTP server failed")?;
    } else {
        let _ = stop_tx.send(());
        if tokio::time::timeout(HTTP_DRAIN, &mut server).await.is_err() {
            server.abort();
        }
    }
    println!("ferrent daemon: stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM (what `kill` and service managers send).
async fn stop_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot watch Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}
