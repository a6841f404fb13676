//! The serving side: a peer's `cancel` of a request that still waits in its upload queue.

use super::*;

fn block(index: u32, n: u32) -> BlockRequest {
    BlockRequest {
        index,
        begin: n * B,
        length: B,
    }
}

/// A core that has piece 1 and has unchoked `conn` (which has nothing).
fn serving(conn: ConnId, reserved: Reserved) -> TorrentCore {
    let mut c = uniform_core(10, 4);
    c.set_have(1).unwrap();
    connect(&mut c, conn, reserved);
    let actions = ok(&mut c, conn, Message::Interested, at(0));
    assert_eq!(sent(&actions, conn), vec![Message::Unchoke]);
    c
}

#[test]
fn cancel_of_a_queued_request_frees_its_slot_and_is_rejected_under_bep6() {
    let mut c = serving(1, fast_ext());
    let (r, other) = (block(1, 2), block(1, 3));
    assert_eq!(
        ok(&mut c, 1, Message::Request(r), at(1)),
        vec![Action::Upload(1, r)]
    );
    assert_eq!(
        ok(&mut c, 1, Message::Request(other), at(1)),
        vec![Action::Upload(1, other)]
    );
    // The cancel goes to the uploader; only once it reports the request dropped does the
    // peer get its reject (a request already read is sent instead, and counted as usual).
    assert_eq!(
        ok(&mut c, 1, Message::Cancel(r), at(2)),
        vec![Action::CancelUpload(1, r)]
    );
    c.upload_cancelled(1, r);
    assert_eq!(
        drain(&mut c),
        vec![Action::Send(1, Message::RejectRequest(r))]
    );
    c.upload_done(1, 1, u64::from(B));
    assert_eq!(
        c.counters().uploaded,
        u64::from(B),
        "the cancelled one is not counted"
    );
    // Both slots are free again: a full queue of OUR_REQQ requests is accepted.
    for i in 0..OUR_REQQ {
        let actions = ok(&mut c, 1, Message::Request(block(1, i % 4)), at(3));
        assert_eq!(actions, vec![Action::Upload(1, block(1, i % 4))]);
    }
    violation(&mut c, 1, Message::Request(r), at(3), "outstanding");
}

#[test]
fn cancel_without_the_fast_extension_is_dropped_silently() {
    let mut c = serving(1, plain());
    let r = block(1, 0);
    ok(&mut c, 1, Message::Request(r), at(1));
    assert_eq!(
        ok(&mut c, 1, Message::Cancel(r), at(2)),
        vec![Action::CancelUpload(1, r)]
    );
    c.upload_cancelled(1, r);
    assert_eq!(drain(&mut c), vec![]);
}

#[test]
fn cancel_with_nothing_queued_does_nothing() {
    let mut c = serving(1, fast_ext());
    // Never requested, or already answered: nothing to take back, and not a violation.
    assert_eq!(ok(&mut c, 1, Message::Cancel(block(1, 0)), at(1)), vec![]);
    let r = block(1, 1);
    ok(&mut c, 1, Message::Request(r), at(1));
    c.upload_done(1, 1, u64::from(B));
    assert_eq!(ok(&mut c, 1, Message::Cancel(r), at(2)), vec![]);
}

/// Choking a peer drops the requests still waiting in its upload queue: the uploader is told,
/// and each one it reports dropped is rejected under BEP 6 (a plain peer discards its own
/// requests on `choke`, BEP 3, so it gets nothing).
#[test]
fn choke_drops_queued_uploads_and_rejects_them_under_bep6() {
    for (reserved, rejects) in [(fast_ext(), true), (plain(), false)] {
        let mut c = serving(1, reserved);
        let (r, other) = (block(1, 0), block(1, 1));
        ok(&mut c, 1, Message::Request(r), at(1));
        ok(&mut c, 1, Message::Request(other), at(1));
        // Without a choker, a peer that loses interest is choked at once.
        assert_eq!(
            ok(&mut c, 1, Message::NotInterested, at(2)),
            vec![Action::Send(1, Message::Choke), Action::DropUploads(1)]
        );
        c.upload_done(1, 1, u64::from(B)); // `r` had been read already: it goes out
        c.upload_cancelled(1, other);
        let want = if rejects {
            vec![Action::Send(1, Message::RejectRequest(other))]
        } else {
            vec![]
        };
        assert_eq!(drain(&mut c), want);
        assert_eq!(c.counters().uploaded, u64::from(B));
    }
}

#[test]
fn choke_with_nothing_queued_drops_nothing() {
    let mut c = serving(1, fast_ext());
    let r = block(1, 0);
    ok(&mut c, 1, Message::Request(r), at(1));
    c.upload_done(1, 1, u64::from(B));
    assert_eq!(
        ok(&mut c, 1, Message::NotInterested, at(2)),
        vec![Action::Send(1, Message::Choke)]
    );
}
