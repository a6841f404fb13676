//! One test per class of malformed bencode, in strict mode (the default): each asserts the exact
//! error kind and byte offset.

use ferrent_bencode::{DecodeError, DecodeOptions, ErrorKind, Value, decode, decode_with};

const INT_END: &str = "a digit or 'e' to end the integer";

/// Decodes `input` strictly and returns the error, failing the test if decoding succeeded.
fn strict_err(input: &[u8]) -> DecodeError {
    match decode(input) {
        Ok(v) => panic!(
            "{:?} decoded to {v:?}, expected an error",
            String::from_utf8_lossy(input)
        ),
        Err(e) => e,
    }
}

fn assert_err(input: &[u8], offset: usize, kind: ErrorKind) {
    assert_eq!(
        strict_err(input),
        DecodeError { offset, kind },
        "input {:?}",
        String::from_utf8_lossy(input)
    );
}

#[test]
fn negative_zero() {
    assert_err(b"i-0e", 0, ErrorKind::NegativeZero);
    assert_err(b"i-00e", 0, ErrorKind::NegativeZero);
    assert_err(b"li1ei-0ee", 4, ErrorKind::NegativeZero);
}

#[test]
fn integer_leading_zero() {
    assert_err(b"i03e", 0, ErrorKind::IntegerLeadingZero);
    assert_err(b"i00e", 0, ErrorKind::IntegerLeadingZero);
    assert_err(b"i-03e", 0, ErrorKind::IntegerLeadingZero);
    assert_err(b"d1:ai007ee", 4, ErrorKind::IntegerLeadingZero);
    // A lone zero is canonical.
    assert_eq!(decode(b"i0e"), Ok(Value::Int(0)));
}

#[test]
fn integer_plus_sign() {
    assert_err(
        b"i+1e",
        1,
        ErrorKind::UnexpectedByte {
            found: b'+',
            expected: INT_END,
        },
    );
    assert_err(
        b"i--1e",
        2,
        ErrorKind::UnexpectedByte {
            found: b'-',
            expected: INT_END,
        },
    );
    assert_err(
        b"i1-e",
        2,
        ErrorKind::UnexpectedByte {
            found: b'-',
            expected: INT_END,
        },
    );
    assert_err(
        b"i 1e",
        1,
        ErrorKind::UnexpectedByte {
            found: b' ',
            expected: INT_END,
        },
    );
    assert_err(
        b"i1.5e",
        2,
        ErrorKind::UnexpectedByte {
            found: b'.',
            expected: INT_END,
        },
    );
}

#[test]
fn empty_integer() {
    assert_err(b"ie", 0, ErrorKind::EmptyInteger);
    assert_err(b"i-e", 0, ErrorKind::EmptyInteger);
    assert_err(b"li1eiee", 4, ErrorKind::EmptyInteger);
}

#[test]
fn string_length_leading_zero() {
    assert_err(b"03:abc", 0, ErrorKind::LengthLeadingZero);
    assert_err(b"00:", 0, ErrorKind::LengthLeadingZero);
    assert_err(b"l1:a01:be", 4, ErrorKind::LengthLeadingZero);
    // In a dictionary key too.
    assert_err(b"d01:ai1ee", 1, ErrorKind::LengthLeadingZero);
    // The empty string is canonical.
    assert_eq!(decode(b"0:"), Ok(Value::Bytes(b"")));
}

#[test]
fn string_length_past_end() {
    assert_err(
        b"4:abc",
        0,
        ErrorKind::LengthPastEnd {
            declared: 4,
            available: 3,
        },
    );
    assert_err(
        b"l1:a5:abcd",
        4,
        ErrorKind::LengthPastEnd {
            declared: 5,
            available: 4,
        },
    );
    assert_err(
        b"d3:keyi1e",
        9,
        ErrorKind::UnexpectedEof {
            expected: "a dictionary key or 'e'",
        },
    );
    assert_err(
        b"d9:keye",
        1,
        ErrorKind::LengthPastEnd {
            declared: 9,
            available: 4,
        },
    );
    // Lengths that do not fit in memory or in u64 must not allocate or wrap.
    assert_err(
        b"18446744073709551615:x",
        0,
        ErrorKind::LengthPastEnd {
            declared: u64::MAX,
            available: 1,
        },
    );
    assert_err(
        b"99999999999999999999999:xy",
        0,
        ErrorKind::LengthPastEnd {
            declared: u64::MAX,
            available: 2,
        },
    );
    assert_err(
        b"9223372036854775808:",
        0,
        ErrorKind::LengthPastEnd {
            declared: 9_223_372_036_854_775_808,
            available: 0,
        },
    );
}

