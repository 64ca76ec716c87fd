//! The accounts service over real HTTP: redirect-URI rules, consent, PKCE, code and
//! refresh grants, and RFC 6749 errors.

// Helpers outside #[test] functions may panic too: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use common::{CLIENT_ID, REDIRECT_URI, TestEmulator, pkce_pair};

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

async fn oauth_error(response: reqwest::Response) -> (StatusCode, String, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn authorize_approves_denies_and_shows_a_picker() {
    let emu = common::start().await;

    let approved = emu.authorize(&[("user", "alice")]).await;
    let params = TestEmulator::redirect_params(&approved);
    assert!(
        approved.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(REDIRECT_URI)
    );
    assert_eq!(param(&params, "state"), Some("st4te"));
    assert!(param(&params, "code").is_some_and(|c| c.len() >= 32));

    let denied = emu.authorize(&[("user", "alice"), ("deny", "1")]).await;
    let params = TestEmulator::redirect_params(&denied);
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert_eq!(param(&params, "state"), Some("st4te"));
    assert_eq!(param(&params, "code"), None);

    let picker = emu.authorize(&[]).await;
    assert_eq!(picker.status(), StatusCode::OK);
    let html = picker.text().await.unwrap();
    for name in [
        "Alice Andersson",
        "Bob Brennan",
        "Dave Dubois",
        "Heidi Hansen",
    ] {
        assert!(
            html.contains(&format!(">{name}</button>")),
            "picker lacks {name}"
        );
    }
    assert!(
        html.contains("name=\"state\" value=\"st4te\""),
        "picker keeps the request's parameters"
    );

    let generated = emu.authorize(&[("user", "gen-1234")]).await;
    assert!(param(&TestEmulator::redirect_params(&generated), "code").is_some());
    let unknown = emu.authorize(&[("user", "mallory")]).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn redirect_uris_must_match_exactly_and_be_secure() {
    let emu = common::start().await;
    for bad_client in [vec![("client_id", "nope")], vec![("client_id", "")]] {
        let response = emu.authorize(&bad_client).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("INVALID_CLIENT: Invalid client")
        );
    }
    for uri in [
        "http://127.0.0.1:9/callback/",
        "http://127.0.0.1:9/other",
        "http://127.0.0.1:10/callback",
    ] {
        let response = emu
            .authorize(&[("user", "alice"), ("redirect_uri", uri)])
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Invalid redirect URI")
        );
    }
    // Registered, but refused by Spotify's rules: localhost, and http to a non-loopback host.
    for uri in [
        "http://localhost:9/callback",
        "http://192.168.1.20/callback",
    ] {
        let response = emu
            .authorize(&[("user", "alice"), ("redirect_uri", uri)])
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Insecure redirect URI")
        );
    }
    let https = emu
        .authorize(&[
            ("user", "alice"),
            ("redirect_uri", "https://sesh.example/callback"),
        ])
        .await;
    assert_eq!(https.status(), StatusCode::FOUND);
    assert!(
        https.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("https://sesh.example/callback?code=")
    );

    let implicit = emu
        .authorize(&[("user", "alice"), ("response_type", "token")])
        .await;
    assert_eq!(
        param(&TestEmulator::redirect_params(&implicit), "error"),
        Some("unsupported_response_type")
    );
    let scope = emu
        .authorize(&[("user", "alice"), ("scope", "user-top-read make-coffee")])
        .await;
    assert_eq!(
        param(&TestEmulator::redirect_params(&scope), "error"),
        Some("invalid_scope")
    );
}

#[tokio::test]
async fn code_grant_with_basic_auth_is_single_use_and_checked() {
    let emu = common::start().await;
    let code = emu.code_for("bob", &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
    ];

    let response = emu.token_request(true, &form).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], common::SCOPES);
    assert!(body["refresh_token"].is_string());
    let me = emu
        .get_json(body["access_token"].as_str().unwrap(), "/v1/me")
        .await;
    assert_eq!(me["id"], "bob");
    assert_eq!(me["display_name"], "Bob Brennan");
    assert!(
        me.get("product").is_none(),
        "development-mode apps no longer see product"
    );

    let again = oauth_error(emu.token_request(true, &form).await).await;
    assert_eq!(
        again,
        (
            StatusCode::BAD_REQUEST,
            "invalid_grant".into(),
            "Invalid authorization code".into()
        )
    );

    let code = emu.code_for("bob", &[]).await;
    let wrong_redirect = emu
        .token_request(
            true,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://sesh.example/callback"),
            ],
        )
        .await;
    assert_eq!(oauth_error(wrong_redirect).await.1, "invalid_grant");

    let code = emu.code_for("bob", &[]).await;
    let response = emu
        .http
        .post(emu.url("/api/token"))
        .basic_auth(CLIENT_ID, Some("wrong-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        oauth_error(response).await,
        (
            StatusCode::BAD_REQUEST,
            "invalid_client".into(),
            "Invalid client secret".into()
        )
    );

    let no_auth = emu
        .token_request(
            false,
            &[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("redirect_uri", REDIRECT_URI),
            ],
        )
        .await;
    assert_eq!(oauth_error(no_auth).await.1, "invalid_client");
    let no_grant = emu.token_request(true, &[("code", "x")]).await;
    assert_eq!(oauth_error(no_grant).await.1, "unsupported_grant_type");
    let password = emu.token_request(true, &[("grant_type", "password")]).await;
    assert_eq!(oauth_error(password).await.1, "unsupported_grant_type");
    let no_code = emu
        .token_request(
            true,
            &[
                ("grant_type", "authorization_code"),
                ("redirect_uri", REDIRECT_URI),
            ],
        )
        .await;
    assert_eq!(oauth_error(no_code).await.1, "invalid_request");
}

