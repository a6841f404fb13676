use super::*;
use rand::SeedableRng;

fn v4(i: u32) -> [u8; 6] {
    let [a, b, c, d] = i.to_be_bytes();
    [a, b, c, d, 0, 1]
}

/// Upserts into `ranges[i]` as the store does: growing the range in place when asked.
fn put(pool: &mut Pool<[u8; 6]>, ranges: &mut [Range], i: usize, a: u32, cap: usize) -> Upsert {
    match pool.upsert(&mut ranges[i], v4(a), false, 0, cap) {
        Upsert::Crowded => {
            let r = ranges[i];
            pool.grow_in_place(&r, ranges.iter_mut());
            pool.upsert(&mut ranges[i], v4(a), false, 0, cap)
        }
        up => up,
    }
}

/// Every range's peers in order, and the pool's accounting adds up.
fn check(pool: &Pool<[u8; 6]>, ranges: &[Range]) {
    let owned: usize = ranges.iter().map(|r| r.cap as usize).sum();
    assert_eq!(owned, pool.owned(), "owned slots");
    let mut spans: Vec<(usize, usize)> = ranges
        .iter()
        .filter(|r| r.cap > 0)
        .map(|r| (r.start as usize, (r.start + r.cap) as usize))
        .collect();
    spans.sort_unstable();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "ranges overlap: {w:?}");
    }
    for r in ranges {
        assert!(r.len <= r.cap);
        let p = pool.peers(r);
        assert_eq!(p.len(), r.len());
        assert!(p.windows(2).all(|w| w[0].addr < w[1].addr), "sorted");
    }
}

#[test]
fn a_peer_is_eight_bytes_and_a_range_twelve() {
    assert_eq!(std::mem::size_of::<Peer<[u8; 6]>>(), 8);
    assert_eq!(std::mem::size_of::<Peer<[u8; 18]>>(), 20);
    assert_eq!(std::mem::size_of::<Range>(), 12);
}

#[test]
fn sorted_insert_find_remove_and_wrapping_expiry() {
    let mut pool = Pool::<[u8; 6]>::default();
    let mut r = Range::default();
    for i in [5u8, 1, 9, 3] {
        assert!(matches!(
            pool.upsert(&mut r, [i, 0, 0, 0, 0, 1], i == 9, 32_760, 10),
            Upsert::Inserted
        ));
    }
    let addrs: Vec<u8> = pool.peers(&r).iter().map(|x| x.addr[0]).collect();
    assert_eq!(addrs, [1, 3, 5, 9]);
    assert!(matches!(
        pool.upsert(&mut r, [9, 0, 0, 0, 0, 1], false, 5, 10),
        Upsert::Updated { was_seed: true }
    ));
    assert_eq!(pool.find(&r, &[5, 0, 0, 0, 0, 1]), Ok(2));
    assert_eq!(pool.remove(&mut r, &[3, 0, 0, 0, 0, 1]), Some(false));
    assert_eq!(pool.remove(&mut r, &[3, 0, 0, 0, 0, 1]), None);
    // The clock wrapped from 32,760 to 5: peer 9 (tick 5) is fresh, 1 and 5 are 13 old.
    assert_eq!(pool.expire(&mut r, 5, 13), (0, 0));
    assert_eq!(pool.expire(&mut r, 6, 13), (2, 0));
    assert_eq!(r.len(), 1);
    check(&pool, &[r]);
    // The last peer expires: the range owns nothing any more.
    assert_eq!(pool.expire(&mut r, 5_000, 13), (1, 0));
    assert_eq!(r, Range::default());
    assert_eq!(pool.owned(), 0);
}

#[test]
fn a_full_swarm_refuses_new_peers_but_refreshes_old_ones() {
    let mut pool = Pool::<[u8; 6]>::default();
    let mut r = Range::default();
    for i in 0..3 {
        assert!(matches!(
            pool.upsert(&mut r, v4(i), false, 0, 3),
            Upsert::Inserted
        ));
    }
    assert!(matches!(
        pool.upsert(&mut r, v4(7), false, 0, 3),
        Upsert::Full
    ));
    assert!(matches!(
        pool.upsert(&mut r, v4(1), true, 0, 3),
        Upsert::Updated { was_seed: false }
    ));
    assert_eq!(r.len(), 3);
}

