//! Serving blocks: one uploader task per peer that reads the peer's queued requests in batches
//! and hands the blocks to the peer's writer.
//!
//! A batch is read on the uploader task itself when its bytes are in the page cache
//! ([`Storage::read_cached`]: `preadv2(RWF_NOWAIT)`, tens of microseconds for 512 KiB), and
//! only on a cache miss on the blocking pool. The hand-off to a blocking thread and back cost
//! two thread wake-ups per batch; seeding 1 GiB on a busy 2-core machine, those waits were
//! ~0.7 ms of every ~1.5 ms batch while up to 400 requests waited behind them (see
//! `docs/block-path.md`). One `pread` per run of consecutive blocks of a piece: the blocks of a
//! run are slices of one buffer (`Bytes`), which the writer sends without copying them again
//! (see `Frames` in [`crate::peer`]).
//!
//! The uploader keeps the requests it has not started reading in its own queue, so a `cancel`
//! from the peer takes a request out while it still waits there (reported with
//! [`DriverEvent::UploadCancelled`]; the core then rejects it, BEP 6). A request already being
//! read is sent anyway, which BEP 3 allows. When we choke the peer, every request still waiting
//! is dropped the same way ([`UploadQueue::drop_pending`]): a plain peer discards its requests on
//! our `choke` (BEP 3) and a BEP 6 peer gets a `reject` for each.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use ferrent_proto::wire::{Block, BlockRequest};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::core::ConnId;
use super::driver::DriverEvent;
use crate::peer::PeerCommand;
use crate::storage::Storage;

/// Requests read at once (512 KiB of 16 KiB blocks).
pub const UPLOAD_BATCH: usize = 32;

// One batch must always be able to get its permits.
const _: () = assert!(UPLOAD_BATCH <= UPLOAD_READS && UPLOAD_BATCH <= UPLOAD_QUEUED_BLOCKS);

/// Block buffers being read on the blocking pool at once, over all peers (each permit is one
/// block of at most 16 KiB; a batch takes one permit per block). Reads from the page cache
/// happen on the uploader's task and need no permit (the peer's own bound covers them).
pub const UPLOAD_READS: usize = 64;

/// Blocks read for one peer but not yet written to its socket (2 MiB of 16 KiB blocks). The
/// uploader reads a batch only once it has room for it here, so a peer that reads slower than
/// we read the disk holds at most this much of our memory, and its command queue never fills
/// up with blocks (a full command queue closes the peer: see `Driver::send`).
pub const UPLOAD_QUEUED_BLOCKS: usize = 4 * UPLOAD_BATCH;

/// Room in an upload queue for `cancel`s beyond the requests the core lets a peer have in
/// flight. A cancel that finds the queue full is dropped (the block is sent anyway).
const CANCEL_ROOM: usize = 64;

/// What the driver tells a peer's uploader.
#[derive(Debug)]
enum UploadMsg {
    /// Serve this request (the core checked it).
    Request(BlockRequest),
    /// The peer cancelled this request: drop it if it has not been started.
    Cancel(BlockRequest),
    /// We choked the peer: drop every request not started yet.
    DropPending,
}

/// The sending half of one peer's upload queue.
pub(crate) struct UploadQueue(mpsc::Sender<UploadMsg>);

impl UploadQueue {
    /// Queues a request; `false` if the uploader is gone (then nothing will be sent).
    pub(crate) fn request(&self, req: BlockRequest) -> bool {
        self.0.try_send(UploadMsg::Request(req)).is_ok()
    }

    /// Passes on the peer's `cancel` (best effort: dropped if the queue is full).
    pub(crate) fn cancel(&self, req: BlockRequest) {
        let _ = self.0.try_send(UploadMsg::Cancel(req));
    }

    /// We choked the peer: its requests not started yet are dropped and reported cancelled
    /// (best effort: if the queue is full they are served instead).
    pub(crate) fn drop_pending(&self) {
        let _ = self.0.try_send(UploadMsg::DropPending);
    }
}

/// What an uploader needs; shared by the uploaders of one torrent.
#[derive(Clone)]
pub(crate) struct UploadContext {
    pub storage: Arc<Storage>,
    pub events: mpsc::Sender<DriverEvent>,
    pub read_slots: Arc<Semaphore>,
}

