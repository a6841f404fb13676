//! `ferrent check <torrent> -d DIR`: hash the data on disk against the torrent's v1 piece hashes
//! on all cores, ignoring any resume data, and report what is complete.
//!
//! Exit status 0 when every piece matches, 1 otherwise (or on an error).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytesize::ByteSize;
use ferrent::{Storage, StorageOptions};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `ferrent check`.
#[derive(clap::Args)]
pub struct Args {
    /// The .torrent file.
    pub torrent: PathBuf,
    /// Directory holding the torrent's content (as `download -o DIR` leaves it).
    #[arg(short = 'd', long = "dir", default_value = ".")]
    pub dir: PathBuf,
    /// Hashing threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// Runs `ferrent check`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let meta = super::info::read_torrent(&args.torrent)?;
    if !meta.version().has_v1() {
        bail!("v2-only torrents cannot be checked yet (no v1 piece hashes)");
    }
    let layout = meta.layout().clone();
    let files: Vec<PathBuf> = meta.files().iter().map(|f| f.path()).collect();
    let storage = Storage::open(&args.dir, layout.clone(), files, StorageOptions::default())
        .with_context(|| format!("cannot use {}", args.dir.display()))?;
    let hashes: Vec<[u8; 20]> = layout
        .pieces()
        .map(|p| meta.piece_hash_v1(p).map_or([0; 20], |h| h.0))
        .collect();
    let num_pieces = layout.num_pieces();

    // Hidden by indicatif when stderr is not a terminal.
    let bar = ProgressBar::new(u64::from(num_pieces)).with_style(
        ProgressStyle::with_template(
            "{spinner} checking [{bar:40}] {pos}/{len} pieces {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let progress = AtomicU64::new(0);
    let cancel = AtomicBool::new(false);
    let started = Instant::now();
    // Hash on a helper thread (which uses all cores); this one redraws the bar.
    let result = std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        let (storage, hashes, progress, cancel) = (&storage, &hashes, &progress, &cancel);
        s.spawn(move || {
            let _ = tx.send(storage.recheck(hashes, args.threads, progress, cancel));
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
    let Some(result) = result else {
        bail!("the checking thread stopped without a result")
    };
    let have = result.with_context(|| format!("cannot check {}", args.dir.display()))?;
    let elapsed = started.elapsed();

    let good = have.count_ones();
    let percent = if num_pieces == 0 {
        100.0
    } else {
        f64::from(good) * 100.0 / f64::from(num_pieces)
    };
    let bytes = layout.total_length();
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        bytes as f64 / secs / 1e9
    } else {
        0.0
    };
    println!("{} ({})", meta.name(), ByteSize::b(bytes));
    println!("{good} of {num_pieces} pieces OK ({percent:.1}%)");
    println!("checked in {secs:.3} s ({rate:.2} GB/s)");

    let states = storage.stat_files().context("cannot look at the files")?;
    for (i, file) in meta.files().iter().enumerate() {
        if file.is_pad() {
            continue;
        }
        let pieces = layout.pieces_of_file(i);
        let total = pieces.len();
        let ok = pieces.clone().filter(|&p| have.get(p)).count();
        let complete = if total == 0 {
            // An empty file is complete when it exists.
            matches!(states.get(i), Some(ferrent::FileState::Present { .. }))
        } else {
            ok == total
        };
        let status = if complete {
            "complete".to_string()
        } else {
            format!("incomplete ({ok} of {total} pieces)")
        };
        println!(
            "  [{i}] {} ({}): {status}",
            file.path().display(),
            ByteSize::b(file.length())
        );
    }
    if good != num_pieces {
        bail!(
            "incomplete: {} of {num_pieces} pieces missing or wrong",
            num_pieces - good
        );
    }
    Ok(())
}