#[test]
fn string_length_bad_byte() {
    let expected = "a digit or ':' in a string length";
    assert_err(
        b"3x:abc",
        1,
        ErrorKind::UnexpectedByte {
            found: b'x',
            expected,
        },
    );
    assert_err(
        b"-1:a",
        0,
        ErrorKind::UnexpectedByte {
            found: b'-',
            expected: "a value",
        },
    );
}

#[test]
fn integer_overflow_positive() {
    // i64::MAX + 1: the 19th digit (offset 19) overflows.
    assert_err(b"i9223372036854775808e", 19, ErrorKind::IntegerOverflow);
    assert_err(b"i99999999999999999999e", 19, ErrorKind::IntegerOverflow);
    assert_err(b"i18446744073709551616e", 20, ErrorKind::IntegerOverflow);
    assert_err(
        b"li1ei92233720368547758070ee",
        24,
        ErrorKind::IntegerOverflow,
    );
}

#[test]
fn integer_overflow_negative() {
    // i64::MIN - 1: the 19th digit (offset 20, after "i-") overflows.
    assert_err(b"i-9223372036854775809e", 20, ErrorKind::IntegerOverflow);
    assert_err(b"i-99999999999999999999e", 20, ErrorKind::IntegerOverflow);
}

#[test]
fn integer_extremes_decode() {
    assert_eq!(decode(b"i9223372036854775807e"), Ok(Value::Int(i64::MAX)));
    assert_eq!(decode(b"i-9223372036854775808e"), Ok(Value::Int(i64::MIN)));
    assert_eq!(decode(b"i-1e"), Ok(Value::Int(-1)));
    assert_eq!(
        ferrent_bencode::encode(&Value::Int(i64::MIN)),
        b"i-9223372036854775808e"
    );
    assert_eq!(
        ferrent_bencode::encode(&Value::Int(i64::MAX)),
        b"i9223372036854775807e"
    );
}

#[test]
fn non_string_keys() {
    assert_err(b"di1ei2ee", 1, ErrorKind::NonStringKey);
    assert_err(b"dlei1ee", 1, ErrorKind::NonStringKey);
    assert_err(b"ddei1ee", 1, ErrorKind::NonStringKey);
    assert_err(b"d1:ai1eli1ee1:be", 7, ErrorKind::NonStringKey);
    assert_err(b"dxe", 1, ErrorKind::NonStringKey);
}

#[test]
fn trailing_bytes() {
    assert_err(b"i1ei2e", 3, ErrorKind::TrailingBytes { count: 3 });
    assert_err(b"0:x", 2, ErrorKind::TrailingBytes { count: 1 });
    assert_err(b"dee", 2, ErrorKind::TrailingBytes { count: 1 });
    assert_err(b"le\n", 2, ErrorKind::TrailingBytes { count: 1 });
}

#[test]
fn unsorted_keys() {
    assert_err(b"d1:bi1e1:ai2ee", 7, ErrorKind::UnsortedKey);
    // Raw byte order, not length-first: "ab" < "b".
    assert_err(b"d1:bi1e2:abi2ee", 7, ErrorKind::UnsortedKey);
    assert!(decode(b"d2:abi1e1:bi2ee").is_ok());
    // A prefix sorts first: "a" < "aa".
    assert_err(b"d2:aai1e1:ai2ee", 8, ErrorKind::UnsortedKey);
    // In a nested dictionary.
    assert_err(b"d1:ad1:zi0e1:yi0eee", 11, ErrorKind::UnsortedKey);
}

