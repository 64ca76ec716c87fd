//! The player over HTTP: `POST /api/sessions/{id}/start` and
//! `POST /api/sessions/{id}/player/{command}`. Each route is one line over a use case of the
//! session's [`crate::hub::HubHandle`]; the WebSocket frames of the same names take the same
//! fields (`wire::SeekBody` and its siblings serve both).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{parse_device_id, parse_session_id};
use crate::{
    app::AppState,
    error::{ApiError, ErrorBody},
    hub::PlayerCommand,
    request::CurrentUser,
    wire::{QueueWindow, RepeatBody, SeekBody, TransferBody, VolumeBody},
};

/// Body of `POST /api/sessions/{id}/start`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    device_id: String,
}

impl StartBody {
    /// The device id as sent (validated by [`parse_device_id`]).
    pub fn device_id(&self) -> &str {
        &self.device_id
    }
}

/// `POST /api/sessions/{id}/start`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Started {
    /// The queue (whole or its first window).
    #[serde(flatten)]
    pub queue: QueueWindow,
    /// Index of the now-playing entry.
    pub position: usize,
}

/// `POST /api/sessions/{id}/start` `{"device_id"}` (host) → 200 `{"queue": [...],
/// "queue_offset", "queue_length", "position"}`.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/start",
    tag = "player",
    summary = "Start playing the fair queue on a device (host)",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    request_body(content = StartBody, content_type = "application/json"),
    responses(
        (status = 200, body = Started),
        (status = 400, description = "`invalid_device`, `invalid_json`, `spotify_not_found`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `reauth_required`", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site, `forbidden`, `not_a_member`, `premium_required`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`already_started`, `start_in_progress`, `session_ended`, `no_tracks`, `no_active_device`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the caller's `SESH_SPOTIFY_USER_RATE`, or Spotify asked to wait (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 502, description = "`spotify_error`: Spotify refused for another reason", body = ErrorBody),
        (status = 503, description = "`spotify_unavailable` (Spotify down or timing out) or `unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn start(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: web::Json<StartBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    let device = parse_device_id(&body.device_id)?;
    let (queue, position) = state.hubs.session(id).start(&user.id, device).await?;
    Ok(HttpResponse::Ok().json(Started { queue, position }))
}

/// A player command without fields (the path names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SimpleCommand {
    /// Resume.
    Play,
    /// Pause.
    Pause,
    /// Skip forward.
    Next,
    /// Skip back.
    Previous,
    /// Re-draw the fair order of the upcoming entries (Spotify's own shuffle stays off).
    Reshuffle,
}

impl From<SimpleCommand> for PlayerCommand {
    fn from(command: SimpleCommand) -> Self {
        match command {
            SimpleCommand::Play => Self::Play,
            SimpleCommand::Pause => Self::Pause,
            SimpleCommand::Next => Self::Next,
            SimpleCommand::Previous => Self::Previous,
            SimpleCommand::Reshuffle => Self::Reshuffle,
        }
    }
}

/// Runs `command` for the caller → 204.
async fn run(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
    command: PlayerCommand,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(id)?;
    state.hubs.session(id).player(&user.id, command).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/sessions/{id}/player/{play|pause|next|previous|reshuffle}` → 204.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/player/{command}",
    tag = "player",
    summary = "Play, pause, skip, go back, or reshuffle what is next",
    params(("id" = String, Path, description = "Session id (a UUID)"), ("command" = SimpleCommand, Path)),
    responses(
        (status = 204, description = "Done; members get a `playback` event (a reshuffle: a `queue` event)"),
        (status = 400, description = "`spotify_not_found` and other refused requests", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `reauth_required`", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site, `forbidden`, `not_a_member`, `premium_required`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`not_started`, `session_ended`, `no_active_device`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the caller's `SESH_SPOTIFY_USER_RATE`, or Spotify asked to wait (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 502, description = "`spotify_error`: Spotify refused for another reason", body = ErrorBody),
        (status = 503, description = "`spotify_unavailable` (Spotify down or timing out) or `unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn player(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, SimpleCommand)>,
) -> Result<HttpResponse, ApiError> {
    let (id, command) = path.into_inner();
    run(&state, &user, &id, command.into()).await
}

/// `POST /api/sessions/{id}/player/seek` `{"position_ms"}` → 204.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/player/seek",
    tag = "player",
    summary = "Jump to a position in the current track",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    request_body(content = SeekBody, content_type = "application/json"),
    responses(
        (status = 204, description = "Done; members get a `playback` event with `seek` in its `changes`"),
        (status = 400, description = "`invalid_json`, `spotify_not_found`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `reauth_required`", body = ErrorBody),
        (status = 403, description = "`csrf`, `forbidden`, `not_a_member`, `premium_required`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`not_started`, `session_ended`, `no_active_device`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 502, description = "`spotify_error`", body = ErrorBody),
        (status = 503, description = "`spotify_unavailable` or `unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn seek(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: web::Json<SeekBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    run(&state, &user, &path, body.into()).await
}

/// `POST /api/sessions/{id}/player/volume` `{"percent"}` → 204.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/player/volume",
    tag = "player",
    summary = "Set the volume of the session's device (0–100)",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    request_body(content = VolumeBody, content_type = "application/json"),
    responses(
        (status = 204, description = "Done; members get a `playback` event with `volume` in its `changes`"),
        (status = 400, description = "`invalid_json` (e.g. a percent above 100), `spotify_not_found`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `reauth_required`", body = ErrorBody),
        (status = 403, description = "`volume_control_disallowed` (the device cannot change its volume), `csrf`, `forbidden`, `not_a_member`, `premium_required`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`not_started`, `session_ended`, `no_active_device`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 502, description = "`spotify_error`", body = ErrorBody),
        (status = 503, description = "`spotify_unavailable` or `unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn volume(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: web::Json<VolumeBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    run(&state, &user, &path, body.into()).await
}

/// `POST /api/sessions/{id}/player/repeat` `{"state": "off" | "track"}` → 204.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/player/repeat",
    tag = "player",
    summary = "Repeat the current track, or not",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    request_body(content = RepeatBody, content_type = "application/json"),
    responses(
        (status = 204, description = "Done; members get a `playback` event with `repeat` in its `changes`"),
        (status = 400, description = "`invalid_json`, `spotify_not_found`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `reauth_required`", body = ErrorBody),
        (status = 403, description = "`csrf`, `forbidden`, `not_a_member`, `premium_required`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`not_started`, `session_ended`, `no_active_device`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 502, description = "`spotify_error`", body = ErrorBody),
        (status = 503, description = "`spotify_unavailable` or `unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn repeat(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: web::Json<RepeatBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    run(&state, &user, &path, body.into()).await
}

/// `POST /api/sessions/{id}/player/transfer` `{"device_id", "play"}` (host) → 204.
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/player/transfer",
    tag = "player",
    summary = "Move playback to another of the host's devices (host)",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    request_body(content = TransferBody, content_type = "application/json"),
    responses(
        (status = 204, description = "Done; members get `device_changed` and a `playback` event with `device` in its `changes`"),
        (status = 400, description = "`invalid_json`, `spotify_not_found` (no such device)", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `reauth_required`", body = ErrorBody),
        (status = 403, description = "`csrf`, `forbidden`, `not_a_member`, `premium_required`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`not_started`, `session_ended`, `no_active_device`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 502, description = "`spotify_error`", body = ErrorBody),
        (status = 503, description = "`spotify_unavailable` or `unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn transfer(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: web::Json<TransferBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    run(&state, &user, &path, body.into()).await
}
