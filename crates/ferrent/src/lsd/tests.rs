//! [`LsdCore`] on a fake clock.
#![allow(clippy::disallowed_methods)] // tests pick an arbitrary start time

use super::*;

const HOST: &str = "239.192.152.143:6771";

fn ih(b: u8) -> Id20 {
    Id20([b; 20])
}

fn core(now: Instant) -> LsdCore {
    LsdCore::new(7000, "ours".into(), DEFAULT_LSD_INTERVAL, HOST.into(), now)
}

fn from() -> SocketAddr {
    SocketAddr::from(([192, 168, 1, 9], 6771))
}

fn announce(port: u16, hashes: &[Id20], cookie: &str) -> Vec<u8> {
    LsdAnnounce {
        port,
        info_hashes: hashes.to_vec(),
        cookie: Some(cookie.into()),
    }
    .encode(HOST)
}

#[test]
fn announces_at_start_then_every_interval() {
    let t0 = Instant::now();
    let mut c = core(t0);
    assert_eq!(c.poll_timeout(), None, "nothing to announce");
    assert_eq!(c.poll_transmit(t0), None);
    c.add_torrent(ih(1), t0);
    assert_eq!(c.poll_timeout(), Some(t0));
    let bytes = c.poll_transmit(t0).expect("due at start");
    let a = LsdAnnounce::decode(&bytes).expect("decodes");
    assert_eq!(
        (a.port, a.info_hashes, a.cookie.as_deref()),
        (7000, vec![ih(1)], Some("ours"))
    );
    assert_eq!(c.poll_transmit(t0), None);
    assert_eq!(c.poll_timeout(), Some(t0 + DEFAULT_LSD_INTERVAL));
    assert_eq!(c.poll_transmit(t0 + DEFAULT_LSD_INTERVAL - SEND_GAP), None);
    assert!(c.poll_transmit(t0 + DEFAULT_LSD_INTERVAL).is_some());
    assert_eq!(c.stats().sent, 2);
}

#[test]
fn rate_limited_and_batched() {
    let t0 = Instant::now();
    let mut c = core(t0);
    for b in 0..25 {
        c.add_torrent(ih(b), t0);
    }
    let first = LsdAnnounce::decode(&c.poll_transmit(t0).expect("first")).expect("decode");
    assert_eq!(first.info_hashes.len(), MAX_INFOHASHES);
    // The other 5 wait for the send gap, however often we poll.
    assert_eq!(c.poll_transmit(t0), None);
    assert_eq!(c.poll_timeout(), Some(t0 + SEND_GAP));
    let second =
        LsdAnnounce::decode(&c.poll_transmit(t0 + SEND_GAP).expect("second")).expect("decode");
    assert_eq!(second.info_hashes.len(), 5);
    // A torrent added right after is batched in the next datagram, not sent at once.
    c.add_torrent(ih(100), t0 + SEND_GAP);
    assert_eq!(c.poll_transmit(t0 + SEND_GAP), None);
    assert!(c.poll_transmit(t0 + 2 * SEND_GAP).is_some());
}

#[test]
fn quick_readd_is_rate_limited() {
    let t0 = Instant::now();
    let mut c = core(t0);
    c.add_torrent(ih(1), t0);
    assert!(c.poll_transmit(t0).is_some());
    c.remove_torrent(&ih(1), t0 + SEND_GAP);
    c.add_torrent(ih(1), t0 + 2 * SEND_GAP);
    assert_eq!(c.poll_transmit(t0 + 2 * SEND_GAP), None);
    assert_eq!(c.poll_timeout(), Some(t0 + MIN_REANNOUNCE));
    assert!(c.poll_transmit(t0 + MIN_REANNOUNCE).is_some());
}

#[test]
fn received_announces_match_our_torrents_only() {
    let t0 = Instant::now();
    let mut c = core(t0);
    c.add_torrent(ih(1), t0);
    c.add_torrent(ih(2), t0);
    let found = c.handle_datagram(t0, from(), &announce(51413, &[ih(2), ih(3)], "theirs"));
    assert_eq!(
        found,
        vec![(ih(2), SocketAddr::from(([192, 168, 1, 9], 51413)))]
    );
    // Our own, looped back: ignored.
    assert!(
        c.handle_datagram(t0, from(), &announce(7000, &[ih(1)], "ours"))
            .is_empty()
    );
    // Garbage and a removed torrent: nothing.
    assert!(
        c.handle_datagram(t0, from(), b"BT-SEARCH * HTTP/1.1\r\nPort: x\r\n")
            .is_empty()
    );
    c.remove_torrent(&ih(2), t0);
    assert!(
        c.handle_datagram(t0, from(), &announce(1, &[ih(2)], "theirs"))
            .is_empty()
    );
    // An unusable source address.
    let zero = SocketAddr::from(([0, 0, 0, 0], 6771));
    assert!(
        c.handle_datagram(t0, zero, &announce(1, &[ih(1)], "x"))
            .is_empty()
    );
    let s = c.stats();
    assert_eq!((s.own, s.malformed, s.peers_found), (1, 1, 1));
}

#[test]
fn flood_is_cut_per_second() {
    let t0 = Instant::now();
    let mut c = core(t0);
    c.add_torrent(ih(1), t0);
    let msg = announce(1, &[ih(1)], "x");
    let found: usize = (0..1000)
        .map(|_| c.handle_datagram(t0, from(), &msg).len())
        .sum();
    assert_eq!(found, MAX_RECEIVED_PER_SECOND as usize);
    assert_eq!(
        c.stats().rate_limited,
        1000 - u64::from(MAX_RECEIVED_PER_SECOND)
    );
    // The next second has a fresh budget.
    assert_eq!(
        c.handle_datagram(t0 + Duration::from_secs(1), from(), &msg)
            .len(),
        1
    );
}
