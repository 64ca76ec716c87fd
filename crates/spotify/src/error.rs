//! Everything that can go wrong talking to Spotify, as one enum the gateway can map to
//! messages a user can act on, plus the two error bodies Spotify sends.

use std::time::Duration;

use serde::Deserialize;

/// A failed Spotify call.
///
/// The variants keep Spotify's `reason` where it tells the user what to do
/// (`NO_ACTIVE_DEVICE`, `PREMIUM_REQUIRED`); [`SpotifyError::code`] gives a stable string for
/// API answers. No variant ever carries a token.
#[derive(Debug, thiserror::Error)]
pub enum SpotifyError {
    /// 404 `NO_ACTIVE_DEVICE`: nothing is playing and no device was named; open Spotify on a
    /// device or pick one.
    #[error("no active Spotify device: {message}")]
    NoActiveDevice {
        /// Spotify's message.
        message: String,
    },
    /// 403 `PREMIUM_REQUIRED`: player commands need Spotify Premium.
    #[error("Spotify Premium required: {message}")]
    PremiumRequired {
        /// Spotify's message.
        message: String,
    },
    /// 429, or a request held back because an earlier 429 asked to wait. Try again after
    /// `retry_after`.
    #[error("rate limited by Spotify; retry after {retry_after:?}")]
    RateLimited {
        /// How long to wait before sending this request again.
        retry_after: Duration,
        /// Spotify said `QUOTA_EXCEEDED`: the app's quota is used up, not just a burst.
        quota_exceeded: bool,
    },
    /// The refresh token was rejected (`invalid_grant`: revoked, expired after six months) or
    /// there is none: the user must log in with Spotify again.
    #[error("Spotify authorization expired; the user must log in again")]
    ReauthRequired,
    /// Spotify still answered 401 after a fresh token.
    #[error("Spotify rejected the access token: {message}")]
    Unauthorized {
        /// Spotify's message.
        message: String,
    },
    /// 403 `Insufficient client scope`: the user has not granted a scope this call needs
    /// (e.g. [`PLAYLIST_MODIFY_PRIVATE`](crate::PLAYLIST_MODIFY_PRIVATE)); send them through
    /// [`SpotifyClient::authorize_url_with_scopes`](crate::SpotifyClient::authorize_url_with_scopes).
    #[error("the Spotify login lacks a scope this needs: {message}")]
    InsufficientScope {
        /// Spotify's message.
        message: String,
    },
    /// Refused before sending: more playlist items than Spotify takes in one call.
    #[error("{count} playlist items in one call; Spotify takes at most {max}")]
    TooManyPlaylistItems {
        /// How many were given.
        count: usize,
        /// The most one call may carry.
        max: usize,
    },
    /// 403 "User not registered in the Developer Dashboard": the app is in development mode
    /// and its owner has not allow-listed this user (Spotify's dashboard → User Management).
    /// The user logged in fine; every Web API call with their token is refused. Not a
    /// reason to log in again.
    #[error("the Spotify user is not on this app's allow-list: {message}")]
    NotRegistered {
        /// Spotify's message.
        message: String,
    },
    /// 403 for another reason.
    #[error("Spotify refused the request: {message}")]
    Forbidden {
        /// Spotify's message.
        message: String,
        /// Spotify's `reason`, if any.
        reason: Option<String>,
    },
    /// 404 for a missing resource (an unknown track id, for instance).
    #[error("not found on Spotify: {message}")]
    NotFound {
        /// Spotify's message.
        message: String,
    },
    /// 400: Spotify did not accept a parameter.
    #[error("Spotify rejected the request: {message}")]
    BadRequest {
        /// Spotify's message.
        message: String,
    },
    /// Any other 4xx from the Web API.
    #[error("Spotify answered {status}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Spotify's message.
        message: String,
        /// Spotify's `reason`, if any.
        reason: Option<String>,
    },
    /// The accounts service refused a code exchange or a refresh for a reason other than
    /// `invalid_grant` on refresh (e.g. `invalid_client`: wrong client id or secret; or an
    /// already used authorization code).
    #[error("Spotify accounts service refused: {error}")]
    OAuth {
        /// The RFC 6749 error code, e.g. `invalid_client`.
        error: String,
        /// Spotify's `error_description`.
        description: Option<String>,
    },
    /// 5xx, timeout or connection failure (after the retries allowed for GETs).
    #[error("Spotify is unavailable{}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Unavailable {
        /// The HTTP status when Spotify answered at all.
        status: Option<u16>,
        /// The transport error when it did not.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// Spotify answered 2xx with a body this client could not read.
    #[error("unexpected response from Spotify ({context})")]
    InvalidResponse {
        /// Which endpoint, and where in the body parsing stopped. Never the body itself,
        /// which may hold tokens.
        context: String,
    },
    /// The configuration cannot work (malformed URL, PKCE disabled without a secret, ...).
    #[error("invalid Spotify client configuration: {0}")]
    InvalidConfig(String),
}

