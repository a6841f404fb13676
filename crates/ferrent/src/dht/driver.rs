//! [`Dht`]: the thin tokio driver of a [`DhtNode`] over one UDP socket (DESIGN.md rule 5: drain
//! input, handle, write output, one timer, bounded channels).

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use ferrent_proto::dht::{MAX_PACKET_SIZE, NodeId, NodeInfo};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::node::{DhtConfig, DhtError, DhtEvent, DhtNode, DhtStats, LookupId};

/// Commands queued from handles to the driver task.
pub const DHT_COMMAND_QUEUE: usize = 64;

/// Events queued from the driver to the owner of the event receiver; when it is full, events are
/// dropped (the node's lookups go on) rather than stalling the socket.
pub const DHT_EVENT_QUEUE: usize = 256;

/// Datagrams handled per wake-up before the task yields.
pub const MAX_DATAGRAMS_PER_WAKEUP: usize = 64;

enum Command {
    GetPeers(
        NodeId,
        Option<Option<u16>>,
        oneshot::Sender<Result<LookupId, DhtError>>,
    ),
    AddNode(SocketAddr),
    Stats(oneshot::Sender<DhtStats>),
    Nodes(oneshot::Sender<Vec<NodeInfo>>),
}

/// A running DHT node on a UDP socket. Dropping it stops the task; its methods are those of
/// [`DhtHandle`] (through `Deref`).
#[derive(Debug)]
pub struct Dht {
    handle: DhtHandle,
    task: JoinHandle<()>,
}

/// A cheap, clonable way to command a running [`Dht`] (it does not keep the task alive).
#[derive(Debug, Clone)]
pub struct DhtHandle {
    tx: mpsc::Sender<Command>,
    local_addr: SocketAddr,
}

impl Drop for Dht {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::ops::Deref for Dht {
    type Target = DhtHandle;
    fn deref(&self) -> &DhtHandle {
        &self.handle
    }
}

impl Dht {
    /// Binds `addr`, starts the node (it bootstraps from `config.bootstrap` at once) and returns
    /// it with the receiver of its events.
    pub async fn bind(
        addr: SocketAddr,
        config: DhtConfig,
    ) -> io::Result<(Dht, mpsc::Receiver<DhtEvent>)> {
        Dht::from_std(std::net::UdpSocket::bind(addr)?, config)
    }

    /// Like [`bind`](Self::bind) on a socket bound already; must be called inside a tokio
    /// runtime (it spawns the driver task).
    pub fn from_std(
        sock: std::net::UdpSocket,
        config: DhtConfig,
    ) -> io::Result<(Dht, mpsc::Receiver<DhtEvent>)> {
        sock.set_nonblocking(true)?;
        let sock = UdpSocket::from_std(sock)?;
        let local_addr = sock.local_addr()?;
        let (tx, rx) = mpsc::channel(DHT_COMMAND_QUEUE);
        let (ev_tx, ev_rx) = mpsc::channel(DHT_EVENT_QUEUE);
        let node = DhtNode::new(config, Instant::now());
        let task = tokio::spawn(run(sock, node, rx, ev_tx));
        Ok((
            Dht {
                handle: DhtHandle { tx, local_addr },
                task,
            },
            ev_rx,
        ))
    }

    /// A clonable handle to this node.
    pub fn handle(&self) -> DhtHandle {
        self.handle.clone()
    }
}

impl DhtHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    async fn lookup(
        &self,
        ih: NodeId,
        announce: Option<Option<u16>>,
    ) -> Result<LookupId, DhtError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::GetPeers(ih, announce, tx))
            .await
            .map_err(|_| DhtError::Stopped)?;
        rx.await.map_err(|_| DhtError::Stopped)?
    }

    /// Starts a get_peers lookup (peers arrive as events).
    pub async fn get_peers(&self, info_hash: NodeId) -> Result<LookupId, DhtError> {
        self.lookup(info_hash, None).await
    }

    /// Starts a get_peers lookup that ends with announce_peer (`port` `None` = implied port).
    pub async fn announce(
        &self,
        info_hash: NodeId,
        port: Option<u16>,
    ) -> Result<LookupId, DhtError> {
        self.lookup(info_hash, Some(port)).await
    }

    /// Pings `addr`, which joins the table when it answers.
    pub async fn add_node(&self, addr: SocketAddr) -> Result<(), DhtError> {
        self.tx
            .send(Command::AddNode(addr))
            .await
            .map_err(|_| DhtError::Stopped)
    }

    /// The node's counters.
    pub async fn stats(&self) -> Result<DhtStats, DhtError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Stats(tx))
            .await
            .map_err(|_| DhtError::Stopped)?;
        rx.await.map_err(|_| DhtError::Stopped)
    }

    /// The routing table's nodes (to save them with [`super::save_table`]).
    pub async fn routing_nodes(&self) -> Result<Vec<NodeInfo>, DhtError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Nodes(tx))
            .await
            .map_err(|_| DhtError::Stopped)?;
        rx.await.map_err(|_| DhtError::Stopped)
    }
}

async fn run(
    sock: UdpSocket,
    mut node: DhtNode,
    mut rx: mpsc::Receiver<Command>,
    ev_tx: mpsc::Sender<DhtEvent>,
) {
    // One byte more than the limit, so an oversized datagram is seen as such, not truncated.
    let mut buf = vec![0u8; MAX_PACKET_SIZE + 1];
    let mut out = Vec::with_capacity(MAX_PACKET_SIZE);
    loop {
        while let Some(to) = node.poll_transmit(&mut out) {
            if let Err(e) = sock.send_to(&out, to).await {
                tracing::debug!(%to, error = %e, "dht send failed");
            }
        }
        while let Some(ev) = node.poll_event() {
            if ev_tx.try_send(ev).is_err() {
                tracing::debug!("dht event dropped: receiver full or gone");
            }
        }
        let deadline = node.poll_timeout().map(tokio::time::Instant::from_std);
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                if let Ok((n, from)) = r {
                    node.handle_packet(Instant::now(), from, buf.get(..n).unwrap_or_default());
                    for _ in 1..MAX_DATAGRAMS_PER_WAKEUP {
                        match sock.try_recv_from(&mut buf) {
                            Ok((n, from)) => node.handle_packet(Instant::now(), from, buf.get(..n).unwrap_or_default()),
                            Err(_) => break,
                        }
                    }
                }
            }
            cmd = rx.recv() => match cmd {
                None => break,
                Some(Command::GetPeers(ih, announce, reply)) => {
                    let now = Instant::now();
                    let r = match announce {
                        None => node.get_peers(now, ih),
                        Some(port) => node.announce(now, ih, port),
                    };
                    let _ = reply.send(r);
                }
                Some(Command::AddNode(a)) => node.add_node(Instant::now(), a),
                Some(Command::Stats(reply)) => { let _ = reply.send(node.stats()); }
                Some(Command::Nodes(reply)) => { let _ = reply.send(node.routing_nodes()); }
            },
            _ = sleep => node.handle_timeout(Instant::now()),
        }
    }
}
