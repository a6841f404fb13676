//! The encoder: always canonical (BEP 3: integers without leading zeros, keys sorted as raw
//! bytes), whatever order a hand-built dictionary holds its entries in.

use crate::value::{Dict, Value};

/// Encodes `value` into a new buffer.
///
/// ```
/// use ferrent_bencode::{Dict, Value, encode};
/// let d = Dict::new().with(b"b", Value::Int(-3)).with(b"a", Value::str("x"));
/// assert_eq!(encode(&Value::Dict(d)), b"d1:a1:x1:bi-3ee");
/// ```
pub fn encode(value: &Value<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(value));
    encode_into(value, &mut out);
    out
}

/// Appends the encoding of `value` to `out` (the caller owns and reuses the buffer).
pub fn encode_into(value: &Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Int(n) => write_int(out, *n),
        Value::Bytes(b) => write_bytes(out, b),
        Value::List(list) => {
            out.push(b'l');
            for v in list {
                encode_into(v, out);
            }
            out.push(b'e');
        }
        Value::Dict(dict) => write_dict(out, dict),
    }
}

fn write_dict(out: &mut Vec<u8>, dict: &Dict<'_>) {
    out.push(b'd');
    let mut entries: Vec<_> = dict.iter().collect();
    // Stable sort: already-sorted dictionaries (the usual case) cost one pass.
    entries.sort_by(|a, b| a.key.cmp(b.key));
    for e in entries {
        write_bytes(out, e.key);
        encode_into(&e.value, out);
    }
    out.push(b'e');
}

/// Appends `i<n>e`.
pub fn write_int(out: &mut Vec<u8>, n: i64) {
    out.push(b'i');
    out.extend_from_slice(n.to_string().as_bytes());
    out.push(b'e');
}

/// Appends `<len>:<bytes>`.
pub fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// The exact number of bytes [`encode`] will produce.
pub fn encoded_len(value: &Value<'_>) -> usize {
    fn digits(mut n: u64) -> usize {
        let mut d = 1;
        while n >= 10 {
            n /= 10;
            d += 1;
        }
        d
    }
    match value {
        Value::Int(n) => 2 + digits(n.unsigned_abs()) + usize::from(*n < 0),
        Value::Bytes(b) => digits(b.len() as u64) + 1 + b.len(),
        Value::List(l) => 2 + l.iter().map(encoded_len).sum::<usize>(),
        Value::Dict(d) => {
            2 + d
                .iter()
                .map(|e| digits(e.key.len() as u64) + 1 + e.key.len() + encoded_len(&e.value))
                .sum::<usize>()
        }
    }
}
