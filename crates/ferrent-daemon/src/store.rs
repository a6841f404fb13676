//! The state directory: what the daemon must remember across restarts.
//!
//! ```text
//! <state>/torrents/<40 hex>.torrent   metainfo of each torrent (saved on add, removed on remove)
//! <state>/torrents/<40 hex>.magnet    a magnet link whose metadata has not arrived yet
//! <state>/resume/                     the engine's resume files (`ferrent::resume`)
//! ```
//!
//! Every write is crash-safe ([`ferrent::resume::save_atomic`]: temp file, fsync, rename, fsync
//! of the directory), so a crash leaves either the old file or the new one, whole. Reading is
//! bounded ([`crate::MAX_BODY_SIZE`] per file) and a bad file is skipped with a warning, never
//! fatal: one corrupt file must not keep the daemon from starting. All calls block.

use std::io::Read;
use std::path::{Path, PathBuf};

use ferrent_core::{Id20, Magnet, Metainfo};

use crate::DaemonError;

/// A torrent found in the state directory.
pub(crate) enum Saved {
    /// A `.torrent`.
    Torrent(Box<Metainfo>),
    /// A magnet link still without metadata.
    Magnet(Magnet),
}

/// The state directory's layout and its file operations.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    torrents: PathBuf,
    resume: PathBuf,
}

fn dir_err(path: &Path) -> impl FnOnce(std::io::Error) -> DaemonError + '_ {
    move |source| DaemonError::StateDir {
        path: path.to_path_buf(),
        source,
    }
}

impl Store {
    /// Creates the directories under `state` when missing.
    pub(crate) fn open(state: &Path) -> Result<Store, DaemonError> {
        let store = Store {
            torrents: state.join("torrents"),
            resume: state.join("resume"),
        };
        for d in [&store.torrents, &store.resume] {
            std::fs::create_dir_all(d).map_err(dir_err(d))?;
        }
        Ok(store)
    }

    /// Where the engine keeps resume files.
    pub(crate) fn resume_dir(&self) -> &Path {
        &self.resume
    }

    fn path(&self, id: Id20, ext: &str) -> PathBuf {
        self.torrents.join(format!("{}.{ext}", id.to_hex()))
    }

    /// Saves a torrent's metainfo (and forgets its magnet link, now that metadata is here).
    pub(crate) fn save_torrent(&self, id: Id20, bytes: &[u8]) -> Result<(), DaemonError> {
        ferrent::resume::save_atomic(&self.path(id, "torrent"), bytes)?;
        remove_if_present(&self.path(id, "magnet"));
        Ok(())
    }

    /// Saves a magnet link whose metadata is still to be fetched.
    pub(crate) fn save_magnet(&self, id: Id20, link: &str) -> Result<(), DaemonError> {
        ferrent::resume::save_atomic(&self.path(id, "magnet"), link.as_bytes())?;
        Ok(())
    }

    /// Forgets a torrent: its metainfo or magnet file (and, with `resume`, its resume file).
    pub(crate) fn remove(&self, id: Id20, resume: bool) {
        remove_if_present(&self.path(id, "torrent"));
        remove_if_present(&self.path(id, "magnet"));
        if resume {
            remove_if_present(&ferrent::resume::resume_path(&self.resume, id));
        }
    }

    /// Every torrent saved, at most `max`, in file-name order. Skipped with a warning: files
    /// that do not parse, whose name is not their info-hash, or temp files of an interrupted
    /// save (removed).
    pub(crate) fn load_all(&self, max: usize) -> Vec<(Id20, Saved)> {
        let entries = match std::fs::read_dir(&self.torrents) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!("cannot list {}: {e}", self.torrents.display());
                return Vec::new();
            }
        };
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        let mut out: Vec<(Id20, Saved)> = Vec::new();
        for path in names {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.contains(".tmp.") {
                remove_if_present(&path);
                continue;
            }
            let Some((stem, ext)) = name.split_once('.') else {
                continue;
            };
            let Ok(id) = Id20::from_hex(stem) else {
                tracing::warn!("{}: not named by an info-hash, ignored", path.display());
                continue;
            };
            if out.iter().any(|(i, _)| *i == id) {
                continue; // a .torrent sorts before its stale .magnet
            }
            if out.len() >= max {
                tracing::warn!("more than {max} torrents saved: the rest are not loaded");
                break;
            }
            match load_one(&path, ext, id) {
                Ok(Some(saved)) => out.push((id, saved)),
                Ok(None) => {}
                Err(why) => tracing::warn!("{}: {why}; ignored", path.display()),
            }
        }
        out
    }
}

/// Reads one saved file: `Ok(None)` for an extension that is not ours.
fn load_one(path: &Path, ext: &str, id: Id20) -> Result<Option<Saved>, String> {
    if ext != "torrent" && ext != "magnet" {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(crate::MAX_BODY_SIZE as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() > crate::MAX_BODY_SIZE {
        return Err(format!("larger than {} bytes", crate::MAX_BODY_SIZE));
    }
    let (saved, got) = if ext == "torrent" {
        let meta = Metainfo::from_bytes(&bytes).map_err(|e| format!("not a valid torrent: {e}"))?;
        let got = meta.info_hash().wire_id();
        (Saved::Torrent(Box::new(meta)), got)
    } else {
        let text = std::str::from_utf8(&bytes).map_err(|_| "not UTF-8".to_string())?;
        let magnet = Magnet::parse(text.trim()).map_err(|e| format!("bad magnet link: {e}"))?;
        let got = magnet.info_hash.wire_id();
        (Saved::Magnet(magnet), got)
    };
    if got != id {
        return Err(format!("holds info-hash {got}, not the one in its name"));
    }
    Ok(Some(saved))
}

fn remove_if_present(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("cannot remove {}: {e}", path.display()),
    }
}
