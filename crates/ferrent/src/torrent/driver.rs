//! The task that drives one [`TorrentCore`]: it owns the connections, the storage and the timer,
//! executes the core's actions, and keeps the shared statistics up to date.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ferrent_core::{Id20, Metainfo};
use ferrent_proto::wire::{Handshake, Message};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::announcer::AnnouncerEvent;
use super::core::{Action, ConnId, PieceCheck, TorrentCore};
use super::stats::{TorrentState, TorrentStats};
use super::upload::{UPLOAD_READS, UploadContext, UploadQueue, spawn_uploader};
use super::verify::Verifier;
use crate::peer::{self, OutgoingPeer, PeerCommand, PeerEvent};
use crate::storage::{PieceBuf, Storage};

/// Events queued for a torrent's driver before senders wait: enough for a burst of blocks from
/// every connected peer.
pub const EVENT_QUEUE: usize = 2048;

/// Most peer addresses remembered per torrent (from trackers, the command line, PEX, later DHT).
pub const MAX_KNOWN_PEERS: usize = 2000;

/// Hash failures a peer may contribute to before it is banned (smart ban, as libtorrent and
/// Transmission do). A peer that alone sent every block of a failed piece is banned at once.
pub const BAN_STRIKES: u32 = 3;

/// Most addresses banned per torrent (a bound on the ban list; further liars are still
/// disconnected on each failure).
pub const MAX_BANNED: usize = 1024;

/// New connection attempts started per tick (one tick a second).
pub const CONNECTS_PER_TICK: usize = 10;

/// Bytes of complete pieces allowed to wait for their hash check and write. Beyond it the driver
/// stops taking peer messages (their readers then stop reading sockets) until the disk catches
/// up; without it, pieces pile up in memory whenever writes are slower than the network (a
/// 1 GiB download from a libtorrent seeder on loopback reached 140-400 MB of RSS on a busy
/// machine). 4 MiB (with reused piece buffers, [`TorrentCore::recycle_buffer`]) keeps that
/// download's peak RSS near 26 MiB; 8 MiB gave 30 MiB, at the same speed.
pub const MAX_VERIFY_BYTES: u64 = 4 * 1024 * 1024;

/// Everything that wakes the driver.
#[derive(Debug)]
pub enum DriverEvent {
    /// From a connection.
    Peer(PeerEvent),
    /// From the announcer.
    Announcer(AnnouncerEvent),
    /// A [`Action::Verify`] finished.
    Checked {
        /// The piece.
        piece: u32,
        /// The outcome.
        check: PieceCheck,
        /// The write error, if the write failed.
        error: Option<String>,
        /// The piece's buffer, for reuse ([`TorrentCore::recycle_buffer`]).
        buffer: PieceBuf,
    },
    /// More peers to try (e.g. from the command line).
    AddPeers(Vec<SocketAddr>),
    /// An incoming connection whose handshake named this torrent; ours was already sent.
    Incoming {
        /// The peer's address.
        addr: SocketAddr,
        /// The connection.
        stream: tokio::net::TcpStream,
        /// The peer's handshake.
        theirs: Handshake,
        /// Bytes that followed its handshake.
        leftover: bytes::BytesMut,
    },
    /// A resume save finished (`Err`: the sync or the write failed).
    Saved {
        /// The scheduler's ticket.
        ticket: crate::resume::SaveTicket,
        /// The outcome.
        result: Result<(), String>,
    },
    /// A batch of `blocks` [`Action::Upload`]s finished with `sent` bytes queued to the peer.
    Uploaded {
        /// The connection.
        conn: ConnId,
        /// Requests handled.
        blocks: u32,
        /// Bytes sent (less when a read failed or the peer was gone).
        sent: u64,
    },
    /// An [`Action::CancelUpload`] took the request out of the upload queue before it was read.
    UploadCancelled {
        /// The connection.
        conn: ConnId,
        /// The request.
        req: ferrent_proto::wire::BlockRequest,
    },
}

