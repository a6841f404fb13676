//! Load generator for tracker benchmarks (`scripts/bench-tracker.sh` drives it): populates a
//! tracker with SWARMS x PEERS distinct peers over UDP (BEP 15: one connect per simulated client,
//! then announces), then re-announces over UDP and over HTTP for a bounded time, measuring
//! announces per second and latency percentiles, and reads the tracker's RSS from /proc.
//!
//! Loopback only; every phase is bounded by a request count and a deadline.
//!
//! ```text
//! cargo run --release -p ferrent-tracker --example loadgen -- \
//!     --name ferrent --udp 127.0.0.1:6969 --http 127.0.0.1:6969 --pid PID \
//!     [--swarms 1000] [--peers 100] [--clients 64] [--secs 10] [--hashes-out FILE]
//! ```
//! With `--hashes-out FILE` it only writes the info-hashes (hex, one per line) for an
//! allow-list / whitelist and exits. Output: `key=value` lines.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrent_core::Id20;
use ferrent_proto::tracker::{AnnounceRequest, Event, UdpAnnounceRequest, UdpRequest, UdpResponse};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

#[derive(Clone)]
struct Opts {
    name: String,
    udp: Option<SocketAddr>,
    http: Option<SocketAddr>,
    pid: Option<u32>,
    swarms: u32,
    peers: u32,
    clients: u32,
    secs: u64,
    hashes_out: Option<String>,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        name: "tracker".into(),
        udp: None,
        http: None,
        pid: None,
        swarms: 1000,
        peers: 100,
        clients: 64,
        secs: 10,
        hashes_out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|e| format!("{v}: {e}"));
        match flag.as_str() {
            "--name" => o.name = val()?,
            "--udp" => o.udp = Some(val()?.parse().map_err(|e| format!("--udp: {e}"))?),
            "--http" => o.http = Some(val()?.parse().map_err(|e| format!("--http: {e}"))?),
            "--pid" => o.pid = Some(num(val()?)? as u32),
            "--swarms" => o.swarms = num(val()?)?.clamp(1, 1_000_000) as u32,
            "--peers" => o.peers = num(val()?)?.clamp(1, 60_000) as u32,
            "--clients" => o.clients = num(val()?)?.clamp(1, 4096) as u32,
            "--secs" => o.secs = num(val()?)?.clamp(1, 300),
            "--hashes-out" => o.hashes_out = Some(val()?),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    for a in o.udp.iter().chain(o.http.iter()) {
        if !a.ip().is_loopback() {
            return Err(format!("{a} is not a loopback address"));
        }
    }
    Ok(o)
}

fn info_hash(swarm: u32) -> Id20 {
    let mut h = Sha1::new();
    h.update(b"ferrent-tracker-bench");
    h.update(swarm.to_be_bytes());
    let d = h.finalize();
    let mut b = [0u8; 20];
    b.copy_from_slice(&d);
    Id20(b)
}

/// Job j: swarm j % swarms, peer j / swarms (peer port 10000 + peer).
fn job(o: &Opts, j: u64) -> (Id20, u16, u64) {
    let swarm = (j % u64::from(o.swarms)) as u32;
    let peer = (j / u64::from(o.swarms)) as u32 % o.peers;
    let left = if peer.is_multiple_of(4) { 0 } else { 1_000_000 };
    (info_hash(swarm), 10_000 + peer as u16, left)
}

fn rss_kib(pid: Option<u32>) -> u64 {
    let Some(pid) = pid else { return 0 };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The tracker's CPU time so far (user + system, in clock ticks of 10 ms) from /proc.
fn cpu_ticks(pid: Option<u32>) -> u64 {
    let Some(pid) = pid else { return 0 };
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)
}

#[derive(Default)]
struct Phase {
    ok: u64,
    errors: u64,
    lat_us: Vec<u32>,
}

impl Phase {
    fn merge(&mut self, o: Phase) {
        self.ok += o.ok;
        self.errors += o.errors;
        self.lat_us.extend(o.lat_us);
    }

