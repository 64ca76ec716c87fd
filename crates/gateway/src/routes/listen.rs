//! Listening along over HTTP: `POST /api/sessions/{id}/listen` `{"device_id"}` (opt in: the
//! member's own device follows the session) and `DELETE /api/sessions/{id}/listen` (opt out;
//! their player is left as it is). Each route is a few lines over a use case of the session's
//! [`crate::hub::HubHandle`]; the decisions are in `hub/listening.rs`.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{parse_device_id, parse_session_id};
use crate::{
    app::AppState, error::ApiError, error::ErrorBody, request::CurrentUser, wire::ListeningState,
};

/// Body of `POST /api/sessions/{id}/listen`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListenBody {
    /// One of the caller's own devices (`GET /api/me/devices`).
    device_id: String,
}

/// `POST /api/sessions/{id}/listen`: where the caller stands now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Listening {
    /// `in_sync`.
    pub listening: ListeningState,
}

/// `POST /api/sessions/{id}/listen` `{"device_id"}` (a member, not the host) → 200
/// `{"listening": "in_sync"}`.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/listen",
    tag = "sessions",
    summary = "Listen along on one of your own devices (a member, not the host)",
    description = "Plays the session's track from the host's position on the device (or pauses it while nothing plays), then keeps it in step: each track change, seek, pause and resume follows. Playing something else yourself detaches you; post again to rejoin.",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    request_body(content = ListenBody, content_type = "application/json"),
    responses(
        (status = 200, body = Listening),
        (status = 400, description = "`invalid_device`, `invalid_json`, `spotify_not_found` (no such device of yours)", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `reauth_required`", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site, `forbidden` (the host: the session plays on their device), `spectator` (no Spotify account to listen with), `not_a_member`, `premium_required` (Spotify plays on a device only for Premium; nothing is stored), `spotify_error` (the device refuses control)", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`, `no_active_device`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the caller's `SESH_SPOTIFY_USER_RATE`, or Spotify asked to wait (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 502, description = "`spotify_error`: Spotify refused for another reason", body = ErrorBody),
        (status = 503, description = "`spotify_unavailable` (Spotify down or timing out) or `unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn listen(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: web::Json<ListenBody>,
) -> Result<HttpResponse, ApiError> {
    user.require_spotify()?;
    let id = parse_session_id(&path)?;
    let device = parse_device_id(&body.device_id)?;
    let listening = state.hubs.session(id).listen(&user.id, device).await?;
    Ok(HttpResponse::Ok().json(Listening { listening }))
}

/// `DELETE /api/sessions/{id}/listen` → 204 (also when not listening along).
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    delete,
    path = "/api/sessions/{id}/listen",
    tag = "sessions",
    summary = "Stop listening along (your device is left as it is)",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    responses(
        (status = 204, description = "Not listening along (any more)"),
        (status = 401, description = "`unauthenticated`: no valid login cookie", body = ErrorBody),
        (status = 403, description = "`csrf`: no `Origin`/`Referer` of this site, `not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 409, description = "`session_ended`", body = ErrorBody),
        (status = 500, description = "`internal`: a bug; the cause is in the server log", body = ErrorBody),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn unlisten(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&path)?;
    state.hubs.session(id).unlisten(&user.id).await?;
    Ok(HttpResponse::NoContent().finish())
}
