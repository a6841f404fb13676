//! Property test: random sequences of engine calls never break the invariants, never unchoke
//! more than `slots + 1` peers, never unchoke an uninterested peer or a seed, and every event is
//! a change of what the engine was told.
#![allow(clippy::disallowed_methods)]

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use proptest::prelude::*;

use super::tests::epoch;
use super::*;

#[derive(Clone, Debug)]
enum Op {
    Add(u8),
    Remove(u8),
    Interested(u8, bool),
    AmInterested(u8, bool),
    Seed(u8, bool),
    Snubbed(u8, bool),
    Download(u8, u32),
    Upload(u8, u32),
    Mode(bool),
    Slots(Option<u32>),
    /// Advance the clock by this many hundreds of milliseconds, running due timeouts.
    Wait(u16),
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..16;
    prop_oneof![
        3 => key.clone().prop_map(Op::Add),
        1 => key.clone().prop_map(Op::Remove),
        4 => (key.clone(), any::<bool>()).prop_map(|(k, b)| Op::Interested(k, b)),
        1 => (key.clone(), any::<bool>()).prop_map(|(k, b)| Op::AmInterested(k, b)),
        1 => (key.clone(), any::<bool>()).prop_map(|(k, b)| Op::Seed(k, b)),
        1 => (key.clone(), any::<bool>()).prop_map(|(k, b)| Op::Snubbed(k, b)),
        3 => (key.clone(), 0u32..1_000_000).prop_map(|(k, n)| Op::Download(k, n)),
        3 => (key, 0u32..1_000_000).prop_map(|(k, n)| Op::Upload(k, n)),
        1 => any::<bool>().prop_map(Op::Mode),
        1 => slots().prop_map(Op::Slots),
        3 => (0u16..400).prop_map(Op::Wait),
    ]
}

fn slots() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![Just(None), (0u32..6).prop_map(Some)]
}

#[derive(Default)]
struct Shadow {
    interested: bool,
    seed: bool,
}

fn run(slots: Option<u32>, seed_choking: SeedChoking, ops: &[Op]) -> Result<(), TestCaseError> {
    let config = ChokerConfig {
        regular_slots: slots,
        seed_choking,
        ..ChokerConfig::default()
    };
    let mut now = epoch();
    let mut c: Choker<u8> = Choker::new(config, 99, now);
    let mut slots = slots;
    let mut peers: HashMap<u8, Shadow> = HashMap::new();
    let mut view: HashSet<u8> = HashSet::new();
    for op in ops {
        match *op {
            Op::Add(k) => {
                let r = c.add_peer(k, now);
                prop_assert_eq!(r.is_ok(), !peers.contains_key(&k));
                peers.entry(k).or_default();
            }
            Op::Remove(k) => {
                let r = c.remove_peer(k, now);
                prop_assert_eq!(r.is_ok(), peers.remove(&k).is_some());
                view.remove(&k);
            }
            Op::Interested(k, b) => {
                let r = c.set_peer_interested(k, b, now);
                if let Some(p) = peers.get_mut(&k) {
                    p.interested = b;
                } else {
                    prop_assert_eq!(r, Err(ChokerError::UnknownPeer));
                }
            }
            Op::Seed(k, b) => {
                if c.set_peer_seed(k, b, now).is_ok()
                    && let Some(p) = peers.get_mut(&k)
                {
                    p.seed = b;
                }
            }
            Op::AmInterested(k, b) => {
                let _ = c.set_am_interested(k, b);
            }
            Op::Snubbed(k, b) => {
                let _ = c.set_snubbed(k, b, now);
            }
            Op::Download(k, n) => {
                let _ = c.record_download(k, u64::from(n));
            }
            Op::Upload(k, n) => {
                let _ = c.record_upload(k, u64::from(n));
            }
            Op::Mode(seeding) => {
                let mode = if seeding {
                    ChokerMode::Seeding
                } else {
                    ChokerMode::Downloading
                };
                c.set_mode(mode, now);
            }
            Op::Slots(s) => {
                c.set_regular_slots(s, now);
                slots = s;
            }
            Op::Wait(n) => {
                now += Duration::from_millis(100 * u64::from(n));
                if let Some(deadline) = c.poll_timeout() {
                    prop_assert!(deadline > now - Duration::from_millis(100 * u64::from(n)));
                    if deadline <= now {
                        c.handle_timeout(now);
                    }
                }
            }
        }
        if let Err(e) = c.check_invariants() {
            return Err(TestCaseError::fail(format!("after {op:?}: {e}")));
        }
        while let Some(e) = c.poll_event() {
            match e {
                ChokerEvent::Unchoke(k) => prop_assert!(view.insert(k), "unchoke twice {k}"),
                ChokerEvent::Choke(k) => prop_assert!(view.remove(&k), "choke twice {k}"),
            }
        }
        if let Some(s) = slots {
            prop_assert!(view.len() <= s as usize + 1, "{} unchoked", view.len());
        }
        for k in &view {
            let p = peers.get(k);
            prop_assert!(p.is_some_and(|p| p.interested && !p.seed), "{k} unchoked");
            prop_assert!(c.is_unchoked(*k));
        }
        prop_assert_eq!(view.len(), c.unchoked_count());
        if slots.is_none() {
            let eligible = peers.values().filter(|p| p.interested && !p.seed).count();
            prop_assert_eq!(view.len(), eligible);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_calls_keep_the_invariants(
        slots in slots(),
        round_robin in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..200),
    ) {
        let seed_choking = if round_robin {
            SeedChoking::RoundRobin
        } else {
            SeedChoking::FastestUpload
        };
        run(slots, seed_choking, &ops)?;
    }
}
