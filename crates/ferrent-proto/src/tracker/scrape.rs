//! HTTP scrape (BEP 48): the request (one or more `info_hash` parameters) and the reply
//! (`files`: info-hash -> complete / downloaded / incomplete).

use ferrent_bencode::{Value, write_bytes, write_int};
use ferrent_core::Id20;

use super::MAX_QUERY_LEN;
use super::MAX_SCRAPE_HASHES;
use super::error::TrackerError;
use super::query::{pairs, percent_decode, push_bytes_param};
use super::response::{HttpReply, decode_reply_dict, u32_field};

/// The scrape URL for an announce URL (BEP 48): the last path segment must start with
/// `announce`, which becomes `scrape`. `None` when the tracker cannot be scraped.
///
/// ```
/// use ferrent_proto::tracker::scrape_url;
/// assert_eq!(scrape_url("http://t:1/announce").as_deref(), Some("http://t:1/scrape"));
/// assert_eq!(scrape_url("http://t/x/announce.php?k=1").as_deref(), Some("http://t/x/scrape.php?k=1"));
/// assert_eq!(scrape_url("http://t/a"), None);
/// ```
pub fn scrape_url(announce: &str) -> Option<String> {
    let path_end = announce.find('?').unwrap_or(announce.len());
    let slash = announce.get(..path_end)?.rfind('/')?;
    let last = announce.get(slash + 1..path_end)?;
    let rest = last.strip_prefix("announce")?;
    Some(format!(
        "{}scrape{rest}{}",
        announce.get(..=slash)?,
        announce.get(path_end..)?
    ))
}

/// A scrape request: the info-hashes to report on (BEP 48 allows several).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScrapeRequest {
    /// The torrents, in request order. Empty means "every torrent", which trackers may refuse.
    pub info_hashes: Vec<Id20>,
}

impl ScrapeRequest {
    /// Appends the query string (`info_hash=..&info_hash=..`) to `out`.
    pub fn write_query(&self, out: &mut String) {
        for h in &self.info_hashes {
            push_bytes_param(out, "info_hash", h.as_bytes());
        }
    }

    /// Parses a scrape query. Every `info_hash` must be 20 bytes; at most
    /// [`MAX_SCRAPE_HASHES`] of them; other parameters are ignored.
    pub fn parse_query(query: &str) -> Result<Self, TrackerError> {
        if query.len() > MAX_QUERY_LEN {
            return Err(TrackerError::QueryTooLong {
                len: query.len(),
                max: MAX_QUERY_LEN,
            });
        }
        let mut info_hashes = Vec::new();
        for (name, raw) in pairs(query) {
            if name != "info_hash" {
                continue;
            }
            if info_hashes.len() == MAX_SCRAPE_HASHES {
                return Err(TrackerError::TooManyInfoHashes {
                    count: MAX_SCRAPE_HASHES + 1,
                    max: MAX_SCRAPE_HASHES,
                });
            }
            let v = percent_decode(raw).map_err(|offset| TrackerError::BadPercentEncoding {
                name: "info_hash".into(),
                offset,
            })?;
            let h = Id20::from_slice(&v).ok_or(TrackerError::BadLength {
                name: "info_hash",
                len: v.len(),
                expected: 20,
            })?;
            info_hashes.push(h);
        }
        Ok(ScrapeRequest { info_hashes })
    }
}

/// Counters of one torrent in a scrape reply (BEP 48; the same three numbers as BEP 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ScrapeStats {
    /// Seeders.
    pub complete: u32,
    /// Completed downloads ever (`completed` events).
    pub downloaded: u32,
    /// Leechers.
    pub incomplete: u32,
}

/// A successful scrape reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScrapeResponse {
    /// Per torrent. Torrents the tracker does not know are usually left out.
    pub files: Vec<(Id20, ScrapeStats)>,
}

