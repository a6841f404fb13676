//! A small simulated swarm driving the picker through its public API with a fake clock.
//!
//! Peers have bitfields, rates, latencies; some drop requests (timeouts), choke us now and then
//! (with BEP 6 rejects or silently), ignore cancels (late blocks), send corrupt data (failed hashes,
//! smart ban), or leave. Peer 0 is an honest seed, so every swarm can complete. Each step checks the
//! picker's invariants; at the end every piece must have been verified exactly once.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use ferrent::{
    BLOCK_SIZE, BlockOutcome, BlockRequest, Picker, PickerConfig, PickerEvent, PieceGeometry,
};
use proptest::prelude::*;

/// One simulated step.
const TICK: Duration = Duration::from_millis(100);

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Debug)]
struct SimPeer {
    key: u64,
    has: Vec<bool>,
    seed: bool,
    /// Blocks sent per tick.
    rate: usize,
    /// Ticks between receiving a request and its block arriving.
    latency: u64,
    corrupt: bool,
    /// Every n-th request is silently dropped (0 = never).
    drop_every: u32,
    /// BEP 6 peer: answers choke and cancel with `reject`.
    fast: bool,
    allowed_fast: Vec<u32>,
    /// (period, choked ticks per period).
    choke_cycle: Option<(u64, u64)>,
    choked: bool,
    ignores_cancel: bool,
    leave_at: Option<u64>,
    gone: bool,
    queue: VecDeque<(BlockRequest, u64)>,
    requests_seen: u32,
}

#[derive(Debug, Default)]
struct Report {
    ticks: u64,
    verified: u32,
    failed: u32,
    banned: u32,
    timeouts_snubs: u32,
    cancels: u32,
    duplicates: u32,
}

struct Swarm {
    picker: Picker<u64>,
    peers: Vec<SimPeer>,
    num_pieces: u32,
    rng: Rng,
    epoch: Instant,
    /// Accepted block sources of the piece being downloaded, by piece then block index.
    sources: HashMap<u32, Vec<Option<u64>>>,
    verified: Vec<u32>,
    report: Report,
    /// Check the (expensive) invariants every this many ticks.
    check_every: u64,
    /// Check each request against every other peer's requests (expensive).
    check_duplicates: bool,
}

#[allow(clippy::disallowed_methods)] // the one clock read: an arbitrary epoch for the fake clock
fn epoch() -> Instant {
    Instant::now()
}

impl Swarm {
    fn new(
        seed: u64,
        num_pieces: u32,
        blocks_per_piece: u32,
        last_len: u32,
        npeers: usize,
    ) -> Self {
        let mut rng = Rng(seed);
        let plen = blocks_per_piece * BLOCK_SIZE;
        let total =
            u64::from(num_pieces - 1) * u64::from(plen) + u64::from(last_len.clamp(1, plen));
        let geo = PieceGeometry::new(num_pieces, plen, total).expect("geometry");
        let config = PickerConfig {
            request_timeout: Duration::from_secs(5),
            ..PickerConfig::default()
        };
        let mut picker = Picker::new(geo, config, rng.next());
        let mut peers = Vec::new();
        for i in 0..npeers {
            let honest_seed = i == 0;
            let seed_peer = honest_seed || rng.chance(20);
            let has: Vec<bool> = (0..num_pieces)
                .map(|_| seed_peer || rng.chance(50))
                .collect();
            let fast = rng.chance(50);
            let allowed_fast = if fast {
                (0..num_pieces)
                    .filter(|&p| has[p as usize])
                    .take(2)
                    .collect()
            } else {
                Vec::new()
            };
            peers.push(SimPeer {
                key: 1000 + i as u64,
                has,
                seed: seed_peer,
                rate: 1 + rng.below(6) as usize,
                latency: rng.below(4),
                corrupt: !honest_seed && rng.chance(15),
                drop_every: if !honest_seed && rng.chance(25) {
                    2 + rng.below(5) as u32
                } else {
                    0
                },
                fast,
                allowed_fast,
                choke_cycle: (!honest_seed && rng.chance(30))
                    .then(|| (20 + rng.below(100), 5 + rng.below(15))),
                choked: true,
                ignores_cancel: rng.chance(30),
                leave_at: (!honest_seed && rng.chance(20)).then(|| 10 + rng.below(300)),
                gone: false,
                queue: VecDeque::new(),
                requests_seen: 0,
            });
        }
        for sp in &mut peers {
            picker.add_peer(sp.key).expect("add");
            if sp.seed {
                picker.peer_have_all(sp.key).expect("have all");
            } else {
                let mut bits = vec![0u8; (num_pieces as usize).div_ceil(8)];
                for (p, &h) in sp.has.iter().enumerate() {
                    if h {
                        bits[p / 8] |= 0x80 >> (p % 8);
                    }
                }
                picker.peer_bitfield(sp.key, &bits).expect("bitfield");
            }
            for &f in &sp.allowed_fast {
                picker.peer_allowed_fast(sp.key, f).expect("allowed fast");
            }
            picker
                .set_peer_reqq(sp.key, 8 + rng.below(250) as u32)
                .expect("reqq");
        }
        Swarm {
            picker,
            peers,
            num_pieces,
            rng,
            epoch: epoch(),
            sources: HashMap::new(),
            verified: vec![0; num_pieces as usize],
            report: Report::default(),
            check_every: 1,
            check_duplicates: true,
        }
    }

