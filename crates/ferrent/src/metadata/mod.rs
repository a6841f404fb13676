//! Fetching a torrent's info dictionary from peers (BEP 9, `ut_metadata`), for magnet links:
//! the only thing a magnet gives is the info-hash, and the peers that have the torrent can send
//! the rest in 16 KiB pieces over the extension protocol (BEP 10).
//!
//! Several peers at once: [`fetch_metadata_from`] keeps up to [`MAX_USEFUL_PEERS`] useful
//! connections open, each connection task does the handshakes and relays `ut_metadata`
//! messages, and the sans-I/O [`MetadataFetch`] decides which piece to ask whom for, what a
//! `reject`, a timeout or a departure means, and whether the assembled bytes are the torrent
//! (their SHA-1 must be the info-hash). Every size is bounded by [`MAX_FETCH_METADATA_SIZE`]
//! before anything is allocated. See `docs/magnet.md`.

mod fetch;
#[cfg(test)]
mod fetch_tests;

pub use fetch::{
    FetchAction, MAX_FETCH_METADATA_SIZE, MAX_HASH_FAILURES, MAX_REJECTS, MAX_TIMEOUTS,
    MetadataFetch, PIPELINE, REJECT_BACKOFF, REQUEST_TIMEOUT,
};

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrent_core::Id20;
use ferrent_proto::wire::{
    EXTENDED_HANDSHAKE_ID, ExtendedHandshake, Handshake, Message, MessageDecoder, MetadataMessage,
    UT_METADATA,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::peer::{self, OutgoingPeer};
use crate::torrent::TorrentCore;

/// The id we ask peers to send `ut_metadata` messages under (BEP 10 `m` dictionary).
pub const OUR_UT_METADATA_ID: u8 = 3;

/// Connections that are being opened or can be asked for pieces, at most. More peers would add
/// little for a few hundred KiB and cost connections to the swarm.
pub const MAX_USEFUL_PEERS: usize = 4;

/// Connections open at once, counting those parked (another metadata size, backing off).
pub const MAX_CONNECTIONS: usize = 8;

/// How long a connection may take from connect to the peer's extension handshake.
pub const EXTENSION_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest a whole fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// Why no metadata could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// No peer to ask.
    #[error("no peers to fetch the metadata from")]
    NoPeers,
    /// Every peer failed; the reason each gave.
    #[error("no peer sent valid metadata: {0}")]
    AllFailed(String),
    /// Too many copies failed the info-hash, or the fetch ran out of time.
    #[error("{0}")]
    GaveUp(String),
}

/// A fetched info dictionary and the peers caught lying on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMetadata {
    /// The bencoded info dictionary; its SHA-1 is the info-hash.
    pub info: Vec<u8>,
    /// Peers whose metadata failed the info-hash: not to be used for the download either.
    pub liars: Vec<SocketAddr>,
}

/// Live figures of a fetch, for a progress line (all relaxed atomics).
#[derive(Debug, Default)]
pub struct MetadataProgress {
    /// Peers connected so far, including failed attempts.
    pub peers_tried: AtomicU32,
    /// Peers that announced metadata and are connected now.
    pub peers_ready: AtomicU32,
    /// Metadata pieces received of the copy being assembled.
    pub pieces_have: AtomicU32,
    /// Metadata pieces in all (0 while no peer said the size).
    pub pieces_total: AtomicU32,
}

/// Fetches the info dictionary of `info_hash` from `peers`. Returns the raw bytes, whose SHA-1
/// equals `info_hash`.
pub async fn fetch_metadata(
    info_hash: Id20,
    peers: &[SocketAddr],
    peer_id: Id20,
    bind_ip: Option<IpAddr>,
) -> Result<Vec<u8>, MetadataError> {
    fetch_metadata_from(info_hash, peers, peer_id, bind_ip, None)
        .await
        .map(|f| f.info)
}

/// What a connection task reports.
enum PeerEvent {
    Ready(Option<u64>),
    Data {
        piece: u32,
        total_size: u32,
        data: Bytes,
    },
    Reject(u32),
    Gone(String),
}

struct Conn {
    addr: SocketAddr,
    requests: mpsc::Sender<u32>,
    task: tokio::task::AbortHandle,
    ready: bool,
}

