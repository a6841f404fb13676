//! The HTTP side: [`router`] maps the API onto a [`Daemon`].
//!
//! | method and path | does |
//! |---|---|
//! | `GET /` | the web page |
//! | `GET /api/torrents` | every torrent ([`TorrentView`] list) |
//! | `POST /api/torrents` | add a `.torrent` (`application/x-bittorrent`) or `{"magnet": ...}` (`application/json`): 201 |
//! | `GET /api/torrents/{infohash}` | one torrent |
//! | `DELETE /api/torrents/{infohash}[?delete_data=true]` | stop and forget it (and delete its files) |
//! | `POST /api/torrents/{infohash}/stop`, `/start` | stop, start |
//! | `GET /api/events` | Server-Sent Events: the list as JSON every [`EVENT_INTERVAL`] |
//!
//! Errors are JSON `{"error": "..."}` with the status of [`DaemonError::status`].

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ferrent_core::Id20;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::guard::{ContentKind, content_kind, host_allowed, origin_allowed};
use crate::{Daemon, DaemonError, EVENT_INTERVAL, MAX_BODY_SIZE, TorrentView};

/// The web page: one file, no external assets, no build step.
const INDEX_HTML: &str = include_str!("index.html");

/// The page may run its own inline script and talk to this origin only; no framing.
const PAGE_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'";

/// The API and the page of `daemon`, behind the `Host` guard.
pub fn router(daemon: Daemon) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/api/torrents", get(list).post(add))
        .route("/api/torrents/{hash}", get(one).delete(remove))
        .route("/api/torrents/{hash}/stop", post(stop))
        .route("/api/torrents/{hash}/start", post(start))
        .route("/api/events", get(events))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(daemon.clone(), host_guard))
        .with_state(daemon)
}

impl IntoResponse for DaemonError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json(status, &serde_json::json!({ "error": self.to_string() }))
    }
}

/// `value` as a JSON response with `status`.
fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Before any handler: 403 unless `Host` names this machine; for requests that change
/// something (any method but GET and HEAD), 403 when a browser says it comes from another
/// origin (`Origin`), and 415 for a body type other than the API's (so a cross-site HTML form
/// cannot even stop a torrent). See [`crate::guard`].
async fn host_guard(State(d): State<Daemon>, req: Request, next: Next) -> Response {
    match refusal(&d, req.method(), req.headers()) {
        Some(e) => e.into_response(),
        None => next.run(req).await,
    }
}

/// Why [`host_guard`] refuses a request, if it does.
fn refusal(d: &Daemon, method: &Method, headers: &HeaderMap) -> Option<DaemonError> {
    let allowed = &d.config().allowed_hosts;
    let text = |name| {
        headers
            .get(name)
            .map(|h: &HeaderValue| String::from_utf8_lossy(h.as_bytes()).into_owned())
    };
    let host = text(header::HOST).unwrap_or_default();
    if !host_allowed(&host, allowed) {
        return Some(DaemonError::ForbiddenHost(host));
    }
    if method == Method::GET || method == Method::HEAD {
        return None;
    }
    if let Some(origin) = text(header::ORIGIN)
        && !origin_allowed(&origin, allowed)
    {
        return Some(DaemonError::ForbiddenOrigin(origin));
    }
    match text(header::CONTENT_TYPE) {
        Some(ct) if content_kind(&ct).is_none() => Some(DaemonError::UnsupportedType(ct)),
        _ => None,
    }
}

async fn index() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_CSP),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        ],
        INDEX_HTML,
    )
        .into_response()
}

async fn not_found(uri: Uri) -> Response {
    let msg = format!("no such page or API: {}", uri.path());
    json(StatusCode::NOT_FOUND, &serde_json::json!({ "error": msg }))
}

async fn list(State(d): State<Daemon>) -> Response {
    json(StatusCode::OK, &d.list())
}

/// The info-hash in a path: 40 hex digits.
fn parse_hash(s: &str) -> Result<Id20, DaemonError> {
    Id20::from_hex(s).map_err(|e| {
        DaemonError::BadRequest(format!(
            "{s:?} is not an info-hash (40 hex digits expected): {e}"
        ))
    })
}

fn reply(status: StatusCode, r: Result<TorrentView, DaemonError>) -> Response {
    match r {
        Ok(v) => json(status, &v),
        Err(e) => e.into_response(),
    }
}

