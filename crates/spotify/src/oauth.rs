//! The accounts service: the authorization URL, the code exchange and token refresh, done with
//! the `oauth2` crate over the client's shared `reqwest::Client`.

use crate::observe::{CallOutcome, report};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AsyncHttpClient, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, HttpRequest, HttpResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::config::{SCOPES, SpotifyConfig};
use crate::error::{SpotifyError, is_quota_exceeded};
use crate::rate_limit::{DEFAULT_RETRY_AFTER, parse_retry_after};
use crate::tokens::Tokens;
use crate::{SpotifyClient, join_path};

/// The `oauth2` client with the authorization and token endpoints set.
pub(crate) type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Rate-limit key of the token endpoint.
const TOKEN_ENDPOINT: &str = "POST /api/token";

/// Spotify always sends `expires_in`; should it not, assume its documented one hour.
const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(3600);

/// A login to start: send the user to `url`, keep `state` and `pkce_verifier` (e.g. in a
/// short-lived cookie or server-side) until the callback comes back.
#[derive(Debug)]
pub struct AuthRequest {
    /// `https://accounts.spotify.com/authorize?...` with client id, redirect URI, scopes,
    /// CSRF state and (unless PKCE is off) the S256 code challenge.
    pub url: Url,
    /// The CSRF token; the callback's `state` must equal it.
    pub state: String,
    /// Pass it to [`SpotifyClient::exchange_code`]. Unused when
    /// [`ClientOptions::pkce`](crate::ClientOptions::pkce) is off.
    pub pkce_verifier: SecretString,
}

pub(crate) fn build_oauth_client(config: &SpotifyConfig) -> Result<OAuthClient, SpotifyError> {
    let auth_url = AuthUrl::from_url(join_path(&config.accounts_url, &["authorize"])?);
    let token_url = TokenUrl::from_url(join_path(&config.accounts_url, &["api", "token"])?);
    let redirect = RedirectUrl::new(config.redirect_uri.clone())
        .map_err(|e| SpotifyError::InvalidConfig(format!("redirect_uri: {e}")))?;
    let mut client = BasicClient::new(ClientId::new(config.client_id.clone()))
        .set_auth_uri(auth_url)
        .set_token_uri(token_url)
        .set_redirect_uri(redirect);
    if let Some(secret) = &config.client_secret {
        // oauth2 sends it as HTTP Basic, as Spotify documents.
        client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
    }
    Ok(client)
}

/// Which grant a token call was for; `invalid_grant` means different things for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Grant {
    AuthorizationCode,
    RefreshToken,
}

impl SpotifyClient {
    /// Starts a login: the authorization URL with a fresh CSRF state, a fresh PKCE verifier and
    /// [`SCOPES`].
    pub fn authorize_url(&self) -> AuthRequest {
        self.authorize_url_with_scopes(&[])
    }

    /// [`Self::authorize_url`] asking for `extra` scopes on top of [`SCOPES`] (each scope once,
    /// in that order): incremental consent, e.g. `&[PLAYLIST_MODIFY_PRIVATE]` before a user's
    /// first playlist. Spotify's token then carries every scope granted so far, so the new
    /// tokens replace the old ones.
    ///
    /// [`PLAYLIST_MODIFY_PRIVATE`]: crate::PLAYLIST_MODIFY_PRIVATE
    pub fn authorize_url_with_scopes(&self, extra: &[&str]) -> AuthRequest {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut scopes: Vec<&str> = Vec::with_capacity(SCOPES.len() + extra.len());
        for scope in SCOPES.iter().chain(extra) {
            if !scopes.contains(scope) {
                scopes.push(scope);
            }
        }
        let mut request = self
            .inner
            .oauth
            .authorize_url(CsrfToken::new_random)
            .add_scopes(scopes.into_iter().map(|s| Scope::new(s.to_owned())));
        if self.inner.options.pkce {
            request = request.set_pkce_challenge(challenge);
        }
        let (url, state) = request.url();
        AuthRequest {
            url,
            state: state.secret().clone(),
            pkce_verifier: SecretString::from(verifier.secret().clone()),
        }
    }

