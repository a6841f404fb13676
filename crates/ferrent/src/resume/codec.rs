//! [`ResumeData::encode`] and the strict, bounded [`ResumeData::decode`], with [`ResumeError`].

use std::path::PathBuf;

use ferrent_bencode::{DecodeError, DecodeOptions, Dict, Mode, Value};
use ferrent_core::{Bitfield, BitfieldError, Id20, MAX_FILES, MAX_PIECES};

use super::{FORMAT_VERSION, MAX_RESUME_SIZE, ResumeData, ResumeFile};

/// Deepest nesting in a resume file: the top dictionary, the `files` list, one list per file.
const MAX_DEPTH: usize = 3;

/// Most bencode values in a resume file: four per file (its list and three integers) for
/// [`MAX_FILES`] files, plus the top-level keys and values.
const MAX_ITEMS: usize = 4 * MAX_FILES + 32;

/// Why resume data could not be read or written. Every decode error means "do not trust this
/// file": log it as a warning and recheck.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// Reading, writing, syncing or renaming failed.
    #[error("resume file {path}: {op}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// What was being done ("read", "write", "sync", "rename", "sync directory").
        op: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file is bigger than [`MAX_RESUME_SIZE`].
    #[error("resume data of {len} bytes is larger than the limit of {max}")]
    TooLarge {
        /// Its size.
        len: u64,
        /// [`MAX_RESUME_SIZE`].
        max: usize,
    },
    /// Not canonical bencode (truncated, garbage, too deep...).
    #[error("resume data is not valid bencode: {0}")]
    Bencode(#[source] DecodeError),
    /// The top-level value is not a dictionary.
    #[error("resume data is a {found}, expected a dictionary")]
    NotADict {
        /// The type found.
        found: &'static str,
    },
    /// A required key is absent.
    #[error("resume data has no {key:?} key")]
    MissingKey {
        /// The key.
        key: &'static str,
    },
    /// A key this version does not know.
    #[error("resume data has an unknown key {key:?}")]
    UnknownKey {
        /// The key (lossy UTF-8, shortened).
        key: String,
    },
    /// A value of the wrong type.
    #[error("resume data key {key:?} is a {found}, expected {expected}")]
    WrongType {
        /// The key.
        key: &'static str,
        /// The type expected.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// A `version` other than [`FORMAT_VERSION`].
    #[error(
        "resume data version {found} is not supported (this ferrent reads version {supported})"
    )]
    UnsupportedVersion {
        /// The version in the file.
        found: i64,
        /// [`FORMAT_VERSION`].
        supported: i64,
    },
    /// The `info-hash` is not 20 bytes.
    #[error("resume data info-hash has {len} bytes, expected 20")]
    BadInfoHash {
        /// Its length.
        len: usize,
    },
    /// A number outside its range (negative length, more pieces than [`MAX_PIECES`]...).
    #[error("resume data key {key:?} has value {value} outside {range}")]
    OutOfRange {
        /// The key (or `files` entry field).
        key: &'static str,
        /// The value found.
        value: i64,
        /// The accepted range, in words.
        range: &'static str,
    },
    /// More files than [`MAX_FILES`].
    #[error("resume data lists {count} files, more than the limit of {max}")]
    TooManyFiles {
        /// Files listed.
        count: usize,
        /// [`MAX_FILES`].
        max: usize,
    },
    /// A `files` entry is neither `le` nor a list of three integers.
    #[error("resume data file entry {index} is malformed: {reason}")]
    BadFileEntry {
        /// Index of the entry.
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The bitfield does not fit `pieces` (wrong length, spare bits set).
    #[error("resume data bitfield: {0}")]
    Bitfield(#[from] BitfieldError),
}

impl ResumeError {
    /// Whether this is an I/O error (as opposed to bad content).
    pub fn is_io(&self) -> bool {
        matches!(self, ResumeError::Io { .. })
    }
}

const KEY_FILES: &str = "files";
const KEY_HAVE: &str = "have";
const KEY_INFO_HASH: &str = "info-hash";
const KEY_PIECES: &str = "pieces";
const KEY_SAVED_AT: &str = "saved-at";
const KEY_VERSION: &str = "version";
const KNOWN_KEYS: [&str; 6] = [
    KEY_FILES,
    KEY_HAVE,
    KEY_INFO_HASH,
    KEY_PIECES,
    KEY_SAVED_AT,
    KEY_VERSION,
];

/// A length or count as a bencode integer. File sizes come from `stat` (`off_t`, signed), so
/// saturation never happens in practice; if it did, the saved length would not match at start and
/// the data would be rechecked, which is safe.
fn int_u64(n: u64) -> Value<'static> {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

impl ResumeData {
    /// Canonical bencode of this data, with the `version` key set to [`FORMAT_VERSION`].
    pub fn encode(&self) -> Vec<u8> {
        let files: Vec<Value<'_>> = self
            .files
            .iter()
            .map(|f| match f.len {
                None => Value::List(Vec::new()),
                Some(len) => Value::List(vec![
                    int_u64(len),
                    Value::Int(f.mtime_secs),
                    Value::Int(i64::from(f.mtime_nanos)),
                ]),
            })
            .collect();
        let mut dict = Dict::new()
            .with(KEY_FILES.as_bytes(), Value::List(files))
            .with(KEY_HAVE.as_bytes(), Value::Bytes(self.have.as_bytes()))
            .with(
                KEY_INFO_HASH.as_bytes(),
                Value::Bytes(self.info_hash.as_bytes()),
            )
            .with(
                KEY_PIECES.as_bytes(),
                Value::Int(i64::from(self.num_pieces)),
            )
            .with(KEY_VERSION.as_bytes(), Value::Int(FORMAT_VERSION));
        if let Some(t) = self.saved_at {
            dict.insert(KEY_SAVED_AT.as_bytes(), Value::Int(t));
        }
        ferrent_bencode::encode(&Value::Dict(dict))
    }

    /// Reads resume data strictly: canonical bencode within [`MAX_RESUME_SIZE`], the known keys
    /// only, version [`FORMAT_VERSION`], every number in range, the bitfield exactly
    /// `ceil(pieces / 8)` bytes with spare bits clear. Any deviation is a [`ResumeError`], never
    /// a panic, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<ResumeData, ResumeError> {
        if bytes.len() > MAX_RESUME_SIZE {
            return Err(ResumeError::TooLarge {
                len: bytes.len() as u64,
                max: MAX_RESUME_SIZE,
            });
        }
        let opts = DecodeOptions {
            mode: Mode::Strict,
            max_depth: MAX_DEPTH,
            max_items: MAX_ITEMS,
            max_input: MAX_RESUME_SIZE,
        };
        let value = ferrent_bencode::decode_with(bytes, &opts)
            .map_err(ResumeError::Bencode)?
            .value;
        let dict = value.as_dict().ok_or(ResumeError::NotADict {
            found: value.type_name(),
        })?;
        if let Some(e) = dict
            .iter()
            .find(|e| !KNOWN_KEYS.iter().any(|k| k.as_bytes() == e.key))
        {
            let key: String = String::from_utf8_lossy(e.key).chars().take(64).collect();
            return Err(ResumeError::UnknownKey { key });
        }

        // The version first: a file of another version may mean anything by the other keys.
        let version = get_int(dict, KEY_VERSION)?;
        if version != FORMAT_VERSION {
            return Err(ResumeError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }

        let hash = get_bytes(dict, KEY_INFO_HASH)?;
        let info_hash =
            Id20::from_slice(hash).ok_or(ResumeError::BadInfoHash { len: hash.len() })?;

        let pieces = get_int(dict, KEY_PIECES)?;
        let num_pieces = u32::try_from(pieces)
            .ok()
            .filter(|&n| n <= MAX_PIECES)
            .ok_or(ResumeError::OutOfRange {
                key: KEY_PIECES,
                value: pieces,
                range: "0..=MAX_PIECES",
            })?;
        let have = Bitfield::from_bytes(get_bytes(dict, KEY_HAVE)?, num_pieces)?;

        let list = get_list(dict, KEY_FILES)?;
        if list.len() > MAX_FILES {
            return Err(ResumeError::TooManyFiles {
                count: list.len(),
                max: MAX_FILES,
            });
        }
        let files = list
            .iter()
            .enumerate()
            .map(|(index, v)| decode_file(index, v))
            .collect::<Result<Vec<_>, _>>()?;

        let saved_at = match dict.get(KEY_SAVED_AT.as_bytes()) {
            None => None,
            Some(_) => Some(get_int(dict, KEY_SAVED_AT)?),
        };

        Ok(ResumeData {
            info_hash,
            num_pieces,
            have,
            files,
            saved_at,
        })
    }
}

fn decode_file(index: usize, v: &Value<'_>) -> Result<ResumeFile, ResumeError> {
    let bad = |reason| ResumeError::BadFileEntry { index, reason };
    let items = v.as_list().ok_or(bad("not a list"))?;
    match items {
        [] => Ok(ResumeFile::ABSENT),
        [len, secs, nanos] => {
            let (Some(len), Some(mtime_secs), Some(nanos)) =
                (len.as_int(), secs.as_int(), nanos.as_int())
            else {
                return Err(bad("an element is not an integer"));
            };
            let len = u64::try_from(len).map_err(|_| ResumeError::OutOfRange {
                key: "files length",
                value: len,
                range: "0..",
            })?;
            let mtime_nanos = u32::try_from(nanos)
                .ok()
                .filter(|&n| n < 1_000_000_000)
                .ok_or(ResumeError::OutOfRange {
                    key: "files mtime nanoseconds",
                    value: nanos,
                    range: "0..1000000000",
                })?;
            Ok(ResumeFile {
                len: Some(len),
                mtime_secs,
                mtime_nanos,
            })
        }
        _ => Err(bad(
            "expected an empty list or [length, mtime secs, mtime nanos]",
        )),
    }
}

fn get<'d, 'a>(dict: &'d Dict<'a>, key: &'static str) -> Result<&'d Value<'a>, ResumeError> {
    dict.get(key.as_bytes())
        .ok_or(ResumeError::MissingKey { key })
}

fn wrong(key: &'static str, expected: &'static str, v: &Value<'_>) -> ResumeError {
    ResumeError::WrongType {
        key,
        expected,
        found: v.type_name(),
    }
}

fn get_int(dict: &Dict<'_>, key: &'static str) -> Result<i64, ResumeError> {
    let v = get(dict, key)?;
    v.as_int().ok_or_else(|| wrong(key, "an integer", v))
}

fn get_bytes<'a>(dict: &Dict<'a>, key: &'static str) -> Result<&'a [u8], ResumeError> {
    let v = get(dict, key)?;
    v.as_bytes().ok_or_else(|| wrong(key, "a string", v))
}

fn get_list<'d, 'a>(dict: &'d Dict<'a>, key: &'static str) -> Result<&'d [Value<'a>], ResumeError> {
    let v = get(dict, key)?;
    v.as_list().ok_or_else(|| wrong(key, "a list", v))
}
