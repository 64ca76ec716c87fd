//! `GET /healthz`: 200 once the database answers.

use actix_web::{HttpResponse, web};

use crate::{
    app::AppState,
    error::{ApiError, ErrorBody},
};

/// `{"status": "ok"}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthView {
    /// Always `ok`.
    pub status: &'static str,
}

/// 200 `{"status":"ok"}`, or 503 when the database does not answer.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    summary = "Health check: the database answers",
    responses(
        (status = 200, body = HealthView),
        (status = 503, description = "`unavailable`: shutting down, or the database or the session's hub does not answer", body = ErrorBody),
    ),
)]
pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.core.db.ping().await.map_err(|e| {
        tracing::error!(error = %e, "health check: database does not answer");
        ApiError::unavailable("database unavailable")
    })?;
    Ok(HttpResponse::Ok().json(HealthView { status: "ok" }))
}
