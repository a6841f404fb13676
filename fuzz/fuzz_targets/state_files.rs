//! Fuzzes the files ferrent reads back at start (any of them may be damaged or planted): the
//! tracker's `--allow` list and `--state` snapshot, and the DHT routing-table file. The first
//! input byte picks the parser. Never panics; a state snapshot or DHT table that parses
//! re-encodes to bytes that parse to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, data)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(text) = std::str::from_utf8(data) {
                let _ = ferrent_tracker::parse_allow_list(text);
            }
        }
        1 => {
            if let Ok(text) = std::str::from_utf8(data) {
                if let Ok(swarms) = ferrent_tracker::parse_state(text) {
                    let again = ferrent_tracker::format_state(&swarms);
                    assert_eq!(ferrent_tracker::parse_state(&again).ok(), Some(swarms));
                }
            }
        }
        _ => {
            if let Ok(table) = ferrent::dht::decode_table(data) {
                let again = ferrent::dht::encode_table(&table);
                assert_eq!(ferrent::dht::decode_table(&again).ok(), Some(table));
            }
        }
    }
});