    fn now(&self, tick: u64) -> Instant {
        self.epoch + TICK * tick as u32
    }

    fn check(&self) {
        if let Err(e) = self.picker.check_invariants() {
            panic!("invariant broken at tick {}: {e}", self.report.ticks);
        }
    }

    fn run(mut self, max_ticks: u64) -> Report {
        let mut out = Vec::new();
        for tick in 0..max_ticks {
            self.report.ticks = tick;
            let now = self.now(tick);
            self.churn(tick);
            self.deliver(tick, now);
            if self.picker.poll_timeout().is_some_and(|t| t <= now) {
                self.picker.handle_timeout(now);
            }
            self.drain_events();
            for i in 0..self.peers.len() {
                if self.peers[i].gone {
                    continue;
                }
                out.clear();
                let key = self.peers[i].key;
                self.picker
                    .next_requests(key, now, &mut out)
                    .expect("next_requests");
                for &r in &out {
                    self.accept_request(i, r, tick);
                }
            }
            self.drain_events();
            if tick % self.check_every == 0 {
                self.check();
            }
            if self.picker.is_complete() {
                break;
            }
        }
        assert!(
            self.picker.is_complete(),
            "not complete after {max_ticks} ticks: {:?}",
            self.picker.stats()
        );
        for (piece, &n) in self.verified.iter().enumerate() {
            assert_eq!(n, 1, "piece {piece} verified {n} times");
        }
        let stats = self.picker.stats();
        assert_eq!(stats.pieces_have, self.num_pieces);
        assert_eq!(stats.bytes_have, self.picker.geometry().total_length());
        assert_eq!(stats.bytes_wanted_left, 0);
        self.report.verified = stats.pieces_have;
        self.report
    }

    /// Chokes, unchokes and departures.
    fn churn(&mut self, tick: u64) {
        for i in 0..self.peers.len() {
            let sp = &mut self.peers[i];
            if sp.gone {
                continue;
            }
            if sp.leave_at == Some(tick) {
                sp.gone = true;
                sp.queue.clear();
                self.picker.remove_peer(sp.key).expect("remove");
                continue;
            }
            let choked = match sp.choke_cycle {
                Some((period, off)) => tick % period < off,
                None => tick == 0,
            };
            if choked == sp.choked {
                continue;
            }
            sp.choked = choked;
            if choked {
                self.picker.peer_choked(sp.key).expect("choke");
                let fast = sp.allowed_fast.clone();
                let kept: VecDeque<_> = sp
                    .queue
                    .iter()
                    .copied()
                    .filter(|(r, _)| fast.contains(&r.piece))
                    .collect();
                let dropped: Vec<_> = sp
                    .queue
                    .iter()
                    .filter(|(r, _)| !fast.contains(&r.piece))
                    .map(|q| q.0)
                    .collect();
                sp.queue = kept;
                if sp.fast {
                    for r in dropped {
                        self.picker
                            .on_reject(sp.key, r)
                            .expect("reject after choke");
                    }
                }
            } else {
                self.picker.peer_unchoked(sp.key).expect("unchoke");
            }
        }
    }

