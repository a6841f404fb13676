//! `ferrent download` against real BitTorrent programs on loopback (the swarm harness in
//! `../shared/swarm`): libtorrent, Transmission and aria2 seeders, four seeders of different
//! clients at once (libtorrent, qBittorrent, rtorrent, aria2), opentracker over HTTP and UDP, a
//! dead tracker in the first tier, `--peer` without a tracker, and trackers that all fail.
//!
//! Every test has its own `SWARM_DIR` (a temporary directory), its own ports and its own
//! `127.0.0.X` addresses (ferrent on `127.0.0.{base}`, seeders on `base+1`, `base+2`, ...; the
//! bases use 44..97, clear of the harness's own 11.. and 100..249, the DHT test's 40..43 and the
//! tracker crate's 161..170), so the tests can run in parallel. A guard stops every seeder and
//! the tracker the test started, also when it fails; on failure the `SWARM_DIR` is kept (its
//! path is printed) with ferrent's debug log (`ferrent.log`) and every client's logs
//! (`work/*/`); `FERRENT_KEEP_SWARM=1` keeps it after passing tests too.
//!
//! Data is checked with the harness's `verify` (byte equality, zero-length files included: exit
//! 0, not 3). The harness is found at `$FERRENT_SWARM_DIR` or
//! `$CARGO_MANIFEST_DIR/../../../shared/swarm`; when it is missing the tests say so and pass,
//! unless `FERRENT_REQUIRE_SWARM=1`. CI installs it with its `install` script.
//!
//! opentracker's announce interval is about 30 minutes, so a client only learns of peers that
//! announced before it. That is all these tests need: the seeders announce first (`seed` waits
//! for it) and ferrent dials out.

mod support;

use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use support::free_port_on;

/// Hard limit on one ferrent run; the whole test must stay under a minute.
const FERRENT_WALL_LIMIT: Duration = Duration::from_secs(50);

/// Seeders end by themselves after this long even if every guard failed.
const SEEDER_TTL: &str = "300";

fn swarm_scripts() -> Option<PathBuf> {
    let dir = std::env::var_os("FERRENT_SWARM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/swarm"));
    if dir.join("seed").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("FERRENT_REQUIRE_SWARM").is_none(),
        "swarm harness not found at {} (set FERRENT_SWARM_DIR)",
        dir.display()
    );
    eprintln!(
        "swarm harness not found at {}; skipping (FERRENT_REQUIRE_SWARM=1 makes this fail)",
        dir.display()
    );
    None
}

/// Whether some line of `log` contains every one of `parts`.
fn log_has(log: &str, parts: &[&str]) -> bool {
    log.lines().any(|l| parts.iter().all(|p| l.contains(p)))
}

/// A port where nothing listens (TCP connection refused, UDP port unreachable).
fn closed_port() -> u16 {
    free_port_on(&[Ipv4Addr::LOCALHOST])
}

/// One ferrent run.
struct Run {
    status: Option<ExitStatus>,
    elapsed: Duration,
    stdout: String,
    stderr: String,
}

impl Run {
    fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    fn describe(&self) -> String {
        let tail: Vec<&str> = self.stderr.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "ferrent {} after {:.1} s\n--- stdout\n{}--- stderr (last 60 lines)\n{}",
            match self.status {
                Some(s) => format!("exited with {s}"),
                None => "was killed (wall limit)".to_string(),
            },
            self.elapsed.as_secs_f64(),
            self.stdout,
            tail.join("\n")
        )
    }
}

/// One test's swarm: the harness scripts, a private `SWARM_DIR`, the test's addresses, and a
/// guard that stops what the test started.
struct Swarm {
    name: &'static str,
    scripts: PathBuf,
    dir: Option<tempfile::TempDir>,
    ip_base: u8,
    tracker_port: Option<u16>,
}

