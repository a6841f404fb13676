//! Peer exchange (BEP 11) with libtorrent: the tracker knows only libtorrent seeder A (slowed
//! by an upload limit); seeder B announces nowhere, has PEX off itself and is connected to A.
//! `ferrent download` must learn B from A's `ut_pex` message, connect to it and get blocks from
//! it: B's upload counter proves it, since nothing else could have named B to ferrent. Takes
//! about 65 s: libtorrent sends its first PEX message a minute after a connection starts.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use support::{Swarm, free_port};

/// A's upload limit (bytes/s): alone it would need two minutes for the 2 MiB payload, so ferrent
/// is still downloading when A's first PEX message arrives (libtorrent sends it a minute after
/// the connection, then one a minute).
const A_UPLOAD_LIMIT: u32 = 16 * 1024;

/// The libtorrent pair, stopped when the test ends (closing stdin ends it; kill is the backstop).
struct Pair {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Pair {
    fn line(&mut self) -> serde_json::Value {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("read from lt_pex_pair.py");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"))
    }

    fn status(&mut self) -> serde_json::Value {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "status").expect("ask lt_pex_pair.py");
        stdin.flush().expect("flush");
        self.line()
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        drop(self.stdin.take());
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ferrent_learns_a_second_seeder_through_pex() {
    let mut s = Swarm::new("pex-lt");
    let (tracker, _) = s.ferrent_tracker();
    let payload = s.payload("2M", 0);
    let torrent = s.torrent(&payload, &tracker, 32);
    let t = torrent.to_str().expect("utf-8");
    let root = payload.parent().expect("root").to_str().expect("utf-8");
    let a = format!("127.0.7.1:{}", free_port("127.0.7.1".parse().expect("ip")));
    let b = format!("127.0.7.2:{}", free_port("127.0.7.2".parse().expect("ip")));

    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_pex_pair.py");
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .args(["--torrent", t, "--data", root, "--a", &a, "--b", &b])
        .args([
            "--a-upload-limit",
            &A_UPLOAD_LIMIT.to_string(),
            "--ttl",
            "200",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python3-libtorrent");
    let stdin = child.stdin.take();
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut pair = Pair {
        child,
        stdin,
        stdout,
    };
    let ready = pair.line();
    assert_eq!(ready["ready"], true, "libtorrent pair not ready: {ready}");
    assert_eq!(ready["b_trackers"], 0, "B must announce nowhere: {ready}");

    let dl = s.path("dl");
    let out = s.download(t, &dl, "127.0.7.3", Duration::from_secs(90), &[]);
    let status = pair.status();
    eprintln!("libtorrent: {status}");
    assert!(
        out.status.success(),
        "download failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(s.same_bytes(&payload, &dl), "bytes differ");
    let from_b = status["b_uploaded"].as_u64().expect("b_uploaded");
    assert!(
        from_b > 0,
        "ferrent got nothing from B, which only A's PEX names: {status}"
    );
}
