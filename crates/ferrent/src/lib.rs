//! The ferrent engine: session, torrents, peers, picker, storage (to come).
#![deny(missing_docs)]