impl Swarm {
    /// `ip_base`: ferrent binds `127.0.0.{ip_base}`, seeder `k` (1-based) `127.0.0.{ip_base+k}`.
    fn new(name: &'static str, ip_base: u8) -> Option<Self> {
        let scripts = swarm_scripts()?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("ferrent-dl-{name}-"))
            .tempdir()
            .expect("tempdir");
        // opentracker drops to `nobody` inside its chroot under this directory.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755));
        }
        eprintln!("[{name}] SWARM_DIR={}", dir.path().display());
        Some(Swarm {
            name,
            scripts,
            dir: Some(dir),
            ip_base,
            tracker_port: None,
        })
    }

    fn root(&self) -> &Path {
        self.dir.as_ref().expect("dir").path()
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root().join(p)
    }

    fn ip(&self, k: u8) -> Ipv4Addr {
        Ipv4Addr::new(127, 0, 0, self.ip_base + k)
    }

    fn script(&self, script: &str, args: &[&str]) -> Output {
        let t = Instant::now();
        let out = Command::new(self.scripts.join(script))
            .args(args)
            .env("SWARM_DIR", self.root())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run {script}: {e} (install the programs with the swarm's ./install)")
            });
        eprintln!(
            "[{}] $ {script} {} ({:.1} s, {})\n{}{}",
            self.name,
            args.join(" "),
            t.elapsed().as_secs_f64(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn script_ok(&self, script: &str, args: &[&str]) -> String {
        let out = self.script(script, args);
        assert!(
            out.status.success(),
            "[{}] {script} {} failed: {}",
            self.name,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts opentracker on a free 127.0.0.1 port (TCP + UDP); returns the port.
    fn start_tracker(&mut self) -> u16 {
        let port = free_port_on(&[Ipv4Addr::LOCALHOST]);
        self.tracker_port = Some(port);
        self.script_ok(
            "tracker",
            &["start", &port.to_string(), "--ttl", SEEDER_TTL],
        );
        port
    }

    fn http_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/announce",
            self.tracker_port.expect("tracker")
        )
    }

    fn udp_url(&self) -> String {
        format!(
            "udp://127.0.0.1:{}/announce",
            self.tracker_port.expect("tracker")
        )
    }

    /// A deterministic payload under `SWARM_DIR/payload` (`size` as mkpayload takes it; `files`
    /// > 1 makes a directory with zero-length, tiny and nested files).
    fn payload(&self, size: &str, files: u32) -> PathBuf {
        let root = self.path("payload");
        let mut args = vec![root.to_str().unwrap().to_owned(), size.to_owned()];
        if files > 1 {
            args.push("--files".into());
            args.push(files.to_string());
        }
        args.push("--seed".into());
        args.push(self.ip_base.to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        PathBuf::from(self.script_ok("mkpayload", &args).trim())
    }

    /// A v1 torrent of `payload` with one tier per tracker URL.
    fn torrent(&self, payload: &Path, file: &str, trackers: &[String], piece_kib: u32) -> PathBuf {
        let out = self.path(file);
        let mut args = vec![
            payload.to_str().unwrap().to_owned(),
            out.to_str().unwrap().to_owned(),
            "--piece-kib".to_owned(),
            piece_kib.to_string(),
        ];
        for t in trackers {
            args.push("--tracker".into());
            args.push(t.clone());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.script_ok("mktorrent-py", &args);
        out
    }

    /// Starts seeder number `k` (`client` on `127.0.0.{base+k}`); returns its peer address.
    /// `seed` whitelists the torrent and waits until the client has checked its data and
    /// announced.
    fn seed(&self, client: &str, torrent: &Path, k: u8) -> String {
        let ip = self.ip(k);
        let port = free_port_on(&[ip, Ipv4Addr::LOCALHOST]).to_string();
        self.script_ok(
            "seed",
            &[
                client,
                torrent.to_str().unwrap(),
                self.path("payload").to_str().unwrap(),
                &port,
                "--ip",
                &ip.to_string(),
                "--ttl",
                SEEDER_TTL,
                "--ready-timeout",
                "40",
            ],
        );
        format!("{ip}:{port}")
    }

    /// Runs `ferrent download TORRENT -o SWARM_DIR/dl` bound to this test's address, with
    /// `RUST_LOG=ferrent=debug` (`debug = false`: the default log filter, as a user sees it).
    fn ferrent(&self, torrent: &Path, extra: &[&str], debug: bool) -> Run {
        let ip = self.ip(0);
        let port = free_port_on(&[ip]).to_string();
        let out_dir = self.path("dl");
        let stdout_path = self.path("ferrent.out");
        let stderr_path = self.path("ferrent.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferrent"));
        cmd.arg("download")
            .arg(torrent)
            .arg("-o")
            .arg(&out_dir)
            .args(["--bind", &ip.to_string(), "--port", &port])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout_path).unwrap())
            .stderr(File::create(&stderr_path).unwrap());
        if debug {
            cmd.env("RUST_LOG", "ferrent=debug");
        } else {
            cmd.env_remove("RUST_LOG");
        }
        eprintln!("[{}] $ {cmd:?}", self.name);
        let start = Instant::now();
        let mut child = cmd.spawn().expect("ferrent binary runs");
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait for ferrent") {
                break Some(s);
            }
            if start.elapsed() > FERRENT_WALL_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let run = Run {
            status,
            elapsed: start.elapsed(),
            stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
            stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
        };
        eprintln!(
            "[{}] ferrent: {:?} in {:.2} s\n{}",
            self.name,
            run.status,
            run.elapsed.as_secs_f64(),
            run.stdout
        );
        run
    }

    /// The harness's byte comparison of `payload` with ferrent's download; its exit code.
    fn verify(&self, payload: &Path) -> Option<i32> {
        let dl = self.path("dl");
        self.script("verify", &[payload.to_str().unwrap(), dl.to_str().unwrap()])
            .status
            .code()
    }

    /// Downloads with ferrent and asserts success and byte equality.
    fn download_and_verify(&self, torrent: &Path, payload: &Path, extra: &[&str]) -> Run {
        let run = self.ferrent(torrent, extra, true);
        assert!(run.success(), "[{}] {}", self.name, run.describe());
        assert!(
            run.stdout.contains("complete"),
            "[{}] no completion summary: {}",
            self.name,
            run.describe()
        );
        let code = self.verify(payload);
        assert_eq!(
            code,
            Some(0),
            "[{}] verify exit {code:?} (1 = mismatch/missing, 3 = zero-length files missing)",
            self.name
        );
        run
    }

    /// `(client, port, uploaded bytes)` of every running seeder, from `seed list`.
    fn seeder_uploads(&self) -> Vec<(String, u16, u64)> {
        let text = self.script_ok("seed", &["list"]);
        text.lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let client = w.next()?.to_owned();
                let port = l
                    .split("port ")
                    .nth(1)?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()?;
                let up = l
                    .split("uploaded=")
                    .nth(1)
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                Some((client, port, up))
            })
            .collect()
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        let _ = self.script("seed", &["stop", "all"]);
        if self.tracker_port.is_some() {
            let _ = self.script("tracker", &["stop"]);
        }
        if std::thread::panicking() || std::env::var_os("FERRENT_KEEP_SWARM").is_some() {
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                eprintln!(
                    "[{}] kept {} (ferrent.log, work/*/ client logs)",
                    self.name,
                    kept.display()
                );
            }
        }
    }
}