impl ScrapeResponse {
    /// Appends `d5:filesd<hash>d8:complete..10:downloaded..10:incomplete..e...ee`, the hashes
    /// sorted (canonical bencode) and duplicates written once.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut files: Vec<&(Id20, ScrapeStats)> = self.files.iter().collect();
        files.sort_by_key(|(h, _)| *h);
        files.dedup_by_key(|(h, _)| *h);
        out.push(b'd');
        write_bytes(out, b"files");
        out.push(b'd');
        for (h, s) in files {
            write_bytes(out, h.as_bytes());
            out.push(b'd');
            write_bytes(out, b"complete");
            write_int(out, i64::from(s.complete));
            write_bytes(out, b"downloaded");
            write_int(out, i64::from(s.downloaded));
            write_bytes(out, b"incomplete");
            write_int(out, i64::from(s.incomplete));
            out.push(b'e');
        }
        out.push(b'e');
        out.push(b'e');
    }

    /// Decodes a scrape reply body (bounded like [`super::AnnounceResponse::decode`]). Entries
    /// whose key is not 20 bytes are skipped; missing counters read as 0.
    pub fn decode(body: &[u8]) -> Result<HttpReply<ScrapeResponse>, TrackerError> {
        let v = match decode_reply_dict(body)? {
            Ok(v) => v,
            Err(reason) => return Ok(HttpReply::Failure(reason)),
        };
        let Value::Dict(d) = &v else {
            return Err(TrackerError::NotADict {
                found: v.type_name(),
            });
        };
        let files = d
            .get(b"files")
            .ok_or(TrackerError::MissingField { name: "files" })?;
        let files = files.as_dict().ok_or(TrackerError::BadField {
            name: "files",
            reason: "not a dictionary",
        })?;
        let mut out = Vec::with_capacity(files.len().min(MAX_SCRAPE_HASHES));
        for e in files.iter() {
            let Some(h) = Id20::from_slice(e.key) else {
                continue;
            };
            let s = e.value.as_dict().ok_or(TrackerError::BadField {
                name: "files",
                reason: "entry is not a dictionary",
            })?;
            out.push((
                h,
                ScrapeStats {
                    complete: u32_field(s, "complete")?.unwrap_or(0),
                    downloaded: u32_field(s, "downloaded")?.unwrap_or(0),
                    incomplete: u32_field(s, "incomplete")?.unwrap_or(0),
                },
            ));
        }
        Ok(HttpReply::Success(ScrapeResponse { files: out }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn several_hashes_parse_in_order() {
        let mut q = String::new();
        let req = ScrapeRequest {
            info_hashes: vec![Id20([2; 20]), Id20([1; 20])],
        };
        req.write_query(&mut q);
        assert_eq!(ScrapeRequest::parse_query(&q).unwrap(), req);
        assert_eq!(ScrapeRequest::parse_query("").unwrap().info_hashes.len(), 0);
    }

    #[test]
    fn bad_scrapes_are_rejected() {
        assert!(matches!(
            ScrapeRequest::parse_query("info_hash=short"),
            Err(TrackerError::BadLength { len: 5, .. })
        ));
        let req = ScrapeRequest {
            info_hashes: vec![Id20([9; 20]); MAX_SCRAPE_HASHES + 1],
        };
        let mut q = String::new();
        req.write_query(&mut q);
        assert!(matches!(
            ScrapeRequest::parse_query(&q),
            Err(TrackerError::TooManyInfoHashes { .. })
        ));
    }

    #[test]
    fn reply_is_canonical_and_round_trips() {
        let s = ScrapeStats {
            complete: 1,
            downloaded: 2,
            incomplete: 3,
        };
        let r = ScrapeResponse {
            files: vec![(Id20([5; 20]), s), (Id20([1; 20]), s)],
        };
        let mut out = Vec::new();
        r.encode(&mut out);
        assert!(ferrent_bencode::decode(&out).is_ok());
        let HttpReply::Success(d) = ScrapeResponse::decode(&out).unwrap() else {
            panic!()
        };
        assert_eq!(d.files, [(Id20([1; 20]), s), (Id20([5; 20]), s)]);
    }

    proptest! {
        #[test]
        fn scrape_round_trip(files in proptest::collection::btree_map(any::<[u8; 20]>(), any::<(u32, u32, u32)>(), 0..20)) {
            let r = ScrapeResponse {
                files: files.into_iter().map(|(h, (c, d, i))| {
                    (Id20(h), ScrapeStats { complete: c, downloaded: d, incomplete: i })
                }).collect(),
            };
            let mut out = Vec::new();
            r.encode(&mut out);
            prop_assert_eq!(ScrapeResponse::decode(&out).unwrap(), HttpReply::Success(r));
        }

        #[test]
        fn scrape_query_round_trip(hs in proptest::collection::vec(any::<[u8; 20]>(), 0..=MAX_SCRAPE_HASHES)) {
            let req = ScrapeRequest { info_hashes: hs.into_iter().map(Id20).collect() };
            let mut q = String::new();
            req.write_query(&mut q);
            prop_assert_eq!(ScrapeRequest::parse_query(&q).unwrap(), req);
        }
    }
}
