//! Differential fuzz target for `Sha1Lanes` (SHA-1 of up to four equal-length messages side by
//! side, SHA-NI where the CPU has it): for any lane count, message bytes and feeding pattern,
//! each lane's digest must equal the `sha1` crate's digest of the same message.
#![no_main]

use ferrent_core::{SHA1_MAX_LANES, Sha1Lanes};
use libfuzzer_sys::fuzz_target;
use sha1::{Digest, Sha1};

fuzz_target!(|data: &[u8]| {
    let [lanes, step, rest @ ..] = data else { return };
    let lanes = usize::from(*lanes) % SHA1_MAX_LANES + 1;
    let step = usize::from(*step).max(1);
    let len = rest.len() / lanes;
    let msgs: Vec<&[u8]> = rest.chunks_exact(len.max(1)).take(lanes).collect();
    let msgs: Vec<&[u8]> = if len == 0 { vec![&[][..]; lanes] } else { msgs };
    let mut h = Sha1Lanes::new(lanes);
    let mut off = 0;
    // Uneven feeding: step, 2*step, 3*step... bytes per call.
    let mut n = step;
    while off < len {
        let take = n.min(len - off);
        let parts: Vec<&[u8]> = msgs.iter().map(|m| &m[off..off + take]).collect();
        h.update(&parts);
        off += take;
        n += step;
    }
    let digests = h.finalize();
    assert_eq!(digests.len(), lanes);
    for (m, d) in msgs.iter().zip(&digests) {
        assert_eq!(*d, <[u8; 20]>::from(Sha1::digest(m)), "lanes {lanes}, len {len}");
    }
});
