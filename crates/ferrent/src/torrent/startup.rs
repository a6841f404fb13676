//! What a torrent finds on disk at start: the pieces it may trust without downloading them.
//!
//! 1. No file present: nothing (a fresh download; nothing is hashed).
//! 2. A resume file (see [`crate::resume`]) for this torrent: the pieces it claims in files whose
//!    size and modification time are unchanged are trusted; pieces touching a changed file (for
//!    example one written after the last save, before a `kill -9`) are hashed one by one.
//! 3. No usable resume file, or most pieces to recheck anyway: every piece is hashed, on all
//!    cores ([`Storage::recheck`]).
//!
//! Blocking: call it from `spawn_blocking`.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use ferrent_core::Metainfo;

use super::stats::TorrentStats;
use crate::resume::{self, ResumeData};
use crate::storage::{FileState, Storage, StorageError};

/// How the start-up check went, for the log and the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupCheck {
    /// No data on disk.
    Fresh,
    /// Resume data trusted for `trusted` pieces, `rechecked` hashed.
    Resumed {
        /// Pieces taken from the resume file without hashing.
        trusted: u32,
        /// Pieces hashed because a file they touch changed.
        rechecked: u32,
    },
    /// Every piece hashed (no resume file, or it did not fit: the reason).
    FullRecheck(String),
}

/// The verified pieces on disk, and how they were found.
pub fn initial_check(
    meta: &Metainfo,
    storage: &Storage,
    stats: &TorrentStats,
    resume_file: &Path,
) -> Result<(Vec<u32>, StartupCheck), StorageError> {
    storage.prepare()?;
    let states = storage.stat_files()?;
    let present = states
        .iter()
        .any(|f| matches!(f, FileState::Present { len, .. } if *len > 0));
    if !present {
        return Ok((Vec::new(), StartupCheck::Fresh));
    }
    let num_pieces = meta.layout().num_pieces();
    let reason = match resume::load(resume_file) {
        Ok(Some(data)) => match resumed(meta, storage, &data, &states)? {
            Ok(found) => return Ok(found),
            Err(reason) => reason,
        },
        Ok(None) => "no resume file".to_string(),
        Err(e) => {
            tracing::warn!(file = %resume_file.display(), "ignoring resume file: {e}");
            format!("resume file unusable: {e}")
        }
    };
    let hashes: Vec<[u8; 20]> = meta
        .layout()
        .pieces()
        .map(|p| meta.piece_hash_v1(p).map_or([0; 20], |h| h.0))
        .collect();
    let cancel = AtomicBool::new(false);
    let bits = storage.recheck(&hashes, 0, &stats.checked_pieces, &cancel)?;
    debug_assert_eq!(bits.len(), num_pieces);
    Ok((bits.ones().collect(), StartupCheck::FullRecheck(reason)))
}

/// Pieces from resume data, or why it cannot be used.
#[allow(clippy::type_complexity)]
fn resumed(
    meta: &Metainfo,
    storage: &Storage,
    data: &ResumeData,
    states: &[FileState],
) -> Result<Result<(Vec<u32>, StartupCheck), String>, StorageError> {
    let id = meta.info_hash().wire_id();
    let layout = meta.layout();
    let plan = match data.plan(id, layout, states) {
        Ok(p) => p,
        Err(m) => return Ok(Err(format!("resume file does not match: {m}"))),
    };
    let to_check: Vec<u32> = plan.recheck.ones().collect();
    // Hashing most of the torrent one piece at a time would be slower than the parallel recheck.
    if to_check.len() as u64 * 2 > u64::from(layout.num_pieces()) {
        return Ok(Err(format!(
            "{} of {} pieces touch changed files",
            to_check.len(),
            layout.num_pieces()
        )));
    }
    let mut have: Vec<u32> = plan.trusted.ones().collect();
    let mut rechecked = 0;
    for i in to_check {
        let Some(piece) = layout.piece(i) else {
            continue;
        };
        rechecked += 1;
        match storage.hash_piece_v1(piece) {
            Ok(h) if meta.piece_hash_v1(piece).is_some_and(|e| e.0 == h) => have.push(i),
            Ok(_) => {}
            Err(e) if e.is_missing_data() => {}
            Err(e) => return Err(e),
        }
    }
    have.sort_unstable();
    let trusted = plan.trusted.count_ones();
    Ok(Ok((have, StartupCheck::Resumed { trusted, rechecked })))
}

/// Saves resume data the crash-safe way (issue 4): `have` must be the pieces whose writes had
/// returned before this call; the data files are made durable first, then the resume file is
/// replaced atomically. Blocking.
pub fn save_resume(
    storage: &Storage,
    id: ferrent_core::Id20,
    have: ferrent_core::Bitfield,
    resume_file: &Path,
) -> Result<(), String> {
    storage.sync().map_err(|e| e.to_string())?;
    let states = storage.stat_files().map_err(|e| e.to_string())?;
    let data = ResumeData::new(id, have, &states).stamped_now();
    resume::save_atomic(resume_file, &data.encode()).map_err(|e| e.to_string())
}
