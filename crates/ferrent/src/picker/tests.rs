//! Unit tests of the picker with a fake clock. Every test checks the invariants after each step.

use std::time::{Duration, Instant};

use super::*;

const B: u32 = BLOCK_SIZE;

fn at(ms: u64) -> Instant {
    test_epoch() + Duration::from_millis(ms)
}

fn picker(num_pieces: u32, blocks_per_piece: u32, random: u32) -> Picker<u32> {
    let plen = blocks_per_piece * B;
    let geo =
        PieceGeometry::new(num_pieces, plen, u64::from(num_pieces) * u64::from(plen)).unwrap();
    let config = PickerConfig {
        initial_random_pieces: random,
        ..PickerConfig::default()
    };
    Picker::new(geo, config, 7)
}

fn bitfield(n: u32, pieces: &[u32]) -> Vec<u8> {
    let mut out = vec![0u8; (n as usize).div_ceil(8)];
    for &p in pieces {
        out[(p / 8) as usize] |= 0x80 >> (p % 8);
    }
    out
}

/// Adds an unchoking peer with these pieces (`None`: have all).
fn add(p: &mut Picker<u32>, key: u32, pieces: Option<&[u32]>) {
    p.add_peer(key).unwrap();
    match pieces {
        None => p.peer_have_all(key).unwrap(),
        Some(list) => {
            let n = p.geometry().num_pieces();
            p.peer_bitfield(key, &bitfield(n, list)).unwrap();
        }
    }
    p.peer_unchoked(key).unwrap();
    ok(p);
}

fn ok(p: &Picker<u32>) {
    if let Err(e) = p.check_invariants() {
        panic!("invariant broken: {e}");
    }
}

fn req(p: &mut Picker<u32>, key: u32, now: Instant) -> Vec<BlockRequest> {
    let mut out = Vec::new();
    p.next_requests(key, now, &mut out).unwrap();
    ok(p);
    out
}

fn events(p: &mut Picker<u32>) -> Vec<PickerEvent<u32>> {
    std::iter::from_fn(|| p.poll_event()).collect()
}

fn cancels(p: &mut Picker<u32>) -> Vec<(u32, BlockRequest)> {
    events(p)
        .into_iter()
        .filter_map(|e| match e {
            PickerEvent::Cancel { peer, request } => Some((peer, request)),
            _ => None,
        })
        .collect()
}

fn deliver(p: &mut Picker<u32>, key: u32, r: BlockRequest, now: Instant) -> BlockOutcome {
    let out = p.on_block(key, r, now).unwrap();
    ok(p);
    out
}

#[test]
fn rarest_first_order() {
    let mut p = picker(4, 1, 0);
    add(&mut p, 1, Some(&[0, 1, 2, 3]));
    add(&mut p, 2, Some(&[0, 1, 2]));
    add(&mut p, 3, Some(&[0, 1]));
    let got: Vec<u32> = req(&mut p, 1, at(0)).iter().map(|r| r.piece).collect();
    assert_eq!(got.len(), 4);
    assert_eq!(
        &got[..2],
        &[3, 2],
        "rarest first: piece 3 (1 peer), then 2 (2 peers)"
    );
}

#[test]
fn seeds_do_not_change_rarest_order() {
    let mut p = picker(3, 1, 0);
    add(&mut p, 1, None);
    add(&mut p, 2, Some(&[0, 2]));
    add(&mut p, 3, Some(&[0]));
    let got: Vec<u32> = req(&mut p, 1, at(0)).iter().map(|r| r.piece).collect();
    assert_eq!(got, vec![1, 2, 0]);
}

