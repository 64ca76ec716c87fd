//! What the pages' own requests get: the one "not found" answer (a page for a browser, JSON for
//! an API client, always JSON under `/api/` and `/ws/`) and the logged-in question that never
//! answers an error.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::spawn_app;

/// What Chromium sends when it navigates.
const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_addresses_answer_a_page_to_browsers_and_json_to_api_clients() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let get = |path: &str, accept: Option<&str>| {
        let mut request = http.get(format!("{}{path}", app.address));
        if let Some(accept) = accept {
            request = request.header("Accept", accept);
        }
        request.send()
    };

    // A browser gets the page, in the app's style, with the pages' headers.
    for path in [
        "/nope",
        "/s",
        "/j/",
        "/assets/no-such-file.js",
        "/index.html",
    ] {
        let response = get(path, Some(BROWSER_ACCEPT)).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let headers = response.headers().clone();
        assert_eq!(
            headers["content-type"], "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert!(headers.contains_key("content-security-policy"), "{path}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("<title>Page not found — Sesh</title>"),
            "{path}"
        );
        assert!(body.contains(r#"href="/assets/app.css""#), "{path}");
    }

    // API clients (no Accept, `*/*`, JSON first) get the JSON error.
    for accept in [
        None,
        Some("*/*"),
        Some("application/json"),
        Some("application/json, text/html;q=0.9"),
        Some("text/html;q=0"),
    ] {
        let response = get("/nope", accept).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{accept:?}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{accept:?}");
        assert!(body["error"]["message"].is_string());
    }

    // Under /api/ and /ws/ it is JSON, even to a browser.
    for path in ["/api/nope", "/api", "/ws/nope", "/api/sessions/x/y/z"] {
        let response = get(path, Some(BROWSER_ACCEPT)).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{path}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }

    // A POST to an unknown address is an API call, whatever it accepts.
    let response = http
        .post(format!("{}/nope", app.address))
        .header("Accept", BROWSER_ACCEPT)
        .header("Origin", &app.address)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["content-type"], "application/json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_question_is_answered_without_an_error() {
    let app = spawn_app().await;

    // Logged out (no cookie, or one naming no login): 200, not 401.
    let anonymous = crate::common::Browser::new(&app, "nobody");
    let (status, body) = anonymous.get("/api/me/login").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, serde_json::json!({ "logged_in": false }));

    let alice = app.login("alice").await;
    let (status, body) = alice.get("/api/me/login").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["logged_in"], true);
    assert_eq!(body["id"], "alice");
    assert!(body["display_name"].as_str().is_some_and(|n| !n.is_empty()));
    assert_eq!(body["needs_reauth"], false);
    // The same user as `GET /api/me`, which keeps its 401 for the logged out.
    let (_, me) = alice.get("/api/me").await;
    assert_eq!(me["display_name"], body["display_name"]);
    let (status, _) = anonymous.get("/api/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // After a logout the same cookie is logged out again.
    let (status, _) = alice.post("/auth/logout", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = alice.get("/api/me/login").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["logged_in"], false);
}
