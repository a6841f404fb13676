//! Request timeouts and disconnects: requests move to the peers that remain.

use super::*;

/// Peer 1 (have all) holds four requests for one piece `p`; peer 2 has only `p` and joined
/// later, so it got nothing. Returns `p` and peer 1's requests.
fn two_peers_one_piece_busy(c: &mut TorrentCore) -> (u32, Vec<BlockRequest>) {
    let reqs = seeder(c, 1, at(0));
    assert_eq!(reqs.len(), 4);
    let p = reqs[0].index;
    assert!(reqs.iter().all(|r| r.index == p), "{reqs:?}");
    connect(c, 2, fast_ext());
    ok(c, 2, bitfield(8, &[p]), at(1000));
    let got = requests(&ok(c, 2, Message::Unchoke, at(1000)), 2);
    assert!(got.is_empty(), "peer 2 should wait: {got:?}");
    (p, reqs)
}

#[test]
fn timed_out_requests_go_to_another_peer() {
    let mut c = uniform_core(8, 4);
    let (p, reqs) = two_peers_one_piece_busy(&mut c);
    let deadline = c.poll_timeout().expect("a timer with requests in flight");
    assert_eq!(deadline, at(20_000));
    // Just before the deadline nothing happens.
    c.handle_timeout(at(19_999));
    assert!(drain(&mut c).is_empty());
    c.handle_timeout(deadline);
    check(&c);
    let actions = drain(&mut c);
    let mut cancelled = cancels(&actions, 1);
    cancelled.sort();
    let mut want = reqs.clone();
    want.sort();
    assert_eq!(cancelled, want, "peer 1's requests are cancelled");
    let mut moved = requests(&actions, 2);
    moved.sort();
    assert_eq!(moved, want, "and given to peer 2");
    // Peer 1 is snubbed: one request at a time, for another piece.
    assert!(c.picker().is_snubbed(1));
    let r1 = requests(&actions, 1);
    assert_eq!(r1.len(), 1);
    assert_ne!(r1[0].index, p);
    // Its late answer for a cancelled block is tolerated, and counted as data.
    let data = payload(8 * 4 * B as usize);
    ok(&mut c, 1, answer(&data, 4 * B, reqs[0]), at(20_500));
}

#[test]
fn disconnect_releases_requests_to_others() {
    let mut c = uniform_core(8, 4);
    let (_, reqs) = two_peers_one_piece_busy(&mut c);
    c.peer_disconnected(1, at(2000));
    check(&c);
    let actions = drain(&mut c);
    assert!(
        cancels(&actions, 1).is_empty(),
        "nothing is sent to a gone peer"
    );
    let mut moved = requests(&actions, 2);
    moved.sort();
    let mut want = reqs;
    want.sort();
    assert_eq!(moved, want);
    assert_eq!(c.num_peers(), 1);
    // Messages still in flight from the gone peer are ignored.
    let data = payload(8 * 4 * B as usize);
    assert_eq!(
        recv(&mut c, 1, answer(&data, 4 * B, want[0]), at(2001)),
        (Ok(()), vec![])
    );
    // A second disconnect is harmless.
    c.peer_disconnected(1, at(2002));
    assert!(drain(&mut c).is_empty());
}

#[test]
fn choke_releases_requests_to_an_idle_peer_at_once() {
    // Without this, peer 2 would wait for its own next message: with no request in flight
    // anywhere there is no timer either, so the download could stall for minutes.
    let mut c = uniform_core(8, 4);
    let (_, reqs) = two_peers_one_piece_busy(&mut c);
    let actions = ok(&mut c, 1, Message::Choke, at(2000));
    let mut moved = requests(&actions, 2);
    moved.sort();
    let mut want = reqs;
    want.sort();
    assert_eq!(moved, want, "{actions:?}");
}
