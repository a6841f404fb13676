//! Fetching a torrent's info dictionary from peers (BEP 9, `ut_metadata`), for magnet links:
//! the only thing a magnet gives is the info-hash, and the peers that have the torrent can send
//! the rest in 16 KiB pieces over the extension protocol (BEP 10).
//!
//! One peer at a time: connect, handshake with the extension bit, exchange extension
//! handshakes (theirs says `metadata_size` and the id they want `ut_metadata` messages under),
//! request every piece, assemble, and keep the result only if its SHA-1 is the info-hash. A peer
//! that rejects, stalls, lies about the size or sends bytes that fail the hash is dropped and the
//! next one is tried. Every size is bounded by [`MAX_METADATA_SIZE`] before anything is
//! allocated.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::BytesMut;
use ferrent_core::Id20;
use ferrent_proto::wire::{
    EXTENDED_HANDSHAKE_ID, ExtendedHandshake, Handshake, MAX_METADATA_SIZE, METADATA_PIECE_LEN,
    Message, MessageDecoder, MetadataMessage, UT_METADATA, metadata_piece_count,
};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::peer::{self, OutgoingPeer};
use crate::torrent::TorrentCore;

/// The id we ask peers to send `ut_metadata` messages under (BEP 10 `m` dictionary).
pub const OUR_UT_METADATA_ID: u8 = 3;

/// How long one peer may take to deliver the whole info dictionary.
pub const PER_PEER_TIMEOUT: Duration = Duration::from_secs(20);

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
}

/// Fetches the info dictionary of `info_hash` from `peers`, trying them in order. Returns the
/// raw bytes, whose SHA-1 equals `info_hash`.
pub async fn fetch_metadata(
    info_hash: Id20,
    peers: &[SocketAddr],
    peer_id: Id20,
    bind_ip: Option<IpAddr>,
) -> Result<Vec<u8>, MetadataError> {
    if peers.is_empty() {
        return Err(MetadataError::NoPeers);
    }
    let mut errors = Vec::new();
    for (i, &addr) in peers.iter().enumerate() {
        let out = OutgoingPeer {
            conn: i as u64,
            addr,
            bind_ip,
            handshake: Handshake {
                reserved: TorrentCore::our_reserved(),
                info_hash,
                peer_id,
            },
        };
        match tokio::time::timeout(PER_PEER_TIMEOUT, from_peer(&out)).await {
            Ok(Ok(bytes)) => return Ok(bytes),
            Ok(Err(e)) => errors.push(format!("{addr}: {e}")),
            Err(_) => errors.push(format!("{addr}: timed out")),
        }
    }
    Err(MetadataError::AllFailed(errors.join("; ")))
}

async fn from_peer(out: &OutgoingPeer) -> Result<Vec<u8>, String> {
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
    let mut pieces: Vec<Option<bytes::Bytes>> = Vec::new();
    let mut total: usize = 0;
    loop {
        let msg = loop {
            if let Some(m) = decoder
                .decode(&mut buf)
                .map_err(|e| format!("protocol error: {e}"))?
            {
                break m;
            }
            buf.reserve(64 * 1024);
            let n = stream
                .read_buf(&mut buf)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("closed by peer".into());
            }
        };
        let Message::Extended { id, payload } = msg else {
            continue;
        };
        if id == EXTENDED_HANDSHAKE_ID {
            let hs = ExtendedHandshake::decode(&payload).map_err(|e| e.to_string())?;
            let their_id = hs
                .extension_id(UT_METADATA)
                .ok_or("peer has no ut_metadata")?;
            let size = hs
                .checked_metadata_size()
                .map_err(|e| e.to_string())?
                .ok_or("peer did not say the metadata size")?;
            if size == 0 || size > MAX_METADATA_SIZE {
                return Err(format!("metadata size {size} out of bounds"));
            }
            total = size as usize;
            let count = metadata_piece_count(size);
            pieces = vec![None; count as usize];
            let mut req = BytesMut::new();
            for piece in 0..count {
                let m = MetadataMessage::Request { piece };
                Message::Extended {
                    id: their_id,
                    payload: m.to_bytes(),
                }
                .encode(&mut req);
            }
            stream
                .write_all(&req)
                .await
                .map_err(|e| format!("write: {e}"))?;
        } else if id == OUR_UT_METADATA_ID {
            match MetadataMessage::decode(&payload).map_err(|e| e.to_string())? {
                MetadataMessage::Data {
                    piece,
                    total_size,
                    data,
                } => {
                    if total_size as usize != total {
                        return Err(format!("total_size {total_size}, announced {total}"));
                    }
                    let len = METADATA_PIECE_LEN as usize;
                    let start = (piece as usize)
                        .checked_mul(len)
                        .filter(|&s| s < total)
                        .ok_or("metadata piece out of range")?;
                    let want = (total - start).min(len);
                    let slot = pieces.get_mut(piece as usize).ok_or("piece out of range")?;
                    if data.len() != want {
                        return Err(format!("metadata piece {piece} has {} bytes", data.len()));
                    }
                    *slot = Some(data);
                }
                MetadataMessage::Reject { piece } => return Err(format!("rejected piece {piece}")),
                MetadataMessage::Request { .. } => {}
            }
            if !pieces.is_empty() && pieces.iter().all(Option::is_some) {
                let mut info = Vec::with_capacity(total);
                for p in pieces.iter().flatten() {
                    info.extend_from_slice(p);
                }
                if Id20(Sha1::digest(&info).into()) != out.handshake.info_hash {
                    return Err("metadata does not match the info-hash".into());
                }
                return Ok(info);
            }
        }
    }
}
