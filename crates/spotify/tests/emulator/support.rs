//! Starting an emulator, logging users in through the real `/authorize` redirect, and the
//! emulator's control API (faults, request log, revocation).

use std::time::Duration;

use serde_json::{Value, json};
use sesh_spotify::{
    ClientOptions, RetryPolicy, SecretString, SpotifyClient, SpotifyConfig, Tokens, Url, UserAuth,
};
use sesh_spotify_emulator::{AppRegistration, Emulator, EmulatorConfig, EmulatorHandle};

pub const CLIENT_ID: &str = "sesh-test-client";
pub const CLIENT_SECRET: &str = "sesh-test-secret";
/// Loopback IP literal, as Spotify requires for `http://` redirect URIs. Nothing listens
/// there: the tests read the redirect's `Location` instead of following it.
pub const REDIRECT_URI: &str = "http://127.0.0.1:45678/callback";

/// A running emulator with its control API, and a plain HTTP client for driving it.
pub struct TestSpotify {
    /// Held so the server runs as long as the test; dropping it stops the emulator.
    _emulator: EmulatorHandle,
    pub base: Url,
    /// Never follows redirects, so `/authorize` answers can be inspected.
    pub http: reqwest::Client,
}

/// How a test wants its client set up.
#[derive(Clone, Copy)]
pub struct ClientKind {
    pub secret: bool,
    pub pkce: bool,
}

pub const PUBLIC_PKCE: ClientKind = ClientKind {
    secret: false,
    pkce: true,
};
pub const CONFIDENTIAL: ClientKind = ClientKind {
    secret: true,
    pkce: false,
};
pub const CONFIDENTIAL_PKCE: ClientKind = ClientKind {
    secret: true,
    pkce: true,
};

impl TestSpotify {
    pub async fn start() -> Self {
        Self::start_with(Duration::from_secs(3600)).await
    }

    /// An emulator whose access tokens live `token_ttl`.
    pub async fn start_with(token_ttl: Duration) -> Self {
        let emulator = Emulator::start(EmulatorConfig {
            apps: vec![AppRegistration::new(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)],
            control_api: true,
            token_ttl,
            ..EmulatorConfig::default()
        })
        .await
        .expect("emulator starts");
        let base = Url::parse(&emulator.base_url()).expect("emulator base URL");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("reqwest client");
        Self {
            _emulator: emulator,
            base,
            http,
        }
    }

    pub fn config(&self, secret: Option<&str>) -> SpotifyConfig {
        SpotifyConfig::new(CLIENT_ID, secret.map(SecretString::from), REDIRECT_URI)
            .expect("config")
            .with_base_url(self.base.clone())
    }

    /// A client of the given kind with short retry delays (tests should not wait seconds).
    pub fn client(&self, kind: ClientKind) -> SpotifyClient {
        self.client_with(kind, fast_options(kind))
    }

    pub fn client_with(&self, kind: ClientKind, options: ClientOptions) -> SpotifyClient {
        let secret = kind.secret.then_some(CLIENT_SECRET);
        SpotifyClient::with_options(self.config(secret), options).expect("client")
    }

    /// Runs `/authorize` for `user` (auto-approve via `&user=`) and returns the callback's
    /// `code`, after checking the `state` came back unchanged.
    pub async fn authorize(&self, client: &SpotifyClient, user: &str) -> (String, SecretString) {
        self.authorize_with_scopes(client, user, &[]).await
    }

