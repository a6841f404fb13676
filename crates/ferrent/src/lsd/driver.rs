//! [`Lsd`]: the tokio driver of an [`LsdCore`]: a socket joined to the multicast group to
//! receive, one bound to our IP to send from, one timer, bounded channels.
// The driver reads the clock; the core it drives does not (`lsd/mod.rs` denies it there).
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use ferrent_core::Id20;
use ferrent_proto::lsd::{LSD_GROUP_V4, MAX_MESSAGE_SIZE, host_header};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{LsdCore, LsdStats};
use crate::torrent::DriverEvent;

/// Commands queued from handles to the driver task.
pub const LSD_COMMAND_QUEUE: usize = 64;

/// How to start an [`Lsd`].
#[derive(Debug, Clone)]
pub struct LsdConfig {
    /// Our local IP (announces are sent from it and the group is joined on its interface);
    /// `None`: the default interface.
    pub bind_ip: Option<IpAddr>,
    /// The TCP port we accept peers on (what we announce).
    pub port: u16,
    /// Period between a torrent's announces ([`super::DEFAULT_LSD_INTERVAL`]).
    pub interval: Duration,
    /// The multicast group ([`LSD_GROUP_V4`]).
    pub group: SocketAddrV4,
}

impl LsdConfig {
    /// BEP 14's group, the default interval.
    pub fn new(bind_ip: Option<IpAddr>, port: u16) -> Self {
        LsdConfig {
            bind_ip,
            port,
            interval: super::DEFAULT_LSD_INTERVAL,
            group: LSD_GROUP_V4,
        }
    }
}

enum Command {
    Add(Id20, mpsc::Sender<DriverEvent>),
    Remove(Id20),
    Stats(oneshot::Sender<LsdStats>),
}

/// Local Service Discovery on the IPv4 group. Dropping it stops the task.
#[derive(Debug)]
pub struct Lsd {
    tx: mpsc::Sender<Command>,
    task: JoinHandle<()>,
}

impl Drop for Lsd {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Lsd {
    /// Opens the sockets and starts the task. Must be called inside a tokio runtime.
    pub fn start(config: LsdConfig) -> io::Result<Lsd> {
        let iface = match config.bind_ip {
            Some(IpAddr::V4(ip)) => ip,
            _ => Ipv4Addr::UNSPECIFIED,
        };
        let recv = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        // Other clients on this host listen on the same port.
        recv.set_reuse_address(true)?;
        recv.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.group.port())).into())?;
        recv.join_multicast_v4(config.group.ip(), &iface)?;
        recv.set_nonblocking(true)?;
        let recv = UdpSocket::from_std(recv.into())?;

        let send = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        send.bind(&SocketAddr::from((iface, 0)).into())?;
        if !iface.is_unspecified() {
            send.set_multicast_if_v4(&iface)?;
        }
        // Other clients on this host must hear us; TTL 1 keeps announces on the local link.
        send.set_multicast_loop_v4(true)?;
        send.set_multicast_ttl_v4(1)?;
        send.set_nonblocking(true)?;
        let send = UdpSocket::from_std(send.into())?;

        let cookie = format!("{:08x}", rand::random::<u32>());
        let core = LsdCore::new(
            config.port,
            cookie,
            config.interval,
            host_header(config.group.into()),
            Instant::now(),
        );
        let (tx, rx) = mpsc::channel(LSD_COMMAND_QUEUE);
        let task = tokio::spawn(run(core, recv, send, config.group.into(), rx));
        Ok(Lsd { tx, task })
    }

    /// Announces `info_hash` from now on; peers announcing it go to `peers`.
    pub async fn add(&self, info_hash: Id20, peers: mpsc::Sender<DriverEvent>) {
        let _ = self.tx.send(Command::Add(info_hash, peers)).await;
    }

    /// Stops announcing `info_hash`.
    pub async fn remove(&self, info_hash: Id20) {
        let _ = self.tx.send(Command::Remove(info_hash)).await;
    }

    /// The counters (`None` when the task has stopped).
    pub async fn stats(&self) -> Option<LsdStats> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::Stats(tx)).await.ok()?;
        rx.await.ok()
    }
}

async fn run(
    mut core: LsdCore,
    recv: UdpSocket,
    send: UdpSocket,
    group: SocketAddr,
    mut rx: mpsc::Receiver<Command>,
) {
    let mut torrents: HashMap<Id20, mpsc::Sender<DriverEvent>> = HashMap::new();
    // One byte more than the limit, so an oversized datagram is seen as such.
    let mut buf = vec![0u8; MAX_MESSAGE_SIZE + 1];
    loop {
        while let Some(bytes) = core.poll_transmit(Instant::now()) {
            if let Err(e) = send.send_to(&bytes, group).await {
                tracing::debug!(error = %e, "LSD announce not sent");
            }
        }
        let deadline = core.poll_timeout().map(tokio::time::Instant::from_std);
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = recv.recv_from(&mut buf) => {
                let Ok((n, from)) = r else { continue };
                let bytes = buf.get(..n).unwrap_or_default();
                for (ih, peer) in core.handle_datagram(Instant::now(), from, bytes) {
                    let Some(tx) = torrents.get(&ih) else { continue };
                    tracing::debug!(%peer, "LSD peer for {ih}");
                    if let Err(mpsc::error::TrySendError::Closed(_)) =
                        tx.try_send(DriverEvent::AddPeers(vec![peer]))
                    {
                        torrents.remove(&ih);
                        core.remove_torrent(&ih, Instant::now());
                    }
                }
            }
            cmd = rx.recv() => match cmd {
                None => break,
                Some(Command::Add(ih, tx)) => {
                    core.add_torrent(ih, Instant::now());
                    torrents.insert(ih, tx);
                }
                Some(Command::Remove(ih)) => {
                    torrents.remove(&ih);
                    core.remove_torrent(&ih, Instant::now());
                }
                Some(Command::Stats(reply)) => { let _ = reply.send(core.stats()); }
            },
            _ = sleep => {}
        }
    }
}
