//! Fetching a `.torrent` file over HTTP(S), for `ferrent download https://...`: the same
//! reqwest client set-up as the tracker client (rustls with ring), with a timeout, a redirect
//! limit and a cap on the body, which is read in chunks so a hostile server cannot make us
//! buffer more than the cap. Errors name the URL and, for HTTP errors, the status.

use std::net::IpAddr;
use std::time::Duration;

/// Longest the whole request may take (connect, redirects, body).
pub const TORRENT_URL_TIMEOUT: Duration = Duration::from_secs(30);

/// Redirects followed before giving up.
pub const TORRENT_URL_MAX_REDIRECTS: usize = 5;

/// Why a `.torrent` could not be fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TorrentUrlError {
    /// Not an `http://` or `https://` URL.
    #[error("{url}: only http:// and https:// URLs can be fetched")]
    Scheme {
        /// The URL.
        url: String,
    },
    /// The server answered with an error status.
    #[error("{url}: HTTP status {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status, e.g. `404 Not Found`.
        status: String,
    },
    /// The body is larger than allowed.
    #[error("{url}: the body is larger than {max} bytes, too large for a .torrent file")]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap.
        max: u64,
    },
    /// Connecting, TLS, a timeout, too many redirects.
    #[error("{url}: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// reqwest's message and its root cause.
        reason: String,
    },
}

/// GETs `url` and returns its body, at most `max_bytes` long. `bind` is the local address to
/// connect from (tests give each client its own 127.0.0.X).
pub async fn fetch_torrent_url(
    url: &str,
    max_bytes: u64,
    bind: Option<IpAddr>,
) -> Result<Vec<u8>, TorrentUrlError> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(TorrentUrlError::Scheme { url: url.into() });
    }
    let transport = |e: reqwest::Error| TorrentUrlError::Transport {
        url: url.into(),
        reason: crate::announce::http_failure(e),
    };
    // See announce::client: reqwest is built without a default crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(TORRENT_URL_TIMEOUT)
        .user_agent(concat!("ferrent/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(
            TORRENT_URL_MAX_REDIRECTS,
        ))
        .local_address(bind)
        .build()
        .map_err(transport)?;
    let mut resp = client.get(url).send().await.map_err(transport)?;
    if !resp.status().is_success() {
        return Err(TorrentUrlError::Status {
            url: url.into(),
            status: resp.status().to_string(),
        });
    }
    let too_large = || TorrentUrlError::TooLarge {
        url: url.into(),
        max: max_bytes,
    };
    if resp.content_length().is_some_and(|n| n > max_bytes) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if (body.len() + chunk.len()) as u64 > max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
