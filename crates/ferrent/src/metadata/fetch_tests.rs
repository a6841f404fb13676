//! [`MetadataFetch`] with scripted peers and a fake clock.

use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrent_core::Id20;
use sha1::{Digest, Sha1};

use super::fetch::*;

const PIECE: usize = 16 * 1024;

fn info(len: usize) -> (Vec<u8>, Id20) {
    let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 300) as u8).collect();
    let hash = Id20(Sha1::digest(&bytes).into());
    (bytes, hash)
}

fn piece(bytes: &[u8], p: u32) -> Bytes {
    let start = p as usize * PIECE;
    Bytes::copy_from_slice(&bytes[start..(start + PIECE).min(bytes.len())])
}

fn corrupt(b: Bytes) -> Bytes {
    let mut v = b.to_vec();
    v[0] ^= 0xff;
    Bytes::from(v)
}

fn drain(f: &mut MetadataFetch<u32>) -> Vec<FetchAction<u32>> {
    std::iter::from_fn(|| f.poll_action()).collect()
}

fn requests(actions: &[FetchAction<u32>]) -> Vec<(u32, u32)> {
    actions
        .iter()
        .filter_map(|a| match a {
            FetchAction::Request { peer, piece } => Some((*peer, *piece)),
            _ => None,
        })
        .collect()
}

fn drops(actions: &[FetchAction<u32>]) -> Vec<(u32, bool)> {
    actions
        .iter()
        .filter_map(|a| match a {
            FetchAction::Drop { peer, liar, .. } => Some((*peer, *liar)),
            _ => None,
        })
        .collect()
}

/// Answers every request in `reqs` from `serve(peer, piece)` until the fetch ends or nothing is
/// asked; returns every action seen.
fn serve_all(
    f: &mut MetadataFetch<u32>,
    mut reqs: Vec<(u32, u32)>,
    size: u32,
    now: Instant,
    serve: impl Fn(u32, u32) -> Bytes,
) -> Vec<FetchAction<u32>> {
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let Some((peer, p)) = reqs.pop() else { break };
        f.on_data(peer, p, size, serve(peer, p), now);
        let a = drain(f);
        reqs.extend(requests(&a));
        seen.extend(a);
        if f.result().is_some() {
            break;
        }
    }
    seen
}

#[test]
fn pieces_spread_over_peers_and_assemble() {
    let (bytes, hash) = info(5 * PIECE + 100);
    let size = bytes.len() as u32;
    let now = Instant::now();
    let mut f = MetadataFetch::new(hash, MAX_FETCH_METADATA_SIZE);
    f.add_peer(1, Some(size.into()), now);
    f.add_peer(2, Some(size.into()), now);
    let first = requests(&drain(&mut f));
    assert_eq!(first.len(), 2 * PIPELINE);
    assert!(first.iter().any(|r| r.0 == 1) && first.iter().any(|r| r.0 == 2));
    let seen = serve_all(&mut f, first, size, now, |_, p| piece(&bytes, p));
    assert!(drops(&seen).is_empty());
    assert_eq!(f.result(), Some(&Ok(bytes.clone())));
    assert_eq!(f.progress(), (6, 6));
}

#[test]
fn size_above_the_cap_is_dropped_before_anything_is_allocated() {
    let (_, hash) = info(100);
    let now = Instant::now();
    let mut f = MetadataFetch::new(hash, MAX_FETCH_METADATA_SIZE);
    f.add_peer(1, Some(u64::from(MAX_FETCH_METADATA_SIZE) + 1), now);
    f.add_peer(2, Some(1 << 40), now);
    f.add_peer(3, Some(0), now);
    f.add_peer(4, None, now);
    assert_eq!(
        drops(&drain(&mut f)),
        vec![(1, false), (2, false), (3, false), (4, false)]
    );
    assert_eq!(f.progress(), (0, 0), "no copy was set up");
    assert_eq!(f.next_deadline(), None);
}

