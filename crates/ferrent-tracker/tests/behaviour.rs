//! Tracker behaviour over real sockets: scrape answers match the announces (HTTP and UDP),
//! the allow-list rejects unknown info-hashes and is reloaded, state survives a restart,
//! dictionary and IPv6 (`peers6`) replies.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use ferrent_core::Id20;
use ferrent_proto::tracker::{
    AnnounceResponse, Event, HttpReply, ScrapeRequest, ScrapeResponse, ScrapeStats, UdpRequest,
    UdpResponse,
};
use ferrent_tracker::{Config, Tracker};

async fn http_announce(http: SocketAddr, q: &str) -> HttpReply<AnnounceResponse> {
    let (_, body) = get(http, &format!("/announce?{q}")).await;
    AnnounceResponse::decode(&body).expect("valid reply")
}

async fn http_scrape(http: SocketAddr, hashes: &[Id20]) -> HttpReply<ScrapeResponse> {
    let mut q = String::new();
    ScrapeRequest {
        info_hashes: hashes.to_vec(),
    }
    .write_query(&mut q);
    let (_, body) = get(http, &format!("/scrape?{q}")).await;
    ScrapeResponse::decode(&body).expect("valid scrape reply")
}

#[tokio::test]
async fn scrape_matches_announces() {
    let t = start().await;
    let http = t.http_addr().unwrap();
    let (a, b, unknown) = (Id20([0xa; 20]), Id20([0xb; 20]), Id20([0xc; 20]));
    // Swarm a: 2 seeds (one completed), 3 leechers of which one stops again.
    http_announce(http, &announce_query(a, 1, 1001, 0, Event::Started)).await;
    http_announce(http, &announce_query(a, 2, 1002, 10, Event::Started)).await;
    http_announce(http, &announce_query(a, 2, 1002, 0, Event::Completed)).await;
    for port in 1003..=1005 {
        http_announce(http, &announce_query(a, 3, port, 10, Event::Started)).await;
    }
    http_announce(http, &announce_query(a, 3, 1005, 10, Event::Stopped)).await;
    // Swarm b over UDP: 1 leecher.
    let c = UdpClient::new(t.udp_addr().unwrap()).await;
    let id = c.connect().await;
    c.request(&udp_announce(id, b, 2001, 5, Event::Started))
        .await
        .unwrap();

    let want_a = ScrapeStats {
        complete: 2,
        downloaded: 1,
        incomplete: 2,
    };
    let want_b = ScrapeStats {
        complete: 0,
        downloaded: 0,
        incomplete: 1,
    };
    let HttpReply::Success(s) = http_scrape(http, &[a, b, unknown]).await else {
        panic!()
    };
    assert_eq!(
        s.files,
        [(a, want_a), (b, want_b)],
        "unknown hashes are left out"
    );
    let r = c
        .request(&UdpRequest::Scrape {
            connection_id: id,
            transaction_id: 3,
            info_hashes: vec![unknown, b, a],
        })
        .await;
    assert_eq!(
        r,
        Some(UdpResponse::Scrape {
            transaction_id: 3,
            stats: vec![ScrapeStats::default(), want_b, want_a]
        })
    );
    // The announce reply's counters agree too.
    let HttpReply::Success(r) =
        http_announce(http, &announce_query(a, 9, 1009, 0, Event::None)).await
    else {
        panic!()
    };
    assert_eq!((r.complete, r.incomplete), (Some(3), Some(2)));
    assert_eq!(r.peers.len(), 4, "everybody but the announcer");
    // A scrape without info_hash (full scrape) is refused.
    let (_, body) = get(http, "/scrape").await;
    assert!(matches!(
        ScrapeResponse::decode(&body),
        Ok(HttpReply::Failure(_))
    ));
    t.shutdown().await.unwrap();
}

