//! The BEP 3 handshake: `\x13BitTorrent protocol`, 8 reserved bytes, the info-hash and the peer
//! id, 68 bytes in all, sent by both sides before any message.

use bytes::{Buf, BufMut, BytesMut};
use ferrent_core::Id20;

use super::error::{InvalidHandshake, ProtoError};

/// The protocol string, after its length byte (19).
pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";

/// Length of a handshake on the wire.
pub const HANDSHAKE_LEN: usize = 1 + 19 + 8 + 20 + 20;

/// The prefix of ferrent's peer ids (Azureus style, BEP 20): client `FE`, version 0.0.0.1.
pub const PEER_ID_PREFIX: &[u8; 8] = b"-FE0001-";

/// The 8 reserved bytes of the handshake: one bit per protocol extension the sender supports.
///
/// ```
/// use ferrent_proto::wire::Reserved;
/// let r = Reserved::default().with_extension_protocol(true).with_fast(true);
/// assert!(r.extension_protocol() && r.fast() && !r.dht());
/// assert_eq!(r.0, [0, 0, 0, 0, 0, 0x10, 0, 0x04]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Reserved(pub [u8; 8]);

macro_rules! reserved_bit {
    ($get:ident, $with:ident, $byte:expr, $mask:expr, $doc:expr) => {
        #[doc = concat!("Whether the bit for ", $doc, " is set.")]
        pub fn $get(&self) -> bool {
            self.0[$byte] & $mask != 0
        }

        #[doc = concat!("This value with the bit for ", $doc, " set or cleared.")]
        #[must_use]
        pub fn $with(mut self, on: bool) -> Self {
            if on {
                self.0[$byte] |= $mask;
            } else {
                self.0[$byte] &= !$mask;
            }
            self
        }
    };
}

impl Reserved {
    reserved_bit!(
        extension_protocol,
        with_extension_protocol,
        5,
        0x10,
        "the extension protocol (BEP 10: `reserved[5] & 0x10`)"
    );
    reserved_bit!(
        fast,
        with_fast,
        7,
        0x04,
        "the fast extension (BEP 6: `reserved[7] & 0x04`)"
    );
    reserved_bit!(
        dht,
        with_dht,
        7,
        0x01,
        "the DHT (BEP 5: `reserved[7] & 0x01`)"
    );
    reserved_bit!(
        v2,
        with_v2,
        7,
        0x10,
        "BitTorrent v2 upgrades (BEP 52: `reserved[7] & 0x10`)"
    );
}

/// A BEP 3 handshake.
///
/// ```
/// use bytes::BytesMut;
/// use ferrent_core::Id20;
/// use ferrent_proto::wire::{Handshake, Reserved};
///
/// let hs = Handshake {
///     reserved: Reserved::default().with_extension_protocol(true),
///     info_hash: Id20([1; 20]),
///     peer_id: Id20([2; 20]),
/// };
/// let mut buf = BytesMut::new();
/// hs.encode(&mut buf);
/// let tail = buf.split_off(30);
/// assert_eq!(Handshake::decode(&mut buf).unwrap(), None); // not all there yet
/// buf.unsplit(tail);
/// assert_eq!(Handshake::decode(&mut buf).unwrap(), Some(hs));
/// assert!(buf.is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handshake {
    /// The extension bits.
    pub reserved: Reserved,
    /// The torrent (v1 info-hash, or the truncated v2 hash: `InfoHash::wire_id`).
    pub info_hash: Id20,
    /// The sender's peer id.
    pub peer_id: Id20,
}

impl Handshake {
    /// The 68 bytes on the wire.
    pub fn to_bytes(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0u8; HANDSHAKE_LEN];
        let mut w = &mut out[..];
        self.encode(&mut w);
        out
    }

    /// Appends the 68 bytes to `dst`.
    pub fn encode<B: BufMut>(&self, dst: &mut B) {
        dst.put_u8(PROTOCOL.len() as u8);
        dst.put_slice(PROTOCOL);
        dst.put_slice(&self.reserved.0);
        dst.put_slice(self.info_hash.as_bytes());
        dst.put_slice(self.peer_id.as_bytes());
    }

    /// Decodes a handshake from the start of `src` and removes it from `src`.
    ///
    /// `Ok(None)`: the handshake is not complete yet (nothing is consumed; call again with more
    /// bytes). `Err`: not a BitTorrent handshake; this is detected as early as the bytes allow
    /// (after the first byte for a wrong length, after 20 for a wrong string), so an encrypted
    /// or foreign stream is refused without waiting for 68 bytes.
    pub fn decode(src: &mut BytesMut) -> Result<Option<Handshake>, ProtoError> {
        let Some(hs) = Self::decode_slice(src)? else {
            return Ok(None);
        };
        src.advance(HANDSHAKE_LEN);
        Ok(Some(hs))
    }

    /// Like [`Handshake::decode`] over a slice, consuming nothing: on success the handshake is the
    /// first [`HANDSHAKE_LEN`] bytes of `src`.
    pub fn decode_slice(src: &[u8]) -> Result<Option<Handshake>, ProtoError> {
        let Some((reserved, info_hash)) = Self::peek_info_hash(src)? else {
            return Ok(None);
        };
        let Some(peer_id) = src.get(48..HANDSHAKE_LEN).and_then(Id20::from_slice) else {
            return Ok(None);
        };
        Ok(Some(Handshake {
            reserved,
            info_hash,
            peer_id,
        }))
    }

    /// The reserved bytes and info-hash, as soon as the first 48 bytes are in, so the side that
    /// accepted a connection can check that it has the torrent (and answer with its own handshake)
    /// before the peer id arrives, as libtorrent does. Consumes nothing.
    pub fn peek_info_hash(src: &[u8]) -> Result<Option<(Reserved, Id20)>, ProtoError> {
        check_protocol_prefix(src)?;
        let Some(reserved) = src.get(20..28).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
            return Ok(None);
        };
        let Some(info_hash) = src.get(28..48).and_then(Id20::from_slice) else {
            return Ok(None);
        };
        Ok(Some((Reserved(reserved), info_hash)))
    }
}

