//! `ferrent share <path>`: one command to distribute a file or directory. It creates the torrent
//! (announcing to the built-in tracker), starts that tracker, seeds the path, and prints the
//! magnet link and the `.torrent` path for the other machines' `ferrent download`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use ferrent::AddTorrent;
use ferrent_core::{CreateOptions, Magnet, Metainfo, create_torrent};
use ferrent_tracker::{Config as TrackerConfig, Tracker};

/// Announce interval the built-in tracker hands out: short, so new downloaders find each other
/// within a minute on a private network.
const SHARE_INTERVAL: Duration = Duration::from_secs(60);

/// Arguments of `ferrent share`.
#[derive(clap::Args)]
pub struct Args {
    /// The file or directory to share.
    pub path: PathBuf,
    /// Where the built-in tracker listens (HTTP and UDP). Binding beyond loopback is your
    /// explicit choice: other machines need it (e.g. 0.0.0.0:6969 or this host's address).
    #[arg(long, default_value = "127.0.0.1:6969")]
    pub tracker_addr: SocketAddr,
    /// Address put in the torrent for the tracker (default: --tracker-addr; set it when
    /// listening on 0.0.0.0).
    #[arg(long)]
    pub public_tracker_addr: Option<SocketAddr>,
    /// Another tracker to announce to as well (repeatable; a tier each).
    #[arg(long = "also-announce", value_name = "URL")]
    pub also_announce: Vec<String>,
    /// Where to write the .torrent (default: NAME.torrent in the current directory).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub net: super::seed::NetArgs,
    #[command(flatten)]
    pub until: super::seed::SeedLimits,
}

/// Runs `ferrent share`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let path = std::fs::canonicalize(&args.path)
        .with_context(|| format!("cannot read {}", args.path.display()))?;
    let Some(parent) = path.parent().map(PathBuf::from) else {
        bail!("cannot share the file system root");
    };
    let advertised = args.public_tracker_addr.unwrap_or(args.tracker_addr);
    let mut trackers = vec![vec![format!("http://{advertised}/announce")]];
    trackers.extend(args.also_announce.iter().map(|u| vec![u.clone()]));
    let options = CreateOptions {
        trackers,
        ..CreateOptions::default()
    };
    let created = create_torrent(&path, &options)
        .with_context(|| format!("cannot create a torrent of {}", path.display()))?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.torrent", created.name)));
    std::fs::write(&out, &created.bytes)
        .with_context(|| format!("cannot write {}", out.display()))?;
    let meta = Metainfo::from_bytes(&created.bytes)?;
    let magnet = Magnet::new(meta.info_hash())
        .with_name(meta.name())
        .with_trackers(meta.trackers().into_iter().flatten());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let config = TrackerConfig {
            http: Some(args.tracker_addr),
            udp: Some(args.tracker_addr),
            interval: SHARE_INTERVAL,
            ..TrackerConfig::default()
        };
        let tracker = Tracker::bind(config)
            .await
            .with_context(|| format!("cannot start the tracker on {}", args.tracker_addr))?;
        let session = args.net.session(&parent)?;
        let mut add = AddTorrent::new(&parent);
        add.upload_only = true;
        add.peers = args.net.peers.clone();
        let torrent = session.add_torrent(meta, add).await?;
        println!("sharing {} ({} pieces)", path.display(), created.num_pieces);
        println!("torrent:  {}", out.display());
        println!("magnet:   {magnet}");
        println!("tracker:  http://{advertised}/announce and udp://{advertised}/announce");
        println!(
            "seeding on {}; on the other machines: ferrent download {} -o DIR",
            session.local_addr().map_or("-".into(), |a| a.to_string()),
            out.display()
        );
        let result = super::seed::seed_until(&created.name, torrent, &args.until).await;
        session.shutdown().await;
        tracker.shutdown().await.ok();
        result
    })
}
