//! The control API under `/_emulator` (only when enabled): inject faults, act on players as
//! the user's own Spotify app would, revoke or expire tokens, add and remove devices, move
//! the virtual clock, read users' playlists, and read or reset the request log. Documented in the crate README.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::dev_mode::{self, DevMode};
use crate::errors::{ApiError, REASONS, known_reason};
use crate::faults::Fault;
use crate::player::Repeat;
use crate::request_log::LogFilter;
use crate::server::resource;
use crate::state::AppState;
use crate::world::{Device, TimeRange, User};

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/_emulator/faults")
            .route(web::get().to(list_faults))
            .route(web::post().to(add_fault))
            .route(web::delete().to(clear_faults)),
    )
    .service(resource("/_emulator/users").route(web::get().to(list_users)))
    .service(resource("/_emulator/users/{id}").route(web::get().to(get_user)))
    .service(
        resource("/_emulator/users/{id}/player")
            .route(web::get().to(get_player))
            .route(web::post().to(player_action)),
    )
    .service(resource("/_emulator/users/{id}/playlists").route(web::get().to(get_playlists)))
    .service(resource("/_emulator/users/{id}/revoke").route(web::post().to(revoke)))
    .service(resource("/_emulator/users/{id}/expire-tokens").route(web::post().to(expire_tokens)))
    .service(
        resource("/_emulator/users/{id}/devices/{device_id}")
            .route(web::post().to(set_device))
            .route(web::delete().to(remove_device)),
    )
    .service(
        resource("/_emulator/apps/{client_id}/dev-mode")
            .route(web::get().to(get_dev_mode))
            .route(web::put().to(set_dev_mode)),
    )
    .service(
        resource("/_emulator/clock")
            .route(web::get().to(get_clock))
            .route(web::post().to(advance_clock)),
    )
    .service(
        resource("/_emulator/requests")
            .route(web::get().to(get_requests))
            .route(web::delete().to(clear_requests)),
    );
}

fn json_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))
}

fn user(state: &AppState, id: &str) -> Result<Arc<User>, ApiError> {
    state
        .users
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("No user {id}")))
}

fn conflict(message: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, message)
}

async fn list_faults(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "faults": state.faults.list() }))
}

async fn add_fault(body: web::Bytes, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let fault: Fault = json_body(&body)?;
    if fault.status.is_some_and(|s| !(400..=599).contains(&s)) {
        return Err(ApiError::bad_request("status must be between 400 and 599"));
    }
    if fault.status.is_none() && fault.delay_ms.is_none() {
        return Err(ApiError::bad_request(
            "a fault needs a status, a delay_ms, or both",
        ));
    }
    if let Some(reason) = &fault.reason
        && known_reason(reason).is_none()
    {
        return Err(ApiError::bad_request(format!(
            "unknown reason {reason}; use one of {}",
            REASONS.join(", ")
        )));
    }
    if !fault.path.starts_with('/') {
        return Err(ApiError::bad_request("path must start with /"));
    }
    tracing::info!(?fault, "fault armed");
    state.faults.add(fault.clone());
    Ok(HttpResponse::Created().json(json!({ "fault": fault })))
}

async fn clear_faults(state: web::Data<AppState>) -> HttpResponse {
    state.faults.clear();
    HttpResponse::NoContent().finish()
}

fn user_summary(user: &User) -> serde_json::Value {
    let live = user.live.lock();
    json!({
        "id": user.profile.id,
        "display_name": user.profile.display_name,
        "premium": user.profile.premium,
        "devices": live.devices.iter().map(device_json).collect::<Vec<_>>(),
    })
}

fn device_json(device: &Device) -> serde_json::Value {
    json!({
        "id": device.id,
        "name": device.name,
        "type": device.kind,
        "is_restricted": device.is_restricted,
        "supports_volume": device.supports_volume,
        "volume_percent": device.volume_percent,
    })
}

