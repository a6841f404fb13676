//! The HTTP announce path against a scripted tracker on 127.0.0.1. No tracker program we can
//! run (opentracker, bittorrent-tracker) sends a `tracker id`, so a few lines of TCP stand in.

use std::time::Duration;

use ferrent_proto::tracker::Event;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// Answers `replies.len()` HTTP requests with the given bencoded bodies, returning the request
/// lines (method, path and query) it saw.
async fn scripted_tracker(replies: Vec<Vec<u8>>) -> (String, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/announce", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let mut seen = Vec::new();
        for body in replies {
            let Ok((mut sock, _)) = listener.accept().await else {
                break;
            };
            let mut buf = vec![0u8; 8192];
            let mut len = 0;
            while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
                match sock.read(&mut buf[len..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => len += n,
                }
            }
            let head = String::from_utf8_lossy(&buf[..len]).to_string();
            seen.push(head.lines().next().unwrap_or_default().to_string());
            let mut reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            reply.extend_from_slice(&body);
            let _ = sock.write_all(&reply).await;
        }
        seen
    });
    (url, task)
}

fn params() -> AnnounceParams {
    AnnounceParams {
        info_hash: Id20([7; 20]),
        peer_id: Id20(*b"-FE0001-abcdefghijkl"),
        port: 6881,
        uploaded: 0,
        downloaded: 0,
        left: 100,
        event: Event::Started,
        num_want: 50,
        key: 1,
    }
}

fn client() -> TrackerClient {
    TrackerClient::new(TrackerClientConfig {
        http_timeout: Duration::from_secs(5),
        ..TrackerClientConfig::default()
    })
    .expect("client")
}

#[tokio::test]
async fn tracker_id_from_a_reply_is_sent_back_on_the_next_announce() {
    let with_id = b"d8:intervali60e10:tracker id6:xyz-425:peers0:e".to_vec();
    let without = b"d8:intervali60e5:peers0:e".to_vec();
    let (url, tracker) = scripted_tracker(vec![with_id, without.clone(), without]).await;
    let c = client();
    let mut p = params();
    c.announce(&url, &p).await.expect("first announce");
    p.event = Event::None;
    c.announce(&url, &p).await.expect("second announce");
    // A reply without an id keeps the last one (BEP 3: send it back "if a previous announce
    // contained a tracker id").
    c.announce(&url, &p).await.expect("third announce");
    let seen = tracker.await.expect("tracker task");
    assert_eq!(seen.len(), 3);
    assert!(!seen[0].contains("trackerid="), "{}", seen[0]);
    assert!(seen[1].contains("trackerid=xyz-42"), "{}", seen[1]);
    assert!(seen[2].contains("trackerid=xyz-42"), "{}", seen[2]);
}

#[tokio::test]
async fn tracker_ids_are_kept_per_torrent() {
    let with_id = b"d8:intervali60e10:tracker id3:onee".to_vec();
    let without = b"d8:intervali60e5:peers0:e".to_vec();
    let (url, tracker) = scripted_tracker(vec![with_id, without]).await;
    let c = client();
    let mut p = params();
    c.announce(&url, &p).await.expect("first torrent");
    p.info_hash = Id20([8; 20]);
    c.announce(&url, &p).await.expect("second torrent");
    let seen = tracker.await.expect("tracker task");
    assert!(!seen[1].contains("trackerid="), "{}", seen[1]);
}

#[tokio::test]
async fn an_oversized_tracker_id_is_not_echoed() {
    let long = "x".repeat(MAX_TOKEN_LEN + 1);
    let with_id = format!("d8:intervali60e10:tracker id{}:{long}e", long.len()).into_bytes();
    let without = b"d8:intervali60e5:peers0:e".to_vec();
    let (url, tracker) = scripted_tracker(vec![with_id, without]).await;
    let c = client();
    let p = params();
    c.announce(&url, &p).await.expect("first announce");
    c.announce(&url, &p).await.expect("second announce");
    let seen = tracker.await.expect("tracker task");
    assert!(!seen[1].contains("trackerid="), "{}", seen[1]);
}

#[tokio::test]
async fn a_udp_tracker_with_nothing_listening_fails_at_once_as_refused() {
    // A port nobody listens on: bind, note the port, close.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port();
    let c = TrackerClient::new(TrackerClientConfig {
        udp_bind_v4: SocketAddr::from(([127, 0, 0, 1], 0)),
        // BEP 15 timing: without the ICMP check this would retransmit for 105 s.
        udp_retry: UdpRetry::default(),
        ..TrackerClientConfig::default()
    })
    .expect("client");
    let err = c
        .announce(&format!("udp://127.0.0.1:{port}/announce"), &params())
        .await
        .expect_err("nothing listens there");
    assert!(err.to_string().contains("refused"), "{err}");
}
