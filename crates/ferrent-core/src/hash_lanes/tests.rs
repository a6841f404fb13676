use proptest::prelude::*;
use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::{
    MAX_LANES, SHA1_INIT, SHA256_INIT, Sha1Lanes, Sha256Lanes, compress_sha1, compress_sha256,
    lanes_in_steps, one_by_one,
};

/// Distinct, non-repeating contents for lane `l`.
fn message(l: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 7) ^ (l * 101)) as u8)
        .collect()
}

/// Both hashers behind one face, with the RustCrypto hash as the reference.
trait Check {
    fn lanes_digests(lanes: usize, msgs: &[Vec<u8>], chunks: &[usize]) -> Vec<Vec<u8>>;
    fn reference(data: &[u8]) -> Vec<u8>;
}

/// Feeds `msgs` (one per lane, equal lengths) in parts of the sizes in `chunks`, cycled.
fn feed(msgs: &[Vec<u8>], chunks: &[usize], mut update: impl FnMut(&[&[u8]])) {
    let len = msgs.first().map_or(0, Vec::len);
    let mut off = 0;
    for n in chunks.iter().cycle() {
        if off >= len {
            break;
        }
        let n = (*n).clamp(1, len - off);
        let parts: Vec<&[u8]> = msgs.iter().map(|m| &m[off..off + n]).collect();
        update(&parts);
        off += n;
    }
}

struct OfSha1;
impl Check for OfSha1 {
    fn lanes_digests(lanes: usize, msgs: &[Vec<u8>], chunks: &[usize]) -> Vec<Vec<u8>> {
        let mut h = Sha1Lanes::new(lanes);
        feed(msgs, chunks, |parts| h.update(parts));
        h.finalize().iter().map(|d| d.to_vec()).collect()
    }
    fn reference(data: &[u8]) -> Vec<u8> {
        Sha1::digest(data).to_vec()
    }
}

struct OfSha256;
impl Check for OfSha256 {
    fn lanes_digests(lanes: usize, msgs: &[Vec<u8>], chunks: &[usize]) -> Vec<Vec<u8>> {
        let mut h = Sha256Lanes::new(lanes);
        feed(msgs, chunks, |parts| h.update(parts));
        h.finalize().iter().map(|d| d.to_vec()).collect()
    }
    fn reference(data: &[u8]) -> Vec<u8> {
        Sha256::digest(data).to_vec()
    }
}

fn matches_reference<C: Check>(lanes: usize, len: usize, chunks: &[usize]) -> Result<(), String> {
    let msgs: Vec<Vec<u8>> = (0..lanes).map(|l| message(l, len)).collect();
    let digests = C::lanes_digests(lanes, &msgs, chunks);
    if digests.len() != lanes {
        return Err(format!("{} digests for {lanes} lanes", digests.len()));
    }
    for (l, (m, d)) in msgs.iter().zip(&digests).enumerate() {
        if *d != C::reference(m) {
            return Err(format!("lane {l} of {lanes}, len {len}, chunks {chunks:?}"));
        }
    }
    Ok(())
}

#[test]
fn known_answers() {
    // FIPS 180 examples, in every lane count.
    let abc = hex("a9993e364706816aba3e25717850c26c9cd0d89d");
    let empty = hex("da39a3ee5e6b4b0d3255bfef95601890afd80709");
    let abc256 = hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    for lanes in 1..=MAX_LANES {
        let mut h = Sha1Lanes::new(lanes);
        h.update(&vec![&b"abc"[..]; lanes]);
        assert_eq!(h.finalize().concat(), abc.repeat(lanes));
        assert_eq!(
            Sha1Lanes::new(lanes).finalize().concat(),
            empty.repeat(lanes)
        );
        let mut h = Sha256Lanes::new(lanes);
        h.update(&vec![&b"abc"[..]; lanes]);
        assert_eq!(h.finalize().concat(), abc256.repeat(lanes));
    }
}

fn hex(s: &str) -> Vec<u8> {
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            digit(pair[0]) << 4 | digit(pair[1])
        })
        .collect()
}

