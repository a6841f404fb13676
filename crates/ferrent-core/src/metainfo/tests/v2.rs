//! Unit tests of v2 and hybrid metainfo: file trees, piece layers checked against hand-built
//! merkle trees, hybrid cross-checks.

use super::*;

const BLOCK: usize = 16384;

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// Merkle root of a file's content by BEP 52: 16 KiB leaf blocks (SHA-256, the last one not
/// padded), leaf layer padded with zero hashes to a power of two (at least one piece's worth).
fn file_root_and_layer(data: &[u8], pl: usize) -> ([u8; 32], Vec<[u8; 32]>) {
    let leaves: Vec<[u8; 32]> = data.chunks(BLOCK).map(sha256).collect();
    let per_piece = pl / BLOCK;
    let mut layer = leaves.clone();
    layer.resize(leaves.len().next_power_of_two(), [0; 32]);
    let mut levels = vec![layer.clone()];
    while layer.len() > 1 {
        layer = layer
            .chunks(2)
            .map(|c| sha256(&[c[0], c[1]].concat()))
            .collect();
        levels.push(layer.clone());
    }
    let root = layer[0];
    // The piece layer: the level where each hash covers one piece.
    let depth = per_piece.trailing_zeros() as usize;
    let pieces = data.len().div_ceil(pl);
    let piece_layer = if data.len() > pl {
        levels[depth][..pieces].to_vec()
    } else {
        vec![]
    };
    (root, piece_layer)
}

fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

