//! Typed access to dictionary keys with errors that name the key path, and the optional top-level
//! fields of a `.torrent` file (trackers, web seeds, comment...).

use ferrent_bencode::{Dict, Value};

use super::error::{MetainfoError, MetainfoWarning};

/// Joins a parent key path and a key: `info` + `files` -> `info.files`.
pub(crate) fn key_path(parent: &str, key: &[u8]) -> String {
    let k = String::from_utf8_lossy(key);
    if parent.is_empty() {
        k.into_owned()
    } else {
        format!("{parent}.{k}")
    }
}

fn wrong_type(key: String, expected: &'static str, v: &Value<'_>) -> MetainfoError {
    MetainfoError::WrongType {
        key,
        expected,
        found: v.type_name(),
    }
}

/// A dictionary with the key path it was found at, for error messages.
#[derive(Clone, Copy)]
pub(crate) struct At<'d, 'a> {
    pub dict: &'d Dict<'a>,
    pub path: &'d str,
}

impl<'d, 'a> At<'d, 'a> {
    pub fn new(dict: &'d Dict<'a>, path: &'d str) -> Self {
        At { dict, path }
    }

    pub fn key(&self, key: &[u8]) -> String {
        key_path(self.path, key)
    }

    fn required(&self, key: &[u8]) -> Result<&'d Value<'a>, MetainfoError> {
        self.dict
            .get(key)
            .ok_or_else(|| MetainfoError::MissingKey { key: self.key(key) })
    }

    pub fn opt_int(&self, key: &[u8]) -> Result<Option<i64>, MetainfoError> {
        match self.dict.get(key) {
            None => Ok(None),
            Some(Value::Int(n)) => Ok(Some(*n)),
            Some(v) => Err(wrong_type(self.key(key), "integer", v)),
        }
    }

    pub fn int(&self, key: &[u8]) -> Result<i64, MetainfoError> {
        match self.required(key)? {
            Value::Int(n) => Ok(*n),
            v => Err(wrong_type(self.key(key), "integer", v)),
        }
    }

    /// A non-negative size.
    pub fn length(&self, key: &[u8]) -> Result<u64, MetainfoError> {
        let n = self.int(key)?;
        u64::try_from(n).map_err(|_| MetainfoError::NegativeLength {
            key: self.key(key),
            value: n,
        })
    }

    pub fn opt_bytes(&self, key: &[u8]) -> Result<Option<&'a [u8]>, MetainfoError> {
        match self.dict.get(key) {
            None => Ok(None),
            Some(Value::Bytes(b)) => Ok(Some(b)),
            Some(v) => Err(wrong_type(self.key(key), "string", v)),
        }
    }

    pub fn bytes(&self, key: &[u8]) -> Result<&'a [u8], MetainfoError> {
        match self.required(key)? {
            Value::Bytes(b) => Ok(b),
            v => Err(wrong_type(self.key(key), "string", v)),
        }
    }

    pub fn opt_list(&self, key: &[u8]) -> Result<Option<&'d [Value<'a>]>, MetainfoError> {
        match self.dict.get(key) {
            None => Ok(None),
            Some(Value::List(l)) => Ok(Some(l)),
            Some(v) => Err(wrong_type(self.key(key), "list", v)),
        }
    }

    pub fn list(&self, key: &[u8]) -> Result<&'d [Value<'a>], MetainfoError> {
        match self.required(key)? {
            Value::List(l) => Ok(l),
            v => Err(wrong_type(self.key(key), "list", v)),
        }
    }

    pub fn opt_dict(&self, key: &[u8]) -> Result<Option<&'d Dict<'a>>, MetainfoError> {
        match self.dict.get(key) {
            None => Ok(None),
            Some(Value::Dict(d)) => Ok(Some(d)),
            Some(v) => Err(wrong_type(self.key(key), "dictionary", v)),
        }
    }

    pub fn dict(&self, key: &[u8]) -> Result<&'d Dict<'a>, MetainfoError> {
        match self.required(key)? {
            Value::Dict(d) => Ok(d),
            v => Err(wrong_type(self.key(key), "dictionary", v)),
        }
    }
}

/// Text that should be UTF-8: lossily decoded with a warning when it is not.
pub(crate) fn text(bytes: &[u8], key: &str, warnings: &mut Vec<MetainfoWarning>) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => {
            let lossy = String::from_utf8_lossy(bytes).into_owned();
            warnings.push(MetainfoWarning::NotUtf8 {
                key: key.to_owned(),
                lossy: lossy.clone(),
            });
            lossy
        }
    }
}

/// The optional top-level fields; mistyped ones are ignored with a warning, as libtorrent does,
/// because none of them affects the content or its identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TopLevel {
    pub announce: Option<String>,
    pub announce_list: Vec<Vec<String>>,
    pub creation_date: Option<i64>,
    pub comment: Option<String>,
    pub created_by: Option<String>,
    pub encoding: Option<String>,
    pub url_list: Vec<String>,
    pub http_seeds: Vec<String>,
}

fn opt_text(d: &Dict<'_>, key: &[u8], w: &mut Vec<MetainfoWarning>) -> Option<String> {
    let k = key_path("", key);
    match d.get(key)? {
        Value::Bytes(b) => Some(text(b, &k, w)),
        _ => {
            w.push(MetainfoWarning::IgnoredField {
                key: k,
                reason: "not a string",
            });
            None
        }
    }
}

