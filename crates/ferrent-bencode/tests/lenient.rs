//! Lenient mode: what it tolerates (each as a warning at the right offset), what it still
//! rejects, and that raw spans stay the exact input bytes.

use ferrent_bencode::{
    DecodeError, DecodeOptions, Dict, ErrorKind, Value, Warning, WarningKind, decode, decode_with,
    encode,
};

fn lenient(input: &[u8]) -> Result<(Value<'_>, Vec<Warning>), DecodeError> {
    decode_with(input, &DecodeOptions::lenient()).map(|d| (d.value, d.warnings))
}

fn warning(offset: usize, kind: WarningKind) -> Warning {
    Warning { offset, kind }
}

#[test]
fn non_canonical_integers_warn() {
    let nci = WarningKind::NonCanonicalInteger;
    assert_eq!(lenient(b"i03e"), Ok((Value::Int(3), vec![warning(0, nci)])));
    assert_eq!(lenient(b"i-0e"), Ok((Value::Int(0), vec![warning(0, nci)])));
    assert_eq!(lenient(b"i00e"), Ok((Value::Int(0), vec![warning(0, nci)])));
    assert_eq!(
        lenient(b"i-007e"),
        Ok((Value::Int(-7), vec![warning(0, nci)]))
    );
    // Leading zeros do not count towards overflow.
    assert_eq!(
        lenient(b"i00000000000000000000009223372036854775807e"),
        Ok((Value::Int(i64::MAX), vec![warning(0, nci)]))
    );
    assert_eq!(
        lenient(b"li1ei01ei2ei-0ee"),
        Ok((
            Value::List(vec![
                Value::Int(1),
                Value::Int(1),
                Value::Int(2),
                Value::Int(0)
            ]),
            vec![warning(4, nci), warning(11, nci)]
        ))
    );
}

#[test]
fn unsorted_keys_warn() {
    let (v, w) = lenient(b"d1:bi1e1:ai2ee").unwrap();
    assert_eq!(w, vec![warning(7, WarningKind::UnsortedKey)]);
    let d = v.as_dict().unwrap();
    assert_eq!(d.get_int(b"a"), Some(2));
    assert_eq!(d.get_int(b"b"), Some(1));
    // Entries stay in input order, but the encoder sorts them.
    let keys: Vec<&[u8]> = d.iter().map(|e| e.key).collect();
    assert_eq!(keys, [&b"b"[..], &b"a"[..]]);
    assert!(!d.is_sorted());
    assert_eq!(encode(&v), b"d1:ai2e1:bi1ee");
    // Equality ignores entry order.
    let built = Dict::new()
        .with(b"a", Value::Int(2))
        .with(b"b", Value::Int(1));
    assert_eq!(v, Value::Dict(built));
}

#[test]
fn trailing_bytes_warn() {
    assert_eq!(
        lenient(b"i1ejunk"),
        Ok((Value::Int(1), vec![warning(3, WarningKind::TrailingBytes)]))
    );
    // A .torrent with a newline appended.
    assert_eq!(
        lenient(b"de\n"),
        Ok((
            Value::Dict(Dict::new()),
            vec![warning(2, WarningKind::TrailingBytes)]
        ))
    );
}

#[test]
fn warnings_in_input_order() {
    let (_, w) = lenient(b"d1:bi01e1:ai-0eexx").unwrap();
    assert_eq!(
        w,
        vec![
            warning(4, WarningKind::NonCanonicalInteger),
            warning(8, WarningKind::UnsortedKey),
            warning(11, WarningKind::NonCanonicalInteger),
            warning(16, WarningKind::TrailingBytes),
        ]
    );
}

#[test]
fn canonical_input_has_no_warnings() {
    let input = b"d1:ai1e1:bli-1e0:e1:cdee";
    let d = decode_with(input, &DecodeOptions::lenient()).unwrap();
    assert!(d.warnings.is_empty());
    assert_eq!(d.value, decode(input).unwrap());
}

