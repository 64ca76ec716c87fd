//! Token refresh: ahead of expiry, after a 401, once for many concurrent callers, with
//! rotated or kept refresh tokens, and `invalid_grant` as `ReauthRequired`.

use std::time::Duration;

use serde_json::json;
use sesh_spotify::{ExposeSecret, SpotifyError, UserAuth};

use crate::support::{CONFIDENTIAL, PUBLIC_PKCE, TestSpotify};

/// Shorter than the client's 60-second margin, so every call finds the token "about to expire".
const SHORT_TTL: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_token_near_expiry_is_refreshed_before_the_call() {
    let spotify = TestSpotify::start_with(SHORT_TTL).await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "alice").await;
    let before = auth.current();
    let mut updates = auth.subscribe();
    assert_eq!(spotify.token_calls().await, 1);

    assert_eq!(client.me(&auth).await.unwrap().id, "alice");

    assert_eq!(
        spotify.token_calls().await,
        2,
        "one refresh before the call"
    );
    assert!(
        updates.has_changed().unwrap(),
        "subscribers hear about the refresh"
    );
    let after = updates.borrow_and_update().clone();
    assert_ne!(after.access.expose_secret(), before.access.expose_secret());
    // A PKCE (public) client gets a rotated refresh token and must store it.
    let old_refresh = before.refresh.unwrap();
    let new_refresh = after.refresh.clone().unwrap();
    assert_ne!(new_refresh.expose_secret(), old_refresh.expose_secret());
    assert_eq!(after.scope, before.scope, "scope survives the refresh");
    // The rotated-away token is dead; the stored one works.
    assert!(matches!(
        client.refresh(&old_refresh).await,
        Err(SpotifyError::ReauthRequired)
    ));
    client.refresh(&new_refresh).await.unwrap();
}

#[tokio::test]
async fn a_fresh_token_is_not_refreshed() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "alice").await;
    let updates = auth.subscribe();
    client.me(&auth).await.unwrap();
    client.devices(&auth).await.unwrap();
    assert_eq!(spotify.token_calls().await, 1, "only the code exchange");
    assert!(!updates.has_changed().unwrap());
}

#[tokio::test]
async fn a_confidential_refresh_keeps_the_refresh_token() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(CONFIDENTIAL);
    let tokens = spotify.login_tokens(&client, "bob").await;
    let refresh = tokens.refresh.clone().unwrap();
    let refreshed = client.refresh(&refresh).await.unwrap();
    assert_ne!(
        refreshed.access.expose_secret(),
        tokens.access.expose_secret()
    );
    assert_eq!(
        refreshed.refresh.unwrap().expose_secret(),
        refresh.expose_secret(),
        "the answer has no refresh_token, so the old one is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_share_one_refresh() {
    // The emulator revokes the access token early (a normal lifetime otherwise): every caller
    // that still holds it gets 401 and needs the one refresh. (With a lifetime shorter than
    // the refresh margin, a caller scheduled after the refresh would find the new token
    // "about to expire" too and rightly refresh again; the test failed that way under load.)
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "alice").await;
    spotify.user_action("alice", "expire-tokens").await;
    spotify.clear_requests().await;

    let calls: Vec<_> = (0..12)
        .map(|_| {
            let client = client.clone();
            let auth = auth.clone();
            tokio::spawn(async move { client.devices(&auth).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }

    assert_eq!(
        spotify.token_calls().await,
        1,
        "one refresh for twelve callers"
    );
    let devices = spotify.requests("GET", "/v1/me/player/devices").await;
    let answered = devices.iter().filter(|r| r.status == 200).count();
    assert_eq!(answered, 12, "{devices:?}");
    assert!(
        devices.iter().all(|r| r.status == 200 || r.status == 401),
        "{devices:?}"
    );
    assert!(
        devices.len() <= 24,
        "each caller retried at most once: {devices:?}"
    );
}

#[tokio::test]
async fn a_401_refreshes_and_retries_once() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "alice").await;
    let mut updates = auth.subscribe();
    spotify.clear_requests().await;
    spotify
        .fault(
            json!({ "method": "GET", "path": "/v1/me/player/devices", "status": 401, "count": 1 }),
        )
        .await;

    let devices = client.devices(&auth).await.unwrap();
    assert!(!devices.is_empty());

    let log = spotify.requests("GET", "/v1/me/player/devices").await;
    assert_eq!(log.iter().map(|r| r.status).collect::<Vec<_>>(), [401, 200]);
    assert_eq!(spotify.token_calls().await, 1);
    assert!(updates.has_changed().unwrap());
    updates.mark_unchanged();

    // A token the emulator expired early behaves the same way.
    spotify.user_action("alice", "expire-tokens").await;
    assert_eq!(client.me(&auth).await.unwrap().id, "alice");
    assert_eq!(spotify.token_calls().await, 2);
    assert!(updates.has_changed().unwrap());
}

