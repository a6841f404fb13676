//! `ferrent download <torrent> -o DIR`: fetch a torrent from its swarm, with a live progress bar
//! on a terminal and plain periodic lines otherwise.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytesize::ByteSize;
use ferrent::{AddTorrent, StatsSnapshot, TorrentState};
use indicatif::{ProgressBar, ProgressStyle};

/// How often the progress display refreshes.
const REFRESH: Duration = Duration::from_millis(250);

/// How often a plain progress line is printed when stdout is not a terminal.
const PLAIN_LINE_EVERY: Duration = Duration::from_secs(5);

/// Arguments of `ferrent download`.
#[derive(clap::Args)]
pub struct Args {
    /// A .torrent file, an `http(s)://` URL of one, or a magnet link (`magnet:?xt=urn:btih:...`;
    /// the metadata is fetched from its `x.pe` peers, `--peer`s, the peers of its trackers and
    /// the DHT, BEP 9).
    pub torrent: String,
    /// For a magnet link: also write the fetched metadata as a .torrent file here.
    #[arg(long, value_name = "PATH")]
    pub save_torrent: Option<PathBuf>,
    /// Directory to download into (the torrent's file or folder is created inside it).
    #[arg(short = 'o', long = "output", default_value = ".")]
    pub output: PathBuf,
    /// Give up when no new data arrived for this long (e.g. 90s, 5m).
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Download only these files: indexes (as `ferrent info` shows them), ranges (2-5) or
    /// globs on the path (`*.iso`), comma-separated or repeated. Pieces shared with a selected
    /// file are fetched whole, so neighbouring files may get those bytes.
    #[arg(long, value_delimiter = ',', value_name = "FILES")]
    pub only: Vec<String>,
    /// Skip these files (same forms as --only).
    #[arg(long, value_delimiter = ',', value_name = "FILES")]
    pub skip: Vec<String>,
    /// Keep seeding after the download completes (until Ctrl-C, --ratio or --seed-time).
    #[arg(long)]
    pub seed: bool,
    #[command(flatten)]
    pub net: super::seed::NetArgs,
    #[command(flatten)]
    pub until: super::seed::SeedLimits,
}

/// Runs `ferrent download`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(download(args))
}

async fn download(args: Args) -> anyhow::Result<()> {
    let session = args.net.session(&args.output)?;
    let result = fetch(&session, args).await;
    session.shutdown().await;
    result
}

