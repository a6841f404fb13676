//! Issue 6's hostile-input list, one test each: every bad request gets a `failure reason` or
//! is dropped, the tracker keeps serving, and memory stays bounded.

mod common;

use std::time::Duration;

use common::*;
use ferrent_core::Id20;
use ferrent_proto::tracker::{
    AnnounceResponse, Event, HttpReply, UDP_PROTOCOL_ID, UdpRequest, UdpResponse,
};

fn failure(body: &[u8]) -> String {
    match AnnounceResponse::decode(body) {
        Ok(HttpReply::Failure(r)) => r,
        other => panic!("expected a failure reason, got {other:?}"),
    }
}

const IH: &str = "%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A";
const PID: &str = "-FE0001-abcdefghijkl";

#[tokio::test]
async fn malformed_parameters_get_a_failure_reason() {
    let t = start().await;
    let http = t.http_addr().unwrap();
    for (query, needle) in [
        (
            format!("peer_id={PID}&port=1"),
            "missing parameter info_hash",
        ),
        (
            format!("info_hash={IH}&port=1"),
            "missing parameter peer_id",
        ),
        (
            format!("info_hash={IH}&peer_id={PID}"),
            "missing parameter port",
        ),
        (format!("info_hash={IH}&peer_id={PID}&port=abc"), "port"),
        (format!("info_hash={IH}&peer_id={PID}&port=65536"), "port"),
        (
            format!("info_hash={IH}&peer_id={PID}&port=0"),
            "invalid port",
        ),
        (
            format!("info_hash={IH}&peer_id={PID}&port=1&left=-5"),
            "left",
        ),
        (
            format!("info_hash={IH}&peer_id={PID}&port=1&uploaded=1e9"),
            "uploaded",
        ),
        (
            format!("info_hash={IH}&peer_id={PID}&port=1&event=explode"),
            "event",
        ),
        (
            format!("info_hash={IH}&peer_id={PID}&port=1&compact=2"),
            "compact",
        ),
        (format!("info_hash=%zz{IH}&peer_id={PID}&port=1"), "percent"),
        (
            format!("info_hash={IH}&info_hash={IH}&peer_id={PID}&port=1"),
            "more than once",
        ),
        (String::new(), "missing parameter info_hash"),
    ] {
        let (status, body) = get(http, &format!("/announce?{query}")).await;
        assert!(status.contains("200"), "{query}: {status}");
        let reason = failure(&body);
        assert!(
            reason.contains(needle),
            "{query}: {reason:?} lacks {needle:?}"
        );
    }
    assert_eq!(t.stats().counts.peers, 0, "nothing malformed was stored");
    assert!(t.stats().http_failures >= 13);
    t.shutdown().await.unwrap();
}

#[tokio::test]
async fn wrong_lengths_are_named() {
    let t = start().await;
    let http = t.http_addr().unwrap();
    for (ih, pid, needle) in [
        (
            "%12".repeat(19),
            PID.to_string(),
            "info_hash is 19 bytes; expected 20",
        ),
        (
            "%12".repeat(21),
            PID.to_string(),
            "info_hash is 21 bytes; expected 20",
        ),
        (
            IH.to_string(),
            "short".to_string(),
            "peer_id is 5 bytes; expected 20",
        ),
        (
            IH.to_string(),
            "x".repeat(40),
            "peer_id is 40 bytes; expected 20",
        ),
    ] {
        let (_, body) = get(
            http,
            &format!("/announce?info_hash={ih}&peer_id={pid}&port=1"),
        )
        .await;
        let reason = failure(&body);
        assert!(reason.contains(needle), "{reason:?} lacks {needle:?}");
    }
    let (_, body) = get(http, "/scrape?info_hash=abc").await;
    assert!(failure(&body).contains("info_hash is 3 bytes"));
    t.shutdown().await.unwrap();
}

