//! URL query strings: percent-encoding of binary values (RFC 3986) and splitting `a=b&c=d`.

use std::fmt::Write as _;

/// Appends `bytes` to `out`, percent-encoding every byte except the RFC 3986 unreserved
/// characters (`A-Z a-z 0-9 - . _ ~`). This is the form trackers expect for the binary
/// `info_hash` and `peer_id` (BEP 3); `serde_urlencoded` cannot produce it from bytes.
///
/// ```
/// let mut s = String::new();
/// ferrent_proto::tracker::percent_encode(b"a b\x00~", &mut s);
/// assert_eq!(s, "a%20b%00~");
/// ```
pub fn percent_encode(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// Decodes `%XX` escapes (either case). Other characters, `+` included, are taken literally:
/// trackers receive binary values where a `+` can only be a literal byte that the client
/// forgot to escape. Returns the byte offset of the first bad escape on error.
///
/// ```
/// use ferrent_proto::tracker::percent_decode;
/// assert_eq!(percent_decode("a%20b%fF+").unwrap(), b"a b\xff+");
/// assert_eq!(percent_decode("ab%2").unwrap_err(), 2);
/// ```
pub fn percent_decode(s: &str) -> Result<Vec<u8>, usize> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hi = b.get(i + 1).copied().and_then(hex_val).ok_or(i)?;
            let lo = b.get(i + 2).copied().and_then(hex_val).ok_or(i)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Splits a query string into `(name, raw value)` pairs; empty segments (`a=1&&b=2`) are
/// skipped and a segment without `=` has an empty value.
pub(crate) fn pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|seg| seg.split_once('=').unwrap_or((seg, "")))
}

/// Appends `&name=value` (without the `&` when `out` is empty); `value` is written as is.
pub(crate) fn push_param(out: &mut String, name: &str, value: impl std::fmt::Display) {
    if !out.is_empty() {
        out.push('&');
    }
    let _ = write!(out, "{name}={value}");
}

/// Appends `&name=` followed by `bytes` percent-encoded.
pub(crate) fn push_bytes_param(out: &mut String, name: &str, bytes: &[u8]) {
    if !out.is_empty() {
        out.push('&');
    }
    out.push_str(name);
    out.push('=');
    percent_encode(bytes, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn unreserved_characters_pass_through() {
        let mut s = String::new();
        percent_encode(b"AZaz09-._~", &mut s);
        assert_eq!(s, "AZaz09-._~");
    }

    #[test]
    fn bad_escapes_are_located() {
        assert_eq!(percent_decode("%").unwrap_err(), 0);
        assert_eq!(percent_decode("xy%g0").unwrap_err(), 2);
        assert_eq!(percent_decode("%0").unwrap_err(), 0);
    }

    #[test]
    fn pairs_split_on_first_equals() {
        let v: Vec<_> = pairs("a=1&&b=x=y&c").collect();
        assert_eq!(v, [("a", "1"), ("b", "x=y"), ("c", "")]);
    }

    proptest! {
        #[test]
        fn percent_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut s = String::new();
            percent_encode(&bytes, &mut s);
            prop_assert!(!s.contains(['&', '=', '+', ' ', '#', '?']));
            prop_assert_eq!(percent_decode(&s).unwrap(), bytes);
        }

        #[test]
        fn percent_decode_never_panics(s in "\\PC{0,40}") {
            let _ = percent_decode(&s);
        }
    }
}
