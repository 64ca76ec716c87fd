//! Listening along through the real server and the emulator, at the default intervals
//! (`SESH_LISTEN_CHECK_INTERVAL` 30 s, `SESH_LISTEN_VERIFY_DELAY` 4 s): a track change reaches
//! every listener's device as one `PUT play` at the host's position; a listener who plays
//! something else is detached within a check interval and gets no further call; idle listeners
//! cost about two reads a minute each; a free account's opt-in is refused and nothing stored;
//! a restarted server resumes its listeners.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Browser, TestApp, on_store, party, spawn_app};

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// The Web API requests made with `user`'s token since `since_ms` (real time), optionally of
/// one method and path.
async fn calls_of(app: &TestApp, user: &str, since_ms: i64, filter: &str) -> Vec<Value> {
    let log = app
        .emulator_get(&format!(
            "/_emulator/requests?user_id={user}&since_ms={since_ms}{filter}"
        ))
        .await;
    log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/v1/")))
        .cloned()
        .collect()
}

async fn plays_of(app: &TestApp, user: &str, since_ms: i64) -> Vec<Value> {
    calls_of(app, user, since_ms, "&method=PUT&path=/v1/me/player/play").await
}

/// `POST …/listen` on `who`'s first device.
async fn listen(who: &Browser, id: &str) -> (StatusCode, Value) {
    let device = who.device_id().await;
    who.post(
        &format!("/api/sessions/{id}/listen"),
        Some(json!({ "device_id": device })),
    )
    .await
}

/// `user`'s `listening` in the members list.
async fn listening_of(who: &Browser, id: &str, user: &str) -> Value {
    let (status, page) = who.get(&format!("/api/sessions/{id}/members")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == user)
        .map(|m| m["listening"].clone())
        .expect("a member")
}

async fn stored_listeners(app: &TestApp) -> Vec<(String, String)> {
    let store = app.store().await;
    let rows = on_store!(store, |c| sqlx::query_as(
        "SELECT user_id, state FROM session_listeners ORDER BY user_id"
    )
    .fetch_all(c)
    .await
    .unwrap());
    store.close().await;
    rows
}

/// Waits (up to `within`) until `done` holds.
async fn eventually<F: Future<Output = bool>>(
    within: Duration,
    mut done: impl FnMut() -> F,
) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Waits until each of `users` had their player read back after the opt-in (the verify).
async fn verified(app: &TestApp, users: &[&str], since_ms: i64) {
    for user in users {
        let read = eventually(Duration::from_secs(10), || async {
            !calls_of(app, user, since_ms, "&method=GET&path=/v1/me/player")
                .await
                .is_empty()
        })
        .await;
        assert!(read, "{user}'s player was never read back");
    }
}

