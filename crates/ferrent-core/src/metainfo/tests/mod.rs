//! Unit tests of metainfo parsing: one per validation error, the path rules as applied to
//! torrents, v2 / hybrid construction checked by hand-built merkle trees.

use super::*;
use crate::layout::LayoutError;
use crate::path::PathError;
use ferrent_bencode::ErrorKind;

/// A bencode value built in tests (owned, so trees can be edited freely).
#[derive(Clone, Debug)]
pub(super) enum B {
    I(i64),
    S(Vec<u8>),
    L(Vec<B>),
    D(Vec<(Vec<u8>, B)>),
}

pub(super) fn s(x: impl AsRef<[u8]>) -> B {
    B::S(x.as_ref().to_vec())
}
pub(super) fn d(entries: &[(&str, B)]) -> B {
    B::D(
        entries
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
            .collect(),
    )
}
pub(super) fn l(items: &[B]) -> B {
    B::L(items.to_vec())
}

impl B {
    fn enc(&self, out: &mut Vec<u8>) {
        match self {
            B::I(n) => out.extend(format!("i{n}e").bytes()),
            B::S(b) => {
                out.extend(format!("{}:", b.len()).bytes());
                out.extend(b);
            }
            B::L(items) => {
                out.push(b'l');
                items.iter().for_each(|i| i.enc(out));
                out.push(b'e');
            }
            B::D(entries) => {
                let mut e = entries.clone();
                e.sort_by(|a, b| a.0.cmp(&b.0));
                out.push(b'd');
                for (k, v) in e {
                    B::S(k).enc(out);
                    v.enc(out);
                }
                out.push(b'e');
            }
        }
    }
    fn bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.enc(&mut v);
        v
    }
    /// Sets `key` of a dictionary (replacing it).
    fn set(&mut self, key: &str, value: B) -> &mut Self {
        if let B::D(e) = self {
            e.retain(|(k, _)| k != key.as_bytes());
            e.push((key.as_bytes().to_vec(), value));
        }
        self
    }
    fn remove(&mut self, key: &str) -> &mut Self {
        if let B::D(e) = self {
            e.retain(|(k, _)| k != key.as_bytes());
        }
        self
    }
    fn get_mut(&mut self, key: &str) -> &mut B {
        match self {
            B::D(e) => &mut e.iter_mut().find(|(k, _)| k == key.as_bytes()).unwrap().1,
            _ => panic!("not a dict"),
        }
    }
}

const PL: i64 = 16384;

pub(super) fn pieces(n: usize) -> B {
    B::S(vec![0xab; 20 * n])
}

fn single_info(len: i64) -> B {
    let n = (len as usize).div_ceil(PL as usize);
    d(&[
        ("name", s("a.bin")),
        ("piece length", B::I(PL)),
        ("length", B::I(len)),
        ("pieces", pieces(n)),
    ])
}

fn multi_info(files: &[(&[&str], i64)]) -> B {
    let total = files.iter().map(|f| f.1).fold(0i64, i64::saturating_add);
    let list = files
        .iter()
        .map(|(p, len)| {
            d(&[
                ("length", B::I(*len)),
                ("path", l(&p.iter().map(s).collect::<Vec<_>>())),
            ])
        })
        .collect::<Vec<_>>();
    let n = (total as usize).div_ceil(PL as usize).min(1 << 16);
    d(&[
        ("name", s("dir")),
        ("piece length", B::I(PL)),
        ("files", B::L(list)),
        ("pieces", pieces(n)),
    ])
}

pub(super) fn torrent(info: B) -> B {
    d(&[("announce", s("http://tracker/announce")), ("info", info)])
}

pub(super) fn parse(t: &B) -> Result<Metainfo, MetainfoError> {
    Metainfo::from_bytes(&t.bytes())
}

pub(super) fn err(t: &B) -> MetainfoError {
    parse(t).unwrap_err()
}