#[test]
fn reject_backs_off_then_drops() {
    let (bytes, hash) = info(3 * PIECE);
    let size = bytes.len() as u32;
    let t0 = Instant::now();
    let mut f = MetadataFetch::new(hash, MAX_FETCH_METADATA_SIZE);
    f.add_peer(1, Some(size.into()), t0);
    let r = requests(&drain(&mut f));
    assert_eq!(r, vec![(1, 0), (1, 1)]);
    f.on_reject(1, 0, t0);
    assert!(
        requests(&drain(&mut f)).is_empty(),
        "not asked while backing off"
    );
    // A second peer takes the rejected piece at once.
    f.add_peer(2, Some(size.into()), t0);
    let r = requests(&drain(&mut f));
    assert!(r.contains(&(2, 0)), "{r:?}");
    // Its other outstanding piece is rejected too; after the back-off peer 1 is asked again,
    // and the MAX_REJECTS-th reject drops it.
    f.on_reject(1, 1, t0);
    assert!(
        requests(&drain(&mut f)).is_empty(),
        "peer 2's pipeline is full"
    );
    let t = t0 + REJECT_BACKOFF;
    assert_eq!(f.next_deadline(), Some(t));
    f.tick(t);
    assert_eq!(requests(&drain(&mut f)), vec![(1, 1)]);
    assert_eq!(MAX_REJECTS, 3);
    f.on_reject(1, 1, t);
    assert_eq!(drops(&drain(&mut f)), vec![(1, false)]);
    assert!(!f.is_useful(1));
}

#[test]
fn timed_out_request_goes_to_another_peer_and_slow_peer_is_dropped() {
    let (bytes, hash) = info(PIECE);
    let size = bytes.len() as u32;
    let t0 = Instant::now();
    let mut f = MetadataFetch::new(hash, MAX_FETCH_METADATA_SIZE);
    f.add_peer(1, Some(size.into()), t0);
    assert_eq!(requests(&drain(&mut f)), vec![(1, 0)]);
    f.add_peer(2, Some(size.into()), t0);
    assert!(requests(&drain(&mut f)).is_empty(), "the only piece is out");
    assert_eq!(f.next_deadline(), Some(t0 + REQUEST_TIMEOUT));
    let t1 = t0 + REQUEST_TIMEOUT;
    f.tick(t1 - Duration::from_millis(1));
    assert!(drain(&mut f).is_empty());
    f.tick(t1);
    let a = drain(&mut f);
    assert_eq!(requests(&a).len(), 1, "{a:?}");
    // Twice late: dropped.
    let mut t = t1;
    for _ in 1..MAX_TIMEOUTS {
        t += REQUEST_TIMEOUT;
        f.tick(t);
    }
    let a = drain(&mut f);
    assert!(!drops(&a).is_empty(), "{a:?}");
    assert!(f.result().is_none());
}

#[test]
fn departure_returns_pieces_to_the_pool() {
    let (bytes, hash) = info(2 * PIECE);
    let size = bytes.len() as u32;
    let now = Instant::now();
    let mut f = MetadataFetch::new(hash, MAX_FETCH_METADATA_SIZE);
    f.add_peer(1, Some(size.into()), now);
    assert_eq!(requests(&drain(&mut f)).len(), 2);
    f.add_peer(2, Some(size.into()), now);
    assert!(requests(&drain(&mut f)).is_empty());
    f.peer_gone(1, now);
    let r = requests(&drain(&mut f));
    assert_eq!(r, vec![(2, 0), (2, 1)]);
    serve_all(&mut f, r, size, now, |_, p| piece(&bytes, p));
    assert_eq!(f.result(), Some(&Ok(bytes)));
}

