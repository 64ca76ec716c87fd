//! What a [`SpotifyClient`](crate::SpotifyClient) needs to know: the registered app, where
//! Spotify lives, and how patient to be.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::error::SpotifyError;

/// The real accounts service; `/authorize` and `/api/token` hang off it.
pub const DEFAULT_ACCOUNTS_URL: &str = "https://accounts.spotify.com";
/// The real Web API; the client appends `/v1/...`.
pub const DEFAULT_API_URL: &str = "https://api.spotify.com";

/// The scopes Sesh asks for at login: reading top tracks and player state, and controlling
/// playback. [`PLAYLIST_MODIFY_PRIVATE`] is asked for later, only when a member first saves a
/// session (see [`SpotifyClient::authorize_url_with_scopes`](crate::SpotifyClient::authorize_url_with_scopes)).
pub const SCOPES: &[&str] = &[
    "user-top-read",
    "user-read-playback-state",
    "user-modify-playback-state",
    "user-read-currently-playing",
];

/// The scope that creating a private playlist and adding items to it need
/// ([`SpotifyClient::create_playlist`](crate::SpotifyClient::create_playlist),
/// [`SpotifyClient::add_playlist_items`](crate::SpotifyClient::add_playlist_items)).
pub const PLAYLIST_MODIFY_PRIVATE: &str = "playlist-modify-private";

/// The scope that changing a public playlist needs.
pub const PLAYLIST_MODIFY_PUBLIC: &str = "playlist-modify-public";

/// The registered Spotify app and the base URLs of the accounts service and the Web API.
///
/// `Debug` is safe to log: the client secret prints as `[REDACTED]`.
#[derive(Clone, Debug)]
pub struct SpotifyConfig {
    /// The app's client id from the Spotify developer dashboard.
    pub client_id: String,
    /// Confidential apps authenticate the token call with HTTP Basic; `None` means a public
    /// client that relies on PKCE alone.
    pub client_secret: Option<SecretString>,
    /// Must match one of the app's registered redirect URIs exactly.
    pub redirect_uri: String,
    /// Base of the accounts service (`/authorize`, `/api/token` are appended).
    pub accounts_url: Url,
    /// Base of the Web API (`/v1/...` is appended).
    pub api_url: Url,
}

impl SpotifyConfig {
    /// A configuration pointing at the real Spotify.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: Option<SecretString>,
        redirect_uri: impl Into<String>,
    ) -> Result<Self, SpotifyError> {
        Ok(Self {
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            accounts_url: parse_base(DEFAULT_ACCOUNTS_URL)?,
            api_url: parse_base(DEFAULT_API_URL)?,
        })
    }

    /// Points both the accounts service and the Web API at one base URL, which is how the
    /// emulator serves them (`/authorize`, `/api/token` and `/v1/...` on one origin).
    #[must_use]
    pub fn with_base_url(mut self, base: Url) -> Self {
        self.accounts_url = base.clone();
        self.api_url = base;
        self
    }
}

fn parse_base(url: &str) -> Result<Url, SpotifyError> {
    Url::parse(url).map_err(|e| SpotifyError::InvalidConfig(format!("base URL {url}: {e}")))
}

/// Timeouts, retries and the OAuth variant; [`ClientOptions::default`] suits production.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Upper bound for one HTTP exchange, body included.
    pub request_timeout: Duration,
    /// Upper bound for establishing a connection.
    pub connect_timeout: Duration,
    /// How idempotent GETs are retried after 5xx answers, timeouts and connection errors.
    pub retry: RetryPolicy,
    /// Send a PKCE S256 challenge with the authorization request and the verifier with the
    /// code exchange. Required (and forced) for apps without a client secret; on by default
    /// for confidential apps too, as RFC 9700 recommends.
    pub pkce: bool,
    /// The Tokio runtime that runs every HTTP exchange (`None`: the caller's). A connection's
    /// I/O task lives on the runtime that opened it and serves every later caller that reuses
    /// it from the pool; an application whose callers run on several runtimes (a web server's
    /// per-thread ones, a shared one for background work) names one here, so that its
    /// connections are not spread over threads that are busy with something else and every
    /// exchange does not cross threads twice.
    pub runtime: Option<tokio::runtime::Handle>,
    /// Told about every HTTP exchange with Spotify (endpoint, status, duration, a 429's
    /// `Retry-After`): for metrics. `None`: nobody is told.
    pub observer: Option<crate::CallObserver>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            pkce: true,
            runtime: None,
            observer: None,
        }
    }
}

/// Bounded, jittered exponential backoff for idempotent GETs.
///
/// Player commands are never retried: replaying a `next` or `add_to_queue` that did reach
/// Spotify would skip or queue twice.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Total attempts including the first; `1` disables retries.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles for each further one.
    pub base_delay: Duration,
    /// Cap for a single delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (0 for the first retry): half of the exponential
    /// step is fixed, the other half random, so that many clients failing together spread out.
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(16));
        let step = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let half = step / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let jitter = if jitter_ms == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(rand::random_range(0..=jitter_ms))
        };
        half + jitter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_urls_parse() {
        let config = SpotifyConfig::new("id", None, "http://127.0.0.1:8080/callback").unwrap();
        assert_eq!(
            config.accounts_url.as_str(),
            "https://accounts.spotify.com/"
        );
        assert_eq!(config.api_url.as_str(), "https://api.spotify.com/");
    }

    #[test]
    fn secret_is_redacted_in_debug() {
        let config = SpotifyConfig::new(
            "id",
            Some(SecretString::from("very-secret-value")),
            "http://127.0.0.1:8080/callback",
        )
        .unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("very-secret-value"), "{printed}");
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        for _ in 0..50 {
            let first = policy.delay(0);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let second = policy.delay(1);
            assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
            let capped = policy.delay(10);
            assert!(capped >= Duration::from_millis(150) && capped <= Duration::from_millis(300));
        }
    }
}