/// Starts the uploader of `conn` and returns its queue. `capacity` is the most requests the core
/// lets the peer have in flight, so queueing a request never finds the queue full. The
/// uploader holds the peer's command queue weakly: the driver dropping its sender still ends
/// the connection.
pub(crate) fn spawn_uploader(
    conn: ConnId,
    peer: mpsc::WeakSender<PeerCommand>,
    ctx: UploadContext,
    capacity: usize,
) -> UploadQueue {
    let (tx, rx) = mpsc::channel(capacity.max(1) + CANCEL_ROOM);
    let up = Uploader {
        conn,
        rx,
        peer,
        ctx,
        pending: VecDeque::new(),
        room: Arc::new(Semaphore::new(UPLOAD_QUEUED_BLOCKS)),
    };
    tokio::spawn(up.run());
    UploadQueue(tx)
}

/// One peer's uploader (see the module doc).
struct Uploader {
    conn: ConnId,
    rx: mpsc::Receiver<UploadMsg>,
    peer: mpsc::WeakSender<PeerCommand>,
    ctx: UploadContext,
    /// Requests not started yet, oldest first. At most the core's in-flight bound.
    pending: VecDeque<BlockRequest>,
    /// [`UPLOAD_QUEUED_BLOCKS`] permits; the writer frees one per block written.
    room: Arc<Semaphore>,
}

impl Uploader {
    /// Takes up to [`UPLOAD_BATCH`] waiting requests once the peer has room for them, reads
    /// them, reports the batch ([`DriverEvent::Uploaded`]) so the core counts it, then queues
    /// the blocks to the peer. Ends when the driver drops the queue (the peer is gone).
    async fn run(mut self) {
        loop {
            if self.pending.is_empty() {
                match self.rx.recv().await {
                    Some(m) => self.take(m).await,
                    None => return,
                }
            }
            if !self.drain().await {
                return;
            }
            let want = self.pending.len().min(UPLOAD_BATCH);
            if want == 0 {
                continue;
            }
            // Room in this peer's bound first (the writer frees it as blocks go out); keep
            // taking requests and cancels meanwhile.
            let room = loop {
                tokio::select! {
                    biased;
                    m = self.rx.recv() => match m {
                        Some(m) => self.take(m).await,
                        None => return,
                    },
                    r = self.room.clone().acquire_many_owned(want as u32) => match r {
                        Ok(r) => break r,
                        Err(_) => return,
                    },
                }
            };
            let n = self.pending.len().min(want);
            let batch: Vec<BlockRequest> = self.pending.drain(..n).collect();
            if !self.serve(batch, room).await {
                return;
            }
        }
    }

    /// Takes every message already queued; `false` once the driver dropped the queue.
    async fn drain(&mut self) -> bool {
        loop {
            match self.rx.try_recv() {
                Ok(m) => self.take(m).await,
                Err(mpsc::error::TryRecvError::Empty) => return true,
                Err(mpsc::error::TryRecvError::Disconnected) => return false,
            }
        }
    }

    async fn take(&mut self, m: UploadMsg) {
        match m {
            UploadMsg::Request(r) => self.pending.push_back(r),
            UploadMsg::Cancel(r) => {
                let Some(i) = self.pending.iter().position(|p| *p == r) else {
                    return; // already read (or never queued): it goes out as usual
                };
                self.pending.remove(i);
                self.report_cancelled(r).await;
            }
            UploadMsg::DropPending => {
                for r in std::mem::take(&mut self.pending) {
                    self.report_cancelled(r).await;
                }
            }
        }
    }

    /// Tells the core that `req` was dropped unsent, so it frees the slot (and rejects it).
    async fn report_cancelled(&self, req: BlockRequest) {
        let ev = DriverEvent::UploadCancelled {
            conn: self.conn,
            req,
        };
        let _ = self.ctx.events.send(ev).await;
    }

