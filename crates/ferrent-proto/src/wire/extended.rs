//! The extension protocol handshake (BEP 10): the bencoded dictionary sent as extended message 0
//! right after the BEP 3 handshake when both sides set the extension-protocol bit.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use ferrent_bencode::{Dict, Value};

use super::error::{InvalidExtended, PeerMisbehaved, ProtoError};
use super::limits::{MAX_CLIENT_NAME_LEN, MAX_EXTENSIONS, MAX_METADATA_SIZE, MAX_REQQ};
use super::message::Message;

/// The extended message id of the extension handshake (BEP 10).
pub const EXTENDED_HANDSHAKE_ID: u8 = 0;

/// Name of the metadata exchange extension (BEP 9) in the `m` dictionary.
pub const UT_METADATA: &str = "ut_metadata";

/// Name of the peer exchange extension (BEP 11) in the `m` dictionary.
pub const UT_PEX: &str = "ut_pex";

const WHAT: &str = "extended handshake";

/// The extension handshake (BEP 10). Every field is optional on the wire; a field with the wrong
/// type or an impossible value is treated as absent (BEP 10 asks receivers to be tolerant), while
/// the bencoding itself must be strict (canonical) and the `m` dictionary bounded.
///
/// ```
/// use ferrent_proto::wire::{ExtendedHandshake, UT_METADATA};
///
/// let mut ours = ExtendedHandshake::default();
/// ours.m.insert(UT_METADATA.into(), 3);
/// ours.v = Some("ferrent 0.1.0".into());
/// ours.reqq = Some(500);
/// let bytes = ours.to_bytes();
/// assert_eq!(&bytes[..], b"d1:md11:ut_metadatai3ee4:reqqi500e1:v13:ferrent 0.1.0e");
/// let theirs = ExtendedHandshake::decode(&bytes).unwrap();
/// assert_eq!(theirs.extension_id(UT_METADATA), Some(3));
/// assert_eq!(theirs, ours);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtendedHandshake {
    /// `m`: extension name to the extended message id the sender wants to *receive* that
    /// extension's messages with. Id 0 means disabled (in an update handshake). At most
    /// [`MAX_EXTENSIONS`] entries; names that are not UTF-8 and ids outside 0..=255 are skipped.
    pub m: BTreeMap<String, u8>,
    /// `v`: client name and version (lossy UTF-8, cut to [`MAX_CLIENT_NAME_LEN`] bytes).
    pub v: Option<String>,
    /// `p`: the sender's TCP listen port (1..=65535).
    pub p: Option<u16>,
    /// `reqq`: how many outstanding requests the sender queues; clamped to `1..=`[`MAX_REQQ`].
    pub reqq: Option<u32>,
    /// `yourip`: the receiver's address as the sender sees it (4 or 16 bytes).
    pub yourip: Option<IpAddr>,
    /// `ipv4`: the sender's own IPv4 address, if it knows it.
    pub ipv4: Option<Ipv4Addr>,
    /// `ipv6`: the sender's own IPv6 address, if it knows it.
    pub ipv6: Option<Ipv6Addr>,
    /// `metadata_size` (BEP 9): size of the info dictionary in bytes, as announced (unchecked:
    /// see [`ExtendedHandshake::checked_metadata_size`]).
    pub metadata_size: Option<u64>,
    /// `upload_only` (BEP 21): the sender is a seed or only uploads.
    pub upload_only: Option<bool>,
}

impl ExtendedHandshake {
    /// The id the sender announced for extension `name`, if enabled (not 0).
    pub fn extension_id(&self, name: &str) -> Option<u8> {
        self.m.get(name).copied().filter(|&id| id != 0)
    }

    /// `metadata_size` checked against [`MAX_METADATA_SIZE`]: `Ok(None)` when absent, an error
    /// when zero or larger than the limit.
    pub fn checked_metadata_size(&self) -> Result<Option<u32>, PeerMisbehaved> {
        match self.metadata_size {
            None => Ok(None),
            Some(size) => match u32::try_from(size) {
                Ok(s) if s > 0 && s <= MAX_METADATA_SIZE => Ok(Some(s)),
                _ => Err(PeerMisbehaved::MetadataSize {
                    size,
                    max: MAX_METADATA_SIZE,
                }),
            },
        }
    }

