//! Limits an attacker runs into (issue 15, findings 4, 6 and 10): per-user limits on requests
//! that reach Spotify and on sessions, invite budgets nobody else can spend, and answers with
//! invite codes that no cache keeps.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::session_with;
use crate::common::{spawn_app_with, welcome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_command_flood_over_http_and_the_socket_meets_429s() {
    let app = spawn_app_with(|s| s.spotify_user_rate_per_min = 30).await;
    let alice = app.login("alice").await;
    let (id, _) = session_with(&alice, &[]).await;
    let (status, started) = alice.start_on_own_device(&id).await;
    assert_eq!(status, StatusCode::OK, "{started}");

    let mut statuses = Vec::new();
    for n in 0..40 {
        let command = if n % 2 == 0 { "pause" } else { "play" };
        let (status, body) = alice
            .post(&format!("/api/sessions/{id}/player/{command}"), None)
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["error"]["code"], "rate_limited", "{body}");
            assert!(body["error"]["retry_after_s"].as_u64().unwrap() >= 1);
        }
        statuses.push(status.as_u16());
    }
    let passed = statuses.iter().filter(|s| **s == 204).count();
    // A burst of 10, of which the start and its device list took two, and what refilled.
    assert!(
        (7..=10).contains(&passed),
        "the burst, then 429: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 204 || *s == 429),
        "{statuses:?}"
    );
    // The same budget over the socket: the WebSocket is no way around it.
    let mut ws = alice.ws(&id).await;
    welcome(&mut ws).await;
    ws.send(json!({"type": "pause"})).await;
    let error = ws.next_of_type("error").await;
    assert_eq!(error["code"], "rate_limited", "{error}");
    // And device lists, which call Spotify too.
    let (status, body) = alice.get("/api/me/devices").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Another user has their own budget.
    let bob = app.login("bob").await;
    let (status, _) = bob.get("/api/me/devices").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_sessions_and_creations_per_hour_are_capped_per_user() {
    let app = spawn_app_with(|s| {
        s.max_live_sessions_per_user = 2;
        s.sessions_per_hour = 3;
    })
    .await;
    let alice = app.login("alice").await;
    let (first, _) = session_with(&alice, &[]).await;
    session_with(&alice, &[]).await;
    let (status, body) = alice.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "too_many_sessions");
    let (_, mine) = alice.get("/api/me/sessions").await;
    assert_eq!(mine.as_array().unwrap().len(), 2, "nothing was created");
    // Ending one frees a live slot; the hourly budget still counts it.
    let (status, _) = alice
        .post(&format!("/api/sessions/{first}/end"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (third, _) = session_with(&alice, &[]).await;
    let (status, _) = alice
        .post(&format!("/api/sessions/{third}/end"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let response = alice
        .http
        .post(format!("{}/api/sessions", app.address))
        .header("Origin", &app.address)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 60, "an hourly budget: {retry} s");
    // Others may still create.
    let bob = app.login("bob").await;
    session_with(&bob, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_wrong_invite_codes_count_and_no_other_site_can_spend_the_budget() {
    let app = spawn_app_with(|s| {
        s.invite_rate_per_min = 5;
        s.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let alice = app.login("alice").await;
    let (_, code) = session_with(&alice, &[]).await;
    let preview = |ip: &str, code: &str, header: bool| {
        let mut request = app
            .http
            .get(format!("{}/api/invites/{code}", app.address))
            .header("X-Forwarded-For", ip);
        if header {
            request = request.header("X-Requested-With", "sesh");
        }
        request.send()
    };
    // A hostile page makes the party's browsers load the preview (an <img>): no custom
    // header, so refused before it counts.
    for _ in 0..20 {
        let response = preview("203.0.113.7", "AAAAAAAAAAAAAAAAAAAAAA", false)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "header_required");
    }
    // Good links never count: a whole party behind one address opens it.
    for _ in 0..30 {
        let response = preview("203.0.113.7", &code, true).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    // Wrong codes do; IPv6 clients count by their /64, whatever address they rotate to.
    for n in 1..=5 {
        let ip = format!("2001:db8:7:7::{n:x}");
        let response = preview(&ip, "AAAAAAAAAAAAAAAAAAAAAA", true).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{ip}");
    }
    let response = preview("2001:db8:7:7:ffff::1", &code, true).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a good code before the budget runs out"
    );
    let response = preview("2001:db8:7:7:abcd::9", "AAAAAAAAAAAAAAAAAAAAAA", true)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let response = preview("2001:db8:7:7:1::1", &code, true).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the whole /64 waits"
    );
    // The IPv4 party and the next /64 are not affected.
    for ip in ["203.0.113.7", "2001:db8:7:8::1"] {
        let response = preview(ip, &code, true).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{ip}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_carry_an_invite_code_are_never_cached() {
    let app = spawn_app_with(|_| {}).await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let created = alice
        .http
        .post(format!("{}/api/sessions", app.address))
        .header("Origin", &app.address)
        .send()
        .await
        .unwrap();
    assert_eq!(created.headers()["cache-control"], "no-store", "create");
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["invite_code"].as_str().unwrap().to_owned();
    let requests = [
        (
            "join",
            bob.http.post(format!("{}/api/join/{code}", app.address)),
        ),
        (
            "snapshot",
            alice.http.get(format!("{}/api/sessions/{id}", app.address)),
        ),
        (
            "QR code",
            alice
                .http
                .get(format!("{}/api/sessions/{id}/qr.svg", app.address)),
        ),
        (
            "rotate",
            alice
                .http
                .post(format!("{}/api/sessions/{id}/invite", app.address)),
        ),
    ];
    for (what, request) in requests {
        let response = request.header("Origin", &app.address).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{what}: {}",
            response.status()
        );
        assert_eq!(response.headers()["cache-control"], "no-store", "{what}");
    }
}
