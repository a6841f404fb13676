//! A magnet download where one of the peers lies about the metadata (issue 5, "hostile
//! metadata"): a libtorrent seeder (named by `x.pe`) and a fake peer (`--peer`, raw TCP in a
//! thread) that announces the right `metadata_size` but flips a byte in every metadata piece it
//! sends. The info dictionary is ~160 KiB (10 metadata pieces), so ferrent asks both at once; the
//! copy fails the info-hash, ferrent finds the liar, and the download from libtorrent completes
//! with equal bytes.

mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::Swarm;

/// The id ferrent asks `ut_metadata` messages to be sent under (its extension handshake).
const FERRENT_UT_METADATA: u8 = 3;
/// The id the liar wants them under.
const LIAR_UT_METADATA: u8 = 7;

/// The lying peer; stopped (and joined) on drop.
struct Liar {
    addr: SocketAddr,
    served: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Liar {
    fn start(ip: Ipv4Addr, info: Vec<u8>) -> Self {
        // A blocking accept, so the liar answers as fast as libtorrent does; drop wakes it
        // with a connection of its own.
        let listener = TcpListener::bind((ip, 0)).expect("bind liar");
        let addr = listener.local_addr().expect("addr");
        let (served, stop) = (
            Arc::new(AtomicU32::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (s2, st2) = (served.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            while !st2.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(180) {
                if let Ok((stream, _)) = listener.accept() {
                    let _ = serve(stream, &info, &s2, &st2);
                }
            }
        });
        Liar {
            addr,
            served,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Liar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn message(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut m = ((payload.len() + 1) as u32).to_be_bytes().to_vec();
    m.push(id);
    m.extend_from_slice(payload);
    m
}

/// One connection: handshakes, then answers every `ut_metadata` request with corrupt bytes.
fn serve(
    mut s: TcpStream,
    info: &[u8],
    served: &AtomicU32,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut hs = [0u8; 68];
    s.read_exact(&mut hs)?;
    let mut reply = hs[..20].to_vec();
    reply.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0]); // extension protocol (BEP 10)
    reply.extend_from_slice(&hs[28..48]); // the info-hash asked for
    reply.extend_from_slice(b"-XX0001-liarliarliar");
    let ext = format!(
        "d1:md11:ut_metadatai{LIAR_UT_METADATA}ee13:metadata_sizei{}ee",
        info.len()
    );
    let mut ext_msg = vec![0u8];
    ext_msg.extend_from_slice(ext.as_bytes());
    reply.extend_from_slice(&message(20, &ext_msg));
    s.write_all(&reply)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    while !stop.load(Ordering::Relaxed) {
        match s.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(e) => return Err(e),
        }
        while buf.len() >= 4 {
            let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if len > 1 << 20 {
                return Ok(());
            }
            if buf.len() < 4 + len {
                break;
            }
            let body: Vec<u8> = buf.drain(..4 + len).skip(4).collect();
            if body.len() < 2 || body[0] != 20 || body[1] != LIAR_UT_METADATA {
                continue;
            }
            let text = String::from_utf8_lossy(&body[2..]);
            let Some(piece) = text
                .split("5:piecei")
                .nth(1)
                .and_then(|r| r.split('e').next())
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            let start = piece * 16384;
            let Some(data) = info.get(start..(start + 16384).min(info.len())) else {
                continue;
            };
            let mut payload = vec![FERRENT_UT_METADATA];
            payload.extend_from_slice(
                format!(
                    "d8:msg_typei1e5:piecei{piece}e10:total_sizei{}ee",
                    info.len()
                )
                .as_bytes(),
            );
            let mut bad = data.to_vec();
            bad[0] ^= 0x5a;
            payload.extend_from_slice(&bad);
            s.write_all(&message(20, &payload))?;
            served.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

#[test]
fn magnet_download_with_a_lying_peer_beside_libtorrent() {
    let s = Swarm::new("magnet-liar");
    let payload = s.payload("128M", 0);
    // 16 KiB pieces: 8,192 piece hashes, a ~160 KiB info dictionary (10 metadata pieces).
    let torrent = s.torrent(&payload, "http://127.0.0.1:1/announce", 16);
    let meta = ferrent_core::Metainfo::from_bytes(&std::fs::read(&torrent).expect("read torrent"))
        .expect("torrent");
    assert!(meta.info_bytes().len() > 9 * 16384);
    let hash = meta.info_hash().wire_id().to_hex();
    let root = payload.parent().expect("root");
    let port = s.seed_client("libtorrent", &torrent, root, "127.0.9.21", &[]);
    let liar = Liar::start(Ipv4Addr::new(127, 0, 9, 20), meta.info_bytes().to_vec());

    let magnet = format!("magnet:?xt=urn:btih:{hash}&dn=liar-test&x.pe=127.0.9.21:{port}");
    let dl = s.path("dl");
    let out = s.download(
        &magnet,
        &dl,
        "127.0.9.22",
        Duration::from_secs(60),
        &["--peer", &liar.addr.to_string()],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "download failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("metadata received"), "{text}");
    assert!(
        liar.served.load(Ordering::Relaxed) > 0,
        "the liar took part in the fetch"
    );
    assert!(s.same_bytes(&payload, &dl), "bytes differ");
}
