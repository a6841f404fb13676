//! The state directory: what the daemon must remember across restarts.
//!
//! ```text
//! <state>/torrents/<40 hex>.torrent   metainfo of each torrent (saved on add, removed on remove)
//! <state>/torrents/<40 hex>.magnet    a magnet link whose metadata has not arrived yet
//! <state>/torrents/<40 hex>.stopped   empty: the user stopped it, so a restart does not start it
//! <state>/resume/                     the engine's resume files (`ferrent::resume`)
//! <state>/lock                        held locked (`flock`) while a daemon uses the directory
//! ```
//!
//! Every write is crash-safe ([`ferrent::resume::save_atomic`]: temp file, fsync, rename, fsync
//! of the directory), so a crash leaves either the old file or the new one, whole. Reading is
//! bounded ([`crate::MAX_BODY_SIZE`] per file) and a bad file is skipped with a warning, never
//! fatal: one corrupt file must not keep the daemon from starting. All calls block.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// The state's directories as paths relative to the download directory, when they are
    /// inside it (the default, `DIR/.ferrent-daemon`): no torrent may write there.
    reserved: Vec<PathBuf>,
    /// `<state>/lock`, locked for as long as the store lives: a second daemon on the same
    /// state directory would save and remove the same files behind this one's back.
    _lock: Arc<File>,
}

fn dir_err(path: &Path) -> impl FnOnce(std::io::Error) -> DaemonError + '_ {
    move |source| DaemonError::StateDir {
        path: path.to_path_buf(),
        source,
    }
}

/// Opens and locks `<state>/lock` (an exclusive `flock`, released when the file closes, also
/// when the process dies); [`DaemonError::StateInUse`] when another process holds it.
fn lock_state(state: &Path) -> Result<File, DaemonError> {
    let path = state.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(dir_err(&path))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(file),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(DaemonError::StateInUse {
            path: state.to_path_buf(),
        }),
        Err(e) => Err(DaemonError::StateDir {
            path,
            source: e.into(),
        }),
    }
}

impl Store {
    /// Creates the directories under `state` when missing; `download_dir` (existing) is where
    /// torrents write, to keep them out of the state.
    pub(crate) fn open(state: &Path, download_dir: &Path) -> Result<Store, DaemonError> {
        let (torrents, resume) = (state.join("torrents"), state.join("resume"));
        for d in [&torrents, &resume] {
            std::fs::create_dir_all(d).map_err(dir_err(d))?;
        }
        let mut store = Store {
            torrents,
            resume,
            reserved: Vec::new(),
            _lock: Arc::new(lock_state(state)?),
        };
        // Compared as canonical paths: `--state` may spell the same place differently. The
        // whole state directory when it is below the download directory (its DHT table too);
        // when they are one directory, the daemon's own subdirectories.
        let canon = |d: &Path| std::fs::canonicalize(d).map_err(dir_err(d));
        let dl = canon(download_dir)?;
        let rel = |d: &Path| -> Result<Option<PathBuf>, DaemonError> {
            Ok(canon(d)?.strip_prefix(&dl).ok().map(Path::to_path_buf))
        };
        match rel(state)? {
            Some(r) if r.as_os_str().is_empty() => {
                for d in [&store.torrents, &store.resume] {
                    store.reserved.extend(rel(d)?);
                }
            }
            r => store.reserved.extend(r),
        }
        Ok(store)
    }

