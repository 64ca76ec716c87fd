//! The one error type of the HTTP API: a status, a stable `code` and a message users can act on,
//! answered as `{"error": {"code", "message"}}`; causes go to the log, never to the client.

use std::time::Duration;

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use serde::Serialize;
use sesh_session::SessionError;
use sesh_spotify::SpotifyError;

use crate::{
    accounts::{AccountError, CallError},
    hub::HubError,
    limits::LimitExceeded,
};

/// An error answered by the HTTP API (and, with the same `code`, as a WebSocket `error` frame).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A client mistake or a refusal with a fixed status.
    #[error("{message}")]
    Client {
        /// HTTP status.
        status: StatusCode,
        /// Stable machine-readable code.
        code: &'static str,
        /// What the user can do about it.
        message: String,
    },
    /// One of Sesh's own rate limits refused the request (429 with `Retry-After`).
    #[error("{message}")]
    RateLimited {
        /// What was limited.
        message: String,
        /// How long until a retry can succeed.
        retry_after: Duration,
    },
    /// Another instance runs the session (several instances on PostgreSQL): 503
    /// `session_elsewhere` with `Retry-After`, by when its lease expires or moves.
    #[error("another instance runs this session; try again shortly")]
    Elsewhere {
        /// How long until a retry may land on the session's instance.
        retry_after: Duration,
    },
    /// A route bound to a session by an invite code or a display key reached an instance
    /// that does not run the session (several instances on PostgreSQL): 307 to the route's
    /// id-bearing alias, which Nginx sends to the session's instance (`docs/cluster.md`).
    #[error("this session is served at another address: follow Location")]
    Moved {
        /// The alias (a path with the session id, the code or key, and the query).
        location: String,
    },
    /// A rule of the session refused the action.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// Spotify refused or failed.
    #[error(transparent)]
    Spotify(#[from] SpotifyError),
    /// Anything else: logged with its cause chain, answered as a bare 500.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// A 4xx/5xx with a code and message.
    pub fn client(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Client {
            status,
            code,
            message: message.into(),
        }
    }

    /// 401: no valid login.
    pub fn unauthenticated() -> Self {
        Self::client(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "log in with Spotify first",
        )
    }

    /// 403 with the `forbidden` code.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::client(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 with a specific code.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::NOT_FOUND, code, message)
    }

    /// 400 with a specific code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, code, message)
    }

    /// 503: the server is shutting down or overloaded.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::client(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 429 `rate_limited`: one of Sesh's own limits; retry after `retry_after`.
    pub fn rate_limited(message: impl Into<String>, retry_after: Duration) -> Self {
        Self::RateLimited {
            message: message.into(),
            retry_after,
        }
    }

    /// 413 `body_too_large`.
    pub fn body_too_large(limit: usize) -> Self {
        Self::client(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request bodies are limited to {} KiB", limit / 1024),
        )
    }

    /// Wraps an unexpected failure.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    /// The stable code sent to clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Client { code, .. } => code,
            Self::RateLimited { .. } => "rate_limited",
            Self::Elsewhere { .. } => "session_elsewhere",
            Self::Moved { .. } => "session_moved",
            Self::Session(e) => e.code(),
            Self::Spotify(e) => spotify_code(e),
            Self::Internal(_) => "internal",
        }
    }

    /// The message sent to clients (never a cause that may hold secrets or internals).
    pub fn message(&self) -> String {
        match self {
            Self::Client { message, .. } | Self::RateLimited { message, .. } => message.clone(),
            Self::Elsewhere { .. } | Self::Moved { .. } => self.to_string(),
            Self::Session(e) => e.to_string(),
            Self::Spotify(e) => spotify_message(e),
            Self::Internal(_) => "something went wrong on our side; please try again".to_owned(),
        }
    }

    /// For `rate_limited`: how long to wait.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Spotify(SpotifyError::RateLimited { retry_after, .. })
            | Self::RateLimited { retry_after, .. }
            | Self::Elsewhere { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// The JSON body, also used for WebSocket `error` frames.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorObject {
                code: self.code(),
                message: self.message(),
                retry_after_s: self.retry_after().map(retry_after_secs),
                permission: match self {
                    Self::Session(SessionError::Forbidden {
                        permission: Some(permission),
                        ..
                    }) => Some(permission.control_name()),
                    _ => None,
                },
            },
        }
    }
}

