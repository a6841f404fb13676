//! Peer connections: the thin async driver around the wire codec. One connection is one task
//! that reads frames and forwards decoded messages to its torrent, plus one writer task that
//! sends what the torrent tells it to. No protocol decisions are made here (they live in
//! [`crate::torrent::TorrentCore`]).
//!
//! Backpressure: the reader awaits room in the torrent's bounded event queue, so a torrent that
//! falls behind stops reading sockets instead of buffering without bound. The torrent never
//! waits on a peer: it `try_send`s into the peer's bounded command queue and closes a peer whose
//! queue is full (it is not reading what we send).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};
use ferrent_core::Id20;
use ferrent_proto::wire::{
    Block, HANDSHAKE_LEN, Handshake, Message, MessageDecoder, Reserved, piece_header,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use crate::torrent::ConnId;

/// Commands the torrent may queue on one peer before the peer counts as stuck (it is not
/// reading): a full pipeline of requests (at most 250) plus `have`s for a burst of pieces.
pub const PEER_COMMAND_QUEUE: usize = 4096;

/// Time to establish a TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Time for the peer's handshake to arrive once connected.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection with nothing received for this long is dead (BEP 3 keep-alives come every two
/// minutes).
pub const READ_IDLE_TIMEOUT: Duration = Duration::from_secs(180);

/// We send a keep-alive after this long without sending anything.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(90);

/// Bytes read from the socket at once (several blocks per system call on a fast link).
const READ_CHUNK: usize = 256 * 1024;

/// What the torrent tells a connection.
#[derive(Debug)]
pub enum PeerCommand {
    /// Encode and send.
    Send(Message),
    /// Send this block we serve as a `piece` message. The permit counts it against the peer's
    /// bound on queued upload blocks (see [`crate::torrent`]'s uploader); it is released once
    /// the block is written to the socket.
    Block(Block, OwnedSemaphorePermit),
}

/// What a connection tells its torrent.
#[derive(Debug)]
pub enum PeerEvent {
    /// The handshake is done; `commands` is where to send to this peer.
    Connected {
        /// The connection.
        conn: ConnId,
        /// The peer's address.
        addr: SocketAddr,
        /// Its reserved bits.
        reserved: Reserved,
        /// Its peer id.
        peer_id: Id20,
        /// The command queue of this connection.
        commands: mpsc::Sender<PeerCommand>,
    },
    /// A message arrived.
    Message {
        /// The connection.
        conn: ConnId,
        /// The message.
        message: Message,
    },
    /// The connection ended (or never got through the handshake).
    Closed {
        /// The connection.
        conn: ConnId,
        /// Whether the handshake had completed.
        was_connected: bool,
        /// Why.
        reason: String,
    },
}

/// What an outgoing connection needs to know.
#[derive(Debug, Clone)]
pub struct OutgoingPeer {
    /// The connection id the torrent chose.
    pub conn: ConnId,
    /// Where to connect.
    pub addr: SocketAddr,
    /// Local address to bind (tests give each client its own 127.0.0.X).
    pub bind_ip: Option<IpAddr>,
    /// Our handshake.
    pub handshake: Handshake,
}

/// Connects, exchanges handshakes, then runs the connection until it ends. Always finishes by
/// sending [`PeerEvent::Closed`] (unless the torrent is gone).
pub async fn run_outgoing<E>(peer: OutgoingPeer, events: mpsc::Sender<E>)
where
    E: From<PeerEvent> + Send + 'static,
{
    let conn = peer.conn;
    match connect_and_handshake(&peer).await {
        Ok((stream, theirs, leftover)) => {
            run_connected(conn, peer.addr, stream, theirs, leftover, events).await;
        }
        Err(reason) => {
            let closed = PeerEvent::Closed {
                conn,
                was_connected: false,
                reason,
            };
            let _ = events.send(E::from(closed)).await;
        }
    }
}

pub(crate) async fn connect_and_handshake(
    peer: &OutgoingPeer,
) -> Result<(TcpStream, Handshake, BytesMut), String> {
    let socket = if peer.addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| format!("socket: {e}"))?;
    if let Some(ip) = peer.bind_ip {
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| format!("bind {ip}: {e}"))?;
    }
    let mut stream = tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(peer.addr))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    stream
        .write_all(&peer.handshake.to_bytes())
        .await
        .map_err(|e| format!("send handshake: {e}"))?;
    let (theirs, leftover) = read_handshake(&mut stream).await?;
    if theirs.info_hash != peer.handshake.info_hash {
        return Err(format!(
            "peer answered for another torrent ({})",
            theirs.info_hash
        ));
    }
    Ok((stream, theirs, leftover))
}

