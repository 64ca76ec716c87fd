//! The whole player from the web (seek, volume, repeat, transfer, reshuffle) end to end against
//! the emulator, and the hub that never waits on Spotify.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::common::{self, Browser, Ws, spawn_app, welcome};

/// Alice hosts, bob joins; both connected; alice started on her first device. Returns the
/// session id and both sockets (past their `session_started`).
async fn playing_session(app: &common::TestApp) -> (String, Browser, Browser, Ws, Ws) {
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let (status, created) = alice.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["invite_code"].as_str().unwrap();
    let (status, _) = bob.post(&format!("/api/join/{code}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let mut ws_alice = alice.ws(&id).await;
    let mut ws_bob = bob.ws(&id).await;
    welcome(&mut ws_alice).await;
    welcome(&mut ws_bob).await;
    let (status, body) = alice.start_on_own_device(&id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    ws_bob.next_of_type("session_started").await;
    ws_alice.next_of_type("session_started").await;
    (id, alice, bob, ws_alice, ws_bob)
}

/// The next `playback` whose `changes` name `change`.
async fn playback_with(ws: &mut Ws, change: &str) -> Value {
    ws.next_matching(|f| {
        f["type"] == "playback"
            && f["changes"]
                .as_array()
                .is_some_and(|c| c.iter().any(|x| x == change))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_spotify_start_never_holds_up_joins_connects_or_snapshots() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let carol = app.login("carol").await;
    app.wait_for_top_tracks("carol").await;
    let (status, created) = alice.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["invite_code"].as_str().unwrap().to_owned();
    assert_eq!(
        bob.post(&format!("/api/join/{code}"), None).await.0,
        StatusCode::OK
    );
    let mut ws_bob = bob.ws(&id).await;
    welcome(&mut ws_bob).await;
    let device = alice.device_id().await;

    // Spotify takes 5 s to answer the start's `play`.
    app.emulator_post(
        "/_emulator/faults",
        json!({"method": "PUT", "path": "/v1/me/player/play", "delay_ms": 5000, "count": 1}),
    )
    .await;
    let asked = Instant::now();
    let start_path = format!("/api/sessions/{id}/start");
    let start = alice.post(&start_path, Some(json!({"device_id": device})));
    // Meanwhile carol joins, connects and reads the snapshot, each in normal time.
    let meanwhile = async {
        // Let the start reach the hub and Spotify.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let step = Instant::now();
        let (status, joined) = carol.post(&format!("/api/join/{code}"), None).await;
        assert_eq!(status, StatusCode::OK, "{joined}");
        assert_eq!(joined["state"], "lobby", "the start has not landed yet");
        let mut ws_carol = carol.ws(&id).await;
        let hello = welcome(&mut ws_carol).await;
        assert_eq!(hello["session"]["state"], "lobby");
        let (status, snapshot) = carol.get(&format!("/api/sessions/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(snapshot["member_count"], 3);
        (step.elapsed(), ws_carol)
    };
    let ((status, started), (took, mut ws_carol)) = tokio::join!(start, meanwhile);
    assert!(
        took < Duration::from_secs(2),
        "join + connect + snapshot took {took:?} while Spotify held the start's play for 5 s"
    );
    // The start completes afterwards, with carol's tracks woven in.
    assert_eq!(status, StatusCode::OK, "{started}");
    assert!(
        asked.elapsed() >= Duration::from_secs(5),
        "the start waited for Spotify"
    );
    for ws in [&mut ws_bob, &mut ws_carol] {
        let frame = ws.next_of_type("session_started").await;
        let queue = frame["queue"].as_array().unwrap();
        assert!(
            queue.iter().any(|e| e["added_by"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u == "carol")),
            "carol, who joined while Spotify answered, is in the queue: {frame}"
        );
    }
    // And Spotify gets the rest at the next track boundary (what it plays now is the plan).
    let player = app.emulator_player("alice").await;
    assert_eq!(player["is_playing"], true, "{player}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_volume_repeat_and_transfer_reach_spotify_and_come_back_as_changes() {
    let app = spawn_app().await;
    let (id, alice, _bob, mut ws_alice, mut ws_bob) = playing_session(&app).await;
    playback_with(&mut ws_bob, "track").await;

    // Seek (WebSocket).
    ws_alice
        .send(json!({"type": "seek", "position_ms": 60_000}))
        .await;
    let frame = playback_with(&mut ws_bob, "seek").await;
    assert!(frame["progress_ms"].as_u64().unwrap() >= 60_000, "{frame}");
    let player = app.emulator_player("alice").await;
    assert!(
        player["position_ms"].as_u64().unwrap() >= 60_000,
        "{player}"
    );

    // Volume (HTTP).
    let (status, body) = alice
        .post(
            &format!("/api/sessions/{id}/player/volume"),
            Some(json!({"percent": 30})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let frame = playback_with(&mut ws_bob, "volume").await;
    assert_eq!(frame["volume_percent"], 30, "{frame}");
    assert_eq!(frame["device"]["supports_volume"], true);

    // Repeat (WebSocket).
    ws_alice
        .send(json!({"type": "repeat", "state": "track"}))
        .await;
    let frame = playback_with(&mut ws_bob, "repeat").await;
    assert_eq!(frame["repeat"], "track", "{frame}");
    let player = app.emulator_player("alice").await;
    assert_eq!(player["repeat_state"], "track", "{player}");

    // Transfer to alice's other device (HTTP): it becomes the session's device.
    let (_, devices) = alice.get("/api/me/devices").await;
    let other = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["is_active"] == false && d["is_restricted"] == false)
        .and_then(|d| d["id"].as_str())
        .expect("alice has a second device")
        .to_owned();
    let (status, body) = alice
        .post(
            &format!("/api/sessions/{id}/player/transfer"),
            Some(json!({"device_id": other, "play": true})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let changed = ws_bob.next_of_type("device_changed").await;
    assert_eq!(changed["device"], other.as_str());
    let frame = playback_with(&mut ws_bob, "device").await;
    assert_eq!(frame["device"]["id"], other.as_str(), "{frame}");
    let (_, snapshot) = alice.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(
        snapshot["device"],
        other.as_str(),
        "stored as the session's device"
    );

    // Bad values never reach Spotify.
    for (path, body) in [
        ("volume", json!({"percent": 101})),
        ("seek", json!({"position_ms": -1})),
        ("repeat", json!({"state": "context"})),
        ("transfer", json!({"device_id": ""})),
    ] {
        let (status, answer) = alice
            .post(&format!("/api/sessions/{id}/player/{path}"), Some(body))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_json", "{path}: {answer}");
    }
    ws_alice
        .send(json!({"type": "volume", "percent": 300}))
        .await;
    assert_eq!(
        ws_alice.next_of_type("error").await["code"],
        "invalid_frame"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_gets_forbidden_for_every_player_command_and_nothing_changes() {
    let app = spawn_app().await;
    let (id, _alice, bob, _ws_alice, mut ws_bob) = playing_session(&app).await;
    let before = app.emulator_player("alice").await;
    for frame in [
        json!({"type": "seek", "position_ms": 1000}),
        json!({"type": "volume", "percent": 10}),
        json!({"type": "repeat", "state": "track"}),
        json!({"type": "transfer", "device_id": "x", "play": true}),
        json!({"type": "reshuffle"}),
        json!({"type": "pause"}),
        json!({"type": "next"}),
    ] {
        ws_bob.send(frame.clone()).await;
        let error = ws_bob.next_of_type("error").await;
        assert_eq!(error["code"], "forbidden", "{frame} → {error}");
    }
    for (path, body) in [
        ("seek", Some(json!({"position_ms": 1000}))),
        ("volume", Some(json!({"percent": 10}))),
        ("repeat", Some(json!({"state": "track"}))),
        ("transfer", Some(json!({"device_id": "x", "play": true}))),
        ("reshuffle", None),
    ] {
        let (status, answer) = bob
            .post(&format!("/api/sessions/{id}/player/{path}"), body)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
        assert_eq!(answer["error"]["code"], "forbidden");
    }
    let after = app.emulator_player("alice").await;
    assert_eq!(before["device_id"], after["device_id"]);
    assert_eq!(before["repeat_state"], after["repeat_state"]);
    assert_eq!(before["is_playing"], after["is_playing"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reshuffle_redraws_what_is_next_and_keeps_what_plays() {
    let app = spawn_app().await;
    let carol = app.login("carol").await;
    let erin = app.login("erin").await;
    let (id, alice, _bob, mut ws_alice, mut ws_bob) = playing_session(&app).await;
    // More members so that the upcoming part has room to change.
    let (_, snapshot) = alice.get(&format!("/api/sessions/{id}")).await;
    let code = snapshot["invite_code"].as_str().unwrap().to_owned();
    for guest in [&carol, &erin] {
        assert_eq!(
            guest.post(&format!("/api/join/{code}"), None).await.0,
            StatusCode::OK
        );
    }
    let (_, before) = alice
        .get(&format!("/api/sessions/{id}/queue?limit=500"))
        .await;
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["track"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let before_ids = ids(&before);
    let mut changed = false;
    for _ in 0..5 {
        ws_alice.send(json!({"type": "reshuffle"})).await;
        let frame = ws_bob.next_of_type("queue").await;
        let (_, after) = alice
            .get(&format!("/api/sessions/{id}/queue?limit=500"))
            .await;
        let after_ids = ids(&after);
        let position = frame["position"].as_u64().unwrap() as usize;
        assert_eq!(
            before_ids[..=position],
            after_ids[..=position],
            "played and playing stay"
        );
        let mut a = before_ids[position + 1..].to_vec();
        let mut b = after_ids[position + 1..].to_vec();
        changed |= a != b;
        a.sort();
        b.sort();
        assert_eq!(a, b, "the same upcoming entries");
        if changed {
            break;
        }
    }
    assert!(
        changed,
        "five reshuffles of {} upcoming entries never changed the order",
        before_ids.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volume_on_a_device_that_cannot_change_it_is_a_clear_error() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let (status, created) = alice.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap().to_owned();
    // A speaker whose volume is fixed.
    app.emulator_post(
        "/_emulator/users/alice/devices/fixed-volume",
        json!({"name": "Fixed speaker", "type": "Speaker", "supports_volume": false}),
    )
    .await;
    let (status, body) = alice
        .post(
            &format!("/api/sessions/{id}/start"),
            Some(json!({"device_id": "fixed-volume"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = alice
        .post(
            &format!("/api/sessions/{id}/player/volume"),
            Some(json!({"percent": 20})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "volume_control_disallowed", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_turns_spotifys_shuffle_off_and_a_hosts_shuffle_is_reported() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let device = alice.device_id().await;
    // Alice's own Spotify has shuffle on from before.
    app.emulator_post(
        "/_emulator/users/alice/player",
        json!({"action": "shuffle", "state": true}),
    )
    .await;
    let (status, created) = alice.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap().to_owned();
    let mut ws = alice.ws(&id).await;
    welcome(&mut ws).await;
    let (status, body) = alice
        .post(
            &format!("/api/sessions/{id}/start"),
            Some(json!({"device_id": device})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.emulator_player("alice").await["shuffle_state"], false);
    let first = ws.next_of_type("playback").await;
    assert_eq!(first["shuffle"], false, "{first}");
    // The host switches shuffle on in their own app: members are told.
    app.emulator_post(
        "/_emulator/users/alice/player",
        json!({"action": "shuffle", "state": true}),
    )
    .await;
    let frame = playback_with(&mut ws, "shuffle").await;
    assert_eq!(frame["shuffle"], true);
}
