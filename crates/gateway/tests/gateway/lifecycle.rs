//! A session's end when nobody uses it, through the real server (issue 19): unattended (the
//! music paused, or nobody connected) for `SESH_SESSION_IDLE_TIMEOUT` it becomes idle — its
//! poller stops and the members still connected are told when it ends — and ends
//! `SESH_SESSION_END_WARNING` later; a member's action in between brings it back. Sessions
//! whose hub unloaded are ended by the sweeper. The times are shortened here.

use std::time::Duration;

use reqwest::StatusCode;
use sesh_gateway::settings::HumanDuration;

use crate::common::{Closed, TestApp, on_store, party, spawn_app_with};

async fn short_lived(idle: Duration, warning: Duration) -> TestApp {
    spawn_app_with(|s| {
        s.session_idle_timeout = HumanDuration(idle);
        s.session_end_warning = HumanDuration(warning);
        s.hub_idle_timeout = HumanDuration(Duration::from_millis(300));
    })
    .await
}

/// Every Web API call the emulator saw, as `METHOD path`.
async fn spotify_calls(app: &TestApp) -> Vec<String> {
    let log = app.emulator_get("/_emulator/requests").await;
    log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/v1/")))
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn a_paused_session_goes_idle_warns_ends_and_stops_calling_spotify() {
    let app = short_lived(Duration::from_millis(1500), Duration::from_millis(1500)).await;
    let mut p = party(&app, &["bob"]).await;
    let id = p.id.clone();
    let (status, _) = p
        .host
        .post(&format!("/api/sessions/{id}/player/pause"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Idle: both members are told when it ends.
    let mut ends = Vec::new();
    for ws in &mut p.sockets {
        let idle = ws.next_of_type("session_idle").await;
        ends.push(idle["ends_at_ms"].as_i64().unwrap());
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        ends[0] > now_ms && ends[0] <= now_ms + 1_600,
        "{ends:?} vs {now_ms}"
    );
    // Nobody acts (the sockets stay open: being connected to a paused session is not using it).
    app.emulator_clear_requests().await;
    for ws in &mut p.sockets {
        ws.next_of_type("session_ended").await;
        assert_eq!(ws.closed().await, Closed::Code(1000));
    }
    // Stored, and no more Spotify calls for it.
    let (_, view) = p.host.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(view["state"], "ended", "{view}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = spotify_calls(&app).await;
    assert!(calls.is_empty(), "Spotify calls after the end: {calls:?}");
}

#[tokio::test]
async fn a_members_action_while_idle_keeps_the_session() {
    let app = short_lived(Duration::from_millis(800), Duration::from_secs(3)).await;
    let mut p = party(&app, &["bob"]).await;
    let id = p.id.clone();
    let (status, _) = p
        .host
        .post(&format!("/api/sessions/{id}/player/pause"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for ws in &mut p.sockets {
        ws.next_of_type("session_idle").await;
    }
    // The poller stopped: no player reads while idle.
    app.emulator_clear_requests().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.player_polls("alice").await, 0);
    // Bob looks at the session (any request or frame of a member): live again for everyone,
    // and it does not end at the warned time.
    let (status, _) = p.guests[0].get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    for ws in &mut p.sockets {
        ws.next_of_type("session_active").await;
    }
    let (status, _) = p
        .host
        .post(&format!("/api/sessions/{id}/player/play"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (_, view) = p.host.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(view["state"], "playing", "{view}");
    assert!(app.player_polls("alice").await > 0, "the poller is back");
}

#[tokio::test]
async fn a_session_nobody_came_back_to_is_ended_by_the_sweeper() {
    let app = short_lived(Duration::from_secs(1), Duration::from_millis(500)).await;
    let host = app.login("alice").await;
    let (status, created) = host.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    // A lobby nobody opens: its hub unloads, and the sweeper ends it from the database.
    let mut state = String::new();
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let store = app.store().await;
        state = on_store!(store, |c| sqlx::query_scalar(
            "SELECT state FROM listening_sessions WHERE id = $1"
        )
        .bind(&id)
        .fetch_one(c)
        .await
        .unwrap());
        store.close().await;
        if state == "ended" {
            break;
        }
    }
    assert_eq!(state, "ended");
}
