//! Interop: torrents made by real tools (mktorrent, transmission-create, python3-libtorrent via
//! `mktorrent-py`) on payloads made by `mkpayload` parse in ferrent with the same info-hash(es),
//! piece count and file list that libtorrent computes.
//!
//! The tools come from the swarm harness (`$CARGO_MANIFEST_DIR/../../../shared/swarm`, or
//! `$FERRENT_SWARM_DIR`); CI installs them with its `install` script. A missing tool is a test
//! failure, not a skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferrent_core::{MetaVersion, Metainfo};

const TRACKER: &str = "http://127.0.0.1:6969/announce";

fn swarm_dir() -> PathBuf {
    let dir = match std::env::var_os("FERRENT_SWARM_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/swarm"),
    };
    assert!(
        dir.join("mkpayload").is_file(),
        "swarm harness not found at {} (set FERRENT_SWARM_DIR, and run its ./install)",
        dir.display()
    );
    dir
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e}; install the tools with ../shared/swarm/install")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Makes the payloads in `dir`: a single file and a directory of 20 files.
fn payloads(dir: &Path) -> [PathBuf; 2] {
    let mk = swarm_dir().join("mkpayload");
    run(Command::new(&mk).arg(dir).arg("3M"));
    run(Command::new(&mk).arg(dir).arg("3M").args(["--files", "20"]));
    let single = dir.join("payload-3M");
    let multi = dir.join("payload-3M-20f");
    assert!(
        single.is_file() && multi.is_dir(),
        "mkpayload made unexpected names in {}",
        dir.display()
    );
    [single, multi]
}

/// What libtorrent says about a torrent.
#[derive(Debug)]
struct LtView {
    v1: Option<String>,
    v2: Option<String>,
    piece_length: u64,
    num_pieces: u64,
    total: u64,
    /// (path, size, offset, pad)
    files: Vec<(String, u64, u64, bool)>,
}

const LT_SCRIPT: &str = r#"
import sys, libtorrent as lt
ti = lt.torrent_info(sys.argv[1])
ih = ti.info_hashes()
print("v1", str(ih.v1) if ih.has_v1() else "-")
print("v2", str(ih.v2) if ih.has_v2() else "-")
fs = ti.files()
print("pl", ti.piece_length())
print("np", ti.num_pieces())
print("total", fs.total_size())
for i in range(fs.num_files()):
    pad = 1 if int(fs.file_flags(i)) & 1 else 0
    print("file", fs.file_size(i), fs.file_offset(i), pad, fs.file_path(i).replace("\\", "/"), sep="\t")
"#;

fn libtorrent_view(torrent: &Path) -> LtView {
    let out = run(Command::new("/usr/bin/python3")
        .args(["-c", LT_SCRIPT])
        .arg(torrent));
    let mut v = LtView {
        v1: None,
        v2: None,
        piece_length: 0,
        num_pieces: 0,
        total: 0,
        files: vec![],
    };
    for line in out.lines() {
        let (key, rest) = line.split_once([' ', '\t']).unwrap_or((line, ""));
        let hash = || (rest != "-").then(|| rest.to_string());
        match key {
            "v1" => v.v1 = hash(),
            "v2" => v.v2 = hash(),
            "pl" => v.piece_length = rest.parse().unwrap(),
            "np" => v.num_pieces = rest.parse().unwrap(),
            "total" => v.total = rest.parse().unwrap(),
            "file" => {
                let f: Vec<&str> = rest.splitn(4, '\t').collect();
                v.files.push((
                    f[3].to_string(),
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f[2] == "1",
                ));
            }
            _ => panic!("unexpected line from libtorrent: {line}"),
        }
    }
    v
}