#[test]
fn every_padding_boundary_matches() {
    // Lengths around one and two blocks cover the one- and two-block padding cases.
    for lanes in 1..=MAX_LANES {
        for len in (0..=192).chain([1000, 16 * 1024, 16 * 1024 + 55, 262_144 + 56]) {
            matches_reference::<OfSha1>(lanes, len, &[usize::MAX]).unwrap();
            matches_reference::<OfSha256>(lanes, len, &[usize::MAX]).unwrap();
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
    assert_eq!(d[0].to_vec(), OfSha1::reference(&base));
    assert_eq!(d[1], d[0]);
    assert_eq!(d[2].to_vec(), OfSha1::reference(&odd));
    assert_ne!(d[2], d[0]);
    assert_eq!(d[3], d[0]);
    let mut h = Sha256Lanes::new(3);
    h.update(&[&odd, &base, &base]);
    let d = h.finalize();
    assert_eq!(d[0].to_vec(), OfSha256::reference(&odd));
    assert_eq!(d[1].to_vec(), OfSha256::reference(&base));
    assert_eq!(d[2], d[1]);
}

#[test]
fn lane_count_is_clamped() {
    assert_eq!(Sha1Lanes::new(0).lanes(), 1);
    assert_eq!(Sha1Lanes::new(MAX_LANES + 3).lanes(), MAX_LANES);
    assert_eq!(Sha256Lanes::new(0).lanes(), 1);
    assert_eq!(Sha256Lanes::new(MAX_LANES + 1).lanes(), MAX_LANES);
}

#[test]
#[should_panic(expected = "different lengths")]
fn parts_of_different_lengths_are_refused() {
    Sha1Lanes::new(2).update(&[b"ab", b"abc"]);
}

#[test]
#[should_panic(expected = "one part per lane")]
fn a_missing_part_is_refused() {
    Sha256Lanes::new(3).update(&[b"ab", b"ab"]);
}

#[test]
fn the_fallback_computes_the_same_states() {
    // On a CPU with SHA-NI the hashers never reach the fallback; compare the two directly.
    let msgs: Vec<Vec<u8>> = (0..MAX_LANES).map(|l| message(l, 64 * 37)).collect();
    let data: [&[u8]; MAX_LANES] = std::array::from_fn(|l| &msgs[l][..]);
    for lanes in 1..=MAX_LANES {
        let (mut fallback, mut fast) = ([SHA1_INIT; MAX_LANES], [SHA1_INIT; MAX_LANES]);
        one_by_one(lanes, &mut fallback, data, sha1::block_api::compress);
        compress_sha1(lanes, &mut fast, data);
        assert_eq!(fallback, fast, "SHA-1, lanes {lanes}");
        assert!(fallback[lanes..].iter().all(|s| *s == SHA1_INIT));
        let (mut fallback, mut fast) = ([SHA256_INIT; MAX_LANES], [SHA256_INIT; MAX_LANES]);
        one_by_one(lanes, &mut fallback, data, sha2::block_api::compress256);
        compress_sha256(lanes, &mut fast, data);
        assert_eq!(fallback, fast, "SHA-256, lanes {lanes}");
        assert!(fallback[lanes..].iter().all(|s| *s == SHA256_INIT));
    }
}

#[test]
fn lanes_in_steps_feeds_every_byte_and_stops_at_an_error() {
    let msgs: Vec<Vec<u8>> = (0..3).map(|l| message(l, 10_000)).collect();
    let mut buf = Vec::new();
    let mut h = Sha1Lanes::new(3);
    let fill = |l: usize, off: u64, part: &mut [u8]| -> Result<(), ()> {
        let off = off as usize;
        part.copy_from_slice(&msgs[l][off..off + part.len()]);
        Ok(())
    };
    lanes_in_steps(3, 10_000, 4096, &mut buf, fill, |parts| h.update(parts)).unwrap();
    for (m, d) in msgs.iter().zip(h.finalize()) {
        assert_eq!(d.to_vec(), OfSha1::reference(m));
    }
    assert_eq!(buf.len(), 3 * 4096);
    // An error in the second step: nothing more is read or consumed.
    let (mut fills, mut steps) = (0, 0);
    let failing = |_: usize, off: u64, _: &mut [u8]| {
        fills += 1;
        if off > 0 { Err("read failed") } else { Ok(()) }
    };
    let result = lanes_in_steps(2, 10_000, 4096, &mut buf, failing, |_| steps += 1);
    assert_eq!(result, Err("read failed"));
    assert_eq!((fills, steps), (3, 1));
}

proptest! {
    #[test]
    fn any_feeding_matches_the_reference(
        lanes in 1..=MAX_LANES,
        len in 0usize..3000,
        chunks in prop::collection::vec(1usize..300, 1..20),
    ) {
        prop_assert_eq!(matches_reference::<OfSha1>(lanes, len, &chunks), Ok(()));
        prop_assert_eq!(matches_reference::<OfSha256>(lanes, len, &chunks), Ok(()));
    }
}
