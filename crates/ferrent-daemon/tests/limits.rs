//! The daemon's bounds, in process (a [`Daemon`] over a session with no listener, its router on
//! 127.0.0.1:0, reqwest as the client): the torrent limit answers 507, the event-stream limit
//! 503, and a stream's slot comes back once its client goes away; connections beyond the limit
//! wait for one to close, and a connection idle too long is closed while an event stream stays;
//! a seeded torrent's data is deleted by a remove with
//! `delete_data=true` but the user's other files stay.

use std::path::Path;
use std::time::Duration;

use ferrent_daemon::{
    BoundedListener, Daemon, DaemonConfig, EVENT_INTERVAL, HTTP_IDLE_TIMEOUT, MAX_EVENT_CLIENTS,
    router,
};

/// A daemon holding at most `max_torrents`, served on a free loopback port; returns it and
/// its base URL. The server task ends with the test's runtime.
async fn serve(dir: &Path, max_torrents: usize) -> (Daemon, String) {
    serve_with(dir, max_torrents, 64, HTTP_IDLE_TIMEOUT).await
}

/// [`serve`] with at most `max_conns` HTTP connections, each closed after `idle` without
/// traffic.
async fn serve_with(
    dir: &Path,
    max_torrents: usize,
    max_conns: usize,
    idle: Duration,
) -> (Daemon, String) {
    let session = ferrent::Session::new(ferrent::SessionConfig::default()).expect("session");
    let mut config = DaemonConfig::new(dir.join("dl"), dir.join("state"));
    config.max_torrents = max_torrents;
    let daemon = Daemon::new(session, config).expect("daemon");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = router(daemon.clone());
    let listener = BoundedListener::new(listener, max_conns).with_idle_timeout(idle);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (daemon, base)
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// A trackerless torrent of one file `name` with `len` bytes, created under `dir/src`.
fn torrent(dir: &Path, name: &str, len: usize) -> Vec<u8> {
    let src = dir.join("src").join(name);
    std::fs::create_dir_all(src.parent().expect("parent")).expect("mkdir");
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&src, data).expect("write");
    ferrent_core::create_torrent(&src, &ferrent_core::CreateOptions::default())
        .expect("create")
        .bytes
}