#[test]
fn single_file_v1() {
    let info = single_info(40000);
    let m = parse(&torrent(info.clone())).unwrap();
    assert_eq!(m.version(), MetaVersion::V1);
    assert_eq!(m.name(), "a.bin");
    assert!(m.is_single_file());
    assert_eq!(m.total_length(), 40000);
    assert_eq!(m.layout().num_pieces(), 3);
    assert_eq!(m.files().len(), 1);
    assert_eq!(m.files()[0].path(), PathBuf::from("a.bin"));
    let raw = info.bytes();
    assert_eq!(m.info_bytes(), raw);
    assert_eq!(
        m.info_hash().v1_hash(),
        Some(Id20(Sha1::digest(&raw).into()))
    );
    assert_eq!(m.info_hash().v2_hash(), None);
    assert_eq!(
        m.trackers(),
        vec![vec!["http://tracker/announce".to_string()]]
    );
    assert_eq!(
        m.piece_hash_v1(m.layout().piece(2).unwrap()),
        Some(Id20([0xab; 20]))
    );
    assert!(m.warnings().is_empty());
}

#[test]
fn multi_file_v1_paths_and_offsets() {
    let m = parse(&torrent(multi_info(&[
        (&["a", "b.txt"], 10),
        (&["empty"], 0),
        (&["c"], 20000),
    ])))
    .unwrap();
    assert!(!m.is_single_file());
    let paths: Vec<_> = m.files().iter().map(FileEntry::display_path).collect();
    assert_eq!(paths, ["dir/a/b.txt", "dir/empty", "dir/c"]);
    let offsets: Vec<_> = m.files().iter().map(FileEntry::offset).collect();
    assert_eq!(offsets, [0, 10, 10]);
    assert_eq!(m.file_path(2), Some(PathBuf::from("dir/c")));
    assert_eq!(m.layout().num_pieces(), 2);
}

#[test]
fn all_fields_are_read() {
    let mut info = multi_info(&[(&["x"], 5), (&["y"], 5)]);
    info.set("private", B::I(1))
        .set("source", s("SRC"))
        .set("name.utf-8", s("dïr"));
    if let B::L(files) = info.get_mut("files") {
        files[0]
            .set("md5sum", s("0123456789abcdef0123456789abcdef"))
            .set("attr", s("xh"))
            .set("mtime", B::I(7));
        files[1].set("path.utf-8", l(&[s("ÿ")]));
    }
    let mut t = torrent(info);
    t.set(
        "announce-list",
        l(&[
            l(&[s("http://a"), s("http://b")]),
            l(&[]),
            l(&[s("udp://c")]),
        ]),
    )
    .set("creation date", B::I(1_700_000_000))
    .set("comment", s("hello"))
    .set("created by", s("test"))
    .set("encoding", s("UTF-8"))
    .set("url-list", l(&[s("http://ws/")]))
    .set("httpseeds", s("http://hs/"));
    let m = parse(&t).unwrap();
    assert!(m.is_private());
    assert_eq!(m.source(), Some("SRC"));
    assert_eq!(m.name(), "dïr");
    let f = &m.files()[0];
    assert_eq!(f.md5sum(), Some("0123456789abcdef0123456789abcdef"));
    assert!(f.attr().executable && f.attr().hidden && !f.is_pad());
    assert_eq!(f.mtime(), Some(7));
    assert_eq!(m.files()[1].display_path(), "dïr/ÿ");
    assert_eq!(m.announce_list().len(), 2);
    assert_eq!(m.trackers()[0], ["http://a", "http://b"]);
    assert_eq!(m.creation_date(), Some(1_700_000_000));
    assert_eq!(m.comment(), Some("hello"));
    assert_eq!(m.created_by(), Some("test"));
    assert_eq!(m.encoding(), Some("UTF-8"));
    assert_eq!(m.url_list(), ["http://ws/"]);
    assert_eq!(m.http_seeds(), ["http://hs/"]);
}

