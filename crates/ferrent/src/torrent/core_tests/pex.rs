//! Peer exchange (BEP 11) and private torrents (BEP 27), with the fake clock: what we announce,
//! what we send whom and when, what we learn.

use std::net::SocketAddr;

use ferrent_proto::wire::{PexFlags, PexMessage, PexPeer, UT_PEX};

use super::*;
use crate::torrent::{
    MAX_PEX_ADDED, MAX_PEX_DROPPED, MAX_PEX_LEARN_PER_MESSAGE, MAX_PEX_LEARNED, OUR_UT_PEX_ID,
    PEX_INTERVAL, PEX_RECV_INTERVAL, PeerSources,
};

/// The id our test peers receive `ut_pex` with (not ours, to catch mix-ups).
const THEIR_PEX_ID: u8 = 7;

const MIN: u64 = 60_000;

fn core_with(sources: PeerSources) -> TorrentCore {
    let mut c = uniform_core(8, 1);
    c.set_peer_sources(sources);
    c.set_own_addrs(vec![SocketAddr::from(([127, 0, 0, 1], LISTEN_PORT))]);
    c
}

fn public_core() -> TorrentCore {
    core_with(PeerSources::new(false))
}

fn private_core() -> TorrentCore {
    core_with(PeerSources::new(true))
}

/// An extension handshake announcing `ut_pex` (or not) and a listen port (or not).
fn ext_hs(pex: bool, port: Option<u16>) -> Message {
    let mut hs = ExtendedHandshake {
        p: port,
        ..ExtendedHandshake::default()
    };
    if pex {
        hs.m.insert(UT_PEX.into(), THEIR_PEX_ID);
    }
    hs.to_message()
}

/// Peer `conn` connects (we dialled it when `outgoing`) and sends its extension handshake.
fn join(c: &mut TorrentCore, conn: ConnId, outgoing: bool, pex: bool, port: Option<u16>, ms: u64) {
    connect(c, conn, fast_ext());
    if outgoing {
        c.set_outgoing(conn);
    }
    ok(c, conn, ext_hs(pex, port), at(ms));
}

/// The `ut_pex` messages among `actions`, by connection.
fn pex_sent(actions: &[Action]) -> Vec<(ConnId, PexMessage)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(c, Message::Extended { id, payload }) if *id != 0 => {
                assert_eq!(*id, THEIR_PEX_ID, "sent with the id the peer announced");
                Some((*c, PexMessage::decode(payload).expect("our ut_pex decodes")))
            }
            _ => None,
        })
        .collect()
}

fn tick(c: &mut TorrentCore, ms: u64) -> Vec<(ConnId, PexMessage)> {
    c.handle_timeout(at(ms));
    check(c);
    pex_sent(&drain(c))
}

fn added(m: &PexMessage) -> Vec<SocketAddr> {
    m.added.iter().map(|p| p.addr).collect()
}

fn learned(actions: &[Action]) -> Vec<SocketAddr> {
    actions
        .iter()
        .flat_map(|a| match a {
            Action::AddPeers(p) => p.clone(),
            _ => Vec::new(),
        })
        .collect()
}

fn pex_from_peer(peers: impl IntoIterator<Item = SocketAddr>) -> Message {
    let msg = PexMessage {
        added: peers
            .into_iter()
            .map(|addr| PexPeer {
                addr,
                flags: PexFlags(0),
            })
            .collect(),
        dropped: Vec::new(),
    };
    Message::Extended {
        id: OUR_UT_PEX_ID,
        payload: msg.to_bytes(),
    }
}

fn v4(i: u32, port: u16) -> SocketAddr {
    SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], port))
}

fn our_handshake(actions: &[Action]) -> ExtendedHandshake {
    match actions.first() {
        Some(Action::Send(_, Message::Extended { id: 0, payload })) => {
            ExtendedHandshake::decode(payload).unwrap()
        }
        other => panic!("expected our extension handshake first: {other:?}"),
    }
}

