//! Hash checks and writes of complete pieces, off the driver's task.
//!
//! Complete pieces wait in one queue. A few blocking workers (one per core) each take up to
//! [`MAX_HASH_LANES`] waiting pieces of one length at a time and hash them side by side
//! ([`Sha1Lanes`]: one SHA-1 chain leaves SHA-NI mostly idle, four keep it busy), then write
//! each piece that matched its BEP 3 hash and report every result back to the driver. Nothing
//! waits to fill a group: a piece that arrives alone is hashed alone, and groups form only when
//! pieces arrive faster than the workers hash them, which is when the saving counts. Unverified
//! bytes are never written.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};

use ferrent_core::{Id20, MAX_HASH_LANES, Metainfo, Sha1Lanes};
use tokio::sync::mpsc;

use super::core::PieceCheck;
use super::driver::DriverEvent;
use crate::storage::{PieceBuf, Storage};

/// What the workers share.
struct Shared {
    meta: Arc<Metainfo>,
    storage: Arc<Storage>,
    events: mpsc::Sender<DriverEvent>,
    /// Held around each piece write: buffered writes to one file queue on its inode lock,
    /// where waiters spin (ext4: 15 % of all CPU time of a 1 GiB download with 1 MiB pieces).
    /// A mutex parks them instead.
    write_lock: Mutex<()>,
    state: Mutex<Queue>,
    max_workers: usize,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<(u32, PieceBuf)>,
    workers: usize,
}

/// The queue of pieces to check; see the module doc. Each submitted piece is answered by one
/// [`DriverEvent::Checked`] on `events`, whose capacity must cover every piece that can be
/// waiting at once (the driver's `max_verifying`), so a worker never waits to report.
pub(super) struct Verifier {
    shared: Arc<Shared>,
}

impl Verifier {
    pub(super) fn new(
        meta: Arc<Metainfo>,
        storage: Arc<Storage>,
        events: mpsc::Sender<DriverEvent>,
        max_workers: usize,
    ) -> Self {
        Verifier {
            shared: Arc::new(Shared {
                meta,
                storage,
                events,
                write_lock: Mutex::new(()),
                state: Mutex::new(Queue::default()),
                max_workers: max_workers.max(1),
            }),
        }
    }

    /// Queues a complete piece; starts a worker if fewer than the maximum are running.
    pub(super) fn submit(&self, piece: u32, data: PieceBuf) {
        let mut q = lock(&self.shared.state);
        q.waiting.push_back((piece, data));
        if q.workers < self.shared.max_workers {
            q.workers += 1;
            let shared = self.shared.clone();
            tokio::task::spawn_blocking(move || shared.work());
        }
    }
}

impl Shared {
    /// A worker: checks groups until the queue is empty, then ends.
    fn work(&self) {
        while let Some(group) = self.next_group() {
            let pieces: Vec<u32> = group.iter().map(|(p, _)| *p).collect();
            match catch_unwind(AssertUnwindSafe(|| self.check(group))) {
                Ok(results) => {
                    for event in results {
                        self.report(event);
                    }
                }
                // A bug, not bad input; the pieces must still be answered or the download
                // would wait for them forever.
                Err(_) => {
                    for piece in pieces {
                        self.report(DriverEvent::Checked {
                            piece,
                            check: PieceCheck::WriteFailed,
                            error: Some("piece verification failed unexpectedly".into()),
                            buffer: PieceBuf::default(),
                        });
                    }
                }
            }
        }
    }

    /// Up to [`MAX_HASH_LANES`] waiting pieces of the first one's length; `None` (and one
    /// worker fewer) when nothing waits.
    fn next_group(&self) -> Option<Vec<(u32, PieceBuf)>> {
        let mut q = lock(&self.state);
        let Some(len) = q.waiting.front().map(|(_, d)| d.len()) else {
            q.workers = q.workers.saturating_sub(1);
            return None;
        };
        let mut group = Vec::with_capacity(MAX_HASH_LANES);
        while group.len() < MAX_HASH_LANES && q.waiting.front().is_some_and(|(_, d)| d.len() == len)
        {
            group.extend(q.waiting.pop_front());
        }
        Some(group)
    }

