//! The player endpoints under `/v1/me/player`: reads (state, currently playing, devices,
//! queue) and commands (play, pause, skip, seek, volume, transfer, add to queue), with
//! Spotify's Premium, device and parameter rules.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{Authed, json_ok, params};
use crate::catalog::TrackIdx;
use crate::errors::ApiError;
use crate::ids::is_base62_id;
use crate::player::PlayContext;
use crate::render::Renderer;
use crate::state::AppState;
use crate::world::Live;

const READ_PLAYBACK: &str = "user-read-playback-state";
const READ_CURRENT: &str = "user-read-currently-playing";
const MODIFY_PLAYBACK: &str = "user-modify-playback-state";

pub(super) async fn playback(
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_any(&[READ_PLAYBACK])?;
    let now = state.clock.now_ms();
    let mut live = auth.user.live.lock();
    live.player.settle(now, &state.catalog);
    let live = &*live;
    let device = live.player.device.as_deref().and_then(|id| live.device(id));
    Ok(match state.renderer().playback(&live.player, device, now) {
        Some(body) => json_ok(&body),
        None => HttpResponse::NoContent().finish(),
    })
}

pub(super) async fn currently_playing(
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_any(&[READ_CURRENT, READ_PLAYBACK])?;
    let now = state.clock.now_ms();
    let mut live = auth.user.live.lock();
    live.player.settle(now, &state.catalog);
    Ok(
        match state.renderer().currently_playing(&live.player, now) {
            Some(body) => json_ok(&body),
            None => HttpResponse::NoContent().finish(),
        },
    )
}

pub(super) async fn devices(
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_any(&[READ_PLAYBACK])?;
    let mut live = auth.user.live.lock();
    live.player.settle(state.clock.now_ms(), &state.catalog);
    let active = live.player.device.clone();
    let devices: Vec<_> = live
        .devices
        .iter()
        .map(|d| Renderer::device(d, active.as_deref() == Some(d.id.as_str())))
        .collect();
    Ok(json_ok(&serde_json::json!({ "devices": devices })))
}

/// Which device a player command acts on.
enum Target {
    /// The active device (no `device_id`, or `device_id` naming the active one).
    Active(String),
    /// Another of the user's devices, named by `device_id`.
    Other(String),
}

impl Target {
    fn id(&self) -> &str {
        match self {
            Target::Active(id) | Target::Other(id) => id,
        }
    }
}

/// The rules every player command shares: scope, Premium, and a controllable device.
fn command_target(auth: &Authed, live: &Live, device_id: Option<&str>) -> Result<Target, ApiError> {
    auth.require_any(&[MODIFY_PLAYBACK])?;
    if !auth.user.profile.premium {
        return Err(ApiError::premium_required());
    }
    let active = live
        .player
        .device
        .as_deref()
        .filter(|id| live.device(id).is_some());
    let target = match device_id.filter(|d| !d.is_empty()) {
        Some(id) => {
            let device = live.device(id).ok_or_else(ApiError::device_not_found)?;
            if active == Some(id) {
                Target::Active(device.id.clone())
            } else {
                Target::Other(device.id.clone())
            }
        }
        None => Target::Active(active.ok_or_else(ApiError::no_active_device)?.to_owned()),
    };
    if live.device(target.id()).is_some_and(|d| d.is_restricted) {
        return Err(ApiError::device_not_controllable());
    }
    Ok(target)
}

/// Commands other than play and transfer only act on the active device.
fn active_only(target: Target) -> Result<String, ApiError> {
    match target {
        Target::Active(id) => Ok(id),
        Target::Other(_) => Err(ApiError::no_active_device()),
    }
}

#[derive(Deserialize)]
struct PlayBody {
    context_uri: Option<String>,
    uris: Option<Vec<String>>,
    offset: Option<PlayOffset>,
    position_ms: Option<i64>,
}

#[derive(Deserialize)]
struct PlayOffset {
    position: Option<i64>,
    uri: Option<String>,
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|_| ApiError::bad_request("Malformed json"))
}

fn track_uri(state: &AppState, uri: &str) -> Result<TrackIdx, ApiError> {
    let id = uri
        .strip_prefix("spotify:track:")
        .ok_or_else(|| ApiError::bad_request(format!("Unsupported uri kind: {uri}")))?;
    if !is_base62_id(id) {
        return Err(ApiError::bad_request("Invalid base62 id"));
    }
    state
        .catalog
        .track_by_id(id)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid track uri: {uri}")))
}

