//! The recap (issue 19): `GET /api/sessions/{id}/recap` (JSON), its download
//! `GET /s/{id}/recap.json`, and the page `GET /s/{id}/recap` (in `pages`). Members only, live
//! while the session plays and final once it ended; made from the database and the hub's
//! memory, never a Spotify call.

use actix_web::{HttpResponse, http::header, web};

use super::{api::NO_STORE, parse_session_id};
use crate::{
    app::AppState,
    error::{ApiError, ErrorBody},
    request::CurrentUser,
    wire::recap::RecapView,
};

/// `GET /api/sessions/{id}/recap` → 200 the recap (members only).
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    get,
    path = "/api/sessions/{id}/recap",
    tag = "sessions",
    operation_id = "session_recap",
    summary = "What the session played, who brought it, votes and skips (members only)",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    responses(
        (status = 200, description = "`Cache-Control: no-store`; `session.final` once the session ended", body = RecapView),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn recap(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = build(&state, &user, &path).await?;
    Ok(HttpResponse::Ok().insert_header(NO_STORE).json(view))
}

/// `GET /s/{id}/recap.json` → the recap as a file to keep (members only).
#[tracing::instrument(skip_all, fields(user = %user.id))]
#[utoipa::path(
    get,
    path = "/s/{id}/recap.json",
    tag = "sessions",
    operation_id = "session_recap_download",
    summary = "The recap as a JSON file to download (members only)",
    params(("id" = String, Path, description = "Session id (a UUID)")),
    responses(
        (status = 200, description = "`Content-Disposition: attachment`", body = RecapView),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`not_a_member`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `not_found`", body = ErrorBody),
        (status = 500, description = "`internal`", body = ErrorBody),
        (status = 503, description = "`unavailable`; `session_elsewhere`: another instance runs the session (several instances on PostgreSQL; retry after `Retry-After`)", body = ErrorBody),
    ),
    security(("login_cookie" = [])),
)]
pub async fn download(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = build(&state, &user, &path).await?;
    let body = serde_json::to_vec_pretty(&view).map_err(|e| ApiError::Internal(e.into()))?;
    // The name is ours (a UUID), never the session's name: nothing to escape.
    Ok(HttpResponse::Ok()
        .insert_header(NO_STORE)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"sesh-recap-{}.json\"",
                view.session.id
            ),
        ))
        .content_type("application/json")
        .body(body))
}

async fn build(state: &AppState, user: &CurrentUser, path: &str) -> Result<RecapView, ApiError> {
    crate::recap::load(&state.core, &state.hubs, &user.id, parse_session_id(path)?).await
}
