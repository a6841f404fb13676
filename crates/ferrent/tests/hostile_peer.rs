//! Hostile peers over raw TCP on loopback (issue 4, "Bad peers"): a seeding [`Session`] must
//! close each misbehaving connection (oversized length prefix, out-of-range `have`, wrong-size
//! bitfield, garbage after or instead of the handshake, a request flood, requests past the end)
//! and stay healthy, so that a normal download from it still completes with equal bytes. The
//! other direction too: a fake seeder that a downloading session connects to, which sends an
//! oversized message or a bitfield with spare bits set, is dropped without a crash.
//!
//! Every wait is bounded; every session and task is stopped by the test.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::BufMut;
use ferrent::{AddTorrent, Session, SessionConfig, TorrentHandle, TorrentState};
use ferrent_core::{CreateOptions, Id20, Metainfo, create_torrent};
use ferrent_proto::wire::{BlockRequest, HANDSHAKE_LEN, Handshake, Message, Reserved};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, sleep, timeout};

/// Piece length of the test torrent.
const PIECE: u64 = 32 * 1024;
/// Payload size: 20 whole pieces and a short last one (21 pieces).
const SIZE: usize = 20 * PIECE as usize + 5_000;
const NUM_PIECES: u32 = 21;
/// Requests sent in the flood (see case f1).
const FLOOD: u32 = 8000;
/// How long ferrent gets to close a hostile connection.
const CLOSE_WITHIN: Duration = Duration::from_secs(10);