#[test]
fn initial_pieces_are_random_but_reproducible() {
    let first = |seed: u64| {
        let geo = PieceGeometry::new(64, B, 64 * u64::from(B)).unwrap();
        let mut p: Picker<u32> = Picker::new(geo, PickerConfig::default(), seed);
        add(&mut p, 1, None);
        req(&mut p, 1, at(0))
            .iter()
            .map(|r| r.piece)
            .collect::<Vec<_>>()
    };
    assert_eq!(first(1), first(1));
    let firsts: std::collections::HashSet<_> = (0..8).map(|s| first(s)[0]).collect();
    assert!(
        firsts.len() > 2,
        "random start varies with the seed: {firsts:?}"
    );
}

#[test]
fn partial_pieces_first() {
    let mut p = picker(3, 8, 0);
    // Piece 0 is the most common, so rarest-first alone would never start with it.
    add(&mut p, 1, Some(&[0]));
    p.set_peer_reqq(1, 3).unwrap();
    let a = req(&mut p, 1, at(0));
    assert_eq!(a.len(), 3);
    assert!(a.iter().all(|r| r.piece == 0));
    add(&mut p, 2, Some(&[0, 1, 2]));
    let b = req(&mut p, 2, at(0));
    assert_eq!(b.len(), 4);
    assert!(
        b.iter().all(|r| r.piece == 0),
        "finish piece 0 first: {b:?}"
    );
    assert_eq!(b[0].offset, 3 * B);
}

#[test]
fn priorities_order_and_zero_is_skipped() {
    let mut p = picker(6, 1, 0);
    p.set_priorities(&[0, 1, 7, 4, 0, 4]).unwrap();
    assert!(p.set_piece_priority(9, 1).is_err());
    assert!(p.set_piece_priority(1, 8).is_err());
    add(&mut p, 1, None);
    p.set_peer_reqq(1, 10).unwrap();
    let got: Vec<u32> = req(&mut p, 1, at(0)).iter().map(|r| r.piece).collect();
    assert_eq!(got.len(), 4);
    assert_eq!(got[0], 2);
    assert_eq!(*got.last().unwrap(), 1);
    assert!(!got.contains(&0) && !got.contains(&4));
    for r in p.peer_requests(1).collect::<Vec<_>>() {
        assert_eq!(deliver(&mut p, 1, r, at(10)), BlockOutcome::PieceComplete);
        p.on_piece_verified(r.piece).unwrap();
    }
    assert!(p.is_complete());
    assert_eq!(p.stats().pieces_not_wanted, 2);
    assert!(req(&mut p, 1, at(20)).is_empty());
}

#[test]
fn never_requests_pieces_the_peer_lacks() {
    let mut p = picker(8, 2, 4);
    add(&mut p, 1, Some(&[1, 5]));
    let got = req(&mut p, 1, at(0));
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|r| r.piece == 1 || r.piece == 5));
}

#[test]
fn timeout_reissues_to_another_peer_and_snubs() {
    let mut p = picker(1, 4, 0);
    add(&mut p, 1, None);
    let a = req(&mut p, 1, at(0));
    assert_eq!(a.len(), 4);
    assert_eq!(p.poll_timeout(), Some(at(20_000)));
    p.handle_timeout(at(19_999));
    assert!(
        events(&mut p)
            .iter()
            .all(|e| matches!(e, PickerEvent::Interest { .. }))
    );
    p.handle_timeout(at(20_000));
    ok(&p);
    let ev = events(&mut p);
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, PickerEvent::Cancel { peer: 1, .. }))
            .count(),
        4
    );
    assert!(ev.contains(&PickerEvent::Snubbed { peer: 1 }));
    assert!(p.is_snubbed(1));
    assert_eq!(p.pipeline_depth(1), 1);
    assert_eq!(p.poll_timeout(), None);
    add(&mut p, 2, None);
    let b = req(&mut p, 2, at(20_001));
    assert_eq!(b, a, "the timed-out blocks go to peer 2");
    // Peer 1 is snubbed: at most one request (here an endgame duplicate; nothing else is left).
    let extra = req(&mut p, 1, at(20_001));
    assert!(extra.len() <= 1);
    let x = *a.iter().find(|r| !extra.contains(r)).unwrap();
    // A late answer from peer 1 is not a violation; it is new data and peer 2's copy is cancelled.
    assert_eq!(deliver(&mut p, 1, x, at(20_002)), BlockOutcome::Accepted);
    assert!(!p.is_snubbed(1));
    assert!(cancels(&mut p).contains(&(2, x)));
    // But a second answer to the same request is.
    assert!(p.on_block(1, x, at(20_003)).is_err());
}

