//! The Web API under `/v1`: routes, bearer authentication and scopes, and the profile, top
//! tracks, search and track endpoints; the player endpoints live in [`player`], the
//! playlist ones in [`playlists`].

mod player;
mod playlists;

use std::collections::HashMap;
use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder, web};
use serde::Serialize;

use crate::auth::{AccessGrant, AccessLookup};
use crate::errors::ApiError;
use crate::ids::is_base62_id;
use crate::images;
use crate::render::COVER_SIZES;
use crate::server::{ClientNote, bearer_token, resource};
use crate::state::AppState;
use crate::world::{TimeRange, User};

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/me").route(web::get().to(me)))
        .service(resource("/v1/me/top/tracks").route(web::get().to(top_tracks)))
        .service(
            resource("/v1/me/player")
                .route(web::get().to(player::playback))
                .route(web::put().to(player::transfer)),
        )
        .service(
            resource("/v1/me/player/currently-playing")
                .route(web::get().to(player::currently_playing)),
        )
        .service(resource("/v1/me/player/devices").route(web::get().to(player::devices)))
        .service(resource("/v1/me/player/play").route(web::put().to(player::play)))
        .service(resource("/v1/me/player/pause").route(web::put().to(player::pause)))
        .service(resource("/v1/me/player/next").route(web::post().to(player::next)))
        .service(resource("/v1/me/player/previous").route(web::post().to(player::previous)))
        .service(resource("/v1/me/player/seek").route(web::put().to(player::seek)))
        .service(resource("/v1/me/player/volume").route(web::put().to(player::volume)))
        .service(resource("/v1/me/player/shuffle").route(web::put().to(player::shuffle)))
        .service(resource("/v1/me/player/repeat").route(web::put().to(player::repeat)))
        .service(
            resource("/v1/me/player/queue")
                .route(web::get().to(player::queue))
                .route(web::post().to(player::add_to_queue)),
        )
        .service(resource("/v1/me/playlists").route(web::post().to(playlists::create)))
        .service(resource("/v1/playlists/{id}").route(web::get().to(playlists::get)))
        .service(
            resource("/v1/playlists/{id}/items")
                .route(web::get().to(playlists::items))
                .route(web::post().to(playlists::add)),
        )
        .service(
            web::resource("/v1/playlists/{id}/tracks")
                .route(web::route().to(playlists::tracks_removed)),
        )
        .service(resource("/v1/search").route(web::get().to(search)))
        .service(resource("/v1/tracks/{id}").route(web::get().to(track)));
}

/// A request with a valid access token, and the user it belongs to.
pub(crate) struct Authed {
    pub user: Arc<User>,
    pub grant: AccessGrant,
}

impl Authed {
    /// Passes when the token has any of `scopes`.
    pub(super) fn require_any(&self, scopes: &[&str]) -> Result<(), ApiError> {
        if self.grant.scope.split(' ').any(|s| scopes.contains(&s)) {
            Ok(())
        } else {
            Err(ApiError::insufficient_scope())
        }
    }
}

impl FromRequest for Authed {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Authed, ApiError> {
    let state = app_state(req)?;
    let header_value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(ApiError::no_token)?;
    let token = bearer_token(Some(header_value))
        .ok_or_else(|| ApiError::bad_request("Only valid bearer authentication supported"))?;
    let lookup = state.auth.read().access(token, state.clock.now_ms());
    let grant = match lookup {
        AccessLookup::Valid(grant) => grant,
        AccessLookup::Expired => return Err(ApiError::expired_token()),
        AccessLookup::Invalid => return Err(ApiError::invalid_token()),
    };
    let user = state
        .users
        .get(&grant.user_id)
        .ok_or_else(ApiError::invalid_token)?;
    req.extensions_mut().insert(ClientNote {
        client_id: Arc::clone(&grant.client_id),
        user_id: Some(Arc::clone(&grant.user_id)),
    });
    if !state.dev_modes.admits(&grant.client_id, &grant.user_id) {
        return Err(ApiError::user_not_registered());
    }
    Ok(Authed { user, grant })
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
                "Server error",
            )
        })
}

/// Query parameters; a malformed query string reads as empty, as Spotify is lenient there.
pub(super) fn params(req: &HttpRequest) -> HashMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// An integer parameter within `range`, `default` when absent.
fn int_param(
    params: &HashMap<String, String>,
    name: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, ApiError> {
    match params.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|v| range.contains(v))
            .ok_or_else(|| ApiError::bad_request(format!("Invalid {name}"))),
    }
}