    /// Decodes the payload of extended message 0 (the bytes after the extended id).
    pub fn decode(payload: &[u8]) -> Result<Self, ProtoError> {
        let value =
            ferrent_bencode::decode(payload).map_err(|source| InvalidExtended::Bencode {
                message: WHAT,
                source,
            })?;
        let dict = value
            .as_dict()
            .ok_or(InvalidExtended::NotADict { message: WHAT })?;
        let mut hs = ExtendedHandshake::default();
        if let Some(m) = dict.get_dict(b"m") {
            if m.len() > MAX_EXTENSIONS {
                return Err(InvalidExtended::TooMany {
                    message: WHAT,
                    field: "m",
                    count: m.len(),
                    max: MAX_EXTENSIONS,
                }
                .into());
            }
            for e in m.iter() {
                let name = std::str::from_utf8(e.key).ok();
                let id = e.value.as_int().and_then(|i| u8::try_from(i).ok());
                if let (Some(name), Some(id)) = (name, id) {
                    hs.m.insert(name.to_owned(), id);
                }
            }
        }
        hs.v = dict.get_bytes(b"v").map(client_name);
        hs.p = dict
            .get_int(b"p")
            .and_then(|p| u16::try_from(p).ok())
            .filter(|&p| p != 0);
        hs.reqq = dict
            .get_int(b"reqq")
            .map(|q| q.clamp(1, i64::from(MAX_REQQ)) as u32);
        hs.yourip = dict.get_bytes(b"yourip").and_then(ip_from_bytes);
        hs.ipv4 = dict
            .get_bytes(b"ipv4")
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(Ipv4Addr::from);
        hs.ipv6 = dict
            .get_bytes(b"ipv6")
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .map(Ipv6Addr::from);
        hs.metadata_size = dict
            .get_int(b"metadata_size")
            .and_then(|s| u64::try_from(s).ok());
        hs.upload_only = dict.get_int(b"upload_only").map(|u| u != 0);
        Ok(hs)
    }

    /// Appends the bencoded dictionary (canonical: keys sorted) to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        let mut m = Dict::new();
        for (name, &id) in &self.m {
            m.insert(name.as_bytes(), Value::Int(i64::from(id)));
        }
        let yourip = self.yourip.map(ip_octets);
        let ipv4 = self.ipv4.map(|a| a.octets());
        let ipv6 = self.ipv6.map(|a| a.octets());
        let mut d = Dict::new();
        d.insert(b"m", Value::Dict(m));
        if let Some(v) = &self.v {
            d.insert(b"v", Value::Bytes(v.as_bytes()));
        }
        if let Some(p) = self.p {
            d.insert(b"p", Value::Int(i64::from(p)));
        }
        if let Some(q) = self.reqq {
            d.insert(b"reqq", Value::Int(i64::from(q)));
        }
        if let Some(ip) = &yourip {
            d.insert(b"yourip", Value::Bytes(ip.as_slice()));
        }
        if let Some(ip) = &ipv4 {
            d.insert(b"ipv4", Value::Bytes(ip));
        }
        if let Some(ip) = &ipv6 {
            d.insert(b"ipv6", Value::Bytes(ip));
        }
        if let Some(s) = self.metadata_size {
            d.insert(
                b"metadata_size",
                Value::Int(i64::try_from(s).unwrap_or(i64::MAX)),
            );
        }
        if let Some(u) = self.upload_only {
            d.insert(b"upload_only", Value::Int(i64::from(u)));
        }
        ferrent_bencode::encode_into(&Value::Dict(d), dst);
    }

    /// The bencoded dictionary.
    pub fn to_bytes(&self) -> Bytes {
        let mut v = Vec::new();
        self.encode(&mut v);
        Bytes::from(v)
    }

    /// The whole message: extended message 0 with this dictionary.
    pub fn to_message(&self) -> Message {
        Message::Extended {
            id: EXTENDED_HANDSHAKE_ID,
            payload: self.to_bytes(),
        }
    }
}

/// The client name as text, cut at a char boundary to [`MAX_CLIENT_NAME_LEN`] bytes.
fn client_name(b: &[u8]) -> String {
    let mut s = String::from_utf8_lossy(b.get(..MAX_CLIENT_NAME_LEN).unwrap_or(b)).into_owned();
    while s.len() > MAX_CLIENT_NAME_LEN {
        s.pop();
    }
    s
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(|a| IpAddr::V4(a.into())),
        16 => <[u8; 16]>::try_from(b).ok().map(|a| IpAddr::V6(a.into())),
        _ => None,
    }
}

