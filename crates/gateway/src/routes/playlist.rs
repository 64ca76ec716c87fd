//! `POST /api/sessions/{id}/playlist`: a member saves what the session played as a private
//! playlist in their own Spotify account ([`crate::playlists`] does the work).

use actix_web::{HttpResponse, web};

use super::parse_session_id;
use crate::{
    app::AppState,
    error::{ApiError, ErrorBody},
    playlists::SaveAnswer,
    request::CurrentUser,
};

/// `POST /api/sessions/{id}/playlist` (a member) → 200 `{"playlist_id", "url", "added", "total"}`.
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    post,
    path = "/api/sessions/{id}/playlist",
    tag = "sessions",
    operation_id = "save_session_playlist",
    summary = "Save what the session played as a private playlist in the caller's Spotify",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    responses(
        (status = 200, body = SaveAnswer, description = "Saved (again: only what played since)"),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`csrf`, `not_a_member`, `consent_required` (log in with `/auth/login?consent=playlist` to allow Sesh to create playlists), `reauth_required`", body = ErrorBody),
        (status = 404, description = "`session_not_found`", body = ErrorBody),
        (status = 409, description = "`nothing_played`, `save_in_progress`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the caller's Spotify-reaching requests, or Spotify asked to wait longer than 30 s (saving again resumes)", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 502, description = "`spotify_error`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn save(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require_spotify()?;
    let id = parse_session_id(&path)?;
    let answer = crate::playlists::save(
        &state.core,
        &state.hubs,
        &state.playlist_saves,
        &user.id,
        id,
    )
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}