#[test]
fn ut_pex_is_announced_for_public_torrents_only() {
    let mut c = public_core();
    let hs = our_handshake(&connect(&mut c, 1, fast_ext()));
    assert_eq!(hs.extension_id(UT_PEX), Some(OUR_UT_PEX_ID));
    assert_ne!(OUR_UT_PEX_ID, crate::metadata::OUR_UT_METADATA_ID);

    let mut c = private_core();
    assert!(!c.peer_sources().public_discovery_allowed());
    let hs = our_handshake(&connect(&mut c, 1, fast_ext()));
    assert_eq!(hs.extension_id(UT_PEX), None);
    // The default, before any policy is set, is the private one.
    let mut c = uniform_core(8, 1);
    assert_eq!(c.peer_sources(), PeerSources::TRACKERS_ONLY);
    let hs = our_handshake(&connect(&mut c, 1, fast_ext()));
    assert_eq!(hs.extension_id(UT_PEX), None);
}

#[test]
fn first_message_lists_listenable_peers_with_flags() {
    let mut c = public_core();
    // 1: we dialled it, and it is a seed. 2: came in, told us its port. 3: came in, no port.
    join(&mut c, 1, true, false, None, 0);
    ok(&mut c, 1, Message::HaveAll, at(0));
    join(&mut c, 2, false, false, Some(9002), 0);
    join(&mut c, 3, false, false, None, 0);
    assert_eq!(c.poll_timeout().filter(|&t| t <= at(500)), None);
    // 4 speaks PEX: its first message goes right away.
    join(&mut c, 4, false, true, Some(9004), 500);
    assert_eq!(c.poll_timeout(), Some(at(500)));
    let sent = tick(&mut c, 500);
    assert_eq!(sent.len(), 1, "only peer 4 announced ut_pex: {sent:?}");
    let (to, m) = &sent[0];
    assert_eq!(*to, 4);
    let p2 = SocketAddr::new(addr(2).ip(), 9002);
    assert_eq!(
        m.added,
        vec![
            PexPeer {
                addr: addr(1),
                flags: PexFlags(PexFlags::SEED | PexFlags::REACHABLE)
            },
            PexPeer {
                addr: p2,
                flags: PexFlags(0)
            },
        ]
    );
    assert!(m.dropped.is_empty());
}

