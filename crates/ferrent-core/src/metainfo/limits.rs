//! Limits on untrusted metainfo, with the reason for each (DESIGN.md rule 7). The geometry limits
//! ([`crate::MAX_PIECES`], [`crate::MAX_PIECE_LENGTH`]) live in [`crate::layout`], the path limits
//! ([`crate::MAX_PATH_DEPTH`], [`crate::MAX_ELEMENT_BYTES`]) in [`crate::path`].

/// Largest info dictionary accepted, in bytes (30 MiB, libtorrent's default `max_metadata_size`).
/// It bounds what we fetch from peers (BEP 9) and hold in memory to serve it back. The largest
/// v1 info dictionary allowed by [`crate::MAX_PIECES`] holds 40 MiB of hashes only in theory:
/// real torrents with 2^21 pieces do not exist.
pub const MAX_INFO_SIZE: usize = 30 * 1024 * 1024;

/// Most files in one torrent (pad files included). The largest real torrents have a few hundred
/// thousand files; every file costs ~150 bytes of memory here, so this bounds the file list at
/// ~150 MiB even though the bencode item limit would stop a larger list first.
pub const MAX_FILES: usize = 1_000_000;

/// Smallest v2 piece length (BEP 52: a power of two and at least 16 KiB, the merkle block size).
pub const MIN_V2_PIECE_LENGTH: u64 = 16 * 1024;

/// Size of a v2 merkle leaf block (BEP 52).
pub const V2_BLOCK_SIZE: u64 = 16 * 1024;
