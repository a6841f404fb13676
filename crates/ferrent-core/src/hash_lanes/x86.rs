//! What the SHA-NI lanes of both hashes share: the CPU check, the choice of block function by
//! lane count, and the load of message words.

use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_shuffle_epi8};

use super::{BLOCK, MAX_LANES};

/// A block function per lane count, 1 to [`MAX_LANES`] (each compiled with SHA-NI enabled).
pub(super) type ByLaneCount<S> = [unsafe fn(&mut [S; MAX_LANES], [&[u8]; MAX_LANES]); MAX_LANES];

/// Whether this CPU has what the SHA-NI lanes need (std caches the answer).
pub(super) fn has_sha_ni() -> bool {
    std::arch::is_x86_feature_detected!("sha")
        && std::arch::is_x86_feature_detected!("ssse3")
        && std::arch::is_x86_feature_detected!("sse4.1")
}

/// Compresses the whole blocks of `data[l]` into `states[l]` for the first `lanes` lanes with
/// the block function for that many lanes. Returns false, doing nothing, when the CPU lacks
/// SHA-NI.
pub(super) fn compress<S>(
    lanes: usize,
    states: &mut [S; MAX_LANES],
    data: [&[u8]; MAX_LANES],
    by_count: ByLaneCount<S>,
) -> bool {
    if !has_sha_ni() {
        return false;
    }
    let Some(block_fn) = by_count.get(lanes.clamp(1, MAX_LANES) - 1) else {
        return false;
    };
    let blocks = data.map(|d| &d[..d.len() / BLOCK * BLOCK]);
    // SAFETY: the CPU has every feature the block functions are compiled for (checked above).
    unsafe { block_fn(states, blocks) };
    true
}

/// Bytes `at..at + 16` of `data` put in word order by the byte shuffle `mask` (zeros if `data`
/// is too short, which the callers rule out).
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
pub(super) fn load(data: &[u8], at: usize, mask: __m128i) -> __m128i {
    let bytes: &[u8; 16] = data
        .get(at..at + 16)
        .and_then(|b| b.try_into().ok())
        .unwrap_or(&[0; 16]);
    // SAFETY: `bytes` is 16 readable bytes; `loadu` has no alignment requirement.
    let word = unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) };
    _mm_shuffle_epi8(word, mask)
}