#[test]
fn libtorrent_seeder_single_file_over_http_tracker() {
    let Some(mut s) = Swarm::new("lt-single", 44) else {
        return;
    };
    s.start_tracker();
    let payload = s.payload("16M", 1);
    let torrent = s.torrent(&payload, "t.torrent", &[s.http_url()], 256);
    s.seed("libtorrent", &torrent, 1);
    s.download_and_verify(&torrent, &payload, &["--timeout", "20s"]);
}

#[test]
fn libtorrent_seeder_multi_file_with_empty_tiny_and_nested_files() {
    let Some(mut s) = Swarm::new("lt-multi", 50) else {
        return;
    };
    s.start_tracker();
    // 20 files: two 0-byte, 1-, 7-, 1000-, 16383-, 16385-byte files, nested directories, a space
    // in a directory name; 64 KiB pieces cross many file boundaries.
    let payload = s.payload("8M", 20);
    let torrent = s.torrent(&payload, "t.torrent", &[s.http_url()], 64);
    s.seed("libtorrent", &torrent, 1);
    s.download_and_verify(&torrent, &payload, &["--timeout", "20s"]);
}

#[test]
fn transmission_seeder_multi_file() {
    let Some(mut s) = Swarm::new("transmission", 56) else {
        return;
    };
    s.start_tracker();
    // Transmission 3.00 unchokes only at its 10 s rechoke and then seeds at a few MB/s on
    // loopback: keep the payload small. Multi-file, zero-length files included.
    let payload = s.payload("4M", 20);
    let torrent = s.torrent(&payload, "t.torrent", &[s.http_url()], 64);
    s.seed("transmission", &torrent, 1);
    s.download_and_verify(&torrent, &payload, &["--timeout", "25s"]);
}

