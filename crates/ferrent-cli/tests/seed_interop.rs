//! ferrent as the uploading side, against real leechers (libtorrent, aria2, Transmission from
//! `../shared/swarm`): `ferrent seed`, `ferrent share`, uploading while downloading, and
//! resuming after `kill -9`. Each test has its own swarm directory, ports and 127.0.2.X
//! addresses; every process it starts is stopped when it ends.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{Swarm, assert_leech_ok, free_port, read, wait_for_text};

/// `ferrent seed` on `seed_ip` serves a `client` leecher on `leech_ip`, through ferrent's
/// tracker. The payload has 0-byte, 1-byte and odd-sized files across directories.
fn seed_to(client: &str, seed_ip: &str, leech_ip: &str) {
    let mut s = Swarm::new(&format!("seed-{client}"));
    let (tracker, _) = s.ferrent_tracker();
    let payload = s.payload("6M", 8);
    let torrent = s.torrent(&payload, &tracker, 64);
    let port = free_port(seed_ip.parse().expect("ip")).to_string();
    let data_dir = payload
        .parent()
        .expect("payload root")
        .to_str()
        .expect("utf-8")
        .to_string();
    let log = s.spawn_ferrent(
        "seed",
        &[
            "seed",
            torrent.to_str().expect("utf-8"),
            "-d",
            &data_dir,
            "--bind",
            seed_ip,
            "--port",
            &port,
            "--seed-time",
            "120s",
        ],
    );
    assert!(
        wait_for_text(&log, "seeding on", Duration::from_secs(20)),
        "seed did not start: {}",
        read(&log)
    );
    assert!(
        read(&log).contains("pieces present (100.0%)"),
        "{}",
        read(&log)
    );
    let out_dir = s.path("dl");
    let out = s.script(
        "leech",
        &[
            client,
            torrent.to_str().expect("utf-8"),
            out_dir.to_str().expect("utf-8"),
            "--ip",
            leech_ip,
            "--verify",
            payload.to_str().expect("utf-8"),
            "--timeout",
            "60",
        ],
    );
    assert_leech_ok(&out, client);
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
    let out = s.run_ferrent(
        &[
            "download",
            torrent.to_str().expect("utf-8"),
            "-o",
            dl.to_str().expect("utf-8"),
            "--bind",
            "127.0.2.42",
            "--port",
            "0",
            "--timeout",
            "30s",
        ],
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "ferrent download failed");
    assert!(s.same_bytes(&payload, &dl), "ferrent's copy differs");

    let lt = s.script(
        "leech",
        &[
            "libtorrent",
            torrent.to_str().expect("utf-8"),
            s.path("lt").to_str().expect("utf-8"),
            "--ip",
            "127.0.2.43",
            "--verify",
            payload.to_str().expect("utf-8"),
            "--timeout",
            "60",
        ],
    );
    assert_leech_ok(&lt, "libtorrent");
}

/// One slow libtorrent seeder, ferrent and a libtorrent leecher: ferrent passes pieces on to
/// the other leecher while it is still downloading.
#[test]
fn uploads_to_another_leecher_while_downloading() {
    let mut s = Swarm::new("upload-while-down");
    let (tracker, _) = s.ferrent_tracker();
    let payload = s.payload("8M", 0);
    let torrent = s.torrent(&payload, &tracker, 64);
    let t = torrent.to_str().expect("utf-8");
    let root = payload
        .parent()
        .expect("root")
        .to_str()
        .expect("utf-8")
        .to_string();
    // 1 MB/s: slow enough that the leechers have time to trade.
    let slow = [("SWARM_LT_SETTINGS", r#"{"upload_rate_limit": 1000000}"#)];
    s.seed_client(
        "libtorrent",
        &torrent,
        Path::new(&root),
        "127.0.2.51",
        &slow,
    );
    let dl = s.path("ferrent-dl");
    let log = s.spawn_ferrent(
        "download",
        &[
            "download",
            t,
            "-o",
            dl.to_str().expect("utf-8"),
            "--bind",
            "127.0.2.52",
            "--port",
            "0",
            "--seed",
            "--seed-time",
            "15s",
            "--timeout",
            "60s",
        ],
    );
    let lt = s.script(
        "leech",
        &[
            "libtorrent",
            t,
            s.path("lt").to_str().expect("utf-8"),
            "--ip",
            "127.0.2.53",
            "--verify",
            payload.to_str().expect("utf-8"),
            "--timeout",
            "60",
        ],
    );
    assert_leech_ok(&lt, "libtorrent");
    assert!(
        wait_for_text(&log, "stopped seeding", Duration::from_secs(60)),
        "{}",
        read(&log)
    );
    let text = read(&log);
    let line = text
        .lines()
        .find(|l| l.contains("stopped seeding"))
        .unwrap_or_default();
    let uploaded = line
        .split("uploaded ")
        .nth(1)
        .and_then(|r| r.split(" in ").next())
        .unwrap_or("");
    assert!(
        !uploaded.is_empty() && uploaded != "0 B",
        "ferrent uploaded nothing: {line}"
    );
    assert!(text.contains("complete,"), "{text}");
}

/// `kill -9` mid-download, twice, then the same command again: it completes, resumes the pieces
/// it had verified, and the bytes are equal.
#[test]
fn kill9_mid_download_then_resume() {
    let mut s = Swarm::new("kill9");
    let (tracker, _) = s.ferrent_tracker();
    let payload = s.payload("12M", 3);
    let torrent = s.torrent(&payload, &tracker, 64);
    let t = torrent.to_str().expect("utf-8");
    let root = payload
        .parent()
        .expect("root")
        .to_str()
        .expect("utf-8")
        .to_string();
    let slow = [("SWARM_LT_SETTINGS", r#"{"upload_rate_limit": 2000000}"#)];
    s.seed_client(
        "libtorrent",
        &torrent,
        Path::new(&root),
        "127.0.2.61",
        &slow,
    );
    let dl = s.path("dl");
    let dl = dl.to_str().expect("utf-8");
    let args = [
        "download",
        t,
        "-o",
        dl,
        "--bind",
        "127.0.2.62",
        "--port",
        "0",
        "--timeout",
        "60s",
    ];
    for (round, wait_ms) in [(0, 1500u64), (1, 1700)] {
        let name = format!("run{round}");
        s.spawn_ferrent(&name, &args);
        std::thread::sleep(Duration::from_millis(wait_ms));
        s.kill9(&name);
    }
    let out = s.run_ferrent(&args, Duration::from_secs(90));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "resumed download failed: {text}");
    let resumed: u32 = text
        .split("resumed ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(resumed > 0, "nothing was resumed: {text}");
    let name = payload.file_name().expect("name").to_str().expect("utf-8");
    let verify = s.script(
        "verify",
        &[payload.to_str().expect("utf-8"), &format!("{dl}/{name}")],
    );
    assert!(verify.status.success(), "bytes differ after resume");
}
