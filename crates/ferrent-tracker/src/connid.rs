//! Stateless UDP connection ids (BEP 15), as opentracker makes them: a keyed hash of a secret,
//! the client's address and the current time window. Nothing is stored per client, so a flood
//! of connect requests costs no memory; an id cannot be forged without the secret, is only
//! valid for the address it was issued to, and expires after one to two windows.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

/// Issues and checks connection ids. Time is a parameter: `now` is compared with the `epoch`
/// given at construction.
#[derive(Debug, Clone)]
pub struct ConnectionIds {
    secret: [u8; 32],
    epoch: Instant,
    window: Duration,
}

impl ConnectionIds {
    /// With a secret (random in the server) and the window length
    /// ([`crate::limits::CONNECTION_ID_WINDOW`]).
    pub fn new(secret: [u8; 32], epoch: Instant, window: Duration) -> Self {
        ConnectionIds {
            secret,
            epoch,
            window: window.max(Duration::from_secs(1)),
        }
    }

    fn window_at(&self, now: Instant) -> u64 {
        let w = self.window.as_millis().max(1);
        (now.saturating_duration_since(self.epoch).as_millis() / w) as u64
    }

    fn id_for(&self, window: u64, addr: &SocketAddr) -> u64 {
        let mut h = Sha1::new();
        h.update(self.secret);
        h.update(window.to_be_bytes());
        match addr {
            SocketAddr::V4(a) => h.update(a.ip().octets()),
            SocketAddr::V6(a) => h.update(a.ip().octets()),
        }
        h.update(addr.port().to_be_bytes());
        let d = h.finalize();
        let mut b = [0u8; 8];
        b.copy_from_slice(&d[..8]);
        u64::from_be_bytes(b)
    }

    /// The id for `addr` now.
    pub fn issue(&self, now: Instant, addr: &SocketAddr) -> u64 {
        self.id_for(self.window_at(now), addr)
    }

    /// Whether `id` was issued to `addr` in this window or the previous one.
    pub fn check(&self, now: Instant, addr: &SocketAddr, id: u64) -> bool {
        let w = self.window_at(now);
        id == self.id_for(w, addr) || (w > 0 && id == self.id_for(w - 1, addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bound_to_address_and_time() {
        let t0 = Instant::now();
        let ids = ConnectionIds::new([7; 32], t0, Duration::from_secs(60));
        let a: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:5001".parse().unwrap();
        let id = ids.issue(t0 + Duration::from_secs(10), &a);
        assert!(ids.check(t0 + Duration::from_secs(10), &a, id));
        assert!(
            ids.check(t0 + Duration::from_secs(119), &a, id),
            "previous window accepted"
        );
        assert!(!ids.check(t0 + Duration::from_secs(120), &a, id), "expired");
        assert!(
            !ids.check(t0 + Duration::from_secs(10), &b, id),
            "other address"
        );
        assert!(
            !ids.check(t0 + Duration::from_secs(10), &a, id ^ 1),
            "forged"
        );
        let other = ConnectionIds::new([8; 32], t0, Duration::from_secs(60));
        assert!(!other.check(t0, &a, id), "other secret");
    }
}
