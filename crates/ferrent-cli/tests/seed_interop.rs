//! ferrent as the uploading side, against real leechers (libtorrent, aria2, Transmission from
//! `../shared/swarm`): `ferrent seed`, `ferrent share`, uploading while downloading, and
//! resuming after `kill -9`. Each test has its own swarm directory, ports and 127.0.2.X
//! addresses; every process it starts is stopped when it ends.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{Swarm, download_args, free_port, read, root_of, utf8, wait_for_text};

/// `ferrent seed` on `seed_ip` serves a `client` leecher on `leech_ip`, through ferrent's
/// tracker. The payload has 0-byte, 1-byte and odd-sized files across directories.
fn seed_to(client: &str, seed_ip: &str, leech_ip: &str) {
    let mut s = Swarm::new(&format!("seed-{client}"));
    let (tracker, _) = s.ferrent_tracker();
    let payload = s.payload("6M", 8);
    let torrent = s.torrent(&payload, &tracker, 64);
    let (_, log) = s.spawn_seed(&torrent, &root_of(&payload), seed_ip, &[]);
    assert!(
        read(&log).contains("pieces present (100.0%)"),
        "{}",
        read(&log)
    );
    s.leech_verified(client, &torrent, &s.path("dl"), leech_ip, &payload);
}

#[test]
fn seed_serves_libtorrent() {
    seed_to("libtorrent", "127.0.2.11", "127.0.2.12");
}

#[test]
fn seed_serves_aria2() {
    seed_to("aria2", "127.0.2.21", "127.0.2.22");
}

/// Transmission 3.00 never dials loopback peers (swarm README, gotcha 5): it only gets data
/// because ferrent's seeder learns its address from the tracker and connects to it.
#[test]
fn seed_serves_transmission() {
    seed_to("transmission", "127.0.2.31", "127.0.2.32");
}

/// `ferrent share` on one side; `ferrent download` and a libtorrent leecher on the other.
#[test]
fn share_serves_ferrent_and_libtorrent() {
    let mut s = Swarm::new("share");
    let payload = s.payload("5M", 5);
    let tport = free_port("127.0.0.1".parse().expect("ip"));
    let taddr = format!("127.0.0.1:{tport}");
    let torrent = s.path("shared.torrent");
    let log = s.spawn_ferrent(
        "share",
        &[
            "share",
            payload.to_str().expect("utf-8"),
            "--tracker-addr",
            &taddr,
            "--bind",
            "127.0.2.41",
            "--port",
            "0",
            "-o",
            torrent.to_str().expect("utf-8"),
            "--seed-time",
            "120s",
        ],
    );
    assert!(
        wait_for_text(&log, "seeding on", Duration::from_secs(30)),
        "share did not start: {}",
        read(&log)
    );
    let text = read(&log);
    assert!(text.contains("magnet:   magnet:?xt=urn:btih:"), "{text}");

    let dl = s.path("ferrent-dl");
    let out = s.download(
        utf8(&torrent),
        &dl,
        "127.0.2.42",
        Duration::from_secs(30),
        &[],
    );
    assert!(out.status.success(), "ferrent download failed");
    assert!(s.same_bytes(&payload, &dl), "ferrent's copy differs");

    s.leech_verified(
        "libtorrent",
        &torrent,
        &s.path("lt"),
        "127.0.2.43",
        &payload,
    );
}

/// One slow Transmission seeder, ferrent and a libtorrent leecher: ferrent passes pieces on to
/// the other leecher while it is still downloading (no `--seed`: the summary printed at
/// completion already counts uploaded bytes).
#[test]
fn uploads_to_another_leecher_while_downloading() {
    let mut s = Swarm::new("upload-while-down");
    let (tracker, _) = s.ferrent_tracker();
    let payload = s.payload("8M", 0);
    let torrent = s.torrent(&payload, &tracker, 64);
    let t = torrent.to_str().expect("utf-8");
    let root = root_of(&payload);
    // About 1 MB/s (8 s for the payload): slow enough that the leechers trade. Transmission,
    // because libtorrent exempts loopback peers from its rate limit.
    let slow = [("SWARM_TR_UPLIMIT", "1000")];
    s.seed_client(
        "transmission",
        &torrent,
        Path::new(&root),
        "127.0.2.51",
        &slow,
    );
    let dl = s.path("ferrent-dl");
    let log = s.spawn_ferrent(
        "download",
        &download_args(t, utf8(&dl), "127.0.2.52", "60s"),
    );
    s.leech_verified(
        "libtorrent",
        &torrent,
        &s.path("lt"),
        "127.0.2.53",
        &payload,
    );
    assert!(
        wait_for_text(&log, "complete,", Duration::from_secs(60)),
        "{}",
        read(&log)
    );
    let text = read(&log);
    let line = text
        .lines()
        .find(|l| l.contains("complete,"))
        .unwrap_or_default();
    let uploaded = line
        .split(" resumed, ")
        .nth(1)
        .and_then(|r| r.split(" uploaded").next())
        .unwrap_or("");
    assert!(
        !uploaded.is_empty() && uploaded != "0 B",
        "ferrent uploaded nothing while downloading: {line}"
    );
}