impl SpotifyError {
    /// A stable, snake_case identifier for API error answers.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoActiveDevice { .. } => "no_active_device",
            Self::PremiumRequired { .. } => "premium_required",
            Self::RateLimited { .. } => "rate_limited",
            Self::ReauthRequired => "reauth_required",
            Self::Unauthorized { .. } => "spotify_unauthorized",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::TooManyPlaylistItems { .. } => "too_many_playlist_items",
            Self::NotRegistered { .. } => "not_registered",
            Self::Forbidden { .. } => "spotify_forbidden",
            Self::NotFound { .. } => "not_found",
            Self::BadRequest { .. } => "bad_request",
            Self::Api { .. } | Self::InvalidResponse { .. } => "spotify_error",
            Self::OAuth { .. } => "oauth_error",
            Self::Unavailable { .. } => "spotify_unavailable",
            Self::InvalidConfig(_) => "invalid_config",
        }
    }

    /// Spotify's `reason` string (`NO_ACTIVE_DEVICE`, `PREMIUM_REQUIRED`, `QUOTA_EXCEEDED`, ...)
    /// when the error carries one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::NoActiveDevice { .. } => Some(REASON_NO_ACTIVE_DEVICE),
            Self::PremiumRequired { .. } => Some(REASON_PREMIUM_REQUIRED),
            Self::RateLimited {
                quota_exceeded: true,
                ..
            } => Some(REASON_QUOTA_EXCEEDED),
            Self::Forbidden { reason, .. } | Self::Api { reason, .. } => reason.as_deref(),
            _ => None,
        }
    }

    /// The same failure for a second caller, when several waited on one call (a cache's
    /// coalesced load): every variant and field, except the transport error of
    /// [`SpotifyError::Unavailable`], which cannot be copied (the caller that made the call
    /// holds it, for the log).
    pub fn duplicate(&self) -> Self {
        match self {
            Self::NoActiveDevice { message } => Self::NoActiveDevice {
                message: message.clone(),
            },
            Self::PremiumRequired { message } => Self::PremiumRequired {
                message: message.clone(),
            },
            Self::RateLimited {
                retry_after,
                quota_exceeded,
            } => Self::RateLimited {
                retry_after: *retry_after,
                quota_exceeded: *quota_exceeded,
            },
            Self::ReauthRequired => Self::ReauthRequired,
            Self::Unauthorized { message } => Self::Unauthorized {
                message: message.clone(),
            },
            Self::InsufficientScope { message } => Self::InsufficientScope {
                message: message.clone(),
            },
            Self::TooManyPlaylistItems { count, max } => Self::TooManyPlaylistItems {
                count: *count,
                max: *max,
            },
            Self::NotRegistered { message } => Self::NotRegistered {
                message: message.clone(),
            },
            Self::Forbidden { message, reason } => Self::Forbidden {
                message: message.clone(),
                reason: reason.clone(),
            },
            Self::NotFound { message } => Self::NotFound {
                message: message.clone(),
            },
            Self::BadRequest { message } => Self::BadRequest {
                message: message.clone(),
            },
            Self::Api {
                status,
                message,
                reason,
            } => Self::Api {
                status: *status,
                message: message.clone(),
                reason: reason.clone(),
            },
            Self::OAuth { error, description } => Self::OAuth {
                error: error.clone(),
                description: description.clone(),
            },
            Self::Unavailable { status, .. } => Self::Unavailable {
                status: *status,
                source: None,
            },
            Self::InvalidResponse { context } => Self::InvalidResponse {
                context: context.clone(),
            },
            Self::InvalidConfig(message) => Self::InvalidConfig(message.clone()),
        }
    }

    /// Maps a non-2xx Web API answer (other than 401 and 429, which the request loop handles)
    /// to its variant.
    pub(crate) fn from_api_status(status: u16, body: &[u8]) -> Self {
        let (message, reason) = match serde_json::from_slice::<ApiErrorBody>(body) {
            Ok(parsed) => (parsed.error.message, parsed.error.reason),
            Err(_) => (format!("HTTP {status}"), None),
        };
        match (status, reason.as_deref()) {
            (_, Some(REASON_NO_ACTIVE_DEVICE)) => Self::NoActiveDevice { message },
            (_, Some(REASON_PREMIUM_REQUIRED)) => Self::PremiumRequired { message },
            (400, _) => Self::BadRequest { message },
            (401, _) => Self::Unauthorized { message },
            (403, None) if message == INSUFFICIENT_SCOPE => Self::InsufficientScope { message },
            (403, None) if is_not_registered(&message) => Self::NotRegistered { message },
            (403, _) => Self::Forbidden { message, reason },
            (404, _) => Self::NotFound { message },
            (500..=599, _) => Self::Unavailable {
                status: Some(status),
                source: None,
            },
            _ => Self::Api {
                status,
                message,
                reason,
            },
        }
    }
}

