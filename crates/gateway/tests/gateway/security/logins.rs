//! Logins under attack (issue 15, findings 2, 3 and 9): a callback URL sent to a victim, a
//! flood of anonymous logins, and logins that outlive a logout or their use.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use super::session_with;
use crate::common::{Browser, Closed, TestApp, WAIT, spawn_app, spawn_app_with, welcome};

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// Rows of `table` for `user` in the app's database file.
async fn rows_of(app: &TestApp, table: &str, column: &str, user: &str) -> i64 {
    app.count(
        &format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1"),
        user,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_url_followed_in_another_browser_logs_nobody_in() {
    let app = spawn_app().await;
    // Erin (the attacker) starts a login in her own browser and stops at the callback URL…
    let erin = Browser::new(&app, "erin");
    let start = erin
        .http
        .get(format!("{}/auth/login?next=/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let approved = erin
        .http
        .get(format!("{}&user=erin", location(&start)))
        .send()
        .await
        .unwrap();
    let callback = location(&approved);
    assert!(callback.contains("/auth/callback?"), "{callback}");

    // …and gets Frank (the victim) to open it (a link, an <img>, a redirect).
    let frank = Browser::new(&app, "frank");
    let opened = frank.http.get(&callback).send().await.unwrap();
    assert_eq!(opened.status(), StatusCode::BAD_REQUEST);
    assert!(
        opened.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(opened.headers().get("set-cookie").is_none());
    let page = opened.text().await.unwrap();
    assert!(page.contains("started in another browser"), "{page}");
    let (status, _) = frank.get("/api/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Nothing was stored: no user, no login; the code was never even exchanged.
    assert_eq!(rows_of(&app, "users", "id", "erin").await, 0);
    assert_eq!(rows_of(&app, "login_sessions", "user_id", "erin").await, 0);

    // In the browser that started it, the same URL still works (the refusal consumed
    // nothing), and then never again.
    let done = erin.http.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::FOUND);
    let (status, me) = erin.get("/api/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], "erin");
    let replay = erin.http.get(&callback).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_meets_429s_while_a_members_request_stays_fast() {
    let app = spawn_app_with(|s| s.login_rate_per_min = 30).await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let (id, code) = session_with(&alice, &[]).await;

    // An anonymous flood from one address: login starts and forged callbacks.
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(WAIT)
        .build()
        .unwrap();
    let flood = {
        let (anon, base) = (anon.clone(), app.address.clone());
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            for n in 0..300 {
                let url = if n % 2 == 0 {
                    format!("{base}/auth/login?next=/")
                } else {
                    format!("{base}/auth/callback?code=x&state=forged{n}")
                };
                statuses.push(anon.get(url).send().await.unwrap().status().as_u16());
            }
            statuses
        })
    };
    // Meanwhile a member joins and reads the session: writes and reads as usual.
    let started = Instant::now();
    let (status, joined) = bob.post(&format!("/api/join/{code}"), None).await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    let (status, _) = bob.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let member_took = started.elapsed();

    let statuses = flood.await.unwrap();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    let passed = statuses.iter().filter(|s| **s != 429).count();
    assert!(limited >= 200, "{limited} of 300 refused: {statuses:?}");
    // The burst (30) and what refilled while the flood ran (30 a minute).
    assert!(passed <= 40, "{passed} got through");
    assert!(
        member_took < Duration::from_secs(2),
        "the member waited {member_took:?}"
    );
    // The refusal says when to come back.
    let refused = anon
        .get(format!("{}/auth/login", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_closes_that_browsers_sockets_and_logout_everywhere_ends_every_login() {
    let app = spawn_app().await;
    let laptop = app.login("alice").await;
    let phone = app.login("alice").await;
    let bob = app.login("bob").await;
    let (id, _) = session_with(&laptop, &[&bob]).await;
    let mut laptop_ws = laptop.ws(&id).await;
    welcome(&mut laptop_ws).await;
    let mut phone_ws = phone.ws(&id).await;
    welcome(&mut phone_ws).await;
    let mut bob_ws = bob.ws(&id).await;
    welcome(&mut bob_ws).await;

    // Logging out on the laptop ends the laptop's socket, not the phone's.
    let (status, _) = laptop.post("/auth/logout", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(laptop_ws.closed().await, Closed::Code(4003));
    let (status, _) = laptop.get("/api/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    phone_ws.send(serde_json::json!({"type": "ping"})).await;
    assert_eq!(phone_ws.next_of_type("pong").await["type"], "pong");

    // A second phone login, then "log out everywhere" from one of them.
    let tablet = app.login("alice").await;
    let mut tablet_ws = tablet.ws(&id).await;
    welcome(&mut tablet_ws).await;
    let (status, _) = phone.post("/auth/logout-everywhere", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(phone_ws.closed().await, Closed::Code(4003));
    assert_eq!(tablet_ws.closed().await, Closed::Code(4003));
    for browser in [&phone, &tablet] {
        let (status, _) = browser.get("/api/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Nobody else is touched.
    bob_ws.send(serde_json::json!({"type": "ping"})).await;
    assert_eq!(bob_ws.next_of_type("pong").await["type"], "pong");
    let (status, _) = bob.get("/api/me").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unused_login_ends_after_the_idle_timeout_and_a_used_one_does_not() {
    let app = spawn_app_with(|s| s.login_idle_timeout = "1500ms".parse().unwrap()).await;
    let idle = app.login("alice").await;
    let busy = app.login("bob").await;
    // bob uses his login every 300 ms for 3 s (twice the idle timeout); alice does not.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        let (status, _) = busy.get("/api/me").await;
        assert_eq!(status, StatusCode::OK, "a used login stays");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (status, body) = idle.get("/api/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "unauthenticated");
}
