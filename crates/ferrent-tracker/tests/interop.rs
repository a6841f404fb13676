//! Real BitTorrent clients (libtorrent, Transmission, aria2 from `../shared/swarm`) complete a
//! download among themselves using only ferrent's tracker, over HTTP and UDP.
//!
//! Each test has its own `SWARM_DIR`, ports and 127.0.0.X addresses, so they can run in
//! parallel; a guard stops every seeder the test started, also when it fails. The scripts are
//! found at `$FERRENT_SWARM_DIR` or `$CARGO_MANIFEST_DIR/../../../shared/swarm`; when they are
//! missing the tests print why and pass (set `FERRENT_REQUIRE_SWARM=1` to fail instead).
//!
//! Not tested: aria2 with a `udp://` tracker. aria2 sends UDP tracker requests only through its
//! DHT socket, and the harness turns DHT off (swarm README, gotcha 11), so it gets no peers from
//! any UDP tracker.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ferrent_tracker::{Config, Tracker};

fn swarm_scripts() -> Option<PathBuf> {
    let dir = std::env::var_os("FERRENT_SWARM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/swarm"));
    if dir.join("seed").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("FERRENT_REQUIRE_SWARM").is_none(),
        "swarm harness not found at {}",
        dir.display()
    );
    eprintln!("swarm harness not found at {}; skipping", dir.display());
    None
}

/// One test's swarm: scripts, a private SWARM_DIR, and a guard that stops the seeders.
struct Swarm {
    scripts: PathBuf,
    dir: tempfile::TempDir,
}

impl Swarm {
    fn new(scripts: PathBuf) -> Self {
        Swarm {
            scripts,
            dir: tempfile::Builder::new()
                .prefix("ferrent-tracker-interop")
                .tempdir()
                .expect("tempdir"),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn run(&self, script: &str, args: &[&str]) -> Output {
        let out = Command::new(self.scripts.join(script))
            .args(args)
            .env("SWARM_DIR", self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
        eprintln!(
            "$ {script} {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        let _ = Command::new(self.scripts.join("seed"))
            .arg("stop")
            .arg("all")
            .env("SWARM_DIR", self.dir.path())
            .output();
    }
}

fn free_port(ip: Ipv4Addr) -> u16 {
    // TCP and UDP both free (clients use the same port for uTP/DHT even when off).
    for _ in 0..100 {
        let Ok(t) = std::net::TcpListener::bind((ip, 0)) else {
            continue;
        };
        let Ok(a) = t.local_addr() else { continue };
        if std::net::UdpSocket::bind((ip, a.port())).is_ok() {
            return a.port();
        }
    }
    panic!("no free port on {ip}");
}

#[derive(Clone, Copy)]
enum Proto {
    Http,
    Udp,
}

/// Seeds a 4 MiB payload with libtorrent on `127.0.0.{seed_ip}` and downloads it with `leecher`
/// on `127.0.0.{leech_ip}`, with ferrent's tracker (in this process) as the only tracker.
async fn swarm_run(proto: Proto, leecher: &'static str, seed_ip: u8, leech_ip: u8) {
    let Some(scripts) = swarm_scripts() else {
        return;
    };
    let started = Instant::now();
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let config = Config {
        http: matches!(proto, Proto::Http).then_some(any),
        udp: matches!(proto, Proto::Udp).then_some(any),
        interval: Duration::from_secs(5),
        ..Config::default()
    };
    let tracker = Tracker::bind(config).await.expect("tracker starts");
    let url = match proto {
        Proto::Http => tracker.http_announce_url(),
        Proto::Udp => tracker.udp_announce_url(),
    }
    .unwrap();

    let (ok, log) = tokio::task::spawn_blocking(move || {
        let s = Swarm::new(scripts);
        let payload_root = s.path("payload");
        let payload_root = payload_root.to_str().unwrap();
        assert!(
            s.run(
                "mkpayload",
                &[payload_root, "4M", "--seed", &seed_ip.to_string()]
            )
            .status
            .success()
        );
        let payload = s.path("payload/payload-4M");
        let torrent = s.path("t.torrent");
        let (payload, torrent) = (payload.to_str().unwrap(), torrent.to_str().unwrap());
        assert!(
            s.run(
                "mktorrent-py",
                &[payload, torrent, "--tracker", &url, "--piece-kib", "64"]
            )
            .status
            .success()
        );
        let sip = Ipv4Addr::new(127, 0, 0, seed_ip);
        let port = free_port(sip).to_string();
        let seeded = s.run(
            "seed",
            &[
                "libtorrent",
                torrent,
                payload_root,
                &port,
                "--ip",
                &sip.to_string(),
                "--ttl",
                "120",
                "--ready-timeout",
                "30",
            ],
        );
        assert!(seeded.status.success(), "seeder did not start");
        let lip = Ipv4Addr::new(127, 0, 0, leech_ip).to_string();
        let dl = s.path("dl");
        let out = s.run(
            "leech",
            &[
                leecher,
                torrent,
                dl.to_str().unwrap(),
                "--ip",
                &lip,
                "--verify",
                payload,
                "--timeout",
                "45",
            ],
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        (out.status.success() && text.contains("RESULT"), text)
    })
    .await
    .expect("swarm task");
    let stats = tracker.stats();
    tracker.shutdown().await.unwrap();
    eprintln!("tracker stats: {stats:?}; took {:?}", started.elapsed());
    assert!(ok, "{leecher} did not complete and verify:\n{log}");
    let announces = match proto {
        Proto::Http => stats.http_announces,
        Proto::Udp => stats.udp_announces,
    };
    assert!(
        announces >= 2,
        "both clients announced to ferrent's tracker: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_libtorrent_seeds_aria2() {
    swarm_run(Proto::Http, "aria2", 161, 162).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_libtorrent_seeds_transmission() {
    swarm_run(Proto::Http, "transmission", 163, 164).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_libtorrent_seeds_libtorrent() {
    swarm_run(Proto::Http, "libtorrent", 165, 166).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_libtorrent_seeds_libtorrent() {
    swarm_run(Proto::Udp, "libtorrent", 167, 168).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_libtorrent_seeds_transmission() {
    swarm_run(Proto::Udp, "transmission", 169, 170).await;
}