#[test]
fn still_rejected_in_lenient_mode() {
    let cases: [(&[u8], usize, ErrorKind); 8] = [
        (b"ie", 0, ErrorKind::EmptyInteger),
        (
            b"i+1e",
            1,
            ErrorKind::UnexpectedByte {
                found: b'+',
                expected: "a digit or 'e' to end the integer",
            },
        ),
        (b"i9223372036854775808e", 19, ErrorKind::IntegerOverflow),
        (b"03:abc", 0, ErrorKind::LengthLeadingZero),
        (
            b"4:abc",
            0,
            ErrorKind::LengthPastEnd {
                declared: 4,
                available: 3,
            },
        ),
        (b"di1ei2ee", 1, ErrorKind::NonStringKey),
        (b"d1:ai1e1:ai2ee", 7, ErrorKind::DuplicateKey),
        (
            b"l",
            1,
            ErrorKind::UnexpectedEof {
                expected: "a list item or 'e'",
            },
        ),
    ];
    for (input, offset, kind) in cases {
        assert_eq!(
            lenient(input),
            Err(DecodeError { offset, kind }),
            "{input:?}"
        );
    }
}

#[test]
fn non_adjacent_duplicate_keys_rejected() {
    // b, a, b: the second "b" (offset 13) is not next to the first.
    assert_eq!(
        lenient(b"d1:bi1e1:ai2e1:bi3ee"),
        Err(DecodeError {
            offset: 13,
            kind: ErrorKind::DuplicateKey
        })
    );
    // z, y, z, y: the first repeat in input order is "z" at 13, though "y" sorts first.
    assert_eq!(
        lenient(b"d1:zi0e1:yi0e1:zi0e1:yi0ee"),
        Err(DecodeError {
            offset: 13,
            kind: ErrorKind::DuplicateKey
        })
    );
    // Keys with multi-digit lengths: the offset is the start of the repeated key's length.
    let input = b"d10:bbbbbbbbbbi0e1:ai0e10:bbbbbbbbbbi0ee";
    assert_eq!(
        lenient(input),
        Err(DecodeError {
            offset: 23,
            kind: ErrorKind::DuplicateKey
        })
    );
    // Nested.
    assert_eq!(
        lenient(b"d1:xd1:bi1e1:ai2e1:bi3eee"),
        Err(DecodeError {
            offset: 17,
            kind: ErrorKind::DuplicateKey
        })
    );
}

#[test]
fn get_raw_is_exact_input_bytes() {
    // An info dictionary with unsorted keys and a non-canonical integer: the info-hash must be
    // taken over these bytes, not over a re-encoding.
    let info: &[u8] =
        b"d4:name5:a.txt6:lengthi0012e12:piece lengthi16384e6:pieces20:AAAAAAAAAAAAAAAAAAAAe";
    let torrent = [
        b"d8:announce3:url4:info".as_slice(),
        info,
        b"5:extrai-0ee\n",
    ]
    .concat();
    assert!(decode(&torrent).is_err());
    let d = decode_with(&torrent, &DecodeOptions::lenient()).unwrap();
    let top = d.value.as_dict().unwrap();
    assert_eq!(top.get_raw(b"info"), Some(info));
    let entry = top.entry(b"info").unwrap();
    assert_eq!(&torrent[entry.span.clone()], info);
    assert_eq!(top.get_raw(b"extra"), Some(&b"i-0e"[..]));
    assert_eq!(top.get_raw(b"announce"), Some(&b"3:url"[..]));
    // The re-encoding is canonical, hence different.
    let info_value = top.get(b"info").unwrap();
    assert_ne!(encode(info_value), info);
    assert_eq!(
        encode(info_value),
        b"d6:lengthi12e4:name5:a.txt12:piece lengthi16384e6:pieces20:AAAAAAAAAAAAAAAAAAAAe"
    );
    // Nested raw spans point into the same input.
    let inner = info_value.as_dict().unwrap();
    assert_eq!(inner.get_raw(b"length"), Some(&b"i0012e"[..]));
    assert_eq!(inner.get_int(b"length"), Some(12));
}

#[test]
fn insert_into_unsorted_dict_keeps_keys_unique() {
    let input = b"d1:ci3e1:bi2e1:ai1ee";
    let mut v = decode_with(input, &DecodeOptions::lenient()).unwrap().value;
    let Value::Dict(d) = &mut v else {
        panic!("not a dict")
    };
    d.insert(b"a", Value::Int(10));
    d.insert(b"b", Value::Int(20));
    assert_eq!(d.len(), 3);
    assert!(d.is_sorted());
    assert_eq!(encode(&v), b"d1:ai10e1:bi20e1:ci3ee");
}
