//! The authorization-code flow end to end: public client with PKCE, confidential client
//! with and without PKCE, and the ways the accounts service says no.

use sesh_spotify::{ExposeSecret, SCOPES, SecretString, SpotifyError};

use crate::support::{CONFIDENTIAL, CONFIDENTIAL_PKCE, PUBLIC_PKCE, TestSpotify};

#[tokio::test]
async fn public_client_logs_in_with_pkce() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let login = client.authorize_url();
    assert!(
        login
            .url
            .query_pairs()
            .any(|(k, v)| k == "code_challenge_method" && v == "S256")
    );

    let tokens = spotify.login_tokens(&client, "alice").await;
    assert!(
        tokens.refresh.is_some(),
        "a refresh token comes with the code exchange"
    );
    for scope in SCOPES {
        assert!(
            tokens.has_scope(scope),
            "scope {scope} missing from {:?}",
            tokens.scope
        );
    }
    assert!(!tokens.expires_within(std::time::Duration::from_secs(3000)));

    let auth = sesh_spotify::UserAuth::new(tokens);
    let me = client.me(&auth).await.unwrap();
    assert_eq!(me.id, "alice");
    assert_eq!(me.name(), "Alice Andersson");

    // The token call went out without Basic auth; the emulator attributes it to the app.
    assert_eq!(spotify.token_calls().await, 1);
}

#[tokio::test]
async fn confidential_client_logs_in_without_pkce() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(CONFIDENTIAL);
    let login = client.authorize_url();
    assert!(
        !login
            .url
            .query_pairs()
            .any(|(k, _)| k.starts_with("code_challenge"))
    );

    let auth = spotify.login(&client, "bob").await;
    assert_eq!(client.me(&auth).await.unwrap().id, "bob");
}

#[tokio::test]
async fn confidential_client_logs_in_with_pkce() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(CONFIDENTIAL_PKCE);
    let auth = spotify.login(&client, "carol").await;
    assert_eq!(client.me(&auth).await.unwrap().id, "carol");
}

#[tokio::test]
async fn a_wrong_verifier_is_refused() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let (code, _verifier) = spotify.authorize(&client, "alice").await;
    let wrong = SecretString::from("x".repeat(64));
    let err = client.exchange_code(&code, &wrong).await.unwrap_err();
    match &err {
        SpotifyError::OAuth { error, .. } => assert_eq!(error, "invalid_grant"),
        other => panic!("expected an OAuth error, got {other:?}"),
    }
    assert_eq!(err.code(), "oauth_error");
}

#[tokio::test]
async fn a_code_works_once() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(CONFIDENTIAL);
    let (code, verifier) = spotify.authorize(&client, "alice").await;
    client.exchange_code(&code, &verifier).await.unwrap();
    let err = client.exchange_code(&code, &verifier).await.unwrap_err();
    assert!(
        matches!(&err, SpotifyError::OAuth { error, .. } if error == "invalid_grant"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_wrong_client_secret_is_invalid_client() {
    let spotify = TestSpotify::start().await;
    let good = spotify.client(CONFIDENTIAL);
    let (code, verifier) = spotify.authorize(&good, "alice").await;
    let bad = sesh_spotify::SpotifyClient::with_options(
        spotify.config(Some("not-the-secret")),
        crate::support::fast_options(CONFIDENTIAL),
    )
    .unwrap();
    let err = bad.exchange_code(&code, &verifier).await.unwrap_err();
    assert!(
        matches!(&err, SpotifyError::OAuth { error, .. } if error == "invalid_client"),
        "{err:?}"
    );
    // Nothing secret leaks into the error text.
    let printed = format!("{err:?} {err}");
    assert!(!printed.contains("not-the-secret"), "{printed}");
    assert!(!printed.contains(verifier.expose_secret()), "{printed}");
}
