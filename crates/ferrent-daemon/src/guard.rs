//! The two checks every request passes before it reaches a handler, as pure functions (tested
//! below; wired in [`crate::router`]).
//!
//! - [`host_allowed`]: **DNS rebinding**. A web page on `evil.example` can make its own name
//!   resolve to 127.0.0.1 and then talk to the daemon as if same-origin; its requests still carry
//!   `Host: evil.example`. Only loopback names and addresses (and names the operator allowed)
//!   pass; everything else gets 403.
//! - [`origin_allowed`]: a request that changes something and says it comes from a page of
//!   another origin is refused (403), whatever its type.
//! - [`content_kind`]: **CSRF**. A page on another origin may POST without asking, but only with
//!   the "simple" content types of HTML forms (`text/plain`, `multipart/form-data`,
//!   `application/x-www-form-urlencoded`). Any other type needs a CORS preflight, which the
//!   daemon never grants. So requests that change something may carry only
//!   `application/x-bittorrent` or `application/json` bodies (or none), and the form types get
//!   415, also on stop and start.

use std::net::IpAddr;

/// What a request body holds, by its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// `application/x-bittorrent`: a `.torrent` file.
    Torrent,
    /// `application/json`: `{"magnet": "magnet:?..."}`.
    Json,
}

/// The kind of body a `Content-Type` value announces (`None`: not one the API accepts).
/// Parameters (`; charset=utf-8`) are ignored; the media type is compared case-insensitively.
pub fn content_kind(content_type: &str) -> Option<ContentKind> {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/x-bittorrent" => Some(ContentKind::Torrent),
        "application/json" => Some(ContentKind::Json),
        _ => None,
    }
}

/// Whether a `Host` header value names this machine: `localhost`, a loopback address (any of
/// 127.0.0.0/8, `[::1]`), or one of `allowed` (host names or addresses, compared without the
/// port and case-insensitively, e.g. the address the daemon listens on).
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let Some(name) = host_name(host) else {
        return false;
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
        return true;
    }
    allowed.iter().any(|a| {
        let a = a.trim();
        let a = host_name(a).unwrap_or(a);
        a.eq_ignore_ascii_case(name)
    })
}

/// Whether an `Origin` header (`scheme://host[:port]`, sent by browsers with cross-origin and
/// most same-origin requests) names this machine by the rules of [`host_allowed`]. `null` (a
/// sandboxed or file page) and anything malformed do not.
pub fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    let Some((scheme, rest)) = origin.trim().split_once("://") else {
        return false;
    };
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        && !rest.contains('/')
        && host_allowed(rest, allowed)
}

/// The name or address of a `Host` value, without the port and the brackets of an IPv6
/// literal. `None` when it is malformed (empty, a bad port, unclosed bracket).
fn host_name(host: &str) -> Option<&str> {
    let host = host.trim();
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        (inside, after.strip_prefix(':'))
    } else if host.matches(':').count() == 1 {
        let (n, p) = host.split_once(':')?;
        (n, Some(p))
    } else {
        (host, None)
    };
    if name.is_empty() {
        return None;
    }
    if let Some(p) = port
        && p.parse::<u16>().is_err()
    {
        return None;
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_pass_others_do_not() {
        for ok in [
            "127.0.0.1:9091",
            "127.0.0.1",
            "localhost:9091",
            "LOCALHOST",
            "[::1]:9091",
            "[::1]",
            "127.9.9.9:1",
        ] {
            assert!(host_allowed(ok, &[]), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:9091",
            "localhost.evil.example",
            "10.0.0.1:9091",
            "",
            "[::1",
            "127.0.0.1:notaport",
            "[::2]:9091",
        ] {
            assert!(!host_allowed(bad, &[]), "{bad}");
        }
        let allowed = vec!["nas.lan".to_string(), "192.168.1.5".to_string()];
        assert!(host_allowed("NAS.lan:9091", &allowed));
        assert!(host_allowed("192.168.1.5:9091", &allowed));
        assert!(!host_allowed("192.168.1.6:9091", &allowed));
    }

    #[test]
    fn only_local_origins_pass() {
        assert!(origin_allowed("http://127.0.0.1:9091", &[]));
        assert!(origin_allowed("http://localhost:9091", &[]));
        assert!(origin_allowed("https://[::1]", &[]));
        for bad in [
            "null",
            "http://evil.example",
            "http://127.0.0.1.evil.example:9091",
            "file://",
            "http://127.0.0.1/x",
            "",
        ] {
            assert!(!origin_allowed(bad, &[]), "{bad}");
        }
    }

    #[test]
    fn only_the_two_api_types_are_accepted() {
        assert_eq!(
            content_kind("application/x-bittorrent"),
            Some(ContentKind::Torrent)
        );
        assert_eq!(
            content_kind("Application/JSON; charset=utf-8"),
            Some(ContentKind::Json)
        );
        for bad in [
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
            "",
            "application/jsonx",
        ] {
            assert_eq!(content_kind(bad), None, "{bad}");
        }
    }
}
