//! The DHT for running torrents (BEP 5), end to end: `ferrent seed --dht-bootstrap` announces
//! itself to a loopback DHT of libtorrent nodes, and a libtorrent leecher that has only the
//! magnet link (no tracker, no `x.pe`) finds it there and downloads; a private torrent (BEP 27)
//! never asks the DHT about itself while a public one does; the routing table is saved in the
//! data directory and loaded by the next run.

mod support;

use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Swarm, download_args, free_port, libtorrent_dht, read, utf8, wait_for_text};

fn info_hash(s: &Swarm, torrent: &str) -> String {
    let out = s.run_ferrent(&["info", "--json", torrent], Duration::from_secs(20));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v["info_hash_v1"].as_str().expect("v1 hash").to_string()
}

fn unhex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn libtorrent_finds_ferrent_seed_through_the_dht() {
    let mut s = Swarm::new("dht-running");
    let payload = s.payload("3M", 4);
    let torrent = s.trackerless(&payload, "t.torrent", false);
    let t = torrent.to_str().expect("utf-8");
    let root = payload.parent().expect("root").to_str().expect("utf-8");
    let (nodes, _dht) = libtorrent_dht(&["127.0.3.51", "127.0.3.52", "127.0.3.53"], 120, None);
    // Let libtorrent's nodes find each other.
    std::thread::sleep(Duration::from_secs(3));

    let hash = info_hash(&s, t);
    let port = free_port("127.0.3.54".parse().expect("ip")).to_string();
    let mut args = vec![
        "seed",
        t,
        "-d",
        root,
        "--bind",
        "127.0.3.54",
        "--port",
        &port,
        "--seed-time",
        "120s",
        "--dht-announce-interval",
        "5s",
    ];
    for n in &nodes {
        args.extend(["--dht-bootstrap", n.as_str()]);
    }
    let log = s.spawn_ferrent("seed", &args);
    let announced = format!("DHT lookup for {hash} done");
    assert!(
        wait_for_text(&log, &announced, Duration::from_secs(30)),
        "ferrent did not announce to the DHT:\n{}",
        read(&log)
    );

    // The leecher knows only the info-hash and the DHT.
    let magnet = format!("magnet:?xt=urn:btih:{hash}&dn=dht-running");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_dht_leech.py");
    let out = Command::new("/usr/bin/python3")
        .arg(script)
        .args([
            magnet.as_str(),
            s.path("lt").to_str().expect("utf-8"),
            "127.0.3.55",
            &nodes.join(","),
            "60",
        ])
        .output()
        .expect("run python3-libtorrent");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.starts_with("DONE"),
        "libtorrent did not download through the DHT: {text}{}\nferrent:\n{}",
        String::from_utf8_lossy(&out.stderr),
        read(&log)
    );
    assert!(
        text.contains("127.0.3.54"),
        "libtorrent's peer was not ferrent: {text}"
    );
    assert!(s.same_bytes(&payload, &s.path("lt")), "bytes differ");
}

/// Reads datagrams arriving at `sock` until `until`; returns them.
fn collect(sock: &UdpSocket, until: Instant) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while Instant::now() < until {
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            got.push(buf[..n].to_vec());
        }
    }
    got
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Runs `ferrent seed` of `torrent` whose only DHT node is a socket of this test, for `secs`
/// seconds after it started seeding; returns every datagram the socket got.
fn datagrams_from_seed(
    s: &mut Swarm,
    name: &str,
    torrent: &Path,
    root: &Path,
    ip: &str,
    node_ip: &str,
    secs: u64,
) -> Vec<Vec<u8>> {
    let node = UdpSocket::bind((node_ip, 0)).expect("bind the test's DHT node");
    let node_addr = node.local_addr().expect("addr").to_string();
    let log = s.spawn_ferrent(
        name,
        &[
            "seed",
            torrent.to_str().expect("utf-8"),
            "-d",
            root.to_str().expect("utf-8"),
            "--bind",
            ip,
            "--port",
            "0",
            "--seed-time",
            "60s",
            "--dht-bootstrap",
            &node_addr,
            "--dht-announce-interval",
            "1s",
        ],
    );
    assert!(
        wait_for_text(&log, "seeding on", Duration::from_secs(30)),
        "{}",
        read(&log)
    );
    let got = collect(&node, Instant::now() + Duration::from_secs(secs));
    s.kill9(name);
    got
}

