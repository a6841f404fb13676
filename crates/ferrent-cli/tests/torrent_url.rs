//! `ferrent download http://...` (issue 5): the .torrent comes from a real HTTP server
//! (`python3 -m http.server` on 127.0.9.1), the data from a libtorrent seeder; bytes must be
//! equal. A URL that answers 404 fails with one line naming the URL and the status.

mod support;

use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{Swarm, free_port};

/// `python3 -m http.server` serving `dir`, stopped on drop.
struct HttpServer(Child);

impl HttpServer {
    fn start(dir: &std::path::Path, ip: Ipv4Addr) -> (Self, u16) {
        let port = free_port(ip);
        let child = Command::new("/usr/bin/python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                &ip.to_string(),
                &port.to_string(),
            ])
            .arg("--directory")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        let server = HttpServer(child);
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect((ip, port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "http.server did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        (server, port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn download_from_an_http_url_of_a_torrent() {
    let s = Swarm::new("torrent-url");
    let payload = s.payload("3M", 4);
    let torrent = s.torrent(&payload, "http://127.0.0.1:1/announce", 32);
    let root = payload.parent().expect("root");
    let port = s.seed_client("libtorrent", &torrent, root, "127.0.9.2", &[]);

    let www = s.path("www");
    std::fs::create_dir_all(&www).expect("www");
    std::fs::copy(&torrent, www.join("t.torrent")).expect("copy torrent");
    let ip = Ipv4Addr::new(127, 0, 9, 1);
    let (_server, http_port) = HttpServer::start(&www, ip);

    let url = format!("http://{ip}:{http_port}/t.torrent");
    let dl = s.path("dl");
    let peer = format!("127.0.9.2:{port}");
    let out = s.download(
        &url,
        &dl,
        "127.0.9.3",
        Duration::from_secs(30),
        &["--peer", &peer],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "download failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("complete"), "{text}");
    assert!(s.same_bytes(&payload, &dl), "bytes differ");

    // A missing file: one line naming the URL and the status.
    let missing = format!("http://{ip}:{http_port}/missing.torrent");
    let out = s.run_ferrent(
        &["download", &missing, "-o", dl.to_str().expect("utf-8")],
        Duration::from_secs(30),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains(&missing) && lines[0].contains("404"),
        "{err}"
    );
}

#[test]
fn unreachable_url_names_the_url_and_the_cause() {
    let s = Swarm::new("torrent-url-dead");
    let port = free_port(Ipv4Addr::new(127, 0, 9, 5));
    let url = format!("http://127.0.9.5:{port}/t.torrent");
    let out = s.run_ferrent(
        &[
            "download",
            &url,
            "-o",
            s.path("dl").to_str().expect("utf-8"),
        ],
        Duration::from_secs(40),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&url) && err.to_lowercase().contains("refused"),
        "{err}"
    );
}