/// Reads the peer's 68-byte handshake (with [`HANDSHAKE_TIMEOUT`]); returns it and any bytes
/// that followed it in the same read.
pub async fn read_handshake(stream: &mut TcpStream) -> Result<(Handshake, BytesMut), String> {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let read = async {
        loop {
            if let Some(hs) = Handshake::decode(&mut buf).map_err(|e| format!("handshake: {e}"))? {
                return Ok::<_, String>(hs);
            }
            if buf.len() >= HANDSHAKE_LEN {
                return Err("handshake: too long".to_string());
            }
            let n = stream
                .read_buf(&mut buf)
                .await
                .map_err(|e| format!("read handshake: {e}"))?;
            if n == 0 {
                return Err("closed during handshake".to_string());
            }
        }
    };
    let hs = tokio::time::timeout(HANDSHAKE_TIMEOUT, read)
        .await
        .map_err(|_| "handshake timed out".to_string())??;
    Ok((hs, buf))
}

/// Runs a connection whose handshakes are done: announces it, then pumps messages both ways.
pub async fn run_connected<E>(
    conn: ConnId,
    addr: SocketAddr,
    stream: TcpStream,
    theirs: Handshake,
    leftover: BytesMut,
    events: mpsc::Sender<E>,
) where
    E: From<PeerEvent> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(PEER_COMMAND_QUEUE);
    let connected = PeerEvent::Connected {
        conn,
        addr,
        reserved: theirs.reserved,
        peer_id: theirs.peer_id,
        commands: tx,
    };
    if events.send(E::from(connected)).await.is_err() {
        return; // the torrent is gone
    }
    let (reader, writer) = stream.into_split();
    let mut writer_task = tokio::spawn(write_loop(writer, rx));
    let reason = tokio::select! {
        r = read_loop(conn, reader, leftover, &events) => r,
        w = &mut writer_task => match w {
            Ok(r) => r,
            Err(e) => format!("writer task failed: {e}"),
        },
    };
    writer_task.abort();
    let _ = events
        .send(E::from(PeerEvent::Closed {
            conn,
            was_connected: true,
            reason,
        }))
        .await;
}

async fn read_loop<E>(
    conn: ConnId,
    mut reader: tokio::net::tcp::OwnedReadHalf,
    mut buf: BytesMut,
    events: &mpsc::Sender<E>,
) -> String
where
    E: From<PeerEvent> + Send + 'static,
{
    let mut decoder = MessageDecoder::new();
    loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(message)) => {
                    if events
                        .send(E::from(PeerEvent::Message { conn, message }))
                        .await
                        .is_err()
                    {
                        return "torrent stopped".into();
                    }
                }
                Ok(None) => break,
                Err(e) => return format!("protocol error: {e}"),
            }
        }
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        match tokio::time::timeout(READ_IDLE_TIMEOUT, reader.read_buf(&mut buf)).await {
            Err(_) => return "idle for too long".into(),
            Ok(Err(e)) => return format!("read: {e}"),
            Ok(Ok(0)) => return "closed by peer".into(),
            Ok(Ok(_)) => {}
        }
    }
}

/// Bytes of frames gathered into one vectored write.
const WRITE_BATCH: usize = 256 * 1024;

/// Room for small frames (headers, requests, `have`s) reserved at once.
const SMALL_FRAMES: usize = 8 * 1024;

/// Most buffers passed to one `writev` (well under `IOV_MAX`, 1024 on Linux).
const MAX_IOVECS: usize = 64;

async fn write_loop(
    mut writer: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::Receiver<PeerCommand>,
) -> String {
    let mut frames = Frames::default();
    loop {
        let cmd = match tokio::time::timeout(KEEPALIVE_INTERVAL, rx.recv()).await {
            Err(_) => PeerCommand::Send(Message::KeepAlive),
            Ok(None) => return "closed by us".into(),
            Ok(Some(c)) => c,
        };
        // Batch whatever else is queued into the same write.
        let mut next = Some(cmd);
        while let Some(cmd) = next {
            match cmd {
                PeerCommand::Send(Message::Piece(b)) => frames.push_block(b),
                PeerCommand::Send(m) => frames.push(&m),
                PeerCommand::Block(b, permit) => {
                    frames.push_block(b);
                    frames.permits.push(permit);
                }
            }
            if frames.len() >= WRITE_BATCH {
                break;
            }
            next = rx.try_recv().ok();
        }
        if let Err(e) = frames.write_to(&mut writer).await {
            return format!("write: {e}");
        }
    }
}

