//! Every limit of the tracker, with the reason for its value (DESIGN.md: limits are named
//! constants in one place per crate).

use std::time::Duration;

/// Default re-announce interval sent to clients. Shorter than the public trackers' 30 min:
/// ferrent's tracker serves small private swarms where a peer that joins late should be found
/// within minutes, and the load is small.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

/// Peers sent when the client does not say `numwant` (BEP 3 suggests 50; libtorrent asks for
/// 200 but is happy with fewer).
pub const DEFAULT_NUMWANT: u32 = 50;

/// Most peers sent in one reply, whatever `numwant` asks. 200 compact IPv4 peers are 1.2 KiB,
/// which keeps a UDP reply under a 1,500-byte MTU; more peers per announce do not help a client.
pub const MAX_NUMWANT: u32 = 200;

/// Most peers per swarm (per address family). Beyond that a new peer still gets a reply with
/// peers but is not stored. 100,000 IPv4 peers are ~0.8 MB (8 bytes each plus a few percent of
/// spare room, see `store/peers/mod.rs`); real private swarms are far smaller.
pub const MAX_PEERS_PER_SWARM: usize = 100_000;

/// Most swarms (info-hashes) tracked at once; an announce for a new info-hash beyond that gets
/// a `failure reason`. Bounds memory against a flood of random info-hashes: a swarm's table
/// entry is 60 to 120 bytes (52 bytes in a hash table 44 to 88% full) and a one-peer swarm
/// owns 3 slots of its pool (24 bytes): under 75 MB at the limit.
pub const MAX_SWARMS: usize = 500_000;

/// Most peers over all swarms: the overall memory bound (8 bytes per IPv4 peer, 20 per IPv6
/// peer, plus at most a sixteenth of spare room and a 32nd of dead slots in the pools: well
/// under 200 MB).
pub const MAX_PEERS_TOTAL: usize = 5_000_000;

/// A peer that has not announced for this many intervals is dropped (issue 6: "about two").
pub const PEER_TIMEOUT_INTERVALS: u32 = 2;

/// Length of a UDP connection-id time window. An id is accepted in the window it was issued in
/// and the next one, so it lives 60 to 120 s: BEP 15 lets clients use an id for up to one
/// minute after they received it and says trackers accept it for two.
pub const CONNECTION_ID_WINDOW: Duration = Duration::from_secs(60);

/// Receive buffer for one UDP datagram. A BEP 15 announce is 98 bytes (plus BEP 41 options), a
/// full scrape 16 + 74 * 20 = 1,496 bytes; anything longer is truncated by the kernel and then
/// fails to decode or is ignored.
pub const UDP_RECV_BUFFER: usize = 2048;

/// Most datagrams a UDP worker takes per wake-up (answered with one `sendmmsg`). 32 keeps the
/// worker's buffers at 64 KiB plus replies while a loaded tracker still saves most wake-ups.
pub const UDP_BATCH: usize = 32;

/// Most HTTP connections open at once; one more is closed as soon as it is accepted. An
/// announce takes a few milliseconds, so 1,024 serves tens of thousands of announces per
/// second while bounding what idle connections can hold (a file descriptor and a few KiB each).
pub const HTTP_MAX_CONNECTIONS: usize = 1024;

/// A request's headers must arrive within this long, or the connection is closed (slowloris).
/// A real client sends its whole announce in one packet.
pub const HTTP_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest allow-list file read (bytes). 1M info-hashes in hex are 41 MB; 64 MiB is the ceiling.
pub const MAX_ALLOW_FILE: u64 = 64 * 1024 * 1024;

/// Longest state snapshot read back at start (bytes); matches [`MAX_PEERS_TOTAL`] lines of
/// ~40 bytes, with margin.
pub const MAX_STATE_FILE: u64 = 512 * 1024 * 1024;

/// How often the allow-list file's modification time is checked for changes.
pub const ALLOW_POLL: Duration = Duration::from_secs(2);

/// How often statistics are logged (issue 6: a line per minute).
pub const STATS_EVERY: Duration = Duration::from_secs(60);

/// Number of independently locked shards of the swarm store (by a keyed hash of the
/// info-hash), so HTTP and UDP workers on different swarms do not contend for one lock.
pub const SHARDS: usize = 16;