#[test]
fn pad_files_are_entries_and_skip_duplicate_checks() {
    let mut info = multi_info(&[(&["a"], 100), (&[".pad", "16284"], 16284), (&["b"], 10)]);
    // Two pads with the same path are fine.
    if let B::L(files) = info.get_mut("files") {
        files[1].set("attr", s("p"));
        let mut pad2 = files[1].clone();
        pad2.set("length", B::I(PL - 10));
        files.push(pad2);
    }
    info.set("pieces", pieces(2));
    let m = parse(&torrent(info)).unwrap();
    assert!(m.files()[1].is_pad() && m.files()[3].is_pad());
    assert_eq!(m.files()[2].offset(), PL as u64);
    assert_eq!(m.content_length(), 110);
    assert_eq!(m.total_length(), 2 * PL as u64);
    assert!(m.layout().files()[1].pad);
}

#[test]
fn bitcomet_pad_files_are_recognised() {
    let info = multi_info(&[
        (&["a"], 100),
        (&["_____padding_file_0_"], 16284),
        (&["b"], 10),
    ]);
    let m = parse(&torrent(info)).unwrap();
    assert!(m.files()[1].is_pad());
}

#[test]
fn symlinks_keep_a_sanitised_target() {
    let mut info = multi_info(&[(&["a"], 100), (&["link"], 0)]);
    if let B::L(files) = info.get_mut("files") {
        files[1]
            .set("attr", s("l"))
            .set("symlink path", l(&[s("sub"), s("a")]));
    }
    let m = parse(&torrent(info.clone())).unwrap();
    assert!(m.files()[1].attr().symlink);
    assert_eq!(
        m.files()[1].symlink_target(),
        Some(&["sub".to_string(), "a".to_string()][..])
    );
    if let B::L(files) = info.get_mut("files") {
        files[1].set("symlink path", l(&[s(".."), s("etc")]));
    }
    assert!(matches!(
        err(&torrent(info.clone())),
        MetainfoError::BadPath {
            source: PathError::ParentDir,
            ..
        }
    ));
    if let B::L(files) = info.get_mut("files") {
        files[1].remove("symlink path");
    }
    assert!(
        matches!(err(&torrent(info)), MetainfoError::MissingKey { key } if key == "info.files[1].symlink path")
    );
}

// ---- one test per validation error ----

#[test]
fn not_bencode() {
    assert!(
        matches!(Metainfo::from_bytes(b"d4:info"), Err(MetainfoError::Bencode(e)) if e.offset == 7)
    );
    assert!(matches!(
        Metainfo::from_bytes(b""),
        Err(MetainfoError::Bencode(_))
    ));
}

#[test]
fn top_level_not_a_dict() {
    assert!(
        matches!(Metainfo::from_bytes(b"le"), Err(MetainfoError::WrongType { key, .. }) if key == "torrent")
    );
}

#[test]
fn missing_keys() {
    let t = d(&[("announce", s("x"))]);
    assert!(matches!(err(&t), MetainfoError::MissingKey { key } if key == "info"));
    for k in ["name", "piece length"] {
        let mut info = single_info(10);
        info.remove(k);
        assert!(
            matches!(err(&torrent(info)), MetainfoError::MissingKey { key } if key == format!("info.{k}"))
        );
    }
    let mut info = single_info(10);
    info.remove("pieces");
    assert!(
        matches!(err(&torrent(info)), MetainfoError::MissingKey { key } if key == "info.pieces")
    );
    let mut info = multi_info(&[(&["a"], 10)]);
    if let B::L(files) = info.get_mut("files") {
        files[0].remove("length");
    }
    assert!(
        matches!(err(&torrent(info)), MetainfoError::MissingKey { key } if key == "info.files[0].length")
    );
    let mut info = multi_info(&[(&["a"], 10), (&["b"], 1)]);
    if let B::L(files) = info.get_mut("files") {
        files[1].remove("path");
    }
    assert!(
        matches!(err(&torrent(info)), MetainfoError::MissingKey { key } if key == "info.files[1].path")
    );
}