async fn list_users(state: web::Data<AppState>) -> HttpResponse {
    let users: Vec<_> = state
        .users
        .named()
        .iter()
        .map(|u| user_summary(u))
        .collect();
    HttpResponse::Ok().json(json!({ "users": users }))
}

async fn get_user(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = user(&state, &path)?;
    let mut summary = user_summary(&user);
    let uris = |range| -> Vec<&str> {
        user.top_tracks(range)
            .iter()
            .map(|&t| state.catalog.tracks[t].uri.as_str())
            .collect()
    };
    summary["top_tracks"] = json!({
        "short_term": uris(TimeRange::Short),
        "medium_term": uris(TimeRange::Medium),
        "long_term": uris(TimeRange::Long),
    });
    Ok(HttpResponse::Ok().json(summary))
}

/// `GET /_emulator/users/{id}/playlists`: the user's playlists, oldest first, each with its
/// track uris in order.
async fn get_playlists(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = user(&state, &path)?;
    let playlists: Vec<_> = state
        .playlists
        .owned_by(&user.profile.id)
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "name": p.name,
                "description": p.description,
                "public": p.public,
                "collaborative": p.collaborative,
                "snapshot_id": p.snapshot_id(),
                "uris": p.items.iter().map(|i| state.catalog.tracks[i.track].uri.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "playlists": playlists })))
}

/// The raw simulated player, for assertions ("that device plays the queue's first track").
fn player_state(state: &AppState, user: &User) -> serde_json::Value {
    let now = state.clock.now_ms();
    let mut live = user.live.lock();
    live.player.settle(now, &state.catalog);
    let player = &live.player;
    let uri = |t: usize| state.catalog.tracks[t].uri.clone();
    let device = player.device.as_deref().and_then(|id| live.device(id));
    json!({
        "user_id": user.profile.id,
        "device_id": player.device,
        "device_name": device.map(|d| d.name.clone()),
        "is_playing": player.is_playing,
        "ended": player.ended,
        "current_uri": player.current.map(uri),
        "from_queue": player.from_queue,
        "index": player.index,
        "uris": player.list.iter().map(|&t| uri(t)).collect::<Vec<_>>(),
        "queue": player.queue.iter().map(|&t| uri(t)).collect::<Vec<_>>(),
        "context_uri": player.context.as_ref().map(|c| format!("spotify:{}:{}", c.kind, c.id)),
        "shuffle_state": player.shuffle,
        "repeat_state": player.repeat.as_str(),
        "position_ms": player.position_ms(now),
        "duration_ms": player.current.map(|t| state.catalog.tracks[t].duration_ms),
        "changed_at_ms": player.changed_at_ms,
        "now_ms": now,
    })
}

