//! DhtNode tests on a virtual network and a virtual clock: a 20-node DHT where one node announces
//! and another finds it, libtorrent-shaped queries (2-byte transaction ids), hostile input and
//! floods, timeouts, and the table save/load.
#![allow(clippy::disallowed_methods)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrent_proto::dht::{Body, ErrorCode, Message, NodeId, NodeInfo, Query, Response};
use sha1::{Digest, Sha1};

use super::*;

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, (i + 1) as u8], 6881))
}

fn node_id(i: usize) -> NodeId {
    NodeId(Sha1::digest((i as u64).to_be_bytes()).into())
}

/// Moves datagrams between nodes until the network is quiet, jumping time to the next timer.
struct Net {
    nodes: Vec<DhtNode>,
    now: Instant,
    events: Vec<Vec<DhtEvent>>,
    /// Addresses that swallow packets (dead nodes).
    dead: Vec<SocketAddr>,
}

impl Net {
    fn new(n: usize, now: Instant) -> Net {
        let nodes = (0..n)
            .map(|i| {
                let mut c = DhtConfig::new(node_id(i), [i as u8; 32]);
                if i != 0 {
                    c.bootstrap = vec![addr(0)];
                }
                DhtNode::new(c, now)
            })
            .collect();
        Net {
            nodes,
            now,
            events: vec![Vec::new(); n],
            dead: Vec::new(),
        }
    }

    fn index(&self, a: SocketAddr) -> Option<usize> {
        (0..self.nodes.len()).find(|i| addr(*i) == a)
    }

    /// Runs until no packet is in flight and `until` virtual time has passed.
    fn run(&mut self, until: Duration) {
        let end = self.now + until;
        let mut buf = Vec::new();
        for _round in 0..100_000 {
            let mut q = VecDeque::new();
            for (i, n) in self.nodes.iter_mut().enumerate() {
                while let Some(to) = n.poll_transmit(&mut buf) {
                    q.push_back((addr(i), to, buf.clone()));
                }
                while let Some(ev) = n.poll_event() {
                    self.events[i].push(ev);
                }
            }
            if q.is_empty() {
                let next = self.nodes.iter().filter_map(DhtNode::poll_timeout).min();
                match next {
                    Some(t) if t <= end => {
                        self.now = self.now.max(t);
                        let now = self.now;
                        for n in &mut self.nodes {
                            n.handle_timeout(now);
                        }
                    }
                    _ => return,
                }
                continue;
            }
            while let Some((from, to, data)) = q.pop_front() {
                if self.dead.contains(&to) {
                    continue;
                }
                if let Some(j) = self.index(to) {
                    self.nodes[j].handle_packet(self.now, from, &data);
                }
            }
        }
        panic!("network did not settle");
    }
}

#[test]
fn twenty_nodes_bootstrap_announce_and_find() {
    let now = Instant::now();
    let mut net = Net::new(20, now);
    net.run(Duration::from_secs(10));
    for n in &net.nodes {
        assert!(n.stats().routing_nodes >= 5, "{:?}", n.stats());
    }
    let ih = NodeId([0x42; 20]);
    let now = net.now;
    net.nodes[5].announce(now, ih, Some(7000)).unwrap();
    net.run(Duration::from_secs(10));
    assert!(
        net.events[5]
            .iter()
            .any(|e| matches!(e, DhtEvent::LookupDone { announced, .. } if *announced > 0))
    );
    let stored: usize = net.nodes.iter().map(|n| n.stats().stored.1).sum();
    assert!(
        stored >= 3,
        "announce stored on the closest nodes: {stored}"
    );
    let now = net.now;
    let lid = net.nodes[12].get_peers(now, ih).unwrap();
    net.run(Duration::from_secs(10));
    let want = SocketAddr::new(addr(5).ip(), 7000);
    assert!(
        net.events[12].iter().any(|e| matches!(e, DhtEvent::PeersFound { lookup, peers, .. } if *lookup == lid && peers.contains(&want))),
        "{:?}",
        net.events[12]
    );
    assert!(
        net.events[12]
            .iter()
            .any(|e| matches!(e, DhtEvent::LookupDone { lookup, .. } if *lookup == lid))
    );
}