#[test]
fn at_most_once_a_minute_with_added_and_dropped_diffs() {
    let mut c = public_core();
    join(&mut c, 1, true, false, None, 0);
    join(&mut c, 9, true, true, None, 0);
    let sent = tick(&mut c, 0);
    assert_eq!(sent.len(), 1);
    assert_eq!(added(&sent[0].1), vec![addr(1)]);
    // Nothing changed: no timer for PEX at all.
    assert_eq!(c.poll_timeout(), None);
    // Peer 2 joins 10 s later: it goes out one minute after the first message, not before.
    join(&mut c, 2, true, false, None, 10_000);
    assert_eq!(c.poll_timeout(), Some(at(MIN)));
    assert!(tick(&mut c, MIN - 1).is_empty());
    let sent = tick(&mut c, MIN);
    assert_eq!(sent.len(), 1);
    assert_eq!(added(&sent[0].1), vec![addr(2)]);
    assert!(sent[0].1.dropped.is_empty());
    // 1 leaves and 3 comes: one message a minute later with both.
    c.peer_disconnected(1, at(MIN + 1000));
    join(&mut c, 3, true, false, None, MIN + 2000);
    assert!(tick(&mut c, MIN + 30_000).is_empty());
    let sent = tick(&mut c, 2 * MIN);
    assert_eq!(sent.len(), 1);
    assert_eq!(added(&sent[0].1), vec![addr(3)]);
    assert_eq!(sent[0].1.dropped, vec![addr(1)]);
    // A peer that comes and goes between two messages is never mentioned.
    join(&mut c, 4, true, false, None, 2 * MIN + 1000);
    c.peer_disconnected(4, at(2 * MIN + 2000));
    assert!(tick(&mut c, 3 * MIN).is_empty());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn a_peer_never_hears_its_own_address() {
    let mut c = public_core();
    join(&mut c, 1, true, true, None, 0);
    join(&mut c, 2, false, true, Some(9002), 0);
    let mut sent = tick(&mut c, 0);
    sent.sort_by_key(|(to, _)| *to);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(added(&sent[0].1), vec![SocketAddr::new(addr(2).ip(), 9002)]);
    assert_eq!(added(&sent[1].1), vec![addr(1)]);
}

#[test]
fn at_most_50_added_and_50_dropped_per_message() {
    let mut c = public_core();
    join(&mut c, 1000, true, true, None, 0);
    for conn in 1..=120 {
        join(&mut c, conn, true, false, None, 0);
    }
    let mut told = BTreeSet::new();
    for (i, want) in [MAX_PEX_ADDED, MAX_PEX_ADDED, 20].into_iter().enumerate() {
        let now = i as u64 * MIN;
        assert_eq!(c.poll_timeout(), Some(at(now)));
        let sent = tick(&mut c, now);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].1.added.len(), want);
        for a in added(&sent[0].1) {
            assert!(told.insert(a), "{a} sent twice");
        }
    }
    assert_eq!(told.len(), 120);
    assert_eq!(c.poll_timeout(), None, "everything told");
    for conn in 1..=70 {
        c.peer_disconnected(conn, at(3 * MIN - 1));
    }
    let mut gone = BTreeSet::new();
    for (i, want) in [MAX_PEX_DROPPED, 20].into_iter().enumerate() {
        let sent = tick(&mut c, (3 + i as u64) * MIN);
        assert_eq!(sent.len(), 1);
        assert!(sent[0].1.added.is_empty());
        assert_eq!(sent[0].1.dropped.len(), want);
        gone.extend(sent[0].1.dropped.iter().copied());
    }
    assert_eq!(gone, (1..=70).map(addr).collect());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn turning_pex_off_in_an_update_stops_messages() {
    let mut c = public_core();
    join(&mut c, 1, true, true, None, 0);
    join(&mut c, 2, true, false, None, 0);
    assert_eq!(tick(&mut c, 0).len(), 1);
    // BEP 10 update: ut_pex = 0 disables it.
    let mut hs = ExtendedHandshake::default();
    hs.m.insert(UT_PEX.into(), 0);
    ok(&mut c, 1, hs.to_message(), at(1000));
    join(&mut c, 3, true, false, None, 2000);
    assert_eq!(c.poll_timeout(), None);
    assert!(tick(&mut c, 5 * MIN).is_empty());
}

#[test]
fn private_torrent_sends_no_pex_and_ignores_incoming() {
    let mut c = private_core();
    for conn in 1..=5 {
        join(&mut c, conn, true, true, Some(9000 + conn as u16), 0);
    }
    assert_eq!(c.poll_timeout(), None);
    assert!(tick(&mut c, 10 * MIN).is_empty());
    // A peer sends PEX anyway (to the id a public torrent would use): nothing is learned, and
    // not even a malformed one is looked at.
    let actions = ok(&mut c, 1, pex_from_peer([v4(1, 6881)]), at(10 * MIN));
    assert!(learned(&actions).is_empty(), "{actions:?}");
    let garbage = Message::Extended {
        id: OUR_UT_PEX_ID,
        payload: Bytes::from_static(b"not bencode"),
    };
    assert!(ok(&mut c, 2, garbage, at(10 * MIN)).is_empty());
}