impl From<PeerEvent> for DriverEvent {
    fn from(e: PeerEvent) -> Self {
        DriverEvent::Peer(e)
    }
}

#[derive(Debug, Default)]
struct KnownPeer {
    connecting_or_connected: bool,
    failures: u32,
    next_attempt: Option<Instant>,
}

/// Configuration a driver needs beyond the metainfo.
pub(crate) struct DriverParts {
    pub meta: Arc<Metainfo>,
    pub storage: Arc<Storage>,
    pub core: TorrentCore,
    pub stats: Arc<TorrentStats>,
    pub state_tx: watch::Sender<TorrentState>,
    pub events_tx: mpsc::Sender<DriverEvent>,
    pub events_rx: mpsc::Receiver<DriverEvent>,
    pub peer_id: Id20,
    pub bind_ip: Option<IpAddr>,
    pub own_addrs: Vec<SocketAddr>,
    pub max_peers: usize,
    pub resume_file: std::path::PathBuf,
    pub cancel: CancellationToken,
}

pub(crate) struct Driver {
    p: DriverParts,
    commands: HashMap<ConnId, mpsc::Sender<PeerCommand>>,
    /// Upload queue of each peer we serve (see [`super::upload`]).
    uploads: HashMap<ConnId, UploadQueue>,
    conn_addr: HashMap<ConnId, SocketAddr>,
    /// Connections we dialled (the others came in).
    outgoing: std::collections::HashSet<ConnId>,
    known: HashMap<SocketAddr, KnownPeer>,
    next_conn: ConnId,
    connecting: usize,
    read_slots: Arc<Semaphore>,
    resume: crate::resume::ResumeScheduler,
    strikes: HashMap<IpAddr, u32>,
    banned: std::collections::HashSet<IpAddr>,
    /// Pieces handed to [`Driver::verify`] whose result has not come back yet.
    verifying: usize,
    /// At most this many (from [`MAX_VERIFY_BYTES`]) before peer messages wait.
    max_verifying: usize,
    /// Hashes and writes complete pieces on blocking threads.
    verifier: Verifier,
    /// Verification results come back on their own queue (capacity `max_verifying`, so a
    /// send never waits), so they are taken while peer messages wait.
    checked_rx: mpsc::Receiver<DriverEvent>,
}

