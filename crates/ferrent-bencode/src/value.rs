//! The decoded value tree: [`Value`] and [`Dict`], both borrowing from the input.

use std::fmt;
use std::ops::Range;

/// One bencoded value. Byte strings borrow from the decoded input (zero-copy); a value built by
/// hand borrows from whatever buffers the caller owns.
#[derive(Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// `i<n>e`: a signed 64-bit integer.
    Int(i64),
    /// `<len>:<bytes>`: a byte string (not necessarily UTF-8).
    Bytes(&'a [u8]),
    /// `l...e`: a list of values.
    List(Vec<Value<'a>>),
    /// `d...e`: a dictionary with byte-string keys.
    Dict(Dict<'a>),
}

impl<'a> Value<'a> {
    /// A byte string value from UTF-8 text.
    pub fn str(s: &'a str) -> Self {
        Value::Bytes(s.as_bytes())
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The byte string as UTF-8 text, if this is a byte string holding valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The list, if this is one.
    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&Dict<'a>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// A short name of the value's type, for error messages ("integer", "string", ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "integer",
            Value::Bytes(_) => "string",
            Value::List(_) => "list",
            Value::Dict(_) => "dictionary",
        }
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Bytes(b) => fmt_bytes(b, f),
            Value::List(l) => f.debug_list().entries(l).finish(),
            Value::Dict(d) => fmt::Debug::fmt(d, f),
        }
    }
}

/// Byte strings print as text when they are printable UTF-8, else as hex (shortened when long).
fn fmt_bytes(b: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match std::str::from_utf8(b) {
        Ok(s) if !s.chars().any(char::is_control) => write!(f, "{s:?}"),
        _ => {
            f.write_str("0x")?;
            for byte in b.iter().take(32) {
                write!(f, "{byte:02x}")?;
            }
            if b.len() > 32 {
                write!(f, "..({} bytes)", b.len())?;
            }
            Ok(())
        }
    }
}

/// One dictionary entry: the key, the value and, when decoded, where the value's bytes were.
#[derive(Clone)]
pub struct DictEntry<'a> {
    /// The key (a byte string).
    pub key: &'a [u8],
    /// The value.
    pub value: Value<'a>,
    /// The exact bytes the value was decoded from (empty for values built by hand). This is what the
    /// info-hash is computed over (BEP 3: "the SHA-1 hash of the bencoded form of the info value").
    pub raw: &'a [u8],
    /// Byte range of the value in the decoded input (empty for values built by hand).
    pub span: Range<usize>,
}

impl PartialEq for DictEntry<'_> {
    /// Entries compare by key and value; where they came from does not matter.
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.value == other.value
    }
}
impl Eq for DictEntry<'_> {}

/// A dictionary. Decoded dictionaries keep the entries in input order (which strict decoding has
/// checked to be sorted); [`Dict::insert`] keeps them sorted. The encoder always sorts. Keys are
/// unique (the decoder rejects duplicates, `insert` replaces).
///
/// Two dictionaries are equal when they map the same keys to equal values, whatever order their
/// entries are stored in (a leniently decoded dictionary may be unsorted).
#[derive(Clone, Default)]
pub struct Dict<'a> {
    entries: Vec<DictEntry<'a>>,
}

impl PartialEq for Dict<'_> {
    fn eq(&self, other: &Self) -> bool {
        if self.entries.len() != other.entries.len() {
            return false;
        }
        if self.is_sorted() && other.is_sorted() {
            return self.entries == other.entries;
        }
        let mut a: Vec<&DictEntry<'_>> = self.entries.iter().collect();
        let mut b: Vec<&DictEntry<'_>> = other.entries.iter().collect();
        a.sort_by(|x, y| x.key.cmp(y.key));
        b.sort_by(|x, y| x.key.cmp(y.key));
        a == b
    }
}
impl Eq for Dict<'_> {}

impl<'a> Dict<'a> {
    /// An empty dictionary.
    pub fn new() -> Self {
        Dict {
            entries: Vec::new(),
        }
    }

    pub(crate) fn from_entries(entries: Vec<DictEntry<'a>>) -> Self {
        Dict { entries }
    }

    /// Whether the entries are stored in strictly increasing key order (always true except for
    /// a dictionary decoded in lenient mode from unsorted input).
    pub fn is_sorted(&self) -> bool {
        self.entries.windows(2).all(|w| match w {
            [a, b] => a.key < b.key,
            _ => true,
        })
    }

    /// Inserts or replaces `key`, keeping keys in sorted order (a leniently decoded, unsorted
    /// dictionary is sorted first).
    pub fn insert(&mut self, key: &'a [u8], value: Value<'a>) {
        if !self.is_sorted() {
            // Stable, and keys are unique, so this is the canonical order.
            self.entries.sort_by(|a, b| a.key.cmp(b.key));
        }
        let entry = DictEntry {
            key,
            value,
            raw: &[],
            span: 0..0,
        };
        match self.entries.binary_search_by(|e| e.key.cmp(key)) {
            Ok(i) => self.entries[i] = entry,
            Err(i) => self.entries.insert(i, entry),
        }
    }

    /// Builder form of [`Dict::insert`].
    pub fn with(mut self, key: &'a [u8], value: Value<'a>) -> Self {
        self.insert(key, value);
        self
    }

    /// The entry for `key`. Linear scan: dictionaries in torrents and messages are small, and a
    /// leniently decoded one may be unsorted.
    pub fn entry(&self, key: &[u8]) -> Option<&DictEntry<'a>> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// The value for `key`.
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        self.entry(key).map(|e| &e.value)
    }

    /// The exact input bytes of the value for `key` (empty if the dictionary was built by hand).
    pub fn get_raw(&self, key: &[u8]) -> Option<&'a [u8]> {
        self.entry(key).map(|e| e.raw)
    }

    /// The integer under `key`, if present and an integer.
    pub fn get_int(&self, key: &[u8]) -> Option<i64> {
        self.get(key).and_then(Value::as_int)
    }

    /// The byte string under `key`, if present and a string.
    pub fn get_bytes(&self, key: &[u8]) -> Option<&'a [u8]> {
        self.get(key).and_then(Value::as_bytes)
    }

    /// The UTF-8 string under `key`, if present, a string and valid UTF-8.
    pub fn get_str(&self, key: &[u8]) -> Option<&'a str> {
        self.get(key).and_then(Value::as_str)
    }

    /// The list under `key`, if present and a list.
    pub fn get_list(&self, key: &[u8]) -> Option<&[Value<'a>]> {
        self.get(key).and_then(Value::as_list)
    }

    /// The dictionary under `key`, if present and a dictionary.
    pub fn get_dict(&self, key: &[u8]) -> Option<&Dict<'a>> {
        self.get(key).and_then(Value::as_dict)
    }

    /// The entries in stored order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &DictEntry<'a>> {
        self.entries.iter()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the dictionary has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for Dict<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for e in &self.entries {
            m.key(&Value::Bytes(e.key)).value(&e.value);
        }
        m.finish()
    }
}