#[tokio::test]
async fn huge_numwant_is_capped() {
    let t = start().await;
    let http = t.http_addr().unwrap();
    let ih = Id20([3; 20]);
    for port in 1000..1300u16 {
        // Distinct ports on one IP are distinct peers.
        let (_, body) = get(
            http,
            &format!(
                "/announce?{}&numwant=0",
                announce_query(ih, 1, port, 1, Event::Started)
            ),
        )
        .await;
        assert!(matches!(
            AnnounceResponse::decode(&body),
            Ok(HttpReply::Success(_))
        ));
    }
    let q = format!(
        "{}&numwant=99999999999999999999",
        announce_query(ih, 2, 2000, 1, Event::None)
    );
    let (_, body) = get(http, &format!("/announce?{q}")).await;
    let Ok(HttpReply::Success(r)) = AnnounceResponse::decode(&body) else {
        panic!("{body:?}")
    };
    assert_eq!(r.peers.len(), ferrent_tracker::limits::MAX_NUMWANT as usize);
    assert_eq!(r.incomplete, Some(301));
    t.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversized_requests_are_bounded() {
    let t = start().await;
    let http = t.http_addr().unwrap();
    // Over the codec's query limit: a failure reason.
    let q = format!(
        "info_hash={IH}&peer_id={PID}&port=1&pad={}",
        "a".repeat(10_000)
    );
    let (status, body) = get(http, &format!("/announce?{q}")).await;
    assert!(status.contains("200"), "{status}");
    assert!(failure(&body).contains("query string is"), "{body:?}");
    // A 2 MB request line / header: refused by the HTTP layer (4xx or closed), not buffered.
    let huge = format!(
        "GET /announce?x={} HTTP/1.1\r\nHost: a\r\n\r\n",
        "a".repeat(2 << 20)
    );
    let (status, _) = raw_http(http, huge.as_bytes()).await;
    assert!(status.is_empty() || status.contains(" 4"), "{status}");
    let huge_header = format!(
        "GET /announce HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "b".repeat(2 << 20)
    );
    let (status, _) = raw_http(http, huge_header.as_bytes()).await;
    assert!(status.is_empty() || status.contains(" 4"), "{status}");
    // Not a GET to a known path.
    let (status, _) = get(http, "/etc/passwd").await;
    assert!(status.contains("404"), "{status}");
    // Still serving.
    let (_, body) = get(
        http,
        &format!(
            "/announce?{}",
            announce_query(Id20([1; 20]), 1, 1, 0, Event::Started)
        ),
    )
    .await;
    assert!(matches!(
        AnnounceResponse::decode(&body),
        Ok(HttpReply::Success(_))
    ));
    t.shutdown().await.unwrap();
}

#[tokio::test]
async fn garbage_udp_is_dropped() {
    let t = start().await;
    let c = UdpClient::new(t.udp_addr().unwrap()).await;
    let mut wrong_magic = Vec::new();
    UdpRequest::Connect { transaction_id: 1 }.encode(&mut wrong_magic);
    wrong_magic[7] ^= 0xff;
    let mut unknown_action = Vec::new();
    UdpRequest::Connect { transaction_id: 1 }.encode(&mut unknown_action);
    unknown_action[11] = 9;
    let short_announce = {
        let mut v = Vec::new();
        udp_announce(1, Id20([1; 20]), 1, 0, Event::None).encode(&mut v);
        v.truncate(97);
        v
    };
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff],
        vec![0; 15],
        wrong_magic,
        unknown_action,
        short_announce,
        (0..1500u32).map(|i| (i * 7919 % 251) as u8).collect(),
        vec![0xab; 65_000],
    ];
    for g in &garbage {
        c.send_raw(g).await;
    }
    assert_eq!(
        c.recv(Duration::from_millis(500)).await,
        None,
        "no reply to garbage"
    );
    assert!(
        t.stats().udp_malformed >= garbage.len() as u64 - 1,
        "{:?}",
        t.stats()
    );
    // Still serving.
    let id = c.connect().await;
    let r = c
        .request(&udp_announce(id, Id20([1; 20]), 1000, 0, Event::Started))
        .await;
    assert!(matches!(r, Some(UdpResponse::Announce(_))), "{r:?}");
    t.shutdown().await.unwrap();
}

#[tokio::test]
async fn forged_and_replayed_connection_ids_are_dropped() {
    let t = start().await;
    let a = UdpClient::new(t.udp_addr().unwrap()).await;
    let b = UdpClient::new(t.udp_addr().unwrap()).await;
    let ih = Id20([5; 20]);
    // Forged: an id never issued (the protocol id itself, 0, and a guess).
    for forged in [UDP_PROTOCOL_ID, 0, 0x1234_5678_9abc_def0] {
        assert_eq!(
            a.request(&udp_announce(forged, ih, 1000, 0, Event::Started))
                .await,
            None
        );
    }
    // Replayed from another address: a's id used by b.
    let id_a = a.connect().await;
    assert_eq!(
        b.request(&udp_announce(id_a, ih, 1001, 0, Event::Started))
            .await,
        None
    );
    let scrape = UdpRequest::Scrape {
        connection_id: id_a,
        transaction_id: 1,
        info_hashes: vec![ih],
    };
    assert_eq!(b.request(&scrape).await, None);
    assert_eq!(t.stats().udp_bad_connection_id, 5);
    assert_eq!(t.stats().counts.peers, 0, "nothing stored from a bad id");
    // The owner can use it. (Expiry after two windows is tested with a fake clock in connid.rs.)
    let r = a
        .request(&udp_announce(id_a, ih, 1000, 0, Event::Started))
        .await;
    assert!(matches!(r, Some(UdpResponse::Announce(_))), "{r:?}");
    t.shutdown().await.unwrap();
}