#[test]
fn wrong_types() {
    let mut t = torrent(single_info(10));
    t.set("info", l(&[]));
    assert!(
        matches!(err(&t), MetainfoError::WrongType { key, expected: "dictionary", found: "list" } if key == "info")
    );
    let mut info = single_info(10);
    info.set("piece length", s("16384"));
    assert!(
        matches!(err(&torrent(info)), MetainfoError::WrongType { key, expected: "integer", .. } if key == "info.piece length")
    );
    let mut info = single_info(10);
    info.set("pieces", B::I(1));
    assert!(
        matches!(err(&torrent(info)), MetainfoError::WrongType { key, .. } if key == "info.pieces")
    );
    let mut info = single_info(10);
    info.set("private", s("1"));
    assert!(
        matches!(err(&torrent(info)), MetainfoError::WrongType { key, .. } if key == "info.private")
    );
    let mut info = multi_info(&[(&["a"], 10)]);
    if let B::L(files) = info.get_mut("files") {
        files[0].set("path", l(&[B::I(3)]));
    }
    assert!(
        matches!(err(&torrent(info)), MetainfoError::WrongType { key, .. } if key == "info.files[0].path[0]")
    );
    let mut info = multi_info(&[(&["a"], 10)]);
    info.set("files", l(&[s("x")]));
    assert!(
        matches!(err(&torrent(info)), MetainfoError::WrongType { key, .. } if key == "info.files[0]")
    );
}

#[test]
fn negative_lengths() {
    let mut info = single_info(10);
    info.set("length", B::I(-1));
    assert!(matches!(
        err(&torrent(info)),
        MetainfoError::NegativeLength { value: -1, .. }
    ));
    let mut info = multi_info(&[(&["a"], 10), (&["b"], 10)]);
    if let B::L(files) = info.get_mut("files") {
        files[1].set("length", B::I(-5));
    }
    assert!(
        matches!(err(&torrent(info)), MetainfoError::NegativeLength { key, .. } if key == "info.files[1].length")
    );
}

#[test]
fn total_overflow() {
    let mut info = multi_info(&[(&["a"], i64::MAX), (&["b"], i64::MAX), (&["c"], 10)]);
    info.set("pieces", pieces(1));
    assert!(matches!(
        err(&torrent(info)),
        MetainfoError::Layout(LayoutError::TotalOverflow { file: 2 })
    ));
}

#[test]
fn bad_piece_lengths() {
    for (v, reason) in [(0, "zero"), (-16384, "negative"), (1 << 30, "above")] {
        let mut info = single_info(10);
        info.set("piece length", B::I(v));
        match err(&torrent(info)) {
            MetainfoError::BadPieceLength { value, reason: r } => {
                assert_eq!(value, v);
                assert!(r.starts_with(reason), "{r}");
            }
            e => panic!("{e:?}"),
        }
    }
    // v1 allows a piece length that is not a power of two.
    let mut info = single_info(10);
    info.set("piece length", B::I(1000));
    assert!(parse(&torrent(info)).is_ok());
}

#[test]
fn pieces_length_checks() {
    let mut info = single_info(40000);
    info.set("pieces", B::S(vec![0; 59]));
    assert_eq!(
        err(&torrent(info)),
        MetainfoError::PiecesNotMultipleOf20 { len: 59 }
    );
    let mut info = single_info(40000);
    info.set("pieces", pieces(2));
    assert_eq!(
        err(&torrent(info)),
        MetainfoError::PieceCountMismatch {
            expected: 3,
            found: 2
        }
    );
    let mut info = single_info(40000);
    info.set("pieces", pieces(4));
    assert_eq!(
        err(&torrent(info)),
        MetainfoError::PieceCountMismatch {
            expected: 3,
            found: 4
        }
    );
}

#[test]
fn too_many_pieces() {
    let mut info = single_info(10);
    info.set("piece length", B::I(1))
        .set("length", B::I(i64::from(crate::MAX_PIECES) + 1));
    assert!(matches!(
        err(&torrent(info)),
        MetainfoError::Layout(LayoutError::TooManyPieces { .. })
    ));
}