async fn add(http: &reqwest::Client, base: &str, bytes: Vec<u8>) -> (u16, serde_json::Value) {
    let resp = http
        .post(format!("{base}/api/torrents"))
        .header("Content-Type", "application/x-bittorrent")
        .body(bytes)
        .send()
        .await
        .expect("post");
    let status = resp.status().as_u16();
    let body = serde_json::from_str(&resp.text().await.expect("text")).expect("json");
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torrent_limit_answers_507_and_remove_frees_a_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (daemon, base) = serve(dir.path(), 1).await;
    let http = client();
    let (status, first) = add(&http, &base, torrent(dir.path(), "a.bin", 40_000)).await;
    assert_eq!(status, 201, "{first}");
    let (status, body) = add(&http, &base, torrent(dir.path(), "b.bin", 40_000)).await;
    assert_eq!(status, 507, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("maximum of 1")
    );
    let hash = first["info_hash"].as_str().expect("hash");
    let resp = http
        .delete(format!("{base}/api/torrents/{hash}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status().as_u16(), 200);
    let (status, body) = add(&http, &base, torrent(dir.path(), "b.bin", 40_000)).await;
    assert_eq!(status, 201, "{body}");
    daemon.shutdown().await;
    // After shutdown began, adds are refused.
    let (status, _) = add(&http, &base, torrent(dir.path(), "c.bin", 10)).await;
    assert_eq!(status, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_are_bounded_and_a_gone_client_frees_its_slot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (daemon, base) = serve(dir.path(), 10).await;
    let http = client();
    let url = format!("{base}/api/events");
    let mut open = Vec::new();
    for _ in 0..MAX_EVENT_CLIENTS {
        let resp = http.get(&url).send().await.expect("events");
        assert_eq!(resp.status().as_u16(), 200);
        open.push(resp);
    }
    let resp = http.get(&url).send().await.expect("events");
    assert_eq!(resp.status().as_u16(), 503);
    // One client goes away: its stream ends at the next event and the slot is free again.
    drop(open.pop());
    let mut status = 0;
    for _ in 0..50 {
        status = http
            .get(&url)
            .send()
            .await
            .expect("events")
            .status()
            .as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status, 200, "the gone client's slot never came back");
    drop(open);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_data_removes_only_the_torrents_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (daemon, base) = serve(dir.path(), 10).await;
    let http = client();
    // The data is already in the download directory: the daemon checks it and seeds.
    let bytes = torrent(dir.path(), "seeded.bin", 100_000);
    let dl = dir.path().join("dl");
    std::fs::copy(dir.path().join("src/seeded.bin"), dl.join("seeded.bin")).expect("copy");
    std::fs::write(dl.join("mine.txt"), b"not the torrent's").expect("write");
    let (status, body) = add(&http, &base, bytes).await;
    assert_eq!(status, 201, "{body}");
    let hash = body["info_hash"].as_str().expect("hash").to_string();
    let mut state = String::new();
    for _ in 0..100 {
        let v: serde_json::Value = serde_json::from_str(
            &http
                .get(format!("{base}/api/torrents/{hash}"))
                .send()
                .await
                .expect("get")
                .text()
                .await
                .expect("text"),
        )
        .expect("json");
        state = v["state"].as_str().unwrap_or_default().to_string();
        if state == "seeding" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "seeding");
    let resp = http
        .delete(format!("{base}/api/torrents/{hash}?delete_data=true"))
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status().as_u16(), 200);
    let v: serde_json::Value =
        serde_json::from_str(&resp.text().await.expect("text")).expect("json");
    assert_eq!(v["deleted_files"], 1, "{v}");
    assert!(!dl.join("seeded.bin").exists());
    assert!(dl.join("mine.txt").exists());
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_wait_for_one_to_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (daemon, base) = serve_with(dir.path(), 10, 2, HTTP_IDLE_TIMEOUT).await;
    let addr = base.trim_start_matches("http://").to_string();
    // Two idle clients take both slots.
    let first = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let _second = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let http = client();
    let url = format!("{base}/api/torrents");
    let waiting = tokio::spawn({
        let http = http.clone();
        async move { http.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a third connection was served");
    // One goes away: the waiting request gets its turn.
    drop(first);
    let status = waiting.await.expect("task").expect("request");
    assert_eq!(status, 200);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_event_streams_stay_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let idle = EVENT_INTERVAL + Duration::from_millis(500);
    let (daemon, base) = serve_with(dir.path(), 10, 4, idle).await;
    let addr = base.trim_start_matches("http://").to_string();
    let http = client();
    let mut events = http
        .get(format!("{base}/api/events"))
        .send()
        .await
        .expect("events");
    assert_eq!(events.status().as_u16(), 200);

    // A client that connects and says nothing is closed (EOF or reset), not kept forever.
    use tokio::io::AsyncReadExt;
    let mut silent = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(15), silent.read(&mut byte)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "an idle connection stayed open: {closed:?}"
    );

    // Meanwhile the event stream, written every EVENT_INTERVAL, outlives the idle timeout: it
    // goes on to deliver an event for each interval up to twice the idle time (one event at
    // the start, then one per interval), where a stream closed as idle would end after two.
    let needed = 2 + (2 * idle.as_millis() / EVENT_INTERVAL.as_millis()) as usize;
    let mut seen = 0;
    while seen < needed {
        let chunk = tokio::time::timeout(Duration::from_secs(10), events.chunk())
            .await
            .expect("the event stream went quiet")
            .expect("the event stream failed");
        let Some(bytes) = chunk else {
            panic!("the event stream was closed");
        };
        seen += String::from_utf8_lossy(&bytes).matches("data:").count();
    }
    drop(events);
    daemon.shutdown().await;
}
