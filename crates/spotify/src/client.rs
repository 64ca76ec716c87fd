//! [`SpotifyClient`] and the request loop every Web API call goes through: token refresh,
//! the rate-limit gate, retries for GETs, and mapping answers to [`SpotifyError`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::{Method, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tracing::Instrument;
use url::Url;

use crate::config::{ClientOptions, SpotifyConfig};
use crate::error::{SpotifyError, is_quota_exceeded};
use crate::oauth::{OAuthClient, build_oauth_client};
use crate::observe::{CallOutcome, report};
use crate::rate_limit::{DEFAULT_RETRY_AFTER, RateLimitGate, RateLimitNotice, parse_retry_after};
use crate::tokens::{REFRESH_MARGIN, UserAuth};

/// A Spotify client for one registered app. Cheap to clone; clones share the HTTP connection
/// pool and the rate-limit state.
#[derive(Clone)]
pub struct SpotifyClient {
    pub(crate) inner: Arc<ClientInner>,
}

pub(crate) struct ClientInner {
    pub(crate) config: SpotifyConfig,
    pub(crate) options: ClientOptions,
    /// Shared by token and Web API calls. Never follows redirects: the token endpoint must
    /// not be redirected (SSRF), and the Web API does not redirect.
    pub(crate) http: reqwest::Client,
    pub(crate) oauth: OAuthClient,
    pub(crate) gate: RateLimitGate,
}

impl fmt::Debug for SpotifyClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpotifyClient")
            .field("client_id", &self.inner.config.client_id)
            .field("accounts_url", &self.inner.config.accounts_url.as_str())
            .field("api_url", &self.inner.config.api_url.as_str())
            .finish_non_exhaustive()
    }
}

impl SpotifyClient {
    /// A client with [`ClientOptions::default`].
    pub fn new(config: SpotifyConfig) -> Result<Self, SpotifyError> {
        Self::with_options(config, ClientOptions::default())
    }