fn payload() -> Vec<u8> {
    (0..SIZE as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// Writes the payload as `dir/data.bin` and returns its torrent.
fn make_torrent(dir: &Path, data: &[u8]) -> Metainfo {
    let file = dir.join("data.bin");
    std::fs::write(&file, data).expect("write payload");
    let created = create_torrent(
        &file,
        &CreateOptions {
            piece_length: Some(PIECE),
            ..CreateOptions::default()
        },
    )
    .expect("create torrent");
    Metainfo::from_bytes(&created.bytes).expect("parse torrent")
}

fn peer_id(tag: u8) -> Id20 {
    let mut id = *b"-XX0001-hostilepeer0";
    id[19] = tag;
    Id20(id)
}

fn handshake(meta: &Metainfo, tag: u8) -> [u8; HANDSHAKE_LEN] {
    Handshake {
        reserved: Reserved::default(),
        info_hash: meta.info_hash().wire_id(),
        peer_id: peer_id(tag),
    }
    .to_bytes()
}

async fn wait_state(handle: &TorrentHandle, want: TorrentState, within: Duration) {
    let deadline = Instant::now() + within;
    while handle.stats().state != want {
        assert!(
            Instant::now() < deadline,
            "state {:?}, wanted {want:?}",
            handle.stats().state
        );
        sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_peers(handle: &TorrentHandle, want: u32, within: Duration) {
    let deadline = Instant::now() + within;
    while handle.stats().peers_connected != want {
        assert!(
            Instant::now() < deadline,
            "{} peers connected, wanted {want}",
            handle.stats().peers_connected
        );
        sleep(Duration::from_millis(20)).await;
    }
}

/// Reads (and discards) until ferrent closes the connection: EOF or a reset within
/// [`CLOSE_WITHIN`]. Panics when it stays open.
async fn assert_closed(stream: &mut TcpStream, what: &str) {
    let mut buf = vec![0u8; 64 * 1024];
    let outcome = timeout(CLOSE_WITHIN, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(outcome.is_ok(), "{what}: ferrent kept the connection open");
}

/// Connects, sends a correct handshake and reads ferrent's.
async fn handshaken(addr: SocketAddr, meta: &Metainfo, tag: u8) -> TcpStream {
    let mut s = timeout(CLOSE_WITHIN, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    s.write_all(&handshake(meta, tag))
        .await
        .expect("send handshake");
    let mut hs = [0u8; HANDSHAKE_LEN];
    timeout(CLOSE_WITHIN, s.read_exact(&mut hs))
        .await
        .expect("handshake in time")
        .expect("read handshake");
    let theirs = Handshake::decode_slice(&hs)
        .expect("valid handshake")
        .expect("whole handshake");
    assert_eq!(theirs.info_hash, meta.info_hash().wire_id());
    s
}

fn msg(m: &Message) -> Vec<u8> {
    m.to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeder_drops_hostile_peers_and_keeps_serving() {
    let data = payload();
    let seed_dir = tempfile::tempdir().expect("tempdir");
    let meta = make_torrent(seed_dir.path(), &data);
    assert_eq!(meta.layout().num_pieces(), NUM_PIECES);

    let seeder = Session::new(SessionConfig {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        ..SessionConfig::default()
    })
    .expect("seeding session");
    let addr = seeder.local_addr().expect("listening");
    let mut add = AddTorrent::new(seed_dir.path());
    add.upload_only = true;
    let handle = seeder
        .add_torrent(meta.clone(), add)
        .await
        .expect("add torrent to seeder");
    wait_state(&handle, TorrentState::Complete, Duration::from_secs(20)).await;

    // (a) A correct handshake, then a length prefix of 0xFFFF_FFF0.
    let mut s = handshaken(addr, &meta, b'a').await;
    s.write_all(&0xFFFF_FFF0u32.to_be_bytes())
        .await
        .expect("write");
    s.write_all(&[7u8; 64]).await.expect("write");
    assert_closed(&mut s, "(a) oversized length prefix").await;

    // (b) A `have` with an index past the last piece.
    let mut s = handshaken(addr, &meta, b'b').await;
    s.write_all(&msg(&Message::Have {
        index: NUM_PIECES + 7,
    }))
    .await
    .expect("write");
    assert_closed(&mut s, "(b) have out of range").await;

    // (c) A bitfield of the wrong length (21 pieces need 3 bytes; send 9).
    let mut s = handshaken(addr, &meta, b'c').await;
    s.write_all(&msg(&Message::Bitfield(vec![0xff; 9].into())))
        .await
        .expect("write");
    assert_closed(&mut s, "(c) bitfield of the wrong length").await;

    // (d) Garbage right after the handshake: a message length no message has (a `have` of 9
    // bytes), then noise.
    let mut s = handshaken(addr, &meta, b'd').await;
    let mut junk = Vec::new();
    junk.put_u32(9);
    junk.put_u8(4);
    junk.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef]);
    junk.extend((0..4000u32).map(|i| (i * 97 % 256) as u8));
    s.write_all(&junk).await.expect("write");
    assert_closed(&mut s, "(d) garbage after the handshake").await;

    // (e) Garbage instead of a handshake.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n and then some more bytes to pass 68 ......")
        .await
        .expect("write");
    assert_closed(&mut s, "(e) garbage instead of a handshake").await;

    // (f1) A request flood: interested, then FLOOD requests without reading a reply. ferrent
    // counts a request as answered once its block is queued for the socket (a per-peer queue
    // of PEER_COMMAND_QUEUE messages), so a flood only exceeds OUR_REQQ outstanding once that
    // queue and the socket buffers are full: a few hundred requests are not enough, 8000 are
    // (OUR_REQQ is 2000).
    let s = handshaken(addr, &meta, b'f').await;
    let mut flood = msg(&Message::Interested);
    for i in 0..FLOOD {
        let index = i % (NUM_PIECES - 1);
        let begin = (i / (NUM_PIECES - 1)) % 2 * 16_384;
        Message::Request(BlockRequest {
            index,
            begin,
            length: 16_384,
        })
        .encode(&mut flood);
    }
    // Written from a task so a full socket buffer cannot block the test; we do not read yet.
    let (mut rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&flood).await;
        wr
    });
    sleep(Duration::from_millis(500)).await;
    let mut buf = vec![0u8; 64 * 1024];
    let closed = timeout(CLOSE_WITHIN, async {
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "(f1) request flood: connection kept open");
    let _ = timeout(CLOSE_WITHIN, writer).await.expect("writer ends");

    // (f2) A request for a piece past the end.
    let mut s = handshaken(addr, &meta, b'g').await;
    s.write_all(&msg(&Message::Interested))
        .await
        .expect("write");
    s.write_all(&msg(&Message::Request(BlockRequest {
        index: NUM_PIECES + 100,
        begin: 0,
        length: 16_384,
    })))
    .await
    .expect("write");
    assert_closed(&mut s, "(f2) request past the end").await;

    // The seeder is healthy: every hostile connection is gone, and a real download completes.
    wait_peers(&handle, 0, CLOSE_WITHIN).await;
    assert_eq!(handle.stats().state, TorrentState::Complete);

    let leech_dir = tempfile::tempdir().expect("tempdir");
    let leecher = Session::new(SessionConfig::default()).expect("leeching session");
    let mut add = AddTorrent::new(leech_dir.path());
    add.peers = vec![addr];
    let mut leech = leecher
        .add_torrent(meta.clone(), add)
        .await
        .expect("add torrent to leecher");
    let state = timeout(Duration::from_secs(60), leech.wait_finished())
        .await
        .expect("download finishes in time");
    assert_eq!(state, TorrentState::Complete);
    let got = std::fs::read(leech_dir.path().join("data.bin")).expect("downloaded file");
    assert!(got == data, "downloaded bytes differ");
    assert!(handle.stats().uploaded >= SIZE as u64);

    leech.stop().await;
    handle.stop().await;
    drop(leecher);
    drop(seeder);
}

/// A fake seeder: accepts one connection, answers the handshake, sends `hostile`, and returns
/// whether ferrent then closed the connection (EOF or reset within [`CLOSE_WITHIN`]).
async fn fake_seeder(listener: TcpListener, meta: Metainfo, hostile: Vec<u8>) -> bool {
    let Ok(Ok((mut s, _))) = timeout(CLOSE_WITHIN, listener.accept()).await else {
        return false;
    };
    drop(listener);
    let mut hs = [0u8; HANDSHAKE_LEN];
    if timeout(CLOSE_WITHIN, s.read_exact(&mut hs)).await.is_err() {
        return false;
    }
    if s.write_all(&handshake(&meta, b's')).await.is_err() {
        return true;
    }
    let _ = s.write_all(&hostile).await;
    let mut buf = vec![0u8; 16 * 1024];
    timeout(CLOSE_WITHIN, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

async fn downloader_drops_fake_seeder(hostile: Vec<u8>, what: &str) {
    let data = payload();
    let src = tempfile::tempdir().expect("tempdir");
    let meta = make_torrent(src.path(), &data);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let fake_addr = listener.local_addr().expect("addr");
    let fake = tokio::spawn(fake_seeder(listener, meta.clone(), hostile));

    let dir = tempfile::tempdir().expect("tempdir");
    let session = Session::new(SessionConfig::default()).expect("session");
    let mut add = AddTorrent::new(dir.path());
    add.peers = vec![fake_addr];
    let handle = session.add_torrent(meta, add).await.expect("add torrent");

    let closed = timeout(CLOSE_WITHIN * 2, fake)
        .await
        .expect("fake seeder ends")
        .expect("fake seeder task");
    assert!(closed, "{what}: ferrent did not close the connection");
    wait_peers(&handle, 0, CLOSE_WITHIN).await;
    let st = handle.stats();
    assert_eq!(st.state, TorrentState::Downloading, "{what}");
    assert_eq!(st.pieces_have, 0, "{what}");
    handle.stop().await;
    drop(session);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloader_drops_seeder_with_oversized_message() {
    let mut m = msg(&Message::HaveNone);
    m.clear();
    m.put_u32(0xFFFF_FFF0);
    m.put_u8(7);
    m.extend_from_slice(&[0u8; 1024]);
    downloader_drops_fake_seeder(m, "oversized message").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloader_drops_seeder_with_spare_bitfield_bits() {
    // 21 pieces: 3 bytes, the last 3 bits are spare and must be zero.
    let m = msg(&Message::Bitfield(vec![0xff, 0xff, 0xff].into()));
    downloader_drops_fake_seeder(m, "bitfield with spare bits").await;
}
