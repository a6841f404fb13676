//! The v1 (BEP 3) parts of an info dictionary: `name`, single-file `length` or multi-file `files`,
//! with BEP 47 attributes and `.utf-8` name variants.

use ferrent_bencode::{Dict, Value};

use super::error::{MetainfoError, MetainfoWarning};
use super::fields::{At, text};
use super::file::FileAttr;
use super::limits::MAX_FILES;
use crate::path::{PathError, sanitize_path};

/// A file as read from the v1 part of the info dictionary, before offsets are assigned.
#[derive(Debug, Clone)]
pub(crate) struct V1File {
    /// The raw `path` elements (or `[name]` for a single file), to compare with a v2 file tree.
    pub raw: Vec<Vec<u8>>,
    /// Sanitised path relative to the download directory (name included).
    pub path: Vec<String>,
    pub length: u64,
    pub attr: FileAttr,
    pub md5sum: Option<String>,
    pub mtime: Option<i64>,
    pub symlink_target: Option<Vec<String>>,
}

/// Prefers the `.utf-8` variant of a text when it is present and valid UTF-8, else decodes the
/// plain one (lossily, with a warning).
fn pick_text(utf8: Option<&[u8]>, raw: &[u8], key: &str, w: &mut Vec<MetainfoWarning>) -> String {
    if let Some(s) = utf8.and_then(|b| std::str::from_utf8(b).ok()) {
        return s.to_owned();
    }
    text(raw, key, w)
}

fn bad_path(key: String) -> impl FnOnce(PathError) -> MetainfoError {
    move |source| MetainfoError::BadPath { key, source }
}

/// The torrent's name, sanitised to exactly one path element.
pub(crate) fn parse_name(
    info: At<'_, '_>,
    w: &mut Vec<MetainfoWarning>,
) -> Result<(Vec<u8>, String), MetainfoError> {
    let raw = info.bytes(b"name")?;
    let utf8 = info.opt_bytes(b"name.utf-8").ok().flatten();
    let key = info.key(b"name");
    let name = pick_text(utf8, raw, &key, w);
    let mut els = sanitize_path([name.as_str()]).map_err(bad_path(key))?;
    let sanitised = els.pop().unwrap_or_default();
    if sanitised != name {
        w.push(MetainfoWarning::NameSanitised {
            original: name.clone(),
            sanitised: sanitised.clone(),
        });
    }
    Ok((raw.to_vec(), sanitised))
}

fn text_list<'a>(list: &[Value<'a>], key: &str) -> Result<Vec<&'a [u8]>, MetainfoError> {
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_bytes().ok_or_else(|| MetainfoError::WrongType {
                key: format!("{key}[{i}]"),
                expected: "string",
                found: v.type_name(),
            })
        })
        .collect()
}

/// Old BitComet pad files carry no `attr` but a name of this form (libtorrent treats them as pads).
const BITCOMET_PAD_PREFIX: &[u8] = b"_____padding_file_";

fn parse_file(
    d: &Dict<'_>,
    key: &str,
    index: usize,
    name: &str,
    w: &mut Vec<MetainfoWarning>,
) -> Result<V1File, MetainfoError> {
    let at = At::new(d, key);
    let length = at.length(b"length")?;
    let raw = text_list(at.list(b"path")?, &at.key(b"path"))?;
    // path.utf-8 is used when it is a list of valid UTF-8 strings; otherwise ignored.
    let utf8: Option<Vec<&str>> = d
        .get_list(b"path.utf-8")
        .and_then(|l| l.iter().map(Value::as_str).collect());
    let elements: Vec<String> = match utf8 {
        Some(u) => u.into_iter().map(str::to_owned).collect(),
        None => {
            let k = at.key(b"path");
            raw.iter().map(|b| text(b, &k, w)).collect()
        }
    };
    let mut attr = FileAttr::parse(at.opt_bytes(b"attr")?.unwrap_or_default());
    if raw
        .last()
        .is_some_and(|l| l.starts_with(BITCOMET_PAD_PREFIX))
    {
        attr.pad = true;
    }
    let sanitised =
        sanitize_path(elements.iter().map(String::as_str)).map_err(bad_path(at.key(b"path")))?;
    if sanitised != elements {
        w.push(MetainfoWarning::PathSanitised {
            file: index,
            original: elements.join("/"),
            sanitised: sanitised.join("/"),
        });
    }
    let mut path = Vec::with_capacity(sanitised.len() + 1);
    path.push(name.to_owned());
    path.extend(sanitised);
    if path.len() > crate::path::MAX_PATH_DEPTH {
        return Err(MetainfoError::BadPath {
            key: at.key(b"path"),
            source: PathError::TooDeep {
                depth: path.len(),
                limit: crate::path::MAX_PATH_DEPTH,
            },
        });
    }
    let symlink_target = if attr.symlink {
        let target = text_list(at.list(b"symlink path")?, &at.key(b"symlink path"))?;
        let target: Vec<String> = target
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        Some(
            sanitize_path(target.iter().map(String::as_str))
                .map_err(bad_path(at.key(b"symlink path")))?,
        )
    } else {
        None
    };
    Ok(V1File {
        raw: raw.iter().map(|b| b.to_vec()).collect(),
        path,
        length,
        attr,
        md5sum: md5sum(&at, w),
        mtime: at.opt_int(b"mtime").ok().flatten(),
        symlink_target,
    })
}

/// `md5sum` is informational: a mistyped one is ignored with a warning.
fn md5sum(at: &At<'_, '_>, w: &mut Vec<MetainfoWarning>) -> Option<String> {
    match at.dict.get(b"md5sum")? {
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => {
            w.push(MetainfoWarning::IgnoredField {
                key: at.key(b"md5sum"),
                reason: "not a string",
            });
            None
        }
    }
}

/// The v1 file list: `Some` if the info dictionary has `length` or `files`, `None` if it has
/// neither (a v2-only torrent). The flag says whether it is a single-file torrent.
pub(crate) fn parse_files(
    info: At<'_, '_>,
    name_raw: &[u8],
    name: &str,
    w: &mut Vec<MetainfoWarning>,
) -> Result<Option<(Vec<V1File>, bool)>, MetainfoError> {
    let has_length = info.dict.get(b"length").is_some();
    let files = info.opt_list(b"files")?;
    match (has_length, files) {
        (true, Some(_)) => Err(MetainfoError::LengthAndFiles),
        (false, None) => Ok(None),
        (true, None) => {
            let attr = FileAttr::parse(info.opt_bytes(b"attr")?.unwrap_or_default());
            let file = V1File {
                raw: vec![name_raw.to_vec()],
                path: vec![name.to_owned()],
                length: info.length(b"length")?,
                attr,
                md5sum: md5sum(&info, w),
                mtime: info.opt_int(b"mtime").ok().flatten(),
                // A single-file torrent that is a symlink has nothing to link to inside it.
                symlink_target: None,
            };
            Ok(Some((vec![file], true)))
        }
        (false, Some(list)) => {
            if list.len() > MAX_FILES {
                return Err(MetainfoError::TooManyFiles { limit: MAX_FILES });
            }
            let key = info.key(b"files");
            let mut out = Vec::with_capacity(list.len());
            for (i, v) in list.iter().enumerate() {
                let k = format!("{key}[{i}]");
                let d = v.as_dict().ok_or_else(|| MetainfoError::WrongType {
                    key: k.clone(),
                    expected: "dictionary",
                    found: v.type_name(),
                })?;
                out.push(parse_file(d, &k, i, name, w)?);
            }
            Ok(Some((out, false)))
        }
    }
}