async fn one(State(d): State<Daemon>, Path(hash): Path<String>) -> Response {
    reply(StatusCode::OK, parse_hash(&hash).and_then(|id| d.get(id)))
}

async fn stop(State(d): State<Daemon>, Path(hash): Path<String>) -> Response {
    match parse_hash(&hash) {
        Ok(id) => reply(StatusCode::OK, d.stop(id).await),
        Err(e) => e.into_response(),
    }
}

async fn start(State(d): State<Daemon>, Path(hash): Path<String>) -> Response {
    match parse_hash(&hash) {
        Ok(id) => reply(StatusCode::OK, d.start(id).await),
        Err(e) => e.into_response(),
    }
}

async fn remove(State(d): State<Daemon>, Path(hash): Path<String>, uri: Uri) -> Response {
    let removed = async {
        let id = parse_hash(&hash)?;
        let delete_data = delete_data_param(uri.query())?;
        d.remove(id, delete_data).await
    };
    match removed.await {
        Ok(r) => json(StatusCode::OK, &r),
        Err(e) => e.into_response(),
    }
}

/// `delete_data=true|false|1|0` from a query string (absent: false). Anything else is a 400,
/// so a typo never deletes data nor silently keeps it.
fn delete_data_param(query: Option<&str>) -> Result<bool, DaemonError> {
    let mut delete = false;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("delete_data", "true" | "1")) => delete = true,
            Some(("delete_data", "false" | "0")) => delete = false,
            _ => {
                return Err(DaemonError::BadRequest(format!(
                    "unknown query parameter {pair:?} (only delete_data=true|false)"
                )));
            }
        }
    }
    Ok(delete)
}

/// The body of a JSON add.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddMagnet {
    magnet: String,
}

async fn add(State(d): State<Daemon>, headers: HeaderMap, body: Body) -> Response {
    let added = async {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let kind = content_kind(&ct).ok_or(DaemonError::UnsupportedType(ct))?;
        let bytes = read_body(&headers, body).await?;
        match kind {
            ContentKind::Torrent => d.add_torrent_file(&bytes).await,
            ContentKind::Json => {
                let req: AddMagnet = serde_json::from_slice(&bytes).map_err(|e| {
                    DaemonError::BadRequest(format!(
                        "expected JSON {{\"magnet\": \"magnet:?...\"}}: {e}"
                    ))
                })?;
                d.add_magnet(&req.magnet).await
            }
        }
    };
    reply(StatusCode::CREATED, added.await)
}

/// The whole body, refused with 413 as soon as it is known to pass [`MAX_BODY_SIZE`] (by its
/// `Content-Length`, else while reading).
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, DaemonError> {
    let too_large = DaemonError::TooLarge {
        limit: MAX_BODY_SIZE,
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_SIZE as u64) {
        return Err(too_large);
    }
    let mut out = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| DaemonError::BadRequest(format!("cannot read the request body: {e}")))?;
        if out.len() + chunk.len() > MAX_BODY_SIZE {
            return Err(too_large);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The torrent list every [`EVENT_INTERVAL`] while the client stays (its stream is dropped
/// when the connection closes) and the daemon runs.
async fn events(State(d): State<Daemon>) -> Response {
    let slot = match d.event_slot() {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let closing = d.closing();
    let stream = futures_util::stream::unfold(
        (d, slot, closing, true),
        |(d, slot, closing, first)| async move {
            if !first {
                tokio::select! {
                    () = tokio::time::sleep(EVENT_INTERVAL) => {}
                    () = closing.cancelled() => return None,
                }
            }
            if closing.is_cancelled() {
                return None;
            }
            let data = serde_json::to_string(&d.list()).ok()?;
            let event: Result<Event, Infallible> = Ok(Event::default().data(data));
            Some((event, (d, slot, closing, false)))
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_data_is_explicit() {
        assert!(!delete_data_param(None).unwrap());
        assert!(delete_data_param(Some("delete_data=true")).unwrap());
        assert!(!delete_data_param(Some("delete_data=0")).unwrap());
        assert!(delete_data_param(Some("delete_data=yes")).is_err());
        assert!(delete_data_param(Some("delete=true")).is_err());
    }
}