#[tokio::test]
async fn a_track_change_reaches_each_listener_as_one_play_at_the_hosts_position() {
    let app = spawn_app().await;
    let mut p = party(&app, &["bob", "carol"]).await;
    let since = now_ms();
    for guest in &p.guests {
        let (status, body) = listen(guest, &p.id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["listening"], "in_sync");
    }
    // The opt-in itself plays the host's track on each listener's device.
    let host = app.emulator_player("alice").await;
    for user in ["bob", "carol"] {
        let listener = app.emulator_player(user).await;
        assert_eq!(listener["current_uri"], host["current_uri"], "{listener}");
        assert_eq!(listener["is_playing"], true, "{listener}");
    }
    // Everyone sees both listening along.
    for ws in &mut p.sockets {
        for user in ["bob", "carol"] {
            ws.next_matching(|f| {
                f["type"] == "listening" && f["user_id"] == user && f["listening"] == "in_sync"
            })
            .await;
        }
    }
    verified(&app, &["bob", "carol"], since).await;

    let before = app.emulator_player("alice").await["current_uri"].clone();
    let skipped = now_ms();
    let (status, body) = p
        .host
        .post(&format!("/api/sessions/{}/player/next", p.id), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for user in ["bob", "carol"] {
        let played = eventually(Duration::from_secs(2), || async {
            !plays_of(&app, user, skipped).await.is_empty()
        })
        .await;
        assert!(
            played,
            "{user}'s device got no play within 2 s of the track change"
        );
    }
    // Where each listener is against the host, read at the same moment of the emulator's clock.
    let host = app.emulator_player("alice").await;
    assert_ne!(host["current_uri"], before, "the host's track changed");
    for user in ["bob", "carol"] {
        let listener = app.emulator_player(user).await;
        assert_eq!(listener["current_uri"], host["current_uri"], "{listener}");
        assert_eq!(listener["is_playing"], true, "{listener}");
        let drift =
            listener["position_ms"].as_i64().unwrap() - host["position_ms"].as_i64().unwrap();
        assert!(
            drift.abs() <= 1_500,
            "{user} is {drift} ms off the host ({listener} vs {host})"
        );
    }
    // Exactly one play each for that change (the verify comes 4 s later and is a read).
    let elapsed = u64::try_from(now_ms() - skipped).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(2_000u64.saturating_sub(elapsed))).await;
    for (user, guest) in ["bob", "carol"].into_iter().zip(&p.guests) {
        let plays = plays_of(&app, user, skipped).await;
        assert_eq!(plays.len(), 1, "{user}: {plays:?}");
        let device = guest.device_id().await;
        assert!(
            plays[0]["query"].as_str().unwrap().contains(&device),
            "{plays:?}"
        );
    }
    // The host's own player got no call with a listener's token, and the host is not a
    // listener: their opt-in is refused.
    let (status, body) = listen(&p.host, &p.id).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
}

