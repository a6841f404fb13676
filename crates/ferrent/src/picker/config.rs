//! Tunables and limits of the picker, with the reason for each.

use std::time::Duration;

/// Highest piece priority (libtorrent's scale: 0 = skip, 1 = low, 4 = default, 7 = top).
pub const MAX_PRIORITY: u8 = 7;

/// Priority pieces start with.
pub const DEFAULT_PRIORITY: u8 = 4;

/// Hard cap on a peer's pipeline: libtorrent's default `max_out_request_queue`, and the `reqq` most
/// clients advertise. Also bounds the per-peer request list, so memory stays bounded.
pub const MAX_PIPELINE: u32 = 250;

/// Smallest pipeline of a peer that is not snubbed: one request in flight while the previous one
/// is being sent back would leave the link idle.
pub const MIN_PIPELINE: u32 = 2;

/// Pipeline of a new peer before its rate is known (slow start grows it by one per block).
pub const INITIAL_PIPELINE: u32 = 4;

/// `allowed_fast` pieces remembered per peer (BEP 6 suggests 10); more are ignored, so a peer cannot
/// grow our memory.
pub const MAX_ALLOWED_FAST: usize = 64;

/// Cancelled requests remembered per peer, so that a `piece` or `reject` crossing our `cancel` (or
/// our choke) is tolerated instead of taken for an unrequested block. Twice the largest pipeline:
/// a choke can cancel a full pipeline, and a second full one before the answers arrive.
pub const MAX_CANCELLED_REMEMBERED: usize = 2 * MAX_PIPELINE as usize;

/// Blocks a peer timed out or rejected that we avoid asking it again for (until it delivers).
pub const MAX_EXCLUDED: usize = 64;

/// Settings of a [`Picker`](super::Picker). `Default` gives the values documented on each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PickerConfig {
    /// A request not answered within this time is given to another peer (the peer gets a `cancel`)
    /// and the peer is snubbed. Default 20 s (libtorrent's `piece_timeout`).
    pub request_timeout: Duration,
    /// Target time a peer's pipeline should hold: pipeline = rate * this / block size, as
    /// libtorrent's `request_queue_time`. Default 3 s.
    pub target_queue_time: Duration,
    /// Pieces picked at random (among the highest priority) before rarest-first takes over, so the
    /// first complete pieces come fast and can be traded. Default 4.
    pub initial_random_pieces: u32,
    /// In endgame, at most this many peers are asked for the same block at once. Default 3.
    pub endgame_max_requesters: u8,
}

impl Default for PickerConfig {
    fn default() -> Self {
        PickerConfig {
            request_timeout: Duration::from_secs(20),
            target_queue_time: Duration::from_secs(3),
            initial_random_pieces: 4,
            endgame_max_requesters: 3,
        }
    }
}
