//! The DHT (BEP 5, with BEP 32 IPv6 nodes): a sans-I/O node, its parts, a thin tokio driver and
//! a crash-safe save of the routing table. The KRPC messages live in
//! [`ferrent_proto::dht`]; docs/dht.md walks through the design.
//!
//! - [`DhtNode`]: the state machine (`handle_packet` / `poll_transmit` / `poll_timeout` /
//!   `handle_timeout` / `poll_event`), built from
//! - [`RoutingTable`] (k-buckets over the XOR metric), [`Lookup`] (iterative, alpha-parallel),
//!   [`Tokens`] (rotating write-token secret), [`PeerStore`] (announced peers) and
//!   [`RateLimiter`] (per-IP token buckets);
//! - [`Dht`]: the tokio driver over one UDP socket; [`save_table`] / [`load_table`];
//! - [`DhtService`]: the session's node shared by its torrents (event routing, table saves) and
//!   [`run_torrent`], each running torrent's periodic lookup and announce on the
//!   [`AnnounceSchedule`].

mod driver;
mod lookup;
mod node;
mod peers;
mod persist;
mod ratelimit;
mod routing;
mod schedule;
mod service;
#[cfg(test)]
mod tests;
mod token;

pub use driver::{DHT_COMMAND_QUEUE, DHT_EVENT_QUEUE, Dht, DhtHandle, MAX_DATAGRAMS_PER_WAKEUP};
pub use lookup::{ALPHA, Lookup, LookupKind, MAX_CANDIDATES, MAX_PEERS_PER_LOOKUP};
pub use node::{
    DhtConfig, DhtError, DhtEvent, DhtNode, DhtStats, HOUSEKEEPING_INTERVAL, LookupId, MAX_LOOKUPS,
    MAX_PENDING_QUERIES, MAX_QUEUED_EVENTS, MAX_QUEUED_TRANSMITS, PINGS_PER_ROUND, QUERY_TIMEOUT,
    REFRESH_INTERVAL,
};
pub use peers::{
    MAX_INFOHASHES, MAX_PEERS_PER_INFOHASH, MAX_VALUES_PER_REPLY, PEER_TTL, PeerStore,
};
pub use persist::{
    MAX_SAVED_NODES, SavedTable, decode_table, encode_table, load_table, save_table,
};
pub use ratelimit::{MAX_TRACKED_IPS, QUERIES_PER_SECOND, QUERY_BURST, RateLimiter};
pub use routing::{
    Entry, GOOD_FOR, Inserted, K, MAX_BUCKETS, MAX_FAILURES, MAX_REPLACEMENTS, NodeState,
    RoutingTable, common_prefix_len, distance,
};
pub use schedule::{AnnounceSchedule, DEFAULT_ANNOUNCE_INTERVAL, LOOKUP_DEADLINE, RETRY_DELAY};
pub use service::{
    DEFAULT_SAVE_INTERVAL, DhtService, DhtServiceConfig, SAVED_BOOTSTRAP_NODES, SUBSCRIBER_QUEUE,
    TorrentDht, run_torrent,
};
pub use token::{SECRET_ROTATION, TOKEN_LEN, Tokens};