/// Codes the API promises for Spotify failures; the rest collapse into a few generic ones.
fn spotify_code(e: &SpotifyError) -> &'static str {
    match e {
        SpotifyError::Forbidden { reason, .. } if is_volume_refusal(reason.as_deref()) => {
            "volume_control_disallowed"
        }
        SpotifyError::NoActiveDevice { .. } => "no_active_device",
        SpotifyError::PremiumRequired { .. } => "premium_required",
        SpotifyError::RateLimited { .. } => "rate_limited",
        SpotifyError::ReauthRequired | SpotifyError::Unauthorized { .. } => "reauth_required",
        SpotifyError::Unavailable { .. } => "spotify_unavailable",
        SpotifyError::NotFound { .. } => "spotify_not_found",
        SpotifyError::InsufficientScope { .. } => "consent_required",
        SpotifyError::NotRegistered { .. } => "not_registered",
        _ => "spotify_error",
    }
}

/// Spotify's `reason` for a volume command on a device whose volume is fixed.
fn is_volume_refusal(reason: Option<&str>) -> bool {
    reason == Some("VOLUME_CONTROL_DISALLOW")
}

fn spotify_message(e: &SpotifyError) -> String {
    match e {
        SpotifyError::Forbidden { reason, .. } if is_volume_refusal(reason.as_deref()) => {
            "this device's volume cannot be changed remotely; use the device itself".into()
        }
        SpotifyError::NoActiveDevice { .. } => {
            "no active Spotify device: open Spotify on a phone or computer, or pick a device".into()
        }
        SpotifyError::PremiumRequired { .. } => {
            "playback control needs Spotify Premium on the host's account".into()
        }
        SpotifyError::RateLimited { retry_after, .. } => format!(
            "Spotify is busy, retrying in {} s",
            retry_after.as_secs_f64().ceil() as u64
        ),
        SpotifyError::ReauthRequired | SpotifyError::Unauthorized { .. } => {
            "your Spotify login expired: log in again".into()
        }
        SpotifyError::Unavailable { .. } => "Spotify is unavailable right now; try again".into(),
        // Spotify's own wording stays in the log: it is not written for our users, and it may
        // name internals of the host's account or device.
        SpotifyError::Forbidden { .. } => {
            "Spotify refused this on the host's account or device".into()
        }
        SpotifyError::NotFound { .. } => "Spotify does not know that device or item".into(),
        SpotifyError::BadRequest { .. } => "Spotify refused the request".into(),
        SpotifyError::InsufficientScope { .. } => {
            "your Spotify login does not allow this yet: log in once more to give Sesh the permission".into()
        }
        SpotifyError::NotRegistered { .. } => NOT_REGISTERED_MESSAGE.into(),
        _ => "Spotify answered with an error; try again".into(),
    }
}

/// What a user outside the app's allow-list is told (`not_registered`).
pub const NOT_REGISTERED_MESSAGE: &str = "this Sesh's Spotify app is in development mode and your Spotify account is not on its list of users: the operator adds you in Spotify's developer dashboard (User Management), or you join as a spectator";

/// `{"error": {...}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorObject,
}

/// `{"code", "message", "retry_after_s"?, "permission"?}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorObject {
    /// Stable machine-readable code.
    #[schema(value_type = String)]
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// Seconds to wait before retrying (`rate_limited` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
    /// `forbidden` only: the guest control (a key of `settings.permissions`, e.g. `pause`)
    /// the host would have to turn on, when one would allow it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub permission: Option<&'static str>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Client { status, .. } => *status,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Elsewhere { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Moved { .. } => StatusCode::TEMPORARY_REDIRECT,
            Self::Session(e) => session_status(e),
            Self::Spotify(e) => match e {
                SpotifyError::NoActiveDevice { .. } => StatusCode::CONFLICT,
                SpotifyError::PremiumRequired { .. }
                | SpotifyError::NotRegistered { .. }
                | SpotifyError::Forbidden { .. }
                | SpotifyError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
                SpotifyError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                SpotifyError::ReauthRequired | SpotifyError::Unauthorized { .. } => {
                    StatusCode::UNAUTHORIZED
                }
                SpotifyError::NotFound { .. } | SpotifyError::BadRequest { .. } => {
                    StatusCode::BAD_REQUEST
                }
                SpotifyError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_GATEWAY,
            },
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = ?anyhow_chain(self), code = self.code(), "request failed");
        } else {
            tracing::debug!(error = %self, code = self.code(), "request refused");
        }
        let mut response = HttpResponse::build(status);
        if let Some(retry) = self.retry_after() {
            response.insert_header(("Retry-After", retry_after_secs(retry).to_string()));
        }
        if let Self::Moved { location } = self {
            // It names an invite code or a display key: nothing may keep it.
            response.insert_header((actix_web::http::header::LOCATION, location.as_str()));
            response.insert_header(("Cache-Control", "no-store"));
        }
        response.json(self.body())
    }
}

