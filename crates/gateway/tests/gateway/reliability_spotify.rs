//! Reliability against Spotify's faults, injected through the emulator's control API: rate
//! limits, expired and revoked tokens, 5xx and slow answers, the host taking their player over,
//! and a free host. The emulator's request log is the witness of what Sesh sent.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sesh_gateway::settings::HumanDuration;

use crate::common::{Browser, TestApp, Ws, playback_track, spawn_app_with};

const POLL: Duration = Duration::from_millis(100);

/// An app polling every 100 ms (Spotify requests time out after 300 ms).
async fn fast_app() -> TestApp {
    spawn_app_with(|s| {
        s.poll_interval = HumanDuration(POLL);
        s.poll_paused_interval = HumanDuration(POLL);
        s.poll_watch_interval = HumanDuration(POLL);
        s.spotify_timeout = HumanDuration(Duration::from_millis(300));
    })
    .await
}

/// A playing session: Alice hosts on her MacBook, Bob listens; both sockets have seen the
/// first `playback`.
struct Playing {
    alice: Browser,
    bob: Browser,
    id: String,
    code: String,
    device: String,
    ws_alice: Ws,
    ws_bob: Ws,
    queue: Vec<Value>,
}

async fn playing(app: &TestApp) -> Playing {
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let (status, created) = alice.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["invite_code"].as_str().unwrap().to_owned();
    let (status, _) = bob.post(&format!("/api/join/{code}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let mut ws_alice = alice.ws(&id).await;
    let mut ws_bob = bob.ws(&id).await;
    ws_alice.next_of_type("welcome").await;
    ws_bob.next_of_type("welcome").await;
    let device = alice.device_id().await;
    let (status, started) = alice
        .post(
            &format!("/api/sessions/{id}/start"),
            Some(json!({"device_id": device})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let queue = started["queue"].as_array().unwrap().clone();
    let first = queue[0]["track"]["id"].as_str().unwrap().to_owned();
    for ws in [&mut ws_alice, &mut ws_bob] {
        ws.next_matching(|f| f["type"] == "playback" && playback_track(f) == Some(first.clone()))
            .await;
    }
    Playing {
        alice,
        bob,
        id,
        code,
        device,
        ws_alice,
        ws_bob,
        queue,
    }
}

async fn arm(app: &TestApp, fault: Value) {
    app.emulator_post("/_emulator/faults", fault).await;
}

/// The host skips in their own app; waits until `ws` shows the new track; the frames seen
/// on the way (to check what was not sent).
async fn skip_and_follow(app: &TestApp, ws: &mut Ws) -> (String, Vec<Value>) {
    // The host skips in their own Spotify app. Spotify plays what its queue has (the entry Sesh
    // committed, in the last seconds of a track) or stops at the end of the one-track list Sesh
    // gave it; then Sesh plays its next entry itself. Either way the next track is the session's.
    let before = app.emulator_player("alice").await["current_uri"]
        .as_str()
        .unwrap()
        .trim_start_matches("spotify:track:")
        .to_owned();
    app.emulator_post("/_emulator/users/alice/player", json!({"action": "next"}))
        .await;
    let mut frames = Vec::new();
    loop {
        let frame = ws.next_json().await;
        let next = (frame["type"] == "playback" && frame["is_playing"] == true)
            .then(|| playback_track(&frame))
            .flatten()
            .filter(|track| *track != before);
        frames.push(frame);
        if let Some(next) = next {
            return (next, frames);
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

// ---- rate limits -------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_is_waited_out_and_members_keep_their_state() {
    let app = fast_app().await;
    let mut s = playing(&app).await;
    let first = s.queue[0]["track"]["id"].as_str().unwrap().to_owned();
    app.emulator_clear_requests().await;
    arm(
        &app,
        json!({"method": "GET", "path": "/v1/me/player", "status": 429, "retry_after": 1, "count": 3}),
    )
    .await;

    let status = s.ws_bob.next_of_type("spotify_status").await;
    assert_eq!(status["state"], "rate_limited", "{status}");
    assert_eq!(status["retry_after_s"], 1);
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("retrying in 1 s"),
        "{status}"
    );
    // Someone arriving now still sees the last playback, and why it is not moving.
    let mut late = s.bob.ws(&s.id).await;
    let welcome = late.next_of_type("welcome").await;
    assert_eq!(
        playback_track(&welcome["playback"]).as_deref(),
        Some(first.as_str())
    );
    assert_eq!(welcome["spotify"]["state"], "rate_limited");

    // The poller comes back by itself once the storm is over.
    let (_, frames) = skip_and_follow(&app, &mut s.ws_bob).await;
    assert!(
        frames
            .iter()
            .any(|f| f["type"] == "spotify_status" && f["state"] == "ok"),
        "{frames:?}"
    );
    assert!(
        !frames
            .iter()
            .any(|f| f["type"] == "playback" && f["track"].is_null()),
        "members never lose the track during the storm: {frames:?}"
    );

    // Nothing was sent to the endpoint before each Retry-After was up.
    let polls = app.emulator_requests("GET", "/v1/me/player").await;
    let limited: Vec<&Value> = polls.iter().filter(|r| r["status"] == 429).collect();
    assert_eq!(limited.len(), 3, "{polls:?}");
    for pair in polls.windows(2) {
        if pair[0]["status"] == 429 {
            let gap = pair[1]["at_ms"].as_u64().unwrap() - pair[0]["at_ms"].as_u64().unwrap();
            assert!(
                gap >= 990,
                "a request {gap} ms after a 429 with Retry-After: 1"
            );
        }
    }
    assert_eq!(polls.last().unwrap()["status"], 200);
}

// ---- tokens -------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_once_and_nobody_notices() {
    let app = fast_app().await;
    let mut s = playing(&app).await;
    app.emulator_clear_requests().await;
    app.emulator_post("/_emulator/users/alice/expire-tokens", json!({}))
        .await;

    let (_, frames) = skip_and_follow(&app, &mut s.ws_bob).await;
    assert!(
        frames
            .iter()
            .all(|f| f["type"] != "spotify_status" && f["type"] != "error"),
        "{frames:?}"
    );
    let refreshes = app.emulator_requests("POST", "/api/token").await;
    assert_eq!(refreshes.len(), 1, "{refreshes:?}");
    assert_eq!(refreshes[0]["status"], 200);
    let polls = app.emulator_requests("GET", "/v1/me/player").await;
    let rejected: Vec<&Value> = polls.iter().filter(|r| r["status"] == 401).collect();
    assert_eq!(rejected.len(), 1, "one 401, then the retry: {polls:?}");
    // The host's own commands work with the new token too, without another refresh.
    let (status, body) = s
        .alice
        .post(&format!("/api/sessions/{}/player/pause", s.id), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(app.emulator_requests("POST", "/api/token").await.len(), 1);
    let (status, me) = s.alice.get("/api/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["needs_reauth"], false);
    // And nobody got an error frame.
    s.ws_alice.send(json!({"type": "ping"})).await;
    let next = s
        .ws_alice
        .next_matching(|f| f["type"] == "pong" || f["type"] == "error")
        .await;
    assert_eq!(next["type"], "pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_login_asks_that_member_to_log_in_again_and_the_session_keeps_serving() {
    let app = fast_app().await;
    let mut s = playing(&app).await;

    // A guest revokes Sesh: found out at their next Spotify call, marked, nothing else changes.
    app.emulator_post("/_emulator/users/bob/revoke", json!({}))
        .await;
    let (status, body) = s.bob.get("/api/me/devices").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "reauth_required");
    let (_, me) = s.bob.get("/api/me").await;
    assert_eq!(me["needs_reauth"], true);
    let (_, me) = s.alice.get("/api/me").await;
    assert_eq!(me["needs_reauth"], false);

    // The host revokes: everyone is told the host must log in again.
    app.emulator_clear_requests().await;
    app.emulator_post("/_emulator/users/alice/revoke", json!({}))
        .await;
    for ws in [&mut s.ws_alice, &mut s.ws_bob] {
        let status = ws.next_of_type("spotify_status").await;
        assert_eq!(status["state"], "reauth_required", "{status}");
    }
    let (_, me) = s.alice.get("/api/me").await;
    assert_eq!(me["needs_reauth"], true);

    // The session keeps serving: Carol joins and gets her welcome, members see her.
    let carol = app.login("carol").await;
    let (status, body) = carol.post(&format!("/api/join/{}", s.code), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut ws_carol = carol.ws(&s.id).await;
    let welcome = ws_carol.next_of_type("welcome").await;
    assert_eq!(welcome["spotify"]["state"], "reauth_required");
    assert_eq!(welcome["session"]["state"], "playing");
    s.ws_bob
        .next_matching(|f| f["type"] == "member_joined" && f["member"]["id"] == "carol")
        .await;

    // The dead refresh token is tried once, not on every poll (Carol's login also used the
    // token endpoint: count the refusals).
    tokio::time::sleep(POLL * 8).await;
    let refused: Vec<Value> = app
        .emulator_requests("POST", "/api/token")
        .await
        .into_iter()
        .filter(|r| r["status"] != 200)
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["status"], 400);

    // Logging in again puts the host back in charge; the poller picks it up by itself.
    let _alice = app.login("alice").await;
    let (_, me) = s.alice.get("/api/me").await;
    assert_eq!(me["needs_reauth"], false);
    let status = s
        .ws_bob
        .next_matching(|f| f["type"] == "spotify_status" && f["state"] == "ok")
        .await;
    assert_eq!(status["state"], "ok");
}

// ---- 5xx and slow answers -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_slow_answers_are_retried_with_backoff_and_the_session_keeps_serving() {
    let app = fast_app().await;
    let mut s = playing(&app).await;
    let window = Duration::from_millis(2_500);

    for (fault, guest) in [
        (
            json!({"method": "GET", "path": "/v1/me/player", "status": 503, "count": 1000}),
            "carol",
        ),
        (
            json!({"method": "GET", "path": "/v1/me/player", "delay_ms": 1000, "count": 1000}),
            "erin",
        ),
    ] {
        app.emulator_clear_requests().await;
        let started = now_ms();
        arm(&app, fault.clone()).await;
        let status = s
            .ws_bob
            .next_matching(|f| f["type"] == "spotify_status")
            .await;
        assert_eq!(status["state"], "unavailable", "{fault}: {status}");

        // Meanwhile a guest joins and gets a welcome; the others see them.
        let guest = app.login(guest).await;
        let (status, body) = guest.post(&format!("/api/join/{}", s.code), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let mut ws = guest.ws(&s.id).await;
        let welcome = ws.next_of_type("welcome").await;
        assert_eq!(welcome["session"]["state"], "playing");
        assert!(welcome["playback"]["track"].is_object(), "last state kept");
        s.ws_alice
            .next_matching(|f| f["type"] == "member_joined" && f["member"]["id"] == guest.user)
            .await;

        let elapsed = Duration::from_millis(now_ms() - started);
        tokio::time::sleep(window.saturating_sub(elapsed)).await;
        let polls = app.emulator_requests("GET", "/v1/me/player").await;
        // Without backoff: 3 attempts per 100 ms poll (~75 in the window); with it, a few
        // rounds of 3 quick retries spaced further and further apart.
        assert!(
            (3..=15).contains(&polls.len()),
            "{fault}: {} requests in {window:?}: {polls:?}",
            polls.len()
        );
        let gaps: Vec<u64> = polls
            .windows(2)
            .map(|p| p[1]["at_ms"].as_u64().unwrap() - p[0]["at_ms"].as_u64().unwrap())
            .collect();
        assert!(
            gaps.iter().max().copied().unwrap_or(0) >= 4 * POLL.as_millis() as u64,
            "{fault}: no backoff between rounds: {gaps:?}"
        );

        // Spotify recovers: so does the session, without anyone doing anything.
        app.emulator_clear_faults().await;
        s.ws_bob
            .next_matching(|f| f["type"] == "spotify_status" && f["state"] == "ok")
            .await;
    }
}

// ---- the host takes over --------------------------------------------------------------------

/// Track uris that are not in the session's queue.
async fn foreign_uris(app: &TestApp, queue: &[Value]) -> Vec<String> {
    let frank = app.emulator_get("/_emulator/users/frank").await;
    let in_queue: Vec<&str> = queue
        .iter()
        .map(|e| e["track"]["uri"].as_str().unwrap())
        .collect();
    frank["top_tracks"]["long_term"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .filter(|u| !in_queue.contains(&u.as_str()))
        .take(3)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_playing_something_else_stops_sesh_until_the_host_resumes() {
    let app = fast_app().await;
    let mut s = playing(&app).await;
    let uris = foreign_uris(&app, &s.queue).await;
    app.emulator_post(
        "/_emulator/users/alice/player",
        json!({"action": "play", "uris": uris}),
    )
    .await;
    let took_over_at = now_ms();
    for ws in [&mut s.ws_alice, &mut s.ws_bob] {
        let status = ws.next_of_type("spotify_status").await;
        assert_eq!(status["state"], "host_took_over", "{status}");
    }
    let playback = s.ws_bob.next_of_type("playback").await;
    assert_eq!(playback["position"], Value::Null, "{playback}");

    // Things that would make Sesh steer Spotify: a late joiner changes the queue, the host
    // skips. Sesh only watches.
    let carol = app.login("carol").await;
    let (status, _) = carol.post(&format!("/api/join/{}", s.code), None).await;
    assert_eq!(status, StatusCode::OK);
    let queue = s.ws_bob.next_of_type("queue").await;
    let (_, frames) = skip_and_follow(&app, &mut s.ws_bob).await;
    assert!(
        frames.iter().all(|f| f["type"] != "queue"),
        "the session does not follow the host's own music: {frames:?}"
    );
    let player = app.emulator_player("alice").await;
    assert_eq!(player["uris"], json!(uris), "Sesh did not fight the host");
    let plays: Vec<Value> = app
        .emulator_requests("PUT", "/v1/me/player/play")
        .await
        .into_iter()
        .filter(|r| r["at_ms"].as_u64().unwrap() >= took_over_at)
        .collect();
    assert!(plays.is_empty(), "{plays:?}");

    // The host resumes with `play`: the remaining queue goes back to the session's device.
    s.ws_alice.send(json!({"type": "play"})).await;
    let status = s
        .ws_bob
        .next_matching(|f| f["type"] == "spotify_status")
        .await;
    assert_eq!(status["state"], "ok", "{status}");
    let queue = queue["queue"].as_array().unwrap();
    let position = queue_position(&s.bob, &s.id).await;
    let current = queue[position]["track"]["id"].as_str().unwrap().to_owned();
    let playback = s
        .ws_bob
        .next_matching(|f| f["type"] == "playback" && playback_track(f).is_some())
        .await;
    assert_eq!(playback_track(&playback).as_deref(), Some(current.as_str()));
    assert_eq!(playback["position"], position);
    let player = app.emulator_player("alice").await;
    // The playing entry alone: the next goes to Spotify's queue shortly before it ends.
    let expected = vec![&queue[position]["track"]["uri"]];
    let uris: Vec<&Value> = player["uris"].as_array().unwrap().iter().collect();
    assert_eq!(uris, expected);
    assert_eq!(player["device_id"], s.device.as_str());
    // And it follows the host's skips again.
    let (next, _) = skip_and_follow(&app, &mut s.ws_bob).await;
    assert_eq!(queue[position + 1]["track"]["id"], next.as_str());
}

async fn queue_position(browser: &Browser, id: &str) -> usize {
    let (status, snapshot) = browser.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    snapshot["position"].as_u64().unwrap() as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosts_device_disappearing_stops_sesh_until_the_host_resumes_elsewhere() {
    let app = fast_app().await;
    let mut s = playing(&app).await;
    let gone_at = now_ms();
    let response = app
        .http
        .delete(format!(
            "{}/_emulator/users/alice/devices/{}",
            app.emulator_url, s.device
        ))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    for ws in [&mut s.ws_alice, &mut s.ws_bob] {
        let status = ws
            .next_matching(|f| f["type"] == "spotify_status" && f["state"] != "ok")
            .await;
        assert_eq!(status["state"], "host_took_over", "{status}");
    }
    // `play` on the vanished device would fail; the host picks another one with `start`.
    let phone = s.alice.device_id().await;
    assert_ne!(phone, s.device);
    let (status, body) = s
        .alice
        .post(
            &format!("/api/sessions/{}/start", s.id),
            Some(json!({"device_id": phone})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let position = body["position"].as_u64().unwrap() as usize;
    assert_eq!(body["queue"], json!(s.queue));
    let plays: Vec<Value> = app
        .emulator_requests("PUT", "/v1/me/player/play")
        .await
        .into_iter()
        .filter(|r| r["at_ms"].as_u64().unwrap() >= gone_at)
        .collect();
    assert_eq!(plays.len(), 1, "only the resume itself: {plays:?}");
    let status = s
        .ws_bob
        .next_matching(|f| f["type"] == "spotify_status")
        .await;
    assert_eq!(status["state"], "ok");
    let playback = s
        .ws_bob
        .next_matching(|f| f["type"] == "playback" && playback_track(f).is_some())
        .await;
    assert_eq!(playback["position"], position);
    assert_eq!(playback["device"]["id"], phone.as_str());
    let (_, snapshot) = s.bob.get(&format!("/api/sessions/{}", s.id)).await;
    assert_eq!(snapshot["device"], phone.as_str());
    assert_eq!(snapshot["state"], "playing");
}

// ---- free accounts ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_host_gets_premium_required_and_nothing_is_half_started() {
    let mut app = fast_app().await;
    let dave = app.login("dave").await;
    let erin = app.login("erin").await;
    let (status, created) = dave.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["invite_code"].as_str().unwrap();
    let (status, _) = erin.post(&format!("/api/join/{code}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let mut ws_erin = erin.ws(&id).await;
    let welcome = ws_erin.next_of_type("welcome").await;
    let seq_before = welcome["seq"].as_u64().unwrap();
    let mut ws_dave = dave.ws(&id).await;
    ws_dave.next_of_type("welcome").await;
    let device = dave.device_id().await;
    app.emulator_clear_requests().await;

    let (status, body) = dave
        .post(
            &format!("/api/sessions/{id}/start"),
            Some(json!({"device_id": device})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "premium_required");
    ws_dave
        .send(json!({"type": "start", "device_id": device}))
        .await;
    let error = ws_dave.next_of_type("error").await;
    assert_eq!(error["code"], "premium_required");

    // Nothing half-started: no event but Dave's presence, still a lobby, no queue, no music,
    // and exactly the two refused play calls.
    ws_erin.send(json!({"type": "ping"})).await;
    let mut frames = Vec::new();
    loop {
        let frame = ws_erin.next_json().await;
        if frame["type"] == "pong" {
            break;
        }
        frames.push(frame);
    }
    assert!(
        frames
            .iter()
            .all(|f| f["type"] == "presence" && f["seq"].as_u64().unwrap() > seq_before),
        "{frames:?}"
    );
    let player = app.emulator_player("dave").await;
    assert_eq!(player["is_playing"], false, "{player}");
    assert_eq!(player["current_uri"], Value::Null, "{player}");
    // Each start's first player command (switching Spotify's shuffle off, before its play)
    // was refused, and no play was ever sent.
    let plays = app.emulator_requests("PUT", "/v1/me/player/play").await;
    assert!(plays.is_empty(), "{plays:?}");
    let refused = app.emulator_requests("PUT", "/v1/me/player/shuffle").await;
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused.iter().all(|r| r["status"] == 403));
    // Also in the database: a restarted server has the lobby without a queue.
    drop((ws_dave, ws_erin));
    app.restart().await;
    let (status, snapshot) = erin.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(snapshot["state"], "lobby");
    assert_eq!(snapshot["queue"], json!([]));
    assert_eq!(snapshot["device"], Value::Null);
}
