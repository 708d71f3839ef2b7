//! Keeping browser pages from driving a server that has no authentication.
//!
//! Without tokens, anything that can send a request to the port is trusted, and a web page in
//! the user's browser can: by a cross-site form POST, or by DNS rebinding (a name of the
//! attacker's resolving to 127.0.0.1, so the page's own origin reaches the server). So, with
//! authentication off, a request must name an allowed host (`localhost`, an IP address, or a
//! name given with `--allowed-hosts`), and a write sent by a browser from another origin is
//! refused unless that origin is allowed for CORS. With authentication on, a page cannot add
//! the caller's token, and these checks step aside.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};

use crate::error::ApiError;
use crate::gate::Gate;

/// Which hosts and origins a server without authentication answers.
#[derive(Clone, Debug, Default)]
pub struct BrowserPolicy {
    /// Host names accepted besides `localhost` and IP addresses.
    pub allowed_hosts: Vec<String>,
    /// Origins allowed to call the API from a browser (CORS), such as
    /// `https://app.example.com`; none by default.
    pub cors_origins: Vec<String>,
}

impl BrowserPolicy {
    fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host);
        name.eq_ignore_ascii_case("localhost")
            || name.parse::<std::net::IpAddr>().is_ok()
            || self
                .allowed_hosts
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(name))
    }

    fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        same_origin(origin, host) || self.cors_origins.iter().any(|allowed| allowed == origin)
    }
}

/// Whether a request's `Origin` is the host it was sent to: the server's own pages.
fn same_origin(origin: &str, host: Option<&str>) -> bool {
    host.is_some_and(|host| {
        origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host))
    })
}

/// Whether a browser sent this request from a page of another origin (its `Origin`, or
/// without one its `Sec-Fetch-Site`); requests from other clients name neither.
pub(crate) fn from_another_origin(request: &Request) -> bool {
    let headers = request.headers();
    let host = header_text(headers, header::HOST)
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    match header_text(headers, header::ORIGIN) {
        Some(origin) => !same_origin(origin, host),
        None => matches!(
            header_text(headers, "sec-fetch-site"),
            Some("cross-site" | "same-site")
        ),
    }
}

/// The host name of a `Host` header, without its port (`[::1]:8080` gives `::1`).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// Layered with authentication off: refuses requests naming a host not allowed, and writes a
/// browser sends from another origin.
impl Gate for Arc<BrowserPolicy> {
    type Pass = ();

    fn check(&self, request: &Request) -> Result<(), ApiError> {
        let headers = request.headers();
        let host = header_text(headers, header::HOST)
            .or_else(|| request.uri().authority().map(|a| a.as_str()));
        if let Some(host) = host
            && !self.host_allowed(host)
        {
            return Err(ApiError::HostNotAllowed(
                host_name(host).chars().take(100).collect(),
            ));
        }
        let safe = matches!(
            *request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        );
        if !safe {
            let cross_site = match header_text(headers, header::ORIGIN) {
                Some(origin) => !self.origin_allowed(origin, host),
                None => header_text(headers, "sec-fetch-site") == Some("cross-site"),
            };
            if cross_site {
                return Err(ApiError::CrossOrigin);
            }
        }
        Ok(())
    }
}

fn header_text(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let policy = BrowserPolicy {
            allowed_hosts: vec!["api.example.com".into()],
            cors_origins: vec!["https://app.example.com".into()],
        };
        for allowed in [
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
            "10.0.0.5",
            "API.example.com:443",
        ] {
            assert!(policy.host_allowed(allowed), "{allowed}");
        }
        for refused in [
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8080",
        ] {
            assert!(!policy.host_allowed(refused), "{refused}");
        }
        assert!(policy.origin_allowed("http://localhost:8080", Some("localhost:8080")));
        assert!(policy.origin_allowed("https://app.example.com", Some("localhost:8080")));
        assert!(!policy.origin_allowed("http://evil.example", Some("localhost:8080")));
        assert!(!policy.origin_allowed("null", Some("localhost:8080")));
    }
}