#[test]
fn timed_out_peer_is_not_asked_again_while_others_can() {
    let mut p = picker(2, 2, 0);
    add(&mut p, 1, None);
    p.set_peer_reqq(1, 2).unwrap();
    let a = req(&mut p, 1, at(0));
    p.handle_timeout(at(20_000));
    events(&mut p);
    // Peer 1 (snubbed, depth 1) is asked for piece 1, not the blocks of piece 0 it timed out.
    let again = req(&mut p, 1, at(20_000));
    assert_eq!(again.len(), 1);
    assert!(!a.contains(&again[0]));
}

#[test]
fn idle_excluded_peer_gets_its_blocks_back_when_alone() {
    let mut p = picker(1, 1, 0);
    add(&mut p, 1, None);
    let a = req(&mut p, 1, at(0));
    p.handle_timeout(at(20_000));
    // Nobody else has the piece: peer 1 gets another chance rather than stalling.
    assert_eq!(req(&mut p, 1, at(20_000)), a);
}

#[test]
fn choke_cancels_except_allowed_fast() {
    let mut p = picker(3, 2, 0);
    add(&mut p, 1, Some(&[0, 2]));
    p.peer_allowed_fast(1, 2).unwrap();
    assert!(p.peer_allowed_fast(1, 99).is_err());
    p.set_peer_reqq(1, 8).unwrap();
    let a = req(&mut p, 1, at(0));
    assert_eq!(a.len(), 4);
    p.peer_choked(1).unwrap();
    ok(&p);
    let kept: Vec<_> = p.peer_requests(1).collect();
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|r| r.piece == 2));
    assert!(
        cancels(&mut p).is_empty(),
        "a choke needs no cancel messages"
    );
    // While choked, only allowed-fast pieces are requested.
    let more = req(&mut p, 1, at(1));
    assert!(more.iter().all(|r| r.piece == 2));
    // A BEP 6 reject of a dropped request, or a late block, is tolerated.
    let dropped: Vec<_> = a.iter().filter(|r| r.piece != 2).copied().collect();
    p.on_reject(1, dropped[0]).unwrap();
    // Piece 0 went back to the queue; the late block is still wanted and restarts it.
    assert_eq!(p.piece_state(0), Some(PieceState::Queued));
    let late = deliver(&mut p, 1, dropped[1], at(2));
    assert_eq!(late, BlockOutcome::Accepted);
    assert_eq!(p.piece_state(0), Some(PieceState::Downloading));
    assert!(p.on_reject(1, dropped[0]).is_err(), "answered once already");
    // Another peer picks up the rest.
    add(&mut p, 2, Some(&[0]));
    let b = req(&mut p, 2, at(3));
    assert_eq!(b, vec![dropped[0]]);
}

#[test]
fn reject_frees_block_for_others() {
    let mut p = picker(1, 2, 0);
    add(&mut p, 1, None);
    let a = req(&mut p, 1, at(0));
    p.on_reject(1, a[0]).unwrap();
    ok(&p);
    assert!(p.on_reject(1, a[0]).is_err());
    let bogus = BlockRequest {
        piece: 0,
        offset: 5,
        len: B,
    };
    assert!(matches!(
        p.on_reject(1, bogus),
        Err(PickerError::PeerMisbehaved(
            PeerMisbehaved::UnrequestedReject { .. }
        ))
    ));
    add(&mut p, 2, None);
    let b = req(&mut p, 2, at(1));
    assert_eq!(b[0], a[0], "the rejected block first");
    assert_eq!(b[1..], a[1..], "then, endgame, a duplicate of the other");
}