#[test]
fn learned_peers_are_filtered_deduplicated_and_capped_per_message() {
    let mut c = public_core();
    join(&mut c, 1, true, true, None, 0);
    join(&mut c, 2, false, false, Some(9002), 0);
    let own = SocketAddr::from(([127, 0, 0, 1], LISTEN_PORT));
    let mut offered = vec![
        own,
        addr(1),
        SocketAddr::new(addr(2).ip(), 9002),
        v4(7, 0),
        SocketAddr::from(([0, 0, 0, 0], 6881)),
        SocketAddr::from(([224, 0, 0, 1], 6881)),
        SocketAddr::from(([255, 255, 255, 255], 6881)),
        "[2001:db8::1]:6881".parse().unwrap(),
    ];
    offered.extend((1..=60).map(|i| v4(i, 6881)));
    // Decoded IPv4 first: the first 50 usable ones.
    let got = learned(&ok(&mut c, 1, pex_from_peer(offered.clone()), at(0)));
    let first: Vec<SocketAddr> = (1..=MAX_PEX_LEARN_PER_MESSAGE as u32)
        .map(|i| v4(i, 6881))
        .collect();
    assert_eq!(got, first);
    // The same list again (within the burst): only what is new, IPv6 included.
    let got = learned(&ok(&mut c, 1, pex_from_peer(offered.clone()), at(1000)));
    let mut rest: Vec<SocketAddr> = (MAX_PEX_LEARN_PER_MESSAGE as u32 + 1..=60)
        .map(|i| v4(i, 6881))
        .collect();
    rest.push("[2001:db8::1]:6881".parse().unwrap());
    assert_eq!(got, rest);
}

#[test]
fn pex_messages_beyond_the_rate_are_ignored() {
    let mut c = public_core();
    join(&mut c, 1, true, true, None, 0);
    let mut next = 0u32;
    let mut fresh = || {
        next += 1;
        pex_from_peer([v4(next, 6881)])
    };
    // A burst of two, then nothing until the interval passed.
    assert_eq!(learned(&ok(&mut c, 1, fresh(), at(0))).len(), 1);
    assert_eq!(learned(&ok(&mut c, 1, fresh(), at(10))).len(), 1);
    assert!(learned(&ok(&mut c, 1, fresh(), at(20))).is_empty());
    let interval = PEX_RECV_INTERVAL.as_millis() as u64;
    assert!(learned(&ok(&mut c, 1, fresh(), at(interval - 1))).is_empty());
    assert_eq!(learned(&ok(&mut c, 1, fresh(), at(interval))).len(), 1);
    assert!(learned(&ok(&mut c, 1, fresh(), at(interval + 1))).is_empty());
    // Another peer has its own allowance.
    join(&mut c, 2, true, true, None, interval);
    assert_eq!(learned(&ok(&mut c, 2, fresh(), at(interval + 2))).len(), 1);
    assert!(PEX_RECV_INTERVAL < PEX_INTERVAL);
}

#[test]
fn learning_is_bounded_over_the_torrents_life() {
    let mut c = public_core();
    let mut total = 0;
    let mut next = 0u32;
    // Many peers, each sending a full message every interval, for an hour.
    for conn in 1..=20 {
        join(&mut c, conn, true, true, None, 0);
    }
    for round in 0..60u64 {
        for conn in 1..=20 {
            let batch: Vec<SocketAddr> = (0..MAX_PEX_LEARN_PER_MESSAGE)
                .map(|_| {
                    next += 1;
                    v4(next, 6881)
                })
                .collect();
            total += learned(&ok(&mut c, conn, pex_from_peer(batch), at(round * MIN))).len();
        }
    }
    assert_eq!(total, MAX_PEX_LEARNED);
}

#[test]
fn malformed_pex_message_closes_the_connection() {
    let mut c = public_core();
    join(&mut c, 1, true, true, None, 0);
    let bad = Message::Extended {
        id: OUR_UT_PEX_ID,
        payload: Bytes::from_static(b"d5:added5:abcdee"),
    };
    violation(&mut c, 1, bad, at(0), "ut_pex");
}
