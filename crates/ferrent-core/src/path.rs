//! Path sanitisation: turning the untrusted path elements of a torrent into a relative path that
//! always stays inside the download directory.
//!
//! A torrent names each file by a list of path elements (`info.files[i].path`, BEP 3), by the
//! `name` of a single-file torrent, or by the keys of a v2 `file tree` (BEP 52). All of them come
//! from whoever made the torrent. ferrent applies one rule set on every platform, so a torrent
//! lands under the same names on Linux and Windows and on a Windows file system mounted on Linux
//! (except for the characters of rule 5, which are only replaced on Windows).
//!
//! | case | action | why |
//! |---|---|---|
//! | 1. element `""` or `"."` | **dropped** | means "this directory"; harmless, some old creators emit them |
//! | 2. element `".."` | **rejected** ([`PathError::ParentDir`]) | no honest creator writes it; it exists to escape the download directory (aria2 rejects too) |
//! | 3. `/` or `\` inside an element | replaced by `_` | an element is one name; a separator would split it or make it absolute (`/etc/passwd` -> `_etc_passwd`) |
//! | 4. control characters (NUL, C0, DEL, C1) and Unicode bidi controls (U+200E/F, U+202A-E, U+2066-9) | replaced by `_` | invalid on some file systems; bidi controls disguise extensions (`exe.txt` shown for `txt.exe`) |
//! | 5. `< > : " \| ? *` | replaced by `_` **on Windows only** | invalid there (`:` also selects NTFS streams and drives); legal and common on Unix, and keeping them lets ferrent seed data other Unix clients downloaded |
//! | 6. trailing dots and spaces | stripped; an element left empty becomes `_` | Windows strips them silently, so `a.` and `a` would be the same file |
//! | 7. Windows device names `CON PRN AUX NUL COM0-9 LPT0-9` (any case, with or without an extension) | `_` appended to the stem (`con.txt` -> `con_.txt`) | opening them on Windows opens a device, not a file |
//! | 8. element longer than [`MAX_ELEMENT_BYTES`] bytes | truncated on a character boundary, keeping an extension of up to 16 bytes | longer names cannot be created on common file systems |
//! | 9. a path with no element left | **rejected** ([`PathError::Empty`]) | it would name the download directory itself |
//! | 10. more than [`MAX_PATH_DEPTH`] elements | **rejected** ([`PathError::TooDeep`]) | no real torrent nests that deep; bounds work and path length |
//!
//! Each surviving element is a plain file name, so [`to_path_buf`] only ever pushes
//! [`std::path::Component::Normal`] components: no root, no prefix, no parent. The result is
//! relative and cannot leave the directory it is joined to.
//!
//! Names that are not valid UTF-8 are handled by the metainfo parser before they get here: it uses
//! `path.utf-8` / `name.utf-8` when present and valid, else the raw bytes decoded as UTF-8 with
//! invalid sequences replaced by U+FFFD (and a warning), rather than rejecting the torrent: old
//! torrents in legacy code pages exist and their data is still valid. Two files that end up at the
//! same path after sanitisation make the torrent invalid (see the metainfo docs).

use std::borrow::Cow;
use std::path::PathBuf;

/// Longest path element kept, in bytes (rule 8). 255 is the limit of ext4, XFS, btrfs, APFS and
/// (in UTF-16 units) NTFS.
pub const MAX_ELEMENT_BYTES: usize = 255;

/// Most path elements in one file path, including the torrent's directory (rule 10). Real torrents
/// nest fewer than 20 levels; deeper paths approach `PATH_MAX` (4096) anyway.
pub const MAX_PATH_DEPTH: usize = 64;

/// Longest extension kept when a long element is truncated (rule 8).
const MAX_KEPT_EXTENSION: usize = 16;

/// Why a torrent path was rejected (the cases that are not sanitised; see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// An element is `..` (rule 2).
    #[error("path element \"..\" is not allowed")]
    ParentDir,
    /// No element is left after dropping `""` and `"."` elements (rule 9).
    #[error("path is empty")]
    Empty,
    /// Too many elements (rule 10).
    #[error("path has {depth} elements; the limit is {limit}")]
    TooDeep {
        /// Number of elements.
        depth: usize,
        /// [`MAX_PATH_DEPTH`].
        limit: usize,
    },
}