    /// The first file of `meta` that would land in the state directory (a torrent named
    /// `.ferrent-daemon` with a file `torrents/<hash>.torrent` could replace what the daemon
    /// loads at start, or lie in a resume file), if any.
    pub(crate) fn clash(&self, meta: &Metainfo) -> Option<PathBuf> {
        meta.files()
            .iter()
            .map(|f| f.path())
            .find(|p| self.reserved.iter().any(|r| p.starts_with(r)))
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

    /// Records whether the user stopped the torrent (kept across restarts).
    pub(crate) fn set_stopped(&self, id: Id20, stopped: bool) -> Result<(), DaemonError> {
        let marker = self.path(id, "stopped");
        if stopped {
            ferrent::resume::save_atomic(&marker, b"")?;
        } else {
            remove_if_present(&marker);
        }
        Ok(())
    }

    /// Forgets a torrent: its metainfo or magnet file, its stopped mark (and, with `resume`, its
    /// resume file).
    pub(crate) fn remove(&self, id: Id20, resume: bool) {
        remove_if_present(&self.path(id, "torrent"));
        remove_if_present(&self.path(id, "magnet"));
        remove_if_present(&self.path(id, "stopped"));
        if resume {
            remove_if_present(&ferrent::resume::resume_path(&self.resume, id));
        }
    }

    /// Every torrent saved, at most `max`, in file-name order, with whether it was stopped.
    /// Skipped with a warning: files that do not parse, whose name is not their info-hash, or
    /// temp files of an interrupted save (removed).
    pub(crate) fn load_all(&self, max: usize) -> Vec<(Id20, Saved, bool)> {
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
        out.into_iter()
            .map(|(id, saved)| {
                let stopped = self.path(id, "stopped").exists();
                (id, saved, stopped)
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &[u8] =
        b"d6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:01234567890123456789e";

    #[test]
    fn a_second_store_on_the_same_directory_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open(dir.path(), dir.path()).unwrap();
        match Store::open(dir.path(), dir.path()) {
            Err(DaemonError::StateInUse { path }) => assert_eq!(path, dir.path()),
            other => panic!("second store: {:?}", other.map(|_| ())),
        }
        drop(first);
        Store::open(dir.path(), dir.path()).unwrap();
    }

    #[test]
    fn saved_torrents_come_back_and_bad_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), dir.path()).unwrap();
        let meta = Metainfo::from_info_bytes(INFO).unwrap();
        let id = meta.info_hash().wire_id();
        store.save_torrent(id, &meta.to_torrent_file()).unwrap();
        store.set_stopped(id, true).unwrap();
        let other = Id20::from_hex("0123456789abcdef0123456789abcdef01234567").unwrap();
        let link = format!("magnet:?xt=urn:btih:{}&dn=m", other.to_hex());
        store.save_magnet(other, &link).unwrap();
        let t = dir.path().join("torrents");
        // Garbage, a torrent under the wrong name, a stray file, a temp file of a crashed save.
        std::fs::write(t.join(format!("{}.torrent", "ab".repeat(20))), b"junk").unwrap();
        std::fs::copy(
            t.join(format!("{}.torrent", id.to_hex())),
            t.join(format!("{}.torrent", "cd".repeat(20))),
        )
        .unwrap();
        std::fs::write(t.join("notes.txt"), b"x").unwrap();
        let tmp = t.join(format!("{}.torrent.tmp.1.2", id.to_hex()));
        std::fs::write(&tmp, b"half").unwrap();

        let loaded = store.load_all(10);
        let ids: Vec<(Id20, bool)> = loaded.iter().map(|(i, _, s)| (*i, *s)).collect();
        assert_eq!(ids, vec![(other, false), (id, true)]);
        assert!(matches!(loaded[0].1, Saved::Magnet(_)));
        assert!(matches!(&loaded[1].1, Saved::Torrent(m) if m.name() == "a"));
        assert!(!tmp.exists());
        assert_eq!(store.load_all(1).len(), 1);

        // The metadata arrives: the magnet file goes; removing forgets everything.
        store.save_torrent(other, &meta.to_torrent_file()).unwrap();
        assert!(!t.join(format!("{}.magnet", other.to_hex())).exists());
        store.remove(id, true);
        assert!(!t.join(format!("{}.torrent", id.to_hex())).exists());
        assert!(!t.join(format!("{}.stopped", id.to_hex())).exists());
    }

    #[test]
    fn torrents_cannot_write_into_the_state_directory() {
        let dl = tempfile::tempdir().unwrap();
        let store = Store::open(&dl.path().join(".ferrent-daemon"), dl.path()).unwrap();
        let file = |name: &str| {
            let info = format!(
                "d5:filesld6:lengthi5e4:pathl{}:{}eee4:name15:.ferrent-daemon12:piece lengthi16384e6:pieces20:01234567890123456789e",
                name.len(),
                name
            );
            Metainfo::from_info_bytes(info.as_bytes()).unwrap()
        };
        assert_eq!(
            store.clash(&file("torrents")),
            Some(PathBuf::from(".ferrent-daemon/torrents"))
        );
        assert_eq!(
            store.clash(&file(".ferrent-dht")),
            Some(PathBuf::from(".ferrent-daemon/.ferrent-dht"))
        );
        // State and data in one directory: only the daemon's own subdirectories are off limits.
        let store = Store::open(dl.path(), dl.path()).unwrap();
        assert_eq!(store.clash(&file("other")), None);
        let resume =
            "d6:lengthi5e4:name6:resume12:piece lengthi16384e6:pieces20:01234567890123456789e";
        let resume = Metainfo::from_info_bytes(resume.as_bytes()).unwrap();
        assert_eq!(store.clash(&resume), Some(PathBuf::from("resume")));
        // A state directory elsewhere reserves nothing in the download directory.
        let elsewhere = tempfile::tempdir().unwrap();
        let store = Store::open(elsewhere.path(), dl.path()).unwrap();
        assert_eq!(store.clash(&file("torrents")), None);
    }
}
