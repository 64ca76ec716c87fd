//! 429 handling: `Retry-After` is honoured by not sending the request again too early,
//! per endpoint, and for the whole app when the quota is exhausted.

use std::time::{Duration, Instant};

use serde_json::json;
use sesh_spotify::{Market, SpotifyError};

use crate::support::{PUBLIC_PKCE, TestSpotify};

fn retry_after(err: &SpotifyError) -> (Duration, bool) {
    match err {
        SpotifyError::RateLimited {
            retry_after,
            quota_exceeded,
        } => (*retry_after, *quota_exceeded),
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn a_429_is_not_retried_before_retry_after() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "alice").await;
    spotify.clear_requests().await;
    spotify
        .fault(json!({ "method": "GET", "path": "/v1/me/player", "status": 429, "retry_after": 2, "count": 1 }))
        .await;

    let err = client.player(&auth).await.unwrap_err();
    let limited_at = Instant::now();
    let (wait, quota) = retry_after(&err);
    assert_eq!(wait, Duration::from_secs(2));
    assert!(!quota);
    assert_eq!(err.code(), "rate_limited");

    // Asking again straight away is answered locally with the time left.
    let err = client.player(&auth).await.unwrap_err();
    let (left, _) = retry_after(&err);
    assert!(
        left <= Duration::from_secs(2) && left > Duration::from_millis(1500),
        "{left:?}"
    );
    // A 429 on one endpoint does not block the others.
    client.devices(&auth).await.unwrap();
    assert_eq!(spotify.requests("GET", "/v1/me/player").await.len(), 1);

    // Waiting out the Retry-After is the point of this test, not a wait for a server.
    tokio::time::sleep(left).await;
    assert!(limited_at.elapsed() >= Duration::from_secs(2) - Duration::from_millis(500));
    client.player(&auth).await.unwrap();

    let log = spotify.requests("GET", "/v1/me/player").await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0].status, 429);
    assert!(log[1].status == 200 || log[1].status == 204, "{log:?}");
    let gap = log[1].at_ms - log[0].at_ms;
    assert!(gap >= 2000, "the request was sent again after {gap} ms");
}

#[tokio::test]
async fn an_exhausted_quota_blocks_every_endpoint() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "alice").await;
    spotify.clear_requests().await;
    spotify
        .fault(json!({
            "method": "GET", "path": "/v1/search", "status": 429, "retry_after": 120,
            "reason": "QUOTA_EXCEEDED", "count": 1
        }))
        .await;

    let err = client
        .search_tracks(&auth, "love", Market::FromToken, 5, 0)
        .await
        .unwrap_err();
    assert_eq!(retry_after(&err), (Duration::from_secs(120), true));
    assert_eq!(err.reason(), Some("QUOTA_EXCEEDED"));

    let err = client.pause(&auth, None).await.unwrap_err();
    assert!(retry_after(&err).1);
    assert!(
        spotify
            .requests("PUT", "/v1/me/player/pause")
            .await
            .is_empty()
    );
    // Clones share the block: it is per app.
    let err = client.clone().me(&auth).await.unwrap_err();
    assert!(retry_after(&err).0 > Duration::from_secs(100));
}

#[tokio::test]
async fn the_emulators_own_rate_limit_is_typed() {
    let spotify = TestSpotify::start().await;
    let client = spotify.client(PUBLIC_PKCE);
    let auth = spotify.login(&client, "alice").await;
    spotify
        .fault(
            json!({ "method": "GET", "path": "/v1/me/player/devices", "status": 429, "count": 1 }),
        )
        .await;
    // No Retry-After header: the client falls back to a default rather than hammering.
    let err = client.devices(&auth).await.unwrap_err();
    assert_eq!(retry_after(&err).0, sesh_spotify::DEFAULT_RETRY_AFTER);
}
