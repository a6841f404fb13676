//! Crash-safe writing ([`save_atomic`]) and reading ([`load`]) of a resume file. Blocking: call
//! them from `spawn_blocking` or the storage thread.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{MAX_RESUME_SIZE, ResumeData, ResumeError};

/// Marker between the file name and the `<pid>.<sequence>` of a temp file.
const TMP_MARKER: &str = ".tmp.";

/// Distinguishes temp files of concurrent saves within one process.
static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> ResumeError + 'a {
    move |source| ResumeError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// Parent directory and file name of `path` (`.` when it has no parent).
fn split(path: &Path) -> Result<(&Path, &std::ffi::OsStr), ResumeError> {
    let name = path.file_name().ok_or_else(|| ResumeError::Io {
        path: path.to_path_buf(),
        op: "name",
        source: io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"),
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok((dir, name))
}

/// Replaces the file at `path` with `bytes` so that a crash at any moment leaves either the old
/// content or the new, whole: write `<path>.tmp.<pid>.<n>` in the same directory, `fsync` it,
/// rename it over `path`, `fsync` the directory (so the rename itself is durable). On error the
/// temp file is removed where possible and `path` is untouched (or, if only the directory sync
/// failed, already replaced). Saves of one path should not run concurrently (the last rename
/// wins).
pub fn save_atomic(path: &Path, bytes: &[u8]) -> Result<(), ResumeError> {
    let (dir, name) = split(path)?;
    let mut tmp_name = OsString::from(name);
    tmp_name.push(format!(
        "{TMP_MARKER}{}.{}",
        std::process::id(),
        TMP_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = dir.join(tmp_name);
    let written = write_synced(&tmp, bytes)
        .and_then(|()| fs::rename(&tmp, path).map_err(io_err(path, "rename")));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir, "sync directory"))
}

fn write_synced(tmp: &Path, bytes: &[u8]) -> Result<(), ResumeError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)
        .map_err(io_err(tmp, "create"))?;
    f.write_all(bytes).map_err(io_err(tmp, "write"))?;
    f.sync_all().map_err(io_err(tmp, "sync"))
}

/// Reads the resume file at `path`: `Ok(None)` when there is none, `Ok(Some(data))` when it
/// decodes, `Err` when it cannot be read or is corrupt (the engine logs a warning and
/// rechecks; the next save replaces it). Reads at most [`MAX_RESUME_SIZE`] bytes. Also removes
/// temp files that earlier saves of this path left behind when the process died before the
/// rename, best effort: never a temp of another process still running; this process's own
/// temps are removed too (a dead process may have had our pid, and the engine loads a torrent's
/// resume file before it starts saving it).
pub fn load(path: &Path) -> Result<Option<ResumeData>, ResumeError> {
    remove_stale_temps(path);
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path, "open")(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_RESUME_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err(path, "read"))?;
    ResumeData::decode(&bytes).map(Some)
}

/// The temp files of `path` (`<name>.tmp.<pid>.<n>`) not belonging to another live process
/// (checked through `/proc/<pid>`).
pub(crate) fn stale_temps(path: &Path) -> Vec<PathBuf> {
    let Ok((dir, name)) = split(path) else {
        return Vec::new();
    };
    let Some(name) = name.to_str() else {
        return Vec::new();
    };
    let prefix = format!("{name}{TMP_MARKER}");
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let own = std::process::id();
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let file_name = e.file_name();
            let rest = file_name.to_str()?.strip_prefix(&prefix)?;
            let (pid, seq) = rest.split_once('.')?;
            let pid: u32 = pid.parse().ok()?;
            seq.parse::<u64>().ok()?;
            let gone = pid == own || !Path::new("/proc").join(pid.to_string()).exists();
            gone.then(|| e.path())
        })
        .collect()
}

fn remove_stale_temps(path: &Path) {
    for tmp in stale_temps(path) {
        match fs::remove_file(&tmp) {
            Ok(()) => tracing::debug!(path = %tmp.display(), "removed stale resume temp file"),
            Err(e) => {
                tracing::debug!(path = %tmp.display(), error = %e, "cannot remove stale resume temp file")
            }
        }
    }
}