#[test]
fn unrequested_blocks_are_errors() {
    let mut p = picker(2, 2, 0);
    add(&mut p, 1, None);
    let a = req(&mut p, 1, at(0));
    add(&mut p, 2, None);
    for bad in [
        BlockRequest {
            piece: 7,
            offset: 0,
            len: B,
        },
        BlockRequest {
            piece: 0,
            offset: 1,
            len: B,
        },
        BlockRequest {
            piece: 0,
            offset: 0,
            len: 1,
        },
        a[0],
    ] {
        assert!(
            matches!(
                p.on_block(2, bad, at(1)),
                Err(PickerError::PeerMisbehaved(_))
            ),
            "{bad:?}"
        );
    }
    assert_eq!(p.on_block(9, a[0], at(1)), Err(PickerError::UnknownPeer));
    ok(&p);
}

#[test]
fn peer_input_is_validated() {
    let mut p = picker(10, 1, 0);
    p.add_peer(1).unwrap();
    assert_eq!(p.add_peer(1), Err(PickerError::DuplicatePeer));
    assert!(matches!(
        p.peer_bitfield(1, &[0xff]),
        Err(PickerError::PeerMisbehaved(
            PeerMisbehaved::BitfieldLength {
                got: 1,
                expected: 2
            }
        ))
    ));
    assert_eq!(
        p.peer_bitfield(1, &[0xff, 0xe0]),
        Err(PickerError::PeerMisbehaved(
            PeerMisbehaved::BitfieldSpareBits
        ))
    );
    p.peer_bitfield(1, &[0xff, 0xc0]).unwrap();
    assert_eq!(
        p.peer_have_all(1),
        Err(PickerError::PeerMisbehaved(PeerMisbehaved::LateBitfield))
    );
    assert!(p.peer_have(1, 10).is_err());
    p.peer_have(1, 9).unwrap();
    ok(&p);
}

#[test]
fn endgame_duplicates_and_cancels() {
    let mut p = picker(1, 3, 0);
    add(&mut p, 1, None);
    add(&mut p, 2, None);
    add(&mut p, 3, None);
    p.set_peer_reqq(1, 3).unwrap();
    let a = req(&mut p, 1, at(0));
    assert_eq!(a.len(), 3);
    assert!(p.in_endgame());
    let b = req(&mut p, 2, at(1));
    assert_eq!(b, a[..1], "endgame: one duplicate per idle peer");
    assert!(req(&mut p, 2, at(1)).is_empty(), "peer 2 is busy now");
    let c = req(&mut p, 3, at(2));
    assert_eq!(c, a[1..2], "the next block with fewest requesters");
    assert_eq!(deliver(&mut p, 2, a[0], at(3)), BlockOutcome::Accepted);
    assert_eq!(cancels(&mut p), vec![(1, a[0])]);
    // Peer 2 is idle again: a second requester for a block that has one.
    assert_eq!(req(&mut p, 2, at(3)), a[2..]);
    add(&mut p, 4, None);
    assert_eq!(
        req(&mut p, 4, at(3)),
        a[1..2],
        "second requesters for all: then a third"
    );
    add(&mut p, 5, None);
    assert_eq!(
        req(&mut p, 5, at(3)),
        a[2..],
        "third requester of the last block"
    );
    add(&mut p, 6, None);
    assert!(req(&mut p, 6, at(3)).is_empty(), "no fourth requester");
    assert_eq!(deliver(&mut p, 3, a[1], at(4)), BlockOutcome::Accepted);
    let mut c1 = cancels(&mut p);
    c1.sort();
    assert_eq!(c1, vec![(1, a[1]), (4, a[1])]);
    // Peer 1's answer crossed our cancel: redundant, not an error.
    assert_eq!(deliver(&mut p, 1, a[1], at(5)), BlockOutcome::Redundant);
    assert_eq!(deliver(&mut p, 1, a[2], at(6)), BlockOutcome::PieceComplete);
    assert_eq!(p.piece_state(0), Some(PieceState::Hashing));
    assert_eq!(p.stats().requests_in_flight, 0);
    assert_eq!(p.stats().bytes_redundant, u64::from(B));
    p.on_piece_verified(0).unwrap();
    ok(&p);
    assert!(p.is_complete());
}

