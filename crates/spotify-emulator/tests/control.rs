//! The control API and rate limiting over real HTTP: faults (status, Retry-After, reason,
//! delay), player actions, revoke and expire, devices, clock, the request log, users.

// Helpers outside #[test] functions may panic too: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sesh_spotify_emulator::AppRegistration;

#[tokio::test]
async fn faults_fail_matching_requests_count_times_and_are_logged() {
    let emu = common::start().await;
    let alice = emu.login("alice").await.access;
    let (status, body) = emu
        .control(Method::POST, "/_emulator/faults", Some(json!({ "method": "GET", "path": "/v1/me/player", "status": 429, "retry_after": 2, "count": 2 })))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["fault"]["count"], 2);
    let (_, list) = emu.control(Method::GET, "/_emulator/faults", None).await;
    assert_eq!(list["faults"].as_array().unwrap().len(), 1);

    // Other endpoints and methods are unaffected.
    assert_eq!(emu.get(&alice, "/v1/me").await.status(), StatusCode::OK);
    for _ in 0..2 {
        let response = emu.get(&alice, "/v1/me/player/").await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "2");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["status"], 429);
    }
    assert_eq!(
        emu.get(&alice, "/v1/me/player").await.status(),
        StatusCode::NO_CONTENT
    );
    let (_, list) = emu.control(Method::GET, "/_emulator/faults", None).await;
    assert!(list["faults"].as_array().unwrap().is_empty());

    // The log shows each request with its status, time, app and user.
    let (_, log) = emu
        .control(
            Method::GET,
            "/_emulator/requests?path=/v1/me/player&method=GET",
            None,
        )
        .await;
    let requests = log["requests"].as_array().unwrap();
    let statuses: Vec<i64> = requests
        .iter()
        .map(|r| r["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, vec![429, 429, 204]);
    assert!(
        requests
            .iter()
            .all(|r| r["client_id"] == common::CLIENT_ID && r["user_id"] == "alice")
    );
    let times: Vec<i64> = requests
        .iter()
        .map(|r| r["at_ms"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    let endpoint = log["by_endpoint"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/v1/me/player")
        .unwrap();
    assert_eq!(endpoint["count"], 3);

    // Reasons, 5xx, prefix paths, and the accounts service's own error shape.
    emu.control(
        Method::POST,
        "/_emulator/faults",
        Some(json!({ "path": "/v1/me/top/*", "status": 429, "reason": "QUOTA_EXCEEDED" })),
    )
    .await;
    let quota: Value = emu
        .get(&alice, "/v1/me/top/tracks")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(quota["error"]["reason"], "QUOTA_EXCEEDED");
    emu.control(Method::POST, "/_emulator/faults", Some(json!({ "method": "PUT", "path": "/v1/me/player/play", "status": 503, "retry_after": 1 }))).await;
    let unavailable = emu
        .api(Method::PUT, &alice, "/v1/me/player/play", Some(json!({})))
        .await;
    assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(unavailable.headers()["retry-after"], "1");
    emu.control(
        Method::POST,
        "/_emulator/faults",
        Some(json!({ "method": "POST", "path": "/api/token", "status": 500 })),
    )
    .await;
    let tokens = emu
        .token_request(
            true,
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        )
        .await;
    assert_eq!(tokens.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        tokens.json::<Value>().await.unwrap()["error"],
        "server_error"
    );
    emu.control(
        Method::POST,
        "/_emulator/faults",
        Some(json!({ "path": "/v1/me", "status": 401 })),
    )
    .await;
    let expired: Value = emu.get(&alice, "/v1/me").await.json().await.unwrap();
    assert_eq!(
        expired,
        json!({ "error": { "status": 401, "message": "The access token expired" } })
    );

    // Bad rules are refused; DELETE disarms everything.
    for bad in [
        json!({ "path": "/v1/me", "status": 200 }),
        json!({ "path": "/v1/me" }),
        json!({ "path": "v1", "status": 500 }),
        json!({ "path": "/v1/me", "status": 429, "reason": "BORED" }),
        json!({ "path": "/v1/me", "status": 500, "colour": "red" }),
    ] {
        let (status, _) = emu
            .control(Method::POST, "/_emulator/faults", Some(bad.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    emu.control(
        Method::POST,
        "/_emulator/faults",
        Some(json!({ "path": "/v1/me", "status": 500, "count": 100 })),
    )
    .await;
    assert_eq!(
        emu.control(Method::DELETE, "/_emulator/faults", None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(emu.get(&alice, "/v1/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn delay_faults_slow_answers_down() {
    let emu = common::start().await;
    let alice = emu.login("alice").await.access;
    emu.control(
        Method::POST,
        "/_emulator/faults",
        Some(json!({ "path": "/v1/me", "delay_ms": 300 })),
    )
    .await;
    let started = Instant::now();
    assert_eq!(emu.get(&alice, "/v1/me").await.status(), StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    emu.control(
        Method::POST,
        "/_emulator/faults",
        Some(json!({ "path": "/v1/me", "delay_ms": 200, "status": 502 })),
    )
    .await;
    let started = Instant::now();
    assert_eq!(
        emu.get(&alice, "/v1/me").await.status(),
        StatusCode::BAD_GATEWAY
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
}

/// The README's example: only `PUT /v1/me/player/play` waits 5 s; the rest of the player,
/// including `PUT /v1/me/player` and `GET /v1/me/player`, answers at once meanwhile.
#[tokio::test]
async fn a_delay_fault_slows_exactly_play_while_the_rest_answers() {
    const DELAY: Duration = Duration::from_secs(5);
    let emu = common::start().await;
    let alice = emu.login("alice").await.access;
    let device = emu.device_id(&alice).await;
    let uris = emu.top_uris(&alice, 3).await;
    emu.play(&alice, &device, &uris).await;
    let (status, armed) = emu
        .control(
            Method::POST,
            "/_emulator/faults",
            Some(json!({ "method": "PUT", "path": "/v1/me/player/play", "delay_ms": 5000 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(armed["fault"]["delay_ms"], 5000);

    let started = Instant::now();
    let slow = tokio::spawn({
        let request = emu
            .http
            .put(emu.url(&format!("/v1/me/player/play?device_id={device}")))
            .bearer_auth(&alice)
            .json(&json!({ "uris": uris[1..] }));
        async move { request.send().await.unwrap().status() }
    });
    // Wait until the delayed request has arrived (the fault is used up), without sleeping.
    while !emu.control(Method::GET, "/_emulator/faults", None).await.1["faults"]
        .as_array()
        .unwrap()
        .is_empty()
    {
        tokio::task::yield_now().await;
        assert!(started.elapsed() < DELAY, "the play request never arrived");
    }
    for (method, path, body) in [
        (Method::GET, "/v1/me/player", None),
        (Method::GET, "/v1/me/player/devices", None),
        (Method::PUT, "/v1/me/player/volume?volume_percent=20", None),
        (
            Method::PUT,
            "/v1/me/player",
            Some(json!({ "device_ids": [device] })),
        ),
        (Method::PUT, "/v1/me/player/repeat?state=off", None),
    ] {
        let status = emu.api(method.clone(), &alice, path, body).await.status();
        assert!(status.is_success(), "{method} {path}: {status}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "other endpoints waited: {:?}",
        started.elapsed()
    );
    assert_eq!(
        emu.raw_player("alice").await["current_uri"],
        uris[0].as_str(),
        "the delayed play has not run yet"
    );
    assert_eq!(slow.await.unwrap(), StatusCode::NO_CONTENT);
    assert!(started.elapsed() >= DELAY, "{:?}", started.elapsed());
    assert_eq!(
        emu.raw_player("alice").await["current_uri"],
        uris[1].as_str()
    );

    // The fault had the default count of one: the next play answers at once.
    let again = Instant::now();
    emu.play(&alice, &device, &uris).await;
    assert!(again.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn player_actions_act_like_the_users_own_app() {
    let emu = common::start().await;
    let bob = emu.login("bob").await.access;
    let (status, _) = emu
        .control(
            Method::POST,
            "/_emulator/users/bob/player",
            Some(json!({ "action": "next" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing loaded yet");

    let uris = emu.top_uris(&bob, 3).await;
    let (status, raw) = emu
        .control(
            Method::POST,
            "/_emulator/users/bob/player",
            Some(json!({ "action": "play", "uris": uris })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(raw["current_uri"], uris[0].as_str());
    assert_eq!(raw["is_playing"], true);
    assert_eq!(raw["device_name"], "Bob's Pixel");
    assert_eq!(raw["uris"], json!(uris));
    let state = emu.get_json(&bob, "/v1/me/player").await;
    assert_eq!(state["item"]["uri"], uris[0].as_str());

    let act = |body: Value| {
        let emu = &emu;
        async move {
            let (status, raw) = emu
                .control(Method::POST, "/_emulator/users/bob/player", Some(body))
                .await;
            assert_eq!(status, StatusCode::OK, "{raw}");
            raw
        }
    };
    assert_eq!(
        act(json!({ "action": "next" })).await["current_uri"],
        uris[1].as_str()
    );
    assert_eq!(act(json!({ "action": "pause" })).await["is_playing"], false);
    assert_eq!(
        emu.get_json(&bob, "/v1/me/player").await["is_playing"],
        false
    );
    assert_eq!(act(json!({ "action": "resume" })).await["is_playing"], true);
    let raw = act(json!({ "action": "seek", "position_ms": 42_000 })).await;
    assert!(raw["position_ms"].as_i64().unwrap() >= 42_000);
    assert_eq!(
        act(json!({ "action": "previous" })).await["current_uri"],
        uris[1].as_str(),
        "past 3 s, previous restarts"
    );
    let speaker = emu.get_json(&bob, "/v1/me/player/devices").await["devices"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        act(json!({ "action": "transfer", "device_id": speaker })).await["device_id"],
        speaker.as_str()
    );
    let raw = act(json!({ "action": "shuffle", "state": true })).await;
    assert_eq!(raw["shuffle_state"], true);
    let raw = act(json!({ "action": "repeat", "state": "track" })).await;
    assert_eq!(
        (&raw["shuffle_state"], &raw["repeat_state"]),
        (&json!(true), &json!("track"))
    );
    for bad in [
        json!({ "action": "shuffle", "state": "on" }),
        json!({ "action": "repeat", "state": "all" }),
        json!({ "action": "repeat" }),
    ] {
        let (status, _) = emu
            .control(Method::POST, "/_emulator/users/bob/player", Some(bad))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (status, _) = emu
        .control(
            Method::POST,
            "/_emulator/users/bob/player",
            Some(json!({ "action": "dance" })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = emu
        .control(
            Method::POST,
            "/_emulator/users/nobody/player",
            Some(json!({ "action": "next" })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Free users can use their own app even though the Web API refuses them.
    let (status, raw) = emu
        .control(
            Method::POST,
            "/_emulator/users/heidi/player",
            Some(json!({ "action": "play", "uris": [uris[0]] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(raw["is_playing"], true);
}

#[tokio::test]
async fn revoke_and_expire_tokens() {
    let emu = common::start().await;
    let carol = emu.login("carol").await;
    let grace = emu.login("grace").await;

    let (status, body) = emu
        .control(Method::POST, "/_emulator/users/carol/expire-tokens", None)
        .await;
    assert_eq!(
        (status, body["expired_access_tokens"].as_i64()),
        (StatusCode::OK, Some(1))
    );
    let expired: Value = emu.get(&carol.access, "/v1/me").await.json().await.unwrap();
    assert_eq!(expired["error"]["message"], "The access token expired");
    let refreshed = emu
        .token_request(
            true,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &carol.refresh),
            ],
        )
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let access: Value = refreshed.json().await.unwrap();
    let access = access["access_token"].as_str().unwrap().to_owned();

    let (status, body) = emu
        .control(Method::POST, "/_emulator/users/carol/revoke", None)
        .await;
    assert_eq!(
        (status, body["revoked_refresh_tokens"].as_i64()),
        (StatusCode::OK, Some(1))
    );
    let refused = emu
        .token_request(
            true,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &carol.refresh),
            ],
        )
        .await;
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        emu.get(&access, "/v1/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        emu.get(&grace.access, "/v1/me").await.status(),
        StatusCode::OK,
        "other users unaffected"
    );

    // Keeping access tokens alive: only the refresh fails.
    emu.control(
        Method::POST,
        "/_emulator/users/grace/revoke",
        Some(json!({ "access_tokens": false })),
    )
    .await;
    assert_eq!(
        emu.get(&grace.access, "/v1/me").await.status(),
        StatusCode::OK
    );
    let refused = emu
        .token_request(
            true,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &grace.refresh),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn devices_come_and_go() {
    let emu = common::start().await;
    let alice = emu.login("alice").await.access;
    let device = emu.device_id(&alice).await;
    let uris = emu.top_uris(&alice, 2).await;
    emu.play(&alice, &device, &uris).await;

    // The active device disappears: nothing plays, no active device.
    let (status, _) = emu
        .control(
            Method::DELETE,
            &format!("/_emulator/users/alice/devices/{device}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        emu.get(&alice, "/v1/me/player").await.status(),
        StatusCode::NO_CONTENT
    );
    let devices = emu.get_json(&alice, "/v1/me/player/devices").await;
    assert!(
        devices["devices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["id"] != device.as_str())
    );
    let next = emu
        .api(Method::POST, &alice, "/v1/me/player/next", None)
        .await;
    assert_eq!(next.status(), StatusCode::NOT_FOUND);
    let (status, _) = emu
        .control(
            Method::DELETE,
            &format!("/_emulator/users/alice/devices/{device}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // It comes back (or a new one appears) and can be played on again.
    let (status, body) = emu
        .control(
            Method::POST,
            &format!("/_emulator/users/alice/devices/{device}"),
            Some(json!({ "name": "Alice's MacBook", "type": "Computer" })),
        )
        .await;
    assert_eq!(
        (status, body["name"].as_str()),
        (StatusCode::OK, Some("Alice's MacBook"))
    );
    emu.play(&alice, &device, &uris).await;
    assert_eq!(
        emu.get_json(&alice, "/v1/me/player").await["device"]["id"],
        device.as_str()
    );
    let (status, _) = emu
        .control(
            Method::POST,
            &format!("/_emulator/users/alice/devices/{device}"),
            Some(json!({ "present": false })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        emu.get(&alice, "/v1/me/player").await.status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn clock_requests_and_users() {
    let emu = common::start().await;
    let (status, clock) = emu.control(Method::GET, "/_emulator/clock", None).await;
    assert_eq!(
        (status, clock["offset_ms"].as_i64()),
        (StatusCode::OK, Some(0))
    );
    let (_, clock) = emu
        .control(
            Method::POST,
            "/_emulator/clock",
            Some(json!({ "advance_ms": 1500 })),
        )
        .await;
    assert_eq!(clock["offset_ms"], 1500);
    let (status, _) = emu
        .control(
            Method::POST,
            "/_emulator/clock",
            Some(json!({ "advance_ms": -1 })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, users) = emu.control(Method::GET, "/_emulator/users", None).await;
    let users = users["users"].as_array().unwrap();
    let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"
        ]
    );
    let free: Vec<&str> = users
        .iter()
        .filter(|u| u["premium"] == false)
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(free, ["dave", "heidi"]);
    let (_, gen7) = emu
        .control(Method::GET, "/_emulator/users/gen-7", None)
        .await;
    assert_eq!(gen7["premium"], true);
    assert_eq!(
        gen7["top_tracks"]["medium_term"].as_array().unwrap().len(),
        50
    );

    let alice = emu.login("alice").await.access;
    let generated = emu.login("gen-7").await.access;
    assert_eq!(
        emu.get_json(&generated, "/v1/me").await["display_name"],
        "Listener 7"
    );
    assert_eq!(
        emu.get_json(&generated, "/v1/me/top/tracks?limit=5").await["items"][0]["uri"],
        gen7["top_tracks"]["medium_term"][0]
    );
    emu.get(&alice, "/v1/me").await;
    let (_, log) = emu
        .control(Method::GET, "/_emulator/requests?requests=false", None)
        .await;
    assert!(log["requests"].as_array().unwrap().is_empty());
    let by_user: Vec<(&str, i64)> = log["by_user"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["user_id"].as_str().unwrap(), u["count"].as_i64().unwrap()))
        .collect();
    // Per user: one token exchange plus the Web API calls.
    assert_eq!(by_user, [("alice", 2), ("gen-7", 3)]);
    let client = &log["by_client"][0];
    assert_eq!(client["client_id"], common::CLIENT_ID);
    let (_, only_alice) = emu
        .control(Method::GET, "/_emulator/requests?user_id=alice", None)
        .await;
    assert_eq!(only_alice["requests"].as_array().unwrap().len(), 2);
    assert!(
        log["total"].as_i64().unwrap() >= 7,
        "authorize calls count too"
    );

    // The control API itself is never logged; DELETE resets.
    assert_eq!(
        emu.control(Method::DELETE, "/_emulator/requests", None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (_, log) = emu.control(Method::GET, "/_emulator/requests", None).await;
    assert_eq!(log["total"], 0);
    assert!(log["by_endpoint"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn control_api_is_off_unless_enabled() {
    let emu = common::start_with(|c| c.control_api = false).await;
    let (status, body) = emu.control(Method::GET, "/_emulator/requests", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({ "error": { "status": 404, "message": "Service not found" } })
    );
    let (status, _) = emu
        .control(
            Method::POST,
            "/_emulator/clock",
            Some(json!({ "advance_ms": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rate_limit_is_per_app_over_a_rolling_window() {
    let emu = common::start_with(|c| {
        c.rate_limit = 5;
        c.apps.push(AppRegistration::new(
            "other-app",
            "other-secret",
            common::REDIRECT_URI,
        ));
    })
    .await;
    let alice = emu.login("alice").await.access;
    for _ in 0..5 {
        assert_eq!(emu.get(&alice, "/v1/me").await.status(), StatusCode::OK);
    }
    let limited = emu.get(&alice, "/v1/me/player").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=31).contains(&retry_after), "{retry_after}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["status"], 429);
    // The token endpoint is not rate limited, and another app has its own budget.
    let bob = emu.login("bob").await.access;
    assert_eq!(
        emu.get(&bob, "/v1/me").await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "same app, same budget"
    );
    let code = emu.code_for("bob", &[("client_id", "other-app")]).await;
    let other: Value = emu
        .http
        .post(emu.url("/api/token"))
        .basic_auth("other-app", Some("other-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", common::REDIRECT_URI),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        emu.get(other["access_token"].as_str().unwrap(), "/v1/me")
            .await
            .status(),
        StatusCode::OK
    );
    let (_, log) = emu
        .control(Method::GET, "/_emulator/requests?path=/v1/me/player", None)
        .await;
    assert_eq!(
        log["requests"][0]["status"], 429,
        "refused requests are logged"
    );
}

#[tokio::test]
async fn development_mode_lets_in_only_the_allow_listed_users() {
    let emu = common::start_with(|c| c.dev_mode_users = Some(vec!["alice".into()])).await;
    // Everyone completes OAuth, as on Spotify; the Web API then refuses who is not listed.
    let alice = emu.login("alice").await.access;
    let bob = emu.login("bob").await.access;
    assert_eq!(emu.get(&alice, "/v1/me").await.status(), StatusCode::OK);
    for path in [
        "/v1/me",
        "/v1/me/player",
        "/v1/me/top/tracks",
        "/v1/search?q=a&type=track",
    ] {
        let refused = emu.get(&bob, path).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(
            body,
            json!({ "error": { "status": 403, "message": "User not registered in the Developer Dashboard" } }),
            "{path}"
        );
    }
    // A bad token is still a 401, never the allow-list's 403.
    assert_eq!(
        emu.get("not-a-token", "/v1/me").await.status(),
        StatusCode::UNAUTHORIZED
    );

    let path = format!("/_emulator/apps/{}/dev-mode", common::CLIENT_ID);
    let (status, body) = emu.control(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "enabled": true, "users": ["alice"] }));
    let (status, body) = emu
        .control(
            Method::PUT,
            &path,
            Some(json!({ "enabled": true, "users": ["bob"] })),
        )
        .await;
    assert_eq!(
        (status, body["users"].clone()),
        (StatusCode::OK, json!(["bob"]))
    );
    assert_eq!(emu.get(&bob, "/v1/me").await.status(), StatusCode::OK);
    assert_eq!(
        emu.get(&alice, "/v1/me").await.status(),
        StatusCode::FORBIDDEN
    );

    // At most five, as in Spotify's dashboard; a refused change changes nothing.
    let six: Vec<String> = (0..6).map(|i| format!("user{i}")).collect();
    let (status, _) = emu
        .control(
            Method::PUT,
            &path,
            Some(json!({ "enabled": true, "users": six })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(emu.get(&bob, "/v1/me").await.status(), StatusCode::OK);
    let (status, _) = emu
        .control(
            Method::PUT,
            "/_emulator/apps/nobody/dev-mode",
            Some(json!({ "enabled": false })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Off again: everyone passes.
    let (status, _) = emu
        .control(Method::PUT, &path, Some(json!({ "enabled": false })))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(emu.get(&alice, "/v1/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn development_mode_is_off_by_default_and_caps_its_list_at_start() {
    let emu = common::start().await;
    let bob = emu.login("bob").await.access;
    assert_eq!(emu.get(&bob, "/v1/me").await.status(), StatusCode::OK);
    let (_, body) = emu
        .control(
            Method::GET,
            &format!("/_emulator/apps/{}/dev-mode", common::CLIENT_ID),
            None,
        )
        .await;
    assert_eq!(body, json!({ "enabled": false, "users": [] }));
    let too_many = sesh_spotify_emulator::Emulator::start(sesh_spotify_emulator::EmulatorConfig {
        dev_mode_users: Some((0..6).map(|i| format!("user{i}")).collect()),
        ..sesh_spotify_emulator::EmulatorConfig::default()
    })
    .await;
    assert!(too_many.is_err());
}
