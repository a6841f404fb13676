//! Bytes per peer of the swarm store alone (no sockets, no threads): fills `SHARDS` stores with
//! SWARMS x PEERS IPv4 peers in the order `scripts/bench-tracker.sh` announces them (one peer
//! per swarm in turn) and prints the growth of this process's RSS divided by the peers. The
//! difference to the bench's figure for the running tracker is what the server adds (code
//! pages first run under load, the allocator's per-thread arena for the swarm tables).
//!
//! ```text
//! cargo run --release -p ferrent-tracker --example memprobe -- [SWARMS [PEERS [SHARDS]]]
//! ```

use std::net::SocketAddr;
use std::time::Instant;

use ferrent_core::Id20;
use ferrent_proto::tracker::Event;
use ferrent_tracker::{Announce, CompactPeers, Families, StoreConfig, SwarmStore};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1).map(|x| x.parse::<u32>().ok());
    let swarms = args.next().flatten().unwrap_or(1000).clamp(1, 1_000_000);
    let peers = args.next().flatten().unwrap_or(100).clamp(1, 60_000);
    let shards = args.next().flatten().unwrap_or(16).clamp(1, 256) as usize;
    let t0 = Instant::now();
    let mut stores: Vec<SwarmStore> = (0..shards)
        .map(|i| SwarmStore::new(StoreConfig::default(), t0, i as u64))
        .collect();
    let mut out = CompactPeers::default();
    let before = rss_kib();
    for j in 0..u64::from(swarms) * u64::from(peers) {
        let (s, p) = (
            (j % u64::from(swarms)) as u32,
            (j / u64::from(swarms)) as u16,
        );
        let mut h = [0u8; 20];
        h[..4].copy_from_slice(&s.wrapping_mul(2_654_435_761).to_be_bytes());
        h[16..].copy_from_slice(&s.to_be_bytes());
        let a = Announce {
            info_hash: Id20(h),
            addr: SocketAddr::from(([127, 0, 0, 1], 10_000 + p)),
            event: Event::Started,
            left: 1,
            numwant: Some(50),
        };
        out.clear();
        if let Some(st) = stores.get_mut(usize::from(h[0]) % shards) {
            let _ = st.announce_compact(t0, &a, Families::V4, &mut out);
        }
    }
    let after = rss_kib();
    let n = u64::from(swarms) * u64::from(peers);
    println!(
        "store alone: {swarms} swarms x {peers} peers, {shards} shards: {:.1} bytes per peer",
        after.saturating_sub(before) as f64 * 1024.0 / n as f64
    );
}
