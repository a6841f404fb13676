//! Unit tests of the choker with a fake clock. Every step checks the invariants and that each
//! event is a real change of what the engine was told.
#![allow(clippy::disallowed_methods)]

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::peer::PeerState;
use super::*;

pub(super) fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn at(secs: u64) -> Instant {
    epoch() + Duration::from_secs(secs)
}

/// A choker plus the engine's view of it (who it was told is unchoked).
struct H {
    c: Choker<u32>,
    now: Instant,
    view: HashSet<u32>,
}

impl H {
    fn new(config: ChokerConfig, seed: u64) -> Self {
        H {
            c: Choker::new(config, seed, epoch()),
            now: epoch(),
            view: HashSet::new(),
        }
    }

    /// Drains the events, applying them to the view; each must be a change.
    fn drain(&mut self) -> Vec<ChokerEvent<u32>> {
        if let Err(e) = self.c.check_invariants() {
            panic!("invariant broken: {e}");
        }
        let events: Vec<_> = std::iter::from_fn(|| self.c.poll_event()).collect();
        for e in &events {
            match *e {
                ChokerEvent::Unchoke(k) => assert!(self.view.insert(k), "repeated unchoke {k}"),
                ChokerEvent::Choke(k) => assert!(self.view.remove(&k), "repeated choke {k}"),
            }
        }
        for &k in &self.view {
            assert!(self.c.is_unchoked(k), "view and choker disagree on {k}");
        }
        assert_eq!(self.view.len(), self.c.unchoked_count());
        events
    }

    /// Adds interested peers at the current time.
    fn add(&mut self, keys: impl IntoIterator<Item = u32>) -> Vec<ChokerEvent<u32>> {
        for k in keys {
            self.c.add_peer(k, self.now).unwrap();
            self.c.set_am_interested(k, true).unwrap();
            self.c.set_peer_interested(k, true, self.now).unwrap();
        }
        self.drain()
    }

    /// Removes a peer; the engine forgets it too.
    fn remove(&mut self, k: u32) {
        self.c.remove_peer(k, self.now).unwrap();
        self.view.remove(&k);
    }

    /// Runs every timeout up to `t`; returns the events of all of them.
    fn advance(&mut self, t: Instant) -> Vec<ChokerEvent<u32>> {
        let mut events = Vec::new();
        while let Some(deadline) = self.c.poll_timeout().filter(|&d| d <= t) {
            self.now = deadline;
            self.c.handle_timeout(deadline);
            events.extend(self.drain());
        }
        self.now = t;
        events
    }

    /// Unchoked peers minus the optimistic one.
    fn regulars(&self) -> HashSet<u32> {
        let opt = self.c.optimistic();
        self.view
            .iter()
            .copied()
            .filter(|&k| Some(k) != opt)
            .collect()
    }
}

fn set(keys: &[u32]) -> HashSet<u32> {
    keys.iter().copied().collect()
}

#[test]
fn new_interested_peer_is_unchoked_at_once_while_a_slot_is_free() {
    let mut h = H::new(ChokerConfig::default(), 1);
    h.advance(at(3));
    assert_eq!(h.add([7]), vec![ChokerEvent::Unchoke(7)]);
    // Four regular + one optimistic, then the sixth waits.
    assert_eq!(h.add([1, 2, 3, 4]).len(), 4);
    assert!(h.add([5]).is_empty());
    assert_eq!(h.view.len(), 5);
    assert!(h.c.optimistic().is_some());
}

#[test]
fn tit_for_tat_picks_the_four_fastest_of_the_last_round() {
    let mut h = H::new(ChokerConfig::default(), 2);
    h.add(0..8);
    assert_eq!(h.regulars(), set(&[0, 1, 2, 3]));
    let opt = h.c.optimistic().unwrap();
    assert!((4..8).contains(&opt));
    // Fastest: the three choked peers and peer 0; the optimistic one sends nothing.
    let mut fast: Vec<u32> = (4..8).filter(|&k| k != opt).collect();
    fast.push(0);
    for (rate, &k) in fast.iter().enumerate() {
        h.c.record_download(k, 100_000 * (rate as u64 + 1)).unwrap();
    }
    for k in [1, 2, 3] {
        h.c.record_download(k, 1_000).unwrap();
    }
    let events = h.advance(at(10));
    assert_eq!(h.regulars(), fast.iter().copied().collect());
    assert_eq!(
        h.c.optimistic(),
        Some(opt),
        "the optimistic slot only moves every 30 s"
    );
    // Chokes are reported before unchokes, so the engine never exceeds the slots.
    let first_unchoke = events
        .iter()
        .position(|e| matches!(e, ChokerEvent::Unchoke(_)));
    let last_choke = events
        .iter()
        .rposition(|e| matches!(e, ChokerEvent::Choke(_)));
    assert!(last_choke < first_unchoke, "{events:?}");
    assert_eq!(events.len(), 6);

    // Only the last round counts: the former leaders go quiet, 1, 2, 3 and 0 send.
    for k in [1, 2, 3, 0] {
        h.c.record_download(k, 5_000).unwrap();
    }
    h.advance(at(20));
    assert_eq!(h.regulars(), set(&[0, 1, 2, 3]));
}