#[tokio::test]
async fn codes_expire_after_ten_minutes() {
    let emu = common::start().await;
    let code = emu.code_for("carol", &[]).await;
    emu.advance(10 * 60 * 1000 + 1).await;
    let response = emu
        .token_request(
            true,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
            ],
        )
        .await;
    assert_eq!(
        oauth_error(response).await,
        (
            StatusCode::BAD_REQUEST,
            "invalid_grant".into(),
            "Authorization code expired".into()
        )
    );
}

#[tokio::test]
async fn pkce_requires_the_matching_verifier() {
    let emu = common::start().await;
    let (verifier, challenge) = pkce_pair();
    let pkce = [
        ("code_challenge_method", "S256"),
        ("code_challenge", challenge.as_str()),
    ];

    let plain = emu
        .authorize(&[
            ("user", "erin"),
            ("code_challenge_method", "plain"),
            ("code_challenge", &verifier),
        ])
        .await;
    assert_eq!(
        param(&TestEmulator::redirect_params(&plain), "error"),
        Some("invalid_request")
    );

    let exchange = |code: String, verifier: Option<String>| {
        let emu = &emu;
        async move {
            let mut form = vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code),
                ("redirect_uri", REDIRECT_URI.to_owned()),
                ("client_id", CLIENT_ID.to_owned()),
            ];
            if let Some(v) = verifier {
                form.push(("code_verifier", v));
            }
            emu.http
                .post(emu.url("/api/token"))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };

    let code = emu.code_for("erin", &pkce).await;
    let wrong = exchange(
        code.clone(),
        Some("not-the-verifier-not-the-verifier-not-the-verifier".into()),
    )
    .await;
    assert_eq!(oauth_error(wrong).await.1, "invalid_grant");
    // The failed attempt used the code up.
    assert_eq!(
        oauth_error(exchange(code, Some(verifier.clone())).await)
            .await
            .1,
        "invalid_grant"
    );

    let code = emu.code_for("erin", &pkce).await;
    assert_eq!(
        oauth_error(exchange(code, None).await).await.1,
        "invalid_request"
    );

    // A code issued without PKCE cannot be redeemed by a public client.
    let code = emu.code_for("erin", &[]).await;
    assert_eq!(
        oauth_error(exchange(code, Some(verifier.clone())).await)
            .await
            .1,
        "invalid_client"
    );

    let code = emu.code_for("erin", &pkce).await;
    let response = exchange(code, Some(verifier.clone())).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // PKCE refresh tokens rotate; the old one dies.
    let refresh = |token: String| {
        let emu = &emu;
        async move {
            emu.http
                .post(emu.url("/api/token"))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", token.as_str()),
                    ("client_id", CLIENT_ID),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let rotated: Value = refresh(first_refresh.clone()).await.json().await.unwrap();
    let second_refresh = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(
        oauth_error(refresh(first_refresh).await).await.1,
        "invalid_grant"
    );
    assert_eq!(refresh(second_refresh).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn access_tokens_expire_and_refresh_keeps_the_refresh_token() {
    let emu = common::start_with(|c| c.token_ttl = Duration::from_secs(120)).await;
    let tokens = emu.login("frank").await;
    assert_eq!(
        emu.get(&tokens.access, "/v1/me").await.status(),
        StatusCode::OK
    );

    emu.advance(120_000).await;
    let expired = emu.get(&tokens.access, "/v1/me").await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    let body: Value = expired.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "error": { "status": 401, "message": "The access token expired" } })
    );

    let response = emu
        .token_request(
            true,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &tokens.refresh),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let refreshed: Value = response.json().await.unwrap();
    assert_eq!(refreshed["expires_in"], 120);
    assert!(
        refreshed.get("refresh_token").is_none(),
        "confidential clients keep their refresh token"
    );
    let access = refreshed["access_token"].as_str().unwrap();
    assert_ne!(access, tokens.access);
    assert_eq!(emu.get_json(access, "/v1/me").await["id"], "frank");

    // Refresh tokens die six months after the user authorized, refreshing or not.
    emu.advance(184 * 24 * 3600 * 1000).await;
    let response = emu
        .token_request(
            true,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &tokens.refresh),
            ],
        )
        .await;
    assert_eq!(oauth_error(response).await.1, "invalid_grant");
}

#[tokio::test]
async fn web_api_rejects_missing_and_bad_tokens() {
    let emu = common::start().await;
    let none = emu.http.get(emu.url("/v1/me")).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.json::<Value>().await.unwrap()["error"]["message"],
        "No token provided"
    );
    let invalid = emu.get("garbage", "/v1/me").await;
    assert_eq!(
        invalid.json::<Value>().await.unwrap()["error"]["message"],
        "Invalid access token"
    );
    let basic = emu
        .http
        .get(emu.url("/v1/me"))
        .basic_auth("a", Some("b"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::BAD_REQUEST);

    // A token without the scope an endpoint needs gets 403.
    let code = emu.code_for("alice", &[("scope", "user-read-email")]).await;
    let tokens: Value = emu
        .token_request(
            true,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
            ],
        )
        .await
        .json()
        .await
        .unwrap();
    let narrow = tokens["access_token"].as_str().unwrap();
    let top = emu
        .api(Method::GET, narrow, "/v1/me/top/tracks", None)
        .await;
    assert_eq!(top.status(), StatusCode::FORBIDDEN);
    assert_eq!(emu.get(narrow, "/v1/me").await.status(), StatusCode::OK);
}
