//! The decoder: a recursive-descent parser over `&[u8]` with explicit limits.

use crate::error::{DecodeError, ErrorKind, Warning, WarningKind};
use crate::value::{Dict, DictEntry, Value};

/// Deepest nesting of lists and dictionaries accepted by default. Real torrents and messages
/// nest fewer than 10 levels (a v2 `file tree` nests once per directory level); 100 is
/// libtorrent's limit too, and keeps the recursion far from the stack limit.
pub const DEFAULT_MAX_DEPTH: usize = 100;

/// Most values (integers, strings, lists, dictionaries, and dictionary keys) accepted in one input
/// by default. A value costs 32 bytes in a list and a key-value pair 80 bytes in a dictionary (plus
/// up to as much again in spare `Vec` capacity), so the tree of a hostile input stays under
/// ~250 MiB. A torrent with 100,000 files needs ~500,000. libtorrent's default token limit is
/// 3,000,000.
pub const DEFAULT_MAX_ITEMS: usize = 3_000_000;

/// Largest input accepted by default. The largest real .torrent files are tens of MiB (piece
/// hashes of multi-terabyte torrents); a bigger one is more likely an attack or a wrong file.
pub const DEFAULT_MAX_INPUT: usize = 64 * 1024 * 1024;

/// How strictly to read the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Only canonical bencode: the form BEP 3 describes and every message on the wire must have.
    #[default]
    Strict,
    /// Also accepts non-canonical integers, unsorted dictionary keys and trailing bytes, reporting
    /// each as a [`Warning`]. For v1 `.torrent` files and for an info dictionary whose SHA-1 has
    /// already been checked, where libtorrent is equally tolerant and users have such files.
    Lenient,
}

/// Decoder settings: mode and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Strict or lenient.
    pub mode: Mode,
    /// See [`DEFAULT_MAX_DEPTH`]. The decoder recurses once per level (a few hundred bytes of
    /// stack each), so a limit in the tens of thousands can overflow a thread's stack.
    pub max_depth: usize,
    /// See [`DEFAULT_MAX_ITEMS`].
    pub max_items: usize,
    /// See [`DEFAULT_MAX_INPUT`].
    pub max_input: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            mode: Mode::Strict,
            max_depth: DEFAULT_MAX_DEPTH,
            max_items: DEFAULT_MAX_ITEMS,
            max_input: DEFAULT_MAX_INPUT,
        }
    }
}

impl DecodeOptions {
    /// The default limits in lenient mode.
    pub fn lenient() -> Self {
        DecodeOptions {
            mode: Mode::Lenient,
            ..Self::default()
        }
    }
}

/// The result of [`decode_with`]: the value and what lenient mode tolerated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The top-level value.
    pub value: Value<'a>,
    /// Deviations accepted in lenient mode (always empty in strict mode).
    pub warnings: Vec<Warning>,
}

/// Decodes exactly one canonical value filling all of `input`, with the default limits.
///
/// ```
/// let v = ferrent_bencode::decode(b"d3:cow3:moo4:spaml1:a1:bee").unwrap();
/// let d = v.as_dict().unwrap();
/// assert_eq!(d.get_str(b"cow"), Some("moo"));
/// assert_eq!(d.get_raw(b"spam"), Some(&b"l1:a1:be"[..]));
/// ```
pub fn decode(input: &[u8]) -> Result<Value<'_>, DecodeError> {
    decode_with(input, &DecodeOptions::default()).map(|d| d.value)
}

/// Decodes one value filling `input` (in lenient mode, trailing bytes are a warning).
pub fn decode_with<'a>(input: &'a [u8], opts: &DecodeOptions) -> Result<Decoded<'a>, DecodeError> {
    let mut p = Parser::new(input, opts)?;
    let value = p.value(0)?;
    if p.pos < input.len() {
        let count = input.len() - p.pos;
        match opts.mode {
            Mode::Strict => {
                return Err(DecodeError::new(p.pos, ErrorKind::TrailingBytes { count }));
            }
            Mode::Lenient => p.warn(p.pos, WarningKind::TrailingBytes),
        }
    }
    Ok(Decoded {
        value,
        warnings: p.warnings,
    })
}

