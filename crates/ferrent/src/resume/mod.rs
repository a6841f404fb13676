//! Resume data: which pieces are verified *and durable on disk*, with the size and modification
//! time of every file, so a restart (after a clean exit or a `kill -9`) skips the recheck when the
//! files are as ferrent left them (issue 4, item 4).
//!
//! # Where the file lives
//! **Beside the data**, as aria2 does: [`resume_path`]`(dir, info_hash)` is
//! `<dir>/.<40 lower-case hex digits of the wire info-hash>.ferrent-resume`, and the engine passes
//! the download directory (`ferrent download -o DIR`, `ferrent seed -d DIR`) as `dir`. Why:
//! - the resume file describes the bytes in that directory, so it follows them: move or delete the
//!   directory and its resume data moves or goes with it; a rerun of the same command finds it with
//!   no `$HOME`, no configuration and no session database;
//! - the same torrent downloaded into two directories keeps two independent resume files, where a
//!   state directory keyed by info-hash alone would make them overwrite each other's (and, since
//!   the sizes and mtimes would then never match, recheck every time);
//! - the file sits on the same file system as the data and its temp file in the same directory,
//!   so the rename is atomic and the directory `fsync` covers it.
//!
//! The cost is one hidden file in the user's directory (aria2 leaves `<name>.aria2`). A front end
//! that keeps its own state directory (a daemon) passes that directory instead: the rule is the
//! same, and one session never holds one info-hash twice. When the directory is not writable (seeding
//! from read-only media) saving fails with [`ResumeError::Io`]: log it and carry on, the data is
//! verified at start anyway.
//!
//! # Format
//! One canonical bencoded dictionary (strict decode, unknown keys and versions rejected):
//!
//! | key | value |
//! |---|---|
//! | `files` | list, one entry per file of the layout (pad files included): `le` when the file was missing or is a pad file, else `l<len> <mtime secs> <mtime nanos>e` |
//! | `have` | the bitfield, BEP 3 wire layout, spare bits clear |
//! | `info-hash` | 20 bytes: the torrent's wire id ([`ferrent_core::InfoHash::wire_id`]) |
//! | `pieces` | number of pieces |
//! | `saved-at` | optional: Unix seconds when it was written (informative) |
//! | `version` | [`FORMAT_VERSION`] |
//!
//! # Durability contract: the order of a save
//! The bitfield claims only pieces whose bytes are on disk. The engine saves in this order, and
//! [`ResumeScheduler`] says *when*:
//! 1. [`ResumeScheduler::begin_save`], and in the same step (no write completing in between)
//!    copy the bitfield of pieces whose [`crate::Storage::write_piece`] has **returned `Ok`**
//!    (a piece whose hash matched but whose write is still running does not count);
//! 2. [`crate::Storage::sync`]: `fdatasync` of every file written so far, `fsync` of new
//!    directories. If it fails, stop: record nothing ([`ResumeScheduler::save_done`] with
//!    `false`), the torrent stops on the disk error;
//! 3. [`crate::Storage::stat_files`] *after* the sync, so the recorded sizes and mtimes include
//!    every write of a claimed piece;
//! 4. [`ResumeData::new`] with the bitfield from step 1 and the states from step 3, then
//!    [`save_atomic`] of [`ResumeData::encode`] (temp file, `fsync`, rename, `fsync` of the
//!    directory), then [`ResumeScheduler::save_done`].
//!
//! A piece written after step 1 is simply not claimed, even if it reached the disk; a crash at any
//! point leaves either the previous resume file or the new one, each claiming only synced pieces.
//! So a crash can lose work (pieces refetched or rechecked) but never make ferrent trust bytes that
//! were not on disk.
//!
//! # At start
//! [`load`] the file: `Ok(None)` = no resume data (a fresh download, or recheck what is there);
//! `Err` = unreadable or corrupt: log it as a warning and recheck. Otherwise
//! [`ResumeData::matches`] against the torrent and [`crate::Storage::stat_files`]: `Ok` = trust
//! [`ResumeData::have`] ("resumed N of M pieces"); `Err(Mismatch)` names the first file that
//! differs: log it and recheck ([`ResumeData::mismatched_files`] lists them all). After a crash
//! mid-download, the files written after the last save have a newer mtime (and often a new size),
//! so `matches` fails then; after a clean exit (final save after the last write) they match. To
//! avoid hashing everything after a crash, use [`ResumeData::plan`] instead: pieces lying only in
//! unchanged files keep their saved state ([`ResumePlan::trusted`]), only the pieces touching a
//! changed file are hashed ([`ResumePlan::recheck`], with [`crate::Storage::recheck_pieces`]).
//!
//! ```
//! use ferrent::FileState;
//! use ferrent::resume::{ResumeData, load, resume_path, save_atomic};
//! use ferrent_core::{Bitfield, Id20};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let info_hash = Id20([7; 20]);
//! let mut have = Bitfield::new(10);
//! have.set(3, true);
//! let files = [FileState::Present { len: 5, mtime: Some(std::time::SystemTime::UNIX_EPOCH) }];
//! let data = ResumeData::new(info_hash, have, &files);
//! let path = resume_path(dir.path(), info_hash);
//! save_atomic(&path, &data.encode())?;
//! let back = load(&path)?.ok_or("no resume file")?;
//! assert_eq!(back.matches(info_hash, 10, &files), Ok(()));
//! assert_eq!(back.have.count_ones(), 1);
//! # Ok(())
//! # }
//! ```

mod check;
mod codec;
mod fsio;
mod scheduler;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrent_core::{Bitfield, Id20};

use crate::FileState;

