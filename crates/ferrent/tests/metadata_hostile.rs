//! Hostile metadata (issue 5): fake peers on loopback speak the handshake, BEP 10 and BEP 9
//! over raw TCP, and a [`Session`] fetches a magnet link's info dictionary from them:
//! (a) a peer announcing `metadata_size` above the cap is never asked (nothing is allocated for
//! it) and a good peer supplies the metadata; (b) a peer serving bytes that fail the info-hash,
//! beside a good peer: the fetch returns the right info dictionary and leaves the liar out of
//! the peers for the download; (c) a peer that rejects every request, beside a good one and
//! alone; (d) a lone liar ends the fetch with a clear error.
//!
//! Every wait is bounded; the fake peers stop with the test's runtime.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrent::{Session, SessionConfig};
use ferrent_core::{Id20, Magnet};
use ferrent_proto::wire::{
    ExtendedHandshake, HANDSHAKE_LEN, Handshake, Message, MessageDecoder, MetadataMessage,
    Reserved, UT_METADATA,
};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// The id the fake peers want `ut_metadata` messages under.
const THEIR_UT_METADATA: u8 = 7;
/// Longest one fetch may take here (the engine's own limit is 60 s).
const FETCH_WITHIN: Duration = Duration::from_secs(50);

/// A v1 info dictionary of about 100 KiB (7 metadata pieces): 5,000 pieces of 16 KiB.
fn info_dict() -> (Vec<u8>, Id20) {
    let n = 5_000usize;
    let hashes: Vec<u8> = (0..n * 20)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let mut info = format!(
        "d6:lengthi{}e4:name8:test.bin12:piece lengthi16384e6:pieces{}:",
        n * 16384,
        hashes.len()
    )
    .into_bytes();
    info.extend_from_slice(&hashes);
    info.push(b'e');
    let hash = Id20(Sha1::digest(&info).into());
    (info, hash)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Serves the right bytes, each piece after `delay_ms`.
    Good { delay_ms: u64 },
    /// Serves the right size with a flipped byte in every piece.
    Liar,
    /// Announces 1 GiB of metadata.
    Huge,
    /// Rejects every request.
    Rejecter,
}

/// A fake peer: counts the `ut_metadata` requests it received.
struct FakePeer {
    addr: SocketAddr,
    requests: Arc<AtomicU32>,
}

async fn fake_peer(ip: [u8; 4], info: Arc<Vec<u8>>, info_hash: Id20, kind: Kind) -> FakePeer {
    let listener = TcpListener::bind(SocketAddr::new(IpAddr::from(ip), 0))
        .await
        .expect("bind fake peer");
    let addr = listener.local_addr().expect("local addr");
    let requests = Arc::new(AtomicU32::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (info, counter) = (info.clone(), counter.clone());
            tokio::spawn(async move {
                let _ = serve(stream, &info, info_hash, kind, &counter).await;
            });
        }
    });
    FakePeer { addr, requests }
}

async fn serve(
    mut stream: TcpStream,
    info: &[u8],
    info_hash: Id20,
    kind: Kind,
    requests: &AtomicU32,
) -> std::io::Result<()> {
    let mut hs = [0u8; HANDSHAKE_LEN];
    stream.read_exact(&mut hs).await?;
    let mut out = BytesMut::new();
    Handshake {
        reserved: Reserved::default().with_extension_protocol(true),
        info_hash,
        peer_id: Id20(*b"-XX0001-fakemetadata"),
    }
    .encode(&mut out);
    let mut ext = ExtendedHandshake::default();
    ext.m.insert(UT_METADATA.into(), THEIR_UT_METADATA);
    ext.metadata_size = Some(match kind {
        Kind::Huge => 1 << 30,
        _ => info.len() as u64,
    });
    ext.to_message().encode(&mut out);
    stream.write_all(&out).await?;

    let mut buf = BytesMut::new();
    let mut decoder = MessageDecoder::new();
    loop {
        if stream.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
        while let Ok(Some(msg)) = decoder.decode(&mut buf) {
            let Message::Extended {
                id: THEIR_UT_METADATA,
                payload,
            } = msg
            else {
                continue;
            };
            let Ok(MetadataMessage::Request { piece }) = MetadataMessage::decode(&payload) else {
                continue;
            };
            requests.fetch_add(1, Ordering::Relaxed);
            let start = piece as usize * 16384;
            let chunk = info
                .get(start..(start + 16384).min(info.len()))
                .unwrap_or(&[]);
            let reply = match kind {
                Kind::Rejecter | Kind::Huge => MetadataMessage::Reject { piece },
                Kind::Good { delay_ms } => {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    MetadataMessage::Data {
                        piece,
                        total_size: info.len() as u32,
                        data: Bytes::copy_from_slice(chunk),
                    }
                }
                Kind::Liar => {
                    let mut bad = chunk.to_vec();
                    if let Some(b) = bad.first_mut() {
                        *b ^= 0x5a;
                    }
                    MetadataMessage::Data {
                        piece,
                        total_size: info.len() as u32,
                        data: Bytes::from(bad),
                    }
                }
            };
            let mut out = BytesMut::new();
            Message::Extended {
                id: 3, // ferrent's OUR_UT_METADATA_ID, from its extension handshake
                payload: reply.to_bytes(),
            }
            .encode(&mut out);
            stream.write_all(&out).await?;
        }
    }
}

