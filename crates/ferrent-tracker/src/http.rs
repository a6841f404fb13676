//! The HTTP front end's accept loop. The routes are axum's; the connections are served by hyper
//! directly (not `axum::serve`) so that two limits against hostile clients apply (issue 6):
//!
//! - at most [`HttpLimits::max_connections`] connections at once: one more is closed as soon
//!   as it is accepted, so a flood of idle connections costs a bounded amount of memory and
//!   file descriptors;
//! - a request's headers must arrive within [`HttpLimits::header_timeout`] of the server
//!   starting to read them, or the connection is closed (slowloris: a client trickling bytes
//!   to hold a connection open forever).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use crate::shared::Shared;

/// How long connections may take to finish once the tracker stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Pause after a failed `accept` (e.g. out of file descriptors) before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Limits of the HTTP front end (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpLimits {
    pub(crate) max_connections: usize,
    pub(crate) header_timeout: Duration,
}

/// Serves `app` on `listener` until `cancel`, then lets open connections finish (bounded).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shared: Arc<Shared>,
    cancel: CancellationToken,
) {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max));
    loop {
        let (stream, from) = tokio::select! {
            _ = cancel.cancelled() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!("HTTP accept failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            shared.count_http_rejected();
            drop(stream);
            continue;
        };
        let (app, cancel) = (app.clone(), cancel.clone());
        // The permit travels with the connection: the semaphore counts open connections.
        tokio::spawn(async move {
            let _permit = permit;
            // The routes read the client's address from the `ConnectInfo` extension, as with
            // `into_make_service_with_connect_info`. A `Router` is always ready, so calling it
            // without `poll_ready` is fine.
            let svc = service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(from));
                let mut app = app.clone();
                async move { Ok::<_, Infallible>(app.call(req).await.unwrap_or_else(|e| match e {})) }
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = cancel.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
                }
            }
        });
    }
    // Every connection has seen the cancellation; wait (bounded) until all have returned
    // their permits, i.e. finished.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, permits.acquire_many(all)).await;
}