#[test]
fn interleaved_growth_and_compaction_keep_every_swarm_intact() {
    let mut pool = Pool::<[u8; 6]>::default();
    let mut ranges = vec![Range::default(); 50];
    let mut rng = SmallRng::seed_from_u64(9);
    let mut expect: Vec<Vec<u32>> = vec![Vec::new(); 50];
    for n in 0..20_000u32 {
        let s = rng.random_range(0..50usize);
        let a = rng.random_range(0..1_000_000u32);
        match put(&mut pool, &mut ranges, s, a, usize::MAX) {
            Upsert::Inserted => expect[s].push(a),
            Upsert::Updated { .. } => {}
            Upsert::Full | Upsert::Crowded => panic!("no cap"),
        }
        if n % 7 == 0 {
            let gone = expect[s].pop().unwrap();
            assert_eq!(pool.remove(&mut ranges[s], &v4(gone)), Some(false));
        }
        if pool.wants_compaction() {
            pool.compact(ranges.iter_mut());
            assert_eq!(pool.dead(), 0);
        }
    }
    check(&pool, &ranges);
    for (r, e) in ranges.iter().zip(&mut expect) {
        e.sort_unstable();
        let got: Vec<[u8; 6]> = pool.peers(r).iter().map(|p| p.addr).collect();
        let want: Vec<[u8; 6]> = e.iter().map(|&a| v4(a)).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn a_flood_of_distinct_peers_stays_within_a_bounded_overhead() {
    // 1,000 swarms filled one peer each in turn (the worst order for moving ranges), as
    // a flood of distinct peers would: the pool never holds much more than the peers.
    let mut pool = Pool::<[u8; 6]>::default();
    let mut ranges = vec![Range::default(); 1000];
    let mut most = 0;
    for p in 0..100u32 {
        for i in 0..ranges.len() {
            put(&mut pool, &mut ranges, i, p, usize::MAX);
        }
        if pool.wants_compaction() {
            pool.compact(ranges.iter_mut());
        }
        most = most.max(pool.slots.len());
    }
    check(&pool, &ranges);
    let live = 100 * 1000;
    // Spare room (a sixteenth and two at most), plus dead slots (a 32nd and the slack,
    // and one range moving).
    assert!(
        pool.owned() <= live + live / 16 + 2 * 1000,
        "{}",
        pool.owned()
    );
    assert!(most <= pool.owned() + pool.owned() / DEAD_SHARE + DEAD_SLACK + 110);
    // With a cap, the flood stops at the cap.
    let mut r = Range::default();
    for a in 0..10_000 {
        pool.upsert(&mut r, v4(a), false, 0, 500);
    }
    assert_eq!(r.len(), 500);
}

#[test]
fn expiry_gives_back_spare_room_and_compaction_the_memory() {
    let mut pool = Pool::<[u8; 6]>::default();
    let mut ranges = vec![Range::default(); 10];
    for i in 0..10 {
        for a in 0..10_000 {
            put(&mut pool, &mut ranges, i, a, usize::MAX);
        }
        // Old peers at tick 0, one fresh peer at tick 100.
        pool.upsert(&mut ranges[i], v4(0), false, 100, usize::MAX);
    }
    pool.compact(ranges.iter_mut());
    let big = pool.capacity();
    assert!(big >= 100_000);
    for r in ranges.iter_mut() {
        assert_eq!(pool.expire(r, 100, 50), (9_999, 0));
        assert_eq!(r.len(), 1);
        assert!(r.cap <= 3, "spare room given back: {}", r.cap);
    }
    assert!(pool.wants_compaction());
    pool.compact(ranges.iter_mut());
    check(&pool, &ranges);
    assert_eq!(pool.dead(), 0);
    assert!(pool.capacity() < big / 4, "{} of {big}", pool.capacity());
    for r in &ranges {
        assert_eq!(
            pool.peers(r).iter().map(|p| p.addr).collect::<Vec<_>>(),
            [v4(0)]
        );
    }
}

#[test]
fn a_large_range_grows_in_place_and_moves_the_ranges_after_it() {
    let mut pool = Pool::<[u8; 6]>::default();
    let mut ranges = vec![Range::default(); 2];
    for a in 0..100 {
        put(&mut pool, &mut ranges, 0, a, usize::MAX);
    }
    put(&mut pool, &mut ranges, 1, 7, usize::MAX);
    // Fill swarm 0 up to its room: it is now neither last nor small.
    let mut a = 100;
    while ranges[0].len < ranges[0].cap {
        put(&mut pool, &mut ranges, 0, a, usize::MAX);
        a += 1;
    }
    let (before, dead) = (ranges.clone(), pool.dead());
    assert!(matches!(
        pool.upsert(&mut ranges[0], v4(a), false, 0, usize::MAX),
        Upsert::Crowded
    ));
    let r = ranges[0];
    pool.grow_in_place(&r, ranges.iter_mut());
    let extra = ranges[0].cap - before[0].cap;
    assert!(extra > 0);
    assert_eq!(ranges[0].start, before[0].start);
    assert_eq!(ranges[1].start, before[1].start + extra);
    assert_eq!(pool.dead(), dead, "growing in place leaves nothing dead");
    assert!(matches!(
        pool.upsert(&mut ranges[0], v4(a), false, 0, usize::MAX),
        Upsert::Inserted
    ));
    check(&pool, &ranges);
    let got: Vec<[u8; 6]> = pool.peers(&ranges[0]).iter().map(|p| p.addr).collect();
    assert_eq!(got, (0..=a).map(v4).collect::<Vec<_>>());
    assert_eq!(
        pool.peers(&ranges[1])
            .iter()
            .map(|p| p.addr)
            .collect::<Vec<_>>(),
        [v4(7)]
    );
}

#[test]
fn sample_excludes_me_without_repeats() {
    let mut rng = SmallRng::seed_from_u64(3);
    let mut pool = Pool::<[u8; 6]>::default();
    let mut r = Range::default();
    for i in 0..100u8 {
        pool.upsert(&mut r, [10, 0, 0, i, 0, 1], false, 0, 1000);
    }
    for k in [0, 1, 50, 98, 99, 100, 200] {
        let mut out = Vec::new();
        pool.sample(&r, Some(7), k, &mut rng, &mut out);
        let mut got: Vec<u8> = out.chunks(6).map(|c| c[3]).collect();
        assert_eq!(got.len(), k.min(99), "k = {k}");
        assert!(!got.contains(&7));
        got.sort_unstable();
        got.dedup();
        assert_eq!(got.len(), k.min(99));
    }
}
