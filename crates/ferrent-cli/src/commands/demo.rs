//! `ferrent demo`: ferrent's main job on loopback, with nothing but this binary. It makes a
//! sample payload, starts the built-in tracker, seeds the payload with one session and downloads
//! it with a second one, then checks the bytes and cleans up.

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytesize::ByteSize;
use ferrent::{AddTorrent, Session, SessionConfig, TorrentState};
use ferrent_core::{CreateOptions, Metainfo, create_torrent};
use ferrent_tracker::{Config as TrackerConfig, Tracker};

/// Longest the demo waits for the download (it takes about a second on loopback).
const DEMO_TIMEOUT: Duration = Duration::from_secs(120);

/// Arguments of `ferrent demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Size of the sample payload (e.g. 64M, 1G).
    #[arg(long, default_value = "64MiB")]
    pub size: ByteSize,
    /// Work in this directory and keep it (default: a temporary directory, removed at the end).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Runs `ferrent demo`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let temp;
    let work = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.clone()
        }
        None => {
            temp = tempfile::Builder::new().prefix("ferrent-demo").tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(demo(&work, args.size.as_u64()))
}

async fn demo(work: &Path, size: u64) -> anyhow::Result<()> {
    ensure!(size > 0, "--size must be more than 0");
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));

    // 1. A sample payload: a directory with a few files of pseudo-random bytes.
    let seed_dir = work.join("seeder");
    let payload = seed_dir.join("ferrent-demo");
    say(&format!(
        "making a {} sample payload in {}",
        ByteSize::b(size).display().iec(),
        payload.display()
    ));
    make_payload(&payload, size)?;

    // 2. The built-in tracker on loopback, with a short interval so peers meet at once.
    let tracker_config = TrackerConfig {
        http: Some(loopback),
        udp: Some(loopback),
        interval: Duration::from_secs(2),
        ..TrackerConfig::default()
    };
    let tracker = Tracker::bind(tracker_config)
        .await
        .context("cannot start the tracker")?;
    let announce = tracker
        .http_announce_url()
        .context("tracker has no HTTP address")?;
    say(&format!(
        "tracker listening: {announce} and {}",
        tracker.udp_announce_url().unwrap_or_default()
    ));

    // 3. The torrent (v1, hashed on all cores).
    let options = CreateOptions {
        trackers: vec![vec![announce]],
        ..CreateOptions::default()
    };
    let created = tokio::task::spawn_blocking({
        let payload = payload.clone();
        move || create_torrent(&payload, &options)
    })
    .await??;
    let torrent_path = work.join("ferrent-demo.torrent");
    std::fs::write(&torrent_path, &created.bytes)?;
    let meta = Metainfo::from_bytes(&created.bytes)?;
    say(&format!(
        "created {} ({} pieces of {}), info-hash {}",
        torrent_path.display(),
        created.num_pieces,
        ByteSize::b(created.piece_length).display().iec(),
        meta.info_hash().wire_id()
    ));

    // 4. A seeding session and a downloading session, each with its own listener.
    let seeder = Session::new(SessionConfig {
        listen: Some(loopback),
        ..SessionConfig::default()
    })?;
    let mut seed_add = AddTorrent::new(&seed_dir);
    seed_add.upload_only = true;
    let seeding = seeder.add_torrent(meta.clone(), seed_add).await?;
    say(&format!(
        "seeder ready on {} with {} of {} pieces",
        seeder.local_addr().map_or("-".into(), |a| a.to_string()),
        seeding.stats().pieces_have,
        seeding.stats().pieces_total
    ));
    wait_for_announce(&tracker).await;

    let leecher = Session::new(SessionConfig {
        listen: Some(loopback),
        ..SessionConfig::default()
    })?;
    let down_dir = work.join("leecher");
    let start = Instant::now();
    let mut downloading = leecher
        .add_torrent(meta.clone(), AddTorrent::new(&down_dir))
        .await?;
    say(&format!(
        "leecher on {} downloading into {}",
        leecher.local_addr().map_or("-".into(), |a| a.to_string()),
        down_dir.display()
    ));
    let mut view = super::download::Progress::new("ferrent-demo", downloading.stats().wanted_bytes);
    let state = loop {
        let finished = tokio::select! {
            s = downloading.wait_finished() => Some(s),
            _ = tokio::time::sleep(Duration::from_millis(200)) => None,
        };
        view.update(&downloading.stats());
        if let Some(s) = finished {
            break s;
        }
        if start.elapsed() > DEMO_TIMEOUT {
            break TorrentState::Stopped;
        }
    };
    view.finish();
    let elapsed = start.elapsed();
    let leech_stats = downloading.stats();
    let seed_stats = seeding.stats();
    downloading.stop().await;
    seeding.stop().await;
    tracker.shutdown().await.ok();
    if state != TorrentState::Complete {
        bail!(
            "the download did not complete ({state:?}): {:?}",
            leech_stats.error
        );
    }

    // 5. Check the bytes, and tell what happened.
    compare_trees(&payload, &down_dir.join("ferrent-demo"))?;
    let rate = leech_stats.downloaded as f64 / elapsed.as_secs_f64().max(1e-3);
    say(&format!(
        "done: {} in {:.2} s ({}/s); the seeder uploaded {}; every file is byte-identical",
        ByteSize::b(leech_stats.downloaded).display().iec(),
        elapsed.as_secs_f64(),
        ByteSize::b(rate as u64).display().iec(),
        ByteSize::b(seed_stats.uploaded).display().iec(),
    ));
    Ok(())
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "demo: {line}");
}

/// Waits (briefly) until the seeder's first announce reached the tracker, so the leecher's
/// first announce already finds it.
async fn wait_for_announce(tracker: &ferrent_tracker::RunningTracker) {
    for _ in 0..50 {
        let s = tracker.stats();
        if s.http_announces + s.udp_announces > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Files of xorshift bytes: three quarters in one file, the rest in a sub-directory, plus a
/// zero-length file (BitTorrent must recreate it).
fn make_payload(dir: &Path, size: u64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("extras"))?;
    let big = size - size / 4;
    write_random(&dir.join("video.bin"), big, 1)?;
    write_random(&dir.join("extras").join("notes.bin"), size / 4, 2)?;
    std::fs::write(dir.join("extras").join("empty.txt"), b"")?;
    Ok(())
}

fn write_random(path: &Path, len: u64, seed: u64) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut left = len;
    let mut buf = vec![0u8; 1 << 16];
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = x.to_le_bytes();
            chunk.copy_from_slice(&b[..chunk.len()]);
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.flush()?;
    Ok(())
}

/// Every file under `a` exists under `b` with the same bytes.
fn compare_trees(a: &Path, b: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(a)? {
        let entry = entry?;
        let (pa, pb) = (entry.path(), b.join(entry.file_name()));
        if entry.file_type()?.is_dir() {
            compare_trees(&pa, &pb)?;
        } else {
            let same = std::fs::read(&pa)?
                == std::fs::read(&pb).with_context(|| format!("{} is missing", pb.display()))?;
            ensure!(same, "{} differs from {}", pb.display(), pa.display());
        }
    }
    Ok(())
}
