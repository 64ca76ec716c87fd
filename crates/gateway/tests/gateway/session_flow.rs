//! The acceptance scenarios, end to end: real app on a free port, real emulator, fresh
//! SQLite file, browsers logging in through the OAuth redirect dance, WebSockets.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sesh_gateway::settings::HumanDuration;

use crate::common::{
    self, Browser, Closed, Ws, playback_track, spawn_app, spawn_app_with, welcome,
};

/// Host creates, two friends join by link; returns (session id, join_url, invite code).
async fn create_and_join(host: &Browser, guests: &[&Browser]) -> (String, Value) {
    let (status, created) = host.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let code = created["invite_code"].as_str().expect("code").to_owned();
    let join_url = created["join_url"].as_str().expect("join_url");
    assert_eq!(join_url, format!("{}/j/{code}", host.address));
    for guest in guests {
        let (status, joined) = guest.post(&format!("/api/join/{code}"), None).await;
        assert_eq!(status, StatusCode::OK, "{joined}");
        assert_eq!(joined["id"], created["id"]);
        // Idempotent.
        let (status, _) = guest.post(&format!("/api/join/{code}"), None).await;
        assert_eq!(status, StatusCode::OK);
    }
    (id, created)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_friends_listen_together() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let carol = app.login("carol").await;

    let (status, me) = alice.get("/api/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], "alice");

    let (id, _) = create_and_join(&alice, &[&bob, &carol]).await;

    let mut ws_alice = alice.ws(&id).await;
    let mut ws_bob = bob.ws(&id).await;
    let mut ws_carol = carol.ws(&id).await;
    for (ws, me) in [
        (&mut ws_alice, "alice"),
        (&mut ws_bob, "bob"),
        (&mut ws_carol, "carol"),
    ] {
        let frame = welcome(ws).await;
        assert_eq!(frame["you"]["id"], me);
        assert_eq!(frame["session"]["state"], "lobby");
        assert_eq!(frame["session"]["host"], "alice");
        assert_eq!(frame["session"]["members"].as_array().unwrap().len(), 3);
        assert!(frame["seq"].is_u64());
    }

    // A guest cannot start or skip.
    ws_bob
        .send(json!({"type": "start", "device_id": "whatever"}))
        .await;
    let error = ws_bob.next_of_type("error").await;
    assert_eq!(error["code"], "forbidden", "{error}");
    ws_carol.send(json!({"type": "next"})).await;
    assert_eq!(ws_carol.next_of_type("error").await["code"], "forbidden");
    let (status, body) = bob
        .post(&format!("/api/sessions/{id}/player/next"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "forbidden");

    // The host starts on their device.
    let device = alice.device_id().await;
    ws_alice
        .send(json!({"type": "start", "device_id": device}))
        .await;
    let mut queue_first = None;
    for ws in [&mut ws_alice, &mut ws_bob, &mut ws_carol] {
        let started = ws.next_of_type("session_started").await;
        let queue = started["queue"].as_array().expect("queue");
        assert!(!queue.is_empty());
        let first = queue[0]["track"]["id"].as_str().unwrap().to_owned();
        assert!(queue_first.get_or_insert(first.clone()) == &first);
    }
    let first = queue_first.unwrap();

    // The emulator's player shows the host's device playing the queue's first track.
    let player = app.emulator_player("alice").await;
    assert_eq!(player["device_id"], device.as_str());
    assert_eq!(player["is_playing"], true);
    assert_eq!(player["current_uri"], format!("spotify:track:{first}"));

    for ws in [&mut ws_alice, &mut ws_bob, &mut ws_carol] {
        let playback = ws.next_of_type("playback").await;
        assert_eq!(playback_track(&playback).as_deref(), Some(first.as_str()));
        assert_eq!(playback["is_playing"], true);
        let added_by = playback["added_by"].as_array().unwrap();
        assert!(!added_by.is_empty());
        assert_eq!(playback["added_by_count"], added_by.len(), "{playback}");
        assert!(playback["server_time_ms"].is_i64());
    }

    // The host skips in their own Spotify app: Spotify reaches the end of the one track Sesh
    // gave it, Sesh plays its next entry, and everyone sees the new track.
    app.emulator_post("/_emulator/users/alice/player", json!({"action": "next"}))
        .await;
    let (_, queue) = alice.get(&format!("/api/sessions/{id}")).await;
    let second = queue["queue"][1]["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second, first);
    for ws in [&mut ws_alice, &mut ws_bob, &mut ws_carol] {
        let playback = ws
            .next_matching(|f| {
                f["type"] == "playback" && playback_track(f).as_deref() != Some(&first)
            })
            .await;
        assert_eq!(playback_track(&playback).as_deref(), Some(second.as_str()));
        assert_eq!(playback["position"], 1);
    }

    // Sequence numbers increase by one per event.
    let (status, snapshot) = carol.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(snapshot["state"], "playing");
    assert_eq!(snapshot["position"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_are_refused_from_foreign_origins_non_members_and_strangers() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let erin = app.login("erin").await;
    let (id, _) = create_and_join(&alice, &[]).await;

    let refused = alice
        .ws_with(&id, None, Some("http://evil.example"))
        .await
        .err()
        .expect("foreign origin refused");
    assert_http_status(refused, 403);
    let refused = alice
        .ws_with(&id, None, None)
        .await
        .err()
        .expect("no origin refused");
    assert_http_status(refused, 403);

    let refused = erin
        .ws_with(&id, None, Some(&erin.address.clone()))
        .await
        .err()
        .expect("non-member refused");
    assert_http_status(refused, 403);

    let stranger = Browser::new(&app, "nobody");
    let refused = stranger
        .ws_with(&id, None, Some(&stranger.address.clone()))
        .await
        .err()
        .expect("anonymous refused");
    assert_http_status(refused, 401);

    let (status, body) = erin.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "not_a_member");
}

fn assert_http_status(error: tokio_tungstenite::tungstenite::Error, status: u16) {
    match error {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status().as_u16(), status);
        }
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_survive_a_restart() {
    let mut app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let carol = app.login("carol").await;
    let (id, _) = create_and_join(&alice, &[&bob, &carol]).await;
    let (status, started) = alice.start_on_own_device(&id).await;
    assert_eq!(status, StatusCode::OK, "{started}");

    let mut ws = bob.ws(&id).await;
    let before = welcome(&mut ws).await;

    app.restart().await;
    // The socket was closed with 1001 "going away" by the graceful shutdown.
    assert_eq!(ws.closed().await, Closed::Code(1001));

    let (status, snapshot) = bob.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{snapshot}");
    assert_eq!(snapshot["state"], "playing");
    assert_eq!(
        snapshot["members"],
        strip_online(&before["session"]["members"])
    );
    assert_eq!(snapshot["queue"], before["session"]["queue"]);

    let mut ws = bob.ws(&id).await;
    let after = welcome(&mut ws).await;
    assert_eq!(after["recovered"], false);
    assert_eq!(after["session"]["id"], before["session"]["id"]);
    assert_eq!(after["session"]["state"], "playing");
    assert_eq!(after["session"]["host"], "alice");
    assert_eq!(after["session"]["queue"], before["session"]["queue"]);
    assert_eq!(
        strip_online(&after["session"]["members"]),
        strip_online(&before["session"]["members"])
    );
    // Sequence numbers never go back across a restart.
    assert!(after["seq"].as_u64() >= before["seq"].as_u64());
    // The login survived too.
    let (status, _) = alice.get("/api/me").await;
    assert_eq!(status, StatusCode::OK);
}

fn strip_online(members: &Value) -> Value {
    Value::Array(
        members
            .as_array()
            .unwrap()
            .iter()
            .map(|m| json!({"id": m["id"], "display_name": m["display_name"], "role": m["role"], "online": false, "muted": m["muted"], "listening": m["listening"]}))
            .collect(),
    )
}

/// Polls per second of the host's player while waiting for `n` resync `playback` events.
async fn poll_rate(app: &common::TestApp, ws: &mut Ws, n: usize) -> (usize, f64) {
    app.emulator_clear_requests().await;
    let started = std::time::Instant::now();
    for _ in 0..n {
        ws.next_of_type("playback").await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    (app.player_polls("alice").await, elapsed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_poller_per_session_whatever_the_number_of_members() {
    let interval = Duration::from_millis(200);
    let app = spawn_app_with(|s| {
        s.poll_interval = HumanDuration(interval);
        s.playback_resync = HumanDuration(Duration::from_millis(600));
    })
    .await;
    let alice = app.login("alice").await;
    let mut guests = Vec::new();
    for n in 1..20 {
        guests.push(app.login(&format!("gen-{n}")).await);
    }
    let refs: Vec<&Browser> = guests.iter().collect();
    let (id, _) = create_and_join(&alice, &refs).await;

    let mut host_ws = alice.ws(&id).await;
    welcome(&mut host_ws).await;
    let (status, _) = alice.start_on_own_device(&id).await;
    assert_eq!(status, StatusCode::OK);
    host_ws.next_of_type("playback").await;

    // One member connected.
    let (polls_1, secs_1) = poll_rate(&app, &mut host_ws, 4).await;
    // Twenty members connected.
    let mut sockets = Vec::new();
    for guest in &guests {
        let mut ws = guest.ws(&id).await;
        welcome(&mut ws).await;
        sockets.push(ws);
    }
    let (polls_20, secs_20) = poll_rate(&app, &mut host_ws, 4).await;

    let expected = |secs: f64| secs / interval.as_secs_f64();
    for (polls, secs) in [(polls_1, secs_1), (polls_20, secs_20)] {
        assert!(polls >= 2, "polled {polls} times in {secs:.2}s");
        assert!(
            (polls as f64) <= expected(secs) + 3.0,
            "polled {polls} times in {secs:.2}s at one per {interval:?}"
        );
    }
    let rate_1 = polls_1 as f64 / secs_1;
    let rate_20 = polls_20 as f64 / secs_20;
    assert!(
        rate_20 <= rate_1 * 1.5 + 1.0,
        "1 member: {rate_1:.1}/s, 20 members: {rate_20:.1}/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_events_are_replayed_after_since() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let carol = app.login("carol").await;
    let (id, created) = create_and_join(&alice, &[&bob]).await;

    let mut ws = bob.ws(&id).await;
    let first = welcome(&mut ws).await;
    let seq = first["seq"].as_u64().unwrap();
    drop(ws);

    // While bob is away: carol joins.
    let code = created["invite_code"].as_str().unwrap();
    let (status, _) = carol.post(&format!("/api/join/{code}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let mut host_ws = alice.ws(&id).await;
    let host_welcome = welcome(&mut host_ws).await;
    let now = host_welcome["seq"].as_u64().unwrap();
    assert!(now > seq);

    let mut ws = bob
        .ws_with(&id, Some(seq), Some(&bob.address.clone()))
        .await
        .unwrap();
    let mut replayed = Vec::new();
    // Bob's own presence event comes after the replay; everything up to `now` is replay.
    while replayed
        .last()
        .is_none_or(|f: &Value| f["seq"].as_u64().unwrap() < now)
    {
        replayed.push(ws.next_json().await);
    }
    let seqs: Vec<u64> = replayed
        .iter()
        .map(|f| f["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, ((seq + 1)..=now).collect::<Vec<_>>());
    assert!(
        replayed
            .iter()
            .any(|f| f["type"] == "member_joined" && f["member"]["id"] == "carol")
    );

    // A resume from the future (e.g. before a restart) gets a fresh welcome.
    let mut ws = bob
        .ws_with(&id, Some(now + 1000), Some(&bob.address.clone()))
        .await
        .unwrap();
    let fresh = welcome(&mut ws).await;
    assert_eq!(fresh["recovered"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_error_frames_and_big_frames_close_1009() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let (id, _) = create_and_join(&alice, &[]).await;
    let mut ws = alice.ws(&id).await;
    welcome(&mut ws).await;

    ws.send_text("not json").await;
    assert_eq!(ws.next_of_type("error").await["code"], "malformed_frame");
    ws.send(json!({"type": "dance"})).await;
    assert_eq!(ws.next_of_type("error").await["code"], "unknown_type");
    ws.send(json!({"type": "start"})).await;
    assert_eq!(ws.next_of_type("error").await["code"], "invalid_frame");
    ws.send(json!({"type": "ping"})).await;
    ws.next_of_type("pong").await;

    ws.send_text(&"x".repeat(17 * 1024)).await;
    assert_eq!(ws.closed().await, Closed::Code(1009));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_edges_answer_documented_errors() {
    let app = spawn_app().await;
    let http = &app.http;

    let health: Value = http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "ok"}));

    // Pages and the health check answer HEAD too (monitors use it), without a body.
    for path in ["/healthz", "/", "/assets/app.css"] {
        let head = http
            .head(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), StatusCode::OK, "HEAD {path}");
        assert!(head.headers().contains_key("content-type"), "HEAD {path}");
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} has no body"
        );
    }

    // Unauthenticated.
    let response = http
        .get(format!("{}/api/me", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");

    // Forged or replayed OAuth state: 400 page, no cookie.
    let response = http
        .get(format!("{}/auth/callback?code=x&state=forged", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("set-cookie").is_none());

    // Open redirect attempts.
    let response = http
        .get(format!("{}/auth/login?next=//evil.example", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // CSRF: a POST without our Origin.
    let alice = app.login("alice").await;
    let response = alice
        .http
        .post(format!("{}/api/sessions", app.address))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "csrf");

    // Unknown session, unknown invite, malformed body.
    let (status, body) = alice.get("/api/sessions/not-a-uuid").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = alice
        .get("/api/sessions/6f1c1c1e-0000-4000-8000-000000000000")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "session_not_found");
    let (status, body) = alice.post("/api/join/AAAAAAAAAAAAAAAAAAAAAA", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "invite_not_found");
    let (status, created) = alice.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap();
    let response = alice
        .http
        .post(format!("{}/api/sessions/{id}/start", app.address))
        .header("Origin", &app.address)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");

    // Public invite preview.
    let code = created["invite_code"].as_str().unwrap();
    let preview: Value = http
        .get(format!("{}/api/invites/{code}", app.address))
        .header("X-Requested-With", "sesh")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(preview["host"]["id"], "alice");
    assert_eq!(preview["member_count"], 1);

    // Pages carry the security headers.
    let page = http.get(format!("{}/", app.address)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert!(page.headers().contains_key("referrer-policy"));

    // Logout ends the login.
    let (status, _) = alice.post("/auth/logout", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = alice.get("/api/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_host_gets_premium_required_and_nothing_starts() {
    let app = spawn_app().await;
    let dave = app.login("dave").await;
    let (id, _) = create_and_join(&dave, &[]).await;
    let (status, body) = dave.start_on_own_device(&id).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "premium_required");
    let (_, snapshot) = dave.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(snapshot["state"], "lobby");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_encrypted_at_rest() {
    use secrecy::ExposeSecret;
    use sesh_gateway::{
        crypto::{SecretKey, TokenCipher},
        db::Database,
    };

    let app = spawn_app().await;
    let _alice = app.login("alice").await;
    // Decrypt through the app's own storage code with the key, then look for the plaintext.
    let key = app
        .settings
        .secret_key
        .as_ref()
        .unwrap()
        .secret()
        .expose_secret()
        .to_owned();
    let db = Database::connect(
        &app.settings.database_url,
        TokenCipher::new(&SecretKey::from_base64(&key).unwrap()),
    )
    .await
    .unwrap();
    let tokens = db
        .load_tokens(&sesh_session::UserId::new("alice"))
        .await
        .unwrap()
        .expect("alice's tokens are stored");
    let access = tokens.access.expose_secret().to_owned();
    let refresh = tokens.refresh.as_ref().unwrap().expose_secret().to_owned();
    assert!(access.len() > 20 && refresh.len() > 20);
    db.close().await;
    for (place, bytes) in app.stored_bytes().await {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&access), "access token in clear in {place}");
        assert!(
            !text.contains(&refresh),
            "refresh token in clear in {place}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_is_woven_in_without_cutting_the_current_track() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let carol = app.login("carol").await;
    let (id, created) = create_and_join(&alice, &[&bob]).await;
    let mut ws = alice.ws(&id).await;
    welcome(&mut ws).await;
    let (status, started) = alice.start_on_own_device(&id).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let first = started["queue"][0]["track"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    ws.next_of_type("playback").await;

    // Carol joins while the first track plays: everyone gets the new queue, Spotify keeps playing.
    let code = created["invite_code"].as_str().unwrap();
    let (status, _) = carol.post(&format!("/api/join/{code}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let queue_event = ws.next_of_type("queue").await;
    let queue = queue_event["queue"].as_array().unwrap().clone();
    assert_eq!(queue_event["position"], 0);
    assert!(
        queue
            .iter()
            .any(|e| e["added_by"].as_array().unwrap().contains(&json!("carol")))
    );
    let player = app.emulator_player("alice").await;
    assert_eq!(
        player["current_uri"],
        first.as_str(),
        "the current track is not cut"
    );

    // At the next track boundary Spotify plays the merged queue's next entry (the host skips in
    // their Spotify app; Sesh plays its next entry when the one-track list runs out).
    app.emulator_post("/_emulator/users/alice/player", json!({"action": "next"}))
        .await;
    let next_id = queue[1]["track"]["id"].as_str().unwrap().to_owned();
    ws.next_matching(|f| {
        f["type"] == "playback"
            && f["is_playing"] == true
            && playback_track(f).as_deref() == Some(&next_id)
    })
    .await;
    let player = app.emulator_player("alice").await;
    assert_eq!(player["current_uri"], queue[1]["track"]["uri"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_runs_its_own_emulator() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let mut settings = sesh_gateway::Settings::for_tests(db_url, dir.path().join("data"));
    settings.spotify_client_id = None;
    settings.secret_key = None;
    let app = sesh_gateway::Application::build(settings).await.unwrap();
    let emulator = app.demo_spotify_url().expect("an in-process emulator");
    let base = format!("http://127.0.0.1:{}", app.port());
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());

    // The key was generated into the data directory, owner-only.
    let key = dir.path().join("data").join("secret.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let config: Value = http
        .get(format!("{base}/api/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["demo"], true);
    let login = http.get(format!("{base}/auth/login")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::FOUND);
    let location = login.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&emulator),
        "{location} points at the demo emulator"
    );

    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_tracks_are_fetched_at_login_so_a_join_waits_on_no_spotify_call() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let (status, created) = alice.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["invite_code"].as_str().unwrap().to_owned();

    let bob = app.login("bob").await;
    // The login fetched Bob's top tracks in the background: wait until they are stored.
    app.wait_for_top_tracks("bob").await;
    app.emulator_clear_requests().await;
    let (status, joined) = bob.post(&format!("/api/join/{code}"), None).await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    let log = app.emulator_get("/_emulator/requests?user_id=bob").await;
    assert_eq!(
        log["requests"].as_array().map(Vec::len),
        Some(0),
        "the join asked Spotify: {log}"
    );

    // And the stored tracks are the ones the queue is made of.
    let (status, started) = alice.start_on_own_device(&id).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let queue = started["queue"].as_array().expect("queue");
    assert!(
        queue
            .iter()
            .any(|e| e["added_by"].as_array().unwrap().contains(&json!("bob"))),
        "{started}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_names_the_session_and_the_name_survives_a_restart() {
    let mut app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;

    // A name at create, trimmed; a bad one refused.
    let (status, body) = alice
        .post("/api/sessions", Some(json!({ "name": "x".repeat(61) })))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_name");
    let (status, created) = alice
        .post("/api/sessions", Some(json!({ "name": "  Garden party " })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["settings"]["name"], "Garden party");
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["invite_code"].as_str().unwrap().to_owned();
    let (status, _) = bob.post(&format!("/api/join/{code}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let mut ws = bob.ws(&id).await;
    let hello = welcome(&mut ws).await;
    assert_eq!(
        hello["session"]["settings"]["name"], "Garden party",
        "{hello}"
    );

    // The host renames; the guest hears it; the invite preview shows it.
    let rename = format!("/api/sessions/{id}/name");
    let (status, view) = alice
        .post(&rename, Some(json!({ "name": "Friday at Sam’s" })))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["settings"]["name"], "Friday at Sam’s");
    let changed = ws.next_of_type("settings_changed").await;
    assert_eq!(changed["settings"]["name"], "Friday at Sam’s", "{changed}");
    let address = app.address.clone();
    let preview = |code: String| {
        let http = bob.http.clone();
        let url = format!("{address}/api/invites/{code}");
        async move {
            let response = http
                .get(url)
                .header("X-Requested-With", "sesh")
                .send()
                .await
                .unwrap();
            response.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(preview(code.clone()).await["name"], "Friday at Sam’s");

    // Refused: a guest, a bad name (control character, too long); nothing changes.
    let (status, body) = bob.post(&rename, Some(json!({ "name": "Bob's" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    for bad in [json!({ "name": "a\nb" }), json!({ "name": "é".repeat(61) })] {
        let (status, body) = alice.post(&rename, Some(bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_name");
    }
    let (status, body) = alice.post(&rename, Some(json!({ "title": "x" }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, snapshot) = bob.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(snapshot["settings"]["name"], "Friday at Sam’s");

    // Stored: the name is there after a restart.
    drop(ws);
    app.restart().await;
    let (status, snapshot) = bob.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{snapshot}");
    assert_eq!(snapshot["settings"]["name"], "Friday at Sam’s");
    assert_eq!(preview(code.clone()).await["name"], "Friday at Sam’s");

    // An empty name takes it away.
    let (status, view) = alice.post(&rename, Some(json!({ "name": "   " }))).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["settings"]["name"], Value::Null);
    assert_eq!(preview(code).await["name"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_member_sees_the_tracks_they_brought() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let (id, _) = create_and_join(&alice, &[&bob]).await;
    let ids = |view: &Value| -> Vec<String> {
        view["your_tracks"]
            .as_array()
            .expect("your_tracks")
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };

    // In the lobby, over HTTP and in the welcome.
    let (status, bobs) = bob.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{bobs}");
    let (_, alices) = alice.get(&format!("/api/sessions/{id}")).await;
    let bob_tracks = ids(&bobs);
    assert!((1..=5).contains(&bob_tracks.len()), "{bobs}");
    assert!(bobs["your_tracks"][0]["name"].is_string());
    assert_ne!(ids(&alices), bob_tracks, "each sees their own");
    let mut ws = bob.ws(&id).await;
    let hello = welcome(&mut ws).await;
    assert_eq!(ids(&hello["session"]), bob_tracks);

    // They are the tracks the queue credits to bob once it is built.
    let (status, started) = alice.start_on_own_device(&id).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let (_, snapshot) = bob.get(&format!("/api/sessions/{id}")).await;
    let credited: Vec<String> = snapshot["queue"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["added_by"].as_array().unwrap().iter().any(|u| u == "bob"))
        .map(|e| e["track"]["id"].as_str().unwrap().to_owned())
        .collect();
    for track in &bob_tracks {
        assert!(credited.contains(track), "{track} not credited to bob");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_host_hands_the_session_to_a_premium_friend_before_start() {
    let mut app = spawn_app().await;
    let dave = app.login("dave").await; // a free account
    let bob = app.login("bob").await;
    let (id, created) = create_and_join(&dave, &[&bob]).await;
    assert_eq!(created["host"], "dave");
    let mut ws_bob = bob.ws(&id).await;
    welcome(&mut ws_bob).await;

    // Only the host hands over, only to a member.
    let (status, body) = bob
        .post(&format!("/api/sessions/{id}/host/bob"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let (status, body) = dave
        .post(&format!("/api/sessions/{id}/host/carol"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "not_a_member");

    let (status, body) = dave
        .post(&format!("/api/sessions/{id}/host/bob"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let changed = ws_bob.next_of_type("host_changed").await;
    assert_eq!(changed["host"], "bob");
    // Dave may not start any more; bob, with Premium, does.
    let (status, _) = dave.start_on_own_device(&id).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = bob.start_on_own_device(&id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A playing session is not handed over (its music plays from bob's account).
    let (status, body) = bob
        .post(&format!("/api/sessions/{id}/host/dave"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "already_started");

    // Stored: after a restart bob is still the host and dave a guest.
    drop(ws_bob);
    app.restart().await;
    let (status, snapshot) = dave.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{snapshot}");
    assert_eq!(snapshot["host"], "bob");
    let roles: Vec<(String, String)> = snapshot["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().into(),
                m["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(roles.contains(&("bob".into(), "host".into())), "{roles:?}");
    assert!(
        roles.contains(&("dave".into(), "guest".into())),
        "{roles:?}"
    );
}
