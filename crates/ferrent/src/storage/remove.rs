//! [`Storage::remove_files`]: deleting a torrent's data (a daemon's "remove with data").
//!
//! Only the storage layer's own paths are touched: the sanitised paths checked by
//! `paths::join_under` when the storage was opened, so nothing outside the download directory
//! can be named. A symbolic link on the way (a directory the user linked elsewhere) is not
//! followed: the file behind it is left alone. Directories are removed only when empty, from
//! the deepest up, and never the download directory itself.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use super::{Storage, StorageError};

/// What [`Storage::remove_files`] deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemovedFiles {
    /// Files deleted.
    pub files: usize,
    /// Empty directories deleted.
    pub dirs: usize,
    /// Files left alone because a directory on their path is a symbolic link.
    pub skipped_links: usize,
}

impl Storage {
    /// Deletes the torrent's files (pad files are never on disk) and then the directories they
    /// leave empty, below [`Storage::root`]. Missing files are fine. Blocking; call it on a
    /// blocking thread, after the torrent stopped (open handles are closed first).
    pub fn remove_files(&self) -> Result<RemovedFiles, StorageError> {
        self.handles.close_all();
        let mut out = RemovedFiles::default();
        let mut dirs = BTreeSet::new();
        for f in self.files.iter().filter(|f| !f.pad) {
            if through_link(&self.root, &f.path) {
                out.skipped_links += 1;
                continue;
            }
            match std::fs::remove_file(&f.path) {
                Ok(()) => out.files += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StorageError::Remove {
                        path: f.path.clone(),
                        source,
                    });
                }
            }
            let mut dir = f.path.parent();
            while let Some(d) = dir.filter(|d| *d != self.root && d.starts_with(&self.root)) {
                dirs.insert(d.to_path_buf());
                dir = d.parent();
            }
        }
        // Deepest first: a longer path sorts after its parent, so walk the set backwards.
        for d in dirs.iter().rev() {
            if std::fs::remove_dir(d).is_ok() {
                out.dirs += 1;
            }
        }
        Ok(out)
    }
}

/// Whether a directory between `root` and `path` (exclusive of `root`) is a symbolic link.
fn through_link(root: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(root) else {
        return true;
    };
    let mut at = PathBuf::from(root);
    let parts: Vec<_> = rel.components().collect();
    for c in parts.iter().take(parts.len().saturating_sub(1)) {
        at.push(c);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return true;
        }
    }
    false
}