    /// Prints the phase's figures; `cpu_ticks` is the tracker CPU time the phase took.
    fn report(mut self, name: &str, phase: &str, elapsed: Duration, cpu_ticks: u64) {
        self.lat_us.sort_unstable();
        let pct = |p: f64| -> f64 {
            if self.lat_us.is_empty() {
                return 0.0;
            }
            let i = ((self.lat_us.len() as f64 - 1.0) * p).round() as usize;
            f64::from(self.lat_us[i.min(self.lat_us.len() - 1)]) / 1000.0
        };
        println!(
            "{name}.{phase}.rate={:.0} {name}.{phase}.ok={} {name}.{phase}.errors={} {name}.{phase}.p50_ms={:.3} {name}.{phase}.p99_ms={:.3} {name}.{phase}.secs={:.2} {name}.{phase}.cpu_us={:.2}",
            self.ok as f64 / elapsed.as_secs_f64().max(1e-9),
            self.ok,
            self.errors,
            pct(0.50),
            pct(0.99),
            elapsed.as_secs_f64(),
            cpu_ticks as f64 * 10_000.0 / self.ok.max(1) as f64
        );
    }
}

/// One simulated UDP client: connects once (again after 50 s), then announces its share of the
/// jobs `first, first + step, ...` below `limit`, until `deadline`.
async fn udp_client(
    o: Arc<Opts>,
    tracker: SocketAddr,
    first: u64,
    step: u64,
    limit: u64,
    deadline: Instant,
    event: Event,
) -> Phase {
    let mut ph = Phase::default();
    let Ok(sock) = UdpSocket::bind("127.0.0.1:0").await else {
        return ph;
    };
    if sock.connect(tracker).await.is_err() {
        return ph;
    }
    let mut buf = vec![0u8; 4096];
    let mut out = Vec::with_capacity(128);
    let mut tid: u32 = (first as u32).wrapping_mul(2_654_435_761);
    let mut conn: Option<(u64, Instant)> = None;
    let mut j = first;
    while j < limit && Instant::now() < deadline {
        if conn.is_none_or(|(_, t)| t.elapsed() > Duration::from_secs(50)) {
            tid = tid.wrapping_add(1);
            out.clear();
            UdpRequest::Connect {
                transaction_id: tid,
            }
            .encode(&mut out);
            match exchange(&sock, &out, &mut buf, tid).await {
                Some((UdpResponse::Connect { connection_id, .. }, _)) => {
                    conn = Some((connection_id, Instant::now()))
                }
                _ => {
                    ph.errors += 1;
                    continue;
                }
            }
        }
        let Some((cid, _)) = conn else { continue };
        let (ih, port, left) = job(&o, j);
        tid = tid.wrapping_add(1);
        out.clear();
        UdpRequest::Announce(UdpAnnounceRequest {
            connection_id: cid,
            transaction_id: tid,
            info_hash: ih,
            peer_id: Id20([port as u8; 20]),
            downloaded: 0,
            left,
            uploaded: 0,
            event,
            ip: std::net::Ipv4Addr::UNSPECIFIED,
            key: tid,
            num_want: 50,
            port,
        })
        .encode(&mut out);
        match exchange(&sock, &out, &mut buf, tid).await {
            Some((UdpResponse::Announce(_), us)) => {
                ph.ok += 1;
                ph.lat_us.push(us);
            }
            _ => ph.errors += 1,
        }
        j += step;
    }
    ph
}

/// Sends `pkt` and waits up to 1 s for the reply with transaction id `tid`.
async fn exchange(
    sock: &UdpSocket,
    pkt: &[u8],
    buf: &mut [u8],
    tid: u32,
) -> Option<(UdpResponse, u32)> {
    let t0 = Instant::now();
    sock.send(pkt).await.ok()?;
    let end = t0 + Duration::from_secs(1);
    loop {
        let n = tokio::time::timeout_at(end.into(), sock.recv(buf))
            .await
            .ok()?
            .ok()?;
        if let Ok(r) = UdpResponse::decode(buf.get(..n)?, false) {
            if r.transaction_id() == tid {
                return Some((r, t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32));
            }
        }
    }
}

