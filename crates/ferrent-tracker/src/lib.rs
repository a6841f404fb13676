//! # ferrent-tracker
//!
//! A BitTorrent tracker (HTTP and UDP) for private swarms (to come).
#![deny(missing_docs)]
