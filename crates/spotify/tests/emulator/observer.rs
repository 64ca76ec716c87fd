//! The call observer: every exchange with Spotify is reported once, by its fixed endpoint
//! name, with its status (a 429 with its `Retry-After`); a call the rate-limit gate refuses
//! locally sends nothing and reports nothing.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::json;
use sesh_spotify::{CallInfo, CallObserver, CallOutcome, ClientOptions};

use crate::support::{PUBLIC_PKCE, TestSpotify, fast_options};

#[tokio::test]
async fn every_exchange_is_reported_by_endpoint_and_status_and_a_429_with_its_retry_after() {
    let spotify = TestSpotify::start().await;
    let seen: Arc<Mutex<Vec<CallInfo>>> = Arc::default();
    let log = seen.clone();
    let client = spotify.client_with(
        PUBLIC_PKCE,
        ClientOptions {
            observer: Some(CallObserver::new(move |info| {
                log.lock().unwrap().push(info);
            })),
            ..fast_options(PUBLIC_PKCE)
        },
    );
    let auth = spotify.login(&client, "alice").await;
    let token_calls: Vec<CallInfo> = seen.lock().unwrap().drain(..).collect();
    assert_eq!(token_calls.len(), 1, "{token_calls:?}");
    assert_eq!(token_calls[0].endpoint, "POST /api/token");
    assert_eq!(token_calls[0].outcome, CallOutcome::Status(200));

    client.devices(&auth).await.unwrap();
    spotify
        .fault(json!({ "method": "GET", "path": "/v1/me/player", "status": 429, "retry_after": 3, "count": 1 }))
        .await;
    client.player(&auth).await.unwrap_err();
    // Refused by the gate: not sent, not reported.
    client.player(&auth).await.unwrap_err();

    let calls = seen.lock().unwrap().clone();
    let summary: Vec<(&str, CallOutcome, Option<Duration>)> = calls
        .iter()
        .map(|c| (c.endpoint, c.outcome, c.retry_after))
        .collect();
    assert_eq!(
        summary,
        [
            ("GET /me/player/devices", CallOutcome::Status(200), None),
            (
                "GET /me/player",
                CallOutcome::Status(429),
                Some(Duration::from_secs(3))
            ),
        ]
    );
    assert!(calls.iter().all(|c| c.duration < Duration::from_secs(5)));
}