#[test]
fn duplicate_keys() {
    assert_err(b"d1:ai1e1:ai2ee", 7, ErrorKind::DuplicateKey);
    assert_err(b"d0:i1e0:i2ee", 6, ErrorKind::DuplicateKey);
    // Non-adjacent duplicates are also out of order, which strict mode sees first.
    assert_err(b"d1:ai1e1:bi1e1:ai1ee", 13, ErrorKind::UnsortedKey);
}

#[test]
fn bad_value_start() {
    assert_err(
        b"x",
        0,
        ErrorKind::UnexpectedByte {
            found: b'x',
            expected: "a value",
        },
    );
    assert_err(
        b"e",
        0,
        ErrorKind::UnexpectedByte {
            found: b'e',
            expected: "a value",
        },
    );
    assert_err(
        b"lxe",
        1,
        ErrorKind::UnexpectedByte {
            found: b'x',
            expected: "a value",
        },
    );
    assert_err(
        b"d1:aee",
        4,
        ErrorKind::UnexpectedByte {
            found: b'e',
            expected: "a value",
        },
    );
    assert_err(
        b"",
        0,
        ErrorKind::UnexpectedEof {
            expected: "a value",
        },
    );
}

#[test]
fn depth_limit() {
    let limit = ferrent_bencode::DEFAULT_MAX_DEPTH;
    let nested = |n: usize| [vec![b'l'; n], vec![b'e'; n]].concat();
    assert!(decode(&nested(limit)).is_ok());
    assert_err(&nested(limit + 1), limit, ErrorKind::TooDeep { limit });
    // Far past the limit the decoder stops at the limit (no stack overflow).
    assert_err(&nested(1_000_000), limit, ErrorKind::TooDeep { limit });

    // Dictionaries count as levels too: "d1:a" repeated.
    let dicts = |n: usize| [b"d1:a".repeat(n), b"i0e".to_vec(), vec![b'e'; n]].concat();
    assert!(decode(&dicts(limit)).is_ok());
    assert_err(&dicts(limit + 1), 4 * limit, ErrorKind::TooDeep { limit });

    // A custom limit.
    let opts = DecodeOptions {
        max_depth: 2,
        ..DecodeOptions::default()
    };
    assert!(decode_with(b"llee", &opts).is_ok());
    assert_eq!(
        decode_with(b"ld1:aleee", &opts),
        Err(DecodeError {
            offset: 5,
            kind: ErrorKind::TooDeep { limit: 2 }
        })
    );
    // Scalars do not nest.
    let opts = DecodeOptions {
        max_depth: 0,
        ..DecodeOptions::default()
    };
    assert!(decode_with(b"i1e", &opts).is_ok());
    assert_eq!(
        decode_with(b"le", &opts),
        Err(DecodeError {
            offset: 0,
            kind: ErrorKind::TooDeep { limit: 0 }
        })
    );
}

#[test]
fn item_limit() {
    let opts = DecodeOptions {
        max_items: 3,
        ..DecodeOptions::default()
    };
    assert!(decode_with(b"li1ei2ee", &opts).is_ok());
    assert_eq!(
        decode_with(b"li1ei2ei3ee", &opts),
        Err(DecodeError {
            offset: 7,
            kind: ErrorKind::TooManyItems { limit: 3 }
        })
    );
    // Dictionary keys count: the dict, the key and the value are three.
    assert!(decode_with(b"d1:ai1ee", &opts).is_ok());
    let opts = DecodeOptions {
        max_items: 2,
        ..DecodeOptions::default()
    };
    assert_eq!(
        decode_with(b"d1:ai1ee", &opts),
        Err(DecodeError {
            offset: 4,
            kind: ErrorKind::TooManyItems { limit: 2 }
        })
    );
    let opts = DecodeOptions {
        max_items: 1,
        ..DecodeOptions::default()
    };
    assert_eq!(
        decode_with(b"d1:ai1ee", &opts),
        Err(DecodeError {
            offset: 1,
            kind: ErrorKind::TooManyItems { limit: 1 }
        })
    );
}