    /// [`Self::authorize`] asking for `extra` scopes too (incremental consent).
    pub async fn authorize_with_scopes(
        &self,
        client: &SpotifyClient,
        user: &str,
        extra: &[&str],
    ) -> (String, SecretString) {
        let request = client.authorize_url_with_scopes(extra);
        let mut url = request.url.clone();
        url.query_pairs_mut().append_pair("user", user);
        let response = self.http.get(url).send().await.expect("GET /authorize");
        assert_eq!(
            response.status(),
            302,
            "authorize answered {}",
            response.status()
        );
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .expect("Location header")
            .to_str()
            .expect("ASCII Location");
        let callback = Url::parse(location).expect("Location is a URL");
        assert!(
            callback.as_str().starts_with(REDIRECT_URI),
            "redirected to {callback}"
        );
        let param = |name: &str| {
            callback
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(
            param("state").as_deref(),
            Some(request.state.as_str()),
            "state must round-trip"
        );
        let code = param("code").unwrap_or_else(|| panic!("no code in {callback}"));
        (code, request.pkce_verifier)
    }

    /// The full login: authorize, then exchange the code.
    pub async fn login_tokens(&self, client: &SpotifyClient, user: &str) -> Tokens {
        let (code, verifier) = self.authorize(client, user).await;
        client
            .exchange_code(&code, &verifier)
            .await
            .expect("code exchange")
    }

    pub async fn login(&self, client: &SpotifyClient, user: &str) -> UserAuth {
        UserAuth::new(self.login_tokens(client, user).await)
    }

    /// [`Self::login`] granting `extra` scopes on top of the default ones.
    pub async fn login_with_scopes(
        &self,
        client: &SpotifyClient,
        user: &str,
        extra: &[&str],
    ) -> UserAuth {
        let (code, verifier) = self.authorize_with_scopes(client, user, extra).await;
        let tokens = client
            .exchange_code(&code, &verifier)
            .await
            .expect("code exchange");
        UserAuth::new(tokens)
    }

    /// `GET` on the control API, as JSON.
    pub async fn control_get(&self, path: &str) -> Value {
        self.http
            .get(self.control_url(path))
            .send()
            .await
            .expect("control GET")
            .json()
            .await
            .expect("control JSON")
    }

    fn control_url(&self, path: &str) -> Url {
        self.base.join(path).expect("control URL")
    }

    /// `POST /_emulator/faults`.
    pub async fn fault(&self, fault: Value) {
        let response = self
            .http
            .post(self.control_url("/_emulator/faults"))
            .json(&fault)
            .send()
            .await
            .expect("POST /_emulator/faults");
        assert!(
            response.status().is_success(),
            "fault rejected: {}",
            response.status()
        );
    }

    /// `POST /_emulator/users/{id}/{action}` with an empty JSON body.
    pub async fn user_action(&self, user: &str, action: &str) {
        let response = self
            .http
            .post(self.control_url(&format!("/_emulator/users/{user}/{action}")))
            .json(&json!({}))
            .send()
            .await
            .expect("user action");
        assert!(
            response.status().is_success(),
            "{action} failed: {}",
            response.status()
        );
    }

    /// `POST /_emulator/users/{user}/devices/{device_id}`: adds or changes a device
    /// (`{"supports_volume": false}`, `{"is_restricted": true}`, ...) and returns it.
    pub async fn set_device(&self, user: &str, device_id: &str, body: Value) -> Value {
        let response = self
            .http
            .post(self.control_url(&format!("/_emulator/users/{user}/devices/{device_id}")))
            .json(&body)
            .send()
            .await
            .expect("POST /_emulator/users/{id}/devices/{device_id}");
        assert!(
            response.status().is_success(),
            "device rejected: {}",
            response.status()
        );
        response.json().await.expect("device JSON")
    }

    /// `GET /_emulator/users/{user}/player`: the emulator's raw player state.
    pub async fn raw_player(&self, user: &str) -> Value {
        self.http
            .get(self.control_url(&format!("/_emulator/users/{user}/player")))
            .send()
            .await
            .expect("GET /_emulator/users/{id}/player")
            .json()
            .await
            .expect("player JSON")
    }

    /// `POST /_emulator/clock`: moves the emulator's virtual time forward.
    pub async fn advance_clock(&self, ms: u64) {
        let response = self
            .http
            .post(self.control_url("/_emulator/clock"))
            .json(&json!({ "advance_ms": ms }))
            .send()
            .await
            .expect("POST /_emulator/clock");
        assert!(response.status().is_success());
    }

    /// `DELETE /_emulator/requests`.
    pub async fn clear_requests(&self) {
        let response = self
            .http
            .delete(self.control_url("/_emulator/requests"))
            .send()
            .await
            .expect("DELETE /_emulator/requests");
        assert!(response.status().is_success());
    }

    /// The logged requests for `method` + `path`, oldest first, from `GET /_emulator/requests`.
    pub async fn requests(&self, method: &str, path: &str) -> Vec<LoggedRequest> {
        let mut url = self.control_url("/_emulator/requests");
        url.query_pairs_mut()
            .append_pair("method", method)
            .append_pair("path", path);
        let log: Value = self
            .http
            .get(url)
            .send()
            .await
            .expect("GET /_emulator/requests")
            .json()
            .await
            .expect("request log JSON");
        log["requests"]
            .as_array()
            .expect("requests array")
            .iter()
            .map(|r| LoggedRequest {
                at_ms: r["at_ms"].as_i64().expect("at_ms"),
                status: r["status"].as_u64().expect("status") as u16,
            })
            .collect()
    }

    /// How many token requests the emulator saw.
    pub async fn token_calls(&self) -> usize {
        self.requests("POST", "/api/token").await.len()
    }
}

/// One entry of the emulator's request log.
#[derive(Debug, Clone, Copy)]
pub struct LoggedRequest {
    pub at_ms: i64,
    pub status: u16,
}

pub fn fast_options(kind: ClientKind) -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
        },
        pkce: kind.pkce,
        ..ClientOptions::default()
    }
}
