use proptest::prelude::*;
use sha1::{Digest, Sha1};

use super::{INIT, MAX_LANES, Sha1Lanes, compress_one_by_one};

fn reference(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}

/// Distinct, non-repeating contents for lane `l`.
fn message(l: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 7) ^ (l * 101)) as u8)
        .collect()
}

/// Hashes `lanes` messages of `len` bytes, fed in `chunk`-byte parts.
fn lanes_digests(lanes: usize, len: usize, chunk: usize) -> (Vec<Vec<u8>>, Vec<[u8; 20]>) {
    let msgs: Vec<Vec<u8>> = (0..lanes).map(|l| message(l, len)).collect();
    let mut h = Sha1Lanes::new(lanes);
    let mut off = 0;
    while off < len {
        let n = chunk.min(len - off);
        let parts: Vec<&[u8]> = msgs.iter().map(|m| &m[off..off + n]).collect();
        h.update(&parts);
        off += n;
    }
    (msgs, h.finalize())
}

#[test]
fn known_answers() {
    // FIPS 180 examples, in every lane count.
    let abc = hex("a9993e364706816aba3e25717850c26c9cd0d89d");
    let empty = hex("da39a3ee5e6b4b0d3255bfef95601890afd80709");
    for lanes in 1..=MAX_LANES {
        let mut h = Sha1Lanes::new(lanes);
        h.update(&vec![&b"abc"[..]; lanes]);
        assert_eq!(h.finalize(), vec![abc; lanes]);
        assert_eq!(Sha1Lanes::new(lanes).finalize(), vec![empty; lanes]);
    }
}

fn hex(s: &str) -> [u8; 20] {
    let mut out = [0u8; 20];
    for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks(2)) {
        let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
        *o = digit(pair[0]) << 4 | digit(pair[1]);
    }
    out
}

#[test]
fn every_padding_boundary_matches_sha1() {
    // Lengths around one and two blocks cover the one- and two-block padding cases.
    for lanes in 1..=MAX_LANES {
        for len in (0..=192).chain([1000, 16 * 1024, 16 * 1024 + 55, 262_144 + 56]) {
            let (msgs, digests) = lanes_digests(lanes, len, usize::MAX);
            for (m, d) in msgs.iter().zip(&digests) {
                assert_eq!(*d, reference(m), "lanes {lanes}, len {len}");
            }
        }
    }
}

#[test]
fn lanes_are_independent() {
    // Same message in all lanes but one: only that lane's digest differs.
    let base = message(0, 4096);
    let mut odd = base.clone();
    odd[4000] ^= 1;
    let mut h = Sha1Lanes::new(4);
    h.update(&[&base, &base, &odd, &base]);
    let d = h.finalize();
    assert_eq!(d[0], reference(&base));
    assert_eq!(d[1], d[0]);
    assert_eq!(d[2], reference(&odd));
    assert_ne!(d[2], d[0]);
    assert_eq!(d[3], d[0]);
}

#[test]
fn lane_count_is_clamped() {
    assert_eq!(Sha1Lanes::new(0).lanes(), 1);
    assert_eq!(Sha1Lanes::new(MAX_LANES + 3).lanes(), MAX_LANES);
}

#[test]
#[should_panic(expected = "different lengths")]
fn parts_of_different_lengths_are_refused() {
    Sha1Lanes::new(2).update(&[b"ab", b"abc"]);
}

#[test]
#[should_panic(expected = "one part per lane")]
fn a_missing_part_is_refused() {
    Sha1Lanes::new(3).update(&[b"ab", b"ab"]);
}

proptest! {
    #[test]
    fn any_feeding_matches_sha1(
        lanes in 1..=MAX_LANES,
        len in 0usize..3000,
        chunks in prop::collection::vec(1usize..300, 1..20),
    ) {
        let msgs: Vec<Vec<u8>> = (0..lanes).map(|l| message(l, len)).collect();
        let mut h = Sha1Lanes::new(lanes);
        let mut off = 0;
        for n in chunks.iter().cycle() {
            if off >= len {
                break;
            }
            let n = (*n).min(len - off);
            let parts: Vec<&[u8]> = msgs.iter().map(|m| &m[off..off + n]).collect();
            h.update(&parts);
            off += n;
        }
        let digests = h.finalize();
        prop_assert_eq!(digests.len(), lanes);
        for (m, d) in msgs.iter().zip(&digests) {
            prop_assert_eq!(*d, reference(m));
        }
    }
}

#[test]
fn the_fallback_computes_the_same_states() {
    // On a CPU with SHA-NI `Sha1Lanes` never reaches the fallback; compare the two directly.
    let msgs: Vec<Vec<u8>> = (0..MAX_LANES).map(|l| message(l, 64 * 37)).collect();
    let data: [&[u8]; MAX_LANES] = std::array::from_fn(|l| &msgs[l][..]);
    for lanes in 1..=MAX_LANES {
        let mut fallback = [INIT; MAX_LANES];
        compress_one_by_one(lanes, &mut fallback, data);
        let mut fast = Sha1Lanes::new(lanes);
        fast.compress(data);
        assert_eq!(fallback[..lanes], fast.states[..lanes], "lanes {lanes}");
        assert!(fallback[lanes..].iter().all(|s| *s == INIT));
    }
}