#[test]
fn endgame_duplicates_stay_few_with_deep_pipelines() {
    // Peer 1 takes 4 blocks and never answers; peers 2-4 fetch all the others, then are idle
    // in endgame with room in their pipelines: each gets one duplicate, not a pipeline full.
    let mut p = picker(4, 16, 0);
    for k in 1..=4 {
        add(&mut p, k, None);
        p.set_peer_reqq(k, 250).unwrap();
    }
    let held = req(&mut p, 1, at(0));
    assert_eq!(held.len(), 4);
    let mut dups = Vec::new();
    for t in 1..200 {
        for k in 2..=4u32 {
            for r in req(&mut p, k, at(t)) {
                if held.contains(&r) {
                    dups.push((k, r));
                } else {
                    assert_ne!(deliver(&mut p, k, r, at(t)), BlockOutcome::Redundant);
                }
            }
        }
    }
    assert!(p.in_endgame());
    assert_eq!(dups.len(), 3, "one duplicate per idle peer: {dups:?}");
    let mut redundant = 0;
    for r in &held {
        if deliver(&mut p, 1, *r, at(300)) == BlockOutcome::Redundant {
            redundant += 1;
        }
    }
    assert_eq!(redundant, 0);
    assert_eq!(
        p.stats().requests_in_flight,
        0,
        "the duplicates were cancelled"
    );
    assert_eq!(cancels(&mut p).len(), 3);
}

#[test]
fn no_duplicate_requests_outside_endgame() {
    let mut p = picker(4, 4, 0);
    add(&mut p, 1, None);
    add(&mut p, 2, None);
    p.set_peer_reqq(1, 6).unwrap();
    p.set_peer_reqq(2, 6).unwrap();
    let a = req(&mut p, 1, at(0));
    let b = req(&mut p, 2, at(0));
    assert!(!p.in_endgame());
    assert!(a.iter().all(|r| !b.contains(r)));
}

#[test]
fn failed_piece_returns_contributors_and_is_fetched_again() {
    let mut p = picker(1, 2, 0);
    add(&mut p, 1, None);
    add(&mut p, 2, None);
    p.set_peer_reqq(1, 1).unwrap();
    let a = req(&mut p, 1, at(0));
    let b = req(&mut p, 2, at(0));
    assert_eq!(deliver(&mut p, 1, a[0], at(1)), BlockOutcome::Accepted);
    assert_eq!(deliver(&mut p, 2, b[0], at(1)), BlockOutcome::PieceComplete);
    assert_eq!(
        p.on_piece_verified(1),
        Err(PickerError::PieceOutOfRange {
            index: 1,
            num_pieces: 1
        })
    );
    let mut who = p.on_piece_failed(0).unwrap();
    who.sort();
    assert_eq!(who, vec![1, 2]);
    assert_eq!(
        p.on_piece_failed(0),
        Err(PickerError::NotHashing { piece: 0 })
    );
    ok(&p);
    assert_eq!(p.piece_state(0), Some(PieceState::Queued));
    assert_eq!(p.stats().bytes_failed, 2 * u64::from(B));
    assert_eq!(req(&mut p, 2, at(2)).len(), 2);
}

