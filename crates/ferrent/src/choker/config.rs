//! The choker's named limits and configuration.

use std::time::Duration;

/// Regular unchoke slots per torrent (BEP 3 and libtorrent: 4, plus the optimistic one).
pub const DEFAULT_REGULAR_SLOTS: u32 = 4;

/// How often the regular slots are re-evaluated (BEP 3: "every ten seconds"); the download and
/// upload rates that rank peers are the bytes moved during the last such round.
pub const RECHOKE_INTERVAL: Duration = Duration::from_secs(10);

/// How often the optimistic unchoke moves to another peer (BEP 3: "every 30 seconds").
pub const OPTIMISTIC_INTERVAL: Duration = Duration::from_secs(30);

/// A peer connected less than this long ago counts as new for the optimistic unchoke (it has had
/// no chance to show a rate yet; the original client and libtorrent favour such peers).
pub const NEW_PEER_WINDOW: Duration = Duration::from_secs(60);

/// How much more likely a new peer is to get the optimistic unchoke than an old one (BEP 3's
/// reference client: three times).
pub const NEW_PEER_WEIGHT: u32 = 3;

/// While seeding round-robin, a peer's turn ends once it received this many bytes since it was
/// unchoked. libtorrent uses 20 pieces and at least 256 KiB (`seeding_piece_quota`); the choker
/// does not know the piece length, so the engine may set `20 * piece_length` in the config.
pub const SEED_TURN_BYTES: u64 = 4 * 1024 * 1024;

/// While seeding round-robin, a peer's turn also ends after this long, so a slow or idle peer
/// cannot hold a slot for ever (three rechoke rounds).
pub const SEED_TURN_TIME: Duration = Duration::from_secs(30);

/// What the torrent is doing, which decides how the regular slots are ranked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ChokerMode {
    /// We still want data: tit-for-tat, rank by bytes each peer sent us.
    #[default]
    Downloading,
    /// We have everything we want: rank as [`ChokerConfig::seed_choking`] says.
    Seeding,
}

/// How the regular slots are given out while seeding (libtorrent's `seed_choking_algorithm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SeedChoking {
    /// Every interested peer gets a turn: a peer keeps its slot until it received
    /// [`ChokerConfig::seed_turn_bytes`] or [`ChokerConfig::seed_turn_time`] passed, then the peer
    /// that has waited longest takes it (libtorrent's default, `round_robin`). Spreads the pieces
    /// over the whole swarm and cannot be captured by a few fast peers.
    #[default]
    RoundRobin,
    /// The peers we upload to fastest keep the slots (libtorrent's `fastest_upload`, the original
    /// client's seed choker); the others only get the optimistic slot.
    FastestUpload,
}

/// How the [`Choker`](super::Choker) behaves. `Default` is the BEP 3 / libtorrent classic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChokerConfig {
    /// Regular unchoke slots; `None` unchokes every interested peer at once (no tit-for-tat, no
    /// optimistic slot, no timer), as test clients often do.
    pub regular_slots: Option<u32>,
    /// See [`RECHOKE_INTERVAL`].
    pub rechoke_interval: Duration,
    /// See [`OPTIMISTIC_INTERVAL`].
    pub optimistic_interval: Duration,
    /// See [`NEW_PEER_WINDOW`].
    pub new_peer_window: Duration,
    /// See [`NEW_PEER_WEIGHT`] (1 makes every candidate equally likely).
    pub new_peer_weight: u32,
    /// How to rank peers while seeding.
    pub seed_choking: SeedChoking,
    /// See [`SEED_TURN_BYTES`].
    pub seed_turn_bytes: u64,
    /// See [`SEED_TURN_TIME`].
    pub seed_turn_time: Duration,
}

impl Default for ChokerConfig {
    fn default() -> Self {
        ChokerConfig {
            regular_slots: Some(DEFAULT_REGULAR_SLOTS),
            rechoke_interval: RECHOKE_INTERVAL,
            optimistic_interval: OPTIMISTIC_INTERVAL,
            new_peer_window: NEW_PEER_WINDOW,
            new_peer_weight: NEW_PEER_WEIGHT,
            seed_choking: SeedChoking::RoundRobin,
            seed_turn_bytes: SEED_TURN_BYTES,
            seed_turn_time: SEED_TURN_TIME,
        }
    }
}

impl ChokerConfig {
    /// Every interested peer unchoked (`regular_slots: None`), the rest default.
    pub fn unlimited() -> Self {
        ChokerConfig {
            regular_slots: None,
            ..ChokerConfig::default()
        }
    }
}