#[test]
fn item_limit_default() {
    let limit = ferrent_bencode::DEFAULT_MAX_ITEMS;
    // The outer list plus limit - 1 empty strings is exactly at the limit.
    let at_limit = [b"l".to_vec(), b"0:".repeat(limit - 1), b"e".to_vec()].concat();
    assert!(decode(&at_limit).is_ok());
    let over = [b"l".to_vec(), b"0:".repeat(limit), b"e".to_vec()].concat();
    assert_eq!(
        decode(&over),
        Err(DecodeError {
            offset: 1 + 2 * (limit - 1),
            kind: ErrorKind::TooManyItems { limit }
        })
    );
}

#[test]
fn input_limit() {
    let opts = DecodeOptions {
        max_input: 5,
        ..DecodeOptions::default()
    };
    assert!(decode_with(b"3:abc", &opts).is_ok());
    assert_eq!(
        decode_with(b"4:abcd", &opts),
        Err(DecodeError {
            offset: 0,
            kind: ErrorKind::InputTooLarge { len: 6, limit: 5 }
        })
    );
    // The default limit, checked before anything is parsed.
    let limit = ferrent_bencode::DEFAULT_MAX_INPUT;
    let big = vec![b'x'; limit + 1];
    assert_err(
        &big,
        0,
        ErrorKind::InputTooLarge {
            len: limit + 1,
            limit,
        },
    );
}

/// Where each byte string of a valid canonical input sits: (start of length, first data byte, end).
fn string_spans(input: &[u8]) -> Vec<(usize, usize, usize)> {
    let mut spans = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        match input[pos] {
            b'i' => pos += input[pos..].iter().position(|&b| b == b'e').unwrap() + 1,
            b'l' | b'd' | b'e' => pos += 1,
            _ => {
                let colon = pos + input[pos..].iter().position(|&b| b == b':').unwrap();
                let len: usize = std::str::from_utf8(&input[pos..colon])
                    .unwrap()
                    .parse()
                    .unwrap();
                spans.push((pos, colon + 1, colon + 1 + len));
                pos = colon + 1 + len;
            }
        }
    }
    spans
}

#[test]
fn eof_at_every_position() {
    let inputs: [&[u8]; 4] = [
        b"d8:announce14:http://x/annce4:infod6:lengthi12345e4:name5:a.txt12:piece lengthi16384e6:pieces20:AAAAAAAAAAAAAAAAAAAAe3:urlll1:ae0:i-42eee",
        b"li0ei-1e0:le3:abcdee",
        b"i-9223372036854775808e",
        b"10:0123456789",
    ];
    for input in inputs {
        assert!(
            decode(input).is_ok(),
            "{:?} must be valid",
            String::from_utf8_lossy(input)
        );
        let spans = string_spans(input);
        for cut in 0..input.len() {
            let err = strict_err(&input[..cut]);
            // Cut inside a string's data: the string's length is past the end. Anywhere else the
            // decoder runs out of input exactly at the cut.
            match spans
                .iter()
                .find(|&&(_, data, end)| data <= cut && cut < end)
            {
                Some(&(start, data, end)) => assert_eq!(
                    err,
                    DecodeError {
                        offset: start,
                        kind: ErrorKind::LengthPastEnd {
                            declared: (end - data) as u64,
                            available: cut - data,
                        },
                    },
                    "cut at {cut}"
                ),
                None => {
                    assert_eq!(err.offset, cut, "cut at {cut}: {err}");
                    assert!(
                        matches!(err.kind, ErrorKind::UnexpectedEof { .. }),
                        "cut at {cut}: {err}"
                    );
                }
            }
        }
    }
}

#[test]
fn errors_display_offset() {
    let e = strict_err(b"i03e");
    assert_eq!(
        e.to_string(),
        "bencode error at byte 0: integer has a leading zero"
    );
    let e = strict_err(b"i+1e");
    assert_eq!(
        e.to_string(),
        "bencode error at byte 1: found '+', expected a digit or 'e' to end the integer"
    );
    let e = strict_err(b"l\x01e");
    assert_eq!(
        e.to_string(),
        "bencode error at byte 1: found byte 0x01, expected a value"
    );
}