/// Sanitises one path element by the rules of the module doc, for the platform ferrent runs on.
/// `Ok(None)` means the element is dropped (`""` or `"."`).
///
/// ```
/// use ferrent_core::sanitize_element;
/// assert_eq!(sanitize_element("a/b").unwrap().as_deref(), Some("a_b"));
/// assert_eq!(sanitize_element(".").unwrap(), None);
/// assert!(sanitize_element("..").is_err());
/// ```
pub fn sanitize_element(raw: &str) -> Result<Option<Cow<'_, str>>, PathError> {
    sanitize_element_for(raw, cfg!(windows))
}

/// Sanitises a whole path (a list of elements) by the rules of the module doc. The result has at
/// least one element, each a plain file name.
///
/// ```
/// use ferrent_core::sanitize_path;
/// assert_eq!(sanitize_path(["dir", ".", "f.txt"]).unwrap(), ["dir", "f.txt"]);
/// assert!(sanitize_path(["dir", "..", "etc"]).is_err());
/// ```
pub fn sanitize_path<'a, I>(elements: I) -> Result<Vec<String>, PathError>
where
    I: IntoIterator<Item = &'a str>,
{
    sanitize_path_for(elements, cfg!(windows))
}

/// Joins sanitised elements into a relative [`PathBuf`]. Pushes each element as one component;
/// given the output of [`sanitize_path`] the result is relative and contains no `..`.
pub fn to_path_buf<S: AsRef<str>>(elements: &[S]) -> PathBuf {
    elements.iter().map(|e| e.as_ref()).collect()
}

