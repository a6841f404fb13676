//! [`PeerSources`]: where one torrent may look for peers (BEP 27, private torrents).
//!
//! This is the single place that decides it. Every peer source other than the torrent's own
//! trackers (DHT announces and lookups, peer exchange, local service discovery) must ask
//! [`PeerSources::for_torrent`] before it runs for a torrent; the [`super::TorrentCore`] takes
//! the answer through [`super::TorrentCore::set_peer_sources`] and enables `ut_pex` from it.

use ferrent_core::Metainfo;

/// Which peer sources a torrent may use besides its own trackers (and peers the user names,
/// e.g. `--peer`, which are always allowed, as in libtorrent).
///
/// ```
/// use ferrent::PeerSources;
/// assert_eq!(PeerSources::new(true), PeerSources::TRACKERS_ONLY);
/// assert!(PeerSources::new(false).pex);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerSources {
    /// Announce to and look up in the DHT (BEP 5).
    pub dht: bool,
    /// Exchange peers with connected peers (`ut_pex`, BEP 11).
    pub pex: bool,
    /// Local service discovery (BEP 14).
    pub lsd: bool,
}

impl PeerSources {
    /// Every public source: what a public torrent uses.
    pub const ALL: PeerSources = PeerSources {
        dht: true,
        pex: true,
        lsd: true,
    };

    /// Only the torrent's trackers: what a private torrent uses (BEP 27), and the core's
    /// default until told otherwise (the safe side).
    pub const TRACKERS_ONLY: PeerSources = PeerSources {
        dht: false,
        pex: false,
        lsd: false,
    };

    /// The policy: a private torrent (info `private` = 1) gets peers only from its trackers
    /// (BEP 27: "no DHT, PEX or LSD"); a public one may use every source.
    pub fn new(private: bool) -> Self {
        if private {
            Self::TRACKERS_ONLY
        } else {
            Self::ALL
        }
    }

    /// The sources `meta` allows (see [`PeerSources::new`]). DHT and LSD code must call this
    /// (or read [`super::TorrentCore::peer_sources`]) before announcing a torrent.
    pub fn for_torrent(meta: &Metainfo) -> Self {
        Self::new(meta.is_private())
    }

    /// Whether any source beyond the trackers is allowed (false exactly for private torrents).
    pub fn public_discovery_allowed(self) -> bool {
        self.dht || self.pex || self.lsd
    }
}