/// Decodes one strict value at the start of `input` and returns it with the number of bytes it
/// took. For messages where a bencoded header is followed by raw data (BEP 9 `ut_metadata` data
/// messages).
pub fn decode_prefix(input: &[u8]) -> Result<(Value<'_>, usize), DecodeError> {
    let opts = DecodeOptions::default();
    let mut p = Parser::new(input, &opts)?;
    let value = p.value(0)?;
    Ok((value, p.pos))
}

struct Parser<'a, 'o> {
    input: &'a [u8],
    pos: usize,
    items: usize,
    opts: &'o DecodeOptions,
    warnings: Vec<Warning>,
}

impl<'a, 'o> Parser<'a, 'o> {
    fn new(input: &'a [u8], opts: &'o DecodeOptions) -> Result<Self, DecodeError> {
        if input.len() > opts.max_input {
            let kind = ErrorKind::InputTooLarge {
                len: input.len(),
                limit: opts.max_input,
            };
            return Err(DecodeError::new(0, kind));
        }
        Ok(Parser {
            input,
            pos: 0,
            items: 0,
            opts,
            warnings: Vec::new(),
        })
    }

    fn warn(&mut self, offset: usize, kind: WarningKind) {
        // Bounded: at most one warning per item, and items are bounded.
        self.warnings.push(Warning { offset, kind });
    }

    fn err<T>(&self, offset: usize, kind: ErrorKind) -> Result<T, DecodeError> {
        Err(DecodeError::new(offset, kind))
    }

    fn peek(&self, expected: &'static str) -> Result<u8, DecodeError> {
        match self.input.get(self.pos) {
            Some(&b) => Ok(b),
            None => self.err(self.pos, ErrorKind::UnexpectedEof { expected }),
        }
    }

    /// Counts one more value (or dictionary key) starting at the current position.
    fn count_item(&mut self) -> Result<(), DecodeError> {
        self.items += 1;
        if self.items > self.opts.max_items {
            return self.err(
                self.pos,
                ErrorKind::TooManyItems {
                    limit: self.opts.max_items,
                },
            );
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, DecodeError> {
        self.count_item()?;
        match self.peek("a value")? {
            b'i' => self.int().map(Value::Int),
            b'0'..=b'9' => self.bytes().map(Value::Bytes),
            b'l' => {
                let depth = self.nest(depth)?;
                self.pos += 1;
                let mut list = Vec::new();
                while self.peek("a list item or 'e'")? != b'e' {
                    list.push(self.value(depth)?);
                }
                self.pos += 1;
                Ok(Value::List(list))
            }
            b'd' => {
                let depth = self.nest(depth)?;
                self.dict(depth).map(Value::Dict)
            }
            found => self.err(
                self.pos,
                ErrorKind::UnexpectedByte {
                    found,
                    expected: "a value",
                },
            ),
        }
    }

    fn nest(&self, depth: usize) -> Result<usize, DecodeError> {
        if depth >= self.opts.max_depth {
            return self.err(
                self.pos,
                ErrorKind::TooDeep {
                    limit: self.opts.max_depth,
                },
            );
        }
        Ok(depth + 1)
    }

    fn dict(&mut self, depth: usize) -> Result<Dict<'a>, DecodeError> {
        self.pos += 1; // 'd'
        let mut entries: Vec<DictEntry<'a>> = Vec::new();
        let mut unsorted = false;
        while self.peek("a dictionary key or 'e'")? != b'e' {
            let key_at = self.pos;
            if !self.peek("a dictionary key")?.is_ascii_digit() {
                return self.err(key_at, ErrorKind::NonStringKey);
            }
            self.count_item()?;
            let key = self.bytes()?;
            if let Some(prev) = entries.last() {
                match prev.key.cmp(key) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => return self.err(key_at, ErrorKind::DuplicateKey),
                    std::cmp::Ordering::Greater => match self.opts.mode {
                        Mode::Strict => return self.err(key_at, ErrorKind::UnsortedKey),
                        Mode::Lenient => {
                            self.warn(key_at, WarningKind::UnsortedKey);
                            unsorted = true;
                        }
                    },
                }
            }
            let start = self.pos;
            let value = self.value(depth)?;
            let span = start..self.pos;
            let raw = self.input.get(span.clone()).unwrap_or_default();
            entries.push(DictEntry {
                key,
                value,
                raw,
                span,
            });
        }
        if unsorted {
            // Only reachable in lenient mode: adjacent comparison missed duplicates that are not
            // neighbours. Duplicates stay an error: which value would be meant is ambiguous.
            // Report the first key (in input order) that repeats an earlier one, at its offset.
            let mut keys: Vec<(&[u8], usize)> =
                entries.iter().map(|e| (e.key, key_offset(e))).collect();
            keys.sort_unstable();
            let first_dup = keys
                .windows(2)
                .filter_map(|w| match w {
                    [(a, _), (b, at)] if a == b => Some(*at),
                    _ => None,
                })
                .min();
            if let Some(at) = first_dup {
                return self.err(at, ErrorKind::DuplicateKey);
            }
        }
        self.pos += 1; // 'e'
        Ok(Dict::from_entries(entries))
    }

