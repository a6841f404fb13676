//! Fuzz target for resume files: `ResumeData::decode` must never panic on any bytes; whatever it
//! accepts must be consistent (bitfield of `num_pieces` bits), re-encode to exactly the input (the
//! format is canonical and strict), and `matches` must not panic against file states derived
//! from the input.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use ferrent::FileState;
use ferrent::resume::ResumeData;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(resume) = ResumeData::decode(data) else {
        return;
    };
    assert_eq!(resume.have.len(), resume.num_pieces, "bitfield length");
    let again = resume.encode();
    assert_eq!(again, data, "accepted input is not canonical");
    // The states the file claims, as stat_files would report them (non-negative mtimes only).
    let states: Vec<FileState> = resume
        .files
        .iter()
        .map(|f| match f.len {
            None => FileState::Missing,
            Some(len) => FileState::Present {
                len,
                mtime: u64::try_from(f.mtime_secs)
                    .ok()
                    .and_then(|s| UNIX_EPOCH.checked_add(Duration::new(s, f.mtime_nanos))),
            },
        })
        .collect();
    let verdict = resume.matches(resume.info_hash, resume.num_pieces, &states);
    if resume.files.iter().all(|f| f.mtime_secs >= 0) {
        assert_eq!(verdict, Ok(()), "its own file states must match");
    }
    let _ = resume.mismatched_files(resume.info_hash, resume.num_pieces, &states);
});
