//! Magnet links: [`Magnet`] parses and formats `magnet:?xt=urn:btih:...` links.
//!
//! The rules (parameters, decoding, limits) are documented on [`Magnet`].

mod error;
mod peer;
#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, utf8_percent_encode};

use crate::{Id20, Id32, InfoHash};

pub use error::MagnetError;
pub use peer::MagnetPeer;

/// Longest magnet link accepted, in bytes. Real links stay under a few KiB even with a hundred
/// trackers; 64 KiB leaves ample room and caps what a hostile link can make us allocate.
pub const MAX_MAGNET_LEN: usize = 64 * 1024;

/// Most `tr` parameters in one link. Public tracker lists pasted into links run to about a
/// hundred; each tracker costs announces, so more than this is abuse, not a use.
pub const MAX_MAGNET_TRACKERS: usize = 500;

/// Most `ws` parameters in one link. Torrents carry a handful of web seeds (BEP 19); each may
/// become HTTP connections.
pub const MAX_MAGNET_WEB_SEEDS: usize = 100;

/// Most `x.pe` parameters in one link. They are a bootstrap hint (a few peers to get metadata
/// from); each becomes a connection attempt.
pub const MAX_MAGNET_PEERS: usize = 500;

/// Most items (indexes or ranges) in `so` (BEP 53). Ranges are stored, not expanded, so an item
/// costs 8 bytes whatever its width; this only caps hostile lists.
pub const MAX_MAGNET_SELECT_ITEMS: usize = 1000;

/// Characters written as-is in `dn`, `tr` and `ws` values: RFC 3986 unreserved only. Everything
/// else, notably `&`, `=`, `+`, `%`, `#` and space, is percent-encoded.
const VALUE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `x.pe` values additionally keep `:` `[` `]` literal: libtorrent reads `x.pe` without
/// percent-decoding, so `[::1]:6881` must stay readable to it.
const PEER_SET: &AsciiSet = &VALUE_SET.remove(b':').remove(b'[').remove(b']');

