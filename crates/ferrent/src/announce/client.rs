//! [`TrackerClient`]: performs one announce against one tracker URL, HTTP(S) or UDP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferrent_core::Id20;
use ferrent_proto::tracker::{
    AnnounceRequest, AnnounceResponse, HttpReply, MAX_HTTP_RESPONSE_LEN, MAX_TOKEN_LEN,
    MAX_UDP_PACKET, UdpAnnounceRequest,
};
use tokio::net::UdpSocket;

use super::udp::{ConnectionId, UdpExchange, UdpRetry};
use super::{AnnounceError, AnnounceOutcome, AnnounceParams};

/// Settings of the tracker client.
#[derive(Debug, Clone)]
pub struct TrackerClientConfig {
    /// Whole-request timeout for HTTP announces.
    pub http_timeout: Duration,
    /// UDP retransmission policy.
    pub udp_retry: UdpRetry,
    /// Local address for UDP tracker sockets (IPv4); tests bind 127.0.0.1.
    pub udp_bind_v4: SocketAddr,
    /// User-Agent header.
    pub user_agent: String,
    /// Local IP for HTTP tracker connections: the tracker records the address a request comes
    /// from, so it must be the one peers can reach us on.
    pub http_bind: Option<std::net::IpAddr>,
}

impl Default for TrackerClientConfig {
    fn default() -> Self {
        TrackerClientConfig {
            http_timeout: Duration::from_secs(20),
            udp_retry: UdpRetry::default(),
            udp_bind_v4: SocketAddr::from(([0, 0, 0, 0], 0)),
            user_agent: format!("ferrent/{}", env!("CARGO_PKG_VERSION")),
            http_bind: None,
        }
    }
}

/// Announces to HTTP(S) and UDP trackers. Cheap to share (`Arc`); keeps UDP connection ids per
/// tracker address for reuse within their 60 s lifetime (BEP 15).
pub struct TrackerClient {
    http: reqwest::Client,
    config: TrackerClientConfig,
    udp_connections: Mutex<HashMap<SocketAddr, ConnectionId>>,
    /// The `tracker id` each HTTP tracker gave for each torrent, sent back as `trackerid` on
    /// the next announce (BEP 3). One entry per tracker URL and torrent: bounded by what the
    /// session announces, and each value by `MAX_TOKEN_LEN`.
    tracker_ids: Mutex<HashMap<(String, Id20), Vec<u8>>>,
}

impl TrackerClient {
    /// A client with `config`.
    pub fn new(config: TrackerClientConfig) -> Result<Self, AnnounceError> {
        // reqwest is built without a default crypto provider (DESIGN.md: ring, not aws-lc);
        // install ring once per process. An error only means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::limited(3))
            .local_address(config.http_bind)
            .build()
            .map_err(|e| AnnounceError::Transport(format!("cannot set up HTTP client: {e}")))?;
        Ok(TrackerClient {
            http,
            config,
            udp_connections: Mutex::new(HashMap::new()),
            tracker_ids: Mutex::new(HashMap::new()),
        })
    }

    /// One announce to `url` (`http://`, `https://` or `udp://host:port`).
    pub async fn announce(
        &self,
        url: &str,
        params: &AnnounceParams,
    ) -> Result<AnnounceOutcome, AnnounceError> {
        if url.starts_with("http://") || url.starts_with("https://") {
            self.announce_http(url, params).await
        } else if let Some(rest) = url.strip_prefix("udp://") {
            // udp://host:port[/announce]
            let hostport = rest.split('/').next().unwrap_or("");
            if hostport.is_empty() {
                return Err(AnnounceError::UnsupportedUrl(url.to_string()));
            }
            self.announce_udp(hostport, params).await
        } else {
            Err(AnnounceError::UnsupportedUrl(url.to_string()))
        }
    }