#[test]
fn ties_keep_the_current_holders() {
    let mut h = H::new(ChokerConfig::default(), 3);
    h.add(0..8);
    let before = h.regulars();
    // Nobody sends anything: rechokes change nothing.
    assert!(h.advance(at(29)).is_empty());
    assert_eq!(h.regulars(), before);
}

#[test]
fn prefers_peers_we_want_data_from_on_equal_rates() {
    let mut h = H::new(ChokerConfig::default(), 4);
    h.add(0..4);
    for k in 10..14 {
        h.c.add_peer(k, h.now).unwrap();
        h.c.set_peer_interested(k, true, h.now).unwrap();
    }
    h.drain();
    for k in 0..4 {
        h.c.set_am_interested(k, false).unwrap();
    }
    for k in 10..14 {
        h.c.set_am_interested(k, true).unwrap();
    }
    h.advance(at(10));
    let opt = h.c.optimistic().unwrap();
    let expected: HashSet<u32> = (10..14).filter(|&k| k != opt).collect();
    assert!(expected.is_subset(&h.regulars()), "{:?}", h.regulars());
}

#[test]
fn optimistic_rotates_every_30_seconds() {
    let mut h = H::new(ChokerConfig::default(), 5);
    h.add(0..10);
    let mut holder = h.c.optimistic().unwrap();
    for round in 1..=10u64 {
        let t = 30 * round;
        assert!(
            h.advance(at(t - 1)).is_empty(),
            "no change between rotations"
        );
        let events = h.advance(at(t));
        let next = h.c.optimistic().unwrap();
        assert_ne!(next, holder, "rotation {round} kept the holder");
        // Nobody sends data: the old holder does not beat the regulars, so it is choked.
        assert_eq!(
            events,
            vec![ChokerEvent::Choke(holder), ChokerEvent::Unchoke(next)]
        );
        assert!(!h.regulars().contains(&next));
        holder = next;
    }
}

#[test]
fn optimistic_holder_keeps_unchoked_if_it_earns_a_regular_slot() {
    let mut h = H::new(ChokerConfig::default(), 6);
    h.add(0..8);
    let opt = h.c.optimistic().unwrap();
    h.advance(at(20));
    h.c.record_download(opt, 1_000_000).unwrap();
    h.advance(at(30));
    assert!(h.regulars().contains(&opt));
    assert_ne!(h.c.optimistic(), Some(opt));
    assert_eq!(h.view.len(), 5);
}

/// The optimistic pick at the first rotation after a new peer joined, over many seeds:
/// 3 old candidates plus the new one (the holder is not redrawn).
fn new_peer_share(weight: u32) -> f64 {
    let trials = 2000;
    let config = ChokerConfig {
        regular_slots: Some(0),
        new_peer_weight: weight,
        ..ChokerConfig::default()
    };
    let mut picked = 0;
    for seed in 0..trials {
        let mut h = H::new(config, seed);
        h.add(0..4);
        h.advance(at(300));
        h.add([99]);
        assert_eq!(h.c.optimistic().map(|k| k < 4), Some(true));
        h.advance(at(330));
        if h.c.optimistic() == Some(99) {
            picked += 1;
        }
    }
    f64::from(picked) / trials as f64
}

#[test]
fn optimistic_prefers_new_peers_three_to_one() {
    // Weight 3: 3 / (3 + 1 + 1 + 1) = 0.5; uniform: 1 / 4.
    let weighted = new_peer_share(NEW_PEER_WEIGHT);
    assert!(
        (0.45..0.55).contains(&weighted),
        "new peer share {weighted}"
    );
    let uniform = new_peer_share(1);
    assert!((0.21..0.29).contains(&uniform), "uniform share {uniform}");
}

