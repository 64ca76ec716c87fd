//! The web front end, embedded from `web/` at build time: pages (`no-cache`) and assets
//! (`max-age=3600` with an ETag).

use actix_web::{
    HttpRequest, HttpResponse,
    http::header::{self, HeaderValue},
    web,
};
use rust_embed::RustEmbed;

use crate::error::{ApiError, ErrorBody};

/// The `web/` folder.
#[derive(RustEmbed)]
#[folder = "../../web"]
struct WebAssets;

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
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
    ),
)]
pub async fn asset(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve(&req, &format!("assets/{}", path.into_inner()), false)
}