#[test]
fn lone_liar_is_dropped_and_an_honest_peer_finishes() {
    let (bytes, hash) = info(2 * PIECE + 1);
    let size = bytes.len() as u32;
    let now = Instant::now();
    let mut f = MetadataFetch::new(hash, MAX_FETCH_METADATA_SIZE);
    f.add_peer(1, Some(size.into()), now);
    let r = requests(&drain(&mut f));
    let seen = serve_all(&mut f, r, size, now, |peer, p| {
        let good = piece(&bytes, p);
        if peer == 1 { corrupt(good) } else { good }
    });
    assert_eq!(drops(&seen), vec![(1, true)]);
    assert_eq!(f.hash_failures(), 1);
    assert!(f.result().is_none());
    f.add_peer(2, Some(size.into()), now);
    let r = requests(&drain(&mut f));
    serve_all(&mut f, r, size, now, |_, p| piece(&bytes, p));
    assert_eq!(f.result(), Some(&Ok(bytes)));
}

#[test]
fn liar_among_several_is_found_by_a_single_source_copy() {
    let (bytes, hash) = info(8 * PIECE);
    let size = bytes.len() as u32;
    let now = Instant::now();
    for liar in [1, 2, 3] {
        let mut f = MetadataFetch::new(hash, MAX_FETCH_METADATA_SIZE);
        for p in 1..=3 {
            f.add_peer(p, Some(size.into()), now);
        }
        let r = requests(&drain(&mut f));
        let seen = serve_all(&mut f, r, size, now, |peer, p| {
            let good = piece(&bytes, p);
            if peer == liar { corrupt(good) } else { good }
        });
        assert_eq!(f.result(), Some(&Ok(bytes.clone())), "liar {liar}");
        let d = drops(&seen);
        assert!(d.contains(&(liar, true)), "liar {liar}: {d:?}");
        assert!(d.iter().all(|&(p, _)| p == liar), "only the liar: {d:?}");
    }
}

#[test]
fn all_liars_end_the_fetch_after_bounded_copies() {
    let (bytes, hash) = info(3 * PIECE);
    let size = bytes.len() as u32;
    let now = Instant::now();
    let mut f = MetadataFetch::new(hash, MAX_FETCH_METADATA_SIZE);
    let mut seen = Vec::new();
    for p in 1..=(MAX_HASH_FAILURES + 5) {
        f.add_peer(p, Some(size.into()), now);
        let r = requests(&drain(&mut f));
        seen.extend(serve_all(&mut f, r, size, now, |_, p| {
            corrupt(piece(&bytes, p))
        }));
        if f.result().is_some() {
            break;
        }
    }
    assert!(matches!(f.result(), Some(Err(_))), "{:?}", f.result());
    assert_eq!(f.hash_failures(), MAX_HASH_FAILURES);
}

#[test]
fn peers_of_another_size_wait_until_the_first_size_has_no_peer() {
    let (bytes, hash) = info(2 * PIECE);
    let size = bytes.len() as u32;
    let now = Instant::now();
    let mut f = MetadataFetch::new(hash, MAX_FETCH_METADATA_SIZE);
    f.add_peer(1, Some(7), now); // wrong size, first
    assert_eq!(requests(&drain(&mut f)), vec![(1, 0)]);
    f.add_peer(2, Some(size.into()), now);
    assert!(requests(&drain(&mut f)).is_empty(), "not mixed with size 7");
    assert!(!f.is_useful(2));
    // Its 7 bytes fail the hash: dropped as a liar, and peer 2's size is fetched.
    f.on_data(1, 0, 7, Bytes::from_static(b"1234567"), now);
    let a = drain(&mut f);
    assert_eq!(drops(&a), vec![(1, true)]);
    let r = requests(&a);
    assert_eq!(r, vec![(2, 0), (2, 1)]);
    serve_all(&mut f, r, size, now, |_, p| piece(&bytes, p));
    assert_eq!(f.result(), Some(&Ok(bytes)));
}

