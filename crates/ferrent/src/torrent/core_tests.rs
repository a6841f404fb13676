//! Deterministic tests of [`TorrentCore`]: scripted peers, a fake clock (a fixed epoch plus
//! durations), and at the end a small simulated swarm of in-memory seeders.

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrent_core::Id20;
use ferrent_proto::wire::{self, Block, BlockRequest, ExtendedHandshake, Message, Reserved};
use sha1::{Digest, Sha1};

use super::core::{Action, ConnId, OUR_REQQ, PieceCheck, TorrentCore};
use crate::picker::{INITIAL_PIPELINE, PieceState, test_epoch};

mod departures;
mod fast;
mod pads;
mod pex;
mod swarm;
mod upload;

const B: u32 = wire::BLOCK_LEN;
const OUR_ID: Id20 = Id20([0xAA; 20]);
const LISTEN_PORT: u16 = 6881;

fn at(ms: u64) -> Instant {
    test_epoch() + Duration::from_millis(ms)
}

fn addr(conn: ConnId) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7000 + conn as u16))
}

/// A peer id that is never ours.
fn peer_id(conn: ConnId) -> Id20 {
    let mut id = [0u8; 20];
    id[..8].copy_from_slice(&conn.to_be_bytes());
    Id20(id)
}

/// Reserved bits of a modern peer: BEP 6 and BEP 10.
fn fast_ext() -> Reserved {
    Reserved::default()
        .with_fast(true)
        .with_extension_protocol(true)
}

/// Reserved bits of a BEP 3-only peer.
fn plain() -> Reserved {
    Reserved::default()
}

fn new_core(num_pieces: u32, piece_len: u32, total: u64) -> TorrentCore {
    TorrentCore::new(num_pieces, piece_len, total, OUR_ID, Some(LISTEN_PORT), 1).unwrap()
}

/// A torrent of `num_pieces` pieces of `blocks` full blocks each.
fn uniform_core(num_pieces: u32, blocks: u32) -> TorrentCore {
    let plen = blocks * B;
    new_core(num_pieces, plen, u64::from(num_pieces) * u64::from(plen))
}

fn drain(c: &mut TorrentCore) -> Vec<Action> {
    std::iter::from_fn(|| c.poll_action()).collect()
}

fn check(c: &TorrentCore) {
    if let Err(e) = c.picker().check_invariants() {
        panic!("picker invariant broken: {e}");
    }
}

fn connect(c: &mut TorrentCore, conn: ConnId, reserved: Reserved) -> Vec<Action> {
    c.peer_connected(conn, addr(conn), reserved, peer_id(conn));
    check(c);
    drain(c)
}

/// Delivers `m` from `conn` at `now`; returns the result and the actions it caused.
fn recv(
    c: &mut TorrentCore,
    conn: ConnId,
    m: Message,
    now: Instant,
) -> (Result<(), String>, Vec<Action>) {
    let r = c.handle_message(conn, m, now);
    check(c);
    (r, drain(c))
}

/// Delivers `m` and asserts it was accepted.
fn ok(c: &mut TorrentCore, conn: ConnId, m: Message, now: Instant) -> Vec<Action> {
    let (r, actions) = recv(c, conn, m.clone(), now);
    assert_eq!(r, Ok(()), "{m:?} from {conn} refused");
    assert!(closes(&actions).is_empty(), "{actions:?}");
    actions
}

/// Delivers `m` and asserts it was refused with exactly one `Close` for `conn` whose reason
/// contains `word`.
fn violation(c: &mut TorrentCore, conn: ConnId, m: Message, now: Instant, word: &str) {
    let (r, actions) = recv(c, conn, m.clone(), now);
    let reason = r.expect_err(&format!("{m:?} should be a violation"));
    let cl = closes(&actions);
    assert_eq!(cl, vec![(conn, reason.clone())], "{actions:?}");
    assert!(
        reason.to_lowercase().contains(word),
        "reason {reason:?} should mention {word:?}"
    );
}

fn closes(actions: &[Action]) -> Vec<(ConnId, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Close(c, r) => Some((*c, r.clone())),
            _ => None,
        })
        .collect()
}