async fn fetch(session: &ferrent::Session, args: Args) -> anyhow::Result<()> {
    let mut select_only = Vec::new();
    let mut peers = args.net.peers.clone();
    let meta = if args
        .torrent
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("magnet:")
    {
        let magnet = ferrent_core::Magnet::parse(&args.torrent).context("invalid magnet link")?;
        let label = magnet
            .name
            .clone()
            .unwrap_or_else(|| magnet.info_hash.wire_id().to_hex());
        println!("{label}: fetching metadata from peers (BEP 9)");
        let progress = ferrent::metadata::MetadataProgress::default();
        let fetch = session.fetch_magnet_metadata_with(&magnet, &args.net.peers, Some(&progress));
        tokio::pin!(fetch);
        let mut view = MetadataView::new(&label);
        let fetched = loop {
            tokio::select! {
                r = &mut fetch => break r,
                _ = tokio::time::sleep(REFRESH) => view.update(&progress),
                _ = tokio::signal::ctrl_c() => bail!("{label}: interrupted while fetching metadata"),
            }
        };
        view.finish();
        let (meta, found) = fetched.with_context(|| format!("{label}: no metadata"))?;
        println!(
            "{}: metadata received ({} pieces, {} files)",
            meta.name(),
            meta.layout().num_pieces(),
            meta.files().len()
        );
        if let Some(path) = &args.save_torrent {
            std::fs::write(path, meta.to_torrent_file())
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("{}: saved {}", meta.name(), path.display());
        }
        select_only = magnet.select_only.clone();
        peers = found;
        meta
    } else if is_http_url(&args.torrent) {
        let url = args.torrent.trim();
        println!("{url}: fetching the .torrent");
        let bytes = ferrent::torrent_url::fetch_torrent_url(
            url,
            super::info::MAX_TORRENT_FILE,
            args.net.bind,
        )
        .await?;
        ferrent_core::Metainfo::from_bytes(&bytes)
            .with_context(|| format!("{url} is not a valid torrent"))?
    } else {
        super::info::read_torrent(std::path::Path::new(&args.torrent))?
    };
    let name = meta.name().to_owned();
    let no_trackers = meta.trackers().is_empty();
    if no_trackers && peers.is_empty() && args.net.dht_bootstrap.is_empty() && !args.net.lsd {
        bail!(
            "{name}: the torrent has no trackers and no --peer, --dht-bootstrap or --lsd was given: nowhere to find peers"
        );
    }
    let mut add = AddTorrent::new(&args.output);
    let mut only = args.only.clone();
    if only.is_empty() {
        // BEP 53 `so` of a magnet link, unless --only says otherwise.
        only = select_only
            .iter()
            .map(|r| format!("{}-{}", r.start(), r.end()))
            .collect();
    }
    add.file_priorities = super::select::file_priorities(&meta, &only, &args.skip)?;
    add.peers = peers;
    let start = Instant::now();
    let mut torrent = session
        .add_torrent(meta, add)
        .await
        .with_context(|| format!("cannot start {name}"))?;
    let s = torrent.stats();
    if s.pieces_resumed > 0 {
        println!(
            "{name}: resumed {} of {} pieces from {}",
            s.pieces_resumed,
            s.pieces_total,
            args.output.display()
        );
    }
    let mut view = Progress::new(&name, s.wanted_bytes);
    let mut last_progress = (s.verified_bytes + s.downloaded, Instant::now());
    let outcome = loop {
        let finished = tokio::select! {
            st = torrent.wait_finished() => Some(st),
            _ = tokio::time::sleep(REFRESH) => None,
            _ = tokio::signal::ctrl_c() => Some(TorrentState::Stopped),
        };
        let s = torrent.stats();
        view.update(&s);
        if let Some(st) = finished {
            break (st, s);
        }
        let moved = s.verified_bytes + s.downloaded;
        if moved != last_progress.0 {
            last_progress = (moved, Instant::now());
        } else if last_progress.1.elapsed() >= args.timeout {
            break (TorrentState::Stopped, s);
        }
    };
    view.finish();
    let (state, s) = outcome;
    if state == TorrentState::Complete && args.seed {
        print_complete(&name, &s, start.elapsed());
        return super::seed::seed_until(&name, torrent, &args.until).await;
    }
    torrent.stop().await;
    let elapsed = start.elapsed();
    match state {
        TorrentState::Complete => {
            print_complete(&name, &s, elapsed);
            Ok(())
        }
        TorrentState::Failed => bail!("{name}: {}", s.error.unwrap_or_else(|| "failed".into())),
        _ => {
            let why = if last_progress.1.elapsed() >= args.timeout {
                format!(
                    "no progress for {}",
                    humantime::format_duration(args.timeout)
                )
            } else {
                "interrupted".to_string()
            };
            let trackers = s
                .tracker_error
                .as_ref()
                .map(|e| format!("; trackers: {e}"))
                .unwrap_or_default();
            bail!(
                "{name}: {why} at {:.1}% ({} peers connected, {} known{trackers})",
                percent(&s),
                s.peers_connected,
                s.peers_known
            )
        }
    }
}

/// Whether `arg` is an `http://` or `https://` URL (of a .torrent file).
fn is_http_url(arg: &str) -> bool {
    let lower = arg.trim_start().to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

fn print_complete(name: &str, s: &StatsSnapshot, elapsed: Duration) {
    let rate = s.downloaded as f64 / elapsed.as_secs_f64().max(1e-3);
    let mut failed = if s.hash_failures > 0 {
        format!(
            ", {} pieces failed their hash and were fetched again",
            s.hash_failures
        )
    } else {
        String::new()
    };
    if s.peers_banned > 0 {
        failed.push_str(&format!(
            ", {} peers banned for corrupt data",
            s.peers_banned
        ));
    }
    if s.wasted > 0 {
        // Blocks that arrived twice (endgame duplicates, answers crossing our cancels).
        failed.push_str(&format!(
            ", {} received twice",
            ByteSize::b(s.wasted).display().iec()
        ));
    }
    println!(
        "{name}: complete, {} in {:.1} s ({}/s average), {} of {} pieces fetched, {} resumed, {} uploaded{failed}",
        ByteSize::b(s.downloaded).display().iec(),
        elapsed.as_secs_f64(),
        ByteSize::b(rate as u64).display().iec(),
        s.pieces_total - s.pieces_resumed,
        s.pieces_total,
        s.pieces_resumed,
        ByteSize::b(s.uploaded).display().iec(),
    );
}

fn percent(s: &StatsSnapshot) -> f64 {
    if s.wanted_bytes == 0 {
        100.0
    } else {
        s.verified_bytes as f64 * 100.0 / s.wanted_bytes as f64
    }
}

/// The live display: an indicatif bar on a terminal, a line every few seconds otherwise.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    name: String,
    last_line: Instant,
    last_sample: (Instant, u64),
    rate: f64,
}