fn ip_octets(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn libtorrent_style_handshake() {
        // The shape libtorrent 2.0 sends (keys sorted, as strict decoding requires).
        let raw = b"d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei31235e1:pi6881e4:reqqi500e11:upload_onlyi1e1:v17:libtorrent/2.0.116:yourip4:\x7f\x00\x00\x01e";
        let hs = ExtendedHandshake::decode(raw).unwrap();
        assert_eq!(hs.extension_id(UT_METADATA), Some(2));
        assert_eq!(hs.extension_id(UT_PEX), Some(1));
        assert_eq!(hs.m.len(), 6);
        assert_eq!(hs.metadata_size, Some(31235));
        assert_eq!(hs.checked_metadata_size(), Ok(Some(31235)));
        assert_eq!(hs.p, Some(6881));
        assert_eq!(hs.reqq, Some(500));
        assert_eq!(hs.upload_only, Some(true));
        assert_eq!(hs.v.as_deref(), Some("libtorrent/2.0.11"));
        assert_eq!(hs.yourip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }

    #[test]
    fn tolerant_of_missing_and_odd_fields() {
        assert_eq!(
            ExtendedHandshake::decode(b"de").unwrap(),
            ExtendedHandshake::default()
        );
        let hs = ExtendedHandshake::decode(
            b"d1:md1:ai300e1:bi-1e1:ci0e1:di255ee1:pi0e4:reqqi0e6:yourip3:abce",
        )
        .unwrap();
        assert_eq!(hs.m.len(), 2, "out-of-range ids skipped: {:?}", hs.m);
        assert_eq!(hs.extension_id("c"), None, "0 = disabled");
        assert_eq!(hs.extension_id("d"), Some(255));
        assert_eq!(hs.p, None);
        assert_eq!(hs.reqq, Some(1), "clamped up");
        assert_eq!(hs.yourip, None);
        let hs = ExtendedHandshake::decode(b"d1:mi5e1:pi70000e4:reqqi99999999e1:vi3ee").unwrap();
        assert!(hs.m.is_empty());
        assert_eq!(hs.p, None);
        assert_eq!(hs.reqq, Some(MAX_REQQ), "clamped down");
        assert_eq!(hs.v, None);
    }

    #[test]
    fn refused_payloads() {
        let err = |b: &[u8]| ExtendedHandshake::decode(b).unwrap_err();
        assert!(matches!(
            err(b"le"),
            ProtoError::InvalidExtended(InvalidExtended::NotADict { .. })
        ));
        assert!(matches!(
            err(b"d1:pi1e1:mdee"),
            ProtoError::InvalidExtended(InvalidExtended::Bencode { .. })
        ));
        assert!(matches!(
            err(b"de trailing"),
            ProtoError::InvalidExtended(InvalidExtended::Bencode { .. })
        ));
        let mut many = b"d1:md".to_vec();
        for i in 0..=MAX_EXTENSIONS {
            let key = format!("x{i:04}");
            many.extend_from_slice(format!("{}:{}i1e", key.len(), key).as_bytes());
        }
        many.extend_from_slice(b"ee");
        assert!(matches!(
            err(&many),
            ProtoError::InvalidExtended(InvalidExtended::TooMany { count, .. }) if count == MAX_EXTENSIONS + 1
        ));
    }

    #[test]
    fn long_client_name_is_cut() {
        let name = "é".repeat(100); // 200 bytes
        let raw = format!("d1:v{}:{}e", name.len(), name);
        let hs = ExtendedHandshake::decode(raw.as_bytes()).unwrap();
        assert_eq!(hs.v.unwrap(), "é".repeat(MAX_CLIENT_NAME_LEN / 2));
    }

    #[test]
    fn metadata_size_checks() {
        let hs = |s| ExtendedHandshake {
            metadata_size: Some(s),
            ..Default::default()
        };
        assert_eq!(hs(1).checked_metadata_size(), Ok(Some(1)));
        assert_eq!(
            hs(u64::from(MAX_METADATA_SIZE)).checked_metadata_size(),
            Ok(Some(MAX_METADATA_SIZE))
        );
        assert!(hs(0).checked_metadata_size().is_err());
        assert!(
            hs(u64::from(MAX_METADATA_SIZE) + 1)
                .checked_metadata_size()
                .is_err()
        );
    }

    pub(crate) fn arb_handshake() -> impl Strategy<Value = ExtendedHandshake> {
        (
            prop::collection::btree_map("[a-z_]{1,12}", any::<u8>(), 0..8),
            prop::option::of("[ -~]{0,40}"),
            prop::option::of(1u16..),
            prop::option::of(1..=MAX_REQQ),
            prop::option::of(any::<IpAddr>()),
            prop::option::of(any::<Ipv4Addr>()),
            prop::option::of(any::<Ipv6Addr>()),
            prop::option::of(0..=i64::MAX as u64),
            prop::option::of(any::<bool>()),
        )
            .prop_map(
                |(m, v, p, reqq, yourip, ipv4, ipv6, metadata_size, upload_only)| {
                    ExtendedHandshake {
                        m,
                        v,
                        p,
                        reqq,
                        yourip,
                        ipv4,
                        ipv6,
                        metadata_size,
                        upload_only,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn roundtrip(hs in arb_handshake()) {
            let bytes = hs.to_bytes();
            prop_assert_eq!(ExtendedHandshake::decode(&bytes).unwrap(), hs);
        }

        #[test]
        fn never_panics(data in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = ExtendedHandshake::decode(&data);
        }
    }
}
