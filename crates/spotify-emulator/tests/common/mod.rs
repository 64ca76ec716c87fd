//! Shared helpers: start an emulator on a free loopback port and talk to it like a client.

// Test helpers may panic: a failed expectation is a failed test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sesh_spotify_emulator::{AppRegistration, Emulator, EmulatorConfig, EmulatorHandle};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "test-app";
pub const CLIENT_SECRET: &str = "test-secret";
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
pub const SCOPES: &str = "user-top-read user-read-playback-state user-modify-playback-state user-read-currently-playing playlist-modify-private";

pub struct TestEmulator {
    /// `None` when talking to an emulator in another process (the binary).
    pub handle: Option<EmulatorHandle>,
    pub base: String,
    pub http: reqwest::Client,
}

pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

pub async fn start() -> TestEmulator {
    start_with(|_| {}).await
}

pub async fn start_with(adjust: impl FnOnce(&mut EmulatorConfig)) -> TestEmulator {
    let mut config = EmulatorConfig {
        apps: vec![AppRegistration {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            redirect_uris: vec![
                REDIRECT_URI.into(),
                "https://sesh.example/callback".into(),
                "http://localhost:9/callback".into(),
                "http://192.168.1.20/callback".into(),
            ],
        }],
        control_api: true,
        ..EmulatorConfig::default()
    };
    adjust(&mut config);
    let handle = Emulator::start(config).await.expect("emulator starts");
    let mut emu = TestEmulator::connect(handle.base_url());
    emu.handle = Some(handle);
    emu
}

pub fn pkce_pair() -> (String, String) {
    let verifier = "a-pkce-verifier-that-is-long-enough-0123456789-abcdefghij".to_owned();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

impl TestEmulator {
    /// A client for an emulator already listening at `base`.
    pub fn connect(base: String) -> TestEmulator {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        TestEmulator {
            handle: None,
            base,
            http,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /authorize` with the standard parameters plus `extra` (later ones win).
    pub async fn authorize(&self, extra: &[(&str, &str)]) -> Response {
        let mut params: Vec<(&str, &str)> = vec![
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT_URI),
            ("state", "st4te"),
            ("scope", SCOPES),
        ];
        for (k, v) in extra {
            params.retain(|(pk, _)| pk != k);
            params.push((k, v));
        }
        self.http
            .get(self.url("/authorize"))
            .query(&params)
            .send()
            .await
            .expect("authorize")
    }

    /// Query pairs of the redirect an `/authorize` answer points to.
    pub fn redirect_params(response: &Response) -> Vec<(String, String)> {
        assert_eq!(response.status(), StatusCode::FOUND, "expected a redirect");
        let location = response.headers()["location"].to_str().unwrap();
        let url = url::Url::parse(location).unwrap();
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    pub async fn code_for(&self, user: &str, extra: &[(&str, &str)]) -> String {
        let mut all = vec![("user", user)];
        all.extend_from_slice(extra);
        let response = self.authorize(&all).await;
        let params = Self::redirect_params(&response);
        params
            .into_iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v)
            .expect("code")
    }

    pub async fn token_request(&self, basic: bool, form: &[(&str, &str)]) -> Response {
        let mut request = self.http.post(self.url("/api/token")).form(form);
        if basic {
            request = request.basic_auth(CLIENT_ID, Some(CLIENT_SECRET));
        }
        request.send().await.expect("token request")
    }

    /// Logs `user` in through the authorization-code flow with Basic client auth.
    pub async fn login(&self, user: &str) -> Tokens {
        self.login_with_scope(user, SCOPES).await
    }

    /// [`Self::login`] granting exactly `scope` (space-separated).
    pub async fn login_with_scope(&self, user: &str, scope: &str) -> Tokens {
        let code = self.code_for(user, &[("scope", scope)]).await;
        let response = self
            .token_request(
                true,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT_URI),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        Tokens {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn api(
        &self,
        method: Method,
        token: &str,
        path_and_query: &str,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .http
            .request(method, self.url(path_and_query))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("api request")
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.api(Method::GET, token, path, None).await
    }

    pub async fn get_json(&self, token: &str, path: &str) -> Value {
        let response = self.get(token, path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    /// A control API call; returns status and JSON body (Null when empty).
    pub async fn control(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("control request");
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, value)
    }

    pub async fn advance(&self, ms: i64) {
        let (status, _) = self
            .control(
                Method::POST,
                "/_emulator/clock",
                Some(json!({ "advance_ms": ms })),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    pub async fn raw_player(&self, user: &str) -> Value {
        let (status, body) = self
            .control(
                Method::GET,
                &format!("/_emulator/users/{user}/player"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        body
    }

    /// The first non-restricted device of the logged-in user.
    pub async fn device_id(&self, token: &str) -> String {
        let devices = self.get_json(token, "/v1/me/player/devices").await;
        devices["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["is_restricted"] == false)
            .and_then(|d| d["id"].as_str())
            .unwrap()
            .to_owned()
    }

    /// The user's top-track URIs.
    pub async fn top_uris(&self, token: &str, limit: usize) -> Vec<String> {
        let page = self
            .get_json(token, &format!("/v1/me/top/tracks?limit={limit}"))
            .await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["uri"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Starts `uris` on `device` and checks the 204.
    pub async fn play(&self, token: &str, device: &str, uris: &[String]) {
        let response = self
            .api(
                Method::PUT,
                token,
                &format!("/v1/me/player/play?device_id={device}"),
                Some(json!({ "uris": uris })),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::NO_CONTENT,
            "{}",
            response.text().await.unwrap()
        );
    }
}