#[test]
fn wrong_total_size_or_length_drops_the_peer() {
    let (bytes, hash) = info(2 * PIECE);
    let size = bytes.len() as u32;
    let now = Instant::now();
    let mut f = MetadataFetch::new(hash, MAX_FETCH_METADATA_SIZE);
    f.add_peer(1, Some(size.into()), now);
    f.add_peer(2, Some(size.into()), now);
    drain(&mut f);
    f.on_data(1, 0, size + 1, piece(&bytes, 0), now);
    f.on_data(2, 1, size, Bytes::from_static(b"short"), now);
    assert_eq!(drops(&drain(&mut f)), vec![(1, false), (2, false)]);
}

#[test]
fn unrequested_data_is_ignored() {
    let (bytes, hash) = info(3 * PIECE);
    let size = bytes.len() as u32;
    let now = Instant::now();
    let mut f = MetadataFetch::new(hash, MAX_FETCH_METADATA_SIZE);
    f.add_peer(1, Some(size.into()), now);
    drain(&mut f);
    f.on_data(1, 2, size, corrupt(piece(&bytes, 2)), now);
    assert!(drain(&mut f).is_empty());
    assert_eq!(f.progress(), (0, 3));
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Add(u32, Option<u64>),
        Data {
            peer: u32,
            piece: u32,
            total: u32,
            len: usize,
            good: bool,
        },
        Reject(u32, u32),
        Gone(u32),
        Tick(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (
                0u32..6,
                prop_oneof![
                    Just(None),
                    (0u64..(1 << 26)).prop_map(Some),
                    Just(Some(3 * PIECE as u64 + 5))
                ]
            )
                .prop_map(|(p, s)| Op::Add(p, s)),
            (
                0u32..6,
                0u32..5,
                prop_oneof![Just(3 * PIECE as u32 + 5), 0u32..100_000],
                0usize..PIECE + 2,
                any::<bool>()
            )
                .prop_map(|(peer, piece, total, len, good)| Op::Data {
                    peer,
                    piece,
                    total,
                    len,
                    good
                }),
            (0u32..6, 0u32..5).prop_map(|(p, i)| Op::Reject(p, i)),
            (0u32..6).prop_map(Op::Gone),
            (0u64..20_000).prop_map(Op::Tick),
        ]
    }

    proptest! {
        /// Any sequence of peer events and clock jumps: no panic, every request names a piece of
        /// the size being fetched, and a result, if any, is the right metadata or an error.
        #[test]
        fn arbitrary_events_keep_the_fetch_sound(ops in proptest::collection::vec(op(), 0..200)) {
            let (bytes, hash) = info(3 * PIECE + 5);
            let mut now = Instant::now();
            let mut f = MetadataFetch::new(hash, 1 << 25);
            for o in ops {
                match o {
                    Op::Add(p, s) => f.add_peer(p, s, now),
                    Op::Data { peer, piece, total, len, good } => {
                        let data = if good && total as usize == bytes.len() {
                            let start = piece as usize * PIECE;
                            Bytes::copy_from_slice(bytes.get(start..(start + PIECE).min(bytes.len())).unwrap_or(&[]))
                        } else {
                            Bytes::from(vec![0u8; len])
                        };
                        f.on_data(peer, piece, total, data, now);
                    }
                    Op::Reject(p, i) => f.on_reject(p, i, now),
                    Op::Gone(p) => f.peer_gone(p, now),
                    Op::Tick(ms) => {
                        now += Duration::from_millis(ms);
                        f.tick(now);
                    }
                }
                for a in drain(&mut f) {
                    if let FetchAction::Request { piece, .. } = a {
                        let (_, total) = f.progress();
                        prop_assert!(piece < total);
                    }
                }
                prop_assert!(f.hash_failures() <= MAX_HASH_FAILURES);
                if let Some(Ok(got)) = f.result() {
                    prop_assert_eq!(got, &bytes);
                }
            }
        }
    }
}