    fn deliver(&mut self, tick: u64, now: Instant) {
        for i in 0..self.peers.len() {
            for _ in 0..self.peers[i].rate {
                let sp = &mut self.peers[i];
                if sp.gone {
                    break;
                }
                let Some(&(r, ready)) = sp.queue.front() else {
                    break;
                };
                if ready > tick {
                    break;
                }
                sp.queue.pop_front();
                let (key, corrupt) = (sp.key, sp.corrupt);
                match self.picker.on_block(key, r, now).expect("requested block") {
                    BlockOutcome::Redundant => {}
                    outcome @ (BlockOutcome::Accepted | BlockOutcome::PieceComplete) => {
                        let blocks = self
                            .picker
                            .geometry()
                            .piece_len(r.piece)
                            .div_ceil(BLOCK_SIZE);
                        let src = self
                            .sources
                            .entry(r.piece)
                            .or_insert_with(|| vec![None; blocks as usize]);
                        src[(r.offset / BLOCK_SIZE) as usize] = Some(key);
                        let _ = corrupt;
                        if outcome == BlockOutcome::PieceComplete {
                            self.hash_check(r.piece);
                        }
                    }
                }
            }
        }
    }

    fn hash_check(&mut self, piece: u32) {
        let src = self.sources.remove(&piece).expect("sources");
        assert!(
            src.iter().all(Option::is_some),
            "complete piece {piece} has holes"
        );
        let senders: BTreeSet<u64> = src.into_iter().flatten().collect();
        let bad: Vec<u64> = senders
            .iter()
            .copied()
            .filter(|k| self.peers.iter().any(|p| p.key == *k && p.corrupt))
            .collect();
        if bad.is_empty() {
            self.picker.on_piece_verified(piece).expect("verified");
            self.verified[piece as usize] += 1;
        } else {
            self.report.failed += 1;
            let contributors: BTreeSet<u64> = self
                .picker
                .on_piece_failed(piece)
                .expect("failed")
                .into_iter()
                .collect();
            assert_eq!(
                contributors, senders,
                "contributors of failed piece {piece}"
            );
            // Smart ban, with the simulator's oracle standing in for strikes.
            for k in bad {
                if let Some(sp) = self.peers.iter_mut().find(|p| p.key == k && !p.gone) {
                    sp.gone = true;
                    sp.queue.clear();
                    self.picker.remove_peer(k).expect("ban");
                    self.report.banned += 1;
                }
            }
        }
    }

    fn drain_events(&mut self) {
        while let Some(ev) = self.picker.poll_event() {
            match ev {
                PickerEvent::Cancel { peer, request } => {
                    self.report.cancels += 1;
                    let Some(sp) = self.peers.iter_mut().find(|p| p.key == peer && !p.gone) else {
                        continue;
                    };
                    if sp.ignores_cancel {
                        continue;
                    }
                    if let Some(pos) = sp.queue.iter().position(|(r, _)| *r == request) {
                        sp.queue.remove(pos);
                        if sp.fast {
                            self.picker
                                .on_reject(peer, request)
                                .expect("reject after cancel");
                        }
                    }
                }
                PickerEvent::Snubbed { .. } => self.report.timeouts_snubs += 1,
                PickerEvent::Interest { .. } | PickerEvent::Abandoned { .. } => {}
                _ => {}
            }
        }
    }