impl Progress {
    pub(crate) fn new(name: &str, total: u64) -> Self {
        let bar = std::io::stdout().is_terminal().then(|| {
            let b = ProgressBar::new(total);
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:30.cyan/blue}] {percent:>3}% {bytes}/{total_bytes} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            b.set_style(style);
            b.set_prefix(name.to_owned());
            b
        });
        Progress {
            bar,
            name: name.to_owned(),
            last_line: Instant::now(),
            last_sample: (Instant::now(), 0),
            rate: 0.0,
        }
    }

    pub(crate) fn update(&mut self, s: &StatsSnapshot) {
        let now = Instant::now();
        let dt = now.duration_since(self.last_sample.0).as_secs_f64();
        if dt >= 0.5 {
            let inst = (s.downloaded.saturating_sub(self.last_sample.1)) as f64 / dt;
            self.rate = 0.5 * self.rate + 0.5 * inst;
            self.last_sample = (now, s.downloaded);
        }
        let left = s.wanted_bytes.saturating_sub(s.verified_bytes);
        let eta = if self.rate > 1.0 {
            humantime::format_duration(Duration::from_secs((left as f64 / self.rate) as u64))
                .to_string()
        } else {
            "-".into()
        };
        let state = match s.state {
            TorrentState::Checking => "checking ",
            _ => "",
        };
        let msg = format!(
            "{state}down {}/s up {} peers {}/{} eta {eta}",
            ByteSize::b(self.rate as u64).display().iec(),
            ByteSize::b(s.uploaded).display().iec(),
            s.peers_connected,
            s.peers_known,
        );
        match &self.bar {
            Some(b) => {
                b.set_position(s.verified_bytes);
                b.set_message(msg);
            }
            None => {
                if now.duration_since(self.last_line) >= PLAIN_LINE_EVERY {
                    self.last_line = now;
                    println!(
                        "{}: {:.1}% {} of {} {msg}",
                        self.name,
                        percent(s),
                        ByteSize::b(s.verified_bytes).display().iec(),
                        ByteSize::b(s.wanted_bytes).display().iec()
                    );
                }
            }
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// The progress line while a magnet's metadata is missing: a spinner on a terminal, a line
/// every few seconds otherwise. Named by the magnet's `dn` (or its info-hash).
struct MetadataView {
    bar: Option<ProgressBar>,
    label: String,
    last_line: Instant,
}

impl MetadataView {
    fn new(label: &str) -> Self {
        let bar = std::io::stdout().is_terminal().then(|| {
            let b = ProgressBar::new_spinner();
            b.set_prefix(label.to_owned());
            let style = ProgressStyle::with_template("{prefix} {spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            b.set_style(style);
            b
        });
        MetadataView {
            bar,
            label: label.to_owned(),
            last_line: Instant::now(),
        }
    }

    fn update(&mut self, p: &ferrent::metadata::MetadataProgress) {
        use std::sync::atomic::Ordering::Relaxed;
        let (tried, ready) = (p.peers_tried.load(Relaxed), p.peers_ready.load(Relaxed));
        let (have, total) = (p.pieces_have.load(Relaxed), p.pieces_total.load(Relaxed));
        let msg = if tried == 0 {
            "fetching metadata: looking for peers".to_string()
        } else if total == 0 {
            format!("fetching metadata: {tried} peers tried, none has sent its size yet")
        } else {
            format!(
                "fetching metadata: {have}/{total} pieces of 16 KiB, {ready} peers ready, {tried} tried"
            )
        };
        match &self.bar {
            Some(b) => {
                b.set_message(msg);
                b.tick();
            }
            None => {
                if self.last_line.elapsed() >= PLAIN_LINE_EVERY {
                    self.last_line = Instant::now();
                    println!("{}: {msg}", self.label);
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
