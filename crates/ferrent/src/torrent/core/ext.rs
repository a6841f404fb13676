//! The extension protocol side of [`TorrentCore`] (BEP 10): our extension handshake, the
//! dispatch of extended messages, metadata requests (BEP 9) and peer exchange (BEP 11, whose
//! state lives in [`crate::torrent::pex`]), and which peer sources the torrent may use (BEP 27).

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use ferrent_proto::wire::{self, ExtendedHandshake, Message};

use super::{Action, ConnId, OUR_REQQ, TorrentCore};
use crate::torrent::pex::OUR_UT_PEX_ID;
use crate::torrent::sources::PeerSources;

impl TorrentCore {
    /// Sets where this torrent may find peers, from [`PeerSources::for_torrent`]: `ut_pex` runs
    /// only when `sources.pex` (never for a private torrent, BEP 27). Until this is called the
    /// core uses [`PeerSources::TRACKERS_ONLY`]. Call before any peer connects.
    pub fn set_peer_sources(&mut self, sources: PeerSources) {
        self.sources = sources;
        self.pex.set_enabled(sources.pex);
    }

    /// Where this torrent may find peers (see [`TorrentCore::set_peer_sources`]); the DHT and
    /// LSD must not announce it unless the answer allows them.
    pub fn peer_sources(&self) -> PeerSources {
        self.sources
    }

    /// Our own listen addresses: peer exchange never hands them out as peers to connect to.
    pub fn set_own_addrs(&mut self, addrs: Vec<SocketAddr>) {
        self.pex.set_own_addrs(addrs);
    }

    /// The extension handshake we send a peer at `addr`.
    pub(super) fn our_extension_handshake(&self, addr: SocketAddr) -> ExtendedHandshake {
        let mut hs = ExtendedHandshake {
            v: Some(format!("ferrent {}", env!("CARGO_PKG_VERSION"))),
            reqq: Some(OUR_REQQ),
            p: self.listen_port,
            yourip: Some(addr.ip()),
            ..ExtendedHandshake::default()
        };
        if let Some(info) = &self.metadata {
            hs.m.insert(
                wire::UT_METADATA.into(),
                crate::metadata::OUR_UT_METADATA_ID,
            );
            hs.metadata_size = Some(info.len() as u64);
        }
        self.pex.announce(&mut hs);
        hs
    }

    /// An extended message (BEP 10) with `id` from `conn`. `Err` is a protocol violation.
    pub(super) fn on_extended(
        &mut self,
        conn: ConnId,
        id: u8,
        payload: &Bytes,
        now: Instant,
    ) -> Result<(), String> {
        match id {
            wire::EXTENDED_HANDSHAKE_ID => {
                // A malformed extension handshake is ignored, not fatal (BEP 10 asks for
                // tolerance); its bencoding is bounded by the frame size.
                if let Ok(hs) = ExtendedHandshake::decode(payload) {
                    if let Some(reqq) = hs.reqq {
                        self.picker
                            .set_peer_reqq(conn, reqq)
                            .map_err(|e| e.to_string())?;
                    }
                    self.pex.extension_handshake(conn, &hs, now);
                    if let Some(p) = self.peers.get_mut(&conn) {
                        p.ext = Some(hs);
                    }
                }
            }
            crate::metadata::OUR_UT_METADATA_ID => self.on_metadata_message(conn, payload),
            // Ignored (an empty list) when PEX is off, e.g. for a private torrent.
            OUR_UT_PEX_ID => {
                let peers = self.pex.on_message(conn, payload, now)?;
                if !peers.is_empty() {
                    self.actions.push_back(Action::AddPeers(peers));
                }
            }
            // Extensions we did not announce: ignored.
            _ => {}
        }
        Ok(())
    }

    /// Queues the `ut_pex` messages due at `now` (at most one a minute per peer, BEP 11).
    pub(super) fn send_pex(&mut self, now: Instant) {
        let mut out = Vec::new();
        self.pex.poll_send(now, &mut out);
        for (conn, id, msg) in out {
            let payload = msg.to_bytes();
            self.actions
                .push_back(Action::Send(conn, Message::Extended { id, payload }));
        }
    }

    /// A `ut_metadata` message (BEP 9): requests are answered from our info dictionary, or
    /// rejected when we have none; malformed ones are ignored (BEP 10 asks for tolerance).
    pub(super) fn on_metadata_message(&mut self, conn: ConnId, payload: &Bytes) {
        let Ok(wire::MetadataMessage::Request { piece }) = wire::MetadataMessage::decode(payload)
        else {
            return;
        };
        let Some(their_id) = self
            .peers
            .get(&conn)
            .and_then(|p| p.ext.as_ref())
            .and_then(|e| e.extension_id(wire::UT_METADATA))
        else {
            return;
        };
        let len = wire::METADATA_PIECE_LEN as usize;
        let reply = self
            .metadata
            .as_ref()
            .and_then(|info| {
                let start = (piece as usize).checked_mul(len)?;
                let chunk = info.get(start..info.len().min(start + len))?;
                (!chunk.is_empty()).then(|| wire::MetadataMessage::Data {
                    piece,
                    total_size: u32::try_from(info.len()).unwrap_or(u32::MAX),
                    data: Bytes::copy_from_slice(chunk),
                })
            })
            .unwrap_or(wire::MetadataMessage::Reject { piece });
        let msg = Message::Extended {
            id: their_id,
            payload: reply.to_bytes(),
        };
        self.actions.push_back(Action::Send(conn, msg));
    }
}
