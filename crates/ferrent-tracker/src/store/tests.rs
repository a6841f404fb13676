use super::*;
use rand::SeedableRng;

fn h(n: u8) -> Id20 {
    Id20([n; 20])
}

fn ann(ih: u8, addr: &str, left: u64, event: Event) -> Announce {
    Announce {
        info_hash: h(ih),
        addr: addr.parse().unwrap(),
        event,
        left,
        numwant: None,
    }
}

fn store() -> (SwarmStore, Instant) {
    let t0 = Instant::now();
    let cfg = StoreConfig {
        peer_timeout: Duration::from_secs(20),
        ..StoreConfig::default()
    };
    (SwarmStore::new(cfg, t0, 1), t0)
}

#[test]
fn peers_find_each_other_but_not_themselves() {
    let (mut s, t0) = store();
    let r = s
        .announce(
            t0,
            &ann(1, "10.0.0.1:1000", 0, Event::Started),
            Families::Both,
        )
        .unwrap();
    assert!(r.peers.is_empty());
    assert_eq!((r.complete, r.incomplete), (1, 0));
    let r = s
        .announce(
            t0,
            &ann(1, "10.0.0.2:2000", 5, Event::Started),
            Families::Both,
        )
        .unwrap();
    assert_eq!(r.peers, ["10.0.0.1:1000".parse().unwrap()]);
    assert_eq!((r.complete, r.incomplete), (1, 1));
    let r = s
        .announce(t0, &ann(1, "10.0.0.1:1000", 0, Event::None), Families::Both)
        .unwrap();
    assert_eq!(r.peers, ["10.0.0.2:2000".parse::<SocketAddr>().unwrap()]);
    // Another swarm is separate.
    let r = s
        .announce(t0, &ann(2, "10.0.0.3:1", 5, Event::Started), Families::Both)
        .unwrap();
    assert!(r.peers.is_empty());
}

#[test]
fn families_are_kept_apart_and_mapped_v4_is_v4() {
    let (mut s, t0) = store();
    s.announce(
        t0,
        &ann(1, "[::ffff:10.0.0.1]:1", 0, Event::None),
        Families::Both,
    )
    .unwrap();
    s.announce(
        t0,
        &ann(1, "[2001:db8::1]:2", 0, Event::None),
        Families::Both,
    )
    .unwrap();
    let r = s
        .announce(t0, &ann(1, "10.0.0.9:3", 5, Event::None), Families::V4)
        .unwrap();
    assert_eq!(r.peers, ["10.0.0.1:1".parse().unwrap()]);
    let r = s
        .announce(t0, &ann(1, "10.0.0.9:3", 5, Event::None), Families::V6)
        .unwrap();
    assert_eq!(r.peers, ["[2001:db8::1]:2".parse().unwrap()]);
    let r = s
        .announce(t0, &ann(1, "10.0.0.9:3", 5, Event::None), Families::Both)
        .unwrap();
    assert_eq!(r.peers.len(), 2);
    assert_eq!((r.complete, r.incomplete), (2, 1));
}

#[test]
fn stopped_removes_and_completed_counts_once() {
    let (mut s, t0) = store();
    s.announce(
        t0,
        &ann(1, "10.0.0.1:1", 10, Event::Started),
        Families::Both,
    )
    .unwrap();
    s.announce(
        t0,
        &ann(1, "10.0.0.1:1", 0, Event::Completed),
        Families::Both,
    )
    .unwrap();
    s.announce(
        t0,
        &ann(1, "10.0.0.1:1", 0, Event::Completed),
        Families::Both,
    )
    .unwrap();
    assert_eq!(
        s.scrape(&h(1)),
        Some(ScrapeStats {
            complete: 1,
            downloaded: 1,
            incomplete: 0
        })
    );
    let r = s
        .announce(t0, &ann(1, "10.0.0.1:1", 0, Event::Stopped), Families::Both)
        .unwrap();
    assert!(r.peers.is_empty());
    assert_eq!(s.scrape(&h(1)).map(|x| x.complete), Some(0));
    assert_eq!(s.counts().peers, 0);
    // Stopping an unknown peer of an unknown swarm creates nothing.
    s.announce(t0, &ann(9, "10.0.0.1:1", 0, Event::Stopped), Families::Both)
        .unwrap();
    assert_eq!(s.scrape(&h(9)), None);
}

