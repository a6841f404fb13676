//! `ferrent daemon` end to end: the real binary on a loopback port, driven over its HTTP API
//! with reqwest. Downloads come from libtorrent seeders of the swarm harness; the daemon is
//! stopped with SIGTERM and started again on the same state; hostile requests get the right
//! status and a JSON error. Addresses 127.0.12.X; every process is stopped by the test.

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Swarm, read, utf8, wait_for_text};

/// A blocking façade over reqwest (the tests are plain threads like the other CLI tests).
struct Api {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
}

/// A response: status and body (JSON when it parses, else the text as a JSON string).
struct Reply {
    status: u16,
    body: Value,
}

impl Api {
    fn new(base: &str) -> Api {
        // reqwest is built without a TLS provider in this workspace (plain HTTP here anyway).
        let _ = rustls::crypto::ring::default_provider().install_default();
        Api {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            base: base.trim_end_matches('/').to_string(),
        }
    }

    fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        self.rt.block_on(async {
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let text = resp.text().await.expect("body");
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            Reply { status, body }
        })
    }

    fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(format!("{}{path}", self.base)))
    }

    fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header("Content-Type", content_type)
                .body(body),
        )
    }

    fn delete(&self, path: &str) -> Reply {
        self.send(self.http.delete(format!("{}{path}", self.base)))
    }

    fn add_torrent(&self, torrent: &Path) -> Reply {
        let bytes = std::fs::read(torrent).expect("torrent");
        self.post("/api/torrents", "application/x-bittorrent", bytes)
    }

    fn add_magnet(&self, magnet: &str) -> Reply {
        let body = serde_json::json!({ "magnet": magnet }).to_string();
        self.post("/api/torrents", "application/json", body.into_bytes())
    }

    /// Polls `GET /api/torrents/{hash}` until `done` holds (bounded); returns the last view.
    fn wait_for(&self, hash: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let r = self.get(&format!("/api/torrents/{hash}"));
            if r.status == 200 && done(&r.body) {
                return r.body;
            }
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "{hash} never {what}: {} {}",
                r.status,
                r.body
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The first `data:` event of `/api/events` that mentions `needle` (bounded).
    fn event_with(&self, needle: &str) -> String {
        self.rt.block_on(async {
            let mut resp = self
                .http
                .get(format!("{}/api/events", self.base))
                .send()
                .await
                .expect("events");
            assert_eq!(resp.status().as_u16(), 200);
            let ct = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            assert!(ct.starts_with("text/event-stream"), "{ct}");
            let mut text = String::new();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, resp.chunk()).await {
                text.push_str(&String::from_utf8_lossy(&chunk));
                if let Some(line) = text
                    .lines()
                    .find(|l| l.starts_with("data:") && l.contains(needle))
                {
                    return line.to_string();
                }
            }
            panic!("no event with {needle}: {text}");
        })
    }
}

/// Starts `ferrent daemon` (log `log`) on 127.0.12.1, port 0, and returns its base URL.
fn start_daemon(s: &mut Swarm, log: &str, dir: &Path, state: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "daemon",
        "--listen",
        "127.0.12.1:0",
        "--dir",
        utf8(dir),
        "--state",
        utf8(state),
        "--bind",
        "127.0.12.3",
        "--port",
        "0",
    ];
    args.extend_from_slice(extra);
    let log_path = s.spawn_ferrent(log, &args);
    assert!(
        wait_for_text(
            &log_path,
            "web page and API on http://",
            Duration::from_secs(20)
        ),
        "daemon did not start: {}",
        read(&log_path)
    );
    let text = read(&log_path);
    let url = text
        .split("on ")
        .find_map(|part| part.strip_prefix("http://"))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("URL in the log");
    format!("http://{url}")
}

/// The v1 info-hash of a .torrent, by `ferrent info --json`.
fn info_hash(s: &Swarm, torrent: &Path) -> String {
    let out = s.run_ferrent(&["info", "--json", utf8(torrent)], Duration::from_secs(20));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v["info_hash_v1"].as_str().expect("v1 hash").to_string()
}

