//! Magnet links end to end with libtorrent (BEP 9): ferrent fetches the metadata and the data
//! from a libtorrent seeder named only by `x.pe`; a libtorrent leecher given only a magnet
//! pointing at `ferrent seed` gets the metadata from ferrent and downloads.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Swarm, download_args, libtorrent_dht, root_of, utf8};

fn info_hash(s: &Swarm, torrent: &str) -> String {
    let out = s.run_ferrent(&["info", "--json", torrent], Duration::from_secs(20));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v["info_hash_v1"].as_str().expect("v1 hash").to_string()
}

#[test]
fn magnet_download_from_libtorrent_seeder() {
    let s = Swarm::new("magnet-from-lt");
    let payload = s.payload("5M", 6);
    // A dead tracker: peers come only from x.pe.
    let torrent = s.torrent(&payload, "http://127.0.0.1:1/announce", 32);
    let t = torrent.to_str().expect("utf-8");
    let root = payload.parent().expect("root");
    let port = s.seed_client("libtorrent", &torrent, root, "127.0.3.21", &[]);
    let hash = info_hash(&s, t);
    let magnet = format!("magnet:?xt=urn:btih:{hash}&dn=test&x.pe=127.0.3.21:{port}");
    let dl = s.path("dl");
    let saved = s.path("saved.torrent");
    let out = s.download(
        &magnet,
        &dl,
        "127.0.3.22",
        Duration::from_secs(30),
        &["--save-torrent", saved.to_str().expect("utf-8")],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "magnet download failed: {text}");
    // While the metadata is missing, the progress names the magnet's dn.
    assert!(text.contains("test: fetching metadata"), "{text}");
    assert!(text.contains("metadata received"), "{text}");
    assert!(s.same_bytes(&payload, &dl), "bytes differ");
    // The saved .torrent has the same info-hash as the original.
    assert_eq!(info_hash(&s, saved.to_str().expect("utf-8")), hash);
}

#[test]
fn libtorrent_gets_metadata_from_ferrent_seed() {
    let mut s = Swarm::new("magnet-to-lt");
    let payload = s.payload("5M", 6);
    let torrent = s.torrent(&payload, "http://127.0.0.1:1/announce", 32);
    let t = torrent.to_str().expect("utf-8");
    let (port, _) = s.spawn_seed(&torrent, &root_of(&payload), "127.0.3.31", &[]);
    let hash = info_hash(&s, t);
    let magnet = format!("magnet:?xt=urn:btih:{hash}&x.pe=127.0.3.31:{port}");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_magnet.py");
    let out = Command::new("/usr/bin/python3")
        .arg(script)
        .args([
            &magnet,
            s.path("lt").to_str().expect("utf-8"),
            "127.0.3.32",
            "40",
        ])
        .output()
        .expect("run python3-libtorrent");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.starts_with("DONE"),
        "libtorrent failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        s.same_bytes(&payload, &s.path("lt")),
        "libtorrent's copy differs"
    );
}

/// No tracker at all: a small DHT of libtorrent nodes on loopback, one of them seeding.
/// `ferrent download <magnet> --dht-bootstrap ...` finds the seeder through the DHT (BEP 5),
/// fetches the metadata from it (BEP 9) and downloads.
#[test]
fn magnet_download_through_libtorrent_dht() {
    let s = Swarm::new("magnet-dht");
    let payload = s.payload("3M", 4);
    let torrent = s.torrent(&payload, "http://127.0.0.1:1/announce", 32);
    let t = torrent.to_str().expect("utf-8");
    let root = root_of(&payload);
    let (nodes, _guard) = libtorrent_dht(
        &["127.0.3.41", "127.0.3.42", "127.0.3.43"],
        90,
        Some((t, &root)),
    );
    // Let libtorrent's nodes find each other and announce the torrent.
    std::thread::sleep(Duration::from_secs(4));

    let hash = info_hash(&s, t);
    let magnet = format!("magnet:?xt=urn:btih:{hash}&dn=dht-test");
    let dl = s.path("dl");
    let mut args = download_args(&magnet, utf8(&dl), "127.0.3.44", "30s").to_vec();
    for n in &nodes {
        args.extend(["--dht-bootstrap", n.as_str()]);
    }
    let out = s.run_ferrent(&args, Duration::from_secs(90));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "DHT magnet download failed: {text}");
    assert!(s.same_bytes(&payload, &dl), "bytes differ");
}
