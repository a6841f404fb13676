//! The value API, the encoder and `decode_prefix`.

use ferrent_bencode::{
    Dict, ErrorKind, Value, decode, decode_prefix, encode, encode_into, encoded_len,
};

#[test]
fn encoder_sorts_hand_built_dicts() {
    let d = Dict::new()
        .with(b"zeta", Value::Int(1))
        .with(b"alpha", Value::List(vec![Value::str("x"), Value::Int(-5)]))
        .with(b"mid", Value::Dict(Dict::new()));
    let v = Value::Dict(d);
    let bytes = encode(&v);
    assert_eq!(bytes, b"d5:alphal1:xi-5ee3:midde4:zetai1ee");
    assert_eq!(encoded_len(&v), bytes.len());
    assert_eq!(decode(&bytes), Ok(v));
}

#[test]
fn insert_replaces() {
    let mut d = Dict::new();
    d.insert(b"k", Value::Int(1));
    d.insert(b"k", Value::Int(2));
    assert_eq!(d.len(), 1);
    assert_eq!(d.get_int(b"k"), Some(2));
    // Hand-built entries have no raw bytes.
    assert_eq!(d.get_raw(b"k"), Some(&b""[..]));
    assert_eq!(d.get_raw(b"missing"), None);
}

#[test]
fn encode_into_appends() {
    let mut buf = b"prefix".to_vec();
    encode_into(&Value::Int(0), &mut buf);
    encode_into(&Value::Bytes(b""), &mut buf);
    encode_into(&Value::Int(-10), &mut buf);
    encode_into(&Value::Bytes(&[0u8; 10]), &mut buf);
    assert_eq!(buf, b"prefixi0e0:i-10e10:\0\0\0\0\0\0\0\0\0\0");
}

#[test]
fn encoded_len_matches() {
    for n in [0, 9, 10, -1, -10, 99, 100, i64::MAX, i64::MIN] {
        let v = Value::Int(n);
        assert_eq!(encoded_len(&v), encode(&v).len(), "{n}");
    }
    for len in [0, 9, 10, 99, 100, 1000] {
        let data = vec![b'a'; len];
        let v = Value::Bytes(&data);
        assert_eq!(encoded_len(&v), encode(&v).len(), "{len}");
    }
}

#[test]
fn prefix_decoding_returns_length() {
    // BEP 9: a ut_metadata data message is a dictionary followed by the raw piece.
    let msg = b"d8:msg_typei1e5:piecei0eeRAWDATA";
    let (v, used) = decode_prefix(msg).unwrap();
    assert_eq!(used, 25);
    assert_eq!(&msg[used..], b"RAWDATA");
    assert_eq!(v.as_dict().unwrap().get_int(b"msg_type"), Some(1));
    // The prefix itself is strict.
    assert_eq!(
        decode_prefix(b"i03eXX").unwrap_err().kind,
        ErrorKind::IntegerLeadingZero
    );
    assert_eq!(decode_prefix(b"l").unwrap_err().offset, 1);
}

#[test]
fn accessors() {
    let input = b"d1:bi7e1:d0:1:f2:\xff\xfe1:ll1:xe1:sd1:ki1eee";
    let v = decode(input).unwrap();
    let d = v.as_dict().unwrap();
    assert_eq!(d.get_int(b"b"), Some(7));
    assert_eq!(d.get_str(b"d"), Some(""));
    assert_eq!(d.get_bytes(b"f"), Some(&b"\xff\xfe"[..]));
    assert_eq!(d.get_str(b"f"), None);
    assert_eq!(d.get_list(b"l").map(<[_]>::len), Some(1));
    assert_eq!(d.get_dict(b"s").and_then(|s| s.get_int(b"k")), Some(1));
    assert_eq!(d.get_int(b"l"), None);
    assert_eq!(d.get(b"nope"), None);
    assert_eq!(v.type_name(), "dictionary");
    assert_eq!(d.len(), 5);
    assert!(!d.is_empty());
    assert!(d.is_sorted());
}