/// A parsed magnet link. Build one with [`Magnet::new`] (plus the `with_*` setters or the public
/// fields) or [`Magnet::parse`]; [`Display`](fmt::Display) writes the canonical link, and
/// `Magnet::parse(&m.to_string()) == Ok(m)` for every magnet whose fields obey their documented
/// rules and whose link fits in [`MAX_MAGNET_LEN`] (not an IPv6 flow label, which is not written;
/// not a [`MagnetPeer::Host`] spelled like an IP address, which reads back as
/// [`MagnetPeer::Addr`]).
///
/// Parameters understood (everything else, e.g. `xs`, `as`, `kt`, `dht`, is ignored and not kept):
///
/// | parameter | meaning | where from |
/// |---|---|---|
/// | `xt=urn:btih:<40 hex or 32 base32>` | v1 info-hash | BEP 9 |
/// | `xt=urn:btmh:1220<64 hex>` | v2 info-hash as a SHA-256 multihash | BEP 52 |
/// | `dn` | display name, shown until the metadata arrives | BEP 9 |
/// | `xl` | exact length of the content in bytes | magnet URI draft |
/// | `tr` | tracker URL, several, in link order | BEP 9 |
/// | `ws` | web seed URL, several | BEP 19 |
/// | `x.pe` | peer address `host:port`, `a.b.c.d:port` or `[v6]:port` | BEP 9 |
/// | `so` | select only these file indexes and ranges, e.g. `0,2,4-6` | BEP 53 |
///
/// Both `xt` forms in one link make a hybrid. Every parameter name may carry a numeric suffix
/// (`tr.1`, `tr.2`, `xt.1`, as some clients emit); the suffix has no meaning and is dropped, and
/// the values keep the order in which they appear in the link.
///
/// # Decoding rules
/// - Values are percent-decoded, and `+` decodes to a space (form encoding, as libtorrent's
///   `unescape_string` does). A literal `+` must therefore be written `%2B`; our formatter does, so
///   links we write mean the same to both RFC 3986 and form decoders. Malformed `%` sequences are
///   kept literally (as the WHATWG URL standard does) rather than rejected.
/// - `dn` is decoded as UTF-8 *lossily* (bad bytes become U+FFFD): it is only a label, shown until
///   the real name arrives with the metadata, and a link should not fail because of it. An empty
///   `dn` is the same as none; when `dn` appears more than once the first non-empty one wins.
/// - `tr`, `ws`, `x.pe` (and `xt`, `xl`, `so`) must be valid UTF-8 after decoding
///   ([`MagnetError::BadUtf8`]): a mangled URL would fail later in a harder-to-explain way. Empty
///   `tr`/`ws`/`x.pe` values are skipped; several `so` parameters add up.
/// - Two different v1 (or v2) hashes, or two different `xl`, are an error
///   ([`MagnetError::Conflicting`]); repeating the same one is fine.
/// - An `xt` with another URN (e.g. `urn:sha1:` of other networks) is ignored when the link also
///   has a BitTorrent one; a link with none is [`MagnetError::UnsupportedUrn`].
/// - Leading and trailing whitespace around the whole link is trimmed; the scheme is matched
///   case-insensitively, parameter names exactly.
///
/// Limits: [`MAX_MAGNET_LEN`], [`MAX_MAGNET_TRACKERS`], [`MAX_MAGNET_WEB_SEEDS`],
/// [`MAX_MAGNET_PEERS`], [`MAX_MAGNET_SELECT_ITEMS`].
///
/// ```
/// use ferrent_core::Magnet;
///
/// let m: Magnet = "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a\
///                  &dn=Big+Buck%20Bunny&tr=udp%3A%2F%2Ftracker.example%3A6969"
///     .parse()
///     .unwrap();
/// assert_eq!(m.name.as_deref(), Some("Big Buck Bunny"));
/// assert_eq!(m.trackers, ["udp://tracker.example:6969"]);
/// assert_eq!(Magnet::parse(&m.to_string()).unwrap(), m);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Magnet {
    /// The torrent's v1 and/or v2 info-hash (`xt`).
    pub info_hash: InfoHash,
    /// Display name (`dn`). `None` when absent; an empty name is not written.
    pub name: Option<String>,
    /// Exact length of the content in bytes (`xl`), when the link gives it.
    pub exact_length: Option<u64>,
    /// Tracker URLs (`tr`), in link order; empty strings are not written.
    pub trackers: Vec<String>,
    /// Web seed URLs (`ws`, BEP 19), in link order; empty strings are not written.
    pub web_seeds: Vec<String>,
    /// Peers to contact directly (`x.pe`), in link order.
    pub peers: Vec<MagnetPeer>,
    /// Files to download (`so`, BEP 53): inclusive index ranges in link order (a single index
    /// `i` is `i..=i`). Empty means every file. Ranges with start > end are not written.
    pub select_only: Vec<RangeInclusive<u32>>,
}

impl Magnet {
    /// A magnet naming only the torrent; add the rest with the setters or the fields.
    pub fn new(info_hash: InfoHash) -> Self {
        Magnet {
            info_hash,
            name: None,
            exact_length: None,
            trackers: Vec::new(),
            web_seeds: Vec::new(),
            peers: Vec::new(),
            select_only: Vec::new(),
        }
    }

    /// Sets the display name (`dn`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Appends tracker URLs (`tr`), e.g. a torrent's announce list flattened tier by tier.
    pub fn with_trackers<I, S>(mut self, trackers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.trackers.extend(trackers.into_iter().map(Into::into));
        self
    }

    /// Appends web seed URLs (`ws`).
    pub fn with_web_seeds<I, S>(mut self, web_seeds: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.web_seeds.extend(web_seeds.into_iter().map(Into::into));
        self
    }

    /// Whether file `index` is to be downloaded: true when `so` is absent or covers it.
    pub fn selects_file(&self, index: u32) -> bool {
        self.select_only.is_empty() || self.select_only.iter().any(|r| r.contains(&index))
    }

