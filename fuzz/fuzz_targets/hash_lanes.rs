//! Differential fuzz target for `Sha1Lanes` and `Sha256Lanes` (up to four equal-length
//! messages hashed side by side, SHA-NI where the CPU has it): for any lane count, message
//! bytes and feeding pattern, each lane's digest must equal the RustCrypto digest of the same
//! message.
#![no_main]

use ferrent_core::{MAX_HASH_LANES, Sha1Lanes, Sha256Lanes};
use libfuzzer_sys::fuzz_target;
use sha1::{Digest, Sha1};
use sha2::Sha256;

fuzz_target!(|data: &[u8]| {
    let [lanes, step, rest @ ..] = data else { return };
    let lanes = usize::from(*lanes) % MAX_HASH_LANES + 1;
    let step = usize::from(*step).max(1);
    let len = rest.len() / lanes;
    let msgs: Vec<&[u8]> = if len == 0 {
        vec![&[][..]; lanes]
    } else {
        rest.chunks_exact(len).take(lanes).collect()
    };
    let mut h1 = Sha1Lanes::new(lanes);
    let mut h256 = Sha256Lanes::new(lanes);
    // Uneven feeding: step, 2*step, 3*step... bytes per call.
    let (mut off, mut n) = (0, step);
    while off < len {
        let take = n.min(len - off);
        let parts: Vec<&[u8]> = msgs.iter().map(|m| &m[off..off + take]).collect();
        h1.update(&parts);
        h256.update(&parts);
        off += take;
        n += step;
    }
    let (d1, d256) = (h1.finalize(), h256.finalize());
    assert_eq!((d1.len(), d256.len()), (lanes, lanes));
    for ((m, a), b) in msgs.iter().zip(&d1).zip(&d256) {
        assert_eq!(*a, <[u8; 20]>::from(Sha1::digest(m)), "SHA-1, lanes {lanes}, len {len}");
        assert_eq!(*b, <[u8; 32]>::from(Sha256::digest(m)), "SHA-256, lanes {lanes}, len {len}");
    }
});