/// The "resumed N of M pieces" count a run printed, or 0 when it printed none (nothing kept).
fn resumed_count(text: &str) -> u32 {
    text.split("resumed ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Kill moments for the `kill -9` test, in ms after a run starts writing data: random from a
/// seed that is printed, and that `FERRENT_KILL9_SEED` sets to replay a failure. The first
/// moment falls after the first resume save (every 5 s), so at least one run keeps pieces; the
/// others fall anywhere in the first 7 s of a run's data.
fn kill_moments(rounds: usize) -> Vec<u64> {
    let seed = std::env::var("FERRENT_KILL9_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("kill -9 moments from FERRENT_KILL9_SEED={seed}");
    // xorshift64*: enough to spread the moments; the seed makes a run repeatable.
    let mut x = seed | 1;
    (0..rounds)
        .map(|round| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
            if round == 0 {
                5500 + r % 1500
            } else {
                300 + r % 6700
            }
        })
        .collect()
}

/// Bytes of disk the files under `dir` occupy (data written so far: they are sparse).
fn allocated_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => allocated_bytes(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// `kill -9` mid-download at three random moments, each time running the same command again:
/// every run reports the pieces it kept (never fewer than the run before: a resume file only
/// claims durable pieces), the last one completes fetching only the rest, and the bytes are equal.
#[test]
fn kill9_at_random_moments_then_resume() {
    let mut s = Swarm::new("kill9");
    let (tracker, _) = s.ferrent_tracker();
    let payload = s.payload("32M", 3);
    let torrent = s.torrent(&payload, &tracker, 64);
    let t = torrent.to_str().expect("utf-8");
    let root = root_of(&payload);
    // Transmission applies its speed limit to loopback peers too (libtorrent exempts local
    // peers from rate limits), so the download takes about 16 s and the kills land mid-way.
    let slow = [("SWARM_TR_UPLIMIT", "2000")];
    s.seed_client(
        "transmission",
        &torrent,
        Path::new(&root),
        "127.0.2.61",
        &slow,
    );
    let dl = s.path("dl");
    let dl = dl.to_str().expect("utf-8");
    let args = download_args(t, dl, "127.0.2.62", "60s");
    let mut kept = Vec::new();
    for (round, wait_ms) in kill_moments(3).into_iter().enumerate() {
        let name = format!("run{round}");
        let before = allocated_bytes(Path::new(dl));
        let log = s.spawn_ferrent(&name, &args);
        // The clock starts when this run writes data (the seeder may take a moment to unchoke).
        let deadline = Instant::now() + Duration::from_secs(30);
        while allocated_bytes(Path::new(dl)) <= before
            && !read(&log).contains("complete,")
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(wait_ms));
        s.kill9(&name);
        let text = read(&log);
        eprintln!("run {round}, killed after {wait_ms} ms:\n{text}");
        kept.push(resumed_count(&text));
    }
    let out = s.run_ferrent(&args, Duration::from_secs(90));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "resumed download failed: {text}");
    let last = resumed_count(&text);
    kept.push(last);
    assert!(last > 0, "nothing was resumed: {text}");
    assert!(
        kept.windows(2).all(|w| w[0] <= w[1]),
        "a run kept fewer pieces than the run before it: {kept:?}"
    );
    let total = text
        .split(" of ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse::<u32>().ok())
        .expect("summary names the piece count");
    assert!(
        text.contains(&format!("{} of {total} pieces fetched", total - last)),
        "the last run did not fetch exactly the pieces it lacked: {text}"
    );
    let name = payload.file_name().expect("name").to_str().expect("utf-8");
    let verify = s.script(
        "verify",
        &[payload.to_str().expect("utf-8"), &format!("{dl}/{name}")],
    );
    assert!(verify.status.success(), "bytes differ after resume");
}