pub(super) async fn play(
    req: HttpRequest,
    auth: Authed,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = params(&req);
    let body: Option<PlayBody> = parse_body(&body)?;
    let now = state.clock.now_ms();
    let mut live = auth.user.live.lock();
    live.player.settle(now, &state.catalog);
    let device = command_target(&auth, &live, params.get("device_id").map(String::as_str))?
        .id()
        .to_owned();

    let body = body.unwrap_or(PlayBody {
        context_uri: None,
        uris: None,
        offset: None,
        position_ms: None,
    });
    let position_ms = match body.position_ms {
        None => 0,
        Some(p) => u64::try_from(p).map_err(|_| ApiError::bad_request("Invalid position_ms"))?,
    };
    let (list, context) = match (body.uris, body.context_uri) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "Only one of context_uri and uris can be specified",
            ));
        }
        (Some(uris), None) => {
            if uris.is_empty() {
                return Err(ApiError::bad_request("uris must not be empty"));
            }
            let list = uris
                .iter()
                .map(|u| track_uri(&state, u))
                .collect::<Result<Vec<_>, _>>()?;
            (list, None)
        }
        (None, Some(context_uri)) => context_tracks(&state, &context_uri)?,
        (None, None) => {
            // No body: resume (and move playback here if `device_id` named another device).
            if live.player.current.is_none() {
                return Err(ApiError::restriction_violated());
            }
            live.player.transfer(device, Some(true), now);
            state.changed();
            return Ok(HttpResponse::NoContent().finish());
        }
    };
    let index = match body.offset {
        None => 0,
        Some(PlayOffset {
            position: Some(p), ..
        }) => usize::try_from(p)
            .ok()
            .filter(|&i| i < list.len())
            .ok_or_else(|| ApiError::bad_request("Invalid offset"))?,
        Some(PlayOffset { uri: Some(uri), .. }) => {
            let wanted = track_uri(&state, &uri)?;
            list.iter()
                .position(|&t| t == wanted)
                .ok_or_else(|| ApiError::bad_request("Invalid offset"))?
        }
        Some(_) => return Err(ApiError::bad_request("Invalid offset")),
    };
    live.player
        .play_list(list, index, position_ms, context, device, now);
    // A start position past the track's end plays the next one, as Spotify does.
    live.player.settle(now, &state.catalog);
    state.changed();
    Ok(HttpResponse::NoContent().finish())
}

/// The tracks of a `spotify:album:…` or `spotify:artist:…` context.
fn context_tracks(
    state: &AppState,
    uri: &str,
) -> Result<(Vec<TrackIdx>, Option<PlayContext>), ApiError> {
    let mut parts = uri.split(':');
    let (Some("spotify"), Some(kind), Some(id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ApiError::bad_request("Invalid context uri"));
    };
    if !is_base62_id(id) {
        return Err(ApiError::bad_request("Invalid base62 id"));
    }
    let (kind, tracks) = match kind {
        "album" => {
            let album = state
                .catalog
                .album_by_id(id)
                .ok_or_else(|| ApiError::not_found("Not found."))?;
            ("album", state.catalog.albums[album].tracks.clone())
        }
        "artist" => {
            let artist = state
                .catalog
                .artist_by_id(id)
                .ok_or_else(|| ApiError::not_found("Not found."))?;
            ("artist", state.catalog.tracks_of_artist(artist))
        }
        "playlist" | "show" => return Err(ApiError::not_found("Not found.")),
        _ => return Err(ApiError::bad_request("Invalid context uri")),
    };
    Ok((
        tracks,
        Some(PlayContext {
            kind,
            id: id.to_owned(),
        }),
    ))
}

/// Runs a command that needs the active device, then answers 204.
fn on_active_device(
    req: &HttpRequest,
    auth: &Authed,
    state: &AppState,
    action: impl FnOnce(&mut Live, i64) -> Result<(), ApiError>,
) -> Result<HttpResponse, ApiError> {
    let params = params(req);
    let now = state.clock.now_ms();
    let mut live = auth.user.live.lock();
    live.player.settle(now, &state.catalog);
    active_only(command_target(
        auth,
        &live,
        params.get("device_id").map(String::as_str),
    )?)?;
    if live.player.current.is_none() {
        return Err(ApiError::restriction_violated());
    }
    action(&mut live, now)?;
    state.changed();
    Ok(HttpResponse::NoContent().finish())
}