#[test]
fn lookups_time_out_on_dead_nodes_and_finish() {
    let now = Instant::now();
    let mut net = Net::new(3, now);
    net.dead.push(addr(0));
    net.run(Duration::from_secs(30));
    // Node 1's bootstrap lookup asked node 0 (dead), timed out and finished with no answer.
    assert!(net.nodes[1].stats().timeouts >= 1);
    assert!(
        net.events[1]
            .iter()
            .any(|e| matches!(e, DhtEvent::LookupDone { responses: 0, .. }))
    );
}

fn one_node(now: Instant) -> DhtNode {
    DhtNode::new(DhtConfig::new(NodeId([1; 20]), [3; 32]), now)
}

fn drain(n: &mut DhtNode) -> Vec<(SocketAddr, Message)> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while let Some(to) = n.poll_transmit(&mut buf) {
        out.push((to, Message::decode(&buf).unwrap()));
    }
    out
}

#[test]
fn answers_libtorrent_shaped_queries_with_their_two_byte_tid() {
    let now = Instant::now();
    let mut n = one_node(now);
    let from: SocketAddr = "127.0.0.7:6881".parse().unwrap();
    let mut pkt = b"d1:ad2:id20:".to_vec();
    pkt.extend_from_slice(&[0xAA; 20]);
    pkt.extend_from_slice(b"9:info_hash20:");
    pkt.extend_from_slice(&[0x42; 20]);
    pkt.extend_from_slice(b"e1:q9:get_peers1:t2:\x8e\x011:v4:LT\x02\x001:y1:qe");
    n.handle_packet(now, from, &pkt);
    let out = drain(&mut n);
    let (to, reply) = out
        .iter()
        .find(|(_, m)| matches!(m.body, Body::Response(_)))
        .unwrap();
    assert_eq!(*to, from);
    assert_eq!(reply.transaction_id, vec![0x8e, 0x01]);
    assert_eq!(reply.ip, Some(from));
    let Body::Response(r) = &reply.body else {
        panic!()
    };
    let token = r.token.clone().unwrap();
    assert_eq!(n.stats().answered_by_tid_len[2], 1);

    // announce_peer with that token is stored; with a wrong token it is refused (203).
    let ann = |token: Vec<u8>, tid: &[u8]| {
        let m = Message::query(
            tid.to_vec(),
            Query::AnnouncePeer {
                id: NodeId([0xAA; 20]),
                info_hash: NodeId([0x42; 20]),
                port: 51413,
                implied_port: false,
                token,
            },
        );
        let mut b = Vec::new();
        m.encode(&mut b);
        b
    };
    n.handle_packet(now, from, &ann(b"nope".to_vec(), b"x"));
    let out = drain(&mut n);
    assert!(
        out.iter()
            .any(|(_, m)| matches!(&m.body, Body::Error(e) if e.code == ErrorCode::PROTOCOL))
    );
    n.handle_packet(now, from, &ann(token.clone(), b"yz"));
    drain(&mut n);
    assert_eq!(n.stats().stored, (1, 1));
    // Another querier now gets the stored peer in `values`.
    let other: SocketAddr = "127.0.0.8:6881".parse().unwrap();
    n.handle_packet(now, other, &pkt);
    let out = drain(&mut n);
    let got = out.iter().find_map(|(_, m)| match &m.body {
        Body::Response(r) => Some(r.values.clone()),
        _ => None,
    });
    assert_eq!(got, Some(vec!["127.0.0.7:51413".parse().unwrap()]));
}