pub(crate) const REASON_NO_ACTIVE_DEVICE: &str = "NO_ACTIVE_DEVICE";
/// Spotify's message (there is no `reason`) for a token without the scope a call needs.
const INSUFFICIENT_SCOPE: &str = "Insufficient client scope";
pub(crate) const REASON_PREMIUM_REQUIRED: &str = "PREMIUM_REQUIRED";

/// Whether a 403's message is development mode's refusal of a user the app has not
/// allow-listed. Spotify has worded it "User not registered in the Developer Dashboard" and
/// "Check settings on developer.spotify.com/dashboard, the user may not be registered.";
/// no other 403 speaks of registration.
fn is_not_registered(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("not registered") || message.contains("not be registered")
}
pub(crate) const REASON_QUOTA_EXCEEDED: &str = "QUOTA_EXCEEDED";

/// The Web API's error body: `{"error": {"status", "message", "reason"?}}`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ApiErrorBody {
    /// The wrapped error object.
    pub error: ApiErrorObject,
}

/// Spotify's `ErrorObject`, with the `reason` the player endpoints add.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ApiErrorObject {
    /// HTTP status, repeated.
    pub status: u16,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// Machine-readable reason, e.g. `NO_ACTIVE_DEVICE`.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The accounts service's RFC 6749 error body: `{"error": "invalid_grant", "error_description"}`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct AccountsErrorBody {
    /// The RFC 6749 error code.
    pub error: String,
    /// Spotify's explanation.
    #[serde(default)]
    pub error_description: Option<String>,
}