impl Driver {
    pub fn new(p: DriverParts) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let piece_len = u64::from(p.meta.layout().piece_length()).max(1);
        let max_verifying = usize::try_from(MAX_VERIFY_BYTES / piece_len)
            .unwrap_or(usize::MAX)
            .max(2);
        let (checked_tx, checked_rx) = mpsc::channel(max_verifying);
        let verifier = Verifier::new(p.meta.clone(), p.storage.clone(), checked_tx, cores);
        Driver {
            p,
            commands: HashMap::new(),
            uploads: HashMap::new(),
            conn_addr: HashMap::new(),
            outgoing: std::collections::HashSet::new(),
            known: HashMap::new(),
            next_conn: 1,
            connecting: 0,
            read_slots: Arc::new(Semaphore::new(UPLOAD_READS)),
            resume: crate::resume::ResumeScheduler::new(
                Instant::now(),
                crate::resume::DEFAULT_SAVE_INTERVAL,
            ),
            strikes: HashMap::new(),
            banned: std::collections::HashSet::new(),
            verifying: 0,
            max_verifying,
            verifier,
            checked_rx,
        }
    }

    // The driver is where the clock is read; the core gets the time as a parameter.
    #[allow(clippy::disallowed_methods)]
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.update_stats();
        if self.p.core.picker().stats().pieces_have > 0 {
            // Pieces found at start (resume data or a recheck): record them soon.
            self.resume.record_change();
        }
        loop {
            let deadline = self.p.core.poll_timeout();
            let timer = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.p.cancel.cancelled() => break,
                Some(ev) = self.checked_rx.recv() => self.handle_event(ev, Instant::now()),
                ev = self.p.events_rx.recv(), if self.verifying < self.max_verifying => match ev {
                    Some(ev) => self.handle_event(ev, Instant::now()),
                    None => break,
                },
                _ = timer => self.p.core.handle_timeout(Instant::now()),
                _ = tick.tick() => {
                    let now = Instant::now();
                    self.connect_more(now);
                    self.maybe_save(now);
                }
            }
            // Drain what else is queued before the bookkeeping below (bounded per wake-up).
            while let Ok(ev) = self.checked_rx.try_recv() {
                self.handle_event(ev, Instant::now());
            }
            for _ in 0..256 {
                if self.verifying >= self.max_verifying {
                    break;
                }
                match self.p.events_rx.try_recv() {
                    Ok(ev) => self.handle_event(ev, Instant::now()),
                    Err(_) => break,
                }
            }
            self.execute_actions();
            self.update_stats();
            if matches!(self.p.stats.state(), TorrentState::Failed) {
                break;
            }
        }
        // Dropping the command senders closes every connection.
        self.commands.clear();
        self.uploads.clear();
        self.final_save().await;
        if self.p.stats.state() != TorrentState::Failed {
            self.set_state(TorrentState::Stopped);
        }
    }

    fn set_state(&self, s: TorrentState) {
        self.p.stats.set_state(s);
        let _ = self.p.state_tx.send(s);
    }

    fn handle_event(&mut self, ev: DriverEvent, now: Instant) {
        match ev {
            DriverEvent::Peer(PeerEvent::Connected {
                conn,
                addr,
                reserved,
                peer_id,
                commands,
            }) => {
                self.connecting = self.connecting.saturating_sub(1);
                self.commands.insert(conn, commands);
                if let Some(k) = self.known.get_mut(&addr) {
                    k.failures = 0;
                }
                tracing::debug!(%addr, conn, "peer connected");
                self.p.core.peer_connected(conn, addr, reserved, peer_id);
                if self.outgoing.contains(&conn) {
                    self.p.core.set_outgoing(conn);
                }
            }
            DriverEvent::Peer(PeerEvent::Message { conn, message }) => {
                if let Err(reason) = self.p.core.handle_message(conn, message, now) {
                    tracing::info!(conn, addr = ?self.conn_addr.get(&conn), "closing: {reason}");
                }
            }
            DriverEvent::Peer(PeerEvent::Closed {
                conn,
                was_connected,
                reason,
            }) => {
                if !was_connected {
                    self.connecting = self.connecting.saturating_sub(1);
                }
                self.drop_peer(conn);
                self.outgoing.remove(&conn);
                self.p.core.peer_disconnected(conn, now);
                if let Some(addr) = self.conn_addr.remove(&conn) {
                    tracing::debug!(%addr, conn, "peer closed: {reason}");
                    if let Some(k) = self.known.get_mut(&addr) {
                        k.connecting_or_connected = false;
                        if !was_connected {
                            k.failures += 1;
                        }
                        // Back off: 5 s, 10 s, 20 s... capped at 5 minutes.
                        let secs = 5u64 << k.failures.min(6);
                        k.next_attempt = Some(now + Duration::from_secs(secs.min(300)));
                    }
                }
            }
            DriverEvent::Announcer(AnnouncerEvent::Peers(peers)) => {
                self.p.stats.set_tracker_error(None);
                self.add_known(peers);
                self.connect_more(now);
            }
            DriverEvent::Incoming {
                addr,
                stream,
                theirs,
                leftover,
            } => {
                if self.banned.contains(&addr.ip()) {
                    tracing::debug!(%addr, "incoming connection refused: banned");
                    return;
                }
                if self.commands.len() + self.connecting >= self.p.max_peers {
                    tracing::debug!(%addr, "incoming connection refused: connection limit");
                    return;
                }
                let conn = self.next_conn;
                self.next_conn += 1;
                self.connecting += 1;
                self.conn_addr.insert(conn, addr);
                let events = self.p.events_tx.clone();
                tokio::spawn(peer::run_connected(
                    conn, addr, stream, theirs, leftover, events,
                ));
            }
            DriverEvent::Uploaded { conn, blocks, sent } => {
                self.p.core.upload_done(conn, blocks, sent)
            }
            DriverEvent::UploadCancelled { conn, req } => self.p.core.upload_cancelled(conn, req),
            DriverEvent::Saved { ticket, result } => {
                let ok = result.is_ok();
                self.resume.save_done(ticket, now, ok);
                if let Err(e) = result {
                    // A failed sync means written data may not be durable: stop (issue 4).
                    tracing::error!("saving resume data failed: {e}");
                    self.p.stats.fail(format!("cannot save resume data: {e}"));
                    let _ = self.p.state_tx.send(TorrentState::Failed);
                }
            }
            DriverEvent::AddPeers(peers) => {
                self.add_known(peers);
                self.connect_more(now);
            }
            DriverEvent::Announcer(AnnouncerEvent::AllFailed(errors)) => {
                let msg = errors.join("; ");
                tracing::warn!("every tracker failed: {msg}");
                self.p.stats.set_tracker_error(Some(msg));
            }
            DriverEvent::Checked {
                piece,
                check,
                error,
                buffer,
            } => {
                self.verifying = self.verifying.saturating_sub(1);
                self.p.core.recycle_buffer(buffer);
                if check == PieceCheck::Verified {
                    self.resume.record_change();
                }
                self.p.core.piece_checked(piece, check, now);
                if let Some(e) = error {
                    self.p.stats.fail(e);
                    let _ = self.p.state_tx.send(TorrentState::Failed);
                }
            }
        }
    }

    fn add_known(&mut self, peers: Vec<SocketAddr>) {
        for addr in peers {
            if self.known.len() >= MAX_KNOWN_PEERS {
                break;
            }
            if addr.port() == 0 || self.p.own_addrs.contains(&addr) {
                continue;
            }
            self.known.entry(addr).or_default();
        }
    }

    fn connect_more(&mut self, now: Instant) {
        let busy = self.commands.len() + self.connecting;
        let room = self.p.max_peers.saturating_sub(busy).min(CONNECTS_PER_TICK);
        let candidates: Vec<SocketAddr> = self
            .known
            .iter()
            .filter(|(a, k)| {
                !k.connecting_or_connected
                    && k.next_attempt.is_none_or(|t| t <= now)
                    && !self.banned.contains(&a.ip())
            })
            .map(|(a, _)| *a)
            .take(room)
            .collect();
        for addr in candidates {
            let conn = self.next_conn;
            self.next_conn += 1;
            if let Some(k) = self.known.get_mut(&addr) {
                k.connecting_or_connected = true;
            }
            self.conn_addr.insert(conn, addr);
            self.outgoing.insert(conn);
            self.connecting += 1;
            let handshake = Handshake {
                reserved: TorrentCore::our_reserved(),
                info_hash: self.p.meta.info_hash().wire_id(),
                peer_id: self.p.peer_id,
            };
            let out = OutgoingPeer {
                conn,
                addr,
                bind_ip: self.p.bind_ip,
                handshake,
            };
            tokio::spawn(peer::run_outgoing(out, self.p.events_tx.clone()));
        }
    }

    fn execute_actions(&mut self) {
        while let Some(action) = self.p.core.poll_action() {
            match action {
                Action::Send(conn, msg) => self.send(conn, msg),
                Action::Close(conn, reason) => {
                    tracing::debug!(conn, "closing: {reason}");
                    // Dropping the sender ends the writer, which ends the connection; its
                    // `Closed` event then tells the core.
                    self.drop_peer(conn);
                }
                Action::Verify { piece, data } => self.verify(piece, data),
                Action::Upload(conn, req) => self.upload(conn, req),
                Action::CancelUpload(conn, req) => {
                    if let Some(q) = self.uploads.get(&conn) {
                        q.cancel(req);
                    }
                }
                Action::DropUploads(conn) => {
                    if let Some(q) = self.uploads.get(&conn) {
                        q.drop_pending();
                    }
                }
                Action::HashFailed {
                    piece,
                    contributors,
                } => {
                    self.smart_ban(piece, &contributors);
                }
                Action::AddPeers(peers) => {
                    tracing::debug!(count = peers.len(), "peers learned through PEX");
                    self.add_known(peers);
                    self.connect_more(Instant::now());
                }
            }
        }
    }

    /// A piece failed its hash: every address that sent blocks of it gets a strike; the only
    /// contributor, or one with [`BAN_STRIKES`] strikes, is banned for the session and its
    /// connections closed (issue 4, smart ban).
    fn smart_ban(&mut self, piece: u32, contributors: &[ConnId]) {
        let mut ips: Vec<IpAddr> = contributors
            .iter()
            .filter_map(|c| self.conn_addr.get(c))
            .map(|a| a.ip())
            .collect();
        ips.sort();
        ips.dedup();
        tracing::warn!(piece, ?ips, "piece failed its hash check");
        let sole = ips.len() == 1;
        for ip in ips {
            let strikes = self.strikes.entry(ip).or_insert(0);
            *strikes += 1;
            if (sole || *strikes >= BAN_STRIKES) && self.banned.len() < MAX_BANNED {
                tracing::warn!(%ip, strikes = *strikes, "banning peer that sent corrupt data");
                self.banned.insert(ip);
                let conns: Vec<ConnId> = self
                    .conn_addr
                    .iter()
                    .filter(|(_, a)| a.ip() == ip)
                    .map(|(c, _)| *c)
                    .collect();
                for c in conns {
                    self.drop_peer(c);
                }
            }
        }
        self.p
            .stats
            .peers_banned
            .store(self.banned.len() as u32, Ordering::Relaxed);
    }

    /// Drops our senders to the connection: its writer ends, which ends the connection.
    fn drop_peer(&mut self, conn: ConnId) {
        self.commands.remove(&conn);
        self.uploads.remove(&conn);
    }

    fn send(&mut self, conn: ConnId, msg: Message) {
        let Some(tx) = self.commands.get(&conn) else {
            return;
        };
        if tx.try_send(PeerCommand::Send(msg)).is_err() {
            tracing::info!(conn, "peer is not reading what we send; closing");
            self.drop_peer(conn);
        }
    }

    /// Hands the complete piece to the [`Verifier`], which hashes it and, if it matches,
    /// writes it (never writing unverified data); the result comes back as
    /// [`DriverEvent::Checked`].
    fn verify(&mut self, piece: u32, data: PieceBuf) {
        self.verifying += 1;
        self.verifier.submit(piece, data);
    }

    /// Queues the request on the peer's uploader (started on the first request), which reads
    /// requests in batches and reports each batch back so the core can count it.
    fn upload(&mut self, conn: ConnId, req: ferrent_proto::wire::BlockRequest) {
        let queue = match self.uploads.get(&conn) {
            Some(q) => Some(q),
            None => match self.commands.get(&conn) {
                Some(peer) => {
                    let ctx = UploadContext {
                        storage: self.p.storage.clone(),
                        events: self.p.events_tx.clone(),
                        read_slots: self.read_slots.clone(),
                    };
                    let q =
                        spawn_uploader(conn, peer.downgrade(), ctx, super::core::OUR_REQQ as usize);
                    Some(&*self.uploads.entry(conn).or_insert(q))
                }
                None => None,
            },
        };
        if queue.is_none_or(|q| !q.request(req)) {
            // The peer is gone (or its uploader ended): nothing was sent.
            self.p.core.upload_done(conn, 1, 0);
        }
    }

    /// Starts a resume save when one is due: the bitfield is taken now (only pieces whose write
    /// returned, as the core marks a piece had only then), then sync, stat, atomic write run on
    /// the blocking pool.
    fn maybe_save(&mut self, now: Instant) {
        if !self.resume.should_save(now) {
            return;
        }
        let Some(ticket) = self.resume.begin_save(now) else {
            return;
        };
        let have = self.have_bitfield();
        let (storage, file, events) = (
            self.p.storage.clone(),
            self.p.resume_file.clone(),
            self.p.events_tx.clone(),
        );
        let id = self.p.meta.info_hash().wire_id();
        tokio::spawn(async move {
            let result = tokio::task::spawn_blocking(move || {
                super::startup::save_resume(&storage, id, have, &file)
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            let _ = events.send(DriverEvent::Saved { ticket, result }).await;
        });
    }

    fn have_bitfield(&self) -> ferrent_core::Bitfield {
        let n = self.p.meta.layout().num_pieces();
        ferrent_core::Bitfield::from_bytes(&self.p.core.picker().have_bitfield(), n)
            .unwrap_or_else(|_| ferrent_core::Bitfield::new(n))
    }

    /// On the way out: let a save in flight finish (bounded), then save what is new.
    #[allow(clippy::disallowed_methods)]
    async fn final_save(&mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.resume.is_saving() {
            // Verification results have their own queue (see `checked_rx`).
            let next = async {
                tokio::select! {
                    Some(ev) = self.checked_rx.recv() => Some(ev),
                    ev = self.p.events_rx.recv() => ev,
                }
            };
            match tokio::time::timeout_at(deadline, next).await {
                Ok(Some(DriverEvent::Saved { ticket, result })) => {
                    self.resume
                        .save_done(ticket, Instant::now(), result.is_ok());
                }
                Ok(Some(DriverEvent::Checked {
                    piece,
                    check,
                    buffer,
                    ..
                })) => {
                    self.p.core.recycle_buffer(buffer);
                    if check == PieceCheck::Verified {
                        self.resume.record_change();
                    }
                    self.p.core.piece_checked(piece, check, Instant::now());
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return,
            }
        }
        if !self.resume.is_dirty() {
            return;
        }
        let Some(ticket) = self.resume.begin_save(Instant::now()) else {
            return;
        };
        let have = self.have_bitfield();
        let (storage, file) = (self.p.storage.clone(), self.p.resume_file.clone());
        let id = self.p.meta.info_hash().wire_id();
        let result = tokio::task::spawn_blocking(move || {
            super::startup::save_resume(&storage, id, have, &file)
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        if let Err(e) = &result {
            tracing::warn!("final resume save failed: {e}");
        }
        self.resume
            .save_done(ticket, Instant::now(), result.is_ok());
    }

    fn update_stats(&mut self) {
        let s = &self.p.stats;
        let pick = self.p.core.picker().stats();
        let c = self.p.core.counters();
        s.downloaded.store(c.downloaded, Ordering::Relaxed);
        s.wasted.store(c.wasted, Ordering::Relaxed);
        s.uploaded.store(c.uploaded, Ordering::Relaxed);
        s.hash_failures.store(c.hash_failures, Ordering::Relaxed);
        s.pieces_have.store(pick.pieces_have, Ordering::Relaxed);
        s.verified_bytes.store(pick.bytes_have, Ordering::Relaxed);
        s.peers_connected
            .store(self.p.core.num_peers() as u32, Ordering::Relaxed);
        s.peers_known
            .store(self.known.len() as u32, Ordering::Relaxed);
        let state = s.state();
        if self.p.core.is_complete() && state == TorrentState::Downloading {
            self.set_state(TorrentState::Complete);
        }
    }
}