async fn get_player(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = user(&state, &path)?;
    Ok(HttpResponse::Ok().json(player_state(&state, &user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlayerAction {
    action: String,
    position_ms: Option<u64>,
    uris: Option<Vec<String>>,
    device_id: Option<String>,
    play: Option<bool>,
    /// `shuffle`: `true`/`false`; `repeat`: `"off"`, `"track"` or `"context"`.
    state: Option<serde_json::Value>,
}

/// `POST /_emulator/users/{id}/player`: the user acts in their own Spotify app (no Premium
/// or restriction checks, like the real app).
async fn player_action(
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = user(&state, &path)?;
    let action: PlayerAction = json_body(&body)?;
    let now = state.clock.now_ms();
    {
        let mut live = user.live.lock();
        live.player.settle(now, &state.catalog);
        let loaded = live.player.current.is_some();
        match action.action.as_str() {
            "pause" => {
                if !loaded {
                    return Err(conflict("Nothing is loaded in the player"));
                }
                live.player.pause(now);
            }
            "resume" => {
                if !loaded || live.player.device.is_none() {
                    return Err(conflict("Nothing is loaded in the player"));
                }
                live.player.resume(now);
            }
            "next" | "previous" => {
                if !loaded || live.player.device.is_none() {
                    return Err(conflict("Nothing is loaded in the player"));
                }
                if action.action == "next" {
                    live.player.next(now, &state.catalog);
                } else {
                    live.player.previous(now);
                }
            }
            "seek" => {
                let position = action
                    .position_ms
                    .ok_or_else(|| ApiError::bad_request("seek needs position_ms"))?;
                if !loaded {
                    return Err(conflict("Nothing is loaded in the player"));
                }
                live.player.seek(position, now, &state.catalog);
            }
            "play" => {
                let uris = action.uris.unwrap_or_default();
                if uris.is_empty() {
                    return Err(ApiError::bad_request("play needs uris"));
                }
                let list =
                    uris.iter()
                        .map(|u| {
                            state.catalog.track_by_uri(u).ok_or_else(|| {
                                ApiError::bad_request(format!("Unknown track uri {u}"))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                let device = match action.device_id {
                    Some(id) => live.device(&id).map(|d| d.id.clone()),
                    None => live.player.device.clone().or_else(|| {
                        live.devices
                            .iter()
                            .find(|d| !d.is_restricted)
                            .map(|d| d.id.clone())
                    }),
                }
                .ok_or_else(|| ApiError::bad_request("No such device"))?;
                live.player.play_list(
                    list,
                    None,
                    action.position_ms.unwrap_or(0),
                    None,
                    device,
                    now,
                    &mut rand::rng(),
                );
            }
            "transfer" => {
                let id = action
                    .device_id
                    .ok_or_else(|| ApiError::bad_request("transfer needs device_id"))?;
                let device = live
                    .device(&id)
                    .map(|d| d.id.clone())
                    .ok_or_else(|| ApiError::bad_request("No such device"))?;
                live.player.transfer(device, action.play, now);
            }
            "shuffle" => {
                let on = action
                    .state
                    .as_ref()
                    .and_then(serde_json::Value::as_bool)
                    .ok_or_else(|| ApiError::bad_request("shuffle needs a boolean state"))?;
                live.player.set_shuffle(on, now, &mut rand::rng());
            }
            "repeat" => {
                let repeat = action
                    .state
                    .as_ref()
                    .and_then(serde_json::Value::as_str)
                    .and_then(Repeat::parse)
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "repeat needs state \"off\", \"track\" or \"context\"",
                        )
                    })?;
                live.player.set_repeat(repeat, now);
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "Unknown action {other}; use pause, resume, next, previous, seek, play, transfer, shuffle or repeat"
                )));
            }
        }
    }
    state.changed();
    Ok(HttpResponse::Ok().json(player_state(&state, &user)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    /// Also kill live access tokens (default true), so the revocation is noticed at once.
    access_tokens: Option<bool>,
}

async fn revoke(
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = user(&state, &path)?;
    let body: RevokeBody = json_body(&body)?;
    let n = state
        .auth
        .write()
        .revoke_user(&user.profile.id, body.access_tokens.unwrap_or(true));
    state.changed();
    tracing::info!(user = %user.profile.id, refresh_tokens = n, "user revoked the app");
    Ok(HttpResponse::Ok().json(json!({ "revoked_refresh_tokens": n })))
}

async fn expire_tokens(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = user(&state, &path)?;
    let n = state
        .auth
        .write()
        .expire_user_access(&user.profile.id, state.clock.now_ms());
    state.changed();
    Ok(HttpResponse::Ok().json(json!({ "expired_access_tokens": n })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DeviceBody {
    present: Option<bool>,
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    is_restricted: Option<bool>,
    supports_volume: Option<bool>,
}

/// `POST /_emulator/users/{id}/devices/{device_id}`: adds or updates a device, or removes it
/// with `"present": false` (the active device disappearing stops playback).
async fn set_device(
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, device_id) = path.into_inner();
    let user = user(&state, &user_id)?;
    let body: DeviceBody = json_body(&body)?;
    if body.present == Some(false) {
        return remove(&state, &user, &device_id);
    }
    let mut live = user.live.lock();
    let index = match live.devices.iter().position(|d| d.id == device_id) {
        Some(i) => i,
        None => {
            live.devices.push(Device {
                id: device_id.clone(),
                name: "Emulated device".to_owned(),
                kind: "Computer".to_owned(),
                volume_percent: 65,
                supports_volume: true,
                is_restricted: false,
            });
            live.devices.len() - 1
        }
    };
    let device = &mut live.devices[index];
    if let Some(name) = body.name {
        device.name = name;
    }
    if let Some(kind) = body.kind {
        device.kind = kind;
    }
    if let Some(r) = body.is_restricted {
        device.is_restricted = r;
    }
    if let Some(v) = body.supports_volume {
        device.supports_volume = v;
    }
    state.changed();
    Ok(HttpResponse::Ok().json(device_json(device)))
}

async fn remove_device(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, device_id) = path.into_inner();
    let user = user(&state, &user_id)?;
    remove(&state, &user, &device_id)
}

fn remove(state: &AppState, user: &User, device_id: &str) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now_ms();
    let mut live = user.live.lock();
    live.player.settle(now, &state.catalog);
    let before = live.devices.len();
    live.devices.retain(|d| d.id != device_id);
    if live.devices.len() == before {
        return Err(ApiError::not_found("No such device"));
    }
    if live.player.device.as_deref() == Some(device_id) {
        live.player.lose_device(now);
    }
    state.changed();
    Ok(HttpResponse::NoContent().finish())
}

fn clock_json(state: &AppState) -> serde_json::Value {
    json!({ "now_ms": state.clock.now_ms(), "offset_ms": state.clock.offset_ms() })
}

/// The registered app `client_id`, or 404.
fn app_id(state: &AppState, client_id: &str) -> Result<(), ApiError> {
    state
        .config
        .app(client_id)
        .map(drop)
        .ok_or_else(|| ApiError::not_found(format!("No app {client_id}")))
}

async fn get_dev_mode(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    app_id(&state, &path)?;
    Ok(HttpResponse::Ok().json(state.dev_modes.get(&path)))
}

async fn set_dev_mode(
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    app_id(&state, &path)?;
    let mode: DevModeBody = json_body(&body)?;
    let users = mode.users.unwrap_or_default();
    if users.len() > dev_mode::MAX_USERS {
        return Err(ApiError::bad_request(format!(
            "development mode allow-lists at most {} users",
            dev_mode::MAX_USERS
        )));
    }
    let mode = DevMode {
        enabled: mode.enabled,
        users: users.into_iter().collect(),
    };
    tracing::info!(client_id = %path, enabled = mode.enabled, users = mode.users.len(), "development mode set");
    state.dev_modes.set(&path, mode.clone());
    Ok(HttpResponse::Ok().json(mode))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DevModeBody {
    enabled: bool,
    users: Option<Vec<String>>,
}

async fn get_clock(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(clock_json(&state))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    advance_ms: i64,
}

async fn advance_clock(
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: ClockBody = json_body(&body)?;
    if body.advance_ms < 0 {
        return Err(ApiError::bad_request(
            "advance_ms must not be negative: time only moves forward",
        ));
    }
    state.clock.advance(body.advance_ms);
    state.changed();
    Ok(HttpResponse::Ok().json(clock_json(&state)))
}

async fn get_requests(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params: std::collections::HashMap<String, String> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
            .map_err(|_| ApiError::bad_request("Malformed query"))?
            .into_iter()
            .collect();
    let since_ms = params
        .get("since_ms")
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| ApiError::bad_request("Invalid since_ms"))
        })
        .transpose()?;
    let filter = LogFilter {
        method: params.get("method").cloned(),
        path: params
            .get("path")
            .map(|p| p.trim_end_matches('/').to_owned()),
        client_id: params.get("client_id").cloned(),
        user_id: params.get("user_id").cloned(),
        since_ms,
    };
    let include = params
        .get("requests")
        .is_none_or(|v| v != "false" && v != "0");
    Ok(HttpResponse::Ok().json(state.log.snapshot(&filter, include)))
}

async fn clear_requests(state: web::Data<AppState>) -> HttpResponse {
    state.log.clear();
    HttpResponse::NoContent().finish()
}
