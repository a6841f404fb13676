//! [`ResumeData::matches`]: is the saved bitfield still true of the files on disk?

use ferrent_core::{Bitfield, Id20, Layout};

use super::{ResumeData, ResumeFile};
use crate::FileState;

/// Why resume data is not trusted at start; the engine logs it and rechecks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Mismatch {
    /// The file belongs to another torrent.
    #[error("resume data is for info-hash {recorded}, not {current}")]
    InfoHash {
        /// In the file.
        recorded: Id20,
        /// Of the torrent.
        current: Id20,
    },
    /// The piece count differs.
    #[error("resume data has {recorded} pieces, the torrent {current}")]
    PieceCount {
        /// In the file.
        recorded: u32,
        /// Of the torrent.
        current: u32,
    },
    /// The file count differs.
    #[error("resume data lists {recorded} files, the torrent has {current}")]
    FileCount {
        /// In the file.
        recorded: usize,
        /// Of the torrent (pad files included).
        current: usize,
    },
    /// One file is not as it was saved.
    #[error("file {index} changed since the resume data was saved: {what}")]
    File {
        /// Index of the file in the layout (as `ferrent info` shows it).
        index: usize,
        /// How it differs.
        what: FileMismatch,
    },
}

/// How one file differs from its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileMismatch {
    /// It was saved missing and exists now.
    #[error("it appeared ({len} bytes)")]
    Appeared {
        /// Its size now.
        len: u64,
    },
    /// It existed when saved and is missing now.
    #[error("it is missing")]
    Disappeared,
    /// Its size changed.
    #[error("size {recorded} became {current}")]
    Length {
        /// Saved size.
        recorded: u64,
        /// Size now.
        current: u64,
    },
    /// Its modification time changed (same size).
    #[error("modification time changed")]
    Mtime,
    /// The file system gives no modification time, so a change cannot be ruled out.
    #[error("no modification time to compare")]
    NoMtime,
}

/// What to do with each piece at start when only some files differ: see [`ResumeData::plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumePlan {
    /// Pieces claimed by the resume data that lie only in files still as saved (and pad
    /// files): trust them without hashing.
    pub trusted: Bitfield,
    /// Pieces touching a file that differs: hash them ([`crate::Storage::recheck_pieces`]),
    /// claimed or not (a piece written after the last save may well be on disk).
    pub recheck: Bitfield,
    /// The files that differ, in layout order (for the log).
    pub changed: Vec<(usize, FileMismatch)>,
}

impl ResumeData {
    /// A finer verdict than [`ResumeData::matches`] for the common case after a crash, where only
    /// the files written since the last save changed: the pieces that lie entirely in unchanged
    /// files keep their saved state, the pieces touching the others are rechecked (with
    /// [`crate::Storage::recheck_pieces`]). `Err` when the torrent itself differs (info-hash,
    /// piece or file count of `layout`): recheck everything.
    ///
    /// Trusting a piece here rests on the same rule as [`ResumeData::matches`], per file: a file
    /// with the saved size and mtime holds the saved bytes.
    pub fn plan(
        &self,
        info_hash: Id20,
        layout: &Layout,
        current: &[FileState],
    ) -> Result<ResumePlan, Mismatch> {
        self.check_torrent(info_hash, layout.num_pieces(), current)?;
        if layout.files().len() != current.len() {
            return Err(Mismatch::FileCount {
                recorded: self.files.len(),
                current: layout.files().len(),
            });
        }
        let changed: Vec<(usize, FileMismatch)> = self.file_mismatches(current).collect();
        let mut dirty = vec![false; current.len()];
        for &(i, _) in &changed {
            if let Some(d) = dirty.get_mut(i) {
                *d = true;
            }
        }
        let mut trusted = Bitfield::new(layout.num_pieces());
        let mut recheck = Bitfield::new(layout.num_pieces());
        for piece in layout.pieces() {
            let touches_changed = layout
                .file_ranges(piece)
                .any(|r| !r.pad && dirty.get(r.file).copied().unwrap_or(true));
            let i = piece.get();
            if touches_changed {
                recheck.set(i, true);
            } else if self.have.get(i) {
                trusted.set(i, true);
            }
        }
        Ok(ResumePlan {
            trusted,
            recheck,
            changed,
        })
    }

    /// Whether this data may be trusted for the torrent with wire id `info_hash` and
    /// `num_pieces` pieces whose files are now as `current` says ([`crate::Storage::stat_files`]):
    /// same info-hash, piece count and file count, and every non-pad file with the saved size and
    /// modification time (to the nanosecond); a file saved as missing must still be missing.
    /// The first difference is returned; the engine then rechecks.
    pub fn matches(
        &self,
        info_hash: Id20,
        num_pieces: u32,
        current: &[FileState],
    ) -> Result<(), Mismatch> {
        self.check_torrent(info_hash, num_pieces, current)?;
        match self.file_mismatches(current).next() {
            Some((index, what)) => Err(Mismatch::File { index, what }),
            None => Ok(()),
        }
    }

    /// Every file that differs from its record, in layout order, for a log of what changed (or
    /// a recheck limited to their pieces). Empty when the torrent itself differs (info-hash,
    /// piece or file count): [`ResumeData::matches`] says so.
    pub fn mismatched_files(
        &self,
        info_hash: Id20,
        num_pieces: u32,
        current: &[FileState],
    ) -> Vec<(usize, FileMismatch)> {
        if self.check_torrent(info_hash, num_pieces, current).is_err() {
            return Vec::new();
        }
        self.file_mismatches(current).collect()
    }

    fn check_torrent(
        &self,
        info_hash: Id20,
        num_pieces: u32,
        current: &[FileState],
    ) -> Result<(), Mismatch> {
        if self.info_hash != info_hash {
            return Err(Mismatch::InfoHash {
                recorded: self.info_hash,
                current: info_hash,
            });
        }
        if self.num_pieces != num_pieces || self.have.len() != num_pieces {
            return Err(Mismatch::PieceCount {
                recorded: self.num_pieces,
                current: num_pieces,
            });
        }
        if self.files.len() != current.len() {
            return Err(Mismatch::FileCount {
                recorded: self.files.len(),
                current: current.len(),
            });
        }
        Ok(())
    }

    fn file_mismatches<'s>(
        &'s self,
        current: &'s [FileState],
    ) -> impl Iterator<Item = (usize, FileMismatch)> + 's {
        self.files
            .iter()
            .zip(current)
            .enumerate()
            .filter_map(|(i, (rec, cur))| file_mismatch(rec, cur).map(|m| (i, m)))
    }
}

fn file_mismatch(rec: &ResumeFile, cur: &FileState) -> Option<FileMismatch> {
    match (*cur, rec.len) {
        // A pad file is never on disk; the info-hash already pins the layout.
        (FileState::Pad, _) => None,
        (FileState::Missing, None) => None,
        (FileState::Missing, Some(_)) => Some(FileMismatch::Disappeared),
        (FileState::Present { len, .. }, None) => Some(FileMismatch::Appeared { len }),
        (FileState::Present { len, mtime }, Some(recorded)) => {
            if len != recorded {
                return Some(FileMismatch::Length {
                    recorded,
                    current: len,
                });
            }
            match mtime.and_then(super::mtime_parts) {
                None => Some(FileMismatch::NoMtime),
                Some(parts) if parts != (rec.mtime_secs, rec.mtime_nanos) => {
                    Some(FileMismatch::Mtime)
                }
                Some(_) => None,
            }
        }
    }
}