#[tokio::test]
async fn a_second_401_is_not_retried_again() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "alice").await;
    spotify.clear_requests().await;
    spotify
        .fault(json!({ "method": "PUT", "path": "/v1/me/player/pause", "status": 401, "count": 5 }))
        .await;

    let err = client.pause(&auth, None).await.unwrap_err();
    assert_eq!(err.code(), "spotify_unauthorized", "{err:?}");
    assert_eq!(
        spotify.requests("PUT", "/v1/me/player/pause").await.len(),
        2
    );
    assert_eq!(spotify.token_calls().await, 1);
}

#[tokio::test]
async fn a_revoked_user_must_log_in_again() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(CONFIDENTIAL);
    let auth = spotify.login(&client, "bob").await;
    client.me(&auth).await.unwrap();

    spotify.user_action("bob", "revoke").await;

    let err = client.me(&auth).await.unwrap_err();
    assert!(matches!(err, SpotifyError::ReauthRequired), "{err:?}");
    assert_eq!(err.code(), "reauth_required");
    let refresh = auth.current().refresh.unwrap();
    assert!(matches!(
        client.refresh(&refresh).await,
        Err(SpotifyError::ReauthRequired)
    ));
}

#[tokio::test]
async fn without_a_refresh_token_an_expired_user_must_log_in_again() {
    let spotify = TestSpotify::start_with(SHORT_TTL).await;
    let client = spotify.client(PUBLIC_PKCE);
    let mut tokens = spotify.login_tokens(&client, "alice").await;
    tokens.refresh = None;
    tokens.expires_at = std::time::SystemTime::now() - Duration::from_secs(1);
    let auth = UserAuth::new(tokens);
    let err = client.me(&auth).await.unwrap_err();
    assert!(matches!(err, SpotifyError::ReauthRequired), "{err:?}");
}

#[tokio::test]
async fn a_cancelled_call_still_stores_the_rotated_refresh_token() {
    let spotify = TestSpotify::start_with(SHORT_TTL).await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "alice").await;
    let old_refresh = auth.current().refresh.unwrap();
    let mut updates = auth.subscribe();
    // The refresh answer comes late; the caller gives up before it does.
    spotify
        .fault(json!({ "method": "POST", "path": "/api/token", "delay_ms": 500, "count": 1 }))
        .await;

    let cancelled = tokio::time::timeout(Duration::from_millis(100), client.me(&auth)).await;
    assert!(cancelled.is_err(), "the call was cancelled mid-refresh");

    tokio::time::timeout(Duration::from_secs(5), updates.changed())
        .await
        .expect("the refresh finishes on its own")
        .unwrap();
    let stored = auth.current().refresh.unwrap();
    assert_ne!(
        stored.expose_secret(),
        old_refresh.expose_secret(),
        "rotated token stored"
    );
    assert_eq!(spotify.token_calls().await, 2);
}