#[test]
fn aria2_seeder_short_last_piece() {
    let Some(mut s) = Swarm::new("aria2", 62) else {
        return;
    };
    s.start_tracker();
    // 6,000,000 bytes in 256 KiB pieces: the last piece is 232,832 bytes, its last block 3,456.
    let payload = s.payload("6000000", 1);
    let torrent = s.torrent(&payload, "t.torrent", &[s.http_url()], 256);
    s.seed("aria2", &torrent, 1);
    s.download_and_verify(&torrent, &payload, &["--timeout", "20s"]);
}

#[test]
fn four_different_seeders_at_once() {
    let Some(mut s) = Swarm::new("multiseed", 68) else {
        return;
    };
    s.start_tracker();
    let payload = s.payload("32M", 1);
    let torrent = s.torrent(&payload, "t.torrent", &[s.http_url()], 256);
    let clients = ["libtorrent", "qbittorrent", "rtorrent", "aria2"];
    for (k, c) in clients.iter().enumerate() {
        s.seed(c, &torrent, k as u8 + 1);
    }
    let run = s.download_and_verify(&torrent, &payload, &["--timeout", "20s"]);
    // The seeders' own upload counters say who sent data (aria2 answers a handshake only on
    // its next 1 s tick, often after ferrent is done).
    std::thread::sleep(Duration::from_millis(700));
    let uploads = s.seeder_uploads();
    eprintln!("[multiseed] uploaded per seeder: {uploads:?}");
    let connected: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("peer connected"))
        .collect();
    eprintln!("[multiseed] ferrent connections:\n{}", connected.join("\n"));
    let senders = uploads.iter().filter(|(_, _, up)| *up > 0).count();
    assert!(
        senders >= 2,
        "data came from {senders} of {} seeders: {uploads:?}",
        clients.len()
    );
}

#[test]
fn libtorrent_seeder_over_udp_tracker() {
    let Some(mut s) = Swarm::new("udp", 74) else {
        return;
    };
    s.start_tracker();
    let payload = s.payload("8M", 1);
    let torrent = s.torrent(&payload, "t.torrent", &[s.udp_url()], 256);
    s.seed("libtorrent", &torrent, 1);
    // No timing assertion: with --timeout 10s (no progress) a slow fall-over fails the run.
    let run = s.download_and_verify(&torrent, &payload, &["--timeout", "10s"]);
    assert!(
        log_has(&run.stderr, &["announced", &s.udp_url()]),
        "no successful UDP announce logged:\n{}",
        run.describe()
    );
}

