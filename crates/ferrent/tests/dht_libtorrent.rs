//! Interop: ferrent's DHT node in a small DHT of libtorrent 2.0 sessions (python3-libtorrent) on
//! loopback. Three libtorrent sessions on 127.0.0.41-43 bootstrap from each other and from our
//! node; the first adds an info-hash (like a magnet link) and so announces itself to the DHT. Our node, bootstrapped from those three addresses
//! only, must find the announcer's address with get_peers, and must have answered libtorrent's
//! queries (which carry 2-byte transaction ids), and libtorrent's announce to us must pass our
//! token check. The other way round, we announce a second info-hash and a libtorrent session's
//! get_peers must report our address. Bounded to ~60 s; the python process is killed
//! by a Drop guard, also on failure.

// An integration test drives real time.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use ferrent::dht::{Dht, DhtConfig, DhtEvent};
use ferrent_proto::dht::NodeId;
use sha1::{Digest, Sha1};

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port(ip: &str) -> u16 {
    let l = TcpListener::bind((ip, 0)).expect("bind loopback");
    l.local_addr().expect("local addr").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrent_and_libtorrent_dht_interoperate() {
    let python = "/usr/bin/python3";
    let ok = Command::new(python)
        .args(["-c", "import libtorrent"])
        .status()
        .map(|s| s.success());
    assert!(
        matches!(ok, Ok(true)),
        "python3-libtorrent is required (../shared/swarm/install)"
    );

    let lt_nodes: Vec<SocketAddr> = ["127.0.0.41", "127.0.0.42", "127.0.0.43"]
        .iter()
        .map(|ip| SocketAddr::new(ip.parse().unwrap(), free_port(ip)))
        .collect();
    let info_hash: [u8; 20] = Sha1::digest(b"ferrent dht interop").into();
    // The other way round: we announce this one, a libtorrent session looks it up.
    let our_hash: [u8; 20] = Sha1::digest(b"ferrent dht interop, announced by ferrent").into();
    let our_port = 9999;
    let save_dir = tempfile::tempdir().expect("tempdir");

    let seed: [u8; 20] = Sha1::digest(format!("{:?}{}", Instant::now(), std::process::id())).into();
    let mut secret = [0u8; 32];
    secret[..20].copy_from_slice(&seed);
    let mut config = DhtConfig::new(NodeId(seed), secret);
    config.bootstrap = lt_nodes.clone();
    let (dht, mut events) = Dht::bind("127.0.0.40:0".parse().unwrap(), config)
        .await
        .expect("bind our node");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_dht.py");
    let nodes_arg = lt_nodes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut child = KillOnDrop(
        Command::new(python)
            .arg(&script)
            .args([
                "--nodes",
                &nodes_arg,
                "--extra",
                &dht.local_addr().to_string(),
            ])
            .args(["--info-hash", &hex(&info_hash), "--find", &hex(&our_hash)])
            .arg("--save-dir")
            .arg(save_dir.path())
            .args(["--ttl", "70"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let (line_tx, line_rx) = std_mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });

    // The first session announces its own listen port.
    let want = lt_nodes[0];
    let start = Instant::now();
    let deadline = start + Duration::from_secs(60);
    let mut found = false;
    let mut last_lookup: Option<Instant> = None;
    let mut last_status = String::new();
    while Instant::now() < deadline && !found {
        while let Ok(l) = line_rx.try_recv() {
            eprintln!("lt: {l}");
            last_status = l;
        }
        let stats = dht.stats().await.expect("stats");
        if stats.routing_nodes > 0
            && last_lookup.is_none_or(|t| t.elapsed() > Duration::from_secs(4))
        {
            dht.get_peers(NodeId(info_hash))
                .await
                .expect("start lookup");
            last_lookup = Some(Instant::now());
        }
        if let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(500), events.recv()).await
        {
            eprintln!("ferrent: {ev:?}");
            // Only peers from a libtorrent node's reply count (not our own store, which
            // libtorrent's announce to us also fills).
            if let DhtEvent::PeersFound {
                peers,
                source: Some(src),
                ..
            } = ev
            {
                found |= peers.contains(&want) && lt_nodes.contains(&src);
            }
        }
    }
    // libtorrent's announcer also announces to us, with the token our get_peers reply gave it:
    // wait (bounded) until our peer store holds it.
    let mut stats = dht.stats().await.expect("stats");
    while found && stats.stored.1 == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stats = dht.stats().await.expect("stats");
    }
    // Announce our own info-hash, then wait (bounded) until libtorrent's get_peers reports us.
    let ours = SocketAddr::new(dht.local_addr().ip(), our_port);
    let mut lt_found_us = false;
    if found {
        dht.announce(NodeId(our_hash), Some(our_port))
            .await
            .expect("announce");
        let until = Instant::now() + Duration::from_secs(20);
        while !lt_found_us && Instant::now() < until {
            match line_rx.recv_timeout(Duration::from_millis(500)) {
                Ok(l) => {
                    lt_found_us |= l.contains(&format!("\"{ours}\""));
                    last_status = l;
                }
                Err(std_mpsc::RecvTimeoutError::Timeout) => {}
                Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
            }
            while let Ok(Some(ev)) = tokio::time::timeout(Duration::ZERO, events.recv()).await {
                eprintln!("ferrent: {ev:?}");
            }
        }
        eprintln!("lt: {last_status}");
    }
    eprintln!("ferrent stats after {:?}: {stats:?}", start.elapsed());
    if let Some(stdin) = child.0.stdin.as_mut() {
        let _ = stdin.write_all(b"");
    }
    drop(child);
    assert!(
        found,
        "libtorrent announcer {want} not found via get_peers; last libtorrent status: {last_status}"
    );
    assert!(
        stats.routing_nodes >= 2,
        "libtorrent nodes in our table: {stats:?}"
    );
    assert!(
        stats.stored.1 >= 1,
        "libtorrent's announce_peer (our token) accepted: {stats:?}"
    );
    assert!(
        lt_found_us,
        "libtorrent's get_peers did not find our announce {ours}: {last_status}"
    );
    assert!(
        stats.answered_by_tid_len[2] > 0,
        "answered queries with 2-byte transaction ids (libtorrent's): {stats:?}"
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
