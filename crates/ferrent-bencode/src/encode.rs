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
    if dict.is_sorted() {
        // The usual case (decoded strictly or built with `insert`): no allocation.
        for e in dict.iter() {
            write_bytes(out, e.key);
            encode_into(&e.value, out);
        }
    } else {
        let mut entries: Vec<_> = dict.iter().collect();
        entries.sort_by(|a, b| a.key.cmp(b.key));
        for e in entries {
            write_bytes(out, e.key);
            encode_into(&e.value, out);
        }
    }
    out.push(b'e');
}

/// Appends `i<n>e`.
pub fn write_int(out: &mut Vec<u8>, n: i64) {
    out.push(b'i');
    if n < 0 {
        out.push(b'-');
    }
    write_decimal(out, n.unsigned_abs());
    out.push(b'e');
}

/// Appends `<len>:<bytes>`.
pub fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_decimal(out, b.len() as u64);
    out.push(b':');
    out.extend_from_slice(b);
}

/// Appends `n` in decimal without allocating (the encoder writes one per string and integer).
fn write_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20]; // u64::MAX has 20 digits
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(i..).unwrap_or_default());
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