#[test]
fn no_data() {
    let info = multi_info(&[]);
    assert_eq!(err(&torrent(info)), MetainfoError::NoData);
    let info = multi_info(&[(&["a"], 0), (&["b"], 0)]);
    assert_eq!(err(&torrent(info)), MetainfoError::NoData);
    let info = single_info(0);
    assert_eq!(err(&torrent(info)), MetainfoError::NoData);
}

#[test]
fn length_and_files() {
    let mut info = multi_info(&[(&["a"], 10)]);
    info.set("length", B::I(10));
    assert_eq!(err(&torrent(info)), MetainfoError::LengthAndFiles);
    let mut info = single_info(10);
    info.remove("length");
    assert_eq!(err(&torrent(info)), MetainfoError::LengthAndFiles);
}

#[test]
fn info_too_large() {
    let mut info = single_info(10);
    info.set("padding", B::S(vec![b'x'; MAX_INFO_SIZE]));
    assert!(matches!(
        err(&torrent(info.clone())),
        MetainfoError::TooLarge {
            what: "info dictionary",
            ..
        }
    ));
    assert!(matches!(
        Metainfo::from_info_bytes(&info.bytes()),
        Err(MetainfoError::TooLarge { .. })
    ));
}

#[test]
fn unsupported_meta_version() {
    let mut info = single_info(10);
    info.set("meta version", B::I(3));
    assert_eq!(err(&torrent(info)), MetainfoError::UnsupportedVersion(3));
}

#[test]
fn lenient_v1_collects_warnings() {
    // Unsorted keys inside info ("name" before "length") and trailing bytes.
    let mut raw = b"d4:infod4:name1:a6:lengthi10e12:piece lengthi16384e6:pieces20:".to_vec();
    raw.extend([7u8; 20]);
    raw.extend(b"eeXX");
    let m = Metainfo::from_bytes(&raw).unwrap();
    assert_eq!(m.warnings().len(), 2);
    // The info-hash is over the exact (non-canonical) bytes.
    let start = raw.windows(5).position(|w| w == b"infod").unwrap() + 4;
    let info_raw = &raw[start..raw.len() - 3];
    assert_eq!(
        m.info_hash().v1_hash(),
        Some(Id20(Sha1::digest(info_raw).into()))
    );
}

#[test]
fn path_rules_in_torrents() {
    // Rejected: "..".
    let info = multi_info(&[(&["..", "etc", "passwd"], 10)]);
    assert!(matches!(
        err(&torrent(info)),
        MetainfoError::BadPath { key, source: PathError::ParentDir } if key == "info.files[0].path"
    ));
    // Rejected: a path with nothing left.
    let info = multi_info(&[(&[".", ""], 10)]);
    assert!(matches!(
        err(&torrent(info)),
        MetainfoError::BadPath {
            source: PathError::Empty,
            ..
        }
    ));
    // Rejected: a name of "..", "." or "".
    for bad in ["..", ".", ""] {
        let mut info = single_info(10);
        info.set("name", s(bad));
        assert!(
            matches!(err(&torrent(info)), MetainfoError::BadPath { key, .. } if key == "info.name"),
            "{bad}"
        );
    }
    // Sanitised, with warnings.
    let info = multi_info(&[(&["/abs", "a\\b", "x\0y", "CON.txt", "trail. "], 10)]);
    let m = parse(&torrent(info)).unwrap();
    assert_eq!(
        m.files()[0].display_path(),
        "dir/_abs/a_b/x_y/CON_.txt/trail"
    );
    assert!(
        m.warnings()
            .iter()
            .any(|w| matches!(w, MetainfoWarning::PathSanitised { file: 0, .. }))
    );
    let mut info = single_info(10);
    info.set("name", s("/etc/passwd"));
    let m = parse(&torrent(info)).unwrap();
    assert_eq!(m.name(), "_etc_passwd");
    assert_eq!(m.files()[0].path(), PathBuf::from("_etc_passwd"));
    // Too deep.
    let deep: Vec<&str> = vec!["d"; crate::MAX_PATH_DEPTH];
    let info = multi_info(&[(&deep, 10)]);
    assert!(matches!(
        err(&torrent(info)),
        MetainfoError::BadPath {
            source: PathError::TooDeep { .. },
            ..
        }
    ));
}

