//! BEP 6 from the receiving side: allowed-fast pieces while choked, and rejects.

use super::*;

#[test]
fn allowed_fast_pieces_are_requested_while_choked() {
    let mut c = uniform_core(10, 4);
    connect(&mut c, 1, fast_ext());
    ok(&mut c, 1, Message::HaveAll, at(0));
    let reqs = requests(&ok(&mut c, 1, Message::AllowedFast { index: 6 }, at(0)), 1);
    assert!(!reqs.is_empty());
    assert!(reqs.iter().all(|r| r.index == 6), "{reqs:?}");
    // An allowed-fast piece the peer does not have is not requested.
    connect(&mut c, 2, fast_ext());
    ok(&mut c, 2, bitfield(10, &[1]), at(0));
    assert!(requests(&ok(&mut c, 2, Message::AllowedFast { index: 7 }, at(0)), 2).is_empty());
    // Out of range is a violation.
    violation(&mut c, 2, Message::AllowedFast { index: 10 }, at(0), "10");
}

#[test]
fn rejected_request_goes_to_another_peer() {
    let mut c = uniform_core(8, 4);
    let reqs = seeder(&mut c, 1, at(0));
    let p = reqs[0].index;
    connect(&mut c, 2, fast_ext());
    ok(&mut c, 2, bitfield(8, &[p]), at(0));
    assert!(requests(&ok(&mut c, 2, Message::Unchoke, at(0)), 2).is_empty());
    let actions = ok(&mut c, 1, Message::RejectRequest(reqs[0]), at(1));
    assert_eq!(
        requests(&actions, 2),
        vec![reqs[0]],
        "given to peer 2 at once: {actions:?}"
    );
    assert!(
        !requests(&actions, 1).contains(&reqs[0]),
        "not asked again of peer 1"
    );
    // A reject for a request never sent closes the connection.
    let never = BlockRequest {
        index: (p + 1) % 8,
        begin: 0,
        length: B,
    };
    violation(&mut c, 2, Message::RejectRequest(never), at(2), "reject");
}