    /// Exchanges the `code` from the login callback for tokens.
    ///
    /// A reused or expired code answers `OAuth { error: "invalid_grant" }`: start a new login.
    #[tracing::instrument(skip_all)]
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &SecretString,
    ) -> Result<Tokens, SpotifyError> {
        self.inner.gate.check(TOKEN_ENDPOINT, Instant::now())?;
        let mut request = self
            .inner
            .oauth
            .exchange_code(AuthorizationCode::new(code.to_owned()));
        if self.inner.options.pkce {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(
                pkce_verifier.expose_secret().to_owned(),
            ));
        }
        let transport = TokenTransport {
            http: self.inner.http.clone(),
            runtime: self.inner.options.runtime.clone(),
            observer: self.inner.options.observer.clone(),
        };
        let response = request
            .request_async(&transport)
            .await
            .map_err(|e| self.token_error(e, Grant::AuthorizationCode))?;
        tracing::debug!("exchanged an authorization code for tokens");
        Ok(tokens_from_response(
            &response,
            None,
            None,
            SystemTime::now(),
        ))
    }

    /// Gets a new access token. When Spotify does not rotate the refresh token, the result
    /// keeps `refresh_token`; when it does, the result carries the new one.
    ///
    /// `invalid_grant` (revoked, or older than six months) becomes
    /// [`SpotifyError::ReauthRequired`]. Prefer letting the Web API methods refresh through
    /// [`UserAuth`](crate::UserAuth), which does it once for all concurrent callers.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<Tokens, SpotifyError> {
        self.refresh_with_scope(refresh_token, None).await
    }

    /// [`Self::refresh`], keeping `previous_scope` when the answer has none.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn refresh_with_scope(
        &self,
        refresh_token: &SecretString,
        previous_scope: Option<&str>,
    ) -> Result<Tokens, SpotifyError> {
        self.inner.gate.check(TOKEN_ENDPOINT, Instant::now())?;
        let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let transport = TokenTransport {
            http: self.inner.http.clone(),
            runtime: self.inner.options.runtime.clone(),
            observer: self.inner.options.observer.clone(),
        };
        let response = self
            .inner
            .oauth
            .exchange_refresh_token(&token)
            .request_async(&transport)
            .await
            .map_err(|e| self.token_error(e, Grant::RefreshToken))?;
        let rotated = response.refresh_token().is_some();
        tracing::debug!(rotated, "refreshed a Spotify access token");
        Ok(tokens_from_response(
            &response,
            Some(refresh_token),
            previous_scope,
            SystemTime::now(),
        ))
    }

    fn token_error(
        &self,
        error: RequestTokenError<TokenTransportError, BasicErrorResponse>,
        grant: Grant,
    ) -> SpotifyError {
        let mapped = match error {
            RequestTokenError::ServerResponse(response) => match response.error() {
                BasicErrorResponseType::InvalidGrant if grant == Grant::RefreshToken => {
                    SpotifyError::ReauthRequired
                }
                other => SpotifyError::OAuth {
                    error: other.as_ref().to_owned(),
                    description: response.error_description().cloned(),
                },
            },
            RequestTokenError::Request(TokenTransportError::RateLimited {
                retry_after,
                quota_exceeded,
            }) => {
                self.inner
                    .gate
                    .record(TOKEN_ENDPOINT, retry_after, quota_exceeded, Instant::now());
                SpotifyError::RateLimited {
                    retry_after,
                    quota_exceeded,
                }
            }
            RequestTokenError::Request(TokenTransportError::Unavailable(status)) => {
                SpotifyError::Unavailable {
                    status: Some(status),
                    source: None,
                }
            }
            RequestTokenError::Request(TokenTransportError::Http(source)) => {
                SpotifyError::Unavailable {
                    status: None,
                    source: Some(source),
                }
            }
            RequestTokenError::Request(TokenTransportError::Stopped) => SpotifyError::Unavailable {
                status: None,
                source: None,
            },
            RequestTokenError::Request(TokenTransportError::Response(message)) => {
                SpotifyError::InvalidResponse {
                    context: format!("token endpoint: {message}"),
                }
            }
            // The body of a token answer holds tokens: keep only where parsing stopped.
            RequestTokenError::Parse(error, _body) => SpotifyError::InvalidResponse {
                context: format!(
                    "token endpoint, at `{}` ({:?})",
                    error.path(),
                    error.inner().classify()
                ),
            },
            RequestTokenError::Other(message) => SpotifyError::InvalidResponse {
                context: format!("token endpoint: {message}"),
            },
        };
        tracing::warn!(code = mapped.code(), error = %mapped, "Spotify token call failed");
        mapped
    }
}

/// Turns a token answer into [`Tokens`]: keeps the previous refresh token when the answer
/// omits it, and the previous scope when the answer has none.
pub(crate) fn tokens_from_response(
    response: &BasicTokenResponse,
    previous_refresh: Option<&SecretString>,
    previous_scope: Option<&str>,
    now: SystemTime,
) -> Tokens {
    let refresh = response
        .refresh_token()
        .map(|t| SecretString::from(t.secret().clone()))
        .or_else(|| previous_refresh.cloned());
    let scope = match response.scopes() {
        Some(scopes) => scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        None => previous_scope.unwrap_or_default().to_owned(),
    };
    Tokens {
        access: SecretString::from(response.access_token().secret().clone()),
        refresh,
        expires_at: now + response.expires_in().unwrap_or(DEFAULT_EXPIRES_IN),
        scope,
    }
}