/// A URL: trimmed, non-empty, valid UTF-8 (URLs are ASCII; a non-UTF-8 one cannot be used).
fn url(v: &Value<'_>) -> Option<String> {
    let s = v.as_str()?.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// BEP 19 `url-list` and BEP 17 `httpseeds`: a single string or a list of strings.
fn url_list(d: &Dict<'_>, key: &[u8], w: &mut Vec<MetainfoWarning>) -> Vec<String> {
    let k = key_path("", key);
    match d.get(key) {
        None => Vec::new(),
        Some(Value::Bytes(_)) => d.get(key).and_then(url).into_iter().collect(),
        Some(Value::List(l)) => {
            let urls: Vec<String> = l.iter().filter_map(url).collect();
            if urls.len() != l.len() {
                w.push(MetainfoWarning::IgnoredField {
                    key: k,
                    reason: "dropped entries that are not non-empty UTF-8 strings",
                });
            }
            urls
        }
        Some(_) => {
            w.push(MetainfoWarning::IgnoredField {
                key: k,
                reason: "not a string or list",
            });
            Vec::new()
        }
    }
}

/// BEP 12 `announce-list`: a list of tiers, each a list of URLs. Empty URLs and empty tiers are
/// dropped; a tier that is not a list is dropped with a warning.
fn announce_list(d: &Dict<'_>, w: &mut Vec<MetainfoWarning>) -> Vec<Vec<String>> {
    let Some(v) = d.get(b"announce-list") else {
        return Vec::new();
    };
    let Some(tiers) = v.as_list() else {
        w.push(MetainfoWarning::IgnoredField {
            key: "announce-list".into(),
            reason: "not a list",
        });
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut dropped = false;
    for tier in tiers {
        let Some(urls) = tier.as_list() else {
            dropped = true;
            continue;
        };
        let mut t = Vec::new();
        for u in urls {
            match url(u) {
                Some(u) if !t.contains(&u) => t.push(u),
                Some(_) => {}
                None => dropped = true,
            }
        }
        if !t.is_empty() {
            out.push(t);
        }
    }
    if dropped {
        w.push(MetainfoWarning::IgnoredField {
            key: "announce-list".into(),
            reason: "dropped entries that are not lists of non-empty UTF-8 strings",
        });
    }
    out
}

impl TopLevel {
    pub fn parse(d: &Dict<'_>, w: &mut Vec<MetainfoWarning>) -> TopLevel {
        let announce = match d.get(b"announce") {
            None => None,
            Some(v) => {
                let u = url(v);
                if u.is_none() {
                    w.push(MetainfoWarning::IgnoredField {
                        key: "announce".into(),
                        reason: "not a non-empty UTF-8 string",
                    });
                }
                u
            }
        };
        let creation_date = match d.get(b"creation date") {
            None => None,
            Some(Value::Int(n)) => Some(*n),
            Some(_) => {
                w.push(MetainfoWarning::IgnoredField {
                    key: "creation date".into(),
                    reason: "not an integer",
                });
                None
            }
        };
        TopLevel {
            announce,
            announce_list: announce_list(d, w),
            creation_date,
            comment: opt_text(d, b"comment", w),
            created_by: opt_text(d, b"created by", w),
            encoding: opt_text(d, b"encoding", w),
            url_list: url_list(d, b"url-list", w),
            http_seeds: url_list(d, b"httpseeds", w),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(input: &[u8]) -> (TopLevel, Vec<MetainfoWarning>) {
        let v = ferrent_bencode::decode(input).unwrap();
        let mut w = Vec::new();
        let t = TopLevel::parse(v.as_dict().unwrap(), &mut w);
        (t, w)
    }

    #[test]
    fn announce_list_drops_empty_tiers_and_urls() {
        let (t, w) = top(b"d13:announce-listll1:a0:1:aeleli5ee1:bee");
        assert_eq!(t.announce_list, vec![vec!["a".to_string()]]);
        assert_eq!(w.len(), 1);
        let (t, w) = top(b"d13:announce-listl1:aee");
        assert_eq!(t.announce_list.len(), 0);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn url_list_accepts_string_or_list() {
        let (t, _) = top(b"d8:url-list8:http://ae");
        assert_eq!(t.url_list, ["http://a"]);
        let (t, _) = top(b"d8:url-listl8:http://a8:http://bee");
        assert_eq!(t.url_list, ["http://a", "http://b"]);
        let (t, w) = top(b"d9:httpseedsi3ee");
        assert!(t.http_seeds.is_empty());
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn mistyped_optional_fields_are_warnings() {
        let (t, w) = top(b"d8:announcei1e7:commenti1e13:creation date1:xe");
        assert_eq!(t, TopLevel::default());
        assert_eq!(w.len(), 3);
        let (t, w) = top(b"d7:comment2:\xff\xfee");
        assert_eq!(t.comment.as_deref(), Some("\u{fffd}\u{fffd}"));
        assert!(matches!(w[0], MetainfoWarning::NotUtf8 { .. }));
    }
}