pub(crate) fn sanitize_path_for<'a, I>(elements: I, windows: bool) -> Result<Vec<String>, PathError>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut out = Vec::new();
    let mut depth = 0usize;
    for raw in elements {
        depth += 1;
        if depth > MAX_PATH_DEPTH {
            // Count the rest for the message, without keeping them.
            return Err(PathError::TooDeep {
                depth,
                limit: MAX_PATH_DEPTH,
            });
        }
        if let Some(e) = sanitize_element_for(raw, windows)? {
            out.push(e.into_owned());
        }
    }
    if out.is_empty() {
        return Err(PathError::Empty);
    }
    Ok(out)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_replaced(c: char, windows: bool) -> bool {
    c == '/'
        || c == '\\'
        || c.is_control()
        || is_bidi_control(c)
        || (windows && matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*'))
}

const RESERVED: [&str; 4] = ["CON", "PRN", "AUX", "NUL"];

fn is_reserved_stem(stem: &str) -> bool {
    let stem = stem.trim_end_matches(' ');
    if RESERVED.iter().any(|r| stem.eq_ignore_ascii_case(r)) {
        return true;
    }
    let b = stem.as_bytes();
    b.len() == 4
        && (b[..3].eq_ignore_ascii_case(b"COM") || b[..3].eq_ignore_ascii_case(b"LPT"))
        && b[3].is_ascii_digit()
}

pub(crate) fn sanitize_element_for(
    raw: &str,
    windows: bool,
) -> Result<Option<Cow<'_, str>>, PathError> {
    match raw {
        "" | "." => return Ok(None),
        ".." => return Err(PathError::ParentDir),
        _ => {}
    }
    let mut s: Cow<'_, str> = if raw.chars().any(|c| is_replaced(c, windows)) {
        Cow::Owned(
            raw.chars()
                .map(|c| if is_replaced(c, windows) { '_' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(raw)
    };
    strip_trailing(&mut s);
    let stem_end = s.find('.').unwrap_or(s.len());
    if is_reserved_stem(&s[..stem_end]) {
        let mut owned = s.into_owned();
        owned.insert(stem_end, '_');
        s = Cow::Owned(owned);
    }
    if s.len() > MAX_ELEMENT_BYTES {
        s = Cow::Owned(truncate(&s));
        strip_trailing(&mut s);
    }
    Ok(Some(s))
}

/// Rule 6: strips trailing dots and spaces; an element left empty becomes `_`.
fn strip_trailing(s: &mut Cow<'_, str>) {
    let trimmed = s.trim_end_matches(['.', ' ']);
    if trimmed.len() != s.len() {
        *s = Cow::Owned(if trimmed.is_empty() {
            "_".to_owned()
        } else {
            trimmed.to_owned()
        });
    }
}

/// Largest index <= `max` that is a char boundary of `s`.
fn floor_boundary(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Rule 8: cuts `s` to [`MAX_ELEMENT_BYTES`], keeping a short extension.
fn truncate(s: &str) -> String {
    let ext = match s.rfind('.') {
        Some(i) if i > 0 && s.len() - i <= MAX_KEPT_EXTENSION => &s[i..],
        _ => "",
    };
    // `s` is longer than the limit, so the cut falls before the extension.
    let head_len = floor_boundary(s, MAX_ELEMENT_BYTES - ext.len());
    let mut out = String::with_capacity(MAX_ELEMENT_BYTES);
    out.push_str(&s[..head_len]);
    out.push_str(ext);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Component;

    fn el(raw: &str) -> Option<String> {
        sanitize_element_for(raw, false)
            .unwrap()
            .map(Cow::into_owned)
    }
    fn el_win(raw: &str) -> Option<String> {
        sanitize_element_for(raw, true)
            .unwrap()
            .map(Cow::into_owned)
    }

    #[test]
    fn plain_names_are_kept_and_borrowed() {
        assert!(matches!(
            sanitize_element_for("file.txt", false),
            Ok(Some(Cow::Borrowed("file.txt")))
        ));
        assert_eq!(el("other dir").as_deref(), Some("other dir"));
        assert_eq!(el(".hidden").as_deref(), Some(".hidden"));
        assert_eq!(el("ünïcødé 文件").as_deref(), Some("ünïcødé 文件"));
    }

    #[test]
    fn rule1_empty_and_dot_are_dropped() {
        assert_eq!(el(""), None);
        assert_eq!(el("."), None);
        assert_eq!(
            sanitize_path_for(["", "a", ".", "b"], false).unwrap(),
            ["a", "b"]
        );
    }

    #[test]
    fn rule2_parent_dir_is_rejected() {
        assert_eq!(sanitize_element_for("..", false), Err(PathError::ParentDir));
        assert_eq!(
            sanitize_path_for(["a", "..", "..", "etc"], false),
            Err(PathError::ParentDir)
        );
        // Only the exact element: names that merely contain dots are fine.
        assert_eq!(el("..foo").as_deref(), Some("..foo"));
        assert_eq!(el("a..b").as_deref(), Some("a..b"));
    }

    #[test]
    fn rule3_separators_are_replaced() {
        assert_eq!(el("/etc/passwd").as_deref(), Some("_etc_passwd"));
        assert_eq!(el("..\\..\\windows").as_deref(), Some(".._.._windows"));
        assert_eq!(el("a/../b").as_deref(), Some("a_.._b"));
    }

    #[test]
    fn rule4_control_and_bidi_characters_are_replaced() {
        assert_eq!(el("a\0b").as_deref(), Some("a_b"));
        assert_eq!(el("a\nb\tc\x7f").as_deref(), Some("a_b_c_"));
        assert_eq!(el("a\u{85}b").as_deref(), Some("a_b"));
        assert_eq!(el("evil\u{202E}txt.exe").as_deref(), Some("evil_txt.exe"));
        assert_eq!(el("x\u{2066}y").as_deref(), Some("x_y"));
    }

    #[test]
    fn rule5_windows_characters_only_on_windows() {
        assert_eq!(el("what?.mp3").as_deref(), Some("what?.mp3"));
        assert_eq!(el("C:").as_deref(), Some("C:"));
        assert_eq!(el_win("what?.mp3").as_deref(), Some("what_.mp3"));
        assert_eq!(el_win("C:").as_deref(), Some("C_"));
        assert_eq!(el_win("a<b>c\"d|e*f").as_deref(), Some("a_b_c_d_e_f"));
        assert_eq!(el_win("file:stream").as_deref(), Some("file_stream"));
    }

    #[test]
    fn rule6_trailing_dots_and_spaces_are_stripped() {
        assert_eq!(el("name.").as_deref(), Some("name"));
        assert_eq!(el("name . . ").as_deref(), Some("name"));
        assert_eq!(el("...").as_deref(), Some("_"));
        assert_eq!(el(" ").as_deref(), Some("_"));
        assert_eq!(el(" lead").as_deref(), Some(" lead"));
    }

    #[test]
    fn rule7_windows_device_names_get_a_suffix() {
        assert_eq!(el("CON").as_deref(), Some("CON_"));
        assert_eq!(el("con.txt").as_deref(), Some("con_.txt"));
        assert_eq!(el("nul.tar.gz").as_deref(), Some("nul_.tar.gz"));
        assert_eq!(el("Com1").as_deref(), Some("Com1_"));
        assert_eq!(el("lpt9.log").as_deref(), Some("lpt9_.log"));
        assert_eq!(el("aux ").as_deref(), Some("aux_"));
        assert_eq!(el("CONSOLE").as_deref(), Some("CONSOLE"));
        assert_eq!(el("COM10").as_deref(), Some("COM10"));
        assert_eq!(el("com").as_deref(), Some("com"));
    }

    #[test]
    fn rule8_long_elements_are_truncated_keeping_the_extension() {
        let long = format!("{}.mkv", "a".repeat(400));
        let s = el(&long).unwrap();
        assert_eq!(s.len(), MAX_ELEMENT_BYTES);
        assert!(s.ends_with("aaa.mkv"));
        // Multi-byte characters are never split.
        let wide = "é".repeat(200); // 400 bytes
        let s = el(&wide).unwrap();
        assert!(s.len() <= MAX_ELEMENT_BYTES && s.len() >= MAX_ELEMENT_BYTES - 1);
        assert!(s.chars().all(|c| c == 'é'));
        // A long "extension" is not kept specially.
        let s = el(&format!("a.{}", "b".repeat(300))).unwrap();
        assert_eq!(s.len(), MAX_ELEMENT_BYTES);
        assert!(s.starts_with("a.bbb"));
        // Exactly at the limit: untouched.
        let exact = "x".repeat(MAX_ELEMENT_BYTES);
        assert_eq!(el(&exact).unwrap(), exact);
    }

    #[test]
    fn rule9_empty_paths_are_rejected() {
        assert_eq!(sanitize_path_for([], false), Err(PathError::Empty));
        assert_eq!(
            sanitize_path_for(["", ".", ""], false),
            Err(PathError::Empty)
        );
    }

    #[test]
    fn rule10_deep_paths_are_rejected() {
        let ok = vec!["d"; MAX_PATH_DEPTH];
        assert_eq!(sanitize_path_for(ok, false).unwrap().len(), MAX_PATH_DEPTH);
        let deep = vec!["d"; MAX_PATH_DEPTH + 1];
        assert!(matches!(
            sanitize_path_for(deep, false),
            Err(PathError::TooDeep { .. })
        ));
    }

    #[test]
    fn joined_paths_are_relative_and_normal() {
        let hostile = [
            "/",
            "C:",
            "..a",
            "a\\..\\..",
            "\\\\server\\share",
            "x/../../y",
            "~",
        ];
        let els = sanitize_path_for(hostile, true).unwrap();
        let p = to_path_buf(&els);
        assert!(p.is_relative());
        assert_eq!(p.components().count(), hostile.len());
        assert!(p.components().all(|c| matches!(c, Component::Normal(_))));
    }

    proptest::proptest! {
        #[test]
        fn any_input_stays_inside(elements in proptest::collection::vec(".{0,40}", 0..8)) {
            for windows in [false, true] {
                let refs = elements.iter().map(String::as_str);
                if let Ok(els) = sanitize_path_for(refs, windows) {
                    let p = to_path_buf(&els);
                    proptest::prop_assert!(p.is_relative());
                    proptest::prop_assert_eq!(p.components().count(), els.len());
                    for c in p.components() {
                        proptest::prop_assert!(matches!(c, Component::Normal(_)));
                    }
                    for e in &els {
                        proptest::prop_assert!(!e.is_empty() && e.len() <= MAX_ELEMENT_BYTES);
                        proptest::prop_assert!(!e.contains(['/', '\\', '\0']));
                        proptest::prop_assert!(!e.ends_with(['.', ' ']));
                    }
                }
            }
        }
    }
}
