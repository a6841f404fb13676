//! Helpers shared by the integration tests: start a tracker on free loopback ports, a raw HTTP
//! GET, and a UDP client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use ferrent_core::Id20;
use ferrent_proto::tracker::{AnnounceRequest, Event, UdpAnnounceRequest, UdpRequest, UdpResponse};
use ferrent_tracker::{Config, RunningTracker, Tracker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// A config serving HTTP and UDP on 127.0.0.1 with OS-chosen ports and a short interval.
pub fn config() -> Config {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    Config {
        http: Some(any),
        udp: Some(any),
        interval: Duration::from_secs(5),
        ..Config::default()
    }
}

pub async fn start() -> RunningTracker {
    Tracker::bind(config()).await.expect("tracker starts")
}

/// Sends raw request bytes and returns (status line, body). Bounded by a 10 s timeout.
pub async fn raw_http(addr: SocketAddr, request: &[u8]) -> (String, Vec<u8>) {
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        // The server may close early on an oversized request; ignore write errors then.
        let _ = s.write_all(request).await;
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        let text_end = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(buf.len(), |p| p + 4);
        let head = String::from_utf8_lossy(&buf[..text_end]).to_string();
        let status = head.lines().next().unwrap_or("").to_string();
        (status, buf[text_end..].to_vec())
    })
    .await
    .expect("HTTP exchange within 10 s")
}

/// GET `path_and_query`; returns (status line, body).
pub async fn get(addr: SocketAddr, path_and_query: &str) -> (String, Vec<u8>) {
    let req = format!("GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    raw_http(addr, req.as_bytes()).await
}

/// An announce from the given peer id / port / left, with the query built by the codec.
pub fn announce_query(ih: Id20, peer: u8, port: u16, left: u64, event: Event) -> String {
    let mut r = AnnounceRequest::new(ih, Id20([peer; 20]), port);
    r.left = left;
    r.event = event;
    let mut q = String::new();
    r.write_query(&mut q);
    q
}

/// A UDP client socket on 127.0.0.1.
pub struct UdpClient {
    pub sock: UdpSocket,
    pub tracker: SocketAddr,
}

impl UdpClient {
    pub async fn new(tracker: SocketAddr) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
        UdpClient { sock, tracker }
    }

    pub async fn send_raw(&self, b: &[u8]) {
        self.sock.send_to(b, self.tracker).await.expect("send");
    }

    /// The next reply, or `None` after `wait`.
    pub async fn recv(&self, wait: Duration) -> Option<UdpResponse> {
        let mut buf = vec![0u8; 4096];
        let (n, _) = tokio::time::timeout(wait, self.sock.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        UdpResponse::decode(&buf[..n], false).ok()
    }

    pub async fn request(&self, r: &UdpRequest) -> Option<UdpResponse> {
        let mut out = Vec::new();
        r.encode(&mut out);
        self.send_raw(&out).await;
        self.recv(Duration::from_secs(2)).await
    }

    pub async fn connect(&self) -> u64 {
        match self
            .request(&UdpRequest::Connect { transaction_id: 42 })
            .await
        {
            Some(UdpResponse::Connect {
                transaction_id: 42,
                connection_id,
            }) => connection_id,
            other => panic!("connect: {other:?}"),
        }
    }
}

pub fn udp_announce(
    connection_id: u64,
    ih: Id20,
    port: u16,
    left: u64,
    event: Event,
) -> UdpRequest {
    UdpRequest::Announce(UdpAnnounceRequest {
        connection_id,
        transaction_id: 7,
        info_hash: ih,
        peer_id: Id20([port as u8; 20]),
        downloaded: 0,
        left,
        uploaded: 0,
        event,
        ip: std::net::Ipv4Addr::UNSPECIFIED,
        key: 1,
        num_want: -1,
        port,
    })
}

/// The RSS of this process in KiB (Linux).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