/// BEP 27: a private torrent's info-hash never reaches the DHT. The same set-up with a public
/// torrent does send get_peers/announce_peer for it, so this test can fail.
#[test]
fn private_torrent_never_asks_the_dht() {
    let mut s = Swarm::new("dht-private");
    let payload = s.payload("1M", 0);
    let root = payload.parent().expect("root").to_path_buf();

    let private = s.trackerless(&payload, "private.torrent", true);
    let hash = unhex(&info_hash(&s, private.to_str().expect("utf-8")));
    let got = datagrams_from_seed(
        &mut s,
        "private",
        &private,
        &root,
        "127.0.3.62",
        "127.0.3.61",
        8,
    );
    assert!(
        !got.is_empty(),
        "the DHT sent nothing at all (it should bootstrap: find_node for our own id)"
    );
    for d in &got {
        assert!(
            !contains(d, &hash),
            "a datagram named the private torrent's info-hash: {}",
            String::from_utf8_lossy(d)
        );
        assert!(
            !contains(d, b"get_peers") && !contains(d, b"announce_peer"),
            "a private torrent asked the DHT: {}",
            String::from_utf8_lossy(d)
        );
    }

    let public = s.trackerless(&payload, "public.torrent", false);
    let hash = unhex(&info_hash(&s, public.to_str().expect("utf-8")));
    let got = datagrams_from_seed(
        &mut s,
        "public",
        &public,
        &root,
        "127.0.3.64",
        "127.0.3.63",
        4,
    );
    assert!(
        got.iter()
            .any(|d| contains(d, &hash) && contains(d, b"get_peers")),
        "a public torrent sent no get_peers for its info-hash ({} datagrams)",
        got.len()
    );
}

/// The routing table is saved in the data directory at exit (`.ferrent-dht`), and the next run
/// bootstraps from it alone: its only --dht-bootstrap node is dead, yet it reaches the
/// libtorrent nodes it learnt in the first run and announces to them.
#[test]
fn routing_table_is_kept_between_runs() {
    let mut s = Swarm::new("dht-table");
    let payload = s.payload("1M", 0);
    let root = payload.parent().expect("root").to_path_buf();
    let torrent = s.trackerless(&payload, "t.torrent", false);
    let t = torrent.to_str().expect("utf-8");
    let hash = info_hash(&s, t);
    let (nodes, _dht) = libtorrent_dht(&["127.0.3.71", "127.0.3.72", "127.0.3.73"], 120, None);
    std::thread::sleep(Duration::from_secs(3));
    let state = root.join(".ferrent-dht");
    let mut args = vec![
        "seed",
        t,
        "-d",
        root.to_str().expect("utf-8"),
        "--bind",
        "127.0.3.74",
        "--port",
        "0",
        "--seed-time",
        "6s",
    ];
    for n in &nodes {
        args.extend(["--dht-bootstrap", n.as_str()]);
    }
    let out = s.run_ferrent(&args, Duration::from_secs(60));
    assert!(out.status.success(), "first run failed");
    let saved = std::fs::read(&state).expect("the DHT table was saved in the data directory");
    for n in &nodes {
        let (ip, port) = n.split_once(':').expect("ip:port");
        let mut compact: Vec<u8> = ip.split('.').map(|o| o.parse().expect("octet")).collect();
        compact.extend(port.parse::<u16>().expect("port").to_be_bytes());
        assert!(
            contains(&saved, &compact),
            "node {n} missing from the saved table"
        );
    }

    // Second run: a dead bootstrap node only; the saved table must do.
    let dead = UdpSocket::bind("127.0.3.75:0").expect("bind");
    let dead_addr = dead.local_addr().expect("addr").to_string();
    let log = s.spawn_ferrent(
        "second",
        &[
            "seed",
            t,
            "-d",
            root.to_str().expect("utf-8"),
            "--bind",
            "127.0.3.74",
            "--port",
            "0",
            "--seed-time",
            "60s",
            "--dht-bootstrap",
            &dead_addr,
            "--dht-announce-interval",
            "2s",
        ],
    );
    let done = Instant::now() + Duration::from_secs(30);
    let mut ok = false;
    while Instant::now() < done && !ok {
        std::thread::sleep(Duration::from_millis(200));
        ok = read(&log).lines().any(|l| {
            l.contains(&format!("DHT lookup for {hash} done"))
                && l.contains("announced=")
                && !l.contains("announced=0")
        });
    }
    assert!(
        ok,
        "the second run did not reach the saved nodes:\n{}",
        read(&log)
    );
}

/// The other direction: `ferrent download` of a .torrent with no tracker and no `--peer` gets
/// its peers from the running torrent's DHT lookups, here a libtorrent seeder that announced
/// itself in a loopback libtorrent DHT.
#[test]
fn ferrent_download_finds_libtorrent_seed_through_the_dht() {
    let s = Swarm::new("dht-running-dl");
    let payload = s.payload("3M", 4);
    let torrent = s.trackerless(&payload, "t.torrent", false);
    let t = torrent.to_str().expect("utf-8");
    let root = payload.parent().expect("root").to_str().expect("utf-8");
    let (nodes, _guard) = libtorrent_dht(
        &["127.0.3.81", "127.0.3.82", "127.0.3.83"],
        90,
        Some((t, root)),
    );
    // Let libtorrent's nodes find each other and announce the torrent.
    std::thread::sleep(Duration::from_secs(4));

    let dl = s.path("dl");
    let mut args = download_args(t, utf8(&dl), "127.0.3.84", "30s").to_vec();
    args.extend(["--dht-announce-interval", "3s"]);
    for n in &nodes {
        args.extend(["--dht-bootstrap", n.as_str()]);
    }
    let out = s.run_ferrent(&args, Duration::from_secs(90));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "download through the DHT failed: {text}"
    );
    assert!(s.same_bytes(&payload, &dl), "bytes differ");
}
