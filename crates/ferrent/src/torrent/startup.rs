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
use std::sync::atomic::{AtomicBool, AtomicU64};

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
    let cancel = AtomicBool::new(false);
    let bits = storage.recheck(&v1_hashes(meta), 0, &stats.checked_pieces, &cancel)?;
    debug_assert_eq!(bits.len(), num_pieces);
    Ok((bits.ones().collect(), StartupCheck::FullRecheck(reason)))
}

/// The v1 hash of every piece, in order, for [`Storage::recheck`].
fn v1_hashes(meta: &Metainfo) -> Vec<[u8; 20]> {
    meta.layout()
        .pieces()
        .map(|p| meta.piece_hash_v1(p).map_or([0; 20], |h| h.0))
        .collect()
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
    // When most pieces touch changed files the resume data says little: recheck everything.
    if to_check.len() as u64 * 2 > u64::from(layout.num_pieces()) {
        return Ok(Err(format!(
            "{} of {} pieces touch changed files",
            to_check.len(),
            layout.num_pieces()
        )));
    }
    // Hashed on all cores, four pieces side by side, like a full recheck.
    let (progress, cancel) = (AtomicU64::new(0), AtomicBool::new(false));
    let good = storage.recheck_pieces(&v1_hashes(meta), &to_check, 0, &progress, &cancel)?;
    let rechecked = u32::try_from(to_check.len()).unwrap_or(u32::MAX);
    let mut have: Vec<u32> = plan.trusted.ones().chain(good.ones()).collect();
    have.sort_unstable();
    have.dedup();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageOptions;
    use ferrent_core::{CreateOptions, create_torrent};

    /// Resume data that still matches two of three files: their pieces are trusted, the pieces
    /// touching the changed file are hashed (side by side, on all cores) and only the one with
    /// a flipped byte is missing from the result.
    #[test]
    fn resume_rechecks_only_pieces_of_a_changed_file() {
        let root = tempfile::tempdir().unwrap();
        let t = root.path().join("t");
        std::fs::create_dir(&t).unwrap();
        for (name, len) in [("a", 40_000u32), ("b", 30_000), ("c", 50_000)] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            std::fs::write(t.join(name), bytes).unwrap();
        }
        let options = CreateOptions {
            piece_length: Some(16 * 1024),
            ..CreateOptions::default()
        };
        let meta = Metainfo::from_bytes(&create_torrent(&t, &options).unwrap().bytes).unwrap();
        let files = meta.files().iter().map(|f| f.path()).collect();
        let storage = Storage::open(
            root.path(),
            meta.layout().clone(),
            files,
            StorageOptions::default(),
        )
        .unwrap();
        let n = meta.layout().num_pieces();
        let mut all = ferrent_core::Bitfield::new(n);
        for i in 0..n {
            all.set(i, true);
        }
        let resume_file = root.path().join("resume");
        save_resume(&storage, meta.info_hash().wire_id(), all, &resume_file).unwrap();

        // Change one byte of "b" (file 1) and its mtime.
        let b = t.join("b");
        let mut bytes = std::fs::read(&b).unwrap();
        bytes[20_000] ^= 1;
        std::fs::write(&b, &bytes).unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        std::fs::File::options()
            .write(true)
            .open(&b)
            .unwrap()
            .set_modified(old)
            .unwrap();

        let stats = TorrentStats::default();
        let (have, check) = initial_check(&meta, &storage, &stats, &resume_file).unwrap();
        let b_pieces = meta.layout().pieces_of_file(1);
        let broken = (40_000 + 20_000) / (16 * 1024);
        assert_eq!(
            check,
            StartupCheck::Resumed {
                trusted: n - b_pieces.len() as u32,
                rechecked: b_pieces.len() as u32,
            }
        );
        let want: Vec<u32> = (0..n).filter(|&i| i != broken).collect();
        assert_eq!(have, want);
    }
}
