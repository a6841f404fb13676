//! `ferrent create`: make a `.torrent` from a file or a directory (v1, v2 or hybrid).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytesize::ByteSize;
use ferrent_core::{CreateOptions, CreatePlan, CreationDate, TorrentVersion};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `ferrent create`.
#[derive(clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// The file or directory to share.
    pub path: PathBuf,

    /// Where to write the torrent [default: NAME.torrent in the current directory].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Overwrite the output file if it exists.
    #[arg(short, long)]
    pub force: bool,

    /// Tracker announce URL. Repeat for more tiers; URLs separated by commas inside one value
    /// form one tier (BEP 12), e.g. `-t udp://a,udp://b -t http://c` = tiers (a, b) and (c).
    #[arg(short, long = "tracker", value_name = "URL[,URL...]")]
    pub trackers: Vec<String>,

    /// Piece size: bytes, or with a binary suffix K, M or G (256K = 256 KiB). A power of two from
    /// 16K to 256M [default: chosen from the total size for 1000-2000 pieces, 16K to 16M].
    #[arg(short, long, value_name = "SIZE", value_parser = parse_size)]
    pub piece_size: Option<u64>,

    /// Mark the torrent private (BEP 27: peers only from its trackers; no DHT, PEX or LSD).
    #[arg(long)]
    pub private: bool,

    /// The torrent's comment.
    #[arg(short, long)]
    pub comment: Option<String>,

    /// A web seed URL (BEP 19); repeatable.
    #[arg(short, long = "web-seed", value_name = "URL")]
    pub web_seeds: Vec<String>,

    /// The `source` field (changes the info-hash; private trackers ask for it).
    #[arg(short, long)]
    pub source: Option<String>,

    /// Leave out the creation date (with a fixed input, the same torrent every time).
    #[arg(long, conflicts_with = "date")]
    pub no_date: bool,

    /// Use this creation date (seconds since 1970-01-01 UTC) instead of now.
    #[arg(long, value_name = "UNIX_SECONDS")]
    pub date: Option<i64>,

    /// Make a BitTorrent v2-only torrent (BEP 52; read by libtorrent 2.x-based clients only).
    #[arg(long, conflicts_with = "hybrid")]
    pub v2: bool,

    /// Make a hybrid v1 + v2 torrent (BEP 52, with BEP 47 pad files aligning files to pieces).
    #[arg(long)]
    pub hybrid: bool,

    /// Hashing threads [default: all cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

const AFTER_HELP: &str = "\
Files of a directory are sorted by path (byte order, component by component). Hidden files are
included; symbolic links to files are followed, links to directories are not; empty directories,
dangling links and special files are left out (and listed as warnings); zero-length files are kept.

Examples:
  ferrent create ./photos -t udp://tracker.example:6969/announce
  ferrent create big.iso -o big.torrent -p 4M --hybrid --no-date";

/// Parses `12345`, `256K`, `256KiB`, `1M`, `1MB`, `2g` (suffixes are binary: K = 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(digits);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 262144, 256K, 1M)"))?;
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => {
            return Err(format!(
                "{s:?}: unknown size suffix {suffix:?} (use K, M or G)"
            ));
        }
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// `-t a,b -t c` -> `[[a, b], [c]]`.
fn tiers(values: &[String]) -> Vec<Vec<String>> {
    values
        .iter()
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(String::from)
                .collect()
        })
        .filter(|t: &Vec<String>| !t.is_empty())
        .collect()
}

/// Runs `ferrent create`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let version = match (args.v2, args.hybrid) {
        (true, _) => TorrentVersion::V2,
        (_, true) => TorrentVersion::Hybrid,
        _ => TorrentVersion::V1,
    };
    let options = CreateOptions {
        trackers: tiers(&args.trackers),
        piece_length: args.piece_size,
        private: args.private,
        comment: args.comment,
        web_seeds: args.web_seeds,
        source: args.source,
        creation_date: match (args.no_date, args.date) {
            (true, _) => CreationDate::Omit,
            (_, Some(t)) => CreationDate::Unix(t),
            _ => CreationDate::Now,
        },
        version,
        threads: args.threads,
        ..CreateOptions::default()
    };
    let plan = CreatePlan::scan(&args.path, &options)?;
    let output = args
        .output
        .unwrap_or_else(|| PathBuf::from(format!("{}.torrent", plan.name())));
    if !args.force && output.exists() {
        bail!("{} exists (use --force to overwrite)", output.display());
    }
    for s in plan.skipped() {
        eprintln!("warning: left out {}: {}", s.path.display(), s.reason);
    }

    let total = plan.total_size();
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "{spinner} hashing [{bar:40}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let progress = AtomicU64::new(0);
    let started = Instant::now();
    // Hash on a helper thread; this one redraws the bar until the result arrives (no polling
    // delay at the end: `recv_timeout` returns as soon as the result is sent).
    let created = std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        let progress = &progress;
        s.spawn(move || {
            // The receiver outlives this thread (both live in this scope).
            let _ = tx.send(plan.hash(progress));
        });
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(result) => break Some(result),
                Err(RecvTimeoutError::Timeout) => {
                    bar.set_position(progress.load(Ordering::Relaxed))
                }
                Err(RecvTimeoutError::Disconnected) => break None,
            }
        }
    });
    bar.finish_and_clear();
    let Some(created) = created else {
        bail!("the hashing thread stopped without a result")
    };
    let created = created?;
    let elapsed = started.elapsed();

    let mut open = OpenOptions::new();
    open.write(true);
    if args.force {
        open.create(true).truncate(true);
    } else {
        open.create_new(true);
    }
    let mut file = open
        .open(&output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    file.write_all(&created.bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", output.display()))?;

    let kind = match created.version {
        TorrentVersion::V1 => "v1",
        TorrentVersion::V2 => "v2",
        TorrentVersion::Hybrid => "hybrid (v1 + v2)",
    };
    println!("name:       {}", created.name);
    println!("kind:       {kind}");
    if let Some(h) = created.info_hash.v1_hash() {
        println!("info-hash:  {h} (v1)");
    }
    if let Some(h) = created.info_hash.v2_hash() {
        println!("info-hash:  {h} (v2)");
    }
    println!(
        "size:       {} ({} bytes)",
        ByteSize::b(created.total_size).display().iec(),
        created.total_size
    );
    let pads = if created.pad_bytes > 0 {
        format!(
            ", {} of pad files",
            ByteSize::b(created.pad_bytes).display().iec()
        )
    } else {
        String::new()
    };
    println!("files:      {}{pads}", created.num_files);
    println!(
        "pieces:     {} x {}",
        created.num_pieces,
        ByteSize::b(created.piece_length).display().iec()
    );
    let secs = elapsed.as_secs_f64();
    println!(
        "hashed in:  {secs:.2} s ({:.2} GB/s)",
        created.total_size as f64 / secs.max(1e-9) / 1e9
    );
    println!("written:    {}", output.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("262144"), Ok(262_144));
        assert_eq!(parse_size("256K"), Ok(256 * 1024));
        assert_eq!(parse_size("256kib"), Ok(256 * 1024));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert!(parse_size("1.5M").is_err());
        assert!(parse_size("1X").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn commas_make_one_tier_and_repeats_make_more() {
        let t = tiers(&["udp://a, udp://b".into(), "http://c".into(), ",".into()]);
        assert_eq!(t, vec![vec!["udp://a", "udp://b"], vec!["http://c"]]);
    }
}