#[test]
fn numwant_is_capped_and_sample_is_random_without_duplicates() {
    let (mut s, t0) = store();
    for i in 0..500u32 {
        let addr = SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 1000));
        s.announce(
            t0,
            &Announce {
                info_hash: h(1),
                addr,
                event: Event::None,
                left: 1,
                numwant: Some(0),
            },
            Families::Both,
        )
        .unwrap();
    }
    let me: SocketAddr = "10.0.0.7:1000".parse().unwrap();
    let big = Announce {
        info_hash: h(1),
        addr: me,
        event: Event::None,
        left: 1,
        numwant: Some(u32::MAX),
    };
    let r1 = s.announce(t0, &big, Families::Both).unwrap();
    assert_eq!(r1.peers.len(), crate::limits::MAX_NUMWANT as usize);
    let mut uniq = r1.peers.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), r1.peers.len());
    assert!(!r1.peers.contains(&me));
    let r2 = s.announce(t0, &big, Families::Both).unwrap();
    assert_ne!(
        r1.peers, r2.peers,
        "two samples of 200 out of 499 should differ"
    );
    let small = Announce {
        numwant: Some(3),
        ..big
    };
    assert_eq!(
        s.announce(t0, &small, Families::Both).unwrap().peers.len(),
        3
    );
    let dflt = Announce {
        numwant: None,
        ..big
    };
    assert_eq!(
        s.announce(t0, &dflt, Families::Both).unwrap().peers.len(),
        50
    );
}

#[test]
fn peers_expire_after_the_timeout_with_a_fake_clock() {
    let (mut s, t0) = store();
    s.announce(t0, &ann(1, "10.0.0.1:1", 0, Event::None), Families::Both)
        .unwrap();
    s.announce(
        t0 + Duration::from_secs(15),
        &ann(1, "10.0.0.2:1", 0, Event::None),
        Families::Both,
    )
    .unwrap();
    assert_eq!(s.expire(t0 + Duration::from_secs(20)), 0);
    assert_eq!(s.expire(t0 + Duration::from_secs(21)), 1);
    assert_eq!(
        s.counts(),
        StoreCounts {
            swarms: 1,
            peers: 1,
            seeds: 1
        }
    );
    // A re-announce refreshes.
    s.announce(
        t0 + Duration::from_secs(30),
        &ann(1, "10.0.0.2:1", 0, Event::None),
        Families::Both,
    )
    .unwrap();
    assert_eq!(s.expire(t0 + Duration::from_secs(45)), 0);
    assert_eq!(s.expire(t0 + Duration::from_secs(51)), 1);
    assert_eq!(s.counts(), StoreCounts::default());
}

#[test]
fn caps_bound_swarms_and_peers() {
    let t0 = Instant::now();
    let cfg = StoreConfig {
        max_swarms: 2,
        max_peers_per_swarm: 3,
        max_peers_total: 4,
        ..StoreConfig::default()
    };
    let mut s = SwarmStore::new(cfg, t0, 1);
    for i in 1..=5u8 {
        let r = s
            .announce(
                t0,
                &ann(1, &format!("10.0.0.{i}:1"), 1, Event::None),
                Families::Both,
            )
            .unwrap();
        assert!(r.peers.len() <= 3);
    }
    assert_eq!(s.counts().peers, 3);
    s.announce(t0, &ann(2, "10.0.0.1:1", 1, Event::None), Families::Both)
        .unwrap();
    assert_eq!(
        s.announce(t0, &ann(3, "10.0.0.1:1", 1, Event::None), Families::Both),
        Err(Refusal::TooManySwarms)
    );
    s.announce(t0, &ann(2, "10.0.0.2:1", 1, Event::None), Families::Both)
        .unwrap();
    assert_eq!(s.counts().peers, 4, "total cap");
    assert_eq!(
        s.announce(t0, &ann(2, "10.0.0.2:0", 1, Event::None), Families::Both),
        Err(Refusal::InvalidPort)
    );
}

#[test]
fn snapshot_restores_swarms() {
    let (mut s, t0) = store();
    s.announce(
        t0,
        &ann(1, "10.0.0.1:1", 0, Event::Completed),
        Families::Both,
    )
    .unwrap();
    s.announce(t0, &ann(1, "[::1]:2", 5, Event::None), Families::Both)
        .unwrap();
    let snap = s.snapshot();
    let (mut s2, t1) = store();
    s2.restore(t1, snap);
    assert_eq!(s2.scrape(&h(1)), s.scrape(&h(1)));
    assert_eq!(s2.counts(), s.counts());
}

