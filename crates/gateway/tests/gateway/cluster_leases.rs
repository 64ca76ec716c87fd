//! Several instances on one PostgreSQL database (issue 22): a session's hub and poller run
//! on the instance that holds its lease, another instance refuses it (503 `session_elsewhere`
//! with `Retry-After`) until the lease is given up or expires, and an instance that lost a
//! lease writes nothing, closes its sockets with 1012 and polls no more.
//!
//! Two in-process apps share one database of the test process's throwaway PostgreSQL and one
//! emulator (so the logins of one are valid Spotify logins for the other), with short leases.
//! Browsers keep their cookie between the two: a cookie is the host's, whatever the port.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sesh_gateway::settings::HumanDuration;

use crate::common::{
    Closed, TestApp, WAIT, party,
    postgres::{Postgres, lease_owner},
    spawn_app_with,
};

/// Leases of this length: a few renewals per second.
const TTL: Duration = Duration::from_secs(2);

/// An app on `url` named `node`; on `spotify`'s emulator when given (a second instance).
async fn instance(url: &str, node: &str, spotify: Option<&TestApp>) -> TestApp {
    let (url, node) = (url.to_owned(), node.to_owned());
    let spotify = spotify.map(|a| {
        (
            a.settings.spotify_api_url.clone(),
            a.settings.spotify_accounts_url.clone(),
        )
    });
    spawn_app_with(move |s| {
        s.database_url = url;
        s.node_id = Some(node);
        s.lease_ttl = HumanDuration(TTL);
        if let Some((api, accounts)) = spotify {
            s.spotify_api_url = api;
            s.spotify_accounts_url = accounts;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_runs_a_session_and_another_takes_it_only_once_it_is_given_up() {
    let url = Postgres::shared().await.database().await;
    let mut a = instance(&url, "a", None).await;
    let b = instance(&url, "b", Some(&a)).await;
    let alice = a.login("alice").await;
    let (status, created) = alice.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    // Created on A, and given up at once: the session runs where its id is routed, which the
    // instance that created it does not know.
    assert_eq!(lease_owner(&url, &id).await, Some(("a".to_owned(), 1)));
    let (status, body) = alice.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(lease_owner(&url, &id).await, Some(("a".to_owned(), 2)));

    // The other instance refuses it, with a time to retry, and starts no hub of it: across
    // several renewals of A's lease.
    let alice_at_b = alice.at(&b.address);
    for _ in 0..4 {
        let (status, body) = alice_at_b.get(&format!("/api/sessions/{id}")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["code"], "session_elsewhere", "{body}");
        assert!(
            body["error"]["retry_after_s"].as_u64().unwrap() >= 1,
            "{body}"
        );
        tokio::time::sleep(TTL / 2).await;
    }
    let refused = alice_at_b
        .http
        .get(format!("{}/ws/sessions/{id}", b.address))
        .header("origin", &b.address)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(lease_owner(&url, &id).await, Some(("a".to_owned(), 2)));

    // A stops: B takes the session over (at once if A gave its lease up, else once it
    // expired), with the next epoch, and serves what A stored.
    a.stop().await;
    let deadline = tokio::time::Instant::now() + TTL + WAIT;
    let view = loop {
        let (status, view) = alice_at_b.get(&format!("/api/sessions/{id}")).await;
        if status == StatusCode::OK {
            break view;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{view}");
        assert!(tokio::time::Instant::now() < deadline, "B never took over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(view["host"], "alice", "{view}");
    assert_eq!(lease_owner(&url, &id).await, Some(("b".to_owned(), 3)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_whose_lease_was_taken_writes_nothing_closes_its_sockets_and_polls_no_more() {
    let url = Postgres::shared().await.database().await;
    let a = instance(&url, "a", None).await;
    let mut p = party(&a, &["bob"]).await;
    let id = p.id.clone();
    let epoch = lease_owner(&url, &id).await.expect("a lease").1;
    // A's polls reach the emulator while it owns the session.
    let polls = a
        .wait_for_emulator_requests("GET", "/v1/me/player", 1)
        .await
        .len();
    assert!(polls >= 1);

    // Another instance claims the session, as if A's lease had expired (A paused, or cut off
    // from the database): the next epoch, a lease of a minute.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(
        "UPDATE session_owner SET owner_node = 'c', epoch = epoch + 1,
                lease_expires_at = CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) + 60000
         WHERE session_id = $1",
    )
    .bind(&id)
    .execute(&pool)
    .await
    .unwrap();

    // A message through A is refused and stored nowhere.
    let (status, body) = p.guests[0]
        .post(
            &format!("/api/sessions/{id}/chat"),
            Some(json!({ "text": "still here?" })),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "session_elsewhere", "{body}");
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM chat_messages WHERE session_id = $1")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored, 0);

    // Every socket is closed with 1012 (reconnect), and A polls no more.
    for ws in &mut p.sockets {
        assert_eq!(ws.closed().await, Closed::Code(1012));
    }
    let after_close = a.emulator_requests("GET", "/v1/me/player").await.len();
    tokio::time::sleep(3 * TTL).await;
    assert_eq!(
        a.emulator_requests("GET", "/v1/me/player").await.len(),
        after_close,
        "the instance that lost the lease polled"
    );
    // A did not write over the lease either.
    assert_eq!(
        lease_owner(&url, &id).await,
        Some(("c".to_owned(), epoch + 1))
    );
    pool.close().await;
}

/// `GET path` on `browser`'s instance, redirects not followed: (status, `Location`, headers'
/// `Cache-Control` and `Access-Control-Allow-Origin`, JSON body).
async fn get_raw(browser: &crate::common::Browser, path: &str) -> (StatusCode, String, Value) {
    let response = browser
        .http
        .get(format!("{}{path}", browser.address))
        .header("x-requested-with", "sesh")
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let headers = format!(
        "location={} cache-control={} acao={}",
        header("location"),
        header("cache-control"),
        header("access-control-allow-origin")
    );
    let status = response.status();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routes_named_by_an_invite_code_or_a_display_key_move_to_their_alias_on_an_instance_that_does_not_run_the_session()
 {
    let url = Postgres::shared().await.database().await;
    let a = instance(&url, "a", None).await;
    let b = instance(&url, "b", Some(&a)).await;
    let p = party(&a, &[]).await;
    let id = p.id.clone();
    let (status, display) = p
        .host
        .post(&format!("/api/sessions/{id}/displays"), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{display}");
    let key = display["key"].as_str().unwrap().to_owned();
    let code = p.code.clone();
    // Logged in through A (the emulator knows A's redirect URI), a browser at B.
    let bob = a.login("bob").await.at(&b.address);

    // On B, which does not run it: 307 to the alias, with a body saying why and kept nowhere.
    let moves = [
        (
            format!("/api/invites/{code}"),
            format!("/api/sessions/{id}/invites/{code}"),
        ),
        (
            format!("/d/{key}/nowplaying.json"),
            format!("/api/sessions/{id}/displays/{key}/nowplaying.json"),
        ),
        (
            format!("/d/{key}/nowplaying.txt"),
            format!("/api/sessions/{id}/displays/{key}/nowplaying.txt"),
        ),
        (
            format!("/d/{key}/events"),
            format!("/api/sessions/{id}/displays/{key}/events"),
        ),
    ];
    for (route, alias) in &moves {
        let (status, headers, body) = get_raw(&bob, route).await;
        assert_eq!(status, StatusCode::TEMPORARY_REDIRECT, "{route}: {body}");
        assert!(
            headers.starts_with(&format!("location={alias} cache-control=no-store")),
            "{route}: {headers}"
        );
        assert_eq!(body["error"]["code"], "session_moved", "{route}: {body}");
    }
    // A script's fetch from any page may follow the JSON's redirect.
    let (_, headers, _) = get_raw(&bob, &moves[1].0).await;
    assert!(headers.ends_with("acao=*"), "{headers}");

    // A join through B moves too and stores nothing; through the alias on A it joins.
    let join = bob.post(&format!("/api/join/{code}"), None).await;
    assert_eq!(join.0, StatusCode::TEMPORARY_REDIRECT, "{}", join.1);
    assert_eq!(join.1["error"]["code"], "session_moved");
    let (_, members) = p.host.get(&format!("/api/sessions/{id}/members")).await;
    assert_eq!(members["total"], 1, "{members}");
    let bob_at_a = bob.at(&a.address);
    let (status, view) = bob_at_a
        .post(&format!("/api/sessions/{id}/join/{code}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let (_, members) = p.host.get(&format!("/api/sessions/{id}/members")).await;
    assert_eq!(members["total"], 2, "{members}");

    // Each alias answers on A, as the id-less route does there (A runs the session).
    for (route, alias) in &moves[..3] {
        for path in [route, alias] {
            let (status, _, body) = get_raw(&bob_at_a, path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
        }
    }
    // An alias naming another session than the code's or key's opens nothing.
    let other = uuid::Uuid::new_v4();
    let (status, _, body) =
        get_raw(&bob_at_a, &format!("/api/sessions/{other}/invites/{code}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "invite_not_found");
    let (status, _, body) = get_raw(
        &bob_at_a,
        &format!("/api/sessions/{other}/displays/{key}/nowplaying.json"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "display_key_invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_instance_closes_the_users_sockets_on_the_other() {
    let url = Postgres::shared().await.database().await;
    let a = instance(&url, "a", None).await;
    let b = instance(&url, "b", Some(&a)).await;
    let mut p = party(&a, &["bob"]).await;
    // bob's second login (another browser), also connected on A.
    let bob_phone = a.login("bob").await;
    let mut phone_ws = bob_phone.ws(&p.id).await;
    crate::common::welcome(&mut phone_ws).await;

    // bob logs his first browser out through B: its socket on A closes, the phone's stays.
    let (status, body) = p.guests[0].at(&b.address).post("/auth/logout", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(p.sockets[1].closed().await, Closed::Code(4003));
    let (status, body) = bob_phone
        .post(
            &format!("/api/sessions/{}/chat", p.id),
            Some(json!({ "text": "still in" })),
        )
        .await;
    assert!(status.is_success(), "{body}");
    phone_ws
        .next_matching(|f| f["type"] == "chat" && f["message"]["text"] == "still in")
        .await;

    // alice logs out everywhere through B: her socket on A closes too.
    let (status, body) = p
        .host
        .at(&b.address)
        .post("/auth/logout-everywhere", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(p.sockets[0].closed().await, Closed::Code(4003));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_one_instance_was_told_pauses_that_endpoint_on_the_other() {
    let url = Postgres::shared().await.database().await;
    let a = instance(&url, "a", None).await;
    let b = instance(&url, "b", Some(&a)).await;
    let alice = a.login("alice").await;
    const DEVICES: &str = "/v1/me/player/devices";
    a.emulator_post(
        "/_emulator/faults",
        json!({ "method": "GET", "path": DEVICES, "status": 429, "retry_after": 30, "count": 1 }),
    )
    .await;
    let (status, body) = alice.get("/api/me/devices").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(a.emulator_requests("GET", DEVICES).await.len(), 1);
    // The hint crosses PostgreSQL in milliseconds; nothing shows its arrival but the refusal.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // B refuses the same call without sending it (the fault is spent: Spotify would answer).
    let (status, body) = alice.at(&b.address).get("/api/me/devices").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert!(
        body["error"]["retry_after_s"].as_u64().unwrap() > 20,
        "{body}"
    );
    assert_eq!(
        a.emulator_requests("GET", DEVICES).await.len(),
        1,
        "B asked Spotify anyway"
    );
    // Only that endpoint: B's other calls go on.
    let (status, body) = alice.at(&b.address).get("/api/me").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// With a ring to sweep by, an instance that is not on it would never be anyone's preferred
/// instance: sesh refuses to start, naming both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_missing_from_its_own_ring_refuses_to_start() {
    let url = Postgres::shared().await.database().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = sesh_gateway::Settings::for_tests(url, dir.path().join("data"));
    settings.secret_key = Some(sesh_gateway::settings::Redacted::from(
        crate::common::test_secret_key().as_str(),
    ));
    settings.node_id = Some("10.0.0.9:8080".into());
    settings.cluster_nodes = Some("10.0.0.1:8080, 10.0.0.2:8080".parse().unwrap());
    let refused = sesh_gateway::Application::build(settings).await;
    let Err(error) = refused else {
        panic!("sesh started off its own ring");
    };
    let message = error.to_string();
    assert!(
        message.contains("10.0.0.9:8080") && message.contains("10.0.0.1:8080, 10.0.0.2:8080"),
        "{message}"
    );
}
