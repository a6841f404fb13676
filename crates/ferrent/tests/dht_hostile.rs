//! Hostile input against a running DHT node (BEP 5) over real UDP on loopback: garbage datagrams,
//! a query flood from one address, and an announce flood from 200 addresses with valid write
//! tokens for more info-hashes than the peer store holds. The node must not crash, must count
//! what it dropped, must keep its peer store within its caps, and must still answer a newcomer.
//! No real DHT program sends garbage on purpose, so the test plays the attacker with raw sockets.

// An integration test drives real time.
#![allow(clippy::disallowed_methods)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use ferrent::dht::{Dht, DhtConfig, MAX_INFOHASHES, MAX_PEERS_PER_INFOHASH};
use ferrent_proto::dht::{Body, Message, NodeId};
use sha1::{Digest, Sha1};
use tokio::net::UdpSocket;

fn id(seed: &str) -> [u8; 20] {
    Sha1::digest(seed.as_bytes()).into()
}

fn bstr(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("{}:", b.len()).as_bytes());
    out.extend_from_slice(b);
}

/// A KRPC query written out by hand (not with our encoder): `args` are (key, bencoded value).
fn query(tid: &[u8], method: &str, args: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = b"d1:ad".to_vec();
    for (k, v) in args {
        bstr(&mut out, k.as_bytes());
        out.extend_from_slice(v);
    }
    out.extend_from_slice(b"e1:q");
    bstr(&mut out, method.as_bytes());
    out.extend_from_slice(b"1:t");
    bstr(&mut out, tid);
    out.extend_from_slice(b"1:y1:qe");
    out
}

fn s(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    bstr(&mut out, b);
    out
}

/// Waits (bounded) for one datagram from `from`.
async fn reply(sock: &UdpSocket, wait: Duration) -> Option<Message> {
    let mut buf = vec![0u8; 2048];
    let (n, _) = tokio::time::timeout(wait, sock.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    Message::decode(buf.get(..n)?).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_floods_and_announce_floods_leave_the_node_bounded_and_answering() {
    let mut secret = [0u8; 32];
    secret[..20].copy_from_slice(&id("dht hostile secret"));
    let config = DhtConfig::new(NodeId(id("dht hostile node")), secret);
    let (dht, _events) = Dht::bind("127.0.0.70:0".parse().expect("addr"), config)
        .await
        .expect("bind node");
    let node = dht.local_addr();

    // 1. Garbage: random bytes, truncated and lying bencode, wrong types, huge declared lengths.
    let junk = UdpSocket::bind("127.0.0.71:0").await.expect("bind");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut sent_garbage = 0u64;
    let fixed: [&[u8]; 8] = [
        b"d1:ad2:id20:",
        b"d1:y1:q1:q4:ping1:t99999999999:xe",
        b"d1:ad2:idi5ee1:q4:ping1:t2:aa1:y1:qe",
        b"d1:rd2:id20:aaaaaaaaaaaaaaaaaaaa5:nodes7:abcdefge1:t2:zz1:y1:re",
        b"l",
        b"",
        b"d1:ad2:id20:aaaaaaaaaaaaaaaaaaaa6:target20:bbbbbbbbbbbbbbbbbbbbe1:q9:find_node1:t0:1:y1:qe",
        b"i-0e",
    ];
    for i in 0..6000u32 {
        let mut pkt = Vec::new();
        if i % 4 == 0 {
            pkt.extend_from_slice(fixed[(i as usize / 4) % fixed.len()]);
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 1400) as usize;
            pkt.extend((0..len).map(|k| (x >> (k % 56)) as u8));
        }
        if junk.send_to(&pkt, node).await.is_ok() {
            sent_garbage += 1;
        }
        // Paced so the kernel's receive buffer does not drop most of it before the node reads.
        if i % 64 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    // 2. A ping flood from one address: the per-IP limit answers a burst and drops the rest.
    let flood = UdpSocket::bind("127.0.0.72:0").await.expect("bind");
    let ping = query(b"pp", "ping", &[("id", s(&id("flooder")))]);
    for i in 0..3000 {
        let _ = flood.send_to(&ping, node).await;
        if i % 64 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    // 3. An announce flood: 200 addresses, each asks for tokens and announces 12 info-hashes,
    // 2400 in all: more than the peer store keeps.
    let mut tried = 0u32;
    for a in 1..=200u8 {
        let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 1, a));
        let sock = UdpSocket::bind(SocketAddr::new(ip, 0)).await.expect("bind");
        let me = s(&id(&format!("attacker {a}")));
        for h in 0..12u32 {
            let ih = id(&format!("info-hash {a} {h}"));
            let gp = query(
                b"gp",
                "get_peers",
                &[("id", me.clone()), ("info_hash", s(&ih))],
            );
            let _ = sock.send_to(&gp, node).await;
            let Some(Message {
                body: Body::Response(r),
                ..
            }) = reply(&sock, Duration::from_millis(500)).await
            else {
                continue;
            };
            let Some(token) = r.token else { continue };
            let ap = query(
                b"ap",
                "announce_peer",
                &[
                    ("id", me.clone()),
                    ("info_hash", s(&ih)),
                    ("port", b"i6881e".to_vec()),
                    ("token", s(&token)),
                ],
            );
            let _ = sock.send_to(&ap, node).await;
            // Stored, or refused with an error once the store is full: either way answered.
            if reply(&sock, Duration::from_millis(500)).await.is_some() {
                tried += 1;
            }
        }
    }

    // 4. A newcomer still gets an answer.
    let newcomer = UdpSocket::bind("127.0.0.73:0").await.expect("bind");
    let ping = query(b"nc", "ping", &[("id", s(&id("newcomer")))]);
    let mut answered = false;
    for _ in 0..10 {
        let _ = newcomer.send_to(&ping, node).await;
        if let Some(m) = reply(&newcomer, Duration::from_millis(500)).await {
            answered = matches!(m.body, Body::Response(_)) && m.transaction_id == b"nc";
            break;
        }
    }
    let stats = dht.stats().await.expect("the node is alive");
    eprintln!("garbage sent {sent_garbage}, announces answered {tried}, stats {stats:?}");
    assert!(answered, "the node no longer answers a new node");
    assert!(
        stats.malformed >= sent_garbage / 2,
        "garbage was not counted as malformed: {stats:?}"
    );
    assert!(
        stats.rate_limited > 1500,
        "the ping flood was not limited: {stats:?}"
    );
    assert!(
        tried as usize > MAX_INFOHASHES,
        "the flood did not reach the store's cap ({tried} announces answered)"
    );
    let (hashes, peers) = stats.stored;
    assert!(hashes <= MAX_INFOHASHES, "{hashes} info-hashes stored");
    assert!(
        peers <= MAX_INFOHASHES * MAX_PEERS_PER_INFOHASH,
        "{peers} peers stored"
    );
}