/// The store against a plain model (a map of maps), under random announces, stops, completions
/// and expiry over many swarms of both families: enough peers that ranges move, grow in place
/// and the pools compact, and the counters, scrapes and snapshots must still match.
#[test]
fn random_traffic_matches_a_simple_model() {
    use rand::Rng;
    use std::collections::BTreeMap;

    #[derive(Default)]
    struct ModelSwarm {
        /// Peer -> (seed, last announce in whole seconds).
        peers: BTreeMap<SocketAddr, (bool, u64)>,
        downloaded: u32,
    }
    let (mut s, t0) = store();
    let timeout = 20;
    let mut model: HashMap<Id20, ModelSwarm> = HashMap::new();
    let mut rng = SmallRng::seed_from_u64(5);
    let mut secs = 0u64;
    for step in 0..60_000u32 {
        if step % 2_000 == 1_999 {
            secs += rng.random_range(1..15);
            let now = t0 + Duration::from_secs(secs);
            s.expire(now);
            model.retain(|_, m| {
                m.peers.retain(|_, (_, last)| secs - *last <= timeout);
                !m.peers.is_empty()
            });
        }
        // A few big swarms and many small ones.
        let sw = if rng.random_bool(0.5) {
            rng.random_range(0..4u8)
        } else {
            rng.random_range(4..60u8)
        };
        let n: u16 = rng.random_range(0..if sw < 4 { 3_000 } else { 40 });
        let addr: SocketAddr = if n.is_multiple_of(5) {
            SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, u16::from(sw), n], 6881))
        } else {
            SocketAddr::from(([10, sw, (n >> 8) as u8, n as u8], 6881))
        };
        let event = match rng.random_range(0..10) {
            0 => Event::Stopped,
            1 => Event::Completed,
            _ => Event::None,
        };
        let left = if rng.random_bool(0.3) { 0 } else { 1 };
        let now = t0 + Duration::from_secs(secs);
        let a = Announce {
            info_hash: h(sw),
            addr,
            event,
            left,
            numwant: Some(5),
        };
        let r = s.announce(now, &a, Families::Both).unwrap();
        if event == Event::Stopped {
            if let Some(m) = model.get_mut(&h(sw)) {
                m.peers.remove(&addr);
            }
        } else {
            let m = model.entry(h(sw)).or_default();
            let was_seed = m
                .peers
                .insert(addr, (left == 0, secs))
                .map(|(seed, _)| seed);
            if event == Event::Completed && left == 0 && was_seed != Some(true) {
                m.downloaded += 1;
            }
            assert!(r.peers.len() <= 10 && !r.peers.contains(&addr));
        }
    }
    let seeds = |m: &ModelSwarm| m.peers.values().filter(|(seed, _)| *seed).count();
    assert_eq!(
        s.counts(),
        StoreCounts {
            swarms: model.len(),
            peers: model.values().map(|m| m.peers.len()).sum(),
            seeds: model.values().map(seeds).sum(),
        }
    );
    for (ih, m) in &model {
        assert_eq!(
            s.scrape(ih),
            Some(ScrapeStats {
                complete: seeds(m) as u32,
                downloaded: m.downloaded,
                incomplete: (m.peers.len() - seeds(m)) as u32,
            })
        );
    }
    let mut snap = s.snapshot();
    snap.sort_by_key(|x| x.info_hash);
    assert_eq!(snap.len(), model.len());
    for x in &mut snap {
        x.peers.sort();
        let m = &model[&x.info_hash];
        let want: Vec<(SocketAddr, bool)> = m.peers.iter().map(|(a, (s, _))| (*a, *s)).collect();
        let mut want = want;
        want.sort();
        assert_eq!(x.peers, want);
    }
    // Everything expires in the end, and the store holds nothing.
    s.expire(t0 + Duration::from_secs(secs + timeout + 1));
    assert_eq!(s.counts(), StoreCounts::default());
}

/// A flood of distinct peers and info-hashes hits the caps, and the pools stay within their
/// bounded overhead of the peers stored; once the flood expires, the memory is given back.
#[test]
fn a_flood_of_distinct_peers_and_swarms_is_bounded_by_the_caps() {
    use rand::Rng;
    let t0 = Instant::now();
    let cfg = StoreConfig {
        peer_timeout: Duration::from_secs(20),
        max_swarms: 300,
        max_peers_per_swarm: 400,
        max_peers_total: 20_000,
        ..StoreConfig::default()
    };
    let mut s = SwarmStore::new(cfg, t0, 1);
    let mut rng = SmallRng::seed_from_u64(11);
    let mut refused = 0;
    for i in 0..200_000u32 {
        let mut ih = [0u8; 20];
        ih[..4].copy_from_slice(&rng.random_range(0..1_000u32).to_be_bytes());
        let a = Announce {
            info_hash: Id20(ih),
            addr: SocketAddr::from((i.to_be_bytes(), 6881)),
            event: Event::Started,
            left: 1,
            numwant: Some(50),
        };
        match s.announce(t0, &a, Families::V4) {
            Ok(r) => assert!(r.peers.len() <= 50),
            Err(Refusal::TooManySwarms) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    let c = s.counts();
    assert!(refused > 0);
    assert_eq!(c.swarms, 300);
    assert_eq!(c.peers, 20_000);
    // Spare room (a 16th and 2 per range), dead slots (a 32nd and the slack) and nothing else.
    let bound = c.peers + c.peers / 16 + 2 * c.swarms;
    assert!(s.v4.owned() <= bound, "{} > {bound}", s.v4.owned());
    assert!(s.v4.owned() + s.v4.dead() <= bound + bound / 32 + 64 + 420);
    assert!(s.v4.capacity() <= 2 * (bound + bound / 32 + 64 + 420));
    assert_eq!(s.expire(t0 + Duration::from_secs(21)), 20_000);
    assert_eq!(s.counts(), StoreCounts::default());
    assert_eq!((s.v4.owned(), s.v4.dead()), (0, 0));
    assert!(s.v4.capacity() <= 128 * 1024 / 8);
}