    /// A client with explicit timeouts, retry policy and PKCE setting.
    pub fn with_options(
        config: SpotifyConfig,
        options: ClientOptions,
    ) -> Result<Self, SpotifyError> {
        if !options.pkce && config.client_secret.is_none() {
            return Err(SpotifyError::InvalidConfig(
                "an app without a client secret must use PKCE".to_owned(),
            ));
        }
        if options.retry.max_attempts == 0 {
            return Err(SpotifyError::InvalidConfig(
                "retry.max_attempts must be at least 1".to_owned(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .connect_timeout(options.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sesh-spotify/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SpotifyError::InvalidConfig(format!("HTTP client: {e}")))?;
        let oauth = build_oauth_client(&config)?;
        // Fail now rather than on the first call if the API base cannot take a path.
        join_path(&config.api_url, &["v1"])?;
        Ok(Self {
            inner: Arc::new(ClientInner {
                config,
                options,
                http,
                oauth,
                gate: RateLimitGate::default(),
            }),
        })
    }

    /// The 429s this client sees from now on (see [`RateLimitNotice`]): for other processes of
    /// the same app, which count against the same limit.
    pub fn rate_limit_notices(&self) -> tokio::sync::broadcast::Receiver<RateLimitNotice> {
        self.inner.gate.subscribe()
    }

    /// Pauses `endpoint` (every endpoint with `quota_exceeded`) for `retry_after`, as if this
    /// client had seen the 429 another process of the app saw; calls meanwhile fail with
    /// [`SpotifyError::RateLimited`] without being sent. Not announced again.
    pub fn pause_endpoint(&self, endpoint: &str, retry_after: Duration, quota_exceeded: bool) {
        self.inner
            .gate
            .block(endpoint, retry_after, quota_exceeded, Instant::now());
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &SpotifyConfig {
        &self.inner.config
    }

    /// A current access token, refreshed first when it expires within [`REFRESH_MARGIN`].
    async fn access_token(&self, auth: &UserAuth) -> Result<SecretString, SpotifyError> {
        let current = auth.current();
        if !current.expires_within(REFRESH_MARGIN) {
            return Ok(current.access);
        }
        match self.refresh_if_current(auth, &current.access).await {
            Ok(access) => Ok(access),
            // The margin is a courtesy: while the token still works, a failed refresh
            // (Spotify down, token endpoint rate limited) need not fail the call.
            Err(error)
                if !matches!(error, SpotifyError::ReauthRequired)
                    && !current.expires_within(std::time::Duration::ZERO) =>
            {
                tracing::warn!(
                    code = error.code(),
                    "early token refresh failed; using the current token"
                );
                Ok(current.access)
            }
            Err(error) => Err(error),
        }
    }

    /// Refreshes `auth` unless its access token is no longer `seen` (another task refreshed it
    /// while this one waited for the gate), and returns the current access token.
    async fn refresh_if_current(
        &self,
        auth: &UserAuth,
        seen: &SecretString,
    ) -> Result<SecretString, SpotifyError> {
        let guard = auth.lock_refresh().await;
        let current = auth.current();
        if !auth.is_current(seen) {
            return Ok(current.access);
        }
        let Some(refresh) = current.refresh.clone() else {
            return Err(SpotifyError::ReauthRequired);
        };
        // The refresh runs in its own task: if the caller is cancelled halfway, a rotated
        // refresh token is still stored instead of being lost (which would force a new login).
        let client = self.clone();
        let task = tokio::spawn(async move {
            let tokens = client
                .refresh_with_scope(&refresh, Some(&current.scope))
                .await?;
            let access = tokens.access.clone();
            guard.store(tokens);
            Ok(access)
        });
        match task.await {
            Ok(result) => result,
            Err(error) => {
                tracing::error!(%error, "token refresh task failed");
                Err(SpotifyError::Unavailable {
                    status: None,
                    source: None,
                })
            }
        }
    }

    /// Sends a Web API call for `auth` and returns the 2xx answer.
    ///
    /// - refreshes the token when near expiry, and once after a 401, then retries once;
    /// - refuses to send while a 429 for this endpoint (or the app) is not over;
    /// - retries GETs after 5xx and transport errors with jittered backoff; never other methods.
    pub(crate) async fn execute(
        &self,
        auth: &UserAuth,
        call: &ApiCall,
    ) -> Result<ApiResponse, SpotifyError> {
        let span = tracing::debug_span!("spotify", endpoint = call.endpoint);
        self.execute_inner(auth, call).instrument(span).await
    }

    async fn execute_inner(
        &self,
        auth: &UserAuth,
        call: &ApiCall,
    ) -> Result<ApiResponse, SpotifyError> {
        let endpoint = call.endpoint;
        let observer = self.inner.options.observer.as_ref();
        let url = self.api_url(call)?;
        let idempotent = call.method == Method::GET;
        let retry = &self.inner.options.retry;
        let mut access = self.access_token(auth).await?;
        let mut refreshed = false;
        let mut failures = 0u32;
        loop {
            self.inner.gate.check(endpoint, Instant::now())?;
            let sent = Instant::now();
            let response = match self.send_once(call, &url, &access).await {
                Ok(response) => response,
                Err(error) => {
                    report(observer, endpoint, CallOutcome::Error, sent.elapsed(), None);
                    failures += 1;
                    if idempotent && failures < retry.max_attempts {
                        let delay = retry.delay(failures - 1);
                        tracing::debug!(?delay, error = ?error, "transport error; retrying");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(SpotifyError::Unavailable {
                        status: None,
                        source: error,
                    });
                }
            };
            let status = response.status();
            let retry_after = (status == StatusCode::TOO_MANY_REQUESTS)
                .then(|| parse_retry_after(response.headers()).unwrap_or(DEFAULT_RETRY_AFTER));
            report(
                observer,
                endpoint,
                CallOutcome::Status(status.as_u16()),
                sent.elapsed(),
                retry_after,
            );
            if status.is_success() {
                let body = response
                    .bytes()
                    .await
                    .map_err(|e| SpotifyError::Unavailable {
                        status: None,
                        source: Some(e),
                    })?;
                return Ok(ApiResponse { status, body });
            }
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                // The token may have been revoked or expired early; one fresh one, one retry.
                refreshed = true;
                tracing::debug!("401; refreshing the token and retrying once");
                access = self.refresh_if_current(auth, &access).await?;
                continue;
            }
            if let Some(retry_after) = retry_after {
                let body = response.bytes().await.unwrap_or_default();
                let quota_exceeded = is_quota_exceeded(&body);
                self.inner
                    .gate
                    .record(endpoint, retry_after, quota_exceeded, Instant::now());
                tracing::warn!(?retry_after, quota_exceeded, "rate limited by Spotify");
                return Err(SpotifyError::RateLimited {
                    retry_after,
                    quota_exceeded,
                });
            }
            if status.is_server_error() && idempotent {
                failures += 1;
                if failures < retry.max_attempts {
                    let delay = retry.delay(failures - 1);
                    tracing::debug!(?delay, %status, "server error; retrying");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            let body = response.bytes().await.unwrap_or_default();
            let error = SpotifyError::from_api_status(status.as_u16(), &body);
            tracing::debug!(%status, code = error.code(), "Spotify refused the call");
            return Err(error);
        }
    }

    async fn send_once(
        &self,
        call: &ApiCall,
        url: &Url,
        access: &SecretString,
    ) -> Result<reqwest::Response, Option<reqwest::Error>> {
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), url.clone())
            .bearer_auth(access.expose_secret())
            .header(header::ACCEPT, "application/json");
        request = match &call.body {
            Some(body) => request.json(body),
            // Spotify has answered 411 to bodiless PUT/POSTs without a length.
            None if call.method != Method::GET => request.header(header::CONTENT_LENGTH, "0"),
            None => request,
        };
        exchange(self.inner.options.runtime.as_ref(), request.send()).await
    }

    fn api_url(&self, call: &ApiCall) -> Result<Url, SpotifyError> {
        let segments: Vec<&str> = call.segments.iter().map(String::as_str).collect();
        let mut url = join_path(&self.inner.config.api_url, &segments)?;
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(call.query.iter());
        }
        Ok(url)
    }
}

/// Runs one HTTP exchange (up to the answer's head) on `runtime` when one is configured (see
/// [`ClientOptions::runtime`]); `Err(None)` when that runtime is shutting down. Dropping the
/// future aborts the exchange, as it would without a runtime.
pub(crate) async fn exchange(
    runtime: Option<&tokio::runtime::Handle>,
    send: impl Future<Output = Result<reqwest::Response, reqwest::Error>> + Send + 'static,
) -> Result<reqwest::Response, Option<reqwest::Error>> {
    match runtime {
        Some(runtime) => tokio_util::task::AbortOnDropHandle::new(runtime.spawn(send))
            .await
            .map_err(|_| None)?
            .map_err(Some),
        None => send.await.map_err(Some),
    }
}

/// `base` with `segments` appended as path segments (percent-encoded).
pub(crate) fn join_path(base: &Url, segments: &[&str]) -> Result<Url, SpotifyError> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| SpotifyError::InvalidConfig(format!("{base} cannot be a base URL")))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// An [`ApiCall`] of a method and a path template after `/v1`, named at compile time:
/// `api_call!(GET "/tracks/{id}")` is the call `GET /v1/tracks/{id}`, named `"GET /tracks/{id}"`.
macro_rules! api_call {
    ($method:ident $path:literal) => {
        $crate::client::ApiCall::new(
            ::reqwest::Method::$method,
            concat!(stringify!($method), " ", $path),
            concat!("/v1", $path),
        )
    };
}
pub(crate) use api_call;

/// One Web API call, described before it is sent (and possibly re-sent).
#[derive(Debug)]
pub(crate) struct ApiCall {
    pub(crate) method: Method,
    /// The method and the path template without the API version, e.g. `GET /tracks/{id}`:
    /// the rate-limit key and the name observers see (fixed, so counting costs nothing).
    pub(crate) endpoint: &'static str,
    /// The concrete path segments after the API base, e.g. `["v1", "tracks", "4iV5..."]`.
    pub(crate) segments: Vec<String>,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<serde_json::Value>,
}

impl ApiCall {
    /// A call of `method` on the path `template` (with `{name}` placeholders), named
    /// `endpoint`; use [`api_call!`], which writes all three from one.
    pub(crate) fn new(method: Method, endpoint: &'static str, template: &'static str) -> Self {
        let segments = template
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        Self {
            method,
            endpoint,
            segments,
            query: Vec::new(),
            body: None,
        }
    }

    /// Replaces the `{name}` segment with `value`.
    pub(crate) fn path_param(mut self, name: &str, value: &str) -> Self {
        let placeholder = format!("{{{name}}}");
        for segment in &mut self.segments {
            if *segment == placeholder {
                value.clone_into(segment);
            }
        }
        self
    }

    pub(crate) fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }

    pub(crate) fn query_opt(self, name: &'static str, value: Option<&str>) -> Self {
        match value {
            Some(value) => self.query(name, value),
            None => self,
        }
    }

    pub(crate) fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// A 2xx answer.
#[derive(Debug)]
pub(crate) struct ApiResponse {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

impl ApiResponse {
    /// Whether Spotify answered "nothing" (204, or an empty 200 as it sometimes does).
    pub(crate) fn is_empty(&self) -> bool {
        self.status == StatusCode::NO_CONTENT || self.body.iter().all(u8::is_ascii_whitespace)
    }

    pub(crate) fn json<T: DeserializeOwned>(&self, endpoint: &str) -> Result<T, SpotifyError> {
        serde_json::from_slice(&self.body).map_err(|e| SpotifyError::InvalidResponse {
            context: format!("{endpoint}: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_path_handles_trailing_slashes_and_prefixes() {
        let base = Url::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!(
            join_path(&base, &["v1", "me"]).unwrap().as_str(),
            "http://127.0.0.1:9000/v1/me"
        );
        let base = Url::parse("http://127.0.0.1:9000/spotify/").unwrap();
        assert_eq!(
            join_path(&base, &["api", "token"]).unwrap().as_str(),
            "http://127.0.0.1:9000/spotify/api/token"
        );
    }

    #[test]
    fn path_params_are_encoded() {
        let call = api_call!(GET "/tracks/{id}").path_param("id", "a/b?c");
        assert_eq!(call.endpoint, "GET /tracks/{id}");
        assert_eq!(call.segments, ["v1", "tracks", "a/b?c"]);
        let client =
            SpotifyClient::new(SpotifyConfig::new("id", None, "http://127.0.0.1:1/cb").unwrap())
                .unwrap();
        let url = client.api_url(&call.query("market", "SE")).unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.spotify.com/v1/tracks/a%2Fb%3Fc?market=SE"
        );
    }

    /// The gateway spawns pollers on tokio: every call's future must be `Send`.
    #[test]
    fn futures_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        let client =
            SpotifyClient::new(SpotifyConfig::new("id", None, "http://127.0.0.1:1/cb").unwrap())
                .unwrap();
        let auth = UserAuth::new(crate::Tokens {
            access: SecretString::from("a"),
            refresh: None,
            expires_at: std::time::SystemTime::now(),
            scope: String::new(),
        });
        assert_send(&client.player(&auth));
        assert_send(&client.play(&auth, None, &crate::PlayRequest::resume()));
        assert_send(&client.exchange_code("code", &SecretString::from("v")));
        assert_send(&client.refresh(&SecretString::from("r")));
        assert_send(&auth.clone());
        assert_send(&client.clone());
    }

    #[test]
    fn pkce_cannot_be_disabled_without_a_secret() {
        let config = SpotifyConfig::new("id", None, "http://127.0.0.1:1/cb").unwrap();
        let options = ClientOptions {
            pkce: false,
            ..ClientOptions::default()
        };
        let err = SpotifyClient::with_options(config, options).unwrap_err();
        assert_eq!(err.code(), "invalid_config");
    }

    #[test]
    fn authorize_url_carries_scopes_state_and_challenge() {
        let client = SpotifyClient::new(
            SpotifyConfig::new("my-client", None, "http://127.0.0.1:8080/callback").unwrap(),
        )
        .unwrap();
        let request = client.authorize_url();
        assert_eq!(request.url.path(), "/authorize");
        let pairs: std::collections::HashMap<_, _> = request.url.query_pairs().collect();
        assert_eq!(pairs["client_id"], "my-client");
        assert_eq!(pairs["response_type"], "code");
        assert_eq!(pairs["redirect_uri"], "http://127.0.0.1:8080/callback");
        assert_eq!(pairs["state"], request.state.as_str());
        assert_eq!(pairs["code_challenge_method"], "S256");
        assert_eq!(pairs["scope"], crate::SCOPES.join(" "));
        assert!(pairs["code_challenge"].len() >= 43);
        assert_ne!(
            client.authorize_url().state,
            request.state,
            "state must be fresh"
        );
        assert!(!format!("{request:?}").contains(request.pkce_verifier.expose_secret()));
    }

    #[test]
    fn extra_scopes_come_after_the_default_ones_once_each() {
        let client = SpotifyClient::new(
            SpotifyConfig::new("my-client", None, "http://127.0.0.1:8080/callback").unwrap(),
        )
        .unwrap();
        let scope_of = |request: crate::AuthRequest| {
            request
                .url
                .query_pairs()
                .find(|(k, _)| k == "scope")
                .map(|(_, v)| v.into_owned())
                .unwrap()
        };
        assert!(!crate::SCOPES.contains(&crate::PLAYLIST_MODIFY_PRIVATE));
        let extra = [crate::PLAYLIST_MODIFY_PRIVATE, "user-top-read"];
        let expected = format!(
            "{} {}",
            crate::SCOPES.join(" "),
            crate::PLAYLIST_MODIFY_PRIVATE
        );
        assert_eq!(scope_of(client.authorize_url_with_scopes(&extra)), expected);
        assert_eq!(
            scope_of(client.authorize_url_with_scopes(&[])),
            scope_of(client.authorize_url())
        );
    }
}