    async fn announce_http(
        &self,
        url: &str,
        p: &AnnounceParams,
    ) -> Result<AnnounceOutcome, AnnounceError> {
        let mut req = AnnounceRequest::new(p.info_hash, p.peer_id, p.port);
        req.uploaded = p.uploaded;
        req.downloaded = p.downloaded;
        req.left = p.left;
        req.event = p.event;
        req.numwant = Some(p.num_want);
        req.key = Some(format!("{:08X}", p.key).into_bytes());
        let id_key = (url.to_string(), p.info_hash);
        req.tracker_id = self
            .tracker_ids
            .lock()
            .ok()
            .and_then(|m| m.get(&id_key).cloned());
        let full = req.to_url(url);
        let transport = |e: reqwest::Error| AnnounceError::Transport(http_failure(e));
        let mut resp = self.http.get(&full).send().await.map_err(transport)?;
        if !resp.status().is_success() {
            return Err(AnnounceError::Transport(format!(
                "HTTP status {}",
                resp.status()
            )));
        }
        // Read the body with a hard cap: a hostile tracker cannot make us buffer more.
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_HTTP_RESPONSE_LEN {
                return Err(AnnounceError::BadReply(format!(
                    "reply larger than {MAX_HTTP_RESPONSE_LEN} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        match AnnounceResponse::decode(&body) {
            Ok(HttpReply::Success(r)) => {
                match (&r.tracker_id, self.tracker_ids.lock()) {
                    (Some(id), Ok(mut m)) if id.len() <= MAX_TOKEN_LEN => {
                        m.insert(id_key, id.clone());
                    }
                    // Too long to send back: a tracker that wants one this size is broken.
                    _ => {}
                }
                Ok(AnnounceOutcome {
                    peers: r.peers.iter().map(|e| e.addr).collect(),
                    interval: Duration::from_secs(u64::from(r.interval)),
                    min_interval: r.min_interval.map(|s| Duration::from_secs(u64::from(s))),
                    seeders: r.complete,
                    leechers: r.incomplete,
                    warning: r.warning,
                })
            }
            Ok(HttpReply::Failure(reason)) => Err(AnnounceError::Failure(reason)),
            Err(e) => Err(AnnounceError::BadReply(e.to_string())),
        }
    }

    // The driver reads the clock; the exchange itself is sans-I/O.
    #[allow(clippy::disallowed_methods)]
    async fn announce_udp(
        &self,
        hostport: &str,
        p: &AnnounceParams,
    ) -> Result<AnnounceOutcome, AnnounceError> {
        let addr = tokio::net::lookup_host(hostport)
            .await
            .map_err(|e| AnnounceError::Transport(format!("cannot resolve {hostport}: {e}")))?
            .next()
            .ok_or_else(|| AnnounceError::Transport(format!("{hostport} has no address")))?;
        let bind = if addr.is_ipv4() {
            self.config.udp_bind_v4
        } else {
            SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))
        };
        let sock = UdpSocket::bind(bind)
            .await
            .map_err(|e| AnnounceError::Transport(format!("cannot bind UDP socket: {e}")))?;
        sock.connect(addr)
            .await
            .map_err(|e| AnnounceError::Transport(format!("cannot reach {addr}: {e}")))?;
        let request = UdpAnnounceRequest {
            connection_id: 0,
            transaction_id: 0,
            info_hash: p.info_hash,
            peer_id: p.peer_id,
            downloaded: p.downloaded,
            left: p.left,
            uploaded: p.uploaded,
            event: p.event,
            ip: std::net::Ipv4Addr::UNSPECIFIED,
            key: p.key,
            num_want: i32::try_from(p.num_want).unwrap_or(i32::MAX),
            port: p.port,
        };
        let cached = self
            .udp_connections
            .lock()
            .ok()
            .and_then(|m| m.get(&addr).copied());
        let ids = [rand::random(), rand::random()];
        let now = Instant::now();
        let mut x = UdpExchange::new(
            request,
            ids,
            cached,
            self.config.udp_retry,
            addr.is_ipv6(),
            now,
        );
        let mut out = Vec::with_capacity(128);
        let mut inbuf = vec![0u8; MAX_UDP_PACKET];
        let result = loop {
            if let Some(r) = x.poll_result() {
                break r;
            }
            if x.poll_transmit(&mut out) {
                if let Err(e) = sock.send(&out).await {
                    break Err(AnnounceError::Transport(format!("send to {addr}: {e}")));
                }
            }
            let Some(deadline) = x.poll_timeout() else {
                continue;
            };
            match tokio::time::timeout_at(deadline.into(), sock.recv(&mut inbuf)).await {
                Ok(Ok(n)) => x.handle_packet(Instant::now(), inbuf.get(..n).unwrap_or(&[])),
                // ICMP port unreachable: nothing listens there. Give up on this tracker now
                // (as libtorrent does) instead of retransmitting for 105 s before the next tier.
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    break Err(AnnounceError::Transport(format!(
                        "{addr}: connection refused (ICMP port unreachable: no tracker listening)"
                    )));
                }
                // Other receive errors: treat like a lost packet.
                Ok(Err(_)) => {
                    tokio::time::sleep_until(deadline.into()).await;
                    x.handle_timeout(Instant::now());
                }
                Err(_) => x.handle_timeout(Instant::now()),
            }
        };
        if let (Some(c), Ok(mut m)) = (x.connection(), self.udp_connections.lock()) {
            // Bounded: one entry per tracker address this session announces to.
            m.insert(addr, c);
        }
        let r = result?;
        Ok(AnnounceOutcome {
            peers: r.peers.to_socket_addrs(),
            interval: Duration::from_secs(u64::from(r.interval)),
            min_interval: None,
            seeders: Some(r.seeders),
            leechers: Some(r.leechers),
            warning: None,
        })
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;

/// What went wrong with an HTTP request, for an error message. reqwest's own message is
/// generic ("error sending request"), so the root cause is added ("Connection refused (os
/// error 111)", a DNS failure, a timeout); the URL is left out (the caller names it, and a
/// tracker URL may carry a passkey).
pub(crate) fn http_failure(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut root: &dyn std::error::Error = &e;
    while let Some(next) = root.source() {
        root = next;
    }
    let (top, cause) = (e.to_string(), root.to_string());
    if cause == top {
        top
    } else {
        format!("{top}: {cause}")
    }
}
