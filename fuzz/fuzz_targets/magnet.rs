//! Fuzz target for magnet links: `Magnet::parse` must never panic on any text (arbitrary bytes
//! are read as lossy UTF-8), and whatever it accepts must format to a link that parses back to
//! an equal value (when that link fits in `MAX_MAGNET_LEN`: decoding `+` or bad UTF-8 can make the
//! canonical form longer than the input).
#![no_main]

use ferrent_core::{MAX_MAGNET_LEN, Magnet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check(&text);
    // Also as a link, so the fuzzer need not discover the scheme first.
    check(&format!("magnet:?{text}"));
});

fn check(text: &str) {
    let Ok(magnet) = Magnet::parse(text) else { return };
    let link = magnet.to_string();
    if link.len() <= MAX_MAGNET_LEN {
        match Magnet::parse(&link) {
            Ok(again) => assert_eq!(again, magnet, "round trip changed the value of {link:?}"),
            Err(e) => panic!("formatted link {link:?} does not parse: {e}"),
        }
    }
}