/// One HTTP client: a new connection per announce (`Connection: close`, as opentracker closes).
async fn http_client(
    o: Arc<Opts>,
    tracker: SocketAddr,
    first: u64,
    step: u64,
    limit: u64,
    deadline: Instant,
) -> Phase {
    let mut ph = Phase::default();
    let mut j = first;
    let mut buf = Vec::with_capacity(2048);
    while j < limit && Instant::now() < deadline {
        let (ih, port, left) = job(&o, j);
        let mut r = AnnounceRequest::new(ih, Id20([port as u8; 20]), port);
        r.left = left;
        r.numwant = Some(50);
        let mut q = String::with_capacity(300);
        r.write_query(&mut q);
        let req =
            format!("GET /announce?{q} HTTP/1.1\r\nHost: {tracker}\r\nConnection: close\r\n\r\n");
        let t0 = Instant::now();
        buf.clear();
        let res = tokio::time::timeout(Duration::from_secs(2), async {
            let mut s = TcpStream::connect(tracker).await?;
            s.set_nodelay(true)?;
            s.write_all(req.as_bytes()).await?;
            s.read_to_end(&mut buf).await
        })
        .await;
        let good = matches!(res, Ok(Ok(_)))
            && buf.starts_with(b"HTTP/1.")
            && buf.windows(5).any(|w| w == b"peers")
            && !buf.windows(7).any(|w| w == b"failure");
        if good {
            ph.ok += 1;
            ph.lat_us
                .push(t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        } else {
            ph.errors += 1;
        }
        j += step;
    }
    ph
}

/// Runs one timed phase: `clients` concurrent tasks made by `client(w, deadline)`, each bounded
/// by `deadline` = now + `limit`; prints the merged figures and the tracker's CPU under `label`.
async fn run_phase<F, Fut>(
    o: &Opts,
    label: &str,
    clients: u64,
    limit: Duration,
    client: F,
) -> Result<(), String>
where
    F: Fn(u64, Instant) -> Fut,
    Fut: std::future::Future<Output = Phase> + Send + 'static,
{
    let t0 = Instant::now();
    let c0 = cpu_ticks(o.pid);
    let deadline = t0 + limit;
    let tasks: Vec<_> = (0..clients)
        .map(|w| tokio::spawn(client(w, deadline)))
        .collect();
    let mut ph = Phase::default();
    for t in tasks {
        ph.merge(t.await.map_err(|e| e.to_string())?);
    }
    ph.report(
        &o.name,
        label,
        t0.elapsed(),
        cpu_ticks(o.pid).saturating_sub(c0),
    );
    Ok(())
}

async fn run(o: Opts) -> Result<(), String> {
    let o = Arc::new(o);
    let total = u64::from(o.swarms) * u64::from(o.peers);
    let name = o.name.clone();
    let clients = u64::from(o.clients);
    println!("{name}.rss_start_kib={}", rss_kib(o.pid));
    if let Some(udp) = o.udp {
        // Populate: every peer once, with `started`.
        run_phase(
            &o,
            "udp_populate",
            clients,
            Duration::from_secs(120),
            |w, deadline| udp_client(o.clone(), udp, w, clients, total, deadline, Event::Started),
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        println!(
            "{name}.peers={total} {name}.rss_peers_kib={}",
            rss_kib(o.pid)
        );
        // Check the tracker really holds the swarms: a scrape of swarm 0.
        let sock = UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        sock.connect(udp).await.map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 2048];
        let mut out = Vec::new();
        UdpRequest::Connect { transaction_id: 1 }.encode(&mut out);
        if let Some((UdpResponse::Connect { connection_id, .. }, _)) =
            exchange(&sock, &out, &mut buf, 1).await
        {
            out.clear();
            UdpRequest::Scrape {
                connection_id,
                transaction_id: 2,
                info_hashes: vec![info_hash(0)],
            }
            .encode(&mut out);
            if let Some((UdpResponse::Scrape { stats, .. }, _)) =
                exchange(&sock, &out, &mut buf, 2).await
            {
                if let Some(s) = stats.first() {
                    println!(
                        "{name}.swarm0_seeders={} {name}.swarm0_leechers={}",
                        s.complete, s.incomplete
                    );
                }
            }
        }
        // Steady state: re-announce for `secs`.
        run_phase(
            &o,
            "udp",
            clients,
            Duration::from_secs(o.secs),
            |w, deadline| udp_client(o.clone(), udp, w, clients, u64::MAX, deadline, Event::None),
        )
        .await?;
    }
    if let Some(http) = o.http {
        let clients = clients.min(32);
        run_phase(
            &o,
            "http",
            clients,
            Duration::from_secs(o.secs),
            |w, deadline| http_client(o.clone(), http, w, clients, total, deadline),
        )
        .await?;
    }
    println!("{name}.rss_end_kib={}", rss_kib(o.pid));
    Ok(())
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    if let Some(path) = &o.hashes_out {
        let text: String = (0..o.swarms)
            .map(|s| format!("{}\n", info_hash(s).to_hex()))
            .collect();
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("loadgen: {path}: {e}");
            std::process::exit(1);
        }
        return;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(o)) {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}