struct V2Case {
    info: B,
    layers: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A v2 torrent of files `(path, data)` under "dir" (single file if one path of one element).
fn v2_case(files: &[(&[&str], Vec<u8>)], pl: usize) -> V2Case {
    let mut tree = d(&[]);
    let mut layers = Vec::new();
    for (path, data) in files {
        let (root, layer) = file_root_and_layer(data, pl);
        let mut leaf = d(&[("length", B::I(data.len() as i64))]);
        if !data.is_empty() {
            leaf.set("pieces root", B::S(root.to_vec()));
        }
        if !layer.is_empty() {
            layers.push((root.to_vec(), layer.concat()));
        }
        let mut node = &mut tree;
        for e in path.iter() {
            if let B::D(entries) = node {
                if !entries.iter().any(|(k, _)| k == e.as_bytes()) {
                    entries.push((e.as_bytes().to_vec(), d(&[])));
                }
            }
            node = node.get_mut(e);
        }
        node.set("", leaf);
    }
    let name = if files.len() == 1 && files[0].0.len() == 1 {
        files[0].0[0]
    } else {
        "dir"
    };
    let info = d(&[
        ("name", s(name)),
        ("piece length", B::I(pl as i64)),
        ("meta version", B::I(2)),
        ("file tree", tree),
    ]);
    V2Case { info, layers }
}

impl V2Case {
    fn torrent(&self) -> B {
        let layers = B::D(
            self.layers
                .iter()
                .map(|(k, v)| (k.clone(), B::S(v.clone())))
                .collect(),
        );
        let mut t = torrent(self.info.clone());
        t.set("piece layers", layers);
        t
    }
}

#[test]
fn v2_multi_file() {
    let pl = 2 * BLOCK;
    let c = v2_case(
        &[
            (&["a.bin"], content(100_000, 1)),
            (&["empty"], vec![]),
            (&["sub", "b.bin"], content(5000, 2)),
            (&["sub", "c.bin"], content(3 * pl, 3)),
        ],
        pl,
    );
    let m = parse(&c.torrent()).unwrap();
    assert_eq!(m.version(), MetaVersion::V2);
    assert!(m.info_hash().v1_hash().is_none());
    assert_eq!(m.info_hash().v2_hash(), Some(Id32(sha256(&c.info.bytes()))));
    let paths: Vec<_> = m
        .files()
        .iter()
        .map(|f| (f.display_path(), f.is_pad(), f.offset()))
        .collect();
    let pad1 = (4 * pl - 100_000) as u64;
    let pad2 = (pl - 5000) as u64;
    assert_eq!(
        paths,
        [
            ("dir/a.bin".to_string(), false, 0),
            (format!("dir/.pad/{pad1}"), true, 100_000),
            ("dir/empty".to_string(), false, 4 * pl as u64),
            ("dir/sub/b.bin".to_string(), false, 4 * pl as u64),
            (format!("dir/.pad/{pad2}"), true, 4 * pl as u64 + 5000),
            ("dir/sub/c.bin".to_string(), false, 5 * pl as u64),
        ]
    );
    assert_eq!(m.layout().num_pieces(), 8);
    assert_eq!(m.files()[0].piece_layer().map(<[Id32]>::len), Some(4));
    assert_eq!(m.files()[3].piece_layer(), None);
    assert!(m.files()[3].pieces_root().is_some());
    assert_eq!(m.files()[2].pieces_root(), None);
    assert_eq!(m.layout().pieces_of_file(5), 5..8);
    // The same info dictionary alone: no piece layers, same hash.
    let alone = Metainfo::from_info_bytes(&c.info.bytes()).unwrap();
    assert_eq!(alone.info_hash(), m.info_hash());
    assert_eq!(alone.files()[0].piece_layer(), None);
}

#[test]
fn v2_single_file() {
    let c = v2_case(&[(&["one.bin"], content(50_000, 9))], BLOCK);
    let m = parse(&c.torrent()).unwrap();
    assert!(m.is_single_file());
    assert_eq!(m.files().len(), 1);
    assert_eq!(m.files()[0].display_path(), "one.bin");
    assert_eq!(m.layout().num_pieces(), 4);
}

#[test]
fn v2_must_be_canonical() {
    let c = v2_case(&[(&["one.bin"], content(10, 9))], BLOCK);
    let mut raw = c.torrent().bytes();
    raw.extend(b"junk");
    assert!(
        matches!(Metainfo::from_bytes(&raw), Err(MetainfoError::NotCanonical(e)) if matches!(e.kind, ErrorKind::TrailingBytes { .. }))
    );
    let mut info = c.info.bytes();
    info.extend(b"x");
    assert!(matches!(
        Metainfo::from_info_bytes(&info),
        Err(MetainfoError::NotCanonical(_))
    ));
}

#[test]
fn v2_piece_length_rules() {
    for bad in [8192, 3 * BLOCK as i64] {
        let mut c = v2_case(&[(&["one.bin"], content(10, 9))], BLOCK);
        c.info.set("piece length", B::I(bad));
        assert!(
            matches!(err(&c.torrent()), MetainfoError::BadPieceLength { reason, .. } if reason.starts_with("v2"))
        );
    }
}

#[test]
fn v2_piece_layer_errors() {
    let pl = BLOCK;
    let files: &[(&[&str], Vec<u8>)] =
        &[(&["a"], content(5 * pl + 1, 1)), (&["b"], content(10, 2))];
    // Missing layer.
    let mut c = v2_case(files, pl);
    c.layers.clear();
    assert_eq!(
        err(&c.torrent()),
        MetainfoError::MissingPieceLayer { file: 0 }
    );
    let mut t = c.torrent();
    t.remove("piece layers");
    assert_eq!(err(&t), MetainfoError::MissingPieceLayer { file: 0 });
    // Wrong length.
    let mut c = v2_case(files, pl);
    c.layers[0].1.truncate(32 * 5);
    assert_eq!(
        err(&c.torrent()),
        MetainfoError::PieceLayerLength {
            file: 0,
            expected: 32 * 6,
            found: 32 * 5
        }
    );
    // Wrong content.
    let mut c = v2_case(files, pl);
    c.layers[0].1[0] ^= 1;
    assert_eq!(
        err(&c.torrent()),
        MetainfoError::PieceLayerRootMismatch { file: 0 }
    );
    // Bad pieces root size.
    let mut c = v2_case(files, pl);
    let tree = c.info.get_mut("file tree");
    tree.get_mut("b")
        .get_mut("")
        .set("pieces root", B::S(vec![1; 31]));
    assert!(
        matches!(err(&c.torrent()), MetainfoError::InvalidValue { key, .. } if key.ends_with("pieces root"))
    );
    // Missing pieces root.
    let mut c = v2_case(files, pl);
    c.info
        .get_mut("file tree")
        .get_mut("b")
        .get_mut("")
        .remove("pieces root");
    assert!(
        matches!(err(&c.torrent()), MetainfoError::MissingKey { key } if key.ends_with("pieces root"))
    );
}

#[test]
fn v2_file_tree_errors() {
    let mut c = v2_case(&[(&["a"], content(10, 1)), (&["b"], content(10, 2))], BLOCK);
    c.info.get_mut("file tree").get_mut("a").set("x", d(&[]));
    assert!(matches!(
        err(&c.torrent()),
        MetainfoError::BadFileTree { .. }
    ));
    let mut c = v2_case(&[(&["a"], content(10, 1))], BLOCK);
    c.info
        .set("file tree", d(&[("", d(&[("length", B::I(1))]))]));
    assert!(matches!(
        err(&c.torrent()),
        MetainfoError::BadFileTree { .. }
    ));
    let mut c = v2_case(&[(&["a"], content(10, 1))], BLOCK);
    c.info.get_mut("file tree").set("b", B::I(1));
    assert!(matches!(err(&c.torrent()), MetainfoError::WrongType { .. }));
    let mut c = v2_case(&[(&["a"], content(10, 1))], BLOCK);
    c.info
        .get_mut("file tree")
        .get_mut("a")
        .get_mut("")
        .set("length", B::I(-1));
    assert!(matches!(
        err(&c.torrent()),
        MetainfoError::NegativeLength { .. }
    ));
    let mut c = v2_case(&[(&["a"], content(10, 1))], BLOCK);
    c.info.remove("file tree");
    assert!(
        matches!(err(&c.torrent()), MetainfoError::MissingKey { key } if key == "info.file tree")
    );
    let mut c = v2_case(&[(&["..", "a"], content(10, 1))], BLOCK);
    c.layers.clear();
    assert!(matches!(
        err(&c.torrent()),
        MetainfoError::BadPath {
            source: PathError::ParentDir,
            ..
        }
    ));
}

/// Adds the v1 half to a v2 case: `files` with pad files after every file but the last.
fn make_hybrid(c: &mut V2Case, files: &[(&[&str], Vec<u8>)], pl: usize) {
    let mut list = Vec::new();
    let mut all = Vec::new();
    for (i, (path, data)) in files.iter().enumerate() {
        list.push(d(&[
            ("length", B::I(data.len() as i64)),
            ("path", l(&path.iter().map(s).collect::<Vec<_>>())),
        ]));
        all.extend_from_slice(data);
        let rem = data.len() % pl;
        if rem != 0 && i + 1 < files.len() {
            let pad = pl - rem;
            list.push(d(&[
                ("length", B::I(pad as i64)),
                ("path", l(&[s(".pad"), s(pad.to_string())])),
                ("attr", s("p")),
            ]));
            all.extend(std::iter::repeat_n(0u8, pad));
        }
    }
    let hashes: Vec<u8> = all
        .chunks(pl)
        .flat_map(|c| <[u8; 20]>::from(Sha1::digest(c)))
        .collect();
    c.info.set("files", B::L(list)).set("pieces", B::S(hashes));
}

#[test]
fn hybrid() {
    let pl = BLOCK;
    let files: &[(&[&str], Vec<u8>)] = &[
        (&["a"], content(40_000, 1)),
        (&["e"], vec![]),
        (&["s", "b"], content(100, 2)),
        (&["s", "c"], content(20_000, 3)),
    ];
    let mut c = v2_case(files, pl);
    make_hybrid(&mut c, files, pl);
    let m = parse(&c.torrent()).unwrap();
    assert_eq!(m.version(), MetaVersion::Hybrid);
    let raw = c.info.bytes();
    assert_eq!(
        m.info_hash(),
        InfoHash::hybrid(Id20(Sha1::digest(&raw).into()), Id32(sha256(&raw)))
    );
    let flags: Vec<_> = m
        .files()
        .iter()
        .map(|f| (f.is_pad(), f.pieces_root().is_some()))
        .collect();
    assert_eq!(
        flags,
        [
            (false, true),
            (true, false),
            (false, false),
            (false, true),
            (true, false),
            (false, true)
        ]
    );
    assert_eq!(m.files()[0].piece_layer().map(<[Id32]>::len), Some(3));
}

#[test]
fn hybrid_mismatches() {
    let pl = BLOCK;
    let files: &[(&[&str], Vec<u8>)] = &[(&["a"], content(40_000, 1)), (&["b"], content(100, 2))];
    // Different length.
    let mut c = v2_case(files, pl);
    let other: &[(&[&str], Vec<u8>)] = &[(&["a"], content(40_001, 1)), (&["b"], content(100, 2))];
    make_hybrid(&mut c, other, pl);
    assert!(matches!(
        err(&c.torrent()),
        MetainfoError::HybridMismatch { file: 0, .. }
    ));
    // Different path.
    let mut c = v2_case(files, pl);
    let other: &[(&[&str], Vec<u8>)] = &[(&["a"], content(40_000, 1)), (&["c"], content(100, 2))];
    make_hybrid(&mut c, other, pl);
    assert!(matches!(
        err(&c.torrent()),
        MetainfoError::HybridMismatch { file: 1, .. }
    ));
    // Different count.
    let mut c = v2_case(files, pl);
    make_hybrid(&mut c, &files[..1], pl);
    assert!(matches!(
        err(&c.torrent()),
        MetainfoError::HybridMismatch { .. }
    ));
    // No pad files: misaligned.
    let mut c = v2_case(files, pl);
    make_hybrid(&mut c, files, pl);
    let mut list = match c.info.get_mut("files") {
        B::L(l) => l.clone(),
        _ => unreachable!(),
    };
    list.remove(1);
    c.info.set("files", B::L(list)).set("pieces", pieces(3));
    assert!(
        matches!(err(&c.torrent()), MetainfoError::HybridMismatch { reason, .. } if reason.contains("boundary"))
    );
}