/// Whether a 429 body says the app's quota is exhausted rather than a burst being too fast.
pub(crate) fn is_quota_exceeded(body: &[u8]) -> bool {
    serde_json::from_slice::<ApiErrorBody>(body)
        .ok()
        .and_then(|b| b.error.reason)
        .is_some_and(|r| r == REASON_QUOTA_EXCEEDED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_map_to_variants() {
        let no_device = br#"{"error": {"status": 404, "message": "Player command failed: No active device found", "reason": "NO_ACTIVE_DEVICE"}}"#;
        let err = SpotifyError::from_api_status(404, no_device);
        assert!(
            matches!(err, SpotifyError::NoActiveDevice { .. }),
            "{err:?}"
        );
        assert_eq!(err.code(), "no_active_device");
        assert_eq!(err.reason(), Some("NO_ACTIVE_DEVICE"));

        let premium = br#"{"error": {"status": 403, "message": "Premium required", "reason": "PREMIUM_REQUIRED"}}"#;
        let err = SpotifyError::from_api_status(403, premium);
        assert!(
            matches!(err, SpotifyError::PremiumRequired { .. }),
            "{err:?}"
        );
        assert_eq!(err.code(), "premium_required");
    }

    #[test]
    fn a_duplicate_says_what_the_original_says() {
        let forbidden =
            br#"{"error": {"status": 403, "message": "User not registered", "reason": "UNKNOWN"}}"#;
        for original in [
            SpotifyError::from_api_status(403, forbidden),
            SpotifyError::from_api_status(400, b"not json"),
            SpotifyError::from_api_status(503, b""),
            SpotifyError::RateLimited {
                retry_after: std::time::Duration::from_secs(7),
                quota_exceeded: true,
            },
            SpotifyError::ReauthRequired,
            SpotifyError::TooManyPlaylistItems {
                count: 101,
                max: 100,
            },
        ] {
            let copy = original.duplicate();
            assert_eq!(copy.code(), original.code());
            assert_eq!(copy.reason(), original.reason());
            assert_eq!(copy.to_string(), original.to_string());
            assert_eq!(format!("{copy:?}"), format!("{original:?}"));
        }
    }

    #[test]
    fn plain_statuses_map_to_variants() {
        let body = br#"{"error": {"status": 404, "message": "Non existing id"}}"#;
        assert_eq!(SpotifyError::from_api_status(404, body).code(), "not_found");
        let body =
            br#"{"error": {"status": 403, "message": "User not registered", "reason": "UNKNOWN"}}"#;
        let err = SpotifyError::from_api_status(403, body);
        assert_eq!(err.code(), "spotify_forbidden");
        assert_eq!(err.reason(), Some("UNKNOWN"));
        assert_eq!(
            SpotifyError::from_api_status(400, b"not json").code(),
            "bad_request"
        );
        assert_eq!(
            SpotifyError::from_api_status(503, b"").code(),
            "spotify_unavailable"
        );
        assert_eq!(
            SpotifyError::from_api_status(418, b"{}").code(),
            "spotify_error"
        );
    }

    #[test]
    fn a_missing_scope_is_its_own_error() {
        let body = br#"{"error": {"status": 403, "message": "Insufficient client scope"}}"#;
        let err = SpotifyError::from_api_status(403, body);
        assert!(
            matches!(err, SpotifyError::InsufficientScope { .. }),
            "{err:?}"
        );
        assert_eq!(err.code(), "insufficient_scope");
        assert_eq!(err.duplicate().code(), "insufficient_scope");
        let other = br#"{"error": {"status": 403, "message": "Forbidden"}}"#;
        assert_eq!(
            SpotifyError::from_api_status(403, other).code(),
            "spotify_forbidden"
        );
    }

    #[test]
    fn a_user_outside_the_allow_list_is_its_own_error() {
        for body in [
            &br#"{"error": {"status": 403, "message": "User not registered in the Developer Dashboard"}}"#[..],
            br#"{"error": {"status": 403, "message": "Check settings on developer.spotify.com/dashboard, the user may not be registered."}}"#,
        ] {
            let err = SpotifyError::from_api_status(403, body);
            assert!(matches!(err, SpotifyError::NotRegistered { .. }), "{err:?}");
            assert_eq!(err.code(), "not_registered");
            assert_eq!(err.duplicate().code(), "not_registered");
        }
        let premium = br#"{"error": {"status": 403, "message": "Player command failed: Premium required", "reason": "PREMIUM_REQUIRED"}}"#;
        assert_eq!(
            SpotifyError::from_api_status(403, premium).code(),
            "premium_required"
        );
        let expired = br#"{"error": {"status": 401, "message": "The access token expired"}}"#;
        assert_eq!(
            SpotifyError::from_api_status(401, expired).code(),
            "spotify_unauthorized"
        );
    }

    #[test]
    fn quota_reason_is_detected() {
        assert!(is_quota_exceeded(
            br#"{"error": {"status": 429, "message": "quota", "reason": "QUOTA_EXCEEDED"}}"#
        ));
        assert!(!is_quota_exceeded(
            br#"{"error": {"status": 429, "message": "API rate limit exceeded"}}"#
        ));
        assert!(!is_quota_exceeded(b""));
    }
}
