//! A torrent may not put a file where ferrent keeps its own files in the download directory:
//! `Session::add_torrent` refuses it before creating anything (resume files, the DHT table and
//! the daemon's state directory would be overwritten, or would overwrite the torrent's data).

use std::path::Path;

use ferrent::resume::is_reserved_name;
use ferrent::{AddTorrent, Session, SessionConfig, SessionError};
use ferrent_core::{CreateOptions, Metainfo, create_torrent};

/// A torrent of `src/name` (a file, or a directory holding one file).
fn torrent_of(src: &Path, name: &str, as_dir: bool) -> Metainfo {
    let path = src.join(name);
    if as_dir {
        std::fs::create_dir_all(&path).expect("mkdir");
        std::fs::write(path.join("inner.bin"), vec![7u8; 40_000]).expect("write");
    } else {
        std::fs::write(&path, vec![7u8; 40_000]).expect("write");
    }
    let created = create_torrent(&path, &CreateOptions::default()).expect("create");
    Metainfo::from_bytes(&created.bytes).expect("parse")
}

#[test]
fn reserved_names_are_the_state_files_only() {
    for name in [
        ".ferrent-dht",
        ".ferrent-dht.tmp.12.3",
        ".ferrent-daemon",
        ".0123456789abcdef0123456789abcdef01234567.ferrent-resume",
        ".0123456789abcdef0123456789abcdef01234567.ferrent-resume.tmp.1.2",
    ] {
        assert!(is_reserved_name(name), "{name}");
    }
    for name in [
        ".hidden",
        "ferrent-dht",
        "a.ferrent-resume",
        "movie.mkv",
        ".pad",
    ] {
        assert!(!is_reserved_name(name), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torrents_named_like_state_files_are_refused_and_nothing_is_written() {
    let src = tempfile::tempdir().expect("tempdir");
    let session = Session::new(SessionConfig {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        ..SessionConfig::default()
    })
    .expect("session");
    let resume_like = ".0123456789abcdef0123456789abcdef01234567.ferrent-resume";
    for (name, as_dir) in [
        (".ferrent-dht", false),
        (resume_like, false),
        (".ferrent-daemon", true),
    ] {
        let meta = torrent_of(src.path(), name, as_dir);
        let dl = tempfile::tempdir().expect("tempdir");
        match session.add_torrent(meta, AddTorrent::new(dl.path())).await {
            Err(SessionError::ReservedPath { path }) => {
                assert!(path.starts_with(name), "{name}: reported {path:?}");
                let msg = SessionError::ReservedPath { path }.to_string();
                assert!(msg.contains(name), "{msg}");
            }
            Err(e) => panic!("{name}: wrong error {e}"),
            Ok(_) => panic!("{name}: accepted"),
        }
        let left: Vec<_> = std::fs::read_dir(dl.path()).expect("read_dir").collect();
        assert!(left.is_empty(), "{name}: created {left:?}");
    }
    session.shutdown().await;
}