    fn accept_request(&mut self, i: usize, r: BlockRequest, tick: u64) {
        let sp = &self.peers[i];
        assert!(
            sp.has[r.piece as usize],
            "peer {} asked for piece {} it lacks",
            sp.key, r.piece
        );
        assert!(
            !sp.choked || sp.allowed_fast.contains(&r.piece),
            "peer {} asked while choking us for piece {}",
            sp.key,
            r.piece
        );
        assert!(!sp.queue.iter().any(|(q, _)| *q == r) || sp.ignores_cancel || sp.drop_every > 0);
        let elsewhere = self.check_duplicates
            && self
                .peers
                .iter()
                .filter(|p| p.key != sp.key && !p.gone)
                .any(|p| self.picker.peer_requests(p.key).any(|q| q == r));
        if elsewhere {
            self.report.duplicates += 1;
            assert!(
                self.picker.in_endgame(),
                "block {r:?} requested twice outside endgame"
            );
        }
        let sp = &mut self.peers[i];
        sp.requests_seen += 1;
        if sp.drop_every > 0 && sp.requests_seen.is_multiple_of(sp.drop_every) {
            return;
        }
        let jitter = self.rng.below(2);
        sp.queue.push_back((r, tick + sp.latency + jitter));
    }
}

#[test]
fn fixed_swarm_completes() {
    let report = Swarm::new(42, 40, 4, 5000, 6).run(20_000);
    eprintln!("fixed swarm: {report:?}");
    assert_eq!(report.verified, 40);
}

#[test]
fn single_seed_single_piece() {
    let report = Swarm::new(1, 1, 1, 100, 1).run(1_000);
    assert_eq!(report.verified, 1);
}

#[test]
fn many_seeds_of_swarms() {
    let mut worst = 0;
    let (mut failed, mut banned, mut dups, mut snubs) = (0, 0, 0, 0);
    for seed in 0..40u64 {
        let mut r = Rng(seed ^ 0xfeed);
        let n = 1 + r.below(80) as u32;
        let bpp = 1 + r.below(8) as u32;
        let last = 1 + r.below(u64::from(bpp * BLOCK_SIZE)) as u32;
        let npeers = 1 + r.below(10) as usize;
        let report = Swarm::new(seed, n, bpp, last, npeers).run(50_000);
        worst = worst.max(report.ticks);
        failed += report.failed;
        banned += report.banned;
        dups += report.duplicates;
        snubs += report.timeouts_snubs;
    }
    eprintln!(
        "40 swarms: worst {worst} ticks, {failed} failed pieces, {banned} bans, {dups} endgame duplicates, {snubs} snubs"
    );
}

/// Throughput of the picker alone: 1 GiB in 1 MiB pieces (65,536 blocks) from 30 fast peers.
/// `cargo test --release --test picker_sim -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark"]
fn large_torrent_throughput() {
    let mut swarm = Swarm::new(7, 1024, 64, 64 * BLOCK_SIZE, 30);
    for sp in &mut swarm.peers {
        sp.rate = 200;
        sp.corrupt = false;
        sp.drop_every = 0;
        sp.leave_at = None;
    }
    swarm.check_every = 1000;
    swarm.check_duplicates = false;
    let start = epoch();
    let report = swarm.run(100_000);
    let elapsed = start.elapsed();
    eprintln!(
        "1 GiB / 1 MiB pieces / 30 peers: {} ticks, {:?} wall, {:.0} blocks/s through the picker, {report:?}",
        report.ticks,
        elapsed,
        65_536.0 / elapsed.as_secs_f64()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn random_swarms_complete(
        seed in any::<u64>(),
        num_pieces in 1u32..64,
        blocks_per_piece in 1u32..9,
        last in 1u32..(8 * BLOCK_SIZE),
        npeers in 1usize..9,
    ) {
        let report = Swarm::new(seed, num_pieces, blocks_per_piece, last, npeers).run(50_000);
        prop_assert_eq!(report.verified, num_pieces);
    }
}