#[test]
fn remove_peer_releases_requests() {
    let mut p = picker(2, 2, 0);
    add(&mut p, 1, None);
    let a = req(&mut p, 1, at(0));
    assert_eq!(p.stats().pieces_downloading, 2);
    p.remove_peer(1).unwrap();
    ok(&p);
    assert_eq!(
        p.stats().pieces_downloading,
        0,
        "no progress left: back to the queue"
    );
    assert_eq!(p.stats().requests_in_flight, 0);
    assert_eq!(p.remove_peer(1), Err(PickerError::UnknownPeer));
    add(&mut p, 2, Some(&[0, 1]));
    let mut b = req(&mut p, 2, at(1));
    b.sort();
    let mut a = a;
    a.sort();
    assert_eq!(a, b);
}

#[test]
fn interest_follows_wanted_pieces() {
    let mut p = picker(2, 1, 0);
    p.add_peer(1).unwrap();
    p.peer_have(1, 0).unwrap();
    assert!(p.is_interested(1));
    assert_eq!(
        events(&mut p),
        vec![PickerEvent::Interest {
            peer: 1,
            interested: true
        }]
    );
    p.set_piece_priority(0, 0).unwrap();
    assert!(!p.is_interested(1));
    assert_eq!(
        events(&mut p),
        vec![PickerEvent::Interest {
            peer: 1,
            interested: false
        }]
    );
    p.set_piece_priority(0, 3).unwrap();
    p.peer_unchoked(1).unwrap();
    let a = req(&mut p, 1, at(0));
    deliver(&mut p, 1, a[0], at(1));
    p.on_piece_verified(0).unwrap();
    ok(&p);
    assert_eq!(
        events(&mut p),
        vec![
            PickerEvent::Interest {
                peer: 1,
                interested: true
            },
            PickerEvent::Interest {
                peer: 1,
                interested: false
            }
        ]
    );
}

#[test]
fn priority_zero_abandons_a_downloading_piece() {
    let mut p = picker(2, 4, 0);
    add(&mut p, 1, None);
    p.set_peer_reqq(1, 2).unwrap();
    let a = req(&mut p, 1, at(0));
    assert!(a.iter().all(|r| r.piece == a[0].piece));
    deliver(&mut p, 1, a[0], at(1));
    events(&mut p);
    p.set_piece_priority(a[0].piece, 0).unwrap();
    ok(&p);
    let ev = events(&mut p);
    assert!(ev.contains(&PickerEvent::Cancel {
        peer: 1,
        request: a[1]
    }));
    assert!(ev.contains(&PickerEvent::Abandoned { piece: a[0].piece }));
    assert_eq!(p.piece_state(a[0].piece), Some(PieceState::NotWanted));
    assert_eq!(deliver(&mut p, 1, a[1], at(2)), BlockOutcome::Redundant);
}

#[test]
fn set_have_and_counters() {
    let geo = PieceGeometry::new(3, 2 * B, u64::from(5 * B) + 100).unwrap();
    let mut p: Picker<u32> = Picker::new(geo, PickerConfig::default(), 1);
    assert_eq!(p.stats().bytes_wanted_left, u64::from(5 * B) + 100);
    p.set_have(2).unwrap();
    p.set_have(2).unwrap();
    assert_eq!(p.stats().bytes_have, u64::from(B) + 100);
    assert_eq!(p.have_bitfield(), vec![0b0010_0000]);
    add(&mut p, 1, None);
    let a = req(&mut p, 1, at(0));
    assert_eq!(a.len(), 4);
    assert_eq!(
        p.set_have(a[0].piece),
        Err(PickerError::PieceBusy { piece: a[0].piece })
    );
    // Last piece: two blocks, the second 100 bytes.
    let geo = PieceGeometry::new(1, 2 * B, u64::from(B) + 100).unwrap();
    let mut q: Picker<u32> = Picker::new(geo, PickerConfig::default(), 1);
    add(&mut q, 1, None);
    let r = req(&mut q, 1, at(0));
    assert_eq!(
        r[1],
        BlockRequest {
            piece: 0,
            offset: B,
            len: 100
        }
    );
}