    /// Reads `batch` (holding `room`, one permit per request), reports it and queues its
    /// blocks to the peer. `false` once the driver is gone.
    async fn serve(&mut self, batch: Vec<BlockRequest>, room: OwnedSemaphorePermit) -> bool {
        let blocks = batch.len() as u32;
        let peer = self.peer.upgrade();
        let blocks_read = match &peer {
            Some(_) => self.read(batch).await,
            None => Vec::new(),
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
        let done = DriverEvent::Uploaded {
            conn: self.conn,
            blocks,
            sent,
        };
        if self.ctx.events.send(done).await.is_err() {
            return false;
        }
        let Some(peer) = peer else { return true };
        let mut room = room;
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
        true
    }

    /// Reads the batch: from the page cache on this task as far as it is cached, the rest on
    /// the blocking pool (holding read slots shared by all peers).
    async fn read(&self, batch: Vec<BlockRequest>) -> Vec<(BlockRequest, Option<Bytes>)> {
        let storage = &self.ctx.storage;
        let (mut out, done) = read_batch_with(&batch, |piece, begin, len| {
            read_run_cached(storage, piece, begin, len)
        });
        if done == batch.len() {
            return out;
        }
        let rest: Vec<BlockRequest> = batch.get(done..).unwrap_or_default().to_vec();
        let n = rest.len() as u32;
        let read = match self.ctx.read_slots.clone().acquire_many_owned(n).await {
            Ok(_reading) => {
                let storage = self.ctx.storage.clone();
                tokio::task::spawn_blocking(move || read_batch(&storage, &rest))
                    .await
                    .ok()
            }
            Err(_) => None,
        };
        out.extend(read.unwrap_or_default());
        out
    }
}

/// Reads `reqs` (in order), one read per run of consecutive blocks of one piece. A block whose
/// read fails is `None` (the core checked every request against the piece's bounds and our
/// pieces; a failure is a disk error, and the peer simply does not get that block). Blocking.
fn read_batch(storage: &Storage, reqs: &[BlockRequest]) -> Vec<(BlockRequest, Option<Bytes>)> {
    read_batch_with(reqs, |piece, begin, len| {
        Some(read_run(storage, piece, begin, len))
    })
    .0
}

/// [`read_batch`] with the read of one run given: `read_run(piece, begin, len)` answers
/// `Some(bytes or None on failure)`, or `None` to stop before this run (it would block).
/// Returns the blocks read and how many requests of `reqs` they cover (a prefix).
fn read_batch_with(
    reqs: &[BlockRequest],
    mut read_run: impl FnMut(u32, u32, u64) -> Option<Option<Bytes>>,
) -> (Vec<(BlockRequest, Option<Bytes>)>, usize) {
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
        let Some(data) = read_run(first.index, first.begin, run_len) else {
            return (out, i);
        };
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
    (out, i)
}

/// One positional read of `len` bytes of `piece` from `begin`. `len` is at most
/// [`UPLOAD_BATCH`] blocks. Blocking.
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

/// [`read_run`] from the page cache only: `None` when it would wait for the disk (see
/// [`Storage::read_cached`]). Never blocks on I/O.
fn read_run_cached(storage: &Storage, piece: u32, begin: u32, len: u64) -> Option<Option<Bytes>> {
    let index = storage.layout().piece(piece)?;
    let mut buf = vec![0u8; usize::try_from(len).ok()?];
    storage
        .read_cached(index, begin, &mut buf)
        .then(|| Some(Bytes::from(buf)))
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

    /// A storage of one 4-piece file of 64 KiB pieces whose bytes are `i as u8` at offset i.
    fn filled_storage(dir: &std::path::Path) -> (Arc<Storage>, Vec<u8>) {
        let plen = 4 * 16384u32;
        let layout = Layout::new(u64::from(plen), [(4 * u64::from(plen), false)]).unwrap();
        let storage = Storage::open(
            dir,
            layout,
            vec![PathBuf::from("f")],
            StorageOptions::default(),
        )
        .unwrap();
        let data: Vec<u8> = (0..4 * plen).map(|i| (i % 251) as u8).collect();
        for i in 0..4 {
            let p = storage.layout().piece(i).unwrap();
            let start = (i * plen) as usize;
            storage
                .write_piece(p, &data[start..start + plen as usize])
                .unwrap();
        }
        (Arc::new(storage), data)
    }

    /// An uploader (conn 7) of a filled storage under `dir` whose peer takes one block at a
    /// time (a writer that is slow to drain): the peer's command queue holds a single block.
    #[allow(clippy::type_complexity)]
    fn stuck_uploader(
        dir: &std::path::Path,
    ) -> (
        UploadQueue,
        mpsc::Sender<PeerCommand>,
        mpsc::Receiver<PeerCommand>,
        mpsc::Receiver<DriverEvent>,
        Vec<u8>,
    ) {
        let (storage, data) = filled_storage(dir);
        let (peer_tx, peer_rx) = mpsc::channel(1);
        let (ev_tx, ev_rx) = mpsc::channel(64);
        let ctx = UploadContext {
            storage,
            events: ev_tx,
            read_slots: Arc::new(Semaphore::new(UPLOAD_READS)),
        };
        let q = spawn_uploader(7, peer_tx.downgrade(), ctx, 500);
        (q, peer_tx, peer_rx, ev_rx, data)
    }

    /// Collects conn 7's events until `blocks` blocks were reported uploaded and `cancels`
    /// requests cancelled: (blocks uploaded, the cancelled requests in order).
    async fn uploader_reports(
        ev_rx: &mut mpsc::Receiver<DriverEvent>,
        blocks: u32,
        cancels: usize,
    ) -> (u32, Vec<BlockRequest>) {
        let (mut got, mut cancelled) = (0, Vec::new());
        while got < blocks || cancelled.len() < cancels {
            match ev_rx.recv().await.expect("an event") {
                DriverEvent::Uploaded {
                    conn: 7, blocks: n, ..
                } => got += n,
                DriverEvent::UploadCancelled { conn: 7, req } => cancelled.push(req),
                e => panic!("unexpected {e:?}"),
            }
        }
        (got, cancelled)
    }

    /// A `cancel` reaching the uploader while its request still waits there (the peer's
    /// writer is not taking blocks, so the uploader is stuck mid-batch) takes it out: it is
    /// reported as cancelled, never read or sent, and the other requests are all served.
    #[tokio::test]
    async fn cancel_removes_a_request_still_waiting_in_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let (q, peer_tx, mut peer_rx, mut ev_rx, data) = stuck_uploader(dir.path());
        let first: Vec<BlockRequest> = (0..16u32)
            .map(|i| req(i / 4, (i % 4) * 16384, 16384))
            .collect();
        for r in &first {
            assert!(q.request(*r));
        }
        // The first block arrives; the uploader now waits to hand over the next ones.
        let mut got = vec![peer_rx.recv().await.expect("a block")];
        let (cancelled, kept) = (req(3, 16384, 16384), req(3, 0, 100));
        assert!(q.request(cancelled));
        q.cancel(cancelled);
        assert!(q.request(kept));
        q.cancel(req(2, 0, 16384)); // already read: no effect
        while got.len() < 17 {
            got.push(peer_rx.recv().await.expect("a block"));
        }
        let served: Vec<BlockRequest> = got
            .iter()
            .map(|c| match c {
                PeerCommand::Block(b, _) => {
                    let start = (b.index * 4 * 16384 + b.begin) as usize;
                    assert_eq!(&b.data[..], &data[start..start + b.data.len()]);
                    req(b.index, b.begin, b.data.len() as u32)
                }
                PeerCommand::Send(m) => panic!("unexpected {m:?}"),
            })
            .collect();
        let mut want = first.clone();
        want.push(kept);
        assert_eq!(
            served, want,
            "every request but the cancelled one, in order"
        );
        assert_eq!(
            uploader_reports(&mut ev_rx, 17, 1).await,
            (17, vec![cancelled])
        );
        drop((q, peer_tx));
        assert!(peer_rx.recv().await.is_none(), "nothing else was sent");
    }

    /// Choking the peer (`drop_pending`) while the uploader is stuck mid-batch drops every
    /// request not started yet and reports each as cancelled; the batch already read still
    /// goes out.
    #[tokio::test]
    async fn drop_pending_reports_every_waiting_request() {
        let dir = tempfile::tempdir().unwrap();
        let (q, peer_tx, mut peer_rx, mut ev_rx, _data) = stuck_uploader(dir.path());
        for i in 0..16u32 {
            assert!(q.request(req(i / 4, (i % 4) * 16384, 16384)));
        }
        let mut sent = usize::from(peer_rx.recv().await.is_some());
        let waiting = [req(3, 0, 16384), req(3, 16384, 100), req(2, 0, 16384)];
        for r in waiting {
            assert!(q.request(r));
        }
        q.drop_pending();
        while sent < 16 {
            sent += usize::from(peer_rx.recv().await.is_some());
        }
        assert_eq!(
            uploader_reports(&mut ev_rx, 16, waiting.len()).await,
            (16, waiting.to_vec())
        );
        drop((q, peer_tx));
        assert!(peer_rx.recv().await.is_none(), "nothing else was sent");
    }
}
