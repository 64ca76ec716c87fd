//! A Spotify Web API client for Sesh: the OAuth authorization-code flow (with PKCE), token
//! refresh, rate-limit handling, and typed models for the endpoints Sesh uses.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sesh_spotify::SpotifyError> {
//! use sesh_spotify::{SpotifyClient, SpotifyConfig, TimeRange, UserAuth};
//!
//! let client = SpotifyClient::new(SpotifyConfig::new("client-id", None, "https://sesh.example/callback")?)?;
//! let login = client.authorize_url(); // redirect the user to login.url, remember state + verifier
//! # let code = "from-the-callback";
//! let tokens = client.exchange_code(code, &login.pkce_verifier).await?;
//! let auth = UserAuth::new(tokens); // share it; refreshes happen through it
//! let top = client.top_tracks(&auth, TimeRange::MediumTerm, 5, 0).await?;
//! # let _ = top; Ok(()) }
//! ```
//!
//! # Layout
//! - [`config`]: [`SpotifyConfig`] (app + base URLs), [`ClientOptions`], [`RetryPolicy`],
//!   [`SCOPES`] and [`PLAYLIST_MODIFY_PRIVATE`] (asked for incrementally).
//! - `client`: [`SpotifyClient`] and the request loop every Web API call goes through:
//!   refresh near expiry and once on 401, the rate-limit gate, retries for GETs only.
//! - `oauth`: [`SpotifyClient::authorize_url`] (and `_with_scopes`),
//!   [`SpotifyClient::exchange_code`] and [`SpotifyClient::refresh`] on the `oauth2` crate,
//!   with a transport that types 429 and 5xx.
//! - `api`: one method per Web API endpoint (`me`, `top_tracks`, `player`, `play`, ...,
//!   `create_playlist`, `add_playlist_items`).
//! - `tokens`: [`Tokens`] (redacted `Debug`) and [`UserAuth`], the per-user shared handle with
//!   single-flight refresh and a watch channel for persisting refreshed tokens.
//! - `rate_limit`: remembers 429s per endpoint (method + path template) and, for
//!   `QUOTA_EXCEEDED`, per app; [`parse_retry_after`].
//! - `observe`: [`CallObserver`], told about every HTTP exchange ([`CallInfo`]: a fixed
//!   endpoint name, the status, the duration, a 429's `Retry-After`), so the application can
//!   keep metrics without this crate depending on a metrics library.
//! - [`models`]: tolerant serde models of the Web API payloads.
//! - `error`: [`SpotifyError`] with [`SpotifyError::code`], and the error bodies.
//!
//! Invariants: tokens and the client secret never appear in `Debug` output or logs; a request
//! is never sent while Spotify's `Retry-After` for it is running; player commands (PUT/POST)
//! are sent at most once per call, except the single retry after a 401 (which Spotify did not
//! act on).

mod api;
mod client;
pub mod config;
mod error;
pub mod models;
mod oauth;
mod observe;
#[cfg(test)]
mod payload_tests;
mod rate_limit;
mod tokens;

pub use api::PLAYLIST_ITEMS_PER_CALL;
pub use client::SpotifyClient;
pub(crate) use client::join_path;
pub use config::{
    ClientOptions, DEFAULT_ACCOUNTS_URL, DEFAULT_API_URL, PLAYLIST_MODIFY_PRIVATE,
    PLAYLIST_MODIFY_PUBLIC, RetryPolicy, SCOPES, SpotifyConfig,
};
pub use error::{AccountsErrorBody, ApiErrorBody, ApiErrorObject, SpotifyError};
pub use models::*;
pub use oauth::AuthRequest;
pub use observe::{CallInfo, CallObserver, CallOutcome};
pub use rate_limit::{DEFAULT_RETRY_AFTER, RateLimitNotice, parse_retry_after};
pub use tokens::{REFRESH_MARGIN, Tokens, UserAuth};

/// Re-exported so callers can build [`SpotifyConfig`] without naming the crates themselves.
pub use secrecy::{ExposeSecret, SecretString};
pub use url::Url;