#[test]
fn peers_are_new_only_for_a_minute() {
    let config = ChokerConfig {
        regular_slots: Some(0),
        ..ChokerConfig::default()
    };
    let trials = 2000;
    let mut picked = 0;
    for seed in 0..trials {
        let mut h = H::new(config, seed);
        h.add(0..4);
        h.advance(at(300));
        h.add([99]);
        // Keep 99 out of the draws until it is old: it is not interested meanwhile.
        h.c.set_peer_interested(99, false, h.now).unwrap();
        h.advance(at(361));
        h.c.set_peer_interested(99, true, h.now).unwrap();
        h.drain();
        h.advance(at(390));
        if h.c.optimistic() == Some(99) {
            picked += 1;
        }
    }
    let share = f64::from(picked) / trials as f64;
    assert!((0.21..0.29).contains(&share), "old peer share {share}");
}

#[test]
fn seeding_round_robin_gives_every_peer_turns() {
    let mut h = H::new(ChokerConfig::default(), 7);
    h.c.set_mode(ChokerMode::Seeding, h.now);
    h.add(0..12);
    let mut regular_secs = [0u32; 12];
    let mut unchoked_secs = [0u32; 12];
    for s in 1..=300 {
        for &k in &h.view {
            // Peer k downloads at (k + 1) * 20 KB/s: the fast ones would keep a fastest-upload
            // seed choker for themselves.
            h.c.record_upload(k, 20_000 * (u64::from(k) + 1)).unwrap();
            if let Some(n) = unchoked_secs.get_mut(k as usize) {
                *n += 1;
            }
        }
        for k in h.regulars() {
            if let Some(n) = regular_secs.get_mut(k as usize) {
                *n += 1;
            }
        }
        h.advance(at(s));
    }
    // 5 slots for 12 peers over 300 s: 125 s each on average.
    for k in 0..12 {
        let (reg, all) = (regular_secs[k], unchoked_secs[k]);
        assert!(
            reg >= 30,
            "peer {k} had {reg} s of regular slot: {regular_secs:?}"
        );
        assert!(
            (60..=200).contains(&all),
            "peer {k} unchoked {all} s: {unchoked_secs:?}"
        );
    }
}

#[test]
fn seeding_round_robin_turn_ends_on_the_byte_quota() {
    let config = ChokerConfig {
        seed_turn_bytes: 1_000_000,
        seed_turn_time: Duration::from_secs(3600),
        ..ChokerConfig::default()
    };
    let mut h = H::new(config, 8);
    h.c.set_mode(ChokerMode::Seeding, h.now);
    h.add(0..6);
    let before = h.regulars();
    let waiting: Vec<u32> = (0..6).filter(|k| !h.view.contains(k)).collect();
    assert_eq!(waiting.len(), 1);
    // One regular peer reaches its quota; the others do not.
    let done = *before.iter().min().unwrap();
    h.c.record_upload(done, 1_000_000).unwrap();
    for &k in before.iter().filter(|&&k| k != done) {
        h.c.record_upload(k, 999_999).unwrap();
    }
    h.advance(at(10));
    assert!(!h.view.contains(&done), "the peer that had its turn waits");
    assert!(
        h.regulars().contains(&waiting[0]),
        "the waiting peer gets the slot"
    );
}

#[test]
fn seeding_fastest_upload_keeps_the_fastest() {
    let config = ChokerConfig {
        seed_choking: SeedChoking::FastestUpload,
        ..ChokerConfig::default()
    };
    let mut h = H::new(config, 9);
    h.c.set_mode(ChokerMode::Seeding, h.now);
    h.add(0..8);
    let opt = h.c.optimistic().unwrap();
    let fastest: Vec<u32> = (0..8).rev().filter(|&k| k != opt).take(4).collect();
    for &k in &fastest {
        h.c.record_upload(k, 1_000_000 + u64::from(k)).unwrap();
    }
    for s in 1..=6 {
        h.advance(at(10 * s));
        let opt = h.c.optimistic();
        let expected: HashSet<u32> = fastest
            .iter()
            .copied()
            .filter(|&k| Some(k) != opt)
            .collect();
        assert!(
            expected.is_subset(&h.regulars()),
            "round {s}: {:?}",
            h.regulars()
        );
        for &k in &fastest {
            h.c.record_upload(k, 1_000_000).unwrap();
        }
    }
}