/// Fetches the info dictionary of `info_hash` from several of `peers` at once (tried in
/// order), reporting to `progress` if given. See the module doc.
pub async fn fetch_metadata_from(
    info_hash: Id20,
    peers: &[SocketAddr],
    peer_id: Id20,
    bind_ip: Option<IpAddr>,
    progress: Option<&MetadataProgress>,
) -> Result<FetchedMetadata, MetadataError> {
    if peers.is_empty() {
        return Err(MetadataError::NoPeers);
    }
    let start = tokio::time::Instant::now();
    let deadline = start + FETCH_TIMEOUT;
    let mut fetch: MetadataFetch<u64> = MetadataFetch::new(info_hash, MAX_FETCH_METADATA_SIZE);
    let (events_tx, mut events) = mpsc::channel::<(u64, PeerEvent)>(256);
    let mut tasks = JoinSet::new();
    let mut conns: HashMap<u64, Conn> = HashMap::new();
    let mut errors: Vec<String> = Vec::new();
    let mut liars: Vec<SocketAddr> = Vec::new();
    let mut next = 0usize;
    loop {
        // Open connections while fewer than we want are useful.
        loop {
            let useful = conns
                .iter()
                .filter(|(id, c)| !c.ready || fetch.is_useful(**id))
                .count();
            let Some(&addr) = peers.get(next) else { break };
            if useful >= MAX_USEFUL_PEERS || conns.len() >= MAX_CONNECTIONS {
                break;
            }
            let id = next as u64;
            next += 1;
            let (req_tx, req_rx) = mpsc::channel(64);
            let out = OutgoingPeer {
                conn: id,
                addr,
                bind_ip,
                handshake: Handshake {
                    reserved: TorrentCore::our_reserved(),
                    info_hash,
                    peer_id,
                },
            };
            let tx = events_tx.clone();
            let task = tasks.spawn(async move {
                let reason = match run_peer(&out, &tx, req_rx).await {
                    Ok(()) => "closed".to_string(),
                    Err(e) => e,
                };
                let _ = tx.send((out.conn, PeerEvent::Gone(reason))).await;
            });
            conns.insert(
                id,
                Conn {
                    addr,
                    requests: req_tx,
                    task,
                    ready: false,
                },
            );
            if let Some(p) = progress {
                p.peers_tried.fetch_add(1, Ordering::Relaxed);
            }
        }
        if conns.is_empty() {
            return Err(MetadataError::AllFailed(errors.join("; ")));
        }
        let wake = fetch.next_deadline().map_or(deadline, |d| {
            tokio::time::Instant::from_std(d).min(deadline)
        });
        tokio::select! {
            ev = events.recv() => {
                let Some((id, ev)) = ev else { break };
                let now = std::time::Instant::now();
                match ev {
                    PeerEvent::Ready(size) => {
                        if let Some(c) = conns.get_mut(&id) {
                            c.ready = true;
                        }
                        fetch.add_peer(id, size, now);
                    }
                    PeerEvent::Data { piece, total_size, data } => {
                        fetch.on_data(id, piece, total_size, data, now);
                    }
                    PeerEvent::Reject(piece) => fetch.on_reject(id, piece, now),
                    PeerEvent::Gone(reason) => {
                        if let Some(c) = conns.remove(&id) {
                            errors.push(format!("{}: {reason}", c.addr));
                        }
                        fetch.peer_gone(id, now);
                    }
                }
            }
            _ = tokio::time::sleep_until(wake) => fetch.tick(std::time::Instant::now()),
        }
        while let Some(action) = fetch.poll_action() {
            match action {
                FetchAction::Request { peer, piece } => {
                    let sent = conns
                        .get(&peer)
                        .is_some_and(|c| c.requests.try_send(piece).is_ok());
                    if !sent {
                        fetch.peer_gone(peer, std::time::Instant::now());
                    }
                }
                FetchAction::Drop { peer, reason, liar } => {
                    let addr = match conns.remove(&peer) {
                        Some(c) => {
                            c.task.abort();
                            errors.push(format!("{}: {reason}", c.addr));
                            Some(c.addr)
                        }
                        None => peers.get(peer as usize).copied(),
                    };
                    tracing::debug!(?addr, "metadata peer dropped: {reason}");
                    if liar
                        && let Some(a) = addr
                        && !liars.contains(&a)
                    {
                        liars.push(a);
                    }
                }
            }
        }
        if let Some(p) = progress {
            let (have, total) = fetch.progress();
            p.pieces_have.store(have, Ordering::Relaxed);
            p.pieces_total.store(total, Ordering::Relaxed);
            let ready = conns.values().filter(|c| c.ready).count();
            p.peers_ready.store(ready as u32, Ordering::Relaxed);
        }
        match fetch.take_result() {
            Some(Ok(info)) => return Ok(FetchedMetadata { info, liars }),
            Some(Err(e)) => {
                return Err(MetadataError::GaveUp(format!("{e}; {}", errors.join("; "))));
            }
            None => {}
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
    }
    let (have, total) = fetch.progress();
    Err(MetadataError::GaveUp(format!(
        "no complete metadata after {} s ({have} of {total} pieces): {}",
        FETCH_TIMEOUT.as_secs(),
        errors.join("; ")
    )))
}

/// One connection: handshakes, then relays requests out and `ut_metadata` messages in until the
/// request channel closes (the fetch is done or dropped the peer).
async fn run_peer(
    out: &OutgoingPeer,
    events: &mpsc::Sender<(u64, PeerEvent)>,
    mut requests: mpsc::Receiver<u32>,
) -> Result<(), String> {
    let opened = tokio::time::timeout(EXTENSION_HANDSHAKE_TIMEOUT, open(out)).await;
    let (mut stream, their_id, size, mut buf, mut decoder) =
        opened.map_err(|_| "no extension handshake in time".to_string())??;
    if events
        .send((out.conn, PeerEvent::Ready(size)))
        .await
        .is_err()
    {
        return Ok(());
    }
    loop {
        tokio::select! {
            piece = requests.recv() => {
                let Some(piece) = piece else { return Ok(()) };
                let mut wbuf = BytesMut::new();
                Message::Extended {
                    id: their_id,
                    payload: MetadataMessage::Request { piece }.to_bytes(),
                }
                .encode(&mut wbuf);
                stream.write_all(&wbuf).await.map_err(|e| format!("write: {e}"))?;
            }
            n = stream.read_buf(&mut buf) => {
                if n.map_err(|e| format!("read: {e}"))? == 0 {
                    return Err("closed by peer".into());
                }
                while let Some(msg) = decoder
                    .decode(&mut buf)
                    .map_err(|e| format!("protocol error: {e}"))?
                {
                    let Message::Extended { id: OUR_UT_METADATA_ID, payload } = msg else {
                        continue;
                    };
                    let ev = match MetadataMessage::decode(&payload).map_err(|e| e.to_string())? {
                        MetadataMessage::Data { piece, total_size, data } => {
                            PeerEvent::Data { piece, total_size, data }
                        }
                        MetadataMessage::Reject { piece } => PeerEvent::Reject(piece),
                        // We have no metadata to give.
                        MetadataMessage::Request { .. } => continue,
                    };
                    if events.send((out.conn, ev)).await.is_err() {
                        return Ok(());
                    }
                }
                buf.reserve(64 * 1024);
            }
        }
    }
}

type Opened = (TcpStream, u8, Option<u64>, BytesMut, MessageDecoder);

/// Connects, exchanges the BitTorrent and extension handshakes, and returns the id the peer
/// wants `ut_metadata` messages under and the `metadata_size` it announced (unchecked).
async fn open(out: &OutgoingPeer) -> Result<Opened, String> {
    let (mut stream, theirs, mut buf) = peer::connect_and_handshake(out).await?;
    if !theirs.reserved.extension_protocol() {
        return Err("peer does not support the extension protocol (BEP 10)".into());
    }
    let mut ours = ExtendedHandshake {
        v: Some(format!("ferrent {}", env!("CARGO_PKG_VERSION"))),
        ..ExtendedHandshake::default()
    };
    ours.m.insert(UT_METADATA.into(), OUR_UT_METADATA_ID);
    let mut wbuf = Vec::new();
    ours.to_message().encode(&mut wbuf);
    // BEP 6 peers expect one of bitfield / have all / have none first; we have nothing.
    if theirs.reserved.fast() {
        Message::HaveNone.encode(&mut wbuf);
    }
    stream
        .write_all(&wbuf)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut decoder = MessageDecoder::new();
    loop {
        while let Some(msg) = decoder
            .decode(&mut buf)
            .map_err(|e| format!("protocol error: {e}"))?
        {
            if let Message::Extended {
                id: EXTENDED_HANDSHAKE_ID,
                payload,
            } = msg
            {
                let hs = ExtendedHandshake::decode(&payload).map_err(|e| e.to_string())?;
                let their_id = hs
                    .extension_id(UT_METADATA)
                    .ok_or("peer has no ut_metadata")?;
                return Ok((stream, their_id, hs.metadata_size, buf, decoder));
            }
        }
        buf.reserve(64 * 1024);
        let n = stream
            .read_buf(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed by peer".into());
        }
    }
}
