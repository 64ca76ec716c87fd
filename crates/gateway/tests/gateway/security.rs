//! Attackers and nosy users: authorization for each role over HTTP and WebSocket, kicked members
//! and rotated invites, CSRF on every state-changing route, the login cookie's attributes (with
//! `__Host-` over https), rate limits (invite guesses per IP, sockets per user, frames per
//! socket), security headers on every route, tokens at rest, and a whole flow logged at
//! `RUST_LOG=trace` by the real binary without a single secret in the log.

mod frames;
mod limits;
mod logins;

use std::{collections::HashSet, net::TcpListener, path::Path, sync::Arc};

use base64::Engine;
use reqwest::{StatusCode, cookie::CookieStore};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sesh_gateway::{
    Application, Settings,
    crypto::{SecretKey, TokenCipher},
    db::Database,
    settings::Redacted,
};
use sesh_session::UserId;
use sesh_spotify_emulator::{AppRegistration, Emulator, EmulatorConfig};
use tokio_tungstenite::tungstenite;

use crate::common::{
    self, Browser, CLIENT_ID, CLIENT_SECRET, Closed, spawn_app, spawn_app_with, welcome,
};

/// Host creates; `guests` join. → (session id, invite code).
async fn session_with(host: &Browser, guests: &[&Browser]) -> (String, String) {
    let (status, created) = host.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["invite_code"].as_str().unwrap().to_owned();
    for guest in guests {
        let (status, body) = guest.post(&format!("/api/join/{code}"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    (id, code)
}

fn refused_status(error: tungstenite::Error) -> (u16, Option<String>) {
    match error {
        tungstenite::Error::Http(response) => (
            response.status().as_u16(),
            response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned()),
        ),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str, what: &str) {
    assert_eq!(status, expected, "{what}: {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_and_strangers_cannot_act_on_a_session() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let erin = app.login("erin").await;
    let (id, code) = session_with(&alice, &[&bob]).await;
    let bob_device = bob.device_id().await;
    let mut host_ws = alice.ws(&id).await;
    welcome(&mut host_ws).await;

    // A guest, over HTTP: nothing host-only.
    let forbidden = StatusCode::FORBIDDEN;
    for (path, body) in [
        (
            format!("/api/sessions/{id}/start"),
            Some(json!({"device_id": bob_device})),
        ),
        (format!("/api/sessions/{id}/player/play"), None),
        (format!("/api/sessions/{id}/player/pause"), None),
        (format!("/api/sessions/{id}/player/next"), None),
        (format!("/api/sessions/{id}/player/previous"), None),
        (format!("/api/sessions/{id}/kick/alice"), None),
        (format!("/api/sessions/{id}/end"), None),
        (format!("/api/sessions/{id}/invite"), None),
    ] {
        let (status, answer) = bob.post(&path, body).await;
        assert_error(status, &answer, forbidden, "forbidden", &path);
    }
    // … and over the WebSocket.
    let mut guest_ws = bob.ws(&id).await;
    welcome(&mut guest_ws).await;
    for frame in [
        json!({"type": "start", "device_id": bob_device}),
        json!({"type": "play"}),
        json!({"type": "pause"}),
        json!({"type": "next"}),
        json!({"type": "previous"}),
    ] {
        guest_ws.send(frame.clone()).await;
        let error = guest_ws.next_of_type("error").await;
        assert_eq!(error["code"], "forbidden", "{frame} → {error}");
    }

    // A logged-in non-member: no snapshot, socket, QR code or host action.
    for path in [
        format!("/api/sessions/{id}"),
        format!("/api/sessions/{id}/qr.svg"),
    ] {
        let (status, answer) = erin.get(&path).await;
        assert_error(status, &answer, forbidden, "not_a_member", &path);
    }
    let (status, _) = refused_status(
        erin.ws_with(&id, None, Some(&erin.address.clone()))
            .await
            .err()
            .unwrap(),
    );
    assert_eq!(status, 403);
    for path in [
        format!("/api/sessions/{id}/player/pause"),
        format!("/api/sessions/{id}/end"),
        format!("/api/sessions/{id}/kick/bob"),
        format!("/api/sessions/{id}/invite"),
        format!("/api/sessions/{id}/leave"),
    ] {
        let (status, answer) = erin.post(&path, None).await;
        assert_error(status, &answer, forbidden, "not_a_member", &path);
    }
    // Nobody logged in: 401 everywhere, including the socket.
    let stranger = Browser::new(&app, "nobody");
    for path in [
        format!("/api/sessions/{id}"),
        format!("/api/sessions/{id}/qr.svg"),
    ] {
        let (status, answer) = stranger.get(&path).await;
        assert_error(
            status,
            &answer,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            &path,
        );
    }
    let (status, answer) = stranger.post(&format!("/api/join/{code}"), None).await;
    assert_error(
        status,
        &answer,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "join",
    );
    let (status, _) = refused_status(
        stranger
            .ws_with(&id, None, Some(&stranger.address.clone()))
            .await
            .err()
            .unwrap(),
    );
    assert_eq!(status, 401);

    // Nothing happened: still a lobby of two, nothing playing, and the host heard of nothing
    // but bob's presence.
    let (_, snapshot) = alice.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(snapshot["state"], "lobby");
    assert_eq!(snapshot["members"].as_array().unwrap().len(), 2);
    assert_eq!(app.emulator_player("bob").await["is_playing"], false);
    host_ws.send(json!({"type": "ping"})).await;
    let mut seen = Vec::new();
    loop {
        let frame = host_ws.next_json().await;
        if frame["type"] == "pong" {
            break;
        }
        seen.push(frame["type"].as_str().unwrap().to_owned());
    }
    assert!(seen.iter().all(|t| t == "presence"), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kicked_member_stays_out_through_a_rotation_until_the_host_lets_them_back() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let carol = app.login("carol").await;
    let (id, old_code) = session_with(&alice, &[&bob]).await;
    let mut host_ws = alice.ws(&id).await;
    welcome(&mut host_ws).await;
    let mut bob_ws = bob.ws(&id).await;
    welcome(&mut bob_ws).await;

    let (status, _) = alice
        .post(&format!("/api/sessions/{id}/kick/bob"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(bob_ws.closed().await, Closed::Code(4001));
    // The old link does not let him back, nor do his old rights.
    let (status, body) = bob.post(&format!("/api/join/{old_code}"), None).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "banned",
        "rejoin with the old code",
    );
    let (status, body) = bob.get(&format!("/api/sessions/{id}")).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "not_a_member",
        "snapshot after kick",
    );
    let (status, _) = refused_status(
        bob.ws_with(&id, None, Some(&bob.address.clone()))
            .await
            .err()
            .unwrap(),
    );
    assert_eq!(status, 403);

    // The host rotates the invite: everyone connected hears of the new link.
    let (status, rotated) = alice
        .post(&format!("/api/sessions/{id}/invite"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_code = rotated["invite_code"].as_str().unwrap().to_owned();
    assert_ne!(new_code, old_code);
    assert_eq!(rotated["join_url"], format!("{}/j/{new_code}", app.address));
    let event = host_ws.next_of_type("invite_rotated").await;
    assert_eq!(event["invite_code"], new_code.as_str());
    assert!(event["seq"].is_u64());

    // The old code is dead for everyone; the new one is for new people, not for bob (a
    // rotation revokes a leaked link; it must not let the kicked back in).
    for who in [&bob, &carol] {
        let (status, body) = who.post(&format!("/api/join/{old_code}"), None).await;
        assert_error(
            status,
            &body,
            StatusCode::NOT_FOUND,
            "invite_not_found",
            "old code",
        );
    }
    let (status, _) = app
        .http
        .get(format!("{}/api/invites/{old_code}", app.address))
        .header("X-Requested-With", "sesh")
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = bob.post(&format!("/api/join/{new_code}"), None).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "banned",
        "rejoin with the new code",
    );
    let (status, joined) = carol.post(&format!("/api/join/{new_code}"), None).await;
    assert_eq!(status, StatusCode::OK, "{joined}");

    // Letting him back in is the host's own action.
    let (status, body) = carol
        .post(&format!("/api/sessions/{id}/unban/bob"), None)
        .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "forbidden",
        "guest unbans",
    );
    let (status, body) = alice
        .post(&format!("/api/sessions/{id}/unban/carol"), None)
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "invalid_target",
        "unban someone not banned",
    );
    let (status, _) = alice
        .post(&format!("/api/sessions/{id}/unban/bob"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let event = host_ws.next_of_type("member_unbanned").await;
    assert_eq!(event["user_id"], "bob");
    let (status, joined) = bob.post(&format!("/api/join/{new_code}"), None).await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    assert_eq!(joined["invite_code"], new_code.as_str());
    let mut bob_ws = bob.ws(&id).await;
    welcome(&mut bob_ws).await;
}

/// `GET /api/invites/{code}` as `who`'s browser (its cookie, if any) → (status, JSON, Cache-Control).
async fn preview_as(who: &Browser, code: &str) -> (StatusCode, Value, Option<String>) {
    let response = who
        .http
        .get(format!("{}/api/invites/{code}", who.address))
        .header("X-Requested-With", "sesh")
        .send()
        .await
        .unwrap();
    let status = response.status();
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, response.json().await.unwrap(), cache)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_host_sees_whom_they_removed_and_the_removed_see_it_in_the_preview() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let carol = app.login("carol").await;
    let (id, code) = session_with(&alice, &[&bob, &carol]).await;
    let mut host_ws = alice.ws(&id).await;
    let hello = welcome(&mut host_ws).await;
    assert_eq!(hello["session"]["banned"], json!([]));

    let (_, preview, _) = preview_as(&bob, &code).await;
    assert_eq!(preview["you"], json!({ "member": true, "banned": false }));

    let (status, _) = alice
        .post(&format!("/api/sessions/{id}/kick/bob"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The host sees him under the name he had in the session, not his id; a guest sees nobody.
    let (status, host_view) = alice.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{host_view}");
    assert_eq!(
        host_view["banned"],
        json!([{ "id": "bob", "display_name": "Bob Brennan" }])
    );
    let (status, guest_view) = carol.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{guest_view}");
    assert_eq!(guest_view["banned"], json!([]));
    // So does a host's new socket (the welcome is the same view), and a guest's does not.
    let mut again = alice.ws(&id).await;
    assert_eq!(
        welcome(&mut again).await["session"]["banned"][0]["display_name"],
        "Bob Brennan"
    );
    let mut carol_ws = carol.ws(&id).await;
    assert_eq!(welcome(&mut carol_ws).await["session"]["banned"], json!([]));

    // The invite preview tells bob up front, and only a logged-in caller where they stand.
    let (status, preview, cache) = preview_as(&bob, &code).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["you"], json!({ "member": false, "banned": true }));
    assert_eq!(cache.as_deref(), Some("no-store"));
    let (_, preview, _) = preview_as(&carol, &code).await;
    assert_eq!(preview["you"], json!({ "member": true, "banned": false }));
    let anonymous = Browser::new_at(&app.address, "nobody");
    let (status, preview, _) = preview_as(&anonymous, &code).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert!(preview.get("you").is_none(), "{preview}");
    assert_eq!(preview["host"]["display_name"], "Alice Andersson");

    let (status, _) = alice
        .post(&format!("/api/sessions/{id}/unban/bob"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    host_ws.next_of_type("member_unbanned").await;
    let (_, host_view) = alice.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(host_view["banned"], json!([]));
    let (_, preview, _) = preview_as(&bob, &code).await;
    assert_eq!(preview["you"], json!({ "member": false, "banned": false }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_changing_route_refuses_cross_site_requests() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let (id, code) = session_with(&alice, &[&bob]).await;
    let routes = [
        "/api/sessions".to_owned(),
        format!("/api/join/{code}"),
        format!("/api/sessions/{id}/leave"),
        format!("/api/sessions/{id}/kick/bob"),
        format!("/api/sessions/{id}/unban/bob"),
        format!("/api/sessions/{id}/end"),
        format!("/api/sessions/{id}/start"),
        format!("/api/sessions/{id}/invite"),
        format!("/api/sessions/{id}/player/pause"),
        "/auth/logout".to_owned(),
        "/auth/logout-everywhere".to_owned(),
    ];
    let foreign = "http://evil.example";
    for path in &routes {
        let url = format!("{}{path}", app.address);
        let attempts = [
            ("no Origin or Referer", alice.http.post(&url)),
            (
                "foreign Origin",
                alice.http.post(&url).header("Origin", foreign),
            ),
            (
                "Origin null",
                alice.http.post(&url).header("Origin", "null"),
            ),
            (
                "foreign Referer",
                alice
                    .http
                    .post(&url)
                    .header("Referer", format!("{foreign}/x")),
            ),
            (
                "foreign Origin, our Referer",
                alice
                    .http
                    .post(&url)
                    .header("Origin", foreign)
                    .header("Referer", format!("{}/s/{id}", app.address)),
            ),
            (
                "our host, other port",
                alice.http.post(&url).header("Origin", "http://127.0.0.1:1"),
            ),
        ];
        for (what, request) in attempts {
            let response = request
                .header("Content-Type", "application/json")
                .body(r#"{"device_id":"x"}"#)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert_error(
                status,
                &body,
                StatusCode::FORBIDDEN,
                "csrf",
                &format!("{path}: {what}"),
            );
        }
    }
    // Nothing happened; alice is still logged in and still the host of a live lobby.
    let (status, snapshot) = alice.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(snapshot["state"], "lobby");
    assert_eq!(snapshot["members"].as_array().unwrap().len(), 2);
    // A same-origin Referer (a browser that sent no Origin) is accepted.
    let response = bob
        .http
        .post(format!("{}/api/sessions/{id}/leave", app.address))
        .header("Referer", format!("{}/s/{id}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_cookie_is_httponly_and_samesite() {
    let app = spawn_app().await;
    let (set_cookie, _) =
        login_set_cookie(&app.address, &app.emulator_url, &app.address, "alice").await;
    let attributes = cookie_attributes(&set_cookie);
    assert!(set_cookie.starts_with("sesh_sid="), "{set_cookie}");
    for expected in ["httponly", "samesite=lax", "path=/"] {
        assert!(
            attributes.iter().any(|a| a == expected),
            "{set_cookie} lacks {expected}"
        );
    }
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain")),
        "{set_cookie}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_the_cookie_is_host_prefixed_and_secure() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let public = format!("https://127.0.0.1:{port}");
    let emulator = Emulator::start(EmulatorConfig {
        apps: vec![AppRegistration::new(
            CLIENT_ID,
            CLIENT_SECRET,
            format!("{public}/auth/callback"),
        )],
        control_api: true,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_for(
        &dir.path().join("sesh.db"),
        dir.path(),
        &emulator.base_url(),
    );
    settings.public_url = Some(public.parse().unwrap());
    let app = Application::build_with_listener(settings, listener)
        .await
        .unwrap();
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());
    // Sesh itself speaks plain HTTP behind the TLS proxy; the browser talks to `public`.
    let direct = format!("http://127.0.0.1:{port}");

    let (set_cookie, value) =
        login_set_cookie(&direct, &emulator.base_url(), &public, "alice").await;
    assert!(set_cookie.starts_with("__Host-sesh_sid="), "{set_cookie}");
    let attributes = cookie_attributes(&set_cookie);
    for expected in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(
            attributes.iter().any(|a| a == expected),
            "{set_cookie} lacks {expected}"
        );
    }
    // `__Host-` forbids a Domain attribute.
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain")),
        "{set_cookie}"
    );

    let http = reqwest::Client::new();
    let me = |cookie: String| {
        http.get(format!("{direct}/api/me"))
            .header("Cookie", cookie)
            .send()
    };
    let response = me(format!("__Host-sesh_sid={value}")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("strict-transport-security"));
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains(&format!("connect-src 'self' wss://127.0.0.1:{port}")),
        "{csp}"
    );
    // The unprefixed name is not read over https.
    assert_eq!(
        me(format!("sesh_sid={value}")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_guesses_are_rate_limited_per_client_ip() {
    // Behind a trusted proxy range (docker-compose's style), X-Forwarded-For names the client.
    let app = spawn_app_with(|s| {
        s.invite_rate_per_min = 5;
        s.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let (_, code) = session_with(&alice, &[]).await;
    let wrong = "AAAAAAAAAAAAAAAAAAAAAA";
    let from = |ip: &str, path: String| {
        bob.http
            .post(format!("{}{path}", app.address))
            .header("Origin", &app.address)
            .header("X-Forwarded-For", ip)
            .send()
    };
    for _ in 0..5 {
        let response = from("203.0.113.7", format!("/api/join/{wrong}"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    // Used up: even the right code answers 429, so a lucky guess learns nothing.
    for path in [format!("/api/join/{wrong}"), format!("/api/join/{code}")] {
        let response = from("203.0.113.7", path).await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "rate_limited");
        assert_eq!(body["error"]["retry_after_s"], retry);
    }
    let preview = app
        .http
        .get(format!("{}/api/invites/{code}", app.address))
        .header("X-Requested-With", "sesh")
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another client is not affected.
    let response = from("198.51.100.20", format!("/api/join/{code}"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Without trusted proxies, a forged X-Forwarded-For does not buy a fresh budget.
    let app = spawn_app_with(|s| s.invite_rate_per_min = 3).await;
    let mut statuses = Vec::new();
    for n in 0..5 {
        let response = app
            .http
            .get(format!("{}/api/invites/{wrong}", app.address))
            .header("X-Requested-With", "sesh")
            .header("X-Forwarded-For", format!("192.0.2.{n}"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [404, 404, 404, 429, 429]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_per_user_are_capped() {
    let app = spawn_app_with(|s| s.ws_max_per_user = 3).await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let (id, _) = session_with(&alice, &[&bob]).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut ws = alice.ws(&id).await;
        welcome(&mut ws).await;
        open.push(ws);
    }
    let (status, retry_after) = refused_status(
        alice
            .ws_with(&id, None, Some(&alice.address.clone()))
            .await
            .err()
            .unwrap(),
    );
    assert_eq!(status, 429);
    assert_eq!(retry_after.as_deref(), Some("5"));
    // Other users are not affected.
    let mut bob_ws = bob.ws(&id).await;
    welcome(&mut bob_ws).await;
    // Closing one frees its slot.
    let mut first = open.remove(0);
    first.stream.close(None).await.unwrap();
    assert_eq!(first.closed().await, Closed::Code(1000));
    let mut again = alice.ws(&id).await;
    welcome(&mut again).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_flood_gets_error_frames_then_close_1008() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let (id, _) = session_with(&alice, &[]).await;
    let mut ws = alice.ws(&id).await;
    welcome(&mut ws).await;
    for _ in 0..100 {
        // The server may close mid-flood; later sends may fail.
        if futures_util::SinkExt::send(
            &mut ws.stream,
            tungstenite::Message::text(r#"{"type":"ping"}"#),
        )
        .await
        .is_err()
        {
            break;
        }
    }
    let (mut pongs, mut limited) = (0, 0);
    let closed = loop {
        match ws.next_frame().await {
            Ok(frame) if frame["type"] == "pong" => pongs += 1,
            Ok(frame) if frame["type"] == "error" => {
                assert_eq!(frame["code"], "rate_limited", "{frame}");
                limited += 1;
            }
            Ok(_) => {}
            Err(closed) => break closed,
        }
    };
    assert_eq!(closed, Closed::Code(1008));
    assert!((20..=40).contains(&pongs), "{pongs} pongs");
    assert!(limited >= 10, "{limited} rate_limited errors");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_carries_the_security_headers_and_covers_are_allowed() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let (id, code) = session_with(&alice, &[]).await;
    let emulator_origin = app.emulator_url.trim_end_matches('/').to_owned();
    let expected_csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' {emulator_origin}; \
         connect-src 'self' ws://127.0.0.1:{port}; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        port = app.port
    );
    for path in [
        "/".to_owned(),
        format!("/j/{code}"),
        format!("/s/{id}"),
        "/assets/app.css".to_owned(),
        "/assets/js/session.js".to_owned(),
        "/assets/favicon.svg".to_owned(),
        "/healthz".to_owned(),
        "/api/config".to_owned(),
        "/api/me".to_owned(),
        format!("/api/sessions/{id}"),
        format!("/api/sessions/{id}/qr.svg"),
        format!("/api/invites/{code}"),
        "/no/such/page".to_owned(),
        "/auth/login?next=//evil.example".to_owned(),
    ] {
        let response = alice
            .http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        let headers = response.headers();
        assert_eq!(
            headers["content-security-policy"],
            expected_csp.as_str(),
            "{path}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
    }

    // The covers the pages show (the emulator's, here) are inside `img-src`.
    let (status, started) = alice.start_on_own_device(&id).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let covers: HashSet<String> = started["queue"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["track"]["image_url"].as_str())
        .map(|u| url::Url::parse(u).unwrap().origin().ascii_serialization())
        .collect();
    assert!(!covers.is_empty());
    assert_eq!(covers, HashSet::from([emulator_origin]));

    // Against the real Spotify, covers come from its CDN and nothing else.
    let production =
        sesh_gateway::routes::image_origins(&"https://api.spotify.com".parse().unwrap());
    assert_eq!(production, ["https://i.scdn.co"]);
}

/// Alice and bob log in, tokens are refreshed; neither the old nor the new tokens, nor the login
/// cookie, are anywhere in the database files (main file, WAL, shared memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_cookies_are_never_stored_in_clear() {
    let app = spawn_app().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let db = Database::connect(&app.settings.database_url, cipher(&app.settings))
        .await
        .unwrap();
    let mut secrets = Vec::new();
    for user in ["alice", "bob"] {
        secrets.extend(stored_tokens(&db, user).await);
    }
    // An expired access token: the next Spotify call refreshes it and the new one is stored.
    app.emulator_post("/_emulator/users/alice/expire-tokens", json!({}))
        .await;
    let (status, _) = alice.get("/api/me/devices").await;
    assert_eq!(status, StatusCode::OK);
    let refreshed = refreshed_tokens(&db, "alice", &secrets[0]).await;
    secrets.extend(refreshed);
    db.close().await;
    for browser in [&alice, &bob] {
        secrets.push(cookie_value(browser));
    }
    secrets.push(CLIENT_SECRET.to_owned());

    let mut scanned = 0;
    for (place, bytes) in app.stored_bytes().await {
        scanned += bytes.len();
        for secret in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a secret ({} chars) is in clear in {place}",
                secret.len(),
            );
        }
    }
    // In WAL mode fresh pages live in the -wal file until a checkpoint: both were read. (On
    // PostgreSQL: every row, a few KiB.)
    let least = if common::on_postgres() {
        1024
    } else {
        32 * 1024
    };
    assert!(scanned > least, "only {scanned} bytes scanned");
}

/// The whole flow — two logins, create, join, start, WebSocket events, a token refresh — run by
/// the real `sesh` binary with `RUST_LOG=trace`: the log holds no access or refresh token,
/// client secret, authorization code, PKCE verifier or login cookie.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_of_a_whole_flow_hold_no_secrets() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().unwrap();
    // The emulator must know the redirect URI, so Sesh's port is picked first.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("http://127.0.0.1:{port}");
    let emulator = Emulator::start(EmulatorConfig {
        apps: vec![AppRegistration::new(
            CLIENT_ID,
            CLIENT_SECRET,
            format!("{address}/auth/callback"),
        )],
        control_api: true,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let emulator_url = emulator.base_url();
    let db_path = dir.path().join("sesh.db");
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sesh"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "trace")
        .env("SESH_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "SESH_DATABASE_URL",
            format!("sqlite://{}", db_path.display()),
        )
        .env("SESH_DATA_DIR", dir.path().join("data"))
        .env("SPOTIFY_CLIENT_ID", CLIENT_ID)
        .env("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET)
        .env("SESH_SPOTIFY_ACCOUNTS_URL", &emulator_url)
        .env("SESH_SPOTIFY_API_URL", &emulator_url)
        .env("SESH_SECRET_KEY", &key)
        .env("SESH_WORKERS", "1")
        .env("SESH_POLL_INTERVAL", "200ms")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Everything the process prints goes to one file; readiness is its "ready" line.
    let log_path = dir.path().join("sesh.log");
    let log = Arc::new(tokio::sync::Mutex::new(
        tokio::fs::File::create(&log_path).await.unwrap(),
    ));
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let mut ready_tx = Some(ready_tx);
    let stderr = child.stderr.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr_log = log.clone();
    let stderr_task = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("Sesh is ready")
                && let Some(tx) = ready_tx.take()
            {
                let _ = tx.send(());
            }
            let mut file = stderr_log.lock().await;
            file.write_all(line.as_bytes()).await.unwrap();
            file.write_all(b"\n").await.unwrap();
        }
    });
    let stdout_task = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut file = log.lock().await;
            file.write_all(line.as_bytes()).await.unwrap();
            file.write_all(b"\n").await.unwrap();
        }
    });
    tokio::time::timeout(common::WAIT, ready_rx)
        .await
        .unwrap()
        .unwrap();

    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let mut secrets: Vec<(&str, String)> = vec![
        ("client secret", CLIENT_SECRET.to_owned()),
        ("client credentials (Basic)", basic),
    ];
    let mut challenges = Vec::new();
    let (alice, code_a, challenge_a) = login_browser(&address, &emulator_url, "alice").await;
    let (bob, code_b, challenge_b) = login_browser(&address, &emulator_url, "bob").await;
    secrets.push(("authorization code", code_a));
    secrets.push(("authorization code", code_b));
    challenges.extend([challenge_a, challenge_b]);
    for browser in [&alice, &bob] {
        secrets.push(("login cookie", cookie_value(browser)));
    }

    let (id, invite) = session_with(&alice, &[&bob]).await;
    // Whoever has the invite code can join: it is a credential, in request paths too.
    let (status, _) = bob.get(&format!("/j/{invite}")).await;
    assert_eq!(status, StatusCode::OK);
    let preview = bob
        .http
        .get(format!("{address}/api/invites/{invite}"))
        .header("X-Requested-With", "sesh")
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), StatusCode::OK);
    secrets.push(("invite code", invite));
    let mut host_ws = alice.ws(&id).await;
    welcome(&mut host_ws).await;
    let mut guest_ws = bob.ws(&id).await;
    welcome(&mut guest_ws).await;
    let device = alice.device_id().await;
    host_ws
        .send(json!({"type": "start", "device_id": device}))
        .await;
    guest_ws.next_of_type("session_started").await;
    guest_ws.next_of_type("playback").await;

    // Refresh: alice's access token expires; the poller and the next call renew it.
    let settings = settings_for(&db_path, dir.path(), &emulator_url);
    let db = Database::connect(&settings.database_url, cipher(&settings))
        .await
        .unwrap();
    let before = stored_tokens(&db, "alice").await;
    let http = reqwest::Client::new();
    let expired = http
        .post(format!(
            "{emulator_url}/_emulator/users/alice/expire-tokens"
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(expired.status().is_success());
    let (status, _) = alice.get("/api/me/devices").await;
    assert_eq!(status, StatusCode::OK);
    host_ws.send(json!({"type": "pause"})).await;
    guest_ws
        .next_matching(|f| f["type"] == "playback" && f["is_playing"] == false)
        .await;
    let after = refreshed_tokens(&db, "alice", &before[0]).await;
    for token in before
        .into_iter()
        .chain(after)
        .chain(stored_tokens(&db, "bob").await)
    {
        secrets.push(("Spotify token", token));
    }
    db.close().await;
    drop((host_ws, guest_ws));

    child.start_kill().unwrap();
    child.wait().await.unwrap();
    stderr_task.await.unwrap();
    stdout_task.await.unwrap();
    let text = std::fs::read_to_string(&log_path).unwrap();
    if let Some(keep) = std::env::var_os("SESH_KEEP_TRACE_LOG") {
        std::fs::write(keep, &text).unwrap();
    }
    // The log really is at trace level and covers the flow.
    assert!(text.contains("TRACE"), "trace lines were logged");
    assert!(
        !text.contains('\x1b'),
        "no terminal colour codes in a log file"
    );
    assert!(text.lines().count() > 50, "{} lines", text.lines().count());
    assert!(text.contains("session created") && text.contains("logged in"));
    for (what, secret) in &secrets {
        assert!(secret.len() >= 8, "{what} looks too short to search for");
        if let Some(line) = text.lines().find(|l| l.contains(secret.as_str())) {
            panic!("{what} in the log: {line}");
        }
    }
    // PKCE verifiers are known by their S256 challenge: no word of the log hashes to one.
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || "-._~".contains(c))) {
        if (43..=128).contains(&word.len()) {
            let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(<sha2::Sha256 as sha2::Digest>::digest(word.as_bytes()));
            assert!(
                !challenges.contains(&challenge),
                "a PKCE verifier in the log: {word}"
            );
        }
    }
}

// ---- helpers ----------------------------------------------------------------------------------

/// Test settings against `emulator_url`, as `common` builds them.
fn settings_for(db: &Path, dir: &Path, emulator_url: &str) -> Settings {
    let mut settings = Settings::for_tests(format!("sqlite://{}", db.display()), dir.join("data"));
    settings.spotify_client_id = Some(CLIENT_ID.to_owned());
    settings.spotify_client_secret = Some(Redacted::from(CLIENT_SECRET));
    settings.spotify_accounts_url = emulator_url.parse().unwrap();
    settings.spotify_api_url = emulator_url.parse().unwrap();
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    settings.secret_key = Some(Redacted::from(key.as_str()));
    settings
}

fn cipher(settings: &Settings) -> TokenCipher {
    let key = settings
        .secret_key
        .as_ref()
        .unwrap()
        .secret()
        .expose_secret()
        .to_owned();
    TokenCipher::new(&SecretKey::from_base64(&key).unwrap())
}

/// [access, refresh] of `user`, decrypted through the app's own storage code.
async fn stored_tokens(db: &Database, user: &str) -> Vec<String> {
    let tokens = db.load_tokens(&UserId::new(user)).await.unwrap().unwrap();
    let access = tokens.access.expose_secret().to_owned();
    let refresh = tokens.refresh.as_ref().unwrap().expose_secret().to_owned();
    assert!(access.len() > 20 && refresh.len() > 20);
    vec![access, refresh]
}

/// `user`'s tokens once the refreshed ones are stored (the app writes them back in the
/// background right after the refresh): polls the database until the access token differs from
/// `old`, for at most [`common::WAIT`].
async fn refreshed_tokens(db: &Database, user: &str, old: &str) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let tokens = stored_tokens(db, user).await;
        if tokens[0] != old {
            return tokens;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{user}'s refreshed token was never stored"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

fn cookie_value(browser: &Browser) -> String {
    let header = browser.cookie().unwrap();
    let header = header.to_str().unwrap();
    let value = header
        .split_once('=')
        .unwrap()
        .1
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(value.len() >= 32, "{header}");
    value
}

fn cookie_attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

fn query_param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

/// The login dance by hand against `direct` (Sesh's own address), whose public URL is `public`
/// (the emulator redirects there) → (the `Set-Cookie` header, the cookie's value).
async fn login_set_cookie(
    direct: &str,
    emulator_url: &str,
    public: &str,
    user: &str,
) -> (String, String) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let start = http
        .get(format!("{direct}/auth/login?next=/"))
        .send()
        .await
        .unwrap();
    let authorize = start.headers()["location"].to_str().unwrap().to_owned();
    assert!(authorize.starts_with(emulator_url), "{authorize}");
    let approved = http
        .get(format!("{authorize}&user={user}"))
        .send()
        .await
        .unwrap();
    let callback = approved.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.starts_with(public), "{callback}");
    let callback = callback.replacen(public, direct, 1);
    // The login-binding cookie `/auth/login` set, as the browser would send it back.
    let binding = start.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let done = http
        .get(&callback)
        .header("Cookie", binding)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::FOUND);
    let set_cookie = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.contains("sesh_sid="))
        .unwrap();
    let value = set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    (set_cookie, value)
}

/// A logged-in [`Browser`] for an app we did not spawn ourselves → (browser, the authorization
/// code, the PKCE challenge).
async fn login_browser(address: &str, emulator_url: &str, user: &str) -> (Browser, String, String) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar.clone())
        .timeout(common::WAIT)
        .build()
        .unwrap();
    let start = http
        .get(format!("{address}/auth/login?next=/"))
        .send()
        .await
        .unwrap();
    let authorize = start.headers()["location"].to_str().unwrap().to_owned();
    assert!(authorize.starts_with(emulator_url), "{authorize}");
    let challenge = query_param(&authorize, "code_challenge");
    let approved = http
        .get(format!("{authorize}&user={user}"))
        .send()
        .await
        .unwrap();
    let callback = approved.headers()["location"].to_str().unwrap().to_owned();
    let code = query_param(&callback, "code");
    let done = http.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::FOUND);
    assert!(jar.cookies(&address.parse().unwrap()).is_some());
    let browser = Browser {
        http,
        jar,
        address: address.to_owned(),
        user: user.to_owned(),
    };
    (browser, code, challenge)
}
