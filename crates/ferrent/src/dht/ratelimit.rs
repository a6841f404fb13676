//! Per-IP rate limiting of incoming queries: a token bucket per source address, in a table of
//! bounded size (a flood from many addresses evicts the stalest entries, never grows memory).
#![deny(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Queries per second an address may send in the long run (libtorrent's `dht_block_ratelimit`
/// is 5).
pub const QUERIES_PER_SECOND: u32 = 5;

/// Burst an address may send at once before the rate applies.
pub const QUERY_BURST: u32 = 25;

/// Addresses tracked at once. When full, the entry idle longest is evicted (it would be full
/// again by now anyway, unless it was flooding a second ago).
pub const MAX_TRACKED_IPS: usize = 4096;

/// Millitokens per token, so refills need no floating point.
const MILLI: u64 = 1000;

/// The per-IP token buckets.
#[derive(Debug, Default, Clone)]
pub struct RateLimiter {
    buckets: HashMap<IpAddr, (u64, Instant)>,
}

impl RateLimiter {
    /// Whether a query from `ip` at `now` is allowed (and takes a token if so).
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        let cap = u64::from(QUERY_BURST) * MILLI;
        if !self.buckets.contains_key(&ip) && self.buckets.len() >= MAX_TRACKED_IPS {
            if let Some(stalest) = self
                .buckets
                .iter()
                .min_by_key(|(_, (_, last))| *last)
                .map(|(k, _)| *k)
            {
                self.buckets.remove(&stalest);
            }
        }
        let (tokens, last) = self.buckets.entry(ip).or_insert((cap, now));
        let elapsed = now.saturating_duration_since(*last);
        let refill = (elapsed.as_millis() as u64).saturating_mul(u64::from(QUERIES_PER_SECOND));
        *tokens = tokens.saturating_add(refill).min(cap);
        *last = now;
        if *tokens >= MILLI {
            *tokens -= MILLI;
            true
        } else {
            false
        }
    }

    /// Number of addresses tracked.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no address is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_rate_and_bounded_table() {
        let now = Instant::now();
        let mut r = RateLimiter::default();
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        let allowed = (0..100).filter(|_| r.allow(ip, now)).count();
        assert_eq!(allowed, QUERY_BURST as usize);
        assert!(
            r.allow(ip, now + Duration::from_millis(200)),
            "one token refilled after 1/5 s"
        );
        assert!(!r.allow(ip, now + Duration::from_millis(200)));
        for i in 0..(MAX_TRACKED_IPS as u32 + 100) {
            r.allow(IpAddr::from(i.to_be_bytes()), now + Duration::from_secs(1));
        }
        assert_eq!(r.len(), MAX_TRACKED_IPS);
    }
}