fn session(ip: [u8; 4]) -> Session {
    Session::new(SessionConfig {
        bind_ip: Some(IpAddr::from(ip)),
        ..SessionConfig::default()
    })
    .expect("session")
}

fn magnet(info_hash: Id20) -> Magnet {
    Magnet::parse(&format!(
        "magnet:?xt=urn:btih:{}&dn=test.bin",
        info_hash.to_hex()
    ))
    .expect("magnet")
}

#[tokio::test]
async fn oversized_metadata_size_is_not_fetched_and_a_good_peer_supplies_it() {
    let (info, hash) = info_dict();
    let info = Arc::new(info);
    let huge = fake_peer([127, 0, 53, 1], info.clone(), hash, Kind::Huge).await;
    let good = fake_peer(
        [127, 0, 53, 2],
        info.clone(),
        hash,
        Kind::Good { delay_ms: 0 },
    )
    .await;
    let s = session([127, 0, 53, 10]);
    let (meta, peers) = timeout(
        FETCH_WITHIN,
        s.fetch_magnet_metadata(&magnet(hash), &[huge.addr, good.addr]),
    )
    .await
    .expect("fetch within bounds")
    .expect("metadata from the good peer");
    assert_eq!(meta.info_bytes(), &info[..]);
    assert_eq!(meta.info_hash().wire_id(), hash);
    assert_eq!(huge.requests.load(Ordering::Relaxed), 0, "never asked");
    assert!(good.requests.load(Ordering::Relaxed) >= 7);
    assert!(peers.contains(&good.addr));
}

#[tokio::test]
async fn liar_beside_a_good_peer_is_dropped_and_the_metadata_is_right() {
    let (info, hash) = info_dict();
    let info = Arc::new(info);
    let liar = fake_peer([127, 0, 54, 1], info.clone(), hash, Kind::Liar).await;
    // The good peer is slow, so the liar certainly sends some of the first copy's pieces.
    let good = fake_peer(
        [127, 0, 54, 2],
        info.clone(),
        hash,
        Kind::Good { delay_ms: 100 },
    )
    .await;
    let s = session([127, 0, 54, 10]);
    let (meta, peers) = timeout(
        FETCH_WITHIN,
        s.fetch_magnet_metadata(&magnet(hash), &[liar.addr, good.addr]),
    )
    .await
    .expect("fetch within bounds")
    .expect("metadata despite the liar");
    assert_eq!(meta.info_bytes(), &info[..]);
    assert!(
        liar.requests.load(Ordering::Relaxed) > 0,
        "the liar took part"
    );
    assert!(!peers.contains(&liar.addr), "liar left out: {peers:?}");
    assert!(peers.contains(&good.addr));
}

#[tokio::test]
async fn rejecting_peer_beside_a_good_one_and_alone() {
    let (info, hash) = info_dict();
    let info = Arc::new(info);
    let rejecter = fake_peer([127, 0, 55, 1], info.clone(), hash, Kind::Rejecter).await;
    let good = fake_peer(
        [127, 0, 55, 2],
        info.clone(),
        hash,
        Kind::Good { delay_ms: 20 },
    )
    .await;
    let s = session([127, 0, 55, 10]);
    let (meta, _) = timeout(
        FETCH_WITHIN,
        s.fetch_magnet_metadata(&magnet(hash), &[rejecter.addr, good.addr]),
    )
    .await
    .expect("fetch within bounds")
    .expect("metadata from the good peer");
    assert_eq!(meta.info_bytes(), &info[..]);
    assert!(rejecter.requests.load(Ordering::Relaxed) > 0);

    let err = timeout(
        FETCH_WITHIN,
        s.fetch_magnet_metadata(&magnet(hash), &[rejecter.addr]),
    )
    .await
    .expect("fetch within bounds")
    .expect_err("a rejecting peer alone gives no metadata")
    .to_string();
    assert!(
        err.contains("rejected") && err.contains(&rejecter.addr.to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn lone_liar_ends_the_fetch_with_a_clear_error() {
    let (info, hash) = info_dict();
    let liar = fake_peer([127, 0, 56, 1], Arc::new(info), hash, Kind::Liar).await;
    let s = session([127, 0, 56, 10]);
    let err = timeout(
        FETCH_WITHIN,
        s.fetch_magnet_metadata(&magnet(hash), &[liar.addr]),
    )
    .await
    .expect("fetch within bounds")
    .expect_err("no metadata from a liar")
    .to_string();
    assert!(
        err.contains("info-hash") && err.contains(&liar.addr.to_string()),
        "{err}"
    );
}
