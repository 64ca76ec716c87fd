//! Facts about an incoming request: who is logged in (`sesh_sid` cookie), whether it comes from
//! our own origin (CSRF and WebSocket checks), the client's address behind trusted proxies, and
//! the JSON body (size, content type and shape checked before any handler runs).

use std::{future::Future, net::IpAddr, pin::Pin};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::StatusCode, http::header, web};
use bytes::BytesMut;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use sesh_session::{SessionId, UserId};

use crate::{
    app::AppState, crypto::sha256_hex, db::UserRecord, error::ApiError, settings::ProxyRange,
};

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

/// Name of the one-time cookie that binds a login to the browser that started it, over plain
/// HTTP (see `routes::auth`).
pub const LOGIN_BINDING_COOKIE: &str = "sesh_login";
/// Its name over HTTPS (`__Host-`: this host only, `Secure`, path `/`).
pub const SECURE_LOGIN_BINDING_COOKIE: &str = "__Host-sesh_login";

/// The login-binding cookie's name for a public URL.
pub fn login_cookie_name(public_url: &url::Url) -> &'static str {
    if public_url.scheme() == "https" {
        SECURE_LOGIN_BINDING_COOKIE
    } else {
        LOGIN_BINDING_COOKIE
    }
}

/// Name of a spectator's login cookie over plain HTTP (a spectator has no Spotify login; the
/// cookie is bound to the one session they spectate).
pub const SPECTATOR_COOKIE: &str = "sesh_spectator";
/// Its name over HTTPS (`__Host-`: this host only, `Secure`, path `/`).
pub const SECURE_SPECTATOR_COOKIE: &str = "__Host-sesh_spectator";

/// The spectator cookie's name for a public URL.
pub fn spectator_cookie_name(public_url: &url::Url) -> &'static str {
    if public_url.scheme() == "https" {
        SECURE_SPECTATOR_COOKIE
    } else {
        SPECTATOR_COOKIE
    }
}

/// The logged-in user (extractor; answers 401 when there is none): a Spotify login
/// (`sesh_sid`), else a spectator's (`sesh_spectator`).
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
    /// A spectator (no Spotify account): the one session they may see and act in.
    pub spectating: Option<SessionId>,
}

impl CurrentUser {
    /// The user logged in with the request's cookie; `None` without a cookie or with one that
    /// names no live login. Only a failing database is an error.
    /// (The cookie is read now; the future owns what it needs, so each extractor boxes it once.)
    fn lookup(req: &HttpRequest) -> impl Future<Output = Result<Option<Self>, ApiError>> + 'static {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let cookie = state.as_ref().and_then(|s| {
            req.cookie(cookie_name(&s.core.public_url))
                .or_else(|| req.cookie(spectator_cookie_name(&s.core.public_url)))
                .map(|c| c.value().to_owned())
        });
        async move {
            let (Some(state), Some(cookie)) = (state, cookie) else {
                return Ok(None);
            };
            let login_hash = sha256_hex(&cookie);
            let user = state
                .core
                .db
                .login_user(&login_hash, state.core.config.login_idle_timeout)
                .await?;
            Ok(user.map(
                |UserRecord {
                     id,
                     display_name,
                     needs_reauth,
                     spectating,
                 }| Self {
                    id,
                    display_name,
                    // A spectator's row says so only so that no Spotify call is made for it.
                    needs_reauth: needs_reauth && spectating.is_none(),
                    login_hash,
                    spectating,
                },
            ))
        }
    }
}

impl CurrentUser {
    /// Refuses a spectator (`403 spectator`) where the caller's own Spotify account is needed:
    /// creating or joining a session with it, their devices, listening along, playlists.
    pub fn require_spotify(&self) -> Result<(), ApiError> {
        match self.spectating {
            None => Ok(()),
            Some(_) => Err(ApiError::client(
                actix_web::http::StatusCode::FORBIDDEN,
                "spectator",
                "spectators have no Spotify account here: log in with Spotify for this",
            )),
        }
    }
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let lookup = Self::lookup(req);
        Box::pin(async move { lookup.await?.ok_or_else(ApiError::unauthenticated) })
    }
}

/// The logged-in user if there is one (extractor for public routes that answer more to a
/// logged-in caller; never 401). Unlike `Option<CurrentUser>`, a failing database is still an
/// error, not an anonymous caller.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentUser>);

impl FromRequest for MaybeUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let lookup = CurrentUser::lookup(req);
        Box::pin(async move { lookup.await.map(Self) })
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
/// untrusted address in `X-Forwarded-For` (read right to left, so a client cannot forge the
/// entries a trusted proxy appended).
pub fn client_ip(req: &HttpRequest, trusted: &[ProxyRange]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|range| range.contains(*ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()))
        .collect::<Vec<_>>();
    let mut nearest = peer;
    for hop in forwarded.into_iter().rev() {
        // An unparsable entry ends the chain: nothing left of it can be trusted.
        let Ok(hop) = hop else { break };
        nearest = hop;
        if !is_trusted(&hop) {
            break;
        }
    }
    Some(nearest)
}