/// A payload and its torrent announcing to `tracker`, in `<dir>/<name>`.
fn payload_and_torrent(
    s: &Swarm,
    name: &str,
    size: &str,
    files: u32,
    tracker: &str,
) -> (PathBuf, PathBuf) {
    let root = s.path(name);
    let mut args = vec![utf8(&root).to_string(), size.to_string()];
    if files > 0 {
        args.extend(["--files".to_string(), files.to_string()]);
    }
    args.extend(["--name".to_string(), name.to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(s.script("mkpayload", &args).status.success(), "mkpayload");
    let payload = root.join(name);
    let torrent = s.path(&format!("{name}.torrent"));
    let args = [
        utf8(&payload),
        utf8(&torrent),
        "--tracker",
        tracker,
        "--piece-kib",
        "32",
    ];
    assert!(
        s.script("mktorrent-py", &args).status.success(),
        "mktorrent"
    );
    (payload, torrent)
}

/// A libtorrent seeder of `torrent` (data `payload`) on `ip`, at a free port, returned.
fn lt_seed(s: &Swarm, torrent: &Path, payload: &Path, ip: &str) -> u16 {
    let port = support::free_port(ip.parse().expect("ip")).to_string();
    let root = payload.parent().expect("payload root");
    let args = [
        "libtorrent",
        utf8(torrent),
        utf8(root),
        &port,
        "--ip",
        ip,
        "--ttl",
        "300",
    ];
    assert!(
        s.script("seed", &args).status.success(),
        "libtorrent seeder"
    );
    port.parse().expect("port")
}

/// A .torrent (from a libtorrent seeder, via `--peer`) and a magnet (from another, via its
/// `x.pe`) both complete with the same bytes; the event stream carries them; after SIGTERM
/// and a restart on the same state both are listed again, complete, with nothing downloaded; a
/// stopped torrent stays stopped across a restart; a remove with `delete_data=true` deletes the
/// files and forgets the torrent.
#[test]
fn daemon_downloads_restarts_and_removes() {
    let mut s = Swarm::new("daemon");
    // The seeders announce to ferrent's tracker (the harness waits for that); the daemon finds
    // them through --peer (the .torrent) and x.pe (the magnet, which names no tracker).
    let (tracker, _) = s.ferrent_tracker();
    let (p1, t1) = payload_and_torrent(&s, "one", "3M", 5, &tracker);
    let (p2, t2) = payload_and_torrent(&s, "two", "2M", 0, &tracker);
    let port1 = lt_seed(&s, &t1, &p1, "127.0.12.11");
    let port2 = lt_seed(&s, &t2, &p2, "127.0.12.12");
    let (h1, h2) = (info_hash(&s, &t1), info_hash(&s, &t2));
    let (dl, state) = (s.path("dl"), s.path("state"));
    let peer = format!("127.0.12.11:{port1}");
    let api = Api::new(&start_daemon(
        &mut s,
        "daemon1",
        &dl,
        &state,
        &["--peer", &peer],
    ));

    let r = api.add_torrent(&t1);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["info_hash"], h1.as_str());
    assert_eq!(r.body["name"], "one");
    let magnet = format!("magnet:?xt=urn:btih:{h2}&dn=two-magnet&x.pe=127.0.12.12:{port2}");
    let r = api.add_magnet(&magnet);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["state"], "fetching metadata");
    assert_eq!(r.body["name"], "two-magnet");

    let event = api.event_with(&h1);
    let list: Value = serde_json::from_str(event.trim_start_matches("data:").trim()).expect("json");
    assert!(list.as_array().is_some_and(|l| l.len() == 2), "{list}");

    for h in [&h1, &h2] {
        let v = api.wait_for(h, "completed", |v| v["complete"] == true);
        assert_eq!(v["state"], "seeding", "{v}");
        assert_eq!(v["progress"], 1.0, "{v}");
        assert_eq!(v["have_bytes"], v["total_bytes"], "{v}");
    }
    assert!(s.same_bytes(&p1, &dl), "the .torrent's bytes differ");
    assert!(s.same_bytes(&p2, &dl), "the magnet's bytes differ");
    let list = api.get("/api/torrents");
    assert_eq!(list.body.as_array().map(Vec::len), Some(2), "{}", list.body);

    // A clean stop: SIGTERM stops the torrents (resume data saved) and exits 0.
    let status = s.terminate("daemon1", Duration::from_secs(30));
    assert!(status.is_some_and(|st| st.success()), "exit: {status:?}");
    let log = read(&s.path("daemon1.log"));
    assert!(log.contains("ferrent daemon: stopped"), "{log}");

    // Same state, no peers: both come back complete from the resume data, nothing downloaded.
    let api = Api::new(&start_daemon(&mut s, "daemon2", &dl, &state, &[]));
    assert!(read(&s.path("daemon2.log")).contains("(2 torrents restored"));
    for (h, name) in [(&h1, "one"), (&h2, "two")] {
        let v = api.wait_for(h, "came back complete", |v| v["state"] == "seeding");
        assert_eq!(v["name"], name, "{v}");
        assert_eq!(v["complete"], true, "{v}");
        assert_eq!(v["downloaded"], 0, "{v}");
    }

    // A torrent the user stopped stays stopped across a restart, until started.
    let r = api.post(
        &format!("/api/torrents/{h2}/stop"),
        "application/json",
        Vec::new(),
    );
    assert_eq!(
        (r.status, r.body["state"].as_str()),
        (200, Some("stopped")),
        "{}",
        r.body
    );
    let status = s.terminate("daemon2", Duration::from_secs(30));
    assert!(status.is_some_and(|st| st.success()), "exit: {status:?}");
    let api = Api::new(&start_daemon(&mut s, "daemon3", &dl, &state, &[]));
    api.wait_for(&h1, "came back", |v| v["state"] == "seeding");
    let v = api.get(&format!("/api/torrents/{h2}")).body;
    assert_eq!(v["state"], "stopped", "{v}");
    let r = api.post(
        &format!("/api/torrents/{h2}/start"),
        "application/json",
        Vec::new(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = api.wait_for(&h2, "restarted", |v| v["state"] == "seeding");
    assert_eq!(v["downloaded"], 0, "{v}");

    // Remove with the data, then without.
    let r = api.delete(&format!("/api/torrents/{h2}?delete_data=true"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["deleted_files"], 1, "{}", r.body);
    assert!(!dl.join("two").exists(), "data not deleted");
    assert_eq!(api.get(&format!("/api/torrents/{h2}")).status, 404);
    // Without delete_data the files stay; the saved metainfo goes either way.
    let r = api.delete(&format!("/api/torrents/{h1}"));
    assert_eq!((r.status, r.body["deleted_files"].as_u64()), (200, Some(0)));
    assert!(s.same_bytes(&p1, &dl), "kept data changed");
    assert_eq!(api.get("/api/torrents").body, serde_json::json!([]));
    let saved = std::fs::read_dir(state.join("torrents"))
        .expect("state")
        .count();
    assert_eq!(saved, 0, "saved metainfo left behind");
    let status = s.terminate("daemon3", Duration::from_secs(30));
    assert!(status.is_some_and(|st| st.success()), "exit: {status:?}");
}

/// Every hostile or wrong request gets its status and a JSON error that names the problem.
#[test]
fn daemon_rejects_hostile_requests() {
    let mut s = Swarm::new("daemon-hostile");
    let (_, torrent) = payload_and_torrent(&s, "small", "100K", 0, "http://127.0.0.1:1/announce");
    let hash = info_hash(&s, &torrent);
    let (dl, state) = (s.path("dl"), s.path("state"));
    let api = Api::new(&start_daemon(&mut s, "daemon", &dl, &state, &[]));
    let base = api.base.clone();
    let error = |r: &Reply| r.body["error"].as_str().unwrap_or_default().to_string();

    let r = api.post(
        "/api/torrents",
        "application/x-bittorrent",
        b"d4:infoi1ee".to_vec(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(error(&r).contains("not a valid .torrent"), "{}", r.body);
    let r = api.post(
        "/api/torrents",
        "application/x-bittorrent",
        b"garbage".to_vec(),
    );
    assert_eq!(r.status, 400);
    assert!(error(&r).contains("bencode"), "{}", r.body);

    let r = api.add_magnet("magnet:?xt=urn:btih:nothex");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(error(&r).contains("magnet"), "{}", r.body);
    let r = api.post(
        "/api/torrents",
        "application/json",
        b"{\"url\": 1}".to_vec(),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(error(&r).contains("expected JSON"), "{}", r.body);

    for ct in [
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
    ] {
        let r = api.post("/api/torrents", ct, b"x".to_vec());
        assert_eq!(r.status, 415, "{ct}: {}", r.body);
        assert!(error(&r).contains("content type"), "{}", r.body);
    }

    // Over the body limit: answered from the Content-Length, before any body is sent.
    let addr = base.trim_start_matches("http://");
    let head = format!(
        "POST /api/torrents HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-bittorrent\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        ferrent_daemon::MAX_BODY_SIZE + 1
    );
    let mut conn = std::net::TcpStream::connect(addr).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    conn.write_all(head.as_bytes()).expect("write");
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than the limit"), "{answer}");

    let unknown = "0123456789abcdef0123456789abcdef01234567";
    for r in [
        api.get(&format!("/api/torrents/{unknown}")),
        api.delete(&format!("/api/torrents/{unknown}")),
        api.post(
            &format!("/api/torrents/{unknown}/stop"),
            "application/json",
            Vec::new(),
        ),
    ] {
        assert_eq!(r.status, 404, "{}", r.body);
        assert!(error(&r).contains(unknown), "{}", r.body);
    }
    assert_eq!(api.get("/api/torrents/nothex").status, 400);

    // DNS rebinding: a foreign Host is refused everywhere, the page included.
    for path in ["/", "/api/torrents", "/api/events"] {
        let r = api.send(
            api.http
                .get(format!("{base}{path}"))
                .header("Host", "evil.example"),
        );
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert!(error(&r).contains("evil.example"), "{}", r.body);
    }

    let r = api.add_torrent(&torrent);
    assert_eq!(r.status, 201, "{}", r.body);
    // CSRF: a cross-site form cannot stop it (form type), nor can a page of another origin.
    let stop = format!("{base}/api/torrents/{hash}/stop");
    let r = api.send(api.http.post(&stop).header("Content-Type", "text/plain"));
    assert_eq!(r.status, 415, "{}", r.body);
    let r = api.send(api.http.post(&stop).header("Origin", "http://evil.example"));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(error(&r).contains("origin"), "{}", r.body);
    let r = api.send(api.http.post(&stop).header("Origin", base.as_str()));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api.add_torrent(&torrent);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(error(&r).contains("already"), "{}", r.body);
    let r = api.delete(&format!("/api/torrents/{hash}?delete_data=maybe"));
    assert_eq!(r.status, 400, "{}", r.body);
    let r = api.delete(&format!("/api/torrents/{hash}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.get(&format!("/api/torrents/{hash}")).status, 404);

    // The page is self-contained and locked down.
    let page = api.rt.block_on(async {
        let resp = api.http.get(format!("{base}/")).send().await.expect("page");
        let csp = resp
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (csp, resp.text().await.expect("text"))
    });
    assert!(page.0.contains("default-src 'none'"), "{}", page.0);
    assert!(page.1.contains("/api/events") && !page.1.contains("src=\"http"));
    let status = s.terminate("daemon", Duration::from_secs(30));
    assert!(status.is_some_and(|st| st.success()), "exit: {status:?}");
}