pub use check::{FileMismatch, Mismatch, ResumePlan};
pub use codec::ResumeError;
pub use fsio::{load, save_atomic};
pub use scheduler::{DEFAULT_SAVE_INTERVAL, ResumeScheduler, SaveTicket};

/// The format version written in the `version` key. A file with another version is rejected
/// ([`ResumeError::UnsupportedVersion`]) and the data rechecked; bump it on any change of keys or
/// meaning.
pub const FORMAT_VERSION: i64 = 1;

/// Largest resume file read. 1,000,000 files ([`ferrent_core::MAX_FILES`]) at ~40 bytes each plus
/// a bitfield of [`ferrent_core::MAX_PIECES`] bits (256 KiB) fit; a bigger file is not ours.
pub const MAX_RESUME_SIZE: usize = 64 * 1024 * 1024;

/// Suffix of the resume file name (after the hex info-hash).
pub const RESUME_SUFFIX: &str = ".ferrent-resume";

/// Whether `name`, at the top of a download directory, is one ferrent keeps for its own files
/// there: resume files (`.<hex>.ferrent-resume`, and their temp files) and anything starting
/// with `.ferrent` (the CLI's DHT table `.ferrent-dht`, the daemon's `.ferrent-daemon`).
/// [`crate::Session::add_torrent`] refuses a torrent with a file or directory of such a name at
/// its top, so a torrent can neither overwrite those files nor have its data overwritten by
/// them (a single-file torrent named `.ferrent-dht` would otherwise receive the DHT table
/// every five minutes).
pub fn is_reserved_name(name: &str) -> bool {
    name.starts_with(".ferrent") || (name.starts_with('.') && name.contains(RESUME_SUFFIX))
}

/// The resume file of the torrent with wire id `info_hash` kept in `dir` (normally the download
/// directory, see the module doc): `<dir>/.<hex info-hash>.ferrent-resume`.
pub fn resume_path(dir: &Path, info_hash: Id20) -> PathBuf {
    dir.join(format!(".{}{RESUME_SUFFIX}", info_hash.to_hex()))
}

/// What was recorded of one file of the torrent (layout order, pad files included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumeFile {
    /// Its size when saved; `None` = it was missing, or it is a pad file.
    pub len: Option<u64>,
    /// Modification time, whole seconds since the Unix epoch (negative before it). With
    /// `mtime_nanos`, a floor representation: -0.5 s is `(-1, 500_000_000)`.
    pub mtime_secs: i64,
    /// Nanoseconds past `mtime_secs`, below 1,000,000,000.
    pub mtime_nanos: u32,
}

impl ResumeFile {
    /// A missing file, or a pad file.
    pub const ABSENT: ResumeFile = ResumeFile {
        len: None,
        mtime_secs: 0,
        mtime_nanos: 0,
    };

    /// The record of one [`FileState`]. A present file whose file system gave no mtime is
    /// recorded with mtime 0; [`ResumeData::matches`] never trusts such a file (it cannot tell
    /// whether it changed), so it is rechecked.
    pub fn from_state(state: &FileState) -> ResumeFile {
        match *state {
            FileState::Pad | FileState::Missing => ResumeFile::ABSENT,
            FileState::Present { len, mtime } => {
                let (mtime_secs, mtime_nanos) = mtime.and_then(mtime_parts).unwrap_or((0, 0));
                ResumeFile {
                    len: Some(len),
                    mtime_secs,
                    mtime_nanos,
                }
            }
        }
    }
}

/// `t` as (seconds since the epoch, floored; nanoseconds past them), or `None` when it does not
/// fit an `i64` of seconds.
pub(crate) fn mtime_parts(t: SystemTime) -> Option<(i64, u32)> {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => Some((i64::try_from(d.as_secs()).ok()?, d.subsec_nanos())),
        Err(e) => {
            let d: Duration = e.duration();
            let secs = i64::try_from(d.as_secs()).ok()?;
            match d.subsec_nanos() {
                0 => Some((secs.checked_neg()?, 0)),
                n => Some((secs.checked_neg()?.checked_sub(1)?, 1_000_000_000 - n)),
            }
        }
    }
}

/// The resume data of one torrent. Build it with [`ResumeData::new`] (see the module doc for the
/// order of a save), write it with [`ResumeData::encode`] + [`save_atomic`], read it with
/// [`load`] (or [`ResumeData::decode`]) and check it with [`ResumeData::matches`] before trusting
/// [`ResumeData::have`].
///
/// Invariant (checked by decode): `have.len() == num_pieces <= MAX_PIECES`, spare bits clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeData {
    /// The torrent's wire id (the v1 info-hash, or the truncated v2 one).
    pub info_hash: Id20,
    /// Pieces in the torrent.
    pub num_pieces: u32,
    /// Pieces verified and durable on disk when this was saved.
    pub have: Bitfield,
    /// Every file of the layout in order, pad files included.
    pub files: Vec<ResumeFile>,
    /// Unix seconds when it was saved (informative; not used to decide anything).
    pub saved_at: Option<i64>,
}

impl ResumeData {
    /// Resume data claiming the pieces in `have` (taken *before* the [`crate::Storage::sync`]
    /// that made them durable) with the file states from [`crate::Storage::stat_files`] (taken
    /// *after* it). `num_pieces` is `have.len()`; `saved_at` is left empty (see
    /// [`ResumeData::stamped_now`]).
    pub fn new(info_hash: Id20, have: Bitfield, files: &[FileState]) -> ResumeData {
        ResumeData {
            info_hash,
            num_pieces: have.len(),
            have,
            files: files.iter().map(ResumeFile::from_state).collect(),
            saved_at: None,
        }
    }

    /// The same with `saved_at` set from the system clock (informative only).
    pub fn stamped_now(mut self) -> ResumeData {
        self.saved_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok());
        self
    }
}