/// Whether `next` is a safe place to send the browser after login: a same-origin absolute path
/// (`/j/abc`), never `//evil.example`, `/\\evil` or a URL with a scheme. Only visible ASCII is
/// allowed because browsers drop tabs and newlines inside URLs (`/\t/evil.example` would become
/// `//evil.example`) and treat `\\` like `/`.
pub fn safe_next(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 512
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
}

/// Largest JSON request body; bigger ones get `413 body_too_large`.
pub const MAX_JSON_BODY: usize = 16 * 1024;

/// Whether a `Content-Type` announces JSON (`application/json` or `application/*+json`, any
/// parameters).
pub fn is_json_content_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

/// Decodes a JSON request body into `T`: `413 body_too_large` over [`MAX_JSON_BODY`],
/// `415 unsupported_media_type` unless the content type is JSON, `400 invalid_json` for a body
/// that is not JSON or not the expected shape (wrong types, missing or unknown fields).
pub fn decode_json<T: DeserializeOwned>(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<T, ApiError> {
    if body.len() > MAX_JSON_BODY {
        return Err(ApiError::body_too_large(MAX_JSON_BODY));
    }
    if !content_type.is_some_and(is_json_content_type) {
        return Err(ApiError::client(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as Content-Type: application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        let mut detail = e.to_string();
        // serde's messages quote the offending input; keep the answer small.
        if detail.len() > 200 {
            let mut cut = 200;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
        }
        ApiError::bad_request("invalid_json", format!("invalid JSON body: {detail}"))
    })
}

/// Like [`decode_json`], but an empty (or all-whitespace) body is `None` whatever its content
/// type: for endpoints whose body is optional.
pub fn decode_optional_json<T: DeserializeOwned>(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    decode_json(content_type, body).map(Some)
}

/// Reads the request body, refusing more than [`MAX_JSON_BODY`] bytes without reading them.
async fn read_body(req: &HttpRequest, payload: &mut Payload) -> Result<BytesMut, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_JSON_BODY as u64) {
        return Err(ApiError::body_too_large(MAX_JSON_BODY));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::bad_request("invalid_body", "the request body could not be read")
        })?;
        if body.len() + chunk.len() > MAX_JSON_BODY {
            return Err(ApiError::body_too_large(MAX_JSON_BODY));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn content_type(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("invalid").to_owned())
}

/// An optional JSON body (extractor): empty is `None`, anything else must be valid.
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let body = read_body(&req, &mut payload).await?;
            decode_optional_json(content_type(&req).as_deref(), &body).map(Self)
        })
    }
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
        assert!(!safe_next("/\t/evil.example"));
        assert!(!safe_next("/ /evil.example"));
        assert!(!safe_next("/x\\y"));
        assert!(!safe_next("/caf\u{e9}"));
        assert!(safe_next("/%2F%2Fevil.example"));
    }

    #[test]
    fn json_bodies_are_checked_for_size_type_and_shape() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            #[allow(dead_code)]
            n: u32,
        }
        let json = Some("application/json; charset=utf-8");
        assert!(decode_json::<Body>(json, br#"{"n":1}"#).is_ok());
        assert!(decode_json::<Body>(Some("application/merge-patch+json"), br#"{"n":1}"#).is_ok());
        let code = |r: Result<Body, ApiError>| r.unwrap_err().code();
        assert_eq!(code(decode_json(json, b"{")), "invalid_json");
        assert_eq!(code(decode_json(json, br#"{"n":"1"}"#)), "invalid_json");
        assert_eq!(code(decode_json(json, br#"{"n":1,"x":2}"#)), "invalid_json");
        assert_eq!(
            code(decode_json(Some("text/plain"), br#"{"n":1}"#)),
            "unsupported_media_type"
        );
        assert_eq!(
            code(decode_json(None, br#"{"n":1}"#)),
            "unsupported_media_type"
        );
        let big = format!(r#"{{"n":1,"pad":"{}"}}"#, "x".repeat(MAX_JSON_BODY));
        assert_eq!(code(decode_json(json, big.as_bytes())), "body_too_large");
        assert!(matches!(
            decode_optional_json::<Body>(None, b" \n"),
            Ok(None)
        ));
        assert!(decode_optional_json::<Body>(None, b"{}").is_err());
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
            client_ip(&req, &[proxy.into()]),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(client_ip(&req, &[]), Some(proxy));
        // A range (docker-compose's 172.16.0.0/12): the client forged a left-most entry, the
        // proxies appended the real one.
        let range: ProxyRange = "172.16.0.0/12".parse().unwrap();
        let req = TestRequest::default()
            .peer_addr("172.18.0.2:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "1.2.3.4, 198.51.100.7, 172.18.0.5"))
            .to_http_request();
        assert_eq!(
            client_ip(&req, &[range]),
            Some("198.51.100.7".parse().unwrap())
        );
        // Garbage in the chain stops the walk at the last good hop.
        let req = TestRequest::default()
            .peer_addr("172.18.0.2:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "198.51.100.7, nonsense"))
            .to_http_request();
        assert_eq!(
            client_ip(&req, &[range]),
            Some("172.18.0.2".parse().unwrap())
        );
    }
}