    /// Hashes the group side by side, writes the pieces that match, and says how each went.
    fn check(&self, group: Vec<(u32, PieceBuf)>) -> Vec<DriverEvent> {
        tracing::trace!(pieces = group.len(), "hashing side by side");
        let mut lanes = Sha1Lanes::new(group.len());
        let parts: Vec<&[u8]> = group.iter().map(|(_, d)| &d[..]).collect();
        lanes.update(&parts);
        group
            .into_iter()
            .zip(lanes.finalize())
            .map(|((piece, data), digest)| {
                let expected = self
                    .meta
                    .layout()
                    .piece(piece)
                    .and_then(|i| self.meta.piece_hash_v1(i).map(|h| (i, h)));
                let (check, error) = match expected {
                    Some((index, hash)) if hash == Id20(digest) => {
                        let _serial = lock(&self.write_lock);
                        match self.storage.write_piece(index, &data) {
                            Ok(()) => (PieceCheck::Verified, None),
                            Err(e) => (PieceCheck::WriteFailed, Some(e.to_string())),
                        }
                    }
                    _ => (PieceCheck::HashMismatch, None),
                };
                DriverEvent::Checked {
                    piece,
                    check,
                    error,
                    buffer: data,
                }
            })
            .collect()
    }

    fn report(&self, event: DriverEvent) {
        // Capacity covers every piece in flight; an error means the driver is gone.
        let _ = self.events.blocking_send(event);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageOptions;
    use ferrent_core::{CreateOptions, create_torrent};

    const PIECE: u64 = 16 * 1024;

    /// A torrent of 9.5 pieces (a short last one) and a storage for it in `out`.
    fn setup(
        src: &std::path::Path,
        out: &std::path::Path,
    ) -> (Arc<Metainfo>, Arc<Storage>, Vec<u8>) {
        let data: Vec<u8> = (0..(9 * PIECE + PIECE / 2) as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        let file = src.join("v.bin");
        std::fs::write(&file, &data).unwrap();
        let options = CreateOptions {
            piece_length: Some(PIECE),
            ..CreateOptions::default()
        };
        let created = create_torrent(&file, &options).unwrap();
        let meta = Metainfo::from_bytes(&created.bytes).unwrap();
        let files = meta.files().iter().map(|f| f.path()).collect();
        let storage =
            Storage::open(out, meta.layout().clone(), files, StorageOptions::default()).unwrap();
        storage.prepare().unwrap();
        (Arc::new(meta), Arc::new(storage), data)
    }

    /// Every submitted piece gets exactly one answer: good pieces are written, corrupt ones are
    /// reported as mismatches and never reach the disk, whatever groups the workers formed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checks_every_piece_and_writes_only_good_ones() {
        let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (meta, storage, data) = setup(src.path(), out.path());
        let corrupt = [1u32, 4, 9];
        let (tx, mut rx) = mpsc::channel(16);
        // One worker: pieces submitted while it hashes wait and are taken as groups.
        let verifier = Verifier::new(meta.clone(), storage.clone(), tx, 1);
        for piece in 0..10u32 {
            let start = (u64::from(piece) * PIECE) as usize;
            let end = (start + PIECE as usize).min(data.len());
            let mut buf = PieceBuf::copy_of(&data[start..end]);
            if corrupt.contains(&piece) {
                buf[7] ^= 1;
            }
            verifier.submit(piece, buf);
        }
        let mut seen = Vec::new();
        for _ in 0..10 {
            let Some(DriverEvent::Checked {
                piece,
                check,
                error,
                ..
            }) = rx.recv().await
            else {
                panic!("verifier stopped answering");
            };
            let want = if corrupt.contains(&piece) {
                PieceCheck::HashMismatch
            } else {
                PieceCheck::Verified
            };
            assert_eq!(check, want, "piece {piece}");
            assert!(error.is_none());
            seen.push(piece);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        storage.sync().unwrap();
        let written = std::fs::read(out.path().join("v.bin")).unwrap();
        for piece in 0..10usize {
            let start = piece * PIECE as usize;
            let end = (start + PIECE as usize).min(data.len());
            if corrupt.contains(&(piece as u32)) {
                // Not written: past the end of the file, or a hole of zeros.
                let bytes = written.get(start..end).unwrap_or_default();
                assert!(bytes.iter().all(|&b| b == 0), "piece {piece} written");
            } else {
                assert_eq!(written[start..end], data[start..end], "piece {piece}");
            }
        }
    }
}