#[tokio::test]
async fn connect_flood_keeps_memory_bounded() {
    let t = start().await;
    let c = UdpClient::new(t.udp_addr().unwrap()).await;
    let mut pkt = Vec::new();
    UdpRequest::Connect { transaction_id: 1 }.encode(&mut pkt);
    // Warm up, then measure.
    for _ in 0..1000 {
        c.send_raw(&pkt).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_kib();
    let senders: Vec<_> = (0..8)
        .map(|_| {
            let tracker = t.udp_addr().unwrap();
            let pkt = pkt.clone();
            tokio::spawn(async move {
                // Each sender has its own address: many distinct clients.
                let c = UdpClient::new(tracker).await;
                for _ in 0..10_000 {
                    c.send_raw(&pkt).await;
                }
            })
        })
        .collect();
    for s in senders {
        s.await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = rss_kib();
    let st = t.stats();
    assert!(
        st.udp_connects > 10_000,
        "the tracker answered the flood: {st:?}"
    );
    assert_eq!(st.counts.peers, 0);
    assert!(
        after.saturating_sub(before) < 16 * 1024,
        "RSS grew {before} -> {after} KiB"
    );
    // Still serving (a fresh client: `c`'s buffer is full of flood replies).
    let c = UdpClient::new(t.udp_addr().unwrap()).await;
    let id = c.connect().await;
    assert!(matches!(
        c.request(&udp_announce(id, Id20([1; 20]), 9, 0, Event::None))
            .await,
        Some(UdpResponse::Announce(_))
    ));
    t.shutdown().await.unwrap();
}

/// Waits (bounded) until the server closes `s`: a read returns end-of-file or an error.
/// Returns whether it did within `limit`.
async fn closed_within(s: &mut tokio::net::TcpStream, limit: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 256];
    tokio::time::timeout(limit, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn slowloris_headers_are_cut_off() {
    use tokio::io::AsyncWriteExt;
    let t = ferrent_tracker::Tracker::bind(ferrent_tracker::Config {
        http_header_timeout: Duration::from_secs(1),
        ..config()
    })
    .await
    .unwrap();
    let http = t.http_addr().unwrap();
    // Half a request line, then a byte every 300 ms: never a complete header.
    let mut slow = tokio::net::TcpStream::connect(http).await.unwrap();
    slow.write_all(b"GET /announce?info_hash=").await.unwrap();
    let trickle = async {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if slow.write_all(b"a").await.is_err() {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), trickle)
        .await
        .expect("the server stops reading within 10 s");
    assert!(
        closed_within(&mut slow, Duration::from_secs(10)).await,
        "a slow header is cut off"
    );
    // A connection that sends nothing at all is closed too.
    let mut idle = tokio::net::TcpStream::connect(http).await.unwrap();
    assert!(closed_within(&mut idle, Duration::from_secs(10)).await);
    // Normal requests are still served.
    let (status, body) = get(
        http,
        &format!(
            "/announce?{}",
            announce_query(Id20([2; 20]), 1, 1, 0, Event::Started)
        ),
    )
    .await;
    assert!(status.contains("200"), "{status}");
    assert!(matches!(
        AnnounceResponse::decode(&body),
        Ok(HttpReply::Success(_))
    ));
    t.shutdown().await.unwrap();
}

#[tokio::test]
async fn http_connections_are_capped() {
    let t = ferrent_tracker::Tracker::bind(ferrent_tracker::Config {
        http_max_connections: 4,
        ..config()
    })
    .await
    .unwrap();
    let http = t.http_addr().unwrap();
    // Four idle connections hold every slot (the header timeout is 10 s by default).
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(tokio::net::TcpStream::connect(http).await.unwrap());
    }
    // Let the server accept them all before the fifth arrives.
    for _ in 0..100 {
        if t.stats().http_rejected > 0 {
            break;
        }
        let mut extra = tokio::net::TcpStream::connect(http).await.unwrap();
        if closed_within(&mut extra, Duration::from_millis(200)).await {
            break;
        }
    }
    assert!(
        t.stats().http_rejected >= 1,
        "a fifth connection is refused"
    );
    let mut extra = tokio::net::TcpStream::connect(http).await.unwrap();
    assert!(
        closed_within(&mut extra, Duration::from_secs(5)).await,
        "closed at once"
    );
    // The idle ones are still open, and once they go, requests are served again.
    drop(idle);
    let q = format!(
        "/announce?{}",
        announce_query(Id20([3; 20]), 1, 1, 0, Event::Started)
    );
    let mut served = false;
    for _ in 0..50 {
        let (status, body) = get(http, &q).await;
        if status.contains("200") {
            assert!(matches!(
                AnnounceResponse::decode(&body),
                Ok(HttpReply::Success(_))
            ));
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "served again after the idle connections closed");
    t.shutdown().await.unwrap();
}
