//! # ferrent-daemon
//!
//! The long-running side of ferrent: a [`Daemon`] keeps a [`ferrent::Session`] and its torrents
//! (keyed by info-hash) across restarts, and [`router`] serves them over HTTP: a JSON API,
//! Server-Sent Events with the torrent list once a second, and one self-contained web page.
//! `ferrent daemon` (in ferrent-cli) parses the options, binds the listener and runs both.
//!
//! It is a front end beside ferrent-cli, above the engine (see `DESIGN.md`): no protocol logic
//! lives here, only bookkeeping (which torrents exist, whether they run), persistence and HTTP.
//!
//! - **Persistence**: each torrent's metainfo is saved crash-safely (temp file, fsync, rename,
//!   fsync of the directory: [`ferrent::resume::save_atomic`]) as `<state>/torrents/<hex>.torrent`
//!   (a magnet still waiting for its metadata as `<hex>.magnet`) and re-added by
//!   [`Daemon::restore`]; the engine's resume files in `<state>/resume` spare the recheck.
//! - **Safety of the HTTP side**: requests whose `Host` is not loopback or an allowed name get
//!   403 (DNS rebinding), and so do changes whose `Origin` is another site; bodies of requests
//!   that change something must be `application/x-bittorrent` or `application/json` (415
//!   otherwise: a browser cannot send those cross-origin without a CORS preflight, which is
//!   never granted, so no CSRF); bodies are bounded by [`MAX_BODY_SIZE`], torrents by
//!   [`DaemonConfig::max_torrents`], event streams by [`MAX_EVENT_CLIENTS`], connections by
//!   [`BoundedListener`]. Clients never choose where data is written: everything goes into
//!   [`DaemonConfig::download_dir`].
//!
//! `docs/daemon.md` walks through the design and the API.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use ferrent_daemon::{BoundedListener, Daemon, DaemonConfig, MAX_HTTP_CONNECTIONS, router};
//! let session = ferrent::Session::new(ferrent::SessionConfig::default())?;
//! let daemon = Daemon::new(session, DaemonConfig::new("downloads", "downloads/.ferrent-daemon"))?;
//! daemon.restore().await;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9091").await?;
//! axum::serve(BoundedListener::new(listener, MAX_HTTP_CONNECTIONS), router(daemon.clone())).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod api;
mod daemon;
mod error;
mod guard;
mod listener;
mod store;
mod view;

use std::time::Duration;

pub use api::router;
pub use daemon::{Daemon, DaemonConfig};
pub use error::DaemonError;
pub use guard::{ContentKind, content_kind, host_allowed, origin_allowed};
pub use listener::{BoundedListener, BoundedStream};
pub use view::{Removed, TorrentView};

/// Default most torrents one daemon holds (an add beyond it gets 507). Each running torrent has
/// its tasks, up to the session's per-torrent connection limit and its piece buffers: the bound
/// keeps one API client from exhausting memory and file descriptors.
pub const MAX_TORRENTS: usize = 500;

/// Largest request body accepted (413 beyond): a `.torrent` file's info dictionary may be
/// [`ferrent_core::MAX_INFO_SIZE`], plus 1 MiB for the rest of the file (trackers, comments).
pub const MAX_BODY_SIZE: usize = ferrent_core::MAX_INFO_SIZE + 1024 * 1024;

/// Most HTTP connections open at once ([`BoundedListener`]); more wait in the accept queue.
/// Above [`MAX_EVENT_CLIENTS`], so API calls still get through while every event stream is open.
pub const MAX_HTTP_CONNECTIONS: usize = 64;

/// A connection with no byte read or written for this long is closed ([`BoundedListener`]), so
/// idle clients cannot keep every one of the [`MAX_HTTP_CONNECTIONS`] slots. Well above
/// [`EVENT_INTERVAL`], which keeps an event stream busy.
pub const HTTP_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Most `/api/events` streams open at once (503 beyond): each holds a task and a connection.
pub const MAX_EVENT_CLIENTS: usize = 32;

/// Period of the torrent list on `/api/events` and of the rate sampling.
pub const EVENT_INTERVAL: Duration = Duration::from_secs(1);

/// How long shutdown waits for torrents that are still starting (their start-up check) before
/// giving up on them.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(20);