#[test]
fn uninterested_peers_are_never_unchoked() {
    for config in [ChokerConfig::default(), ChokerConfig::unlimited()] {
        let mut h = H::new(config, 10);
        for k in 0..6 {
            h.c.add_peer(k, h.now).unwrap();
            h.c.set_am_interested(k, true).unwrap();
            h.c.record_download(k, 1_000_000).unwrap();
        }
        assert!(h.drain().is_empty());
        assert!(h.advance(at(120)).is_empty());
        // Interest unchokes, losing it chokes at once.
        h.c.set_peer_interested(3, true, h.now).unwrap();
        assert_eq!(h.drain(), vec![ChokerEvent::Unchoke(3)]);
        h.c.set_peer_interested(3, false, h.now).unwrap();
        assert_eq!(h.drain(), vec![ChokerEvent::Choke(3)]);
        assert!(h.advance(at(240)).is_empty());
    }
}

#[test]
fn seeds_are_never_unchoked() {
    let mut h = H::new(ChokerConfig::default(), 11);
    h.c.add_peer(1, h.now).unwrap();
    h.c.set_peer_seed(1, true, h.now).unwrap();
    h.c.set_peer_interested(1, true, h.now).unwrap();
    assert!(h.drain().is_empty());
    h.add([2]);
    h.c.set_peer_seed(2, true, h.now).unwrap();
    assert_eq!(h.drain(), vec![ChokerEvent::Choke(2)]);
    assert!(h.advance(at(100)).is_empty());
}

#[test]
fn events_only_on_change() {
    let mut h = H::new(ChokerConfig::default(), 12);
    assert_eq!(h.add(0..5).len(), 5);
    // Repeated calls that change nothing report nothing.
    h.c.set_peer_interested(0, true, h.now).unwrap();
    h.c.set_am_interested(0, true).unwrap();
    h.c.set_snubbed(0, false, h.now).unwrap();
    assert!(h.drain().is_empty());
    // Five peers, five slots: rechokes and rotations change nothing.
    for k in 0..5 {
        h.c.record_download(k, 10_000 * u64::from(k)).unwrap();
    }
    assert!(h.advance(at(300)).is_empty());
    // Interest gained and lost before the engine drains: nothing to send.
    h.c.add_peer(9, h.now).unwrap();
    h.remove(0);
    h.c.set_peer_interested(9, true, h.now).unwrap();
    h.c.set_peer_interested(9, false, h.now).unwrap();
    assert!(
        h.drain().is_empty(),
        "removal of 0 gave 9 a slot, then 9 lost it"
    );
}

#[test]
fn removal_frees_the_slot_at_once() {
    let mut h = H::new(ChokerConfig::default(), 13);
    h.add(0..7);
    let waiting: Vec<u32> = (0..7).filter(|k| !h.view.contains(k)).collect();
    assert_eq!(waiting.len(), 2);
    let regular = *h.regulars().iter().next().unwrap();
    h.remove(regular);
    let events = h.drain();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(matches!(events[0], ChokerEvent::Unchoke(k) if waiting.contains(&k)));
    // The optimistic holder leaves: the last waiting peer takes its slot.
    let opt = h.c.optimistic().unwrap();
    h.remove(opt);
    let last = waiting
        .iter()
        .copied()
        .find(|k| !h.view.contains(k))
        .unwrap();
    assert_eq!(h.drain(), vec![ChokerEvent::Unchoke(last)]);
    assert_eq!(h.c.optimistic(), Some(last));
    assert_eq!(h.c.len(), 5);
    // Unknown and duplicate keys are errors.
    assert_eq!(h.c.remove_peer(opt, h.now), Err(ChokerError::UnknownPeer));
    assert_eq!(h.c.add_peer(last, h.now), Err(ChokerError::DuplicatePeer));
    assert_eq!(h.c.record_upload(1000, 1), Err(ChokerError::UnknownPeer));
}

