//! Fuzz target for metainfo: `Metainfo::from_bytes` and `Metainfo::from_info_bytes` must never
//! panic on any input, and whatever they accept must be self-consistent: every file path is
//! relative and made of plain names, the piece ranges of the layout cover exactly the piece's
//! bytes inside the files' bounds, and the bare info dictionary parses to the same identity.
#![no_main]

use std::path::Component;

use ferrent_core::{Metainfo, PieceIndex};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Metainfo::from_bytes(data) {
        check(&m);
        let alone = Metainfo::from_info_bytes(m.info_bytes())
            .expect("info of a valid torrent parses alone");
        assert_eq!(alone.info_hash(), m.info_hash());
        assert_eq!(alone.files().len(), m.files().len());
        for (a, b) in alone.files().iter().zip(m.files()) {
            assert_eq!(
                (a.path(), a.length(), a.pieces_root()),
                (b.path(), b.length(), b.pieces_root())
            );
        }
    }
    if let Ok(m) = Metainfo::from_info_bytes(data) {
        check(&m);
    }
});

fn check(m: &Metainfo) {
    let layout = m.layout();
    assert_eq!(layout.files().len(), m.files().len());
    assert!(layout.num_pieces() > 0);
    for (i, f) in m.files().iter().enumerate() {
        let p = f.path();
        assert!(p.is_relative(), "{p:?}");
        assert!(
            p.components().all(|c| matches!(c, Component::Normal(_))),
            "{p:?}"
        );
        assert_eq!(layout.files()[i].length, f.length());
        let r = layout.pieces_of_file(i);
        assert!(r.end <= layout.num_pieces());
    }
    // Check the first and last few pieces (all of them can be 2^21).
    let n = layout.num_pieces();
    let pieces = (0..n.min(64)).chain(n.saturating_sub(64).max(64)..n);
    for i in pieces {
        let piece = layout.piece(i).expect("index below num_pieces");
        let mut sum = 0u64;
        for r in layout.file_ranges(piece) {
            let f = layout.files()[r.file];
            assert!(r.len > 0 && r.offset + u64::from(r.len) <= f.length);
            sum += u64::from(r.len);
        }
        assert_eq!(sum, u64::from(layout.piece_len(piece)));
    }
    assert_eq!(layout.file_ranges(PieceIndex::new_unchecked(n)).count(), 0);
}
