//! Serving blocks: one uploader task per peer that reads the peer's queued requests in batches
//! on the blocking pool and hands the blocks to the peer's writer.
//!
//! One blocking task per batch (not per block), and one `pread` per run of consecutive blocks of
//! a piece: the blocks of a run are slices of one buffer (`Bytes`), which the writer sends
//! without copying them again (see `Frames` in [`crate::peer`]).

use std::sync::Arc;

use bytes::Bytes;
use ferrent_proto::wire::{Block, BlockRequest};
use tokio::sync::{Semaphore, mpsc};

use super::core::ConnId;
use super::driver::DriverEvent;
use crate::peer::PeerCommand;
use crate::storage::Storage;

/// Requests read in one blocking task (512 KiB of 16 KiB blocks).
pub const UPLOAD_BATCH: usize = 32;

// One batch must always be able to get its permits.
const _: () = assert!(UPLOAD_BATCH <= UPLOAD_READS && UPLOAD_BATCH <= UPLOAD_QUEUED_BLOCKS);

/// Block buffers being read for uploads at once, over all peers (each permit is one block of at
/// most 16 KiB; a batch takes one permit per block).
pub const UPLOAD_READS: usize = 64;

/// Blocks read for one peer but not yet written to its socket (2 MiB of 16 KiB blocks). The
/// uploader reads a batch only once it has room for it here, so a peer that reads slower than
/// we read the disk holds at most this much of our memory, and its command queue never fills
/// up with blocks (a full command queue closes the peer: see `Driver::send`).
pub const UPLOAD_QUEUED_BLOCKS: usize = 4 * UPLOAD_BATCH;

/// The sending half of one peer's upload queue.
pub(crate) type UploadQueue = mpsc::Sender<BlockRequest>;

/// What an uploader needs; shared by the uploaders of one torrent.
#[derive(Clone)]
pub(crate) struct UploadContext {
    pub storage: Arc<Storage>,
    pub events: mpsc::Sender<DriverEvent>,
    pub read_slots: Arc<Semaphore>,
}

/// Starts the uploader of `conn` and returns its queue. `capacity` is the most requests the core
/// lets the peer have in flight, so a `try_send` into the queue never finds it full. The
/// uploader holds the peer's command queue weakly: the driver dropping its sender still ends
/// the connection.
pub(crate) fn spawn_uploader(
    conn: ConnId,
    peer: mpsc::WeakSender<PeerCommand>,
    ctx: UploadContext,
    capacity: usize,
) -> UploadQueue {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    tokio::spawn(upload_loop(conn, rx, peer, ctx));
    tx
}

/// Takes up to [`UPLOAD_BATCH`] queued requests, reads them in one blocking task, reports the
/// batch ([`DriverEvent::Uploaded`]) so the core counts it, then queues the blocks to the peer.
/// Ends when the driver drops the queue (the peer is gone).
async fn upload_loop(
    conn: ConnId,
    mut rx: mpsc::Receiver<BlockRequest>,
    peer: mpsc::WeakSender<PeerCommand>,
    ctx: UploadContext,
) {
    let mut batch = Vec::with_capacity(UPLOAD_BATCH);
    let queued = Arc::new(Semaphore::new(UPLOAD_QUEUED_BLOCKS));
    while let Some(first) = rx.recv().await {
        batch.clear();
        batch.push(first);
        while batch.len() < UPLOAD_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let blocks = batch.len() as u32;
        // Room in this peer's bound first (the writer frees it as blocks go out), then one of
        // the read slots shared by all peers. UPLOAD_BATCH <= both bounds, so a batch always
        // gets its permits.
        let Ok(mut room) = queued.clone().acquire_many_owned(blocks).await else {
            return;
        };
        let read = match ctx.read_slots.clone().acquire_many_owned(blocks).await {
            Ok(_reading) => {
                let storage = ctx.storage.clone();
                let reqs = std::mem::take(&mut batch);
                tokio::task::spawn_blocking(move || {
                    let blocks = read_batch(&storage, &reqs);
                    (reqs, blocks)
                })
                .await
                .ok()
            }
            Err(_) => None,
        };
        let (blocks_read, peer) = match (read, peer.upgrade()) {
            (Some((reqs, blocks_read)), Some(peer)) => {
                batch = reqs;
                (blocks_read, Some(peer))
            }
            _ => (Vec::new(), None),
        };
        // Report the batch *before* the blocks reach the writer: once the peer has a block it
        // may send its next request, and the core must count this batch as answered by then,
        // or a peer keeping exactly OUR_REQQ requests out (libtorrent does) seems to exceed it
        // and is closed for it. Both events go through the same FIFO queue.
        let sent: u64 = blocks_read
            .iter()
            .filter(|(_, data)| data.is_some())
            .map(|(req, _)| u64::from(req.length))
            .sum();
        let sent = if peer.is_some() { sent } else { 0 };
        let done = DriverEvent::Uploaded { conn, blocks, sent };
        if ctx.events.send(done).await.is_err() {
            return;
        }
        let Some(peer) = peer else { continue };
        for (req, data) in blocks_read {
            let (Some(data), Some(permit)) = (data, room.split(1)) else {
                continue;
            };
            let block = Block {
                index: req.index,
                begin: req.begin,
                data,
            };
            if peer.send(PeerCommand::Block(block, permit)).await.is_err() {
                break;
            }
        }
    }
}