#[test]
fn snubbed_peers_get_no_regular_slot_while_downloading() {
    let mut h = H::new(ChokerConfig::default(), 14);
    h.add(0..5);
    let opt = h.c.optimistic().unwrap();
    let snubbed = *h.regulars().iter().next().unwrap();
    h.c.record_download(snubbed, 10_000_000).unwrap();
    h.c.set_snubbed(snubbed, true, h.now).unwrap();
    h.advance(at(10));
    assert!(
        !h.view.contains(&snubbed),
        "a snubbed peer loses its regular slot"
    );
    assert_eq!(h.c.optimistic(), Some(opt));
    // Seeding, snubbing does not matter.
    h.c.set_mode(ChokerMode::Seeding, h.now);
    assert_eq!(h.drain(), vec![ChokerEvent::Unchoke(snubbed)]);
    // Back to downloading and unsnubbed: it may have its slot again.
    h.c.set_mode(ChokerMode::Downloading, h.now);
    assert_eq!(h.drain(), vec![ChokerEvent::Choke(snubbed)]);
    h.c.set_snubbed(snubbed, false, h.now).unwrap();
    assert_eq!(h.drain(), vec![ChokerEvent::Unchoke(snubbed)]);
}

#[test]
fn unlimited_unchokes_every_interested_peer_without_a_timer() {
    let mut h = H::new(ChokerConfig::unlimited(), 15);
    assert_eq!(h.add(0..40).len(), 40);
    assert_eq!(h.c.poll_timeout(), None);
    assert_eq!(h.c.optimistic(), None);
    h.c.set_peer_interested(5, false, h.now).unwrap();
    assert_eq!(h.drain(), vec![ChokerEvent::Choke(5)]);
    h.c.handle_timeout(at(1000));
    assert!(h.drain().is_empty());
}

#[test]
fn changing_the_slot_count_rechokes_at_once() {
    let mut h = H::new(ChokerConfig::unlimited(), 18);
    h.add(0..10);
    assert_eq!(h.view.len(), 10);
    h.now = at(100);
    h.c.set_regular_slots(Some(2), h.now);
    let events = h.drain();
    assert_eq!(events.len(), 7, "{events:?}");
    assert!(events.iter().all(|e| matches!(e, ChokerEvent::Choke(_))));
    assert_eq!(h.view.len(), 3);
    assert_eq!(h.c.poll_timeout(), Some(at(110)));
    h.c.set_regular_slots(Some(4), h.now);
    assert_eq!(h.drain().len(), 2);
    h.c.set_regular_slots(None, h.now);
    assert_eq!(h.drain().len(), 5);
    assert_eq!(h.c.optimistic(), None);
}

#[test]
fn timer_rhythm_is_10_and_30_seconds() {
    let mut h = H::new(ChokerConfig::default(), 16);
    h.add(0..10);
    assert_eq!(h.c.poll_timeout(), Some(at(10)));
    // An early call does nothing.
    h.c.handle_timeout(at(9));
    assert_eq!(h.c.poll_timeout(), Some(at(10)));
    let opt = h.c.optimistic();
    h.advance(at(10));
    assert_eq!(h.c.poll_timeout(), Some(at(20)));
    h.advance(at(20));
    assert_eq!(h.c.optimistic(), opt);
    assert_eq!(h.c.poll_timeout(), Some(at(30)));
    h.advance(at(30));
    assert_ne!(h.c.optimistic(), opt);
    // A driver late by minutes gets one round, not a burst.
    h.now = at(500);
    h.c.handle_timeout(h.now);
    h.drain();
    assert_eq!(h.c.poll_timeout(), Some(at(510)));
}

#[test]
fn memory_is_bounded_per_peer() {
    assert!(std::mem::size_of::<PeerState<u64>>() <= 128);
    let mut h = H::new(ChokerConfig::default(), 17);
    for round in 0..2_000u32 {
        let k = round % 50;
        if h.c.is_unchoked(k) || h.c.len() >= 40 {
            let _ = h.c.remove_peer(k, h.now);
            h.view.remove(&k);
        }
        if h.c.add_peer(k, h.now).is_ok() {
            h.c.set_peer_interested(k, round % 3 != 0, h.now).unwrap();
        }
        h.c.record_download(k, u64::from(round)).unwrap();
        h.drain();
        if round % 100 == 0 {
            h.advance(h.now + Duration::from_secs(10));
        }
    }
    assert!(h.c.peers.len() <= 50, "slab grew to {}", h.c.peers.len());
    assert!(h.c.events.capacity() <= 64);
}
