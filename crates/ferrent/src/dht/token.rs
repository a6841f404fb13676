//! Write tokens (BEP 5): a get_peers reply hands out a token bound to the querier's IP, and
//! announce_peer is only accepted with a token we issued recently.
#![deny(clippy::disallowed_methods)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

/// How often the secret changes (BEP 5: every five minutes). The previous secret stays valid, so
/// a token lives 5 to 10 minutes.
pub const SECRET_ROTATION: Duration = Duration::from_secs(5 * 60);

/// Bytes of a token we issue (a truncated SHA-1; libtorrent issues 4, 8 makes guessing harder).
pub const TOKEN_LEN: usize = 8;

/// The rotating secret. Secrets are derived from a caller-given seed (random in production) and a
/// counter, so the core needs no random source and tests are deterministic.
#[derive(Debug, Clone)]
pub struct Tokens {
    seed: [u8; 32],
    generation: u64,
    current: [u8; 20],
    previous: [u8; 20],
    rotate_at: Instant,
}

fn derive(seed: &[u8; 32], generation: u64) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(b"ferrent-dht-token");
    h.update(seed);
    h.update(generation.to_be_bytes());
    h.finalize().into()
}

impl Tokens {
    /// Secrets from `seed`, the first rotation due at `now + SECRET_ROTATION`.
    pub fn new(seed: [u8; 32], now: Instant) -> Self {
        Tokens {
            seed,
            generation: 1,
            current: derive(&seed, 1),
            previous: derive(&seed, 0),
            rotate_at: now + SECRET_ROTATION,
        }
    }

    /// When the secret next changes.
    pub fn next_rotation(&self) -> Instant {
        self.rotate_at
    }

    /// Rotates the secret if it is due (called from the node's timer).
    pub fn handle_timeout(&mut self, now: Instant) {
        if now >= self.rotate_at {
            self.generation = self.generation.wrapping_add(1);
            self.previous = self.current;
            self.current = derive(&self.seed, self.generation);
            self.rotate_at = now + SECRET_ROTATION;
        }
    }

    fn token_with(secret: &[u8; 20], ip: IpAddr) -> [u8; TOKEN_LEN] {
        let mut h = Sha1::new();
        match ip {
            IpAddr::V4(a) => h.update(a.octets()),
            IpAddr::V6(a) => h.update(a.octets()),
        }
        h.update(secret);
        let full: [u8; 20] = h.finalize().into();
        let mut t = [0u8; TOKEN_LEN];
        t.copy_from_slice(&full[..TOKEN_LEN]);
        t
    }

    /// The token for `ip` under the current secret.
    pub fn issue(&self, ip: IpAddr) -> [u8; TOKEN_LEN] {
        Self::token_with(&self.current, ip)
    }

    /// Whether `token` was issued to `ip` under the current or the previous secret.
    pub fn verify(&self, ip: IpAddr, token: &[u8]) -> bool {
        let eq = |a: &[u8], b: &[u8]| {
            a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
        };
        eq(&Self::token_with(&self.current, ip), token)
            || eq(&Self::token_with(&self.previous, ip), token)
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn token_valid_for_its_ip_for_one_to_two_rotations() {
        let now = Instant::now();
        let mut t = Tokens::new([9; 32], now);
        let ip: IpAddr = "127.0.0.5".parse().unwrap();
        let other: IpAddr = "127.0.0.6".parse().unwrap();
        let tok = t.issue(ip);
        assert!(t.verify(ip, &tok));
        assert!(!t.verify(other, &tok));
        assert!(!t.verify(ip, &tok[..4]));
        t.handle_timeout(now + SECRET_ROTATION);
        assert!(t.verify(ip, &tok), "previous secret still accepted");
        assert_ne!(t.issue(ip), tok);
        t.handle_timeout(now + SECRET_ROTATION * 2);
        assert!(!t.verify(ip, &tok), "two rotations later it is gone");
    }
}
