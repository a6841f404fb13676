//! The path rule of the storage layer: every file lives under the download directory.
//!
//! The metainfo parser already sanitises torrent paths (`ferrent_core` `path` module: no `..`, no
//! separators inside an element, no absolute paths). Storage checks again, as defence in depth,
//! because it is the layer that actually creates files: a path given to
//! [`Storage::open`](super::Storage::open) must be relative and made of
//! [`Component::Normal`] components only. Anything else (`..`, `/abs`, `C:`, `.`, an empty path)
//! is rejected with [`StorageError::UnsafePath`], whoever built the list.
//!
//! Symbolic links that the *user* placed inside the download directory are followed, as
//! libtorrent and Transmission do (people symlink data they seed from elsewhere); a torrent
//! cannot create one, since storage never creates links.

use std::path::{Component, Path, PathBuf};

use super::StorageError;

/// Joins `relative` under `root`, after checking that every component of `relative` is a plain
/// name, so the result cannot leave `root`.
pub(crate) fn join_under(root: &Path, relative: &Path) -> Result<PathBuf, StorageError> {
    let unsafe_path = |reason| StorageError::UnsafePath {
        path: relative.to_path_buf(),
        reason,
    };
    let mut out = root.to_path_buf();
    let mut any = false;
    for c in relative.components() {
        match c {
            Component::Normal(name) => {
                // `components()` never yields a Normal with a separator, but a NUL byte would
                // make the name unusable (and truncated in C APIs).
                if name.as_encoded_bytes().contains(&0) {
                    return Err(unsafe_path("a path element contains a NUL byte"));
                }
                out.push(name);
                any = true;
            }
            Component::ParentDir => {
                return Err(unsafe_path("\"..\" would leave the download directory"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_path("absolute paths are not allowed"));
            }
            Component::CurDir => return Err(unsafe_path("\".\" elements are not allowed")),
        }
    }
    if !any {
        return Err(unsafe_path("the path is empty"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_relative_paths_join() {
        let p = join_under(Path::new("/dl"), Path::new("t/a/b.bin")).unwrap();
        assert_eq!(p, Path::new("/dl/t/a/b.bin"));
        assert!(p.starts_with("/dl"));
    }

    #[test]
    fn escapes_are_rejected() {
        for bad in ["../x", "t/../../x", "/etc/passwd", "./x", "", "t/.."] {
            let e = join_under(Path::new("/dl"), Path::new(bad));
            assert!(
                matches!(e, Err(StorageError::UnsafePath { .. })),
                "{bad:?} gave {e:?}"
            );
        }
    }
}
