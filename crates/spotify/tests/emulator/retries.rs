//! Retries: GETs retry 5xx and timeouts a bounded number of times; player commands never.

use std::time::Duration;

use serde_json::json;
use sesh_spotify::{ClientOptions, PlayRequest, RetryPolicy, SpotifyError};

use crate::support::{PUBLIC_PKCE, TestSpotify, fast_options};

#[tokio::test]
async fn a_get_survives_transient_server_errors() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "alice").await;
    spotify.clear_requests().await;
    spotify
        .fault(
            json!({ "method": "GET", "path": "/v1/me/player/devices", "status": 503, "count": 2 }),
        )
        .await;

    client.devices(&auth).await.unwrap();
    let log = spotify.requests("GET", "/v1/me/player/devices").await;
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 503, 200]
    );
}

#[tokio::test]
async fn get_retries_are_bounded() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "alice").await;
    spotify.clear_requests().await;
    spotify
        .fault(json!({ "method": "GET", "path": "/v1/me", "status": 500, "count": 10 }))
        .await;

    let err = client.me(&auth).await.unwrap_err();
    assert!(
        matches!(
            err,
            SpotifyError::Unavailable {
                status: Some(500),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "spotify_unavailable");
    assert_eq!(
        spotify.requests("GET", "/v1/me").await.len(),
        3,
        "max_attempts = 3"
    );
}

#[tokio::test]
async fn player_commands_are_never_retried_blindly() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "alice").await;
    spotify.clear_requests().await;
    spotify
        .fault(json!({ "method": "POST", "path": "/v1/me/player/next", "status": 503, "count": 1 }))
        .await;
    spotify
        .fault(json!({ "method": "PUT", "path": "/v1/me/player/play", "status": 502, "count": 1 }))
        .await;

    let err = client.next(&auth, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            SpotifyError::Unavailable {
                status: Some(503),
                ..
            }
        ),
        "{err:?}"
    );
    let err = client
        .play(&auth, None, &PlayRequest::resume())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SpotifyError::Unavailable {
                status: Some(502),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        spotify.requests("POST", "/v1/me/player/next").await.len(),
        1
    );
    assert_eq!(spotify.requests("PUT", "/v1/me/player/play").await.len(), 1);
}

#[tokio::test]
async fn a_get_that_times_out_is_retried() {
    let spotify = TestSpotify::start().await;
    let options = ClientOptions {
        request_timeout: Duration::from_millis(400),
        retry: RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
        },
        ..fast_options(PUBLIC_PKCE)
    };
    let client = spotify.client_with(PUBLIC_PKCE, options);
    let auth = spotify.login(&client, "alice").await;
    // Delay only: the first answer comes too late, then the request behaves normally.
    spotify
        .fault(json!({ "method": "GET", "path": "/v1/me", "delay_ms": 1500, "count": 1 }))
        .await;
    assert_eq!(client.me(&auth).await.unwrap().id, "alice");

    spotify
        .fault(
            json!({ "method": "PUT", "path": "/v1/me/player/pause", "delay_ms": 1500, "count": 1 }),
        )
        .await;
    let err = client.pause(&auth, None).await.unwrap_err();
    assert!(
        matches!(err, SpotifyError::Unavailable { status: None, .. }),
        "{err:?}"
    );
}
