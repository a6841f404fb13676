//! Walking the input: which files go into the torrent, in which order (rules in the module docs of
//! `create`).

use std::fs;
use std::path::{Path, PathBuf};

use super::CreateError;

/// One file to hash.
#[derive(Clone, Debug)]
pub(crate) struct InputFile {
    /// Components inside the torrent; for a single-file torrent just its name.
    pub path: Vec<String>,
    /// Where to read it.
    pub source: PathBuf,
    /// Its length when scanned.
    pub length: u64,
}

/// Why an entry of the input directory is not in the torrent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SkipReason {
    /// A symbolic link to a directory (not followed, so trees cannot loop or escape).
    SymlinkToDirectory,
    /// A symbolic link whose target does not exist or cannot be read.
    DanglingSymlink,
    /// A directory with no files anywhere below it (v1 torrents cannot express it).
    EmptyDirectory,
    /// A socket, FIFO or device.
    NotRegularFile,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::SymlinkToDirectory => "symbolic link to a directory (not followed)",
            SkipReason::DanglingSymlink => "dangling symbolic link",
            SkipReason::EmptyDirectory => "empty directory",
            SkipReason::NotRegularFile => "not a regular file",
        })
    }
}

/// An entry of the input left out of the torrent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The path on disk.
    pub path: PathBuf,
    /// Why.
    pub reason: SkipReason,
}

pub(crate) struct Scanned {
    pub name: String,
    pub single_file: bool,
    pub files: Vec<InputFile>,
    pub skipped: Vec<Skipped>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CreateError + '_ {
    move |source| CreateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn utf8_name(path: &Path, name: &std::ffi::OsStr) -> Result<String, CreateError> {
    name.to_str()
        .map(str::to_owned)
        .ok_or_else(|| CreateError::NonUtf8Name {
            path: path.to_path_buf(),
        })
}

/// The torrent name for `path`: its last component, or for `.`/`..`/`/`-like paths the last
/// component of the canonical path.
fn root_name(path: &Path) -> Result<String, CreateError> {
    match path.file_name() {
        Some(n) => utf8_name(path, n),
        None => {
            let canon = fs::canonicalize(path).map_err(io_err(path))?;
            match canon.file_name() {
                Some(n) => utf8_name(&canon, n),
                // The file system root has no name.
                None => Err(CreateError::NotFileOrDir {
                    path: path.to_path_buf(),
                }),
            }
        }
    }
}

pub(crate) fn scan(path: &Path) -> Result<Scanned, CreateError> {
    // The input itself is always followed, even when it is a symbolic link.
    let meta = fs::metadata(path).map_err(io_err(path))?;
    let name = root_name(path)?;
    if meta.is_file() {
        let files = vec![InputFile {
            path: vec![name.clone()],
            source: path.to_path_buf(),
            length: meta.len(),
        }];
        return Ok(Scanned {
            name,
            single_file: true,
            files,
            skipped: Vec::new(),
        });
    }
    if !meta.is_dir() {
        return Err(CreateError::NotFileOrDir {
            path: path.to_path_buf(),
        });
    }
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut prefix = Vec::new();
    walk_dir(path, &mut prefix, &mut files, &mut skipped)?;
    // Component-wise byte order = BEP 52 `file tree` order (see the module docs).
    files.sort_by(|a, b| a.path.cmp(&b.path));
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Scanned {
        name,
        single_file: false,
        files,
        skipped,
    })
}

/// Adds the files below `dir` (whose components inside the torrent are `prefix`); returns whether
/// it found any file.
fn walk_dir(
    dir: &Path,
    prefix: &mut Vec<String>,
    files: &mut Vec<InputFile>,
    skipped: &mut Vec<Skipped>,
) -> Result<bool, CreateError> {
    let mut found = false;
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        let name = utf8_name(&path, &entry.file_name())?;
        let file_type = entry.file_type().map_err(io_err(&path))?;
        let (is_file, is_dir, len) = if file_type.is_symlink() {
            match fs::metadata(&path) {
                Ok(m) if m.is_dir() => {
                    skipped.push(Skipped {
                        path,
                        reason: SkipReason::SymlinkToDirectory,
                    });
                    continue;
                }
                Ok(m) => (m.is_file(), false, m.len()),
                Err(_) => {
                    skipped.push(Skipped {
                        path,
                        reason: SkipReason::DanglingSymlink,
                    });
                    continue;
                }
            }
        } else if file_type.is_dir() {
            (false, true, 0)
        } else if file_type.is_file() {
            (true, false, entry.metadata().map_err(io_err(&path))?.len())
        } else {
            (false, false, 0)
        };
        if is_dir {
            prefix.push(name);
            let any = walk_dir(&path, prefix, files, skipped)?;
            prefix.pop();
            if !any {
                // Report the empty directory itself, not each empty level below it.
                skipped.retain(|s| {
                    !(s.reason == SkipReason::EmptyDirectory && s.path.starts_with(&path))
                });
                skipped.push(Skipped {
                    path,
                    reason: SkipReason::EmptyDirectory,
                });
            }
            found |= any;
        } else if is_file {
            let mut p = prefix.clone();
            p.push(name);
            files.push(InputFile {
                path: p,
                source: path,
                length: len,
            });
            found = true;
        } else {
            skipped.push(Skipped {
                path,
                reason: SkipReason::NotRegularFile,
            });
        }
    }
    Ok(found)
}