/// A UDP tracker with nothing listening answers with ICMP port unreachable: ferrent gives up on
/// it at once (as libtorrent does) rather than retransmitting for 105 s (BEP 15 timing) before
/// trying the next tier. The test runs with the real 15 s retry base, so a download that
/// completes within its 20 s no-progress timeout shows it did not wait.
#[test]
fn dead_udp_tracker_first_is_refused_and_skipped() {
    let Some(mut s) = Swarm::new("dead-udp-first", 98) else {
        return;
    };
    s.start_tracker();
    let payload = s.payload("300000", 1);
    let dead = format!("udp://127.0.0.1:{}/announce", closed_port());
    let torrent = s.torrent(&payload, "t.torrent", &[dead.clone(), s.http_url()], 64);
    s.seed("libtorrent", &torrent, 1);
    let run = s.download_and_verify(
        &torrent,
        &payload,
        &["--timeout", "20s", "--udp-retry-base", "15s"],
    );
    assert!(
        log_has(&run.stderr, &["announce failed", &dead, "refused"])
            && log_has(&run.stderr, &["announced", &s.http_url()]),
        "expected the dead UDP tracker refused, then a good announce to the second tier:\n{}",
        run.describe()
    );
}

#[test]
fn dead_tracker_first_falls_over_to_the_next_tier_single_piece() {
    let Some(mut s) = Swarm::new("dead-first", 80) else {
        return;
    };
    s.start_tracker();
    // One piece (100,000 bytes in a 256 KiB piece; the last block is short).
    let payload = s.payload("100000", 1);
    let dead = format!("http://127.0.0.1:{}/announce", closed_port());
    let torrent = s.torrent(&payload, "t.torrent", &[dead.clone(), s.http_url()], 256);
    s.seed("libtorrent", &torrent, 1);
    // No timing assertion: with --timeout 10s (no progress) a slow fall-over fails the run.
    let run = s.download_and_verify(&torrent, &payload, &["--timeout", "10s"]);
    assert!(
        log_has(&run.stderr, &["announce failed", &dead])
            && log_has(&run.stderr, &["announced", &s.http_url()]),
        "expected a failed announce to the first tier, then a good one to the second:\n{}",
        run.describe()
    );
}

#[test]
fn peer_on_the_command_line_without_any_tracker() {
    let Some(s) = Swarm::new("peer-only", 86) else {
        return;
    };
    // No tracker runs: the torrent's only announce URL is a closed port. (The seeder's own
    // announces fail too; `seed` waits 15 s for one before giving up on it.)
    let payload = s.payload("3000000", 1);
    let dead = format!("http://127.0.0.1:{}/announce", closed_port());
    let torrent = s.torrent(&payload, "t.torrent", &[dead], 64);
    let peer = s.seed("libtorrent", &torrent, 1);
    s.download_and_verify(&torrent, &payload, &["--peer", &peer, "--timeout", "15s"]);
}

#[test]
fn all_trackers_failing_is_a_one_line_error() {
    let Some(s) = Swarm::new("no-trackers", 92) else {
        return;
    };
    let payload = s.payload("1M", 1);
    let http = format!("http://127.0.0.1:{}/announce", closed_port());
    let udp = format!("udp://127.0.0.1:{}/announce", closed_port());
    let torrent = s.torrent(&payload, "t.torrent", &[http.clone(), udp.clone()], 64);
    let run = s.ferrent(
        &torrent,
        &["--timeout", "4s", "--udp-retry-base", "200ms"],
        false,
    );
    eprintln!("[no-trackers] stderr:\n{}", run.stderr);
    let status = run.status.expect("ferrent ended by itself");
    assert!(!status.success(), "{}", run.describe());
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("ferrent:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.describe());
    let line = errors[0];
    assert_eq!(
        run.stderr.lines().last(),
        Some(line),
        "the error is the last line: {}",
        run.describe()
    );
    assert!(line.contains("tracker"), "{line}");
    assert!(
        line.contains(&http) && line.contains(&udp),
        "names both trackers: {line}"
    );
    assert!(
        line.contains("refused"),
        "says why the HTTP one failed: {line}"
    );
}