#[tokio::test]
async fn a_listener_who_plays_something_else_is_detached_and_left_alone() {
    let app = spawn_app().await;
    let mut p = party(&app, &["bob"]).await;
    let since = now_ms();
    let (status, body) = listen(&p.guests[0], &p.id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    verified(&app, &["bob"], since).await;

    // Bob plays something else in his own Spotify app.
    let host_uri = app.emulator_player("alice").await["current_uri"].clone();
    let bob = app.emulator_get("/_emulator/users/bob").await;
    let other = bob["top_tracks"]["long_term"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| **u != host_uri)
        .unwrap()
        .clone();
    app.emulator_post(
        "/_emulator/users/bob/player",
        json!({ "action": "play", "uris": [other] }),
    )
    .await;
    let left = Instant::now();
    // Detached within a check interval (30 s) and a margin, and everyone is told.
    let detached = eventually(Duration::from_secs(35), || async {
        listening_of(&p.host, &p.id, "bob").await == "detached"
    })
    .await;
    assert!(detached, "bob was not detached within 35 s");
    assert!(left.elapsed() <= Duration::from_secs(35));
    for ws in &mut p.sockets {
        ws.next_matching(|f| {
            f["type"] == "listening" && f["user_id"] == "bob" && f["listening"] == "detached"
        })
        .await;
    }
    assert_eq!(
        stored_listeners(&app).await,
        vec![("bob".to_owned(), "detached".to_owned())]
    );

    // The session moves on: nothing reaches bob's player, which plays what he chose.
    let detached_at = now_ms();
    let (status, _) = p
        .host
        .post(&format!("/api/sessions/{}/player/next", p.id), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let moved = eventually(Duration::from_secs(5), || async {
        app.emulator_player("alice").await["current_uri"] != host_uri
    })
    .await;
    assert!(moved, "the host's track did not change");
    // Long enough for the poll that sees it and for any call it would have caused.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let calls = calls_of(&app, "bob", detached_at, "").await;
    assert!(calls.is_empty(), "a detached listener got calls: {calls:?}");
    assert_eq!(app.emulator_player("bob").await["current_uri"], other);

    // Rejoin: in sync again, on the session's track.
    let rejoined = now_ms();
    let (status, body) = listen(&p.guests[0], &p.id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(listening_of(&p.host, &p.id, "bob").await, "in_sync");
    assert_eq!(plays_of(&app, "bob", rejoined).await.len(), 1);
    assert_eq!(
        app.emulator_player("bob").await["current_uri"],
        app.emulator_player("alice").await["current_uri"]
    );

    // Opting out stops the calls and leaves bob's player playing.
    let (status, _) = p.guests[0]
        .send(
            reqwest::Method::DELETE,
            &format!("/api/sessions/{}/listen", p.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(listening_of(&p.host, &p.id, "bob").await, Value::Null);
    assert!(stored_listeners(&app).await.is_empty());
    assert_eq!(app.emulator_player("bob").await["is_playing"], true);
}

#[tokio::test]
async fn four_idle_listeners_cost_at_most_twelve_calls_a_minute() {
    let app = spawn_app().await;
    let guests = ["bob", "carol", "erin", "frank"];
    let p = party(&app, &guests).await;
    // A track with more than the minute to go, so nothing changes while we count.
    for _ in 0..5 {
        if app.emulator_player("alice").await["duration_ms"]
            .as_i64()
            .unwrap()
            > 90_000
        {
            break;
        }
        let (status, _) = p
            .host
            .post(&format!("/api/sessions/{}/player/next", p.id), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let (status, body) = p
        .host
        .post(
            &format!("/api/sessions/{}/player/seek", p.id),
            Some(json!({ "position_ms": 0 })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let since = now_ms();
    for guest in &p.guests {
        let (status, body) = listen(guest, &p.id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    verified(&app, &guests, since).await;

    let from = now_ms();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let mut total = 0;
    for user in guests {
        let calls = calls_of(&app, user, from, "").await;
        assert!(calls.len() <= 3, "{user}: {calls:?}");
        total += calls.len();
    }
    assert!(total <= 12, "{total} calls in a minute");
    // The host's polling is the session's as ever: about one a second.
    let polls = calls_of(&app, "alice", from, "&method=GET&path=/v1/me/player").await;
    assert!(polls.len() <= 66, "{} host polls in a minute", polls.len());
}

#[tokio::test]
async fn a_free_accounts_opt_in_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let mut p = party(&app, &["dave", "carol"]).await;
    let (status, body) = listen(&p.guests[0], &p.id).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "premium_required");
    assert!(stored_listeners(&app).await.is_empty());
    assert_eq!(listening_of(&p.host, &p.id, "dave").await, Value::Null);
    // Only that one call with dave's token: no retry.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let dave = app
        .emulator_get("/_emulator/requests?user_id=dave&method=PUT")
        .await;
    assert_eq!(dave["requests"].as_array().unwrap().len(), 1, "{dave}");

    // A member who leaves stops listening along (their row goes, everyone is told).
    let (status, _) = listen(&p.guests[1], &p.id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored_listeners(&app).await.len(), 1);
    let (status, _) = p.guests[1]
        .post(&format!("/api/sessions/{}/leave", p.id), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(stored_listeners(&app).await.is_empty());
    p.sockets[0]
        .next_matching(|f| {
            f["type"] == "listening" && f["user_id"] == "carol" && f["listening"].is_null()
        })
        .await;
}

#[tokio::test]
async fn a_restarted_server_resumes_its_listeners() {
    let mut app = spawn_app().await;
    let p = party(&app, &["bob"]).await;
    let (status, _) = listen(&p.guests[0], &p.id).await;
    assert_eq!(status, StatusCode::OK);
    drop(p.sockets);
    app.restart().await;
    assert_eq!(listening_of(&p.host, &p.id, "bob").await, "in_sync");
    // The revived session steers bob's player again: a track change reaches it.
    let mut ws = p.host.ws(&p.id).await;
    ws.next_of_type("welcome").await;
    let skipped = now_ms();
    let (status, _) = p
        .host
        .post(&format!("/api/sessions/{}/player/next", p.id), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let played = eventually(Duration::from_secs(3), || async {
        !plays_of(&app, "bob", skipped).await.is_empty()
    })
    .await;
    assert!(played, "no play reached bob after the restart");
}