    /// Parses a magnet link; see [`Magnet`] for the rules.
    pub fn parse(link: &str) -> Result<Self, MagnetError> {
        if link.len() > MAX_MAGNET_LEN {
            return Err(MagnetError::TooLong {
                len: link.len(),
                max: MAX_MAGNET_LEN,
            });
        }
        let link = link.trim();
        let query =
            strip_prefix_ignore_case(link, "magnet:?").ok_or_else(|| MagnetError::NotMagnet {
                text: shorten(link),
            })?;

        let mut v1: Option<Id20> = None;
        let mut v2: Option<Id32> = None;
        let mut other_urn: Option<String> = None;
        let mut saw_xt = false;
        let mut m = Magnet::new(InfoHash::v1(Id20::default()));

        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            match strip_index(key) {
                "xt" => {
                    saw_xt = true;
                    let value = decode_utf8("xt", raw)?;
                    if let Some(h) = strip_prefix_ignore_case(&value, "urn:btih:") {
                        let id =
                            Id20::from_hex_or_base32(h).map_err(|source| MagnetError::BadBtih {
                                value: shorten(h),
                                source,
                            })?;
                        set_once(&mut v1, id, "xt=urn:btih", Id20::to_hex)?;
                    } else if let Some(h) = strip_prefix_ignore_case(&value, "urn:btmh:") {
                        let id = parse_btmh(h)?;
                        set_once(&mut v2, id, "xt=urn:btmh", Id32::to_hex)?;
                    } else if other_urn.is_none() {
                        other_urn = Some(shorten(&value));
                    }
                }
                // The first non-empty `dn` wins; later ones fall through to the ignored arm.
                "dn" if m.name.is_none() => {
                    let name = String::from_utf8_lossy(&decode(raw)).into_owned();
                    m.name = Some(name).filter(|n| !n.is_empty());
                }
                "xl" => {
                    let value = decode_utf8("xl", raw)?;
                    let len =
                        parse_digits::<u64>(&value).ok_or_else(|| MagnetError::BadExactLength {
                            value: shorten(&value),
                        })?;
                    set_once(&mut m.exact_length, len, "xl", u64::to_string)?;
                }
                "tr" => push_limited(&mut m.trackers, "tr", MAX_MAGNET_TRACKERS, raw)?,
                "ws" => push_limited(&mut m.web_seeds, "ws", MAX_MAGNET_WEB_SEEDS, raw)?,
                "x.pe" => {
                    let value = decode_utf8("x.pe", raw)?;
                    if !value.is_empty() {
                        check_room(m.peers.len(), "x.pe", MAX_MAGNET_PEERS)?;
                        m.peers.push(MagnetPeer::parse(&value)?);
                    }
                }
                "so" => parse_select_only(&decode_utf8("so", raw)?, &mut m.select_only)?,
                _ => {}
            }
        }

        m.info_hash = match InfoHash::from_parts(v1, v2) {
            Some(ih) => ih,
            None if saw_xt => {
                return Err(MagnetError::UnsupportedUrn {
                    value: other_urn.unwrap_or_default(),
                });
            }
            None => return Err(MagnetError::MissingXt),
        };
        Ok(m)
    }
}

impl FromStr for Magnet {
    type Err = MagnetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Magnet::parse(s)
    }
}

impl fmt::Display for Magnet {
    /// The canonical link: `xt` (btih as lower-case hex, then btmh), `dn`, `xl`, `tr`..., `ws`...,
    /// `x.pe`..., `so`, with `dn`/`tr`/`ws` percent-encoded except RFC 3986 unreserved characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("magnet:?")?;
        let mut sep = "";
        if let Some(v1) = self.info_hash.v1_hash() {
            write!(f, "xt=urn:btih:{}", v1.to_hex())?;
            sep = "&";
        }
        if let Some(v2) = self.info_hash.v2_hash() {
            write!(f, "{sep}xt=urn:btmh:1220{}", v2.to_hex())?;
        }
        if let Some(name) = self.name.as_deref().filter(|n| !n.is_empty()) {
            write!(f, "&dn={}", utf8_percent_encode(name, VALUE_SET))?;
        }
        if let Some(len) = self.exact_length {
            write!(f, "&xl={len}")?;
        }
        for tr in self.trackers.iter().filter(|t| !t.is_empty()) {
            write!(f, "&tr={}", utf8_percent_encode(tr, VALUE_SET))?;
        }
        for ws in self.web_seeds.iter().filter(|w| !w.is_empty()) {
            write!(f, "&ws={}", utf8_percent_encode(ws, VALUE_SET))?;
        }
        for peer in &self.peers {
            write!(
                f,
                "&x.pe={}",
                utf8_percent_encode(&peer.to_string(), PEER_SET)
            )?;
        }
        let mut sep = "&so=";
        for r in self.select_only.iter().filter(|r| r.start() <= r.end()) {
            if r.start() == r.end() {
                write!(f, "{sep}{}", r.start())?;
            } else {
                write!(f, "{sep}{}-{}", r.start(), r.end())?;
            }
            sep = ",";
        }
        Ok(())
    }
}