    /// `i<digits>e` with an optional `-`. Strict mode rejects leading zeros and `-0`.
    fn int(&mut self) -> Result<i64, DecodeError> {
        let start = self.pos;
        self.pos += 1; // 'i'
        let negative = self.input.get(self.pos) == Some(&b'-');
        if negative {
            self.pos += 1;
        }
        let digits_at = self.pos;
        let mut n: i64 = 0;
        loop {
            let b = self.peek("a digit or 'e' to end the integer")?;
            match b {
                b'0'..=b'9' => {
                    let d = i64::from(b - b'0');
                    // Accumulate negatively so that i64::MIN parses.
                    n = n
                        .checked_mul(10)
                        .and_then(|n| {
                            if negative {
                                n.checked_sub(d)
                            } else {
                                n.checked_add(d)
                            }
                        })
                        .ok_or(DecodeError::new(self.pos, ErrorKind::IntegerOverflow))?;
                    self.pos += 1;
                }
                b'e' => break,
                found => {
                    let expected = "a digit or 'e' to end the integer";
                    return self.err(self.pos, ErrorKind::UnexpectedByte { found, expected });
                }
            }
        }
        let digits = self.input.get(digits_at..self.pos).unwrap_or_default();
        self.pos += 1; // 'e'
        if digits.is_empty() {
            return self.err(start, ErrorKind::EmptyInteger);
        }
        let leading_zero = digits.len() > 1 && digits.first() == Some(&b'0');
        let negative_zero = negative && n == 0;
        if leading_zero || negative_zero {
            match self.opts.mode {
                Mode::Strict if negative_zero => return self.err(start, ErrorKind::NegativeZero),
                Mode::Strict => return self.err(start, ErrorKind::IntegerLeadingZero),
                Mode::Lenient => self.warn(start, WarningKind::NonCanonicalInteger),
            }
        }
        Ok(n)
    }

    /// `<length>:<bytes>`, with the length checked against what is left before anything is read.
    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let mut len: u64 = 0;
        loop {
            let b = self.peek("a digit or ':' in a string length")?;
            match b {
                b'0'..=b'9' => {
                    // Saturates: a length beyond u64 is reported as u64::MAX once the ':' is
                    // found, like any other length past the end.
                    len = len.saturating_mul(10).saturating_add(u64::from(b - b'0'));
                    self.pos += 1;
                }
                b':' => break,
                found => {
                    let expected = "a digit or ':' in a string length";
                    return self.err(self.pos, ErrorKind::UnexpectedByte { found, expected });
                }
            }
        }
        if self.pos - start > 1 && self.input.get(start) == Some(&b'0') {
            return self.err(start, ErrorKind::LengthLeadingZero);
        }
        self.pos += 1; // ':'
        let available = self.input.len().saturating_sub(self.pos);
        let end = usize::try_from(len)
            .ok()
            .and_then(|n| self.pos.checked_add(n));
        match end.and_then(|end| self.input.get(self.pos..end).map(|s| (s, end))) {
            Some((s, end)) => {
                self.pos = end;
                Ok(s)
            }
            None => self.err(
                start,
                ErrorKind::LengthPastEnd {
                    declared: len,
                    available,
                },
            ),
        }
    }
}

/// Offset of the key of a decoded entry: its length prefix and `:` sit right before the key bytes,
/// and the value right after them. Exact because string lengths never have leading zeros.
fn key_offset(e: &DictEntry<'_>) -> usize {
    let digits = e.key.len().checked_ilog10().map_or(1, |d| d as usize + 1);
    e.span.start.saturating_sub(e.key.len() + 1 + digits)
}
