//! Local Service Discovery (BEP 14) end to end, inside a network namespace each test creates
//! (`unshare -n`, loopback up with a multicast route): `ferrent download --lsd` of a torrent
//! with no tracker and no `--peer` finds its seeder only through LSD announces on
//! 239.192.152.143:6771, from a libtorrent seeder (enable_lsd) and from `ferrent seed --lsd`.
//!
//! The namespace also has its own PID namespace (`--pid --fork --kill-child`): when the test's
//! guard kills `unshare`, every process inside dies with it.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Swarm, read};

const UNSHARE: &[&str] = &["-n", "-p", "-f", "--kill-child"];

/// Whether this machine lets us make a network namespace. When it does not, the test is
/// skipped, unless FERRENT_REQUIRE_SWARM=1, where it fails with the reason.
fn namespaces_available() -> bool {
    let out = Command::new("unshare")
        .args(UNSHARE)
        .args(["sh", "-c", "ip link set lo up"])
        .output();
    let why = match out {
        Ok(o) if o.status.success() => return true,
        Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
        Err(e) => format!("cannot run unshare: {e}"),
    };
    let msg =
        format!("LSD test needs a network namespace (`unshare -n -p -f` as root, and `ip`): {why}");
    assert!(
        std::env::var("FERRENT_REQUIRE_SWARM").as_deref() != Ok("1"),
        "{msg}"
    );
    eprintln!("SKIPPED: {msg}");
    false
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `script` (bash) in a fresh network + PID namespace whose loopback carries multicast,
/// bounded by `timeout`; returns its exit status (None: timed out and killed) and output.
fn in_namespace(s: &Swarm, script: &str, timeout: Duration) -> (Option<i32>, String) {
    let setup = "set -e\nip link set lo up\nip link set lo multicast on\n\
                 ip route add 239.0.0.0/8 dev lo src 127.0.0.1\n";
    let log = s.path("netns.log");
    let f = std::fs::File::create(&log).expect("log");
    let child = Command::new("unshare")
        .args(UNSHARE)
        .args(["bash", "-c", &format!("{setup}{script}")])
        .stdin(Stdio::null())
        .stdout(f.try_clone().expect("dup"))
        .stderr(f)
        .spawn()
        .expect("spawn unshare");
    let mut guard = Kill(child);
    let start = Instant::now();
    let mut status = None;
    while start.elapsed() < timeout {
        if let Some(st) = guard.0.try_wait().expect("wait") {
            status = st.code();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(guard);
    (status, read(&log))
}

fn ferrent() -> &'static str {
    env!("CARGO_BIN_EXE_ferrent")
}

/// The download half of both tests: `ferrent download --lsd`, nothing else to find peers with.
fn download_cmd(torrent: &Path, dl: &Path) -> String {
    format!(
        "RUST_LOG=ferrent=debug {} download {} -o {} --lsd --lsd-interval 2s --port 0 --timeout 40s",
        ferrent(),
        torrent.display(),
        dl.display()
    )
}

#[test]
fn download_from_libtorrent_found_by_lsd() {
    if !namespaces_available() {
        return;
    }
    let s = Swarm::new("lsd-lt");
    let payload = s.payload("3M", 4);
    let torrent = s.trackerless(&payload, "t.torrent", false);
    let root = payload.parent().expect("root");
    let dl = s.path("dl");
    let seed_script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_lsd_seed.py");
    let script = format!(
        "/usr/bin/python3 {seed} {t} {root} 127.0.0.1 7010 90 > {slog} 2>&1 &\n\
         for i in $(seq 100); do grep -q ready {slog} && break; sleep 0.2; done\n\
         {dl}\n",
        seed = seed_script.display(),
        t = torrent.display(),
        root = root.display(),
        slog = s.path("lt-seed.log").display(),
        dl = download_cmd(&torrent, &dl),
    );
    let (status, out) = in_namespace(&s, &script, Duration::from_secs(90));
    assert_eq!(
        status,
        Some(0),
        "download through LSD failed:\n{out}\nlibtorrent:\n{}",
        read(&s.path("lt-seed.log"))
    );
    // No tracker, no --peer: whichever side connected, it learnt the other from LSD.
    assert!(out.contains("complete"), "{out}");
    assert!(s.same_bytes(&payload, &dl), "bytes differ");
}

#[test]
fn download_from_ferrent_seed_found_by_lsd() {
    if !namespaces_available() {
        return;
    }
    let s = Swarm::new("lsd-ferrent");
    let payload = s.payload("3M", 4);
    let torrent = s.trackerless(&payload, "t.torrent", false);
    let root = payload.parent().expect("root");
    let dl = s.path("dl");
    let script = format!(
        "RUST_LOG=ferrent=debug {f} seed {t} -d {root} --lsd --lsd-interval 2s --port 7020 --seed-time 80s > {slog} 2>&1 &\n\
         for i in $(seq 100); do grep -q 'seeding on' {slog} && break; sleep 0.2; done\n\
         {dl}\n",
        f = ferrent(),
        t = torrent.display(),
        root = root.display(),
        slog = s.path("seed.log").display(),
        dl = download_cmd(&torrent, &dl),
    );
    let (status, out) = in_namespace(&s, &script, Duration::from_secs(90));
    assert_eq!(
        status,
        Some(0),
        "download through LSD failed:\n{out}\nseeder:\n{}",
        read(&s.path("seed.log"))
    );
    assert!(out.contains("complete"), "{out}");
    // Whichever side connected first, it was told of the other by an LSD announce.
    let seed_log = read(&s.path("seed.log"));
    assert!(
        out.contains("LSD peer for") || seed_log.contains("LSD peer for"),
        "no peer came from LSD:\n{out}\nseeder:\n{seed_log}"
    );
    assert!(s.same_bytes(&payload, &dl), "bytes differ");
}