#[test]
fn pipeline_grows_in_slow_start_and_respects_reqq() {
    let mut p = picker(100, 16, 0);
    add(&mut p, 1, None);
    let mut now = 0;
    let mut pending = req(&mut p, 1, at(now));
    assert_eq!(pending.len(), INITIAL_PIPELINE as usize);
    for _ in 0..50 {
        now += 5;
        let r = pending.remove(0);
        let outcome = deliver(&mut p, 1, r, at(now));
        if outcome == BlockOutcome::PieceComplete {
            p.on_piece_verified(r.piece).unwrap();
        }
        pending.extend(req(&mut p, 1, at(now)));
    }
    assert!(
        pending.len() > 40,
        "slow start grew the pipeline: {}",
        pending.len()
    );
    p.set_peer_reqq(1, 10).unwrap();
    assert_eq!(p.pipeline_depth(1), 10);
}

#[test]
fn empty_torrent() {
    let geo = PieceGeometry::new(0, B, 0).unwrap();
    let mut p: Picker<u32> = Picker::new(geo, PickerConfig::default(), 1);
    add(&mut p, 1, None);
    assert!(p.is_complete());
    assert!(req(&mut p, 1, at(0)).is_empty());
}

#[test]
fn poll_timeout_is_the_oldest_request_and_only_expired_ones_time_out() {
    let mut p = picker(8, 1, 0);
    add(&mut p, 1, None);
    add(&mut p, 2, None);
    p.set_peer_reqq(1, 2).unwrap();
    p.set_peer_reqq(2, 2).unwrap();
    let a = req(&mut p, 1, at(5_000));
    let b = req(&mut p, 2, at(1_000));
    assert_eq!(p.poll_timeout(), Some(at(21_000)));
    p.handle_timeout(at(21_000));
    ok(&p);
    assert_eq!(p.peer_requests(1).collect::<Vec<_>>(), a);
    assert_eq!(p.peer_requests(2).count(), 0);
    assert!(p.is_snubbed(2) && !p.is_snubbed(1));
    assert_eq!(p.poll_timeout(), Some(at(25_000)));
    let c = cancels(&mut p);
    assert_eq!(c, b.iter().map(|&r| (2, r)).collect::<Vec<_>>());
}

#[test]
fn rejected_allowed_fast_piece_is_dropped_from_the_set() {
    let mut p = picker(4, 1, 0);
    p.add_peer(1).unwrap();
    p.peer_have_all(1).unwrap();
    p.peer_allowed_fast(1, 3).unwrap();
    let a = req(&mut p, 1, at(0));
    assert_eq!(
        a,
        vec![BlockRequest {
            piece: 3,
            offset: 0,
            len: B
        }]
    );
    p.on_reject(1, a[0]).unwrap();
    ok(&p);
    // Choked, and the only allowed-fast piece was refused: nothing to ask for.
    assert!(req(&mut p, 1, at(1)).is_empty());
}

#[test]
fn caller_errors() {
    let mut p = picker(2, 1, 0);
    assert_eq!(
        p.set_have(2),
        Err(PickerError::PieceOutOfRange {
            index: 2,
            num_pieces: 2
        })
    );
    assert_eq!(
        p.set_priorities(&[1]),
        Err(PickerError::PriorityCount {
            got: 1,
            num_pieces: 2
        })
    );
    assert_eq!(
        p.set_priorities(&[1, 9]),
        Err(PickerError::InvalidPriority(9))
    );
    assert_eq!(
        p.on_piece_verified(0),
        Err(PickerError::NotHashing { piece: 0 })
    );
    let mut out = Vec::new();
    assert_eq!(
        p.next_requests(5, at(0), &mut out),
        Err(PickerError::UnknownPeer)
    );
    assert!(PieceGeometry::new(3, B, u64::from(B)).is_err());
    ok(&p);
}