/// Checks as much of the 20-byte `\x13BitTorrent protocol` prefix as `src` holds.
fn check_protocol_prefix(src: &[u8]) -> Result<(), ProtoError> {
    let Some((&len, rest)) = src.split_first() else {
        return Ok(());
    };
    if usize::from(len) != PROTOCOL.len() {
        return Err(InvalidHandshake::ProtocolLength { len }.into());
    }
    let got = rest.get(..PROTOCOL.len()).unwrap_or(rest);
    if !PROTOCOL.starts_with(got) {
        let found = String::from_utf8_lossy(got).into_owned();
        return Err(InvalidHandshake::ProtocolString { found }.into());
    }
    Ok(())
}

/// Makes a peer id of the usual Azureus form: [`PEER_ID_PREFIX`] followed by 12 characters from
/// `[0-9A-Za-z]` chosen by `random` (pass 12 random bytes: this module has no random source).
/// The mapping is `byte % 62`, a negligible bias for an id whose only job is to be unlikely to
/// collide.
///
/// ```
/// let id = ferrent_proto::wire::make_peer_id([0, 1, 61, 62, 255, 7, 8, 9, 10, 11, 12, 13]);
/// assert_eq!(&id.0[..], b"-FE0001-01z07789ABCD");
/// ```
pub fn make_peer_id(random: [u8; 12]) -> Id20 {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut id = [0u8; 20];
    id[..8].copy_from_slice(PEER_ID_PREFIX);
    for (out, r) in id[8..].iter_mut().zip(random) {
        *out = ALPHABET[usize::from(r) % ALPHABET.len()];
    }
    Id20(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Handshake {
        Handshake {
            reserved: Reserved::default()
                .with_extension_protocol(true)
                .with_fast(true)
                .with_dht(true),
            info_hash: Id20([0xab; 20]),
            peer_id: make_peer_id([7; 12]),
        }
    }

    #[test]
    fn layout_matches_bep3() {
        let b = sample().to_bytes();
        assert_eq!(b[0], 19);
        assert_eq!(&b[1..20], PROTOCOL);
        assert_eq!(&b[20..28], &[0, 0, 0, 0, 0, 0x10, 0, 0x05]);
        assert_eq!(&b[28..48], &[0xab; 20]);
        assert_eq!(&b[48..56], PEER_ID_PREFIX);
    }

    #[test]
    fn every_split_point_needs_more_then_decodes() {
        let hs = sample();
        let bytes = hs.to_bytes();
        for cut in 0..HANDSHAKE_LEN {
            let mut buf = BytesMut::from(&bytes[..cut]);
            assert_eq!(Handshake::decode(&mut buf).unwrap(), None, "cut at {cut}");
            assert_eq!(buf.len(), cut, "nothing consumed at {cut}");
            buf.extend_from_slice(&bytes[cut..]);
            buf.extend_from_slice(b"\0\0\0\0rest");
            assert_eq!(Handshake::decode(&mut buf).unwrap(), Some(hs));
            assert_eq!(&buf[..], b"\0\0\0\0rest", "exactly 68 bytes consumed");
        }
    }

    #[test]
    fn info_hash_is_available_after_48_bytes() {
        let bytes = sample().to_bytes();
        assert_eq!(Handshake::peek_info_hash(&bytes[..47]).unwrap(), None);
        let (reserved, ih) = Handshake::peek_info_hash(&bytes[..48]).unwrap().unwrap();
        assert!(reserved.extension_protocol());
        assert_eq!(ih, Id20([0xab; 20]));
    }

    #[test]
    fn wrong_protocol_is_refused_early() {
        let err = Handshake::decode(&mut BytesMut::from(&[18u8][..])).unwrap_err();
        assert_eq!(
            err,
            ProtoError::InvalidHandshake(InvalidHandshake::ProtocolLength { len: 18 })
        );

        let err = Handshake::decode(&mut BytesMut::from(&b"\x13BitTorrent pro"[..])).unwrap();
        assert_eq!(err, None, "a correct prefix waits for more");

        let err = Handshake::decode(&mut BytesMut::from(&b"\x13BitTorrent Pro"[..])).unwrap_err();
        assert_eq!(
            err,
            ProtoError::InvalidHandshake(InvalidHandshake::ProtocolString {
                found: "BitTorrent Pro".into()
            })
        );
    }

    #[test]
    fn reserved_bits() {
        let r = Reserved([0, 0, 0, 0, 0, 0x10, 0, 0x15]);
        assert!(r.extension_protocol() && r.fast() && r.dht() && r.v2());
        let r = r
            .with_fast(false)
            .with_dht(false)
            .with_v2(false)
            .with_extension_protocol(false);
        assert_eq!(r, Reserved::default());
    }

    #[test]
    fn peer_id_form() {
        for seed in [[0u8; 12], [255; 12], [61; 12], [62; 12]] {
            let id = make_peer_id(seed);
            assert_eq!(&id.0[..8], PEER_ID_PREFIX);
            assert!(id.0[8..].iter().all(u8::is_ascii_alphanumeric));
        }
        assert_ne!(make_peer_id([1; 12]), make_peer_id([2; 12]));
    }
}
