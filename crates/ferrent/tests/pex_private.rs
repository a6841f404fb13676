//! Peer exchange on the wire, and its absence for private torrents (BEP 11, BEP 27). A seeding
//! [`Session`] gets two raw-TCP peers on loopback: P, which tells its listen port, and the
//! observer O, which announces `ut_pex`. For a public torrent ferrent announces `ut_pex` to O
//! and soon sends it a message naming P (so the observation below can fail); for a private
//! torrent the same set-up sees no `ut_pex` in ferrent's extension handshake and no PEX message
//! within a bounded wait.
//!
//! DHT silence for private torrents is not tested here: on this branch the session's DHT node
//! only runs for magnet links, never for an added torrent.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use bytes::BytesMut;
use ferrent::{AddTorrent, PeerSources, Session, SessionConfig, TorrentHandle, TorrentState};
use ferrent_core::{CreateOptions, Id20, Metainfo, create_torrent};
use ferrent_proto::wire::{
    ExtendedHandshake, HANDSHAKE_LEN, Handshake, Message, MessageDecoder, PexMessage, Reserved,
    UT_PEX,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, sleep, timeout};

/// The id the observer receives `ut_pex` with.
const OBSERVER_PEX_ID: u8 = 9;
/// How long the observer listens for a PEX message. ferrent sends its first one as soon as the
/// observer's extension handshake is in and there is a peer to name, so a public torrent's
/// arrives within a second; a private torrent must stay silent for all of it.
const LISTEN_FOR: Duration = Duration::from_secs(8);
/// The listen port peer P tells in its extension handshake.
const P_PORT: u16 = 6001;

fn make_torrent(dir: &Path, private: bool) -> Metainfo {
    let file = dir.join("data.bin");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&file, data).expect("write payload");
    let created = create_torrent(
        &file,
        &CreateOptions {
            piece_length: Some(32 * 1024),
            private,
            ..CreateOptions::default()
        },
    )
    .expect("create torrent");
    Metainfo::from_bytes(&created.bytes).expect("parse torrent")
}

async fn wait_state(handle: &TorrentHandle, want: TorrentState) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while handle.stats().state != want {
        assert!(
            Instant::now() < deadline,
            "state {:?}",
            handle.stats().state
        );
        sleep(Duration::from_millis(20)).await;
    }
}

/// Connects from `ip` to `to`, exchanges BEP 3 handshakes (extension bit set) and sends `ext`.
async fn peer(
    ip: &str,
    to: SocketAddr,
    meta: &Metainfo,
    tag: u8,
    ext: ExtendedHandshake,
) -> TcpStream {
    let sock = TcpSocket::new_v4().expect("socket");
    sock.bind(SocketAddr::new(ip.parse::<IpAddr>().expect("ip"), 0))
        .expect("bind");
    let mut s = timeout(Duration::from_secs(10), sock.connect(to))
        .await
        .expect("connect in time")
        .expect("connect");
    let mut id = *b"-XX0001-pexobserver0";
    id[19] = tag;
    let hs = Handshake {
        reserved: Reserved::default()
            .with_extension_protocol(true)
            .with_fast(true),
        info_hash: meta.info_hash().wire_id(),
        peer_id: Id20(id),
    };
    s.write_all(&hs.to_bytes()).await.expect("send handshake");
    let mut theirs = [0u8; HANDSHAKE_LEN];
    timeout(Duration::from_secs(10), s.read_exact(&mut theirs))
        .await
        .expect("handshake in time")
        .expect("read handshake");
    s.write_all(&ext.to_message().to_vec())
        .await
        .expect("send extension handshake");
    s
}

/// What the observer saw.
#[derive(Debug, Default)]
struct Seen {
    /// ferrent's extension handshake announced `ut_pex`.
    announced: Option<bool>,
    /// PEX messages sent to the observer.
    pex: Vec<PexMessage>,
}

/// Reads from `s` for at most [`LISTEN_FOR`], or until a PEX message arrived.
async fn observe(s: &mut TcpStream) -> Seen {
    let mut seen = Seen::default();
    let mut dec = MessageDecoder::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let deadline = Instant::now() + LISTEN_FOR;
    while seen.pex.is_empty() {
        let Ok(read) = tokio::time::timeout_at(deadline, s.read_buf(&mut buf)).await else {
            break;
        };
        match read {
            Ok(0) | Err(_) => panic!("ferrent closed the observer's connection"),
            Ok(_) => {}
        }
        while let Some(m) = dec.decode(&mut buf).expect("ferrent sends valid messages") {
            match m {
                Message::Extended { id: 0, payload } => {
                    let hs = ExtendedHandshake::decode(&payload).expect("extension handshake");
                    seen.announced = Some(hs.extension_id(UT_PEX).is_some());
                }
                Message::Extended {
                    id: OBSERVER_PEX_ID,
                    payload,
                } => seen
                    .pex
                    .push(PexMessage::decode(&payload).expect("valid ut_pex")),
                _ => {}
            }
        }
    }
    seen
}

/// Seeds a (private or public) torrent on `ips[0]`; P connects from `ips[1]`, the observer from
/// `ips[2]`. Returns what the observer saw.
async fn run(private: bool, ips: [&str; 3]) -> Seen {
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = make_torrent(dir.path(), private);
    assert_eq!(meta.is_private(), private);
    assert_eq!(PeerSources::for_torrent(&meta).pex, !private);
    let ip: IpAddr = ips[0].parse().expect("ip");
    let seeder = Session::new(SessionConfig {
        listen: Some(SocketAddr::new(ip, 0)),
        bind_ip: Some(ip),
        ..SessionConfig::default()
    })
    .expect("session");
    let addr = seeder.local_addr().expect("listening");
    let mut add = AddTorrent::new(dir.path());
    add.upload_only = true;
    let handle = seeder.add_torrent(meta.clone(), add).await.expect("add");
    wait_state(&handle, TorrentState::Complete).await;

    let _p = peer(
        ips[1],
        addr,
        &meta,
        b'p',
        ExtendedHandshake {
            p: Some(P_PORT),
            ..ExtendedHandshake::default()
        },
    )
    .await;
    let mut ext = ExtendedHandshake {
        p: Some(P_PORT + 1),
        ..ExtendedHandshake::default()
    };
    ext.m.insert(UT_PEX.into(), OBSERVER_PEX_ID);
    let mut o = peer(ips[2], addr, &meta, b'o', ext).await;
    let seen = observe(&mut o).await;
    handle.stop().await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_torrent_sends_pex_naming_the_other_peer() {
    let seen = run(false, ["127.0.7.11", "127.0.7.12", "127.0.7.13"]).await;
    assert_eq!(seen.announced, Some(true), "{seen:?}");
    let want: SocketAddr = format!("127.0.7.12:{P_PORT}").parse().expect("addr");
    let named: Vec<SocketAddr> = seen
        .pex
        .iter()
        .flat_map(|m| m.added.iter().map(|p| p.addr))
        .collect();
    assert_eq!(named, vec![want], "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_torrent_sends_no_pex() {
    let seen = run(true, ["127.0.7.21", "127.0.7.22", "127.0.7.23"]).await;
    assert_eq!(seen.announced, Some(false), "{seen:?}");
    assert!(seen.pex.is_empty(), "{seen:?}");
}
