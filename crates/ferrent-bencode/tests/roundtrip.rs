//! Property tests: decode(encode(v)) == v, encode(decode(b)) == b for canonical b, and arbitrary
//! or mutated bytes never panic (and, when strict decoding accepts them, they were canonical).

use ferrent_bencode::{
    DecodeOptions, Dict, Value, WarningKind, decode, decode_prefix, decode_with, encode,
};
use proptest::prelude::*;

/// An owned value tree, from which a borrowing [`Value`] is built.
#[derive(Debug, Clone)]
enum Tree {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Tree>),
    Dict(Vec<(Vec<u8>, Tree)>),
}

impl Tree {
    fn value(&self) -> Value<'_> {
        match self {
            Tree::Int(n) => Value::Int(*n),
            Tree::Bytes(b) => Value::Bytes(b),
            Tree::List(l) => Value::List(l.iter().map(Tree::value).collect()),
            Tree::Dict(entries) => {
                let mut d = Dict::new();
                for (k, v) in entries {
                    d.insert(k, v.value());
                }
                Value::Dict(d)
            }
        }
    }
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Tree::Int),
        prop_oneof![Just(0i64), Just(-1), Just(i64::MIN), Just(i64::MAX)].prop_map(Tree::Int),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Tree::Bytes),
    ];
    leaf.prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Tree::List),
            // Short keys over a small alphabet so that duplicates (replaced by insert) and shared
            // prefixes occur often.
            proptest::collection::vec(
                (
                    proptest::collection::vec(
                        prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()],
                        0..4
                    ),
                    inner
                ),
                0..8
            )
            .prop_map(Tree::Dict),
        ]
    })
}

/// Checks every dictionary entry's raw span against the input it was decoded from (with `opts`).
fn check_spans(input: &[u8], v: &Value<'_>, opts: &DecodeOptions) {
    match v {
        Value::List(l) => l.iter().for_each(|v| check_spans(input, v, opts)),
        Value::Dict(d) => {
            for e in d.iter() {
                assert_eq!(input.get(e.span.clone()), Some(e.raw));
                // The raw bytes are exactly one value, the entry's value.
                let raw = decode_with(e.raw, opts).unwrap();
                assert!(
                    !raw.warnings
                        .iter()
                        .any(|w| w.kind == WarningKind::TrailingBytes)
                );
                assert_eq!(raw.value, e.value);
                check_spans(input, &e.value, opts);
            }
        }
        Value::Int(_) | Value::Bytes(_) => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn decode_encode_roundtrip(t in tree()) {
        let v = t.value();
        let bytes = encode(&v);
        prop_assert_eq!(ferrent_bencode::encoded_len(&v), bytes.len());
        let back = decode(&bytes).unwrap();
        prop_assert_eq!(&back, &v);
        // Lenient decoding of canonical input agrees and warns about nothing.
        let lenient = decode_with(&bytes, &DecodeOptions::lenient()).unwrap();
        prop_assert!(lenient.warnings.is_empty());
        prop_assert_eq!(&lenient.value, &v);
        check_spans(&bytes, &back, &DecodeOptions::default());
    }

    #[test]
    fn canonical_bytes_reencode_identically(t in tree()) {
        let canonical = encode(&t.value());
        let v = decode(&canonical).unwrap();
        prop_assert_eq!(encode(&v), canonical);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_arbitrary(&bytes);
    }

    #[test]
    fn bencode_like_bytes_never_panic(
        bytes in proptest::collection::vec(
            prop_oneof![
                Just(b'i'), Just(b'l'), Just(b'd'), Just(b'e'), Just(b':'), Just(b'-'),
                Just(b'0'), Just(b'1'), Just(b'2'), Just(b'9'), Just(b'a'),
            ],
            0..128,
        )
    ) {
        check_arbitrary(&bytes);
    }

    #[test]
    fn mutated_values_never_panic(t in tree(), pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let mut bytes = encode(&t.value());
        if !bytes.is_empty() {
            let i = pos.index(bytes.len());
            bytes[i] = byte;
            check_arbitrary(&bytes);
            let c = cut.index(bytes.len());
            check_arbitrary(&bytes[..c]);
        }
    }
}

/// Whatever the input: no panic; strict success means the input was canonical; lenient success
/// re-encodes to something strict decoding accepts as the same value; raw spans are in the input.
fn check_arbitrary(bytes: &[u8]) {
    if let Ok(v) = decode(bytes) {
        assert_eq!(encode(&v), bytes);
        check_spans(bytes, &v, &DecodeOptions::default());
    }
    if let Ok(d) = decode_with(bytes, &DecodeOptions::lenient()) {
        let canonical = encode(&d.value);
        assert_eq!(decode(&canonical).as_ref(), Ok(&d.value));
        if d.warnings.is_empty() {
            assert_eq!(canonical, bytes);
        }
        check_spans(bytes, &d.value, &DecodeOptions::lenient());
    }
    if let Ok((v, used)) = decode_prefix(bytes) {
        assert!(used <= bytes.len());
        assert_eq!(encode(&v), &bytes[..used]);
    }
}