#[tokio::test]
async fn allow_list_rejects_unknown_info_hash_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let allow = dir.path().join("allow.txt");
    let (ok, other) = (Id20([1; 20]), Id20([2; 20]));
    std::fs::write(&allow, format!("# private\n{}\n", ok.to_hex())).unwrap();
    let t = Tracker::bind(Config {
        allow_file: Some(allow.clone()),
        ..config()
    })
    .await
    .unwrap();
    let http = t.http_addr().unwrap();
    assert!(matches!(
        http_announce(http, &announce_query(ok, 1, 1, 0, Event::Started)).await,
        HttpReply::Success(_)
    ));
    match http_announce(http, &announce_query(other, 1, 1, 0, Event::Started)).await {
        HttpReply::Failure(r) => assert!(r.contains("not allowed"), "{r}"),
        r => panic!("{r:?}"),
    }
    let c = UdpClient::new(t.udp_addr().unwrap()).await;
    let id = c.connect().await;
    match c
        .request(&udp_announce(id, other, 5, 0, Event::Started))
        .await
    {
        Some(UdpResponse::Error { message, .. }) => assert!(message.contains("not allowed")),
        r => panic!("{r:?}"),
    }
    let HttpReply::Success(s) = http_scrape(http, &[ok, other]).await else {
        panic!()
    };
    assert_eq!(s.files.len(), 1);
    // Swap the list: `other` in, `ok` out (its swarm is dropped). Reload within a few polls.
    std::fs::write(&allow, format!("{}\n", other.to_hex())).unwrap();
    let mut reloaded = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let HttpReply::Success(_) =
            http_announce(http, &announce_query(other, 1, 2, 0, Event::Started)).await
        {
            reloaded = true;
            break;
        }
    }
    assert!(reloaded, "allow-list change picked up within 10 s");
    assert!(matches!(
        http_announce(http, &announce_query(ok, 1, 1, 0, Event::None)).await,
        HttpReply::Failure(_)
    ));
    assert_eq!(t.stats().counts.swarms, 1);
    // A broken list keeps the previous one.
    std::fs::write(&allow, "not a hash\n").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(matches!(
        http_announce(http, &announce_query(other, 1, 2, 0, Event::None)).await,
        HttpReply::Success(_)
    ));
    t.shutdown().await.unwrap();
    // A bad list at start is an error.
    assert!(
        Tracker::bind(Config {
            allow_file: Some(allow),
            ..config()
        })
        .await
        .is_err()
    );
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("tracker.state");
    let ih = Id20([7; 20]);
    let t = Tracker::bind(Config {
        state_file: Some(state.clone()),
        ..config()
    })
    .await
    .unwrap();
    let http = t.http_addr().unwrap();
    http_announce(http, &announce_query(ih, 1, 1001, 10, Event::Started)).await;
    http_announce(http, &announce_query(ih, 1, 1001, 0, Event::Completed)).await;
    http_announce(http, &announce_query(ih, 2, 1002, 10, Event::Started)).await;
    t.shutdown().await.unwrap();
    assert!(
        std::fs::read_to_string(&state)
            .unwrap()
            .starts_with("ferrent-tracker-state 1\n")
    );

    let t = Tracker::bind(Config {
        state_file: Some(state),
        ..config()
    })
    .await
    .unwrap();
    let HttpReply::Success(s) = http_scrape(t.http_addr().unwrap(), &[ih]).await else {
        panic!()
    };
    assert_eq!(
        s.files,
        [(
            ih,
            ScrapeStats {
                complete: 1,
                downloaded: 1,
                incomplete: 1
            }
        )]
    );
    let HttpReply::Success(r) = http_announce(
        t.http_addr().unwrap(),
        &announce_query(ih, 3, 1003, 10, Event::Started),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(r.peers.len(), 2, "restored peers are handed out");
    t.shutdown().await.unwrap();
}

#[tokio::test]
async fn dictionary_form_and_ipv6_peers6() {
    let Ok(probe) = std::net::UdpSocket::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here; skipping");
        return;
    };
    drop(probe);
    let any6: SocketAddr = "[::1]:0".parse().unwrap();
    let t = Tracker::bind(Config {
        http: Some(any6),
        udp: Some(any6),
        ..config()
    })
    .await
    .unwrap();
    let http = t.http_addr().unwrap();
    let ih = Id20([6; 20]);
    http_announce(http, &announce_query(ih, 1, 1001, 0, Event::Started)).await;
    // Compact: IPv6 peers go to peers6 (BEP 7).
    let (_, body) = get(
        http,
        &format!(
            "/announce?{}",
            announce_query(ih, 2, 1002, 5, Event::Started)
        ),
    )
    .await;
    let raw = ferrent_bencode::decode(&body).unwrap();
    let d = raw.as_dict().unwrap();
    assert_eq!(d.get_bytes(b"peers"), Some(&b""[..]));
    let mut want6 = std::net::Ipv6Addr::LOCALHOST.octets().to_vec();
    want6.extend_from_slice(&1001u16.to_be_bytes());
    assert_eq!(d.get_bytes(b"peers6"), Some(&want6[..]));
    // Dictionary form when compact=0.
    let q = announce_query(ih, 3, 1003, 5, Event::Started).replace("compact=1", "compact=0");
    let (_, body) = get(http, &format!("/announce?{q}")).await;
    let raw = ferrent_bencode::decode(&body).unwrap();
    let peers = raw.as_dict().unwrap().get_list(b"peers").unwrap();
    assert_eq!(peers.len(), 2);
    let HttpReply::Success(r) = AnnounceResponse::decode(&body).unwrap() else {
        panic!()
    };
    let mut ports: Vec<u16> = r.peers.iter().map(|p| p.addr.port()).collect();
    ports.sort();
    assert_eq!(ports, [1001, 1002]);
    // UDP over IPv6: 18-byte peers.
    let sock = tokio::net::UdpSocket::bind(any6).await.unwrap();
    let mut out = Vec::new();
    UdpRequest::Connect { transaction_id: 1 }.encode(&mut out);
    sock.send_to(&out, t.udp_addr().unwrap()).await.unwrap();
    let mut buf = [0u8; 2048];
    let n = tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let Ok(UdpResponse::Connect { connection_id, .. }) = UdpResponse::decode(&buf[..n], true)
    else {
        panic!()
    };
    out.clear();
    udp_announce(connection_id, ih, 1004, 5, Event::Started).encode(&mut out);
    sock.send_to(&out, t.udp_addr().unwrap()).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    match UdpResponse::decode(&buf[..n], true) {
        Ok(UdpResponse::Announce(a)) => assert_eq!(a.peers.len(), 3),
        r => panic!("{r:?}"),
    }
    t.shutdown().await.unwrap();
}
