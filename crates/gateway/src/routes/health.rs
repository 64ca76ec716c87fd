//! `GET /healthz`: 200 once the database answers.

use actix_web::{HttpResponse, web};

use crate::{error::ApiError, state::AppState};

/// 200 `{"status":"ok"}`, or 503 when the database does not answer.
pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.core.db.ping().await.map_err(|e| {
        tracing::error!(error = %e, "health check: database does not answer");
        ApiError::unavailable("database unavailable")
    })?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ok"})))
}
