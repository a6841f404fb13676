//! Shared by the CLI's interop tests: one private swarm per test (its own `SWARM_DIR`, ports and
//! 127.0.0.X addresses, so tests run in parallel), the real-client scripts of `../shared/swarm`,
//! and child `ferrent` processes that are killed when the test ends, pass or fail.
#![allow(dead_code)] // each test file uses a different subset

use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Where the real-client harness lives; a missing harness fails the test with the fix.
pub fn swarm_scripts() -> PathBuf {
    let dir = std::env::var_os("FERRENT_SWARM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/swarm"));
    assert!(
        dir.join("seed").exists(),
        "swarm harness not found at {} (set FERRENT_SWARM_DIR; install the clients with its `install`)",
        dir.display()
    );
    dir
}

/// A free TCP (and UDP) port on `ip`.
pub fn free_port(ip: Ipv4Addr) -> u16 {
    free_port_on(&[ip])
}

/// A port free for TCP and UDP on every one of `ips`, below the ephemeral range, so no
/// outgoing connection takes it between this check and the client's bind.
pub fn free_port_on(ips: &[Ipv4Addr]) -> u16 {
    let first = ips.first().map_or(0, |ip| ip.octets()[3]);
    let mut x = u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
        ^ (u64::from(first) << 32);
    for _ in 0..500 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = 30_000 + (x % 2_700) as u16;
        let free = ips.iter().all(|ip| {
            std::net::TcpListener::bind((*ip, port)).is_ok()
                && std::net::UdpSocket::bind((*ip, port)).is_ok()
        });
        if free {
            return port;
        }
    }
    panic!("no free port on {ips:?}");
}

/// The arguments of `ferrent download TARGET -o DL` on `bind`, any port, giving up after
/// `no_progress` (e.g. "30s") without progress.
pub fn download_args<'a>(
    target: &'a str,
    dl: &'a str,
    bind: &'a str,
    no_progress: &'a str,
) -> [&'a str; 10] {
    [
        "download",
        target,
        "-o",
        dl,
        "--bind",
        bind,
        "--port",
        "0",
        "--timeout",
        no_progress,
    ]
}

