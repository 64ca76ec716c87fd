//! The player endpoints under `/v1/me/player`: reads (state, currently playing, devices,
//! queue) and commands (play, pause, skip, seek, volume, shuffle, repeat, transfer, add to
//! queue), with Spotify's Premium, device and parameter rules, checked in that order.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{Authed, json_ok, params};
use crate::catalog::TrackIdx;
use crate::errors::ApiError;
use crate::ids::is_base62_id;
use crate::player::{PlayContext, Repeat};
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

/// The first rules every player command shares: scope, then Premium.
fn command_allowed(auth: &Authed) -> Result<(), ApiError> {
    auth.require_any(&[MODIFY_PLAYBACK])?;
    if !auth.user.profile.premium {
        return Err(ApiError::premium_required());
    }
    Ok(())
}

/// The rules every player command shares: scope, Premium, and a controllable device.
fn command_target(auth: &Authed, live: &Live, device_id: Option<&str>) -> Result<Target, ApiError> {
    command_allowed(auth)?;
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

pub(super) fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<Option<T>, ApiError> {
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
    let start = match body.offset {
        None => None,
        Some(PlayOffset {
            position: Some(p), ..
        }) => Some(
            usize::try_from(p)
                .ok()
                .filter(|&i| i < list.len())
                .ok_or_else(|| ApiError::bad_request("Invalid offset"))?,
        ),
        Some(PlayOffset { uri: Some(uri), .. }) => {
            let wanted = track_uri(&state, &uri)?;
            Some(
                list.iter()
                    .position(|&t| t == wanted)
                    .ok_or_else(|| ApiError::bad_request("Invalid offset"))?,
            )
        }
        Some(_) => return Err(ApiError::bad_request("Invalid offset")),
    };
    // With shuffle on, the list plays in a random order (from `offset`, if given).
    live.player.play_list(
        list,
        start,
        position_ms,
        context,
        device,
        now,
        &mut rand::rng(),
    );
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

/// What a command needs besides an active device.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// A track loaded in the player (pause, skip, seek): Spotify refuses with "Restriction
    /// violated" otherwise.
    Track,
    /// Only the device (shuffle, repeat).
    Device,
}

/// Runs a command on the active device, then answers 204. `action` reads its parameters
/// itself, so that their 400s come after the scope, Premium and device checks.
fn on_active_device(
    req: &HttpRequest,
    auth: &Authed,
    state: &AppState,
    needs: Needs,
    action: impl FnOnce(&mut Live, &HashMap<String, String>, i64) -> Result<(), ApiError>,
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
    if needs == Needs::Track && live.player.current.is_none() {
        return Err(ApiError::restriction_violated());
    }
    action(&mut live, &params, now)?;
    state.changed();
    Ok(HttpResponse::NoContent().finish())
}

/// A required query parameter.
fn required<'p>(params: &'p HashMap<String, String>, name: &str) -> Result<&'p str, ApiError> {
    params
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| ApiError::bad_request(format!("Required parameter {name} missing")))
}

pub(super) async fn pause(
    req: HttpRequest,
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    on_active_device(&req, &auth, &state, Needs::Track, |live, _, now| {
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
    on_active_device(&req, &auth, &state, Needs::Track, |live, _, now| {
        live.player.next(now, &catalog);
        Ok(())
    })
}

pub(super) async fn previous(
    req: HttpRequest,
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    on_active_device(&req, &auth, &state, Needs::Track, |live, _, now| {
        live.player.previous(now);
        Ok(())
    })
}

/// `PUT /me/player/seek?position_ms`: a position past the track's end plays the next one.
pub(super) async fn seek(
    req: HttpRequest,
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let catalog = Arc::clone(&state.catalog);
    on_active_device(&req, &auth, &state, Needs::Track, |live, params, now| {
        let position = required(params, "position_ms")?
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request("Invalid position_ms"))?;
        live.player.seek(position, now, &catalog);
        Ok(())
    })
}

/// `PUT /me/player/shuffle?state=true|false`.
pub(super) async fn shuffle(
    req: HttpRequest,
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    on_active_device(&req, &auth, &state, Needs::Device, |live, params, now| {
        let on = match required(params, "state")? {
            "true" => true,
            "false" => false,
            _ => {
                return Err(ApiError::bad_request(
                    "Parameter state must be one of the following: true, false",
                ));
            }
        };
        live.player.set_shuffle(on, now, &mut rand::rng());
        Ok(())
    })
}

/// `PUT /me/player/repeat?state=track|context|off`.
pub(super) async fn repeat(
    req: HttpRequest,
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    on_active_device(&req, &auth, &state, Needs::Device, |live, params, now| {
        let repeat = Repeat::parse(required(params, "state")?).ok_or_else(|| {
            // Spotify's own wording for this 400.
            ApiError::bad_request(
                "Parameter state must be one of the following: track, context, off",
            )
        })?;
        live.player.set_repeat(repeat, now);
        Ok(())
    })
}

/// `PUT /me/player/volume?volume_percent`: on the active device, or on `device_id`.
pub(super) async fn volume(
    req: HttpRequest,
    auth: Authed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = params(&req);
    let mut live = auth.user.live.lock();
    live.player.settle(state.clock.now_ms(), &state.catalog);
    let target = command_target(&auth, &live, params.get("device_id").map(String::as_str))?;
    let percent = required(&params, "volume_percent")?
        .parse::<u8>()
        .ok()
        .filter(|v| *v <= 100)
        .ok_or_else(|| ApiError::bad_request("Invalid volume_percent"))?;
    let id = target.id().to_owned();
    let device = live
        .devices
        .iter_mut()
        .find(|d| d.id == id)
        .ok_or_else(ApiError::device_not_found)?;
    if !device.supports_volume {
        return Err(ApiError::volume_control_disallowed());
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
    command_allowed(&auth)?;
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