/// Encoded frames waiting for one vectored write. Small messages are encoded into one buffer;
/// a block's payload is not copied: its 13-byte header goes into that buffer and the payload
/// (the `Bytes` read from disk) follows as its own `iovec`.
#[derive(Default)]
struct Frames {
    small: BytesMut,
    chunks: Vec<Bytes>,
    len: usize,
    /// Permits of the queued blocks that carry one, released once they are written.
    permits: Vec<OwnedSemaphorePermit>,
}

impl Frames {
    /// Bytes queued.
    fn len(&self) -> usize {
        self.len
    }

    fn reserve_small(&mut self) {
        if self.small.capacity() - self.small.len() < 64 {
            // After `split` the rest of the allocation stays here; reserving reuses it once
            // the frames written from it are dropped.
            self.small.reserve(SMALL_FRAMES);
        }
    }

    /// Queues a message other than `piece` (encoded into the small-frame buffer).
    fn push(&mut self, m: &Message) {
        if let Message::Piece(b) = m {
            self.push_block(b.clone());
            return;
        }
        self.reserve_small();
        let before = self.small.len();
        m.encode(&mut self.small);
        self.len += self.small.len() - before;
    }

    /// Queues a `piece` message: its header into the small-frame buffer, its payload as is.
    fn push_block(&mut self, b: Block) {
        self.reserve_small();
        let data_len = u32::try_from(b.data.len()).unwrap_or(u32::MAX);
        self.small
            .extend_from_slice(&piece_header(b.index, b.begin, data_len));
        self.chunks.push(self.small.split().freeze());
        self.len += 13 + b.data.len();
        self.chunks.push(b.data);
    }

    /// Writes everything queued (`writev`, resuming after short writes) and empties the queue.
    async fn write_to(
        &mut self,
        writer: &mut tokio::net::tcp::OwnedWriteHalf,
    ) -> std::io::Result<()> {
        if !self.small.is_empty() {
            self.chunks.push(self.small.split().freeze());
        }
        let mut first = 0;
        while first < self.chunks.len() {
            let slices: Vec<IoSlice<'_>> = self.chunks[first..]
                .iter()
                .take(MAX_IOVECS)
                .map(|c| IoSlice::new(c))
                .collect();
            let mut n = writer.write_vectored(&slices).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            while n > 0 {
                let Some(c) = self.chunks.get_mut(first) else {
                    break;
                };
                if n >= c.len() {
                    n -= c.len();
                    first += 1;
                } else {
                    c.advance(n);
                    n = 0;
                }
            }
            while self.chunks.get(first).is_some_and(Bytes::is_empty) {
                first += 1;
            }
        }
        self.chunks.clear();
        self.permits.clear();
        self.len = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::net::TcpListener;
    use tokio::sync::Semaphore;

    use super::*;

    fn block(i: u32) -> Block {
        let data: Vec<u8> = (0..16 * 1024u32)
            .map(|k| (k ^ i.wrapping_mul(31)) as u8)
            .collect();
        Block {
            index: i / 64,
            begin: (i % 64) * 16 * 1024,
            data: Bytes::from(data),
        }
    }

    /// The vectored writer puts exactly the encoded messages on the wire, in order, across
    /// many short writes (the reader starts only once 12 MiB are queued, so the socket buffer
    /// fills up), and gives back every block's permit once the block is written.
    #[tokio::test]
    async fn writer_sends_messages_in_order_and_releases_block_permits() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = TcpStream::connect(addr).await.expect("connect");
        let (mut server, _) = listener.accept().await.expect("accept");
        let (_read_half, write_half) = client.into_split();
        let (tx, rx) = mpsc::channel(PEER_COMMAND_QUEUE);
        let writer = tokio::spawn(write_loop(write_half, rx));

        let room = Arc::new(Semaphore::new(1024));
        let mut expected = Vec::new();
        for i in 0..1000u32 {
            let cmd = match i % 4 {
                0 => PeerCommand::Send(Message::Have { index: i }),
                1 => PeerCommand::Send(Message::Piece(block(i))),
                _ => {
                    let permit = room.clone().try_acquire_owned().expect("room");
                    PeerCommand::Block(block(i), permit)
                }
            };
            match &cmd {
                PeerCommand::Send(m) => m.encode(&mut expected),
                PeerCommand::Block(b, _) => Message::Piece(b.clone()).encode(&mut expected),
            }
            tx.send(cmd).await.expect("queue");
        }
        drop(tx);
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.expect("read");
        assert_eq!(writer.await.expect("writer"), "closed by us");
        assert_eq!(got.len(), expected.len());
        assert!(
            got == expected,
            "bytes on the wire differ from the encoded messages"
        );
        assert_eq!(
            room.available_permits(),
            1024,
            "every block's permit is back"
        );
    }
}