/// `p` as a `&str` (test paths are UTF-8).
pub fn utf8(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The directory that holds `payload`: the data directory a seeder is given.
pub fn root_of(payload: &Path) -> String {
    utf8(payload.parent().expect("payload root")).to_string()
}

/// One test's swarm.
pub struct Swarm {
    pub scripts: PathBuf,
    pub dir: tempfile::TempDir,
    children: Vec<(String, Child)>,
}

impl Swarm {
    pub fn new(name: &str) -> Self {
        Swarm {
            scripts: swarm_scripts(),
            dir: tempfile::Builder::new()
                .prefix(&format!("ferrent-{name}-"))
                .tempdir()
                .expect("tempdir"),
            children: Vec::new(),
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// Runs a harness script to completion (bounded by the script's own --timeout / TTL).
    pub fn script(&self, script: &str, args: &[&str]) -> Output {
        self.script_env(script, args, &[])
    }

    pub fn script_env(&self, script: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let out = Command::new(self.scripts.join(script))
            .args(args)
            .env("SWARM_DIR", self.dir.path())
            .envs(env.iter().copied())
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

    /// A payload made by `mkpayload` (`files` = 0 for a single file).
    pub fn payload(&self, size: &str, files: u32) -> PathBuf {
        let root = self.path("payload");
        let mut args = vec![root.to_str().expect("utf-8").to_string(), size.to_string()];
        let name = if files > 0 {
            args.push("--files".into());
            args.push(files.to_string());
            format!("payload-{size}-{files}f")
        } else {
            format!("payload-{size}")
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert!(
            self.script("mkpayload", &args).status.success(),
            "mkpayload failed"
        );
        root.join(name)
    }

    /// A v1 torrent of `payload` made by libtorrent (`mktorrent-py`).
    pub fn torrent(&self, payload: &Path, tracker: &str, piece_kib: u32) -> PathBuf {
        let out = self.path("t.torrent");
        let kib = piece_kib.to_string();
        let args = [
            payload.to_str().expect("utf-8"),
            out.to_str().expect("utf-8"),
            "--tracker",
            tracker,
            "--piece-kib",
            &kib,
        ];
        assert!(
            self.script("mktorrent-py", &args).status.success(),
            "mktorrent-py failed"
        );
        out
    }

    /// A torrent of `payload` with no tracker at all (32 KiB pieces), made by `ferrent create`
    /// into `<dir>/<out>`; `private` sets the BEP 27 flag.
    pub fn trackerless(&self, payload: &Path, out: &str, private: bool) -> PathBuf {
        let path = self.path(out);
        let mut args = vec![
            "create",
            utf8(payload),
            "-o",
            utf8(&path),
            "--piece-size",
            "32K",
        ];
        if private {
            args.push("--private");
        }
        let out = self.run_ferrent(&args, Duration::from_secs(60));
        assert!(out.status.success(), "ferrent create failed");
        path
    }

    /// Starts `ferrent ARGS` in the background, output to `<dir>/<log>.log`; killed on drop.
    pub fn spawn_ferrent(&mut self, log: &str, args: &[&str]) -> PathBuf {
        let log_path = self.path(&format!("{log}.log"));
        let f = File::create(&log_path).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_ferrent"))
            .args(args)
            .env("RUST_LOG", "ferrent=info")
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn ferrent");
        self.children.push((log.to_string(), child));
        log_path
    }

    /// Kills the background process started under `log` (SIGKILL: no clean shutdown).
    pub fn kill9(&mut self, log: &str) {
        if let Some(i) = self.children.iter().position(|(l, _)| l == log) {
            let (_, mut c) = self.children.remove(i);
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the background process started under `log` with SIGTERM (a clean shutdown) and
    /// waits for it (bounded by `timeout`, then SIGKILL). Returns its exit status, `None` when
    /// it had to be killed or is unknown.
    pub fn terminate(&mut self, log: &str, timeout: Duration) -> Option<std::process::ExitStatus> {
        let i = self.children.iter().position(|(l, _)| l == log)?;
        let (_, mut c) = self.children.remove(i);
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }

    /// Runs `ferrent ARGS` to completion (bounded by `timeout`), returning its output.
    pub fn run_ferrent(&self, args: &[&str], timeout: Duration) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferrent"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn ferrent");
        let start = Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if start.elapsed() > timeout {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().expect("output");
        eprintln!(
            "$ ferrent {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs `ferrent download TARGET -o DL --bind BIND --port 0 --timeout T EXTRA...` (T is
    /// "no progress for this long"; the run is killed after twice that).
    pub fn download(
        &self,
        target: &str,
        dl: &Path,
        bind: &str,
        timeout: Duration,
        extra: &[&str],
    ) -> Output {
        let no_progress = format!("{}s", timeout.as_secs());
        let mut args = download_args(target, utf8(dl), bind, &no_progress).to_vec();
        args.extend_from_slice(extra);
        self.run_ferrent(&args, timeout * 2)
    }

    /// Starts `ferrent seed TORRENT -d DATA --bind IP --port PORT --seed-time 120s EXTRA...` in
    /// the background (log `seed.log`, killed on drop) and waits until it is seeding. Returns
    /// its port and log.
    pub fn spawn_seed(
        &mut self,
        torrent: &Path,
        data: &str,
        ip: &str,
        extra: &[&str],
    ) -> (u16, PathBuf) {
        let port = free_port(ip.parse().expect("ip"));
        let port_s = port.to_string();
        let mut args = vec![
            "seed",
            utf8(torrent),
            "-d",
            data,
            "--bind",
            ip,
            "--port",
            &port_s,
            "--seed-time",
            "120s",
        ];
        args.extend_from_slice(extra);
        let log = self.spawn_ferrent("seed", &args);
        assert!(
            wait_for_text(&log, "seeding on", Duration::from_secs(20)),
            "ferrent seed did not start: {}",
            read(&log)
        );
        (port, log)
    }

    /// Starts `ferrent tracker` on 127.0.0.1 (HTTP and UDP, one port) with a 2 s interval, so
    /// peers that join later are found within seconds. Returns the HTTP announce URL.
    pub fn ferrent_tracker(&mut self) -> (String, u16) {
        let port = free_port(Ipv4Addr::LOCALHOST);
        let addr = format!("127.0.0.1:{port}");
        let log = self.spawn_ferrent(
            "tracker",
            &[
                "tracker",
                "--http",
                &addr,
                "--udp",
                &addr,
                "--interval",
                "2",
            ],
        );
        assert!(
            wait_for_port(port, Duration::from_secs(10)),
            "tracker did not start: {}",
            read(&log)
        );
        (format!("http://{addr}/announce"), port)
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new(self.scripts.join("seed"))
            .args(["stop", "all"])
            .env("SWARM_DIR", self.dir.path())
            .output();
        let _ = Command::new(self.scripts.join("tracker"))
            .arg("stop")
            .env("SWARM_DIR", self.dir.path())
            .output();
    }
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits (bounded) until `path` contains `needle`.
pub fn wait_for_text(path: &Path, needle: &str, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if read(path).contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

impl Swarm {
    /// Starts the harness seeder `client` of `torrent` over the data under `root` on `ip`, at a
    /// free port (`env` e.g. `SWARM_LT_SETTINGS`), and waits until it announced. Returns the port.
    pub fn seed_client(
        &self,
        client: &str,
        torrent: &Path,
        root: &Path,
        ip: &str,
        env: &[(&str, &str)],
    ) -> u16 {
        let port = free_port(ip.parse().expect("ip"));
        let args = [
            client,
            torrent.to_str().expect("utf-8"),
            root.to_str().expect("utf-8"),
            &port.to_string(),
            "--ip",
            ip,
        ];
        assert!(
            self.script_env("seed", &args, env).status.success(),
            "{client} seeder did not start"
        );
        port
    }

    /// Whether `dir/<name of payload>` holds the same bytes (and files) as `payload`, by the
    /// harness's `verify`.
    pub fn same_bytes(&self, payload: &Path, dir: &Path) -> bool {
        let copy = dir.join(payload.file_name().expect("payload name"));
        let args = [
            payload.to_str().expect("utf-8"),
            copy.to_str().expect("utf-8"),
        ];
        self.script("verify", &args).status.success()
    }
}

impl Swarm {
    /// The harness's `leech CLIENT` of `torrent` into `out` on `ip` (60 s at most), which must
    /// end with its copy equal to `payload`.
    pub fn leech_verified(
        &self,
        client: &str,
        torrent: &Path,
        out: &Path,
        ip: &str,
        payload: &Path,
    ) {
        let args = [
            client,
            utf8(torrent),
            utf8(out),
            "--ip",
            ip,
            "--verify",
            utf8(payload),
            "--timeout",
            "60",
        ];
        assert_leech_ok(&self.script("leech", &args), client);
    }
}

/// `leech CLIENT` from the harness must end with `verify=OK`.
pub fn assert_leech_ok(out: &Output, client: &str) {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("verify=OK"),
        "{client} leecher failed:\n{text}"
    );
}

/// Stops a child process (SIGKILL, then reaped) when dropped, also when the test fails.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `lt_dht_seed.py`: libtorrent DHT nodes on `ips` (a free port each) bootstrapping from
/// each other, and with `seed = Some((torrent, data_dir))` the first one seeding that torrent.
/// Waits for its ready line; returns the nodes as `IP:PORT` and the guard that stops them.
pub fn libtorrent_dht(
    ips: &[&str],
    ttl: u32,
    seed: Option<(&str, &str)>,
) -> (Vec<String>, KillOnDrop) {
    let nodes: Vec<String> = ips
        .iter()
        .map(|ip| format!("{ip}:{}", free_port(ip.parse().expect("ip"))))
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_dht_seed.py");
    let mut args = vec![
        "--nodes".to_string(),
        nodes.join(","),
        "--ttl".into(),
        ttl.to_string(),
    ];
    if let Some((torrent, data)) = seed {
        args.extend([
            "--torrent".into(),
            torrent.into(),
            "--data".into(),
            data.into(),
        ]);
    }
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start libtorrent DHT");
    let stdout = child.stdout.take().expect("stdout");
    let guard = KillOnDrop(child);
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut first)
        .expect("ready line");
    assert!(
        first.contains("\"ready\": true"),
        "libtorrent DHT not ready: {first}"
    );
    (nodes, guard)
}