fn sent(actions: &[Action], conn: ConnId) -> Vec<Message> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(c, m) if *c == conn => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn requests(actions: &[Action], conn: ConnId) -> Vec<BlockRequest> {
    sent(actions, conn)
        .into_iter()
        .filter_map(|m| match m {
            Message::Request(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn cancels(actions: &[Action], conn: ConnId) -> Vec<BlockRequest> {
    sent(actions, conn)
        .into_iter()
        .filter_map(|m| match m {
            Message::Cancel(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn verifies(actions: &[Action]) -> Vec<(u32, Vec<u8>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Verify { piece, data } => Some((*piece, data.to_vec())),
            _ => None,
        })
        .collect()
}

fn bitfield(num_pieces: u32, pieces: &[u32]) -> Message {
    let mut out = vec![0u8; (num_pieces as usize).div_ceil(8)];
    for &p in pieces {
        out[(p / 8) as usize] |= 0x80 >> (p % 8);
    }
    Message::Bitfield(Bytes::from(out))
}

/// A recognisable payload: byte `i` is a mix of `i` so that a misplaced block shows.
fn payload(total: usize) -> Vec<u8> {
    (0..total)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(7) as u8)
        .collect()
}

/// The `piece` message answering `r`, cut from `data` (pieces of `piece_len`).
fn answer(data: &[u8], piece_len: u32, r: BlockRequest) -> Message {
    let start = r.index as usize * piece_len as usize + r.begin as usize;
    Message::Piece(Block {
        index: r.index,
        begin: r.begin,
        data: Bytes::copy_from_slice(&data[start..start + r.length as usize]),
    })
}

/// Peer `conn` (BEP 6 + 10) connects, has every piece and unchokes us at `now`; returns the
/// requests we sent it.
fn seeder(c: &mut TorrentCore, conn: ConnId, now: Instant) -> Vec<BlockRequest> {
    connect(c, conn, fast_ext());
    ok(c, conn, Message::HaveAll, now);
    requests(&ok(c, conn, Message::Unchoke, now), conn)
}

// ----- first messages -----

#[test]
fn extended_peer_gets_extension_handshake_then_have_none() {
    let mut c = uniform_core(10, 1);
    let actions = connect(&mut c, 1, fast_ext());
    assert_eq!(actions.len(), 2, "{actions:?}");
    let Action::Send(1, Message::Extended { id, payload }) = &actions[0] else {
        panic!("first action should be the extension handshake: {actions:?}");
    };
    assert_eq!(*id, wire::EXTENDED_HANDSHAKE_ID);
    let hs = ExtendedHandshake::decode(payload).unwrap();
    assert_eq!(hs.reqq, Some(OUR_REQQ));
    assert_eq!(hs.p, Some(LISTEN_PORT));
    assert_eq!(hs.yourip, Some(addr(1).ip()));
    assert!(hs.v.as_deref().unwrap_or("").starts_with("ferrent "));
    assert_eq!(actions[1], Action::Send(1, Message::HaveNone));
    assert_eq!(c.num_peers(), 1);
    assert_eq!(c.peer_addr(1), Some(addr(1)));
}

#[test]
fn plain_peer_gets_nothing_when_we_have_nothing() {
    // BEP 3 lets a peer with no pieces skip the bitfield; without BEP 6 there is no `have none`.
    let mut c = uniform_core(10, 1);
    assert_eq!(connect(&mut c, 1, plain()), vec![]);
    // BEP 6 without BEP 10: `have none`, no extension handshake.
    let fast_only = Reserved::default().with_fast(true);
    assert_eq!(
        connect(&mut c, 2, fast_only),
        vec![Action::Send(2, Message::HaveNone)]
    );
}

#[test]
fn some_pieces_are_sent_as_a_bitfield() {
    let mut c = uniform_core(10, 1);
    c.set_have(0).unwrap();
    c.set_have(9).unwrap();
    let want = Action::Send(1, Message::Bitfield(Bytes::from_static(&[0x80, 0x40])));
    assert_eq!(connect(&mut c, 1, plain()), vec![want]);
    let actions = connect(&mut c, 2, fast_ext());
    assert_eq!(
        actions.last(),
        Some(&Action::Send(
            2,
            Message::Bitfield(Bytes::from_static(&[0x80, 0x40]))
        ))
    );
}

#[test]
fn all_pieces_are_have_all_or_a_full_bitfield() {
    let mut c = uniform_core(10, 1);
    for p in 0..10 {
        c.set_have(p).unwrap();
    }
    assert!(c.is_complete());
    let actions = connect(&mut c, 1, fast_ext());
    assert_eq!(actions.last(), Some(&Action::Send(1, Message::HaveAll)));
    // Without BEP 6: a full bitfield, spare bits clear.
    let full = Message::Bitfield(Bytes::from_static(&[0xFF, 0xC0]));
    assert_eq!(connect(&mut c, 2, plain()), vec![Action::Send(2, full)]);
}

#[test]
fn connecting_to_ourselves_closes() {
    let mut c = uniform_core(4, 1);
    c.peer_connected(1, addr(1), fast_ext(), OUR_ID);
    let actions = drain(&mut c);
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert!(matches!(&actions[0], Action::Close(1, r) if r.contains("ourselves")));
    assert_eq!(c.num_peers(), 0);
    // Its messages are ignored (the driver closes it).
    assert_eq!(recv(&mut c, 1, Message::HaveAll, at(0)), (Ok(()), vec![]));
}

#[test]
fn duplicate_connection_id_closes_the_second() {
    let mut c = uniform_core(4, 1);
    connect(&mut c, 1, fast_ext());
    let actions = connect(&mut c, 1, fast_ext());
    assert!(matches!(&actions[..], [Action::Close(1, _)]), "{actions:?}");
    assert_eq!(c.num_peers(), 1);
}

// ----- the peer's first message -----

#[test]
fn bitfield_or_have_all_after_the_extension_handshake_is_accepted() {
    let mut c = uniform_core(10, 1);
    let hs = ExtendedHandshake {
        reqq: Some(50),
        ..ExtendedHandshake::default()
    }
    .to_message();
    connect(&mut c, 1, fast_ext());
    ok(&mut c, 1, hs.clone(), at(0));
    ok(&mut c, 1, Message::KeepAlive, at(0));
    let actions = ok(&mut c, 1, bitfield(10, &[3]), at(0));
    assert_eq!(sent(&actions, 1), vec![Message::Interested]);

    connect(&mut c, 2, fast_ext());
    ok(&mut c, 2, hs, at(0));
    let actions = ok(&mut c, 2, Message::HaveAll, at(0));
    assert_eq!(sent(&actions, 2), vec![Message::Interested]);
    assert_eq!(c.picker().stats().pieces_total, 10);
}

/// The pieces peer `conn` gets requests for once unchoked (one-block pieces, pipeline 4).
fn requested_pieces(c: &mut TorrentCore, conn: ConnId, now: Instant) -> BTreeSet<u32> {
    let actions = ok(c, conn, Message::Unchoke, now);
    requests(&actions, conn).iter().map(|r| r.index).collect()
}

#[test]
fn late_bitfield_or_have_all_count_as_haves() {
    // BEP 3 allows the bitfield only first; aria2 sends another one (or `have all`) later, and
    // the core takes it as a list of `have`s instead of closing the connection.
    let mut c = uniform_core(10, 1);
    connect(&mut c, 1, fast_ext());
    ok(&mut c, 1, Message::Have { index: 2 }, at(0));
    ok(&mut c, 1, bitfield(10, &[3]), at(0));
    assert_eq!(requested_pieces(&mut c, 1, at(0)), BTreeSet::from([2, 3]));

    // A second bitfield adds pieces; it cannot take any away.
    connect(&mut c, 2, fast_ext());
    ok(&mut c, 2, bitfield(10, &[4]), at(0));
    ok(&mut c, 2, bitfield(10, &[5]), at(0));
    assert_eq!(requested_pieces(&mut c, 2, at(0)), BTreeSet::from([4, 5]));

    connect(&mut c, 3, fast_ext());
    ok(&mut c, 3, Message::HaveNone, at(0));
    ok(&mut c, 3, Message::HaveAll, at(0));
    assert_eq!(
        requested_pieces(&mut c, 3, at(0)).len(),
        INITIAL_PIPELINE as usize
    );
}

#[test]
fn late_have_none_or_a_bad_late_bitfield_closes() {
    let mut c = uniform_core(10, 1);
    connect(&mut c, 1, fast_ext());
    ok(&mut c, 1, Message::HaveNone, at(0));
    violation(&mut c, 1, Message::HaveNone, at(0), "have none");

    connect(&mut c, 2, fast_ext());
    ok(&mut c, 2, Message::Have { index: 1 }, at(0));
    violation(&mut c, 2, Message::HaveNone, at(0), "have none");

    connect(&mut c, 3, plain());
    ok(&mut c, 3, bitfield(10, &[1]), at(0));
    let (r, actions) = recv(
        &mut c,
        3,
        Message::Bitfield(Bytes::from_static(&[0xFF])),
        at(0),
    );
    assert!(r.is_err());
    assert!(matches!(&actions[..], [Action::Close(3, _)]), "{actions:?}");
}

#[test]
fn bitfield_of_wrong_length_or_with_spare_bits_closes() {
    let mut c = uniform_core(10, 1);
    let cases: [&'static [u8]; 4] = [&[0xFF], &[0xFF, 0xC0, 0x00], &[], &[0xFF, 0xE0]];
    for (conn, bytes) in (1..).zip(cases) {
        connect(&mut c, conn, plain());
        let (r, actions) = recv(
            &mut c,
            conn,
            Message::Bitfield(Bytes::from_static(bytes)),
            at(0),
        );
        assert!(r.is_err(), "{bytes:?} accepted");
        assert!(
            matches!(&actions[..], [Action::Close(cl, _)] if *cl == conn),
            "{actions:?}"
        );
    }
    // The same length with the spare bits clear is fine.
    connect(&mut c, 9, plain());
    ok(
        &mut c,
        9,
        Message::Bitfield(Bytes::from_static(&[0xFF, 0xC0])),
        at(0),
    );
}

#[test]
fn have_out_of_range_closes() {
    let mut c = uniform_core(10, 1);
    connect(&mut c, 1, plain());
    ok(&mut c, 1, Message::Have { index: 9 }, at(0));
    violation(&mut c, 1, Message::Have { index: 10 }, at(0), "10");
    connect(&mut c, 2, plain());
    violation(&mut c, 2, Message::Have { index: u32::MAX }, at(0), "have");
}

#[test]
fn fast_messages_without_the_fast_extension_close() {
    let mut c = uniform_core(10, 1);
    connect(&mut c, 1, plain());
    violation(&mut c, 1, Message::HaveAll, at(0), "fast");
    connect(&mut c, 2, plain());
    violation(&mut c, 2, Message::HaveNone, at(0), "fast");
    connect(&mut c, 3, plain());
    let r = BlockRequest {
        index: 0,
        begin: 0,
        length: B,
    };
    violation(&mut c, 3, Message::RejectRequest(r), at(0), "fast");
    connect(&mut c, 4, plain());
    violation(&mut c, 4, Message::AllowedFast { index: 1 }, at(0), "fast");
    connect(&mut c, 5, plain());
    violation(&mut c, 5, Message::SuggestPiece { index: 1 }, at(0), "fast");
}

// ----- requests -----

#[test]
fn unchoke_sends_requests_within_the_pipeline() {
    let mut c = uniform_core(10, 4);
    connect(&mut c, 1, fast_ext());
    // Interested on have all, but no request while choked.
    let actions = ok(&mut c, 1, Message::HaveAll, at(0));
    assert_eq!(sent(&actions, 1), vec![Message::Interested]);
    let reqs = requests(&ok(&mut c, 1, Message::Unchoke, at(0)), 1);
    assert_eq!(reqs.len(), INITIAL_PIPELINE as usize);
    assert!(reqs.len() as u32 <= c.picker().pipeline_depth(1));
    let distinct: BTreeSet<_> = reqs.iter().collect();
    assert_eq!(distinct.len(), reqs.len(), "duplicate request: {reqs:?}");
    for r in &reqs {
        assert!(
            r.index < 10 && r.begin % B == 0 && r.begin < 4 * B && r.length == B,
            "{r:?}"
        );
    }
    assert_eq!(c.picker().stats().requests_in_flight, INITIAL_PIPELINE);
    // A second unchoke adds nothing: the pipeline is full.
    assert!(requests(&ok(&mut c, 1, Message::Unchoke, at(1)), 1).is_empty());
}

#[test]
fn requests_respect_the_peers_reqq_and_only_pieces_it_has() {
    let mut c = uniform_core(10, 4);
    connect(&mut c, 1, fast_ext());
    let hs = ExtendedHandshake {
        reqq: Some(2),
        ..ExtendedHandshake::default()
    };
    ok(&mut c, 1, hs.to_message(), at(0));
    ok(&mut c, 1, bitfield(10, &[7]), at(0));
    let reqs = requests(&ok(&mut c, 1, Message::Unchoke, at(0)), 1);
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert!(reqs.iter().all(|r| r.index == 7), "{reqs:?}");
}

#[test]
fn choke_stops_requests_and_late_answers_are_tolerated() {
    let mut c = uniform_core(10, 4);
    let reqs = seeder(&mut c, 1, at(0));
    assert!(!reqs.is_empty());
    ok(&mut c, 1, Message::Choke, at(1));
    assert_eq!(c.picker().stats().requests_in_flight, 0);
    // A BEP 6 peer rejects what it will not serve after choking: tolerated.
    ok(&mut c, 1, Message::RejectRequest(reqs[0]), at(2));
    // An answer that crossed the choke is still used, not taken for an unrequested block.
    let data = payload(10 * 4 * B as usize);
    ok(&mut c, 1, answer(&data, 4 * B, reqs[1]), at(3));
    assert_eq!(c.counters().downloaded, u64::from(B));
}

#[test]
fn block_never_requested_closes() {
    let mut c = uniform_core(10, 4);
    let data = payload(10 * 4 * B as usize);
    connect(&mut c, 1, fast_ext());
    ok(&mut c, 1, Message::HaveAll, at(0));
    let r = BlockRequest {
        index: 0,
        begin: 0,
        length: B,
    };
    let (res, actions) = recv(&mut c, 1, answer(&data, 4 * B, r), at(0));
    assert!(res.is_err());
    assert!(matches!(&actions[..], [Action::Close(1, _)]), "{actions:?}");

    // Requested, but answered at the wrong offset or with the wrong length.
    let reqs = seeder(&mut c, 2, at(0));
    let r = reqs[0];
    let shifted = BlockRequest {
        begin: r.begin + 1,
        ..r
    };
    let (res, actions) = recv(&mut c, 2, answer(&data, 4 * B, shifted), at(1));
    assert!(res.is_err() && !closes(&actions).is_empty(), "{actions:?}");
    let reqs = seeder(&mut c, 3, at(0));
    let short = BlockRequest {
        length: 100,
        ..reqs[0]
    };
    let (res, actions) = recv(&mut c, 3, answer(&data, 4 * B, short), at(1));
    assert!(res.is_err() && !closes(&actions).is_empty(), "{actions:?}");
}

#[test]
fn request_from_a_choked_peer_is_rejected_under_bep6_and_ignored_without() {
    let mut c = uniform_core(10, 4);
    c.set_have(1).unwrap();
    let r = BlockRequest {
        index: 1,
        begin: B,
        length: B,
    };
    connect(&mut c, 1, fast_ext());
    let actions = ok(&mut c, 1, Message::Request(r), at(0));
    assert_eq!(actions, vec![Action::Send(1, Message::RejectRequest(r))]);
    connect(&mut c, 2, plain());
    assert_eq!(ok(&mut c, 2, Message::Request(r), at(0)), vec![]);
}

#[test]
fn interested_peer_is_unchoked_and_served() {
    let mut c = uniform_core(10, 4);
    c.set_have(1).unwrap();
    let r = BlockRequest {
        index: 1,
        begin: B,
        length: B,
    };
    connect(&mut c, 1, fast_ext());
    let actions = ok(&mut c, 1, Message::Interested, at(0));
    assert_eq!(sent(&actions, 1), vec![Message::Unchoke]);
    let actions = ok(&mut c, 1, Message::Request(r), at(1));
    assert_eq!(actions, vec![Action::Upload(1, r)]);
    c.upload_done(1, 1, u64::from(B));
    assert_eq!(c.counters().uploaded, u64::from(B));
    let actions = ok(&mut c, 1, Message::NotInterested, at(2));
    assert_eq!(sent(&actions, 1), vec![Message::Choke]);
}

#[test]
fn bad_requests_close() {
    let mut c = uniform_core(10, 4);
    c.set_have(0).unwrap();
    let cases = [
        (
            BlockRequest {
                index: 0,
                begin: 0,
                length: B + 1,
            },
            "bytes",
        ),
        (
            BlockRequest {
                index: 0,
                begin: 0,
                length: 0,
            },
            "bytes",
        ),
        (
            BlockRequest {
                index: 10,
                begin: 0,
                length: B,
            },
            "piece 10",
        ),
        (
            BlockRequest {
                index: 0,
                begin: 3 * B + 1,
                length: B,
            },
            "past the end",
        ),
        (
            BlockRequest {
                index: 2,
                begin: 0,
                length: B,
            },
            "do not have",
        ),
    ];
    for (conn, (r, word)) in (1..).zip(cases) {
        connect(&mut c, conn, fast_ext());
        violation(&mut c, conn, Message::Request(r), at(0), word);
    }
    // An oversized request closes a BEP 3-only peer too.
    connect(&mut c, 9, plain());
    violation(&mut c, 9, Message::Request(cases[0].0), at(0), "bytes");
}

// ----- pieces -----

#[test]
fn blocks_are_assembled_into_verify_with_the_exact_bytes() {
    // Two pieces of two blocks, the last one short: 16384 + 16384 | 16384 + 100.
    let plen = 2 * B;
    let total = 3 * B as usize + 100;
    let data = payload(total);
    let mut c = new_core(2, plen, total as u64);
    let mut reqs = seeder(&mut c, 1, at(0));
    reqs.sort();
    let want: Vec<BlockRequest> = [(0, 0, B), (0, B, B), (1, 0, B), (1, B, 100)]
        .iter()
        .map(|&(index, begin, length)| BlockRequest {
            index,
            begin,
            length,
        })
        .collect();
    assert_eq!(reqs, want);
    // Answer out of order: the second half of each piece first.
    let mut got = Vec::new();
    for (i, r) in [want[3], want[1], want[2], want[0]].into_iter().enumerate() {
        let actions = ok(&mut c, 1, answer(&data, plen, r), at(10 + i as u64));
        got.extend(verifies(&actions));
        if i < 2 {
            assert!(got.is_empty(), "verify before the piece was whole: {i}");
        }
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            (0, data[..plen as usize].to_vec()),
            (1, data[plen as usize..].to_vec())
        ]
    );
    assert_eq!(c.counters().downloaded, total as u64);
    assert_eq!(c.picker().piece_state(0), Some(PieceState::Hashing));
}

#[test]
fn verified_piece_sends_have_to_every_peer() {
    let mut c = uniform_core(4, 1);
    let data = payload(4 * B as usize);
    connect(&mut c, 2, plain());
    connect(&mut c, 3, fast_ext());
    ok(&mut c, 3, Message::HaveNone, at(0));
    let reqs = seeder(&mut c, 1, at(0));
    let actions = ok(&mut c, 1, answer(&data, B, reqs[0]), at(5));
    let piece = reqs[0].index;
    assert_eq!(
        verifies(&actions),
        vec![(piece, data[(piece * B) as usize..][..B as usize].to_vec())]
    );
    assert!(!c.picker().have(piece));
    c.piece_checked(piece, PieceCheck::Verified, at(6));
    check(&c);
    let actions = drain(&mut c);
    for conn in [1, 2, 3] {
        let haves: Vec<_> = sent(&actions, conn)
            .into_iter()
            .filter(|m| matches!(m, Message::Have { .. }))
            .collect();
        assert_eq!(haves, vec![Message::Have { index: piece }], "peer {conn}");
    }
    assert!(c.picker().have(piece));
    assert!(!c.is_complete());
}

#[test]
fn on_completion_seeds_are_closed_and_leechers_get_have() {
    // Peer 2 lacks piece 3; it repeats a `have` (harmless in BEP 3), which must not make it
    // look like a seed. Peer 3 became a seed through `have`s; peer 4 through a late bitfield.
    let mut c = uniform_core(4, 1);
    let data = payload(4 * B as usize);
    connect(&mut c, 2, plain());
    ok(&mut c, 2, bitfield(4, &[0, 1, 2]), at(0));
    ok(&mut c, 2, Message::Have { index: 0 }, at(0));
    connect(&mut c, 3, plain());
    for index in 0..4 {
        ok(&mut c, 3, Message::Have { index }, at(0));
    }
    connect(&mut c, 4, fast_ext());
    ok(&mut c, 4, Message::Have { index: 0 }, at(0));
    ok(&mut c, 4, bitfield(4, &[1, 2, 3]), at(0));
    let mut pending: Vec<BlockRequest> = seeder(&mut c, 1, at(0));
    let mut last = Vec::new();
    while let Some(r) = pending.pop() {
        for (piece, _) in verifies(&ok(&mut c, 1, answer(&data, B, r), at(1))) {
            c.piece_checked(piece, PieceCheck::Verified, at(1));
            last = drain(&mut c);
            pending.extend(requests(&last, 1));
        }
    }
    assert!(c.is_complete());
    let mut closed: Vec<ConnId> = closes(&last).into_iter().map(|(conn, _)| conn).collect();
    closed.sort();
    assert_eq!(closed, vec![1, 3, 4], "{last:?}");
    let haves = sent(&last, 2)
        .into_iter()
        .filter(|m| matches!(m, Message::Have { .. }));
    assert_eq!(
        haves.count(),
        1,
        "the leecher hears of the last piece: {last:?}"
    );
}

#[test]
fn hash_mismatch_reports_contributors_and_requests_the_piece_again() {
    // One piece of eight blocks: peer 1 takes four, peer 2 the other four.
    let mut c = uniform_core(1, 8);
    let data = payload(8 * B as usize);
    let r1 = seeder(&mut c, 1, at(0));
    let r2 = seeder(&mut c, 2, at(0));
    assert_eq!(r1.len() + r2.len(), 8, "{r1:?} {r2:?}");
    assert!(!r1.is_empty() && !r2.is_empty());
    let mut verify = Vec::new();
    for (conn, rs) in [(1, &r1), (2, &r2)] {
        for r in rs {
            verify.extend(verifies(&ok(
                &mut c,
                conn,
                answer(&data, 8 * B, *r),
                at(10),
            )));
        }
    }
    assert_eq!(verify.len(), 1);
    c.piece_checked(0, PieceCheck::HashMismatch, at(20));
    check(&c);
    let actions = drain(&mut c);
    let failed: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::HashFailed {
                piece,
                contributors,
            } => Some((*piece, contributors.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{actions:?}");
    let (piece, mut who) = failed[0].clone();
    who.sort();
    assert_eq!((piece, who), (0, vec![1, 2]));
    assert_eq!(c.counters().hash_failures, 1);
    assert!(!c.picker().have(0));
    // Every block of the piece is asked for again.
    let again: BTreeSet<_> = requests(&actions, 1)
        .into_iter()
        .chain(requests(&actions, 2))
        .collect();
    let all: BTreeSet<_> = (0..8)
        .map(|b| BlockRequest {
            index: 0,
            begin: b * B,
            length: B,
        })
        .collect();
    assert_eq!(again, all);
    // A write failure is not a hash failure: nothing reported, requested again.
}

#[test]
fn write_failure_requeues_without_blaming_peers() {
    let mut c = uniform_core(1, 1);
    let data = payload(B as usize);
    let reqs = seeder(&mut c, 1, at(0));
    ok(&mut c, 1, answer(&data, B, reqs[0]), at(1));
    c.piece_checked(0, PieceCheck::WriteFailed, at(2));
    let actions = drain(&mut c);
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::HashFailed { .. })),
        "{actions:?}"
    );
    assert_eq!(requests(&actions, 1), reqs);
    assert_eq!(c.counters().hash_failures, 0);
}

#[test]
fn complete_after_every_piece_is_verified() {
    let plen = 2 * B;
    let total = 5 * B as usize + 7;
    let data = payload(total);
    let mut c = new_core(3, plen, total as u64);
    let mut pending: VecDeque<BlockRequest> = seeder(&mut c, 1, at(0)).into();
    let mut verified = Vec::new();
    let mut t = 1;
    while let Some(r) = pending.pop_front() {
        t += 1;
        let actions = ok(&mut c, 1, answer(&data, plen, r), at(t));
        pending.extend(requests(&actions, 1));
        for (piece, bytes) in verifies(&actions) {
            assert_eq!(bytes, data[(piece * plen) as usize..][..bytes.len()]);
            assert!(!c.is_complete());
            c.piece_checked(piece, PieceCheck::Verified, at(t));
            check(&c);
            verified.push(piece);
            let after = drain(&mut c);
            pending.extend(requests(&after, 1));
            if verified.len() == 3 {
                // Both sides are seeds now: the connection is closed instead of sent a `have`.
                assert!(
                    matches!(&closes(&after)[..], [(1, r)] if r.contains("seeds")),
                    "{after:?}"
                );
                assert!(!sent(&after, 1).contains(&Message::Have { index: piece }));
            } else {
                assert!(closes(&after).is_empty(), "{after:?}");
            }
        }
    }
    verified.sort();
    assert_eq!(verified, vec![0, 1, 2]);
    assert!(c.is_complete());
    assert_eq!(c.counters().downloaded, total as u64);
    assert_eq!(c.poll_timeout(), None);
}
