//! Decode errors and lenient-mode warnings, each with the byte offset it refers to.

use std::fmt;

/// Why decoding failed, and at which byte offset of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Offset of the offending byte in the input.
    pub offset: usize,
    /// What was wrong there.
    pub kind: ErrorKind,
}

impl DecodeError {
    pub(crate) fn new(offset: usize, kind: ErrorKind) -> Self {
        DecodeError { offset, kind }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bencode error at byte {}: {}", self.offset, self.kind)
    }
}

impl std::error::Error for DecodeError {}

/// The classes of malformed bencode. Each is a separate variant so callers and tests can tell them
/// apart.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended while `expected` was still to come.
    UnexpectedEof {
        /// What the decoder was looking for.
        expected: &'static str,
    },
    /// A byte that cannot start or continue what was expected.
    UnexpectedByte {
        /// The byte found.
        found: u8,
        /// What the decoder was looking for.
        expected: &'static str,
    },
    /// `ie`: an integer with no digits.
    EmptyInteger,
    /// `i-0e`: negative zero (strict mode).
    NegativeZero,
    /// `i03e`: an integer with a leading zero (strict mode).
    IntegerLeadingZero,
    /// An integer outside the range of `i64`.
    IntegerOverflow,
    /// `03:abc`: a string length with a leading zero.
    LengthLeadingZero,
    /// A string length that runs past the end of the input (lengths beyond `u64` are reported as
    /// `u64::MAX`).
    LengthPastEnd {
        /// The declared length.
        declared: u64,
        /// Bytes left in the input after the `:`.
        available: usize,
    },
    /// A dictionary key that is not a byte string.
    NonStringKey,
    /// A dictionary key that sorts before the key in front of it (strict mode).
    UnsortedKey,
    /// A dictionary key that appears twice.
    DuplicateKey,
    /// Bytes after the end of the top-level value (strict mode).
    TrailingBytes {
        /// How many bytes follow the value.
        count: usize,
    },
    /// Lists and dictionaries nested deeper than the limit.
    TooDeep {
        /// The nesting limit in force.
        limit: usize,
    },
    /// More values in the input than the limit.
    TooManyItems {
        /// The item limit in force.
        limit: usize,
    },
    /// The input is larger than the limit.
    InputTooLarge {
        /// The input length.
        len: usize,
        /// The size limit in force.
        limit: usize,
    },
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::UnexpectedEof { expected } => {
                write!(f, "input ended, expected {expected}")
            }
            ErrorKind::UnexpectedByte { found, expected } => {
                write!(f, "found {}, expected {expected}", show_byte(*found))
            }
            ErrorKind::EmptyInteger => f.write_str("integer has no digits"),
            ErrorKind::NegativeZero => f.write_str("negative zero is not allowed"),
            ErrorKind::IntegerLeadingZero => f.write_str("integer has a leading zero"),
            ErrorKind::IntegerOverflow => f.write_str("integer does not fit in 64 bits"),
            ErrorKind::LengthLeadingZero => f.write_str("string length has a leading zero"),
            ErrorKind::LengthPastEnd {
                declared,
                available,
            } => write!(
                f,
                "string length {declared} runs past the end of the input ({available} bytes left)"
            ),
            ErrorKind::NonStringKey => f.write_str("dictionary key is not a string"),
            ErrorKind::UnsortedKey => f.write_str("dictionary keys are not sorted"),
            ErrorKind::DuplicateKey => f.write_str("dictionary key appears twice"),
            ErrorKind::TrailingBytes { count } => {
                write!(f, "{count} unexpected bytes after the end of the value")
            }
            ErrorKind::TooDeep { limit } => write!(f, "nested deeper than {limit} levels"),
            ErrorKind::TooManyItems { limit } => write!(f, "more than {limit} values"),
            ErrorKind::InputTooLarge { len, limit } => {
                write!(
                    f,
                    "input of {len} bytes is larger than the limit of {limit}"
                )
            }
        }
    }
}

fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

/// Something a lenient decode accepted that a strict decode would have rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Offset of the offending byte in the input.
    pub offset: usize,
    /// What was tolerated.
    pub kind: WarningKind,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            WarningKind::NonCanonicalInteger => "non-canonical integer (leading zero or -0)",
            WarningKind::UnsortedKey => "dictionary keys not sorted",
            WarningKind::TrailingBytes => "unexpected bytes after the end of the value",
        };
        write!(f, "at byte {}: {what}", self.offset)
    }
}

/// The harmless deviations that lenient mode tolerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningKind {
    /// `i03e` or `i-0e`.
    NonCanonicalInteger,
    /// A dictionary key that sorts before the one in front of it.
    UnsortedKey,
    /// Bytes after the top-level value.
    TrailingBytes,
}