/// The `market` parameter: an ISO 3166-1 alpha-2 code (two upper-case letters) or
/// `from_token` (the token's user's country; every token here has a user). Every track is
/// available everywhere, so a valid market changes nothing but the `href`s.
fn market_param(params: &HashMap<String, String>) -> Result<Option<&str>, ApiError> {
    match params.get("market").map(String::as_str) {
        None => Ok(None),
        Some(market)
            if market == "from_token"
                || (market.len() == 2 && market.bytes().all(|b| b.is_ascii_uppercase())) =>
        {
            Ok(Some(market))
        }
        Some(_) => Err(ApiError::bad_request("Invalid market code")),
    }
}

pub(super) fn json_ok<T: Serialize>(value: &T) -> HttpResponse {
    json_answer(HttpResponse::Ok(), value)
}

/// A 201 with a JSON body (created playlists, added items).
pub(super) fn json_created<T: Serialize>(value: &T) -> HttpResponse {
    json_answer(HttpResponse::Created(), value)
}

fn json_answer<T: Serialize>(mut builder: HttpResponseBuilder, value: &T) -> HttpResponse {
    match serde_json::to_string(value) {
        Ok(body) => builder
            .content_type("application/json; charset=utf-8")
            .body(body),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

async fn me(auth: Authed, state: web::Data<AppState>) -> HttpResponse {
    json_ok(&state.renderer().me(&auth.user.profile))
}

async fn top_tracks(
    req: HttpRequest,
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_any(&["user-top-read"])?;
    let params = params(&req);
    let limit = int_param(&params, "limit", 20, 1..=50)?;
    let offset = int_param(&params, "offset", 0, 0..=usize::MAX)?;
    let range = match params.get("time_range") {
        None => TimeRange::Medium,
        Some(raw) => {
            TimeRange::parse(raw).ok_or_else(|| ApiError::bad_request("Invalid time range"))?
        }
    };
    let all = auth.user.top_tracks(range);
    Ok(json_ok(&state.renderer().paging(
        "/v1/me/top/tracks",
        "",
        all,
        offset,
        limit,
    )))
}

async fn search(
    req: HttpRequest,
    _auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = params(&req);
    // Spotify's own `next`/`previous`/`href` links spell the query `query=`, and following
    // them works, so both names are read.
    let q = params
        .get("q")
        .or_else(|| params.get("query"))
        .map(String::as_str)
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("No search query"))?;
    let kinds = params
        .get("type")
        .ok_or_else(|| ApiError::bad_request("Missing parameter type"))?;
    for kind in kinds.split(',') {
        match kind {
            "track" => {}
            "album" | "artist" | "playlist" | "show" | "episode" | "audiobook" => {
                return Err(ApiError::bad_request(format!(
                    "The emulator only searches tracks, not {kind}"
                )));
            }
            _ => return Err(ApiError::bad_request("Bad search type field")),
        }
    }
    let market = market_param(&params)?;
    let limit = int_param(&params, "limit", 5, 1..=10)?;
    let offset = int_param(&params, "offset", 0, 0..=1000)?;
    let hits = state.catalog.search(q);
    let mut echoed = vec![("query", q), ("type", "track")];
    if let Some(market) = market {
        echoed.push(("market", market));
    }
    let query = serde_urlencoded::to_string(echoed).unwrap_or_default();
    let page = state
        .renderer()
        .paging("/v1/search", &query, &hits, offset, limit);
    Ok(json_ok(&serde_json::json!({ "tracks": page })))
}

async fn track(
    path: web::Path<String>,
    _auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    if !is_base62_id(&id) {
        return Err(ApiError::bad_request("Invalid base62 id"));
    }
    let track = state
        .catalog
        .track_by_id(&id)
        .ok_or_else(|| ApiError::not_found("Resource not found"))?;
    Ok(json_ok(&state.renderer().track(track)))
}

/// `GET /_img/album/{id}/{size}`: a generated SVG cover.
pub(crate) async fn album_image(
    path: web::Path<(String, u32)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (id, size) = path.into_inner();
    let album = state
        .catalog
        .album_by_id(&id)
        .filter(|_| COVER_SIZES.contains(&size))
        .ok_or_else(|| ApiError::not_found("Resource not found"))?;
    Ok(svg_response(images::album_cover(
        &state.catalog,
        album,
        size,
    )))
}

/// `GET /_img/user/{id}`: a generated SVG avatar.
pub(crate) async fn user_image(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .users
        .get(&path.into_inner())
        .ok_or_else(|| ApiError::not_found("Resource not found"))?;
    Ok(svg_response(images::avatar(
        &user.profile.id,
        &user.profile.display_name,
    )))
}

fn svg_response(svg: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(svg)
}