/// `s` without `prefix`, compared ASCII case-insensitively.
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// A parameter name without a numeric `.N` suffix: `tr.1` -> `tr`, `x.pe.2` -> `x.pe`, but
/// `x.pe` stays (its suffix is not a number).
fn strip_index(key: &str) -> &str {
    match key.rsplit_once('.') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => key,
    }
}

/// Percent-decodes a value, `+` meaning space (see the module doc).
fn decode(raw: &str) -> Vec<u8> {
    if raw.contains('+') {
        let spaced: Vec<u8> = raw
            .bytes()
            .map(|b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_decode(&spaced).collect()
    } else {
        percent_decode(raw.as_bytes()).collect()
    }
}

/// [`decode`], then strict UTF-8.
fn decode_utf8(param: &'static str, raw: &str) -> Result<String, MagnetError> {
    String::from_utf8(decode(raw)).map_err(|_| MagnetError::BadUtf8 {
        param,
        value: shorten(raw),
    })
}

/// Appends a decoded, non-empty URL to `list`, enforcing its limit.
fn push_limited(
    list: &mut Vec<String>,
    param: &'static str,
    max: usize,
    raw: &str,
) -> Result<(), MagnetError> {
    let value = decode_utf8(param, raw)?;
    if !value.is_empty() {
        check_room(list.len(), param, max)?;
        list.push(value);
    }
    Ok(())
}

fn check_room(len: usize, param: &'static str, max: usize) -> Result<(), MagnetError> {
    if len >= max {
        Err(MagnetError::TooMany { param, max })
    } else {
        Ok(())
    }
}

/// Stores `new` in an empty slot; a different value already there is a conflict.
fn set_once<T: PartialEq>(
    slot: &mut Option<T>,
    new: T,
    param: &'static str,
    show: impl Fn(&T) -> String,
) -> Result<(), MagnetError> {
    match slot {
        Some(old) if *old != new => Err(MagnetError::Conflicting {
            param,
            first: show(old),
            second: show(&new),
        }),
        Some(_) => Ok(()),
        None => {
            *slot = Some(new);
            Ok(())
        }
    }
}

/// The v2 hash of `urn:btmh:<multihash>`: only `0x12` (sha2-256) with length `0x20` is BitTorrent.
fn parse_btmh(h: &str) -> Result<Id32, MagnetError> {
    let bad = |reason: String| MagnetError::BadBtmh {
        value: shorten(h),
        reason,
    };
    let (code, rest) = match (h.get(..2), h.get(2..)) {
        (Some(code), Some(rest)) => (code, rest),
        _ => return Err(bad("too short for a multihash".into())),
    };
    if code != "12" {
        return Err(MagnetError::UnsupportedMultihash { value: shorten(h) });
    }
    let (len, digest) = match (rest.get(..2), rest.get(2..)) {
        (Some(len), Some(digest)) => (len, digest),
        _ => return Err(bad("too short for a multihash".into())),
    };
    if len != "20" {
        return Err(bad(format!(
            "digest length is 0x{len}, expected 0x20 (32 bytes)"
        )));
    }
    Id32::from_hex(digest).map_err(|e| bad(e.to_string()))
}

/// ASCII digits only (no sign, no spaces) that fit in `T`.
fn parse_digits<T: FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// BEP 53 `so`: comma-separated indexes `i` and inclusive ranges `a-b`, appended to `out`.
fn parse_select_only(value: &str, out: &mut Vec<RangeInclusive<u32>>) -> Result<(), MagnetError> {
    if value.is_empty() {
        return Ok(());
    }
    let bad = |reason| MagnetError::BadSelectOnly {
        value: shorten(value),
        reason,
    };
    for item in value.split(',') {
        if item.is_empty() {
            return Err(bad("empty item between commas"));
        }
        let (a, b) = item.split_once('-').unwrap_or((item, item));
        let not_index = "items must be file indexes (0 to 4294967295) or ranges a-b";
        let first = parse_digits::<u32>(a).ok_or_else(|| bad(not_index))?;
        let last = parse_digits::<u32>(b).ok_or_else(|| bad(not_index))?;
        if first > last {
            return Err(bad("a range's start is after its end"));
        }
        check_room(out.len(), "so item", MAX_MAGNET_SELECT_ITEMS)?;
        out.push(first..=last);
    }
    Ok(())
}

/// At most 80 characters of `s`, for error messages.
fn shorten(s: &str) -> String {
    s.chars().take(80).collect()
}
