//! The web front end, embedded from `web/` at build time: pages (`no-cache`) and assets
//! (`max-age=3600` with an ETag), and the one "not found" answer of the whole server (a page
//! for browsers, JSON for API clients).

use actix_web::{
    HttpRequest, HttpResponse,
    http::{
        StatusCode,
        header::{self, HeaderValue},
    },
    web,
};
use rust_embed::RustEmbed;

use crate::error::{ApiError, ErrorBody};

/// The `web/` folder.
#[derive(RustEmbed)]
#[folder = "../../web"]
struct WebAssets;

/// Whether the client ranks `text/html` above `application/json` in its `Accept` header (a
/// browser navigating); no header, `*/*` or a tie mean an API client.
fn prefers_html(req: &HttpRequest) -> bool {
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let html = accept_quality(accept, "text", "html");
    html > 0.0 && html > accept_quality(accept, "application", "json")
}

/// The quality `accept` gives `kind/sub`: its most specific matching range wins (RFC 9110
/// §12.5.1), 0 when none matches.
fn accept_quality(accept: &str, kind: &str, sub: &str) -> f32 {
    let mut best: Option<(u8, f32)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let Some((k, s)) = range.split_once('/') else {
            continue;
        };
        let specificity = match (k, s) {
            _ if k == kind && s == sub => 2,
            _ if k == kind && s == "*" => 1,
            ("*", "*") => 0,
            _ => continue,
        };
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0)
            .clamp(0.0, 1.0);
        if best.is_none_or(|(spec, _)| specificity > spec) {
            best = Some((specificity, q));
        }
    }
    best.map_or(0.0, |(_, q)| q)
}

/// The answer to any address the server does not serve: the "Page not found" page (`404`,
/// `no-cache`) to a browser asking for a page, else `404 {"error": {"code": "not_found"}}`.
/// Under `/api/` and `/ws/` it is always JSON, whatever the `Accept`.
pub fn not_found(req: &HttpRequest) -> HttpResponse {
    let path = req.path();
    let api = ["/api", "/ws"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")));
    let page = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    ) && !api
        && prefers_html(req);
    match WebAssets::get("404.html") {
        Some(file) if page => HttpResponse::NotFound()
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .body(file.data.into_owned()),
        _ => actix_web::ResponseError::error_response(&ApiError::not_found(
            "not_found",
            "nothing here: no such page or endpoint",
        )),
    }
}

fn serve(req: &HttpRequest, path: &str, is_page: bool) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::not_found("not_found", "no such page");
    if path
        .split('/')
        .any(|segment| segment == ".." || segment.starts_with('.'))
    {
        return Err(not_found());
    }
    let file = WebAssets::get(path).ok_or_else(not_found)?;
    let etag = format!("\"{}\"", hex_prefix(&file.metadata.sha256_hash()));
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let cache = if is_page {
        "no-cache"
    } else {
        "public, max-age=3600"
    };
    let mut response = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, etag));
    if matches {
        return Ok(response.finish());
    }
    let mime = file.metadata.mimetype();
    let content_type = if mime.starts_with("text/") || mime.ends_with("javascript") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    response.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    ));
    Ok(response.body(file.data.into_owned()))
}

fn hex_prefix(hash: &[u8; 32]) -> String {
    hex::encode(&hash[..12])
}

/// `GET /` → the landing page.
#[utoipa::path(
    get,
    path = "/",
    tag = "pages",
    summary = "The start page",
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
    ),
)]
pub async fn index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&req, "index.html", true)
}

/// `GET /j/{invite_code}` → the join page.
#[utoipa::path(
    get,
    path = "/j/{invite_code}",
    tag = "pages",
    summary = "The join page (the link friends get)",
    params(("invite_code" = String, Path)),
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
    ),
)]
pub async fn join_page(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&req, "join.html", true)
}

/// `GET /s/{session_id}` → the session page.
#[utoipa::path(
    get,
    path = "/s/{session_id}",
    tag = "pages",
    summary = "The session page",
    params(("session_id" = String, Path)),
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
    ),
)]
pub async fn session_page(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&req, "session.html", true)
}

/// `GET /s/{session_id}/recap` → the recap page (it reads `GET /api/sessions/{id}/recap`).
#[utoipa::path(
    get,
    path = "/s/{session_id}/recap",
    tag = "pages",
    summary = "A session's recap page (members only: the page asks the API)",
    params(("session_id" = String, Path)),
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
    ),
)]
pub async fn recap_page(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&req, "recap.html", true)
}

/// `GET /tv/{key}` → the full-screen TV page of a display key (docs/displays.md).
#[utoipa::path(
    get,
    path = "/tv/{key}",
    tag = "pages",
    summary = "A display's full-screen TV page",
    params(("key" = String, Path, description = "The display key")),
    responses(
        (status = 200, description = "The page (it reads the key's stream)", content_type = "text/html", body = String),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
    ),
)]
pub async fn tv_page(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&req, "tv.html", true)
}

/// `GET /overlay/{key}` → the stream overlay of a display key (docs/displays.md).
#[utoipa::path(
    get,
    path = "/overlay/{key}",
    tag = "pages",
    summary = "A display's stream overlay (transparent, for OBS)",
    params(
        ("key" = String, Path, description = "The display key"),
        ("size" = Option<String>, Query, description = "`s`, `m` (default) or `l`"),
        ("position" = Option<String>, Query, description = "`top-left`, `top-right`, `bottom-left` (default) or `bottom-right`"),
        ("theme" = Option<String>, Query, description = "`dark` (default) or `light`"),
        ("progress" = Option<String>, Query, description = "`0` hides the progress bar"),
    ),
    responses(
        (status = 200, description = "The page (it reads the key's stream)", content_type = "text/html", body = String),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
    ),
)]
pub async fn overlay_page(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&req, "overlay.html", true)
}

/// `GET /assets/{path..}` → `web/assets/{path}`.
#[utoipa::path(
    get,
    path = "/assets/{path}",
    tag = "pages",
    summary = "A static asset of the web app",
    params(("path" = String, Path)),
    responses(
        (status = 200, description = "The file, with its content type, `ETag` and `Cache-Control`"),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        (status = 404, description = "`not_found`: JSON, or the \"Page not found\" page to a browser (`Accept` ranks `text/html` first)", content(
            (ErrorBody = "application/json"),
            (String = "text/html"),
        )),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
    ),
)]
pub async fn asset(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    match serve(&req, &format!("assets/{}", path.into_inner()), false) {
        Ok(response) => response,
        Err(ApiError::Client { status, .. }) if status == StatusCode::NOT_FOUND => not_found(&req),
        Err(other) => actix_web::ResponseError::error_response(&other),
    }
}

#[cfg(test)]
mod tests {
    use super::accept_quality;

    #[test]
    fn the_most_specific_range_sets_the_quality() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert_eq!(accept_quality(browser, "text", "html"), 1.0);
        assert_eq!(accept_quality(browser, "application", "json"), 0.8);
        assert_eq!(accept_quality("*/*", "text", "html"), 1.0);
        assert_eq!(accept_quality("application/json", "text", "html"), 0.0);
        assert_eq!(
            accept_quality("text/*;q=0.5, text/html;q=0", "text", "html"),
            0.0
        );
        assert_eq!(accept_quality("text/*; q=0.5", "text", "plain"), 0.5);
        assert_eq!(accept_quality("garbage", "text", "html"), 0.0);
    }
}
