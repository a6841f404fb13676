//! The UDP tracker exchange of BEP 15 as a sans-I/O state machine: connect (unless a connection
//! id younger than 60 s is cached), then announce; every request retransmitted after
//! `base * 2^n` (BEP 15: 15 s * 2^n, n up to 8); replies matched by transaction id.
//!
//! Driving contract: create with [`UdpExchange::new`]; loop { send what
//! [`UdpExchange::poll_transmit`] writes; wait for a packet or [`UdpExchange::poll_timeout`];
//! feed it to [`UdpExchange::handle_packet`] or call [`UdpExchange::handle_timeout`] } until
//! [`UdpExchange::poll_result`] returns `Some`.
#![deny(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use ferrent_proto::tracker::{UdpAnnounceRequest, UdpAnnounceResponse, UdpRequest, UdpResponse};

use super::AnnounceError;

/// How long a connection id may be used (BEP 15: "up to one minute after it was received").
pub const CONNECTION_ID_LIFETIME: Duration = Duration::from_secs(60);

/// Retransmission policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpRetry {
    /// First timeout; BEP 15 says 15 s. Tests use milliseconds.
    pub base: Duration,
    /// Retransmissions before giving up; BEP 15 goes up to n = 8 (3840 s). The announcer uses
    /// fewer and moves on to the next tracker sooner.
    pub max_retries: u32,
}

impl Default for UdpRetry {
    fn default() -> Self {
        UdpRetry {
            base: Duration::from_secs(15),
            max_retries: 2,
        }
    }
}

impl UdpRetry {
    /// The timeout after attempt `n` (0-based): `base * 2^n`, saturating.
    pub fn timeout(&self, n: u32) -> Duration {
        self.base
            .saturating_mul(1u32.checked_shl(n.min(16)).unwrap_or(u32::MAX))
    }
}

/// A cached connection id and when it was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionId {
    /// The id.
    pub id: u64,
    /// When the connect reply arrived.
    pub received: Instant,
}

impl ConnectionId {
    /// Whether the id may still be used at `now`.
    pub fn valid_at(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.received) < CONNECTION_ID_LIFETIME
    }
}

#[derive(Debug)]
enum Stage {
    Connecting {
        transaction_id: u32,
    },
    Announcing {
        transaction_id: u32,
        connection: ConnectionId,
    },
    Done,
}

/// One announce to one UDP tracker.
#[derive(Debug)]
pub struct UdpExchange {
    request: UdpAnnounceRequest,
    retry: UdpRetry,
    stage: Stage,
    attempt: u32,
    deadline: Instant,
    pending_send: bool,
    result: Option<Result<UdpAnnounceResponse, AnnounceError>>,
    v6: bool,
    last_connection: Option<ConnectionId>,
}

impl UdpExchange {
    /// Starts an exchange at `now`. `request` carries everything but the connection and
    /// transaction ids; `transaction_ids` are two random values (connect, announce);
    /// `cached` is a connection id from an earlier exchange with the same tracker; `v6` says
    /// whether the tracker is reached over IPv6 (peers come back as 18-byte entries).
    pub fn new(
        request: UdpAnnounceRequest,
        transaction_ids: [u32; 2],
        cached: Option<ConnectionId>,
        retry: UdpRetry,
        v6: bool,
        now: Instant,
    ) -> Self {
        let stage = match cached {
            Some(c) if c.valid_at(now) => Stage::Announcing {
                transaction_id: transaction_ids[1],
                connection: c,
            },
            _ => Stage::Connecting {
                transaction_id: transaction_ids[0],
            },
        };
        let mut request = request;
        request.transaction_id = transaction_ids[1];
        UdpExchange {
            request,
            retry,
            stage,
            attempt: 0,
            deadline: now + retry.timeout(0),
            pending_send: true,
            result: None,
            v6,
            last_connection: None,
        }
    }

