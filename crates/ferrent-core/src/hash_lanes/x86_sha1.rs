//! SHA-1 lanes with SHA-NI (x86-64 `sha` extension, with SSSE3 and SSE4.1).
//!
//! Each lane is the usual SHA-NI SHA-1 block function: the state as `ABCD` in one register and
//! `E` in the top word of another, 20 `sha1rnds4` of four rounds each, the message schedule
//! from `sha1msg1`/`sha1msg2`, and `sha1nexte` deriving each group's `E` from the `ABCD` two
//! groups back. The lanes are written one after another inside each round group, so the CPU
//! overlaps their independent dependency chains.
//!
//! No `unsafe` here: the loads and the CPU check are in [`super::x86`].

use std::arch::x86_64::{
    _mm_add_epi32, _mm_extract_epi32, _mm_set_epi32, _mm_set_epi64x, _mm_setzero_si128,
    _mm_sha1msg1_epu32, _mm_sha1msg2_epu32, _mm_sha1nexte_epu32, _mm_sha1rnds4_epu32,
    _mm_xor_si128,
};

use super::x86::{self, load};
use super::{BLOCK, MAX_LANES};

/// The block functions for 1 to [`MAX_LANES`] lanes, for [`x86::compress`].
pub(super) const BY_LANE_COUNT: x86::ByLaneCount<[u32; 5]> =
    [lanes_n::<1>, lanes_n::<2>, lanes_n::<3>, lanes_n::<4>];

/// `N` lanes of the block function; lanes beyond `N` are left alone. Every lane must have as
/// many blocks as lane 0 (the caller feeds equal lengths; extra blocks are ignored).
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn lanes_n<const N: usize>(states: &mut [[u32; 5]; MAX_LANES], blocks: [&[u8]; MAX_LANES]) {
    let zero = _mm_setzero_si128();
    let mask = _mm_set_epi64x(0x0001_0203_0405_0607, 0x0809_0a0b_0c0d_0e0f);
    let mut abcd = [zero; N];
    let mut e0 = [zero; N];
    for l in 0..N {
        let [a, b, c, d, e] = states[l].map(|w| w as i32);
        abcd[l] = _mm_set_epi32(a, b, c, d);
        e0[l] = _mm_set_epi32(e, 0, 0, 0);
    }
    let count = blocks[..N]
        .iter()
        .map(|b| b.len() / BLOCK)
        .min()
        .unwrap_or(0);
    for b in 0..count {
        let (abcd_in, e_in) = (abcd, e0);
        // Message words of each lane: four registers used as a ring of W[4i..4i+4].
        let mut w = [[zero; 4]; N];
        // ABCD before the previous round group, for sha1nexte.
        let mut prev = abcd;
        for l in 0..N {
            let (lane, at) = (blocks[l], b * BLOCK);
            w[l] = [
                load(lane, at, mask),
                load(lane, at + 16, mask),
                load(lane, at + 32, mask),
                load(lane, at + 48, mask),
            ];
            abcd[l] = _mm_sha1rnds4_epu32::<0>(abcd[l], _mm_add_epi32(e0[l], w[l][0]));
        }
        // Round group i (rounds 4i..4i+4), with f the round function of rounds 20f..20f+20.
        macro_rules! group {
            ($i:literal, $f:literal) => {
                for l in 0..N {
                    if $i >= 4 {
                        // W[i] = sha1msg2(sha1msg1(W[i-4], W[i-3]) ^ W[i-2], W[i-1])
                        let x = _mm_sha1msg1_epu32(w[l][$i % 4], w[l][($i + 1) % 4]);
                        let x = _mm_xor_si128(x, w[l][($i + 2) % 4]);
                        w[l][$i % 4] = _mm_sha1msg2_epu32(x, w[l][($i + 3) % 4]);
                    }
                    let e = _mm_sha1nexte_epu32(prev[l], w[l][$i % 4]);
                    prev[l] = abcd[l];
                    abcd[l] = _mm_sha1rnds4_epu32::<$f>(abcd[l], e);
                }
            };
        }
        group!(1, 0);
        group!(2, 0);
        group!(3, 0);
        group!(4, 0);
        group!(5, 1);
        group!(6, 1);
        group!(7, 1);
        group!(8, 1);
        group!(9, 1);
        group!(10, 2);
        group!(11, 2);
        group!(12, 2);
        group!(13, 2);
        group!(14, 2);
        group!(15, 3);
        group!(16, 3);
        group!(17, 3);
        group!(18, 3);
        group!(19, 3);
        for l in 0..N {
            e0[l] = _mm_sha1nexte_epu32(prev[l], e_in[l]);
            abcd[l] = _mm_add_epi32(abcd[l], abcd_in[l]);
        }
    }
    for l in 0..N {
        states[l] = [
            _mm_extract_epi32::<3>(abcd[l]) as u32,
            _mm_extract_epi32::<2>(abcd[l]) as u32,
            _mm_extract_epi32::<1>(abcd[l]) as u32,
            _mm_extract_epi32::<0>(abcd[l]) as u32,
            _mm_extract_epi32::<3>(e0[l]) as u32,
        ];
    }
}