/// How a token call failed below the OAuth layer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenTransportError {
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited {
        retry_after: Duration,
        quota_exceeded: bool,
    },
    #[error("accounts service answered HTTP {0}")]
    Unavailable(u16),
    #[error("token request failed")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Response(String),
    #[error("the runtime for HTTP exchanges is shutting down")]
    Stopped,
}

/// Runs `oauth2`'s token requests on the shared `reqwest::Client` (which never follows
/// redirects, as `oauth2` advises against SSRF), turning 429 and 5xx into typed errors before
/// `oauth2` would read their bodies as OAuth errors.
pub(crate) struct TokenTransport {
    http: reqwest::Client,
    runtime: Option<tokio::runtime::Handle>,
    observer: Option<crate::CallObserver>,
}

impl<'c> AsyncHttpClient<'c> for TokenTransport {
    type Error = TokenTransportError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)?;
            let observer = self.observer.as_ref();
            let sent = std::time::Instant::now();
            let response =
                crate::client::exchange(self.runtime.as_ref(), self.http.execute(request))
                    .await
                    .map_err(|e| {
                        report(
                            observer,
                            TOKEN_ENDPOINT,
                            CallOutcome::Error,
                            sent.elapsed(),
                            None,
                        );
                        e.map_or(TokenTransportError::Stopped, TokenTransportError::Http)
                    })?;
            let status = response.status();
            let retry_after = (status == reqwest::StatusCode::TOO_MANY_REQUESTS)
                .then(|| parse_retry_after(response.headers()).unwrap_or(DEFAULT_RETRY_AFTER));
            report(
                observer,
                TOKEN_ENDPOINT,
                CallOutcome::Status(status.as_u16()),
                sent.elapsed(),
                retry_after,
            );
            if let Some(retry_after) = retry_after {
                let body = response.bytes().await.unwrap_or_default();
                return Err(TokenTransportError::RateLimited {
                    retry_after,
                    quota_exceeded: is_quota_exceeded(&body),
                });
            }
            if status.is_server_error() {
                return Err(TokenTransportError::Unavailable(status.as_u16()));
            }
            let mut builder = oauth2::http::Response::builder().status(status);
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await?.to_vec();
            builder
                .body(body)
                .map_err(|e| TokenTransportError::Response(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(name: &str) -> String {
        let path = format!(
            "{}/../../spec/spotify/payloads/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn token_payload_becomes_tokens() {
        let response: BasicTokenResponse = serde_json::from_str(&payload("token.json")).unwrap();
        let now = SystemTime::now();
        let tokens = tokens_from_response(&response, None, None, now);
        assert!(tokens.access.expose_secret().starts_with("taHZ2SdB"));
        assert!(
            tokens
                .refresh
                .as_ref()
                .unwrap()
                .expose_secret()
                .starts_with("b0KuPuLw")
        );
        assert_eq!(tokens.expires_at, now + Duration::from_secs(3600));
        assert_eq!(tokens.scope, "user-read-birthdate user-read-email");
    }

    #[test]
    fn refresh_without_refresh_token_keeps_the_old_one() {
        let response: BasicTokenResponse =
            serde_json::from_str(&payload("token_refresh_no_refresh_token.json")).unwrap();
        let old = SecretString::from("old-refresh");
        let tokens = tokens_from_response(&response, Some(&old), Some("x"), SystemTime::now());
        assert_eq!(tokens.refresh.unwrap().expose_secret(), "old-refresh");
        assert_eq!(tokens.scope, "user-read-birthdate user-read-email");
    }

    #[test]
    fn rotated_refresh_token_replaces_the_old_one() {
        let response: BasicTokenResponse =
            serde_json::from_str(&payload("token_refresh_pkce_rotated.json")).unwrap();
        let old = SecretString::from("old-refresh");
        let tokens = tokens_from_response(&response, Some(&old), None, SystemTime::now());
        assert!(
            tokens
                .refresh
                .unwrap()
                .expose_secret()
                .starts_with("PoO04alC")
        );
        assert_eq!(tokens.scope, "user-follow-modify");
    }

    #[test]
    fn accounts_error_payloads_parse_as_oauth_errors() {
        let grant: BasicErrorResponse =
            serde_json::from_str(&payload("accounts_error_invalid_grant.json")).unwrap();
        assert_eq!(grant.error(), &BasicErrorResponseType::InvalidGrant);
        let client: BasicErrorResponse =
            serde_json::from_str(&payload("accounts_error_invalid_client.json")).unwrap();
        assert_eq!(client.error(), &BasicErrorResponseType::InvalidClient);
    }
}
