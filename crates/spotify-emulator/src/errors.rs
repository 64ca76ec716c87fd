//! Error answers exactly as Spotify shapes them: `{"error": {"status", "message"[, "reason"]}}`
//! for the Web API and RFC 6749 `{"error", "error_description"}` for the accounts service.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// The `reason`s Spotify's player errors use (plus `QUOTA_EXCEEDED` for 429).
pub(crate) const REASONS: &[&str] = &[
    "QUOTA_EXCEEDED",
    "NO_ACTIVE_DEVICE",
    "PREMIUM_REQUIRED",
    "NO_PREV_TRACK",
    "NO_NEXT_TRACK",
    "NO_SPECIFIC_TRACK",
    "ALREADY_PAUSED",
    "NOT_PAUSED",
    "NOT_PLAYING_LOCALLY",
    "NOT_PLAYING_TRACK",
    "NOT_PLAYING_CONTEXT",
    "ENDLESS_CONTEXT",
    "CONTEXT_DISALLOW",
    "ALREADY_PLAYING",
    "RATE_LIMITED",
    "REMOTE_CONTROL_DISALLOW",
    "DEVICE_NOT_CONTROLLABLE",
    "VOLUME_CONTROL_DISALLOW",
    "UNKNOWN",
];

/// The static spelling of a known `reason`.
pub(crate) fn known_reason(reason: &str) -> Option<&'static str> {
    REASONS.iter().find(|r| **r == reason).copied()
}

/// A Web API error answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status}: {message}")]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Player errors carry a reason such as `NO_ACTIVE_DEVICE`.
    pub reason: Option<&'static str>,
    /// Seconds for `Retry-After` (429 and 503 answers).
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorObject<'a>,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    status: u16,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            reason: None,
            retry_after: None,
        }
    }

    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// The answer for a path Spotify does not serve.
    pub fn service_not_found() -> Self {
        Self::not_found("Service not found")
    }

    pub fn no_token() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "No token provided")
    }

    pub fn invalid_token() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Invalid access token")
    }

    pub fn expired_token() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "The access token expired")
    }

    pub fn insufficient_scope() -> Self {
        Self::new(StatusCode::FORBIDDEN, "Insufficient client scope")
    }

    /// Spotify's answer to a user an app in development mode has not allow-listed (every Web
    /// API call; the accounts service lets them log in).
    pub fn user_not_registered() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "User not registered in the Developer Dashboard",
        )
    }

    pub fn premium_required() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Player command failed: Premium required",
        )
        .with_reason("PREMIUM_REQUIRED")
    }

    pub fn no_active_device() -> Self {
        Self::not_found("Player command failed: No active device found")
            .with_reason("NO_ACTIVE_DEVICE")
    }

    pub fn device_not_found() -> Self {
        Self::not_found("Device not found")
    }

    pub fn device_not_controllable() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Player command failed: Device is not controllable",
        )
        .with_reason("DEVICE_NOT_CONTROLLABLE")
    }

    /// Spotify's answer for a device with `supports_volume: false`.
    pub fn volume_control_disallowed() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Player command failed: Cannot control device volume",
        )
        .with_reason("VOLUME_CONTROL_DISALLOW")
    }

    pub fn restriction_violated() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Player command failed: Restriction violated",
        )
        .with_reason("UNKNOWN")
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded");
        error.retry_after = Some(retry_after);
        error
    }

    /// The JSON body, also used for injected faults.
    pub fn body(&self) -> String {
        let body = ErrorBody {
            error: ErrorObject {
                status: self.status.as_u16(),
                message: &self.message,
                reason: self.reason,
            },
        };
        serde_json::to_string(&body).unwrap_or_default()
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.content_type("application/json; charset=utf-8");
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"spotify\""),
            ));
        }
        response.body(self.body())
    }
}

/// An accounts-service (`/api/token`) error, RFC 6749 section 5.2.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error}: {description}")]
pub(crate) struct AccountsError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl AccountsError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
        }
    }

    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new("invalid_client", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    pub fn body(&self) -> String {
        serde_json::json!({ "error": self.error, "error_description": self.description })
            .to_string()
    }
}

impl ResponseError for AccountsError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            .content_type("application/json")
            .body(self.body())
    }
}