/// Parses `torrent` with ferrent and compares it with libtorrent's view.
fn check(torrent: &Path, expect: MetaVersion) -> Metainfo {
    let bytes = std::fs::read(torrent).unwrap();
    let m = Metainfo::from_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {e}", torrent.display()));
    let lt = libtorrent_view(torrent);
    let what = torrent.display();
    assert_eq!(m.version(), expect, "{what}");
    assert_eq!(
        m.info_hash().v1_hash().map(|h| h.to_hex()),
        lt.v1,
        "{what}: v1 info-hash"
    );
    assert_eq!(
        m.info_hash().v2_hash().map(|h| h.to_hex()),
        lt.v2,
        "{what}: v2 info-hash"
    );
    assert_eq!(u64::from(m.piece_length()), lt.piece_length, "{what}");
    assert_eq!(u64::from(m.layout().num_pieces()), lt.num_pieces, "{what}");
    let ours: Vec<(String, u64, u64, bool)> = m
        .files()
        .iter()
        .map(|f| (f.display_path(), f.length(), f.offset(), f.is_pad()))
        .collect();
    if expect == MetaVersion::V2 {
        // libtorrent also pads after the last file of a v2 torrent; ferrent does not (see the
        // metainfo docs). Everything else is the same.
        let lt_files: Vec<_> = lt.files.iter().filter(|f| !f.3).cloned().collect();
        let our_files: Vec<_> = ours.iter().filter(|f| !f.3).cloned().collect();
        assert_eq!(our_files, lt_files, "{what}: files");
        let lt_pads = lt.files.iter().filter(|f| f.3).count();
        let our_pads = ours.len() - our_files.len();
        assert!(
            lt_pads == our_pads || lt_pads == our_pads + 1,
            "{what}: pads {lt_pads} vs {our_pads}"
        );
        assert!(m.total_length() <= lt.total && lt.total - m.total_length() < lt.piece_length);
    } else {
        assert_eq!(ours, lt.files, "{what}: files");
        assert_eq!(m.total_length(), lt.total, "{what}");
    }
    for f in m.files() {
        assert!(f.path().is_relative());
    }
    m
}

#[test]
fn mktorrent_v1() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, payload) in payloads(tmp.path()).iter().enumerate() {
        let out = tmp.path().join(format!("mk{i}.torrent"));
        run(Command::new("mktorrent")
            .args(["-a", TRACKER, "-l", "15", "-c", "made by mktorrent", "-o"])
            .arg(&out)
            .arg(payload));
        let m = check(&out, MetaVersion::V1);
        assert_eq!(m.comment(), Some("made by mktorrent"));
        assert_eq!(m.trackers(), [[TRACKER]]);
        assert_eq!(m.is_single_file(), i == 0);
    }
}

#[test]
fn transmission_create_v1() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, payload) in payloads(tmp.path()).iter().enumerate() {
        let out = tmp.path().join(format!("tr{i}.torrent"));
        run(Command::new("transmission-create")
            .args(["-t", TRACKER, "-s", "32", "-p", "-o"])
            .arg(&out)
            .arg(payload));
        let m = check(&out, MetaVersion::V1);
        assert!(m.is_private());
        assert_eq!(m.piece_length(), 32 * 1024);
    }
}

fn mktorrent_py(kind: Option<&str>, expect: MetaVersion) {
    let tmp = tempfile::tempdir().unwrap();
    let tool = swarm_dir().join("mktorrent-py");
    for (i, payload) in payloads(tmp.path()).iter().enumerate() {
        let out = tmp.path().join(format!("lt{i}.torrent"));
        let mut cmd = Command::new(&tool);
        cmd.arg(payload)
            .arg(&out)
            .args(["--tracker", TRACKER, "--piece-kib", "16"]);
        cmd.args(kind);
        run(&mut cmd);
        let m = check(&out, expect);
        if expect.has_v2() {
            // Every non-empty file of more than one piece has a verified piece layer.
            for f in m.files().iter().filter(|f| !f.is_pad() && f.length() > 0) {
                assert!(f.pieces_root().is_some());
                assert_eq!(
                    f.piece_layer().is_some(),
                    f.length() > 16384,
                    "{}",
                    f.display_path()
                );
            }
        }
        if expect == MetaVersion::Hybrid && i == 1 {
            assert!(
                m.files().iter().any(|f| f.is_pad()),
                "hybrid multi-file torrent has pad files"
            );
        }
        // The bare info dictionary gives the same identity (the magnet path).
        let alone = Metainfo::from_info_bytes(m.info_bytes()).unwrap();
        assert_eq!(alone.info_hash(), m.info_hash());
    }
}

#[test]
fn libtorrent_v1() {
    mktorrent_py(None, MetaVersion::V1);
}

#[test]
fn libtorrent_v2() {
    mktorrent_py(Some("--v2"), MetaVersion::V2);
}

#[test]
fn libtorrent_hybrid() {
    mktorrent_py(Some("--hybrid"), MetaVersion::Hybrid);
}