#[test]
fn garbage_floods_and_unknown_methods() {
    let now = Instant::now();
    let mut n = one_node(now);
    let from: SocketAddr = "127.0.0.9:1".parse().unwrap();
    // Garbage: counted, no reply.
    for g in [&b""[..], b"xyz", b"d1:t2:aae", b"i1e", &[0xFF; 2000]] {
        n.handle_packet(now, from, g);
    }
    assert_eq!(n.stats().malformed, 5);
    assert!(drain(&mut n).is_empty());
    // A broken query with a readable tid gets a 203 with that tid.
    n.handle_packet(now, from, b"d1:ad2:id3:abce1:q4:ping1:t3:abc1:y1:qe");
    let out = drain(&mut n);
    assert!(
        matches!(&out[..], [(_, m)] if m.transaction_id == b"abc" && matches!(&m.body, Body::Error(e) if e.code == ErrorCode::PROTOCOL))
    );
    // Unknown method: 204.
    n.handle_packet(
        now,
        from,
        b"d1:ad2:id20:abcdefghij0123456789e1:q3:foo1:t1:z1:y1:qe",
    );
    let out = drain(&mut n);
    assert!(
        out.iter()
            .any(|(_, m)| matches!(&m.body, Body::Error(e) if e.code == ErrorCode::METHOD_UNKNOWN))
    );
    // A flood of pings from one address: only the burst is answered.
    let ping = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
    let flooder: SocketAddr = "127.0.0.10:1".parse().unwrap();
    for _ in 0..1000 {
        n.handle_packet(now, flooder, ping);
    }
    let replies = drain(&mut n)
        .into_iter()
        .filter(|(to, m)| *to == flooder && matches!(m.body, Body::Response(_)))
        .count();
    assert_eq!(replies, QUERY_BURST as usize);
    assert!(n.stats().rate_limited >= 1000 - QUERY_BURST as u64);
    // Unsolicited responses are ignored.
    let mut b = Vec::new();
    Message::response(
        b"qq".to_vec(),
        Response {
            id: NodeId([9; 20]),
            ..Response::default()
        },
    )
    .encode(&mut b);
    n.handle_packet(now, from, &b);
    assert_eq!(n.stats().unexpected_replies, 1);
    assert_eq!(n.stats().routing_nodes, 0);
}

#[test]
fn no_nodes_no_lookup_and_lookup_limit() {
    let now = Instant::now();
    let mut n = one_node(now);
    assert_eq!(n.get_peers(now, NodeId([2; 20])), Err(DhtError::NoNodes));
    let mut c = DhtConfig::new(NodeId([1; 20]), [3; 32]);
    c.bootstrap = vec!["127.0.0.2:1".parse().unwrap()];
    let mut n = DhtNode::new(c, now);
    let mut ok = 1; // the bootstrap lookup
    while n.get_peers(now, NodeId([ok as u8; 20])).is_ok() {
        ok += 1;
        assert!(ok <= MAX_LOOKUPS);
    }
    assert_eq!(ok, MAX_LOOKUPS);
}

#[test]
fn table_save_and_load_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dht.dat");
    let t = SavedTable {
        id: NodeId([7; 20]),
        nodes: vec![
            NodeInfo {
                id: NodeId([1; 20]),
                addr: "127.0.0.1:1".parse().unwrap(),
            },
            NodeInfo {
                id: NodeId([2; 20]),
                addr: "[::1]:2".parse().unwrap(),
            },
        ],
    };
    save_table(&path, &t).unwrap();
    assert_eq!(load_table(&path).unwrap(), t);
    assert!(!dir.path().join("dht.dat.tmp").exists());
    std::fs::write(&path, b"d2:id3:abce").unwrap();
    assert_eq!(
        load_table(&path).unwrap_err().kind(),
        std::io::ErrorKind::InvalidData
    );
}

#[test]
fn own_get_peers_reports_peers_announced_to_us() {
    let now = Instant::now();
    let mut c = DhtConfig::new(NodeId([1; 20]), [3; 32]);
    c.bootstrap = vec!["127.0.0.2:6881".parse().unwrap()];
    let mut n = DhtNode::new(c, now);
    drain(&mut n);
    let from: SocketAddr = "127.0.0.7:6881".parse().unwrap();
    let ih = NodeId([0x42; 20]);
    let mut b = Vec::new();
    Message::query(
        b"g1".to_vec(),
        Query::GetPeers {
            id: NodeId([0xAA; 20]),
            info_hash: ih,
            want: Default::default(),
        },
    )
    .encode(&mut b);
    n.handle_packet(now, from, &b);
    let token = drain(&mut n)
        .into_iter()
        .find_map(|(_, m)| match m.body {
            Body::Response(r) => r.token,
            _ => None,
        })
        .unwrap();
    let mut b = Vec::new();
    Message::query(
        b"a1".to_vec(),
        Query::AnnouncePeer {
            id: NodeId([0xAA; 20]),
            info_hash: ih,
            port: 0,
            implied_port: true,
            token,
        },
    )
    .encode(&mut b);
    n.handle_packet(now, from, &b);
    drain(&mut n);
    let lid = n.get_peers(now, ih).unwrap();
    let ev =
        std::iter::from_fn(|| n.poll_event()).find(|e| matches!(e, DhtEvent::PeersFound { .. }));
    assert_eq!(
        ev,
        Some(DhtEvent::PeersFound {
            lookup: lid,
            info_hash: ih,
            peers: vec![from],
            source: None
        }),
        "implied port = source port"
    );
}
