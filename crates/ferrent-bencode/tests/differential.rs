//! Differential test against `bendy`, the one other strict bencode decoder: on arbitrary and on
//! mutated canonical inputs, both accept or both reject, and when both accept they agree on the
//! value. (bendy keeps integers as text, so an integer beyond i64 counts as a rejection.)

use bendy::decoding::{Decoder, Object};
use ferrent_bencode::{Dict, Value, decode, encode};
use proptest::prelude::*;

/// An owned tree both decoders' results convert to.
#[derive(Debug, Clone, PartialEq)]
enum Model {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Model>),
    Dict(Vec<(Vec<u8>, Model)>),
}

impl Model {
    fn value(&self) -> Value<'_> {
        match self {
            Model::Int(n) => Value::Int(*n),
            Model::Bytes(b) => Value::Bytes(b),
            Model::List(l) => Value::List(l.iter().map(Model::value).collect()),
            Model::Dict(entries) => {
                let mut d = Dict::new();
                for (k, v) in entries {
                    d.insert(k, v.value());
                }
                Value::Dict(d)
            }
        }
    }
}

fn from_ours(v: &Value<'_>) -> Model {
    match v {
        Value::Int(n) => Model::Int(*n),
        Value::Bytes(b) => Model::Bytes(b.to_vec()),
        Value::List(l) => Model::List(l.iter().map(from_ours).collect()),
        Value::Dict(d) => Model::Dict(
            d.iter()
                .map(|e| (e.key.to_vec(), from_ours(&e.value)))
                .collect(),
        ),
    }
}

/// `None` when bendy rejects the input (or holds an integer beyond i64).
fn from_bendy(obj: Object<'_, '_>) -> Option<Model> {
    Some(match obj {
        Object::Integer(s) => Model::Int(s.parse().ok()?),
        Object::Bytes(b) => Model::Bytes(b.to_vec()),
        Object::List(mut l) => {
            let mut items = Vec::new();
            while let Some(o) = l.next_object().ok()? {
                items.push(from_bendy(o)?);
            }
            Model::List(items)
        }
        Object::Dict(mut d) => {
            let mut entries = Vec::new();
            while let Some((k, o)) = d.next_pair().ok()? {
                entries.push((k.to_vec(), from_bendy(o)?));
            }
            Model::Dict(entries)
        }
    })
}

fn bendy_decode(input: &[u8]) -> Option<Model> {
    let mut decoder = Decoder::new(input).with_max_depth(10_000);
    let model = from_bendy(decoder.next_object().ok()??)?;
    // Exactly one value: nothing may follow it.
    match decoder.next_object() {
        Ok(None) => Some(model),
        _ => None,
    }
}

fn check(input: &[u8]) {
    let ours = decode(input).ok().map(|v| from_ours(&v));
    let theirs = bendy_decode(input);
    assert_eq!(ours, theirs, "input {:?}", String::from_utf8_lossy(input));
}

#[test]
fn known_cases_agree() {
    let cases: [&[u8]; 24] = [
        b"i0e",
        b"i-0e",
        b"i03e",
        b"i+1e",
        b"ie",
        b"i-e",
        b"i9223372036854775807e",
        b"i-9223372036854775808e",
        b"i9223372036854775808e",
        b"0:",
        b"03:abc",
        b"4:abc",
        b"le",
        b"de",
        b"d1:ai1e1:bi2ee",
        b"d1:bi1e1:ai2ee",
        b"d1:ai1e1:ai2ee",
        b"di1ei2ee",
        b"i1ei2e",
        b"l1:a1:be",
        b"d2:aai1e1:ai2ee",
        b"",
        b"l",
        b"d1:a",
    ];
    for input in cases {
        check(input);
    }
}

fn model() -> impl Strategy<Value = Model> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Model::Int),
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(Model::Bytes),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Model::List),
            proptest::collection::vec(
                (
                    proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b')], 0..3),
                    inner
                ),
                0..6
            )
            .prop_map(Model::Dict),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 3000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn agree_on_bencode_like_bytes(
        bytes in proptest::collection::vec(
            prop_oneof![
                Just(b'i'), Just(b'l'), Just(b'd'), Just(b'e'), Just(b':'), Just(b'-'),
                Just(b'0'), Just(b'1'), Just(b'2'), Just(b'a'), Just(b'b'),
            ],
            0..48,
        )
    ) {
        check(&bytes);
    }

    #[test]
    fn agree_on_mutated_canonical_values(
        m in model(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode(&m.value());
        check(&bytes);
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        check(&bytes);
        let c = cut.index(bytes.len() + 1);
        check(&bytes[..c]);
    }
}