    /// Writes the packet to send now into `buf` (cleared first) and returns true, or false when
    /// nothing is due.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> bool {
        if !self.pending_send {
            return false;
        }
        buf.clear();
        match self.stage {
            Stage::Connecting { transaction_id } => {
                UdpRequest::Connect { transaction_id }.encode(buf);
            }
            Stage::Announcing { connection, .. } => {
                let mut req = self.request;
                req.connection_id = connection.id;
                UdpRequest::Announce(req).encode(buf);
            }
            Stage::Done => return false,
        }
        self.pending_send = false;
        true
    }

    /// When [`UdpExchange::handle_timeout`] must be called, if the exchange is still running.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!matches!(self.stage, Stage::Done)).then_some(self.deadline)
    }

    /// The deadline passed: retransmit with a doubled timeout, or give up.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.stage, Stage::Done) || now < self.deadline {
            return;
        }
        if self.attempt >= self.retry.max_retries {
            self.finish(Err(AnnounceError::Timeout {
                attempts: self.attempt + 1,
            }));
            return;
        }
        self.attempt += 1;
        // A connection id that expired while we waited must be fetched again (BEP 15).
        if let Stage::Announcing { connection, .. } = self.stage {
            if !connection.valid_at(now) {
                self.stage = Stage::Connecting {
                    transaction_id: self.request.transaction_id,
                };
            }
        }
        self.deadline = now + self.retry.timeout(self.attempt);
        self.pending_send = true;
    }

    /// A datagram from the tracker's address. Replies to other transactions and undecodable
    /// packets are ignored (they may be late replies or spoofed).
    pub fn handle_packet(&mut self, now: Instant, data: &[u8]) {
        let Ok(reply) = UdpResponse::decode(data, self.v6) else {
            return;
        };
        let expected = match self.stage {
            Stage::Connecting { transaction_id } | Stage::Announcing { transaction_id, .. } => {
                transaction_id
            }
            Stage::Done => return,
        };
        if reply.transaction_id() != expected {
            return;
        }
        match (reply, &self.stage) {
            (UdpResponse::Connect { connection_id, .. }, Stage::Connecting { .. }) => {
                let connection = ConnectionId {
                    id: connection_id,
                    received: now,
                };
                self.stage = Stage::Announcing {
                    transaction_id: self.request.transaction_id,
                    connection,
                };
                self.attempt = 0;
                self.deadline = now + self.retry.timeout(0);
                self.pending_send = true;
            }
            (UdpResponse::Announce(a), Stage::Announcing { .. }) => self.finish(Ok(a)),
            (UdpResponse::Error { message, .. }, _) => {
                self.finish(Err(AnnounceError::Failure(message)));
            }
            _ => {}
        }
    }

    /// The connection id in use, to cache for the next exchange with this tracker.
    pub fn connection(&self) -> Option<ConnectionId> {
        match self.stage {
            Stage::Announcing { connection, .. } => Some(connection),
            _ => self.last_connection,
        }
    }

    /// The outcome, once (then `None`).
    pub fn poll_result(&mut self) -> Option<Result<UdpAnnounceResponse, AnnounceError>> {
        self.result.take()
    }

    fn finish(&mut self, r: Result<UdpAnnounceResponse, AnnounceError>) {
        // Keep the connection id for reuse even when the announce is over.
        if let Stage::Announcing { connection, .. } = self.stage {
            self.last_connection = Some(connection);
        }
        self.stage = Stage::Done;
        self.result = Some(r);
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests pick an arbitrary start time
mod tests {
    use super::*;
    use ferrent_core::Id20;
    use ferrent_proto::tracker::{Event, UdpPeers};
    use std::net::{Ipv4Addr, SocketAddrV4};

    fn request() -> UdpAnnounceRequest {
        UdpAnnounceRequest {
            connection_id: 0,
            transaction_id: 0,
            info_hash: Id20([1; 20]),
            peer_id: Id20([2; 20]),
            downloaded: 0,
            left: 100,
            uploaded: 0,
            event: Event::Started,
            ip: Ipv4Addr::UNSPECIFIED,
            key: 9,
            num_want: 50,
            port: 6881,
        }
    }

    fn retry() -> UdpRetry {
        UdpRetry {
            base: Duration::from_secs(15),
            max_retries: 2,
        }
    }

    fn reply(r: UdpResponse) -> Vec<u8> {
        let mut b = Vec::new();
        r.encode(&mut b);
        b
    }

    #[test]
    fn connect_then_announce() {
        let t0 = Instant::now();
        let mut x = UdpExchange::new(request(), [11, 22], None, retry(), false, t0);
        let mut buf = Vec::new();
        assert!(x.poll_transmit(&mut buf));
        assert_eq!(
            UdpRequest::decode(&buf).unwrap(),
            UdpRequest::Connect { transaction_id: 11 }
        );
        assert!(!x.poll_transmit(&mut buf));
        // A reply to another transaction is ignored.
        x.handle_packet(
            t0,
            &reply(UdpResponse::Connect {
                transaction_id: 99,
                connection_id: 5,
            }),
        );
        assert!(!x.poll_transmit(&mut buf));
        x.handle_packet(
            t0,
            &reply(UdpResponse::Connect {
                transaction_id: 11,
                connection_id: 5,
            }),
        );
        assert!(x.poll_transmit(&mut buf));
        match UdpRequest::decode(&buf).unwrap() {
            UdpRequest::Announce(a) => {
                assert_eq!((a.connection_id, a.transaction_id, a.left), (5, 22, 100));
            }
            other => panic!("expected announce, got {other:?}"),
        }
        let peers = UdpPeers::V4(vec![SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7000)]);
        let ann = UdpAnnounceResponse {
            transaction_id: 22,
            interval: 1800,
            leechers: 1,
            seeders: 2,
            peers,
        };
        x.handle_packet(t0, &reply(UdpResponse::Announce(ann.clone())));
        assert_eq!(x.poll_result(), Some(Ok(ann)));
        assert_eq!(x.poll_timeout(), None);
        assert_eq!(x.connection().map(|c| c.id), Some(5));
    }

    #[test]
    fn cached_connection_id_skips_connect_until_it_expires() {
        let t0 = Instant::now();
        let cached = ConnectionId {
            id: 77,
            received: t0,
        };
        let mut x = UdpExchange::new(request(), [1, 2], Some(cached), retry(), false, t0);
        let mut buf = Vec::new();
        assert!(x.poll_transmit(&mut buf));
        assert!(matches!(
            UdpRequest::decode(&buf).unwrap(),
            UdpRequest::Announce(_)
        ));
        let later = t0 + CONNECTION_ID_LIFETIME;
        let mut y = UdpExchange::new(request(), [1, 2], Some(cached), retry(), false, later);
        assert!(y.poll_transmit(&mut buf));
        assert!(matches!(
            UdpRequest::decode(&buf).unwrap(),
            UdpRequest::Connect { .. }
        ));
    }

    #[test]
    fn retransmits_with_doubling_timeouts_then_gives_up() {
        let t0 = Instant::now();
        let mut x = UdpExchange::new(request(), [1, 2], None, retry(), false, t0);
        let mut buf = Vec::new();
        assert!(x.poll_transmit(&mut buf));
        assert_eq!(x.poll_timeout(), Some(t0 + Duration::from_secs(15)));
        x.handle_timeout(t0 + Duration::from_secs(14)); // early: nothing
        assert!(!x.poll_transmit(&mut buf));
        let t1 = t0 + Duration::from_secs(15);
        x.handle_timeout(t1);
        assert!(x.poll_transmit(&mut buf));
        assert_eq!(x.poll_timeout(), Some(t1 + Duration::from_secs(30)));
        let t2 = t1 + Duration::from_secs(30);
        x.handle_timeout(t2);
        assert!(x.poll_transmit(&mut buf));
        assert_eq!(x.poll_timeout(), Some(t2 + Duration::from_secs(60)));
        x.handle_timeout(t2 + Duration::from_secs(60));
        assert_eq!(
            x.poll_result(),
            Some(Err(AnnounceError::Timeout { attempts: 3 }))
        );
        assert_eq!(x.poll_timeout(), None);
    }

    #[test]
    fn error_reply_ends_the_exchange() {
        let t0 = Instant::now();
        let mut x = UdpExchange::new(request(), [1, 2], None, retry(), false, t0);
        let err = UdpResponse::Error {
            transaction_id: 1,
            message: "not authorized".into(),
        };
        x.handle_packet(t0, &reply(err));
        assert_eq!(
            x.poll_result(),
            Some(Err(AnnounceError::Failure("not authorized".into())))
        );
        x.handle_packet(t0, b"garbage");
        assert_eq!(x.poll_result(), None);
    }

    #[test]
    fn timeout_is_base_times_power_of_two() {
        let r = UdpRetry::default();
        assert_eq!(r.timeout(0), Duration::from_secs(15));
        assert_eq!(r.timeout(8), Duration::from_secs(3840));
    }
}