#[test]
fn non_utf8_names() {
    // Without path.utf-8: lossy, with a warning.
    let mut info = multi_info(&[(&["x"], 10)]);
    if let B::L(files) = info.get_mut("files") {
        files[0].set("path", l(&[B::S(b"caf\xe9".to_vec())]));
    }
    let m = parse(&torrent(info.clone())).unwrap();
    assert_eq!(m.files()[0].display_path(), "dir/caf\u{fffd}");
    assert!(
        m.warnings()
            .iter()
            .any(|w| matches!(w, MetainfoWarning::NotUtf8 { .. }))
    );
    // With path.utf-8: it wins.
    if let B::L(files) = info.get_mut("files") {
        files[0].set("path.utf-8", l(&[s("café")]));
    }
    let m = parse(&torrent(info)).unwrap();
    assert_eq!(m.files()[0].display_path(), "dir/café");
    // name.utf-8 that is itself not UTF-8 is ignored.
    let mut info = single_info(10);
    info.set("name", s("plain"))
        .set("name.utf-8", B::S(vec![0xff]));
    assert_eq!(parse(&torrent(info)).unwrap().name(), "plain");
}

#[test]
fn duplicate_paths() {
    let info = multi_info(&[(&["a"], 10), (&["a"], 10)]);
    assert!(matches!(
        err(&torrent(info)),
        MetainfoError::DuplicatePath {
            first: 0,
            second: 1,
            ..
        }
    ));
    // Distinct in the torrent, equal after sanitisation.
    let info = multi_info(&[(&["a/b"], 10), (&["a_b"], 10)]);
    assert!(matches!(
        err(&torrent(info)),
        MetainfoError::DuplicatePath {
            first: 0,
            second: 1,
            ..
        }
    ));
    // A file that is another file's directory, in both orders.
    let info = multi_info(&[(&["a"], 10), (&["a", "b"], 10)]);
    assert!(
        matches!(err(&torrent(info)), MetainfoError::DuplicatePath { path, .. } if path == "dir/a")
    );
    let info = multi_info(&[(&["a", "b"], 10), (&["a"], 10)]);
    assert!(
        matches!(err(&torrent(info)), MetainfoError::DuplicatePath { path, .. } if path == "dir/a")
    );
    // Same directory, different files: fine.
    let info = multi_info(&[(&["a", "b"], 10), (&["a", "c"], 10)]);
    assert!(parse(&torrent(info)).is_ok());
}

#[test]
fn mistyped_optional_top_level_fields_are_warnings() {
    let mut t = torrent(single_info(10));
    t.set("announce", B::I(1))
        .set("announce-list", s("x"))
        .set("comment", l(&[]));
    let m = parse(&t).unwrap();
    assert!(m.trackers().is_empty());
    assert_eq!(m.warnings().len(), 3);
}

#[test]
fn from_info_bytes_and_trackers() {
    let info = single_info(10);
    let m = Metainfo::from_info_bytes(&info.bytes()).unwrap();
    let full = parse(&torrent(info)).unwrap();
    assert_eq!(m.info_hash(), full.info_hash());
    assert!(m.trackers().is_empty());
    let m = m
        .with_trackers(vec![vec!["http://a".into()], vec![]])
        .with_web_seeds(vec!["http://w".into()]);
    assert_eq!(m.trackers(), [["http://a"]]);
    assert_eq!(m.url_list(), ["http://w"]);
    assert!(matches!(
        Metainfo::from_info_bytes(b"i1e"),
        Err(MetainfoError::WrongType { .. })
    ));
}

mod v2;