/// Reads `reqs` (in order), one read per run of consecutive blocks of one piece. A block whose
/// read fails is `None` (the core checked every request against the piece's bounds and our
/// pieces; a failure is a disk error, and the peer simply does not get that block).
fn read_batch(storage: &Storage, reqs: &[BlockRequest]) -> Vec<(BlockRequest, Option<Bytes>)> {
    let mut out = Vec::with_capacity(reqs.len());
    let mut i = 0;
    while let Some(first) = reqs.get(i) {
        // The run: following requests that continue where the previous one ended.
        let mut end = i + 1;
        let mut run_len = u64::from(first.length);
        while let Some(r) = reqs.get(end) {
            let prev_end = reqs
                .get(end - 1)
                .map(|p| u64::from(p.begin) + u64::from(p.length));
            if r.index != first.index || Some(u64::from(r.begin)) != prev_end {
                break;
            }
            run_len += u64::from(r.length);
            end += 1;
        }
        let run = reqs.get(i..end).unwrap_or_default();
        let data = read_run(storage, first.index, first.begin, run_len);
        let mut off = 0usize;
        for r in run {
            let len = r.length as usize;
            let block = data
                .as_ref()
                .and_then(|d| (off + len <= d.len()).then(|| d.slice(off..off + len)));
            off += len;
            out.push((*r, block));
        }
        i = end;
    }
    out
}

/// One positional read of `len` bytes of `piece` from `begin`. `len` is at most
/// [`UPLOAD_BATCH`] blocks.
fn read_run(storage: &Storage, piece: u32, begin: u32, len: u64) -> Option<Bytes> {
    let index = storage.layout().piece(piece)?;
    let mut buf = vec![0u8; usize::try_from(len).ok()?];
    match storage.read(index, begin, &mut buf) {
        Ok(()) => Some(Bytes::from(buf)),
        Err(e) => {
            tracing::warn!(piece, begin, len, "reading a block to upload failed: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use ferrent_core::Layout;

    use super::*;
    use crate::storage::StorageOptions;

    fn req(index: u32, begin: u32, length: u32) -> BlockRequest {
        BlockRequest {
            index,
            begin,
            length,
        }
    }

    /// Runs of consecutive blocks (across a file boundary and a pad file) are read at once and
    /// split into the right blocks; out-of-order and repeated requests are served too; a
    /// request past the piece's end gets nothing.
    #[test]
    fn read_batch_serves_runs_and_single_blocks() {
        let dir = tempfile::tempdir().unwrap();
        // Pieces of 8 bytes: a (5 bytes), a pad file (3 bytes), b (10 bytes).
        let layout = Layout::new(8, [(5, false), (3, true), (10, false)]).unwrap();
        let paths = vec![
            PathBuf::from("a"),
            PathBuf::from(".pad/3"),
            PathBuf::from("b"),
        ];
        let storage = Storage::open(dir.path(), layout, paths, StorageOptions::default()).unwrap();
        let data: Vec<u8> = (1..=18u8)
            .map(|i| if (6..=8).contains(&i) { 0 } else { i })
            .collect();
        for i in 0..storage.layout().num_pieces() {
            let p = storage.layout().piece(i).unwrap();
            let start = storage.layout().piece_offset(p) as usize;
            let len = storage.layout().piece_len(p) as usize;
            storage.write_piece(p, &data[start..start + len]).unwrap();
        }
        let reqs = [
            req(0, 0, 4),
            req(0, 4, 4), // continues the run: file a, then the pad
            req(1, 2, 3),
            req(1, 0, 2), // not a continuation (earlier offset)
            req(1, 0, 2), // repeated
            req(2, 0, 2), // the short last piece
            req(2, 1, 2), // past its end
        ];
        let got = read_batch(&storage, &reqs);
        let want: Vec<Option<&[u8]>> = vec![
            Some(&data[0..4]),
            Some(&data[4..8]),
            Some(&data[10..13]),
            Some(&data[8..10]),
            Some(&data[8..10]),
            Some(&data[16..18]),
            None,
        ];
        assert_eq!(got.len(), reqs.len());
        for ((r, block), (want_r, w)) in got.iter().zip(reqs.iter().zip(want)) {
            assert_eq!(r, want_r);
            assert_eq!(block.as_deref(), w, "{r:?}");
        }
    }
}
