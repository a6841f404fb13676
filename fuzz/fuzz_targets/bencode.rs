//! Fuzzes the bencode decoder in strict and lenient mode, with default and tight limits, and
//! checks what a successful decode promises: strict success means the input was canonical (it
//! re-encodes to itself), every value re-encodes to something strict decoding reads back as the
//! same value, error offsets and raw spans lie within the input.
#![no_main]

use ferrent_bencode::{
    DecodeOptions, ErrorKind, Mode, Value, WarningKind, decode, decode_prefix, decode_with, encode,
    encoded_len,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let strict = DecodeOptions::default();
    let lenient = DecodeOptions::lenient();

    let strict_result = decode(data);
    match &strict_result {
        Ok(v) => {
            let bytes = encode(v);
            assert_eq!(bytes, data, "strict decode accepted non-canonical input");
            assert_eq!(encoded_len(v), bytes.len());
            check_spans(data, v, &strict);
        }
        Err(e) => assert!(e.offset <= data.len(), "error offset {} past the input", e.offset),
    }

    match decode_with(data, &lenient) {
        Ok(d) => {
            let bytes = encode(&d.value);
            assert_eq!(encoded_len(&d.value), bytes.len());
            assert_eq!(decode(&bytes).as_ref(), Ok(&d.value), "re-encoding does not round-trip");
            if d.warnings.is_empty() {
                assert_eq!(bytes, data, "lenient decode without warnings was not canonical");
            }
            assert!(d.warnings.iter().all(|w| w.offset < data.len()));
            assert!(d.warnings.windows(2).all(|w| w[0].offset < w[1].offset));
            check_spans(data, &d.value, &lenient);
            // Whatever strict mode accepts, lenient mode accepts identically.
            if let Ok(v) = &strict_result {
                assert_eq!(v, &d.value);
                assert!(d.warnings.is_empty());
            }
        }
        Err(e) => {
            assert!(e.offset <= data.len());
            assert!(strict_result.is_err(), "lenient rejected what strict accepted: {e}");
        }
    }

    if let Ok((v, used)) = decode_prefix(data) {
        assert!(used <= data.len());
        assert_eq!(encode(&v), &data[..used]);
    }

    // Tight limits: either the same answer, or a limit error.
    let tight = DecodeOptions { max_depth: 3, max_items: 12, max_input: 64, mode: Mode::Strict };
    match (decode_with(data, &tight), &strict_result) {
        (Ok(d), Ok(v)) => assert_eq!(&d.value, v),
        (Ok(d), Err(e)) => panic!("tight limits accepted {:?}, default rejected: {e}", d.value),
        (Err(e), _) => assert!(
            e.offset <= data.len()
                && (strict_result.is_err()
                    || matches!(
                        e.kind,
                        ErrorKind::TooDeep { .. }
                            | ErrorKind::TooManyItems { .. }
                            | ErrorKind::InputTooLarge { .. }
                    )),
            "tight limits failed with {e} where the default succeeded"
        ),
    }
});

/// Every dictionary entry's raw bytes are its span of the input and decode to its value.
fn check_spans(input: &[u8], v: &Value<'_>, opts: &DecodeOptions) {
    match v {
        Value::List(l) => l.iter().for_each(|v| check_spans(input, v, opts)),
        Value::Dict(d) => {
            for e in d.iter() {
                assert_eq!(input.get(e.span.clone()), Some(e.raw), "raw span outside the input");
                match decode_with(e.raw, opts) {
                    Ok(raw) => {
                        assert_eq!(raw.value, e.value);
                        assert!(!raw.warnings.iter().any(|w| w.kind == WarningKind::TrailingBytes));
                    }
                    Err(err) => panic!("raw bytes of an entry do not decode: {err}"),
                }
                check_spans(input, &e.value, opts);
            }
        }
        Value::Int(_) | Value::Bytes(_) => {}
    }
}
