//! Every limit of the peer wire protocol, in one place, each with the reason for its value
//! (DESIGN.md rule 7: every untrusted length is checked against a named limit before allocating).

/// Size of a block: the unit of data requested and sent in `request` / `piece` messages. 16 KiB is
/// what every current client requests (BEP 3 suggests 2^14; libtorrent, Transmission, aria2 and
/// rqbit use it), and the largest block ferrent accepts or serves.
pub const BLOCK_LEN: u32 = 16 * 1024;

/// Most pieces a torrent may have. ferrent-core caps the piece count of a metainfo at 2^21
/// (2,097,152: 32 TiB of data at 16 MiB pieces, or 512 GiB at 256 KiB pieces), so that a
/// bitfield is at most [`MAX_BITFIELD_LEN`] bytes.
pub const MAX_PIECES: u32 = 1 << 21;

/// Largest `bitfield` payload: one bit per piece, for [`MAX_PIECES`] pieces (256 KiB).
pub const MAX_BITFIELD_LEN: u32 = MAX_PIECES.div_ceil(8);

/// Largest `piece` message body (id, index, begin, block): a whole block plus the 9-byte header.
/// A bigger block was never requested (we only request [`BLOCK_LEN`]), so the frame is refused
/// before its data is buffered.
pub const MAX_PIECE_MESSAGE_LEN: u32 = 9 + BLOCK_LEN;

/// Largest message accepted on a connection (the value of the 4-byte length prefix, which
/// excludes the prefix itself). The largest legitimate messages are:
///
/// - a bitfield for [`MAX_PIECES`] pieces: 1 + 262,144 bytes;
/// - a piece message: 9 + 16,384 bytes ([`MAX_PIECE_MESSAGE_LEN`]);
/// - an extended message: a `ut_metadata` data message is a 16 KiB metadata piece after a
///   bencoded header of ~60 bytes; extended handshakes and `ut_pex` messages are a few KiB.
///
/// The bitfield dominates; 1 KiB of slack on top covers the extended messages we do not parse
/// (BEP 52 hash messages are < 20 KiB). libtorrent bounds its receive buffer the same way. The
/// decoder refuses a larger length prefix before it reserves any memory for it, so a peer can
/// make us hold at most this much (plus the bytes of one socket read) per connection.
pub const MAX_MESSAGE_LEN: u32 = 1 + MAX_BITFIELD_LEN + 1024;

/// Largest info dictionary fetched with `ut_metadata` (BEP 9), in bytes. libtorrent allows 30 MiB,
/// rqbit 32 MiB, aria2 8 MiB; the largest real torrents (millions of pieces) need ~20-40 MiB at
/// 20 bytes of hash per piece: we take rqbit's 32 MiB. Transmission has no cap, a bug not to copy.
pub const MAX_METADATA_SIZE: u32 = 32 * 1024 * 1024;

/// Size of one `ut_metadata` piece (BEP 9: "each piece is 16 KiB"); only the last may be smaller.
pub const METADATA_PIECE_LEN: u32 = 16 * 1024;

/// Most entries accepted in the `m` dictionary of an extended handshake (BEP 10). Extension ids
/// are one byte, so at most 255 extensions can be enabled; real clients announce fewer than 20.
pub const MAX_EXTENSIONS: usize = 128;

/// Largest `reqq` (the peer's request queue length, BEP 10) we believe. A peer's value is clamped
/// to `1..=MAX_REQQ`: 2,048 requests of 16 KiB are 32 MiB in flight, far beyond any link's
/// bandwidth-delay product on one connection, so more would only let a peer make us queue more.
/// libtorrent's default `max_allowed_in_request_queue` is 2,000.
pub const MAX_REQQ: u32 = 2048;

/// Longest client name (`v`, BEP 10) kept, in bytes; longer names are cut (at a char boundary).
pub const MAX_CLIENT_NAME_LEN: usize = 128;

/// Most peers accepted in one list of a `ut_pex` message (`added`, `added6`, `dropped`,
/// `dropped6`). BEP 11 says a message should carry at most 50 added and 50 dropped peers;
/// libtorrent stays within that. We accept four times as many and treat more as a violation.
pub const MAX_PEX_PEERS: usize = 200;
