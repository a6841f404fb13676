//! [`Metainfo::to_torrent_file`]: a `.torrent` file for metadata that came without one (a magnet
//! link's info dictionary fetched from peers, BEP 9), to save it or hand it to another program.

use ferrent_bencode::write_bytes;

use super::Metainfo;

impl Metainfo {
    /// The bytes of a `.torrent` file for this torrent: the raw info dictionary (its bytes are
    /// what the info-hash is over, so they are copied, never re-encoded) with the tracker tiers
    /// and BEP 19 web seeds. Keys come in sorted order, so the dictionary is canonical bencode.
    pub fn to_torrent_file(&self) -> Vec<u8> {
        let mut out = vec![b'd'];
        let tiers = self.trackers();
        if let Some(first) = tiers.first().and_then(|t| t.first()) {
            write_bytes(&mut out, b"announce");
            write_bytes(&mut out, first.as_bytes());
            write_bytes(&mut out, b"announce-list");
            out.push(b'l');
            for tier in &tiers {
                out.push(b'l');
                for url in tier {
                    write_bytes(&mut out, url.as_bytes());
                }
                out.push(b'e');
            }
            out.push(b'e');
        }
        write_bytes(&mut out, b"info");
        out.extend_from_slice(self.info_bytes());
        if !self.url_list().is_empty() {
            write_bytes(&mut out, b"url-list");
            out.push(b'l');
            for u in self.url_list() {
                write_bytes(&mut out, u.as_bytes());
            }
            out.push(b'e');
        }
        out.push(b'e');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torrent_file_round_trips_with_the_same_info_hash() {
        let info = b"d6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:01234567890123456789e";
        let meta = Metainfo::from_info_bytes(info)
            .unwrap()
            .with_trackers(vec![vec!["http://t/a".into()], vec!["udp://u:1".into()]])
            .with_web_seeds(vec!["http://w/".into()]);
        let back = Metainfo::from_bytes(&meta.to_torrent_file()).unwrap();
        assert_eq!(back.info_hash(), meta.info_hash());
        assert_eq!(back.trackers(), meta.trackers());
        assert_eq!(back.url_list(), meta.url_list());
        assert!(back.warnings().is_empty(), "{:?}", back.warnings());
    }
}