pub(super) async fn pause(
    req: HttpRequest,
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    on_active_device(&req, &auth, &state, |live, now| {
        if !live.player.is_playing {
            // Spotify refuses to pause a paused player.
            return Err(ApiError::restriction_violated());
        }
        live.player.pause(now);
        Ok(())
    })
}

pub(super) async fn next(
    req: HttpRequest,
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let catalog = Arc::clone(&state.catalog);
    on_active_device(&req, &auth, &state, |live, now| {
        live.player.next(now, &catalog);
        Ok(())
    })
}

pub(super) async fn previous(
    req: HttpRequest,
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    on_active_device(&req, &auth, &state, |live, now| {
        live.player.previous(now);
        Ok(())
    })
}

pub(super) async fn seek(
    req: HttpRequest,
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let position = match params(&req).get("position_ms") {
        None => {
            return Err(ApiError::bad_request(
                "Required parameter position_ms missing",
            ));
        }
        Some(raw) => raw
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request("Invalid position_ms"))?,
    };
    let catalog = Arc::clone(&state.catalog);
    on_active_device(&req, &auth, &state, |live, now| {
        live.player.seek(position, now, &catalog);
        Ok(())
    })
}

pub(super) async fn volume(
    req: HttpRequest,
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = params(&req);
    let percent = match params.get("volume_percent") {
        None => {
            return Err(ApiError::bad_request(
                "Required parameter volume_percent missing",
            ));
        }
        Some(raw) => raw
            .parse::<u8>()
            .ok()
            .filter(|v| *v <= 100)
            .ok_or_else(|| ApiError::bad_request("Invalid volume_percent"))?,
    };
    let mut live = auth.user.live.lock();
    live.player.settle(state.clock.now_ms(), &state.catalog);
    let target = command_target(&auth, &live, params.get("device_id").map(String::as_str))?;
    let id = target.id().to_owned();
    let device = live
        .devices
        .iter_mut()
        .find(|d| d.id == id)
        .ok_or_else(ApiError::device_not_found)?;
    if !device.supports_volume {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "Player command failed: Cannot control device volume",
        )
        .with_reason("VOLUME_CONTROL_DISALLOW"));
    }
    device.volume_percent = percent;
    state.changed();
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct TransferBody {
    device_ids: Option<Vec<String>>,
    play: Option<bool>,
}

pub(super) async fn transfer(
    auth: Authed,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: TransferBody = parse_body(&body)?
        .ok_or_else(|| ApiError::bad_request("Required field device_ids missing"))?;
    let ids = body
        .device_ids
        .ok_or_else(|| ApiError::bad_request("Required field device_ids missing"))?;
    let [device_id] = ids.as_slice() else {
        return Err(ApiError::bad_request("Only one device_id is supported"));
    };
    let now = state.clock.now_ms();
    let mut live = auth.user.live.lock();
    live.player.settle(now, &state.catalog);
    let target = command_target(&auth, &live, Some(device_id))?;
    live.player.transfer(target.id().to_owned(), body.play, now);
    state.changed();
    Ok(HttpResponse::NoContent().finish())
}

pub(super) async fn add_to_queue(
    req: HttpRequest,
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = params(&req);
    let uri = params
        .get("uri")
        .ok_or_else(|| ApiError::bad_request("Required parameter uri missing"))?;
    let mut live = auth.user.live.lock();
    live.player.settle(state.clock.now_ms(), &state.catalog);
    active_only(command_target(
        &auth,
        &live,
        params.get("device_id").map(String::as_str),
    )?)?;
    let track = track_uri(&state, uri)?;
    live.player.queue.push_back(track);
    state.changed();
    Ok(HttpResponse::NoContent().finish())
}

pub(super) async fn queue(
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_any(&[READ_CURRENT, READ_PLAYBACK])?;
    let renderer = state.renderer();
    let mut live = auth.user.live.lock();
    live.player.settle(state.clock.now_ms(), &state.catalog);
    let playing = live.player.device.is_some() && !live.player.ended;
    let current = live.player.current.filter(|_| playing);
    let upcoming: Vec<_> = if playing {
        live.player
            .upcoming(20)
            .into_iter()
            .map(|t| renderer.track(t))
            .collect()
    } else {
        Vec::new()
    };
    Ok(json_ok(&serde_json::json!({
        "currently_playing": current.map(|t| renderer.track(t)),
        "queue": upcoming,
    })))
}
