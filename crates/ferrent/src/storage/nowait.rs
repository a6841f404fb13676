//! Reads that never wait for the disk: [`Storage::read_cached`] serves a block to a peer
//! straight from the page cache on the async task that asks, and tells it when the bytes are
//! not there, so only a cache miss pays for a hand-off to a blocking thread.

use std::io::IoSliceMut;

use ferrent_core::PieceIndex;
use rustix::io::ReadWriteFlags;

use super::Storage;

impl Storage {
    /// Fills `buf` with `buf.len()` bytes of `piece` from `offset` (as [`Storage::read`] does)
    /// only if every byte is in the page cache and every file it spans is open already:
    /// `preadv2(RWF_NOWAIT)` (Linux 4.14), which fails with `EAGAIN` instead of waiting for the
    /// disk. Returns `false` when it could not (nothing cached, a short read, a file not open,
    /// a kernel or file system without `RWF_NOWAIT`, or any error): the caller then reads with
    /// [`Storage::read`] on a blocking thread, which reports real errors. `buf` holds
    /// unspecified bytes after `false`. Never blocks on I/O.
    pub fn read_cached(&self, piece: PieceIndex, offset: u32, buf: &mut [u8]) -> bool {
        let Ok(piece_len) = self.check_piece(piece) else {
            return false;
        };
        let start = u64::from(offset);
        let end = start + buf.len() as u64;
        if end > u64::from(piece_len) {
            return false;
        }
        let whole = self.for_each_span_part(piece, start, buf, |file, at, part| {
            let Some(handle) = self.handles.cached(file) else {
                return Err(());
            };
            let want = part.len();
            match rustix::io::preadv2(
                &*handle,
                &mut [IoSliceMut::new(part)],
                at,
                ReadWriteFlags::NOWAIT,
            ) {
                Ok(got) if got == want => Ok(()),
                // Short (partly cached, or the file shrank), EAGAIN (not cached), EOPNOTSUPP
                // (no RWF_NOWAIT here), or an error the blocking read will report.
                Ok(_) | Err(_) => Err(()),
            }
        });
        whole == Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use ferrent_core::Layout;

    use super::*;
    use crate::storage::StorageOptions;

    /// From the page cache, across a file boundary and a pad file, the bytes are those
    /// [`Storage::read`] gives; a file not open yet, or a range past the piece, is a `false`
    /// (the caller's blocking read then opens it or reports the error).
    #[test]
    fn cached_reads_match_blocking_reads() {
        let dir = tempfile::tempdir().unwrap();
        // Pieces of 8 bytes: a (5 bytes), a pad file (3 bytes), b (10 bytes).
        let layout = Layout::new(8, [(5, false), (3, true), (10, false)]).unwrap();
        let paths = ["a", ".pad/3", "b"].map(PathBuf::from).to_vec();
        let storage = Storage::open(dir.path(), layout, paths, StorageOptions::default()).unwrap();
        let data: Vec<u8> = (1..=18u8)
            .map(|i| if (6..=8).contains(&i) { 0 } else { i })
            .collect();
        for i in 0..3 {
            let p = storage.layout().piece(i).unwrap();
            let start = storage.layout().piece_offset(p) as usize;
            let len = storage.layout().piece_len(p) as usize;
            storage.write_piece(p, &data[start..start + len]).unwrap();
        }
        for (piece, offset, len) in [(0u32, 0u32, 8usize), (0, 3, 5), (1, 1, 7), (2, 0, 2)] {
            let p = storage.layout().piece(piece).unwrap();
            let mut want = vec![0xEE; len];
            storage.read(p, offset, &mut want).unwrap();
            let mut got = vec![0xEE; len];
            assert!(storage.read_cached(p, offset, &mut got), "{piece}+{offset}");
            assert_eq!(got, want, "{piece}+{offset}");
        }
        let p2 = storage.layout().piece(2).unwrap();
        assert!(!storage.read_cached(p2, 1, &mut [0u8; 2]), "past the piece");
        storage.close_files();
        let p0 = storage.layout().piece(0).unwrap();
        assert!(!storage.read_cached(p0, 0, &mut [0u8; 4]), "file not open");
        let mut buf = [0u8; 4];
        storage.read(p0, 0, &mut buf).unwrap();
        assert!(
            storage.read_cached(p0, 0, &mut buf),
            "open again after a blocking read"
        );
    }
}
