//! The UDP front end's I/O loop: plain threads doing blocking receives on clones of one socket,
//! answering in batches.
//!
//! Why not tokio tasks: a tracker's UDP work per datagram is a few hundred nanoseconds, so the
//! cost is in the kernel: a readiness poll, a `recvfrom`, a `sendto` and a thread wake-up per
//! datagram. A worker here blocks in `recvfrom` for the first datagram, then takes whatever else
//! is already queued (non-blocking, up to [`UDP_BATCH`]) and sends all the replies with one
//! `sendmmsg`. Under load one wake-up serves a whole batch; when idle a worker sleeps in the
//! kernel. No `unsafe`: rustix wraps both calls.

use std::io::IoSlice;
use std::net::{SocketAddr, UdpSocket};
use std::time::Instant;

use rustix::net::{MMsgHdr, RecvFlags, SendAncillaryBuffer, SendFlags, SocketAddrAny};
use tokio_util::sync::CancellationToken;

use crate::limits::{UDP_BATCH, UDP_RECV_BUFFER};
use crate::shared::Shared;
use crate::store::CompactPeers;

/// One received datagram waiting for its reply.
struct Slot {
    buf: Box<[u8]>,
    out: Vec<u8>,
}

/// Runs one UDP worker until `cancel` (checked at least every receive timeout set on `sock`).
pub(crate) fn udp_worker(sock: &UdpSocket, s: &Shared, cancel: &CancellationToken) {
    let mut slots: Vec<Slot> = (0..UDP_BATCH)
        .map(|_| {
            // Zeroed, then emptied: the pages are touched now, at start-up, not under load.
            let mut out = vec![0u8; UDP_RECV_BUFFER];
            out.clear();
            Slot {
                buf: vec![0u8; UDP_RECV_BUFFER].into_boxed_slice(),
                out,
            }
        })
        .collect();
    // Replies of the current batch: (slot, destination).
    let mut replies: Vec<(usize, SocketAddrAny)> = Vec::with_capacity(UDP_BATCH);
    let mut scratch = CompactPeers::default();
    while !cancel.is_cancelled() {
        replies.clear();
        let mut now = None;
        for (i, slot) in slots.iter_mut().enumerate() {
            // The first receive blocks (up to the socket's timeout); the rest only take what
            // is already queued.
            let flags = if i == 0 {
                RecvFlags::empty()
            } else {
                RecvFlags::DONTWAIT
            };
            let (n, from) = match rustix::net::recvfrom(sock, &mut slot.buf[..], flags) {
                Ok((n, _, Some(from))) => (n, from),
                // A datagram without a source address cannot be answered.
                Ok((_, _, None)) => continue,
                // Nothing more queued, the shutdown-check timeout, or an ICMP error from an
                // earlier send: answer what we have.
                Err(_) => break,
            };
            let Ok(from) = SocketAddr::try_from(from) else {
                continue;
            };
            let now = *now.get_or_insert_with(Instant::now);
            slot.out.clear();
            if s.udp_packet(
                now,
                slot.buf.get(..n).unwrap_or_default(),
                from,
                &mut slot.out,
                &mut scratch,
            ) {
                replies.push((i, SocketAddrAny::from(from)));
            }
        }
        if !replies.is_empty() {
            send_all(sock, &slots, &replies);
        }
    }
}

/// Sends every reply of a batch with `sendmmsg`, skipping one that the kernel refuses (for
/// example an unreachable destination) so the others still go out.
fn send_all(sock: &UdpSocket, slots: &[Slot], replies: &[(usize, SocketAddrAny)]) {
    let iovs: Vec<[IoSlice<'_>; 1]> = replies
        .iter()
        .map(|(i, _)| [IoSlice::new(slots.get(*i).map_or(&[][..], |s| &s.out))])
        .collect();
    let mut ctrl: Vec<SendAncillaryBuffer<'_, '_, '_>> = replies
        .iter()
        .map(|_| SendAncillaryBuffer::default())
        .collect();
    let mut msgs: Vec<MMsgHdr<'_>> = replies
        .iter()
        .zip(iovs.iter())
        .zip(ctrl.iter_mut())
        .map(|(((_, to), iov), c)| MMsgHdr::new_with_addr(to, iov, c))
        .collect();
    let mut sent = 0;
    // Each round sends at least one message or skips one: at most `msgs.len()` rounds.
    while let Some(rest) = msgs.get_mut(sent..).filter(|r| !r.is_empty()) {
        match rustix::net::sendmmsg(sock, rest, SendFlags::empty()) {
            Ok(n) if n > 0 => sent += n,
            _ => sent += 1,
        }
    }
}