/// The status of a session rule's refusal, by variant (a new variant does not compile until
/// it has one).
fn session_status(e: &SessionError) -> StatusCode {
    match e {
        SessionError::Forbidden { .. }
        | SessionError::NotAMember { .. }
        | SessionError::Banned { .. }
        | SessionError::Muted => StatusCode::FORBIDDEN,
        SessionError::InvalidTarget { .. } | SessionError::InvalidPosition { .. } => {
            StatusCode::BAD_REQUEST
        }
        SessionError::EntryNotFound { .. }
        | SessionError::DisplayNotFound
        | SessionError::MessageNotFound { .. } => StatusCode::NOT_FOUND,
        SessionError::AddingLocked | SessionError::TrackBanned => StatusCode::FORBIDDEN,
        SessionError::TrackTooLong { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        SessionError::InvalidSettings { .. } => StatusCode::BAD_REQUEST,
        SessionError::AlreadyQueued { .. }
        | SessionError::RecentlyPlayed { .. }
        | SessionError::MemberQueueFull { .. }
        | SessionError::EntryPinned { .. }
        | SessionError::NothingPlaying
        | SessionError::TooManyDisplays { .. } => StatusCode::CONFLICT,
        SessionError::SessionFull { .. }
        | SessionError::SessionEnded
        | SessionError::NoTracks
        | SessionError::AlreadyStarted
        | SessionError::NotStarted => StatusCode::CONFLICT,
    }
}

impl From<LimitExceeded> for ApiError {
    fn from(e: LimitExceeded) -> Self {
        Self::RateLimited {
            message: e.message.into_owned(),
            retry_after: e.retry_after,
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::ReauthRequired => Self::Spotify(SpotifyError::ReauthRequired),
            AccountError::Storage(e) => e.into(),
        }
    }
}

impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Spotify(e) => Self::Spotify(e),
            CallError::Storage(e) => e.into(),
        }
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        match e {
            HubError::NotFound => Self::not_found("session_not_found", "no such session"),
            HubError::Session(e) => Self::Session(e),
            HubError::Spotify(e) => Self::Spotify(e),
            HubError::Limited(e) => e.into(),
            HubError::HandOverInProgress => Self::client(
                StatusCode::CONFLICT,
                "handover_in_progress",
                "the session is being handed over; wait for it",
            ),
            HubError::DeviceRequired => Self::client(
                StatusCode::BAD_REQUEST,
                "device_required",
                "choose one of your devices to play the session on (device_id)",
            ),
            HubError::StartInProgress => Self::client(
                StatusCode::CONFLICT,
                "start_in_progress",
                "the session is starting; wait for it",
            ),
            HubError::DisplaysFull { max } => Self::client(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_displays",
                format!("this session has {max} displays open, the most it may have"),
            ),
            HubError::Restarting => Self::unavailable("the session is restarting; try again"),
            HubError::Elsewhere { retry_after } => Self::Elsewhere { retry_after },
            HubError::Storage(e) => e.into(),
            HubError::Internal(e) => Self::Internal(e),
        }
    }
}

/// Whole seconds to wait, rounded up and at least 1 (`Retry-After: 0` would invite a hot loop).
fn retry_after_secs(retry: Duration) -> u64 {
    (retry.as_secs_f64().ceil() as u64).max(1)
}

/// The error and its sources on one line, for the log.
fn anyhow_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            // Another instance took the session over: the client retries there.
            crate::db::DbError::Fenced => Self::Elsewhere {
                retry_after: Duration::from_secs(1),
            },
            e => Self::Internal(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spotifys_own_error_text_never_reaches_clients() {
        let secret = "Player command failed: device 4f2a… internal id 0xdeadbeef";
        for error in [
            SpotifyError::Forbidden {
                message: secret.into(),
                reason: Some("UNKNOWN".into()),
            },
            SpotifyError::NotFound {
                message: secret.into(),
            },
            SpotifyError::BadRequest {
                message: secret.into(),
            },
            SpotifyError::Api {
                status: 418,
                message: secret.into(),
                reason: None,
            },
            SpotifyError::InvalidConfig(secret.into()),
        ] {
            let body = ApiError::Spotify(error).body();
            assert!(
                !body.error.message.contains("0xdeadbeef"),
                "{}",
                body.error.message
            );
            assert!(!body.error.message.is_empty());
        }
    }
}
