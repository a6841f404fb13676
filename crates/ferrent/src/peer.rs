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

use bytes::BytesMut;
use ferrent_core::Id20;
use ferrent_proto::wire::{HANDSHAKE_LEN, Handshake, Message, MessageDecoder, Reserved};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;

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

async fn write_loop(
    mut writer: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::Receiver<PeerCommand>,
) -> String {
    let mut out = BytesMut::with_capacity(64 * 1024);
    loop {
        let cmd = match tokio::time::timeout(KEEPALIVE_INTERVAL, rx.recv()).await {
            Err(_) => Some(PeerCommand::Send(Message::KeepAlive)),
            Ok(None) => return "closed by us".into(),
            Ok(Some(c)) => Some(c),
        };
        // Batch whatever else is queued into the same write.
        let mut next = cmd;
        while let Some(PeerCommand::Send(m)) = next {
            m.encode(&mut out);
            if out.len() >= 256 * 1024 {
                break;
            }
            next = rx.try_recv().ok();
        }
        if let Err(e) = writer.write_all(&out).await {
            return format!("write: {e}");
        }
        out.clear();
    }
}
