//! Facts about an incoming request: who is logged in (`sesh_sid` cookie), whether it comes from
//! our own origin (CSRF and WebSocket checks), and the client's address behind trusted proxies.

use std::{future::Future, net::IpAddr, pin::Pin};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use sesh_session::UserId;

use crate::{crypto::sha256_hex, db::UserRecord, error::ApiError, state::AppState};

/// Name of the login cookie over plain HTTP.
pub const COOKIE_NAME: &str = "sesh_sid";
/// Name of the login cookie over HTTPS: the `__Host-` prefix pins it to this host, `Secure`
/// and path `/`.
pub const SECURE_COOKIE_NAME: &str = "__Host-sesh_sid";

/// The cookie name for a public URL.
pub fn cookie_name(public_url: &url::Url) -> &'static str {
    if public_url.scheme() == "https" {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

/// The logged-in user (extractor; answers 401 when there is none).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// Spotify user id.
    pub id: UserId,
    /// Display name.
    pub display_name: String,
    /// Must log in again (refresh token revoked).
    pub needs_reauth: bool,
    /// Hash of the login cookie (for logout).
    pub login_hash: String,
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let cookie = state.as_ref().and_then(|s| {
            req.cookie(cookie_name(&s.core.public_url))
                .map(|c| c.value().to_owned())
        });
        Box::pin(async move {
            let (Some(state), Some(cookie)) = (state, cookie) else {
                return Err(ApiError::unauthenticated());
            };
            let login_hash = sha256_hex(&cookie);
            let UserRecord {
                id,
                display_name,
                needs_reauth,
            } = state
                .core
                .db
                .login_user(&login_hash)
                .await?
                .ok_or_else(ApiError::unauthenticated)?;
            Ok(Self {
                id,
                display_name,
                needs_reauth,
                login_hash,
            })
        })
    }
}

/// `scheme://host[:port]` of a URL, as browsers send it in `Origin`.
pub fn origin_of(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

/// Whether the request's `Origin` is our public origin.
pub fn origin_allowed(req: &HttpRequest, public_origin: &str) -> bool {
    req.headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| origin == public_origin)
}

/// CSRF rule for state-changing requests: an `Origin` equal to ours, or (when a browser sent
/// no `Origin`) a `Referer` on our origin.
pub fn same_origin_request(req: &HttpRequest, public_origin: &str) -> bool {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        return origin.to_str().is_ok_and(|o| o == public_origin);
    }
    req.headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .is_some_and(|r| origin_of(&r) == public_origin)
}

/// The client's address: the peer, or — when the peer is a trusted proxy — the nearest
/// untrusted address in `X-Forwarded-For`.
pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .copied()
        .or(Some(peer))
}

/// Whether `next` is a safe place to send the browser after login: a same-origin absolute path
/// (`/j/abc`), never `//evil.example`, `/\evil` or a URL with a scheme.
pub fn safe_next(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.contains(['\r', '\n', '\0'])
        && next.len() <= 512
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn next_accepts_only_local_paths() {
        assert!(safe_next("/"));
        assert!(safe_next("/j/abc?x=1"));
        assert!(!safe_next("//evil.example/"));
        assert!(!safe_next("/\\evil.example"));
        assert!(!safe_next("https://evil.example/"));
        assert!(!safe_next("javascript:alert(1)"));
        assert!(!safe_next(""));
    }

    #[test]
    fn csrf_checks_origin_then_referer() {
        let ours = "http://127.0.0.1:8080";
        let ok = TestRequest::default()
            .insert_header(("Origin", ours))
            .to_http_request();
        assert!(same_origin_request(&ok, ours));
        let foreign = TestRequest::default()
            .insert_header(("Origin", "http://evil.example"))
            .insert_header(("Referer", "http://127.0.0.1:8080/"))
            .to_http_request();
        assert!(!same_origin_request(&foreign, ours));
        let referer = TestRequest::default()
            .insert_header(("Referer", "http://127.0.0.1:8080/s/1"))
            .to_http_request();
        assert!(same_origin_request(&referer, ours));
        let lookalike = TestRequest::default()
            .insert_header(("Referer", "http://127.0.0.1:8080.evil.example/"))
            .to_http_request();
        assert!(!same_origin_request(&lookalike, ours));
        assert!(!same_origin_request(
            &TestRequest::default().to_http_request(),
            ours
        ));
    }

    #[test]
    fn forwarded_for_is_trusted_only_from_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "203.0.113.9, 10.0.0.1"))
            .to_http_request();
        assert_eq!(
            client_ip(&req, &[proxy]),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(client_ip(&req, &[]), Some(proxy));
    }
}
