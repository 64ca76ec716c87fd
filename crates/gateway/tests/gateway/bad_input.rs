//! Bad input over real HTTP against the running app: malformed and mistyped JSON, oversized
//! bodies, wrong content types, unknown and foreign session ids, garbage, forged and expired
//! cookies, forged and replayed OAuth `state`, open-redirect attempts. Every one is a 4xx with
//! the documented error shape (the OAuth callback answers a 400 HTML page, as documented), never
//! a 5xx, and the database is byte-for-byte the same afterwards.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{self, Browser, TestApp, on_store, spawn_app_with};

/// One bad request and what it must get.
struct Case {
    what: &'static str,
    request: reqwest::RequestBuilder,
    status: StatusCode,
    /// The JSON error code, or `None` for the callback's HTML page.
    code: Option<&'static str>,
}

fn case(
    what: &'static str,
    request: reqwest::RequestBuilder,
    status: u16,
    code: Option<&'static str>,
) -> Case {
    Case {
        what,
        request,
        status: StatusCode::from_u16(status).unwrap(),
        code,
    }
}

async fn check(case: Case) {
    let response = case.request.send().await.expect(case.what);
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let set_cookie = response.headers().get("set-cookie").cloned();
    let text = response.text().await.unwrap();
    assert!(!status.is_server_error(), "{}: {status} {text}", case.what);
    assert_eq!(status, case.status, "{}: {text}", case.what);
    assert!(set_cookie.is_none(), "{}: sets a cookie", case.what);
    match case.code {
        Some(code) => {
            assert!(
                content_type.starts_with("application/json"),
                "{}: {content_type}",
                case.what
            );
            let body: Value = serde_json::from_str(&text).expect(case.what);
            let error = body["error"].as_object().expect(case.what);
            assert_eq!(error["code"], code, "{}: {text}", case.what);
            assert!(
                error["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{}",
                case.what
            );
            let keys: Vec<&String> = error.keys().collect();
            assert!(
                keys.iter()
                    .all(|k| ["code", "message", "retry_after_s"].contains(&k.as_str())),
                "{}: {keys:?}",
                case.what
            );
            assert_eq!(body.as_object().unwrap().len(), 1, "{}: {text}", case.what);
        }
        None => {
            assert!(
                content_type.starts_with("text/html"),
                "{}: {content_type}",
                case.what
            );
            assert!(text.contains("Login failed"), "{}: {text}", case.what);
        }
    }
}

/// `POST path` with a `Transfer-Encoding: chunked` JSON body of `kib` KiB, over a raw socket
/// (the HTTP client here only sends bodies of known length) → (status, body).
async fn chunked_post(app: &TestApp, path: &str, cookie: &str, kib: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {origin}\r\nCookie: {cookie}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        port = app.port,
        origin = app.address,
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("400\r\n{}\r\n", " ".repeat(1024));
    for _ in 0..kib {
        // The server may answer and close before reading everything: that is the point.
        if socket.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = socket.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(common::WAIT, socket.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"));
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

/// Inserts a login whose cookie value is `cookie` and that expired an hour ago.
async fn insert_expired_login(app: &TestApp, user: &str, cookie: &str) {
    let store = app.store().await;
    let expired = sesh_gateway::db::now_ms() - 3_600_000;
    on_store!(store, |c| sqlx::query(
        "INSERT INTO login_sessions (id_hash, user_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4)"
    )
    .bind(sesh_gateway::crypto::sha256_hex(cookie))
    .bind(user)
    .bind(expired - 1000)
    .bind(expired)
    .execute(c)
    .await
    .map(drop)
    .unwrap());
    store.close().await;
}

/// A completed login's callback URL (its `state` is used up), for a replay.
async fn used_callback_url(app: &TestApp) -> String {
    let browser = Browser::new(app, "frank");
    let start = browser
        .http
        .get(format!("{}/auth/login?next=/", app.address))
        .send()
        .await
        .unwrap();
    let authorize = start.headers()["location"].to_str().unwrap().to_owned();
    let approved = browser
        .http
        .get(format!("{authorize}&user=frank"))
        .send()
        .await
        .unwrap();
    let callback = approved.headers()["location"].to_str().unwrap().to_owned();
    let done = browser.http.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::FOUND);
    callback
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_4xx_errors_and_leaves_the_database_unchanged() {
    // The invite limit has its own test (security.rs); here it must not mask other answers.
    let app = spawn_app_with(|s| s.invite_rate_per_min = 0).await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let carol = app.login("carol").await;
    let (status, created) = alice.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["invite_code"].as_str().unwrap().to_owned();
    assert_eq!(
        bob.post(&format!("/api/join/{code}"), None).await.0,
        StatusCode::OK
    );
    let (_, foreign) = carol.post("/api/sessions", None).await;
    let foreign = foreign["id"].as_str().unwrap().to_owned();
    // Its hub loaded before the dump (with several instances on PostgreSQL a session's
    // creator gives it up at once, and a revived hub reserves a block of sequence numbers):
    // the dumps then differ only by what the bad requests did.
    let (status, _) = carol.get(&format!("/api/sessions/{foreign}")).await;
    assert_eq!(status, StatusCode::OK);
    let replay = used_callback_url(&app).await;
    // Frank's login stores his top tracks in the background: let that land before the dump.
    app.wait_for_top_tracks("frank").await;
    insert_expired_login(&app, "alice", "expired-cookie-value-0123456789").await;

    let before = app.dump().await;

    let base = app.address.clone();
    let url = |path: &str| format!("{base}{path}");
    let origin = app.address.clone();
    // Alice's browser, with our Origin on every request.
    let a = |method: Method, path: &str| {
        alice
            .http
            .request(method, url(path))
            .header("Origin", origin.as_str())
    };
    let json_body = |method: Method, path: &str, body: &str| {
        a(method, path)
            .header("Content-Type", "application/json")
            .body(body.to_owned())
    };
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let with_cookie = |cookie: &str, path: &str| {
        anon.post(url(path))
            .header("Origin", origin.as_str())
            .header("Cookie", cookie.to_owned())
    };
    let random_uuid = "6f1c1c1e-2a5b-4f0e-9b43-6c1d2b7d9a10";
    let start = format!("/api/sessions/{id}/start");
    let big = format!(r#"{{"device_id":"{}"}}"#, "a".repeat(20 * 1024));
    let huge = "x".repeat(256 * 1024);

    let mut cases = vec![
        // Malformed JSON, wrong types, wrong shapes.
        case(
            "create: malformed",
            json_body(Method::POST, "/api/sessions", "{not json"),
            400,
            Some("invalid_json"),
        ),
        case(
            "create: capacity a string",
            json_body(Method::POST, "/api/sessions", r#"{"capacity":"ten"}"#),
            400,
            Some("invalid_json"),
        ),
        case(
            "create: capacity negative",
            json_body(Method::POST, "/api/sessions", r#"{"capacity":-1}"#),
            400,
            Some("invalid_json"),
        ),
        case(
            "create: capacity 0",
            json_body(Method::POST, "/api/sessions", r#"{"capacity":0}"#),
            400,
            Some("invalid_capacity"),
        ),
        case(
            "create: capacity 10^6",
            json_body(Method::POST, "/api/sessions", r#"{"capacity":1000000}"#),
            400,
            Some("invalid_capacity"),
        ),
        case(
            "create: unknown mode",
            json_body(Method::POST, "/api/sessions", r#"{"shuffle_mode":"loud"}"#),
            400,
            Some("invalid_json"),
        ),
        case(
            "create: unknown field",
            json_body(Method::POST, "/api/sessions", r#"{"host":"mallory"}"#),
            400,
            Some("invalid_json"),
        ),
        case(
            "create: an array",
            json_body(Method::POST, "/api/sessions", "[]"),
            400,
            Some("invalid_json"),
        ),
        case(
            "create: null",
            json_body(Method::POST, "/api/sessions", "null"),
            400,
            Some("invalid_json"),
        ),
        case(
            "create: trailing garbage",
            json_body(Method::POST, "/api/sessions", "{} {}"),
            400,
            Some("invalid_json"),
        ),
        case(
            "start: malformed",
            json_body(Method::POST, &start, "{\"device_id\":"),
            400,
            Some("invalid_json"),
        ),
        case(
            "start: device a number",
            json_body(Method::POST, &start, r#"{"device_id":5}"#),
            400,
            Some("invalid_json"),
        ),
        case(
            "start: device null",
            json_body(Method::POST, &start, r#"{"device_id":null}"#),
            400,
            Some("invalid_json"),
        ),
        case(
            "start: no device",
            json_body(Method::POST, &start, "{}"),
            400,
            Some("invalid_json"),
        ),
        case(
            "start: extra field",
            json_body(Method::POST, &start, r#"{"device_id":"d","queue":[]}"#),
            400,
            Some("invalid_json"),
        ),
        case(
            "start: empty device",
            json_body(Method::POST, &start, r#"{"device_id":""}"#),
            400,
            Some("invalid_device"),
        ),
        case(
            "start: invalid utf-8",
            a(Method::POST, &start)
                .header("Content-Type", "application/json")
                .body(vec![b'{', 0xff, 0xfe, b'}']),
            400,
            Some("invalid_json"),
        ),
        // Wrong content type.
        case(
            "create: text/plain",
            a(Method::POST, "/api/sessions")
                .header("Content-Type", "text/plain")
                .body("{}"),
            415,
            Some("unsupported_media_type"),
        ),
        case(
            "create: form",
            a(Method::POST, "/api/sessions").form(&[("capacity", "5")]),
            415,
            Some("unsupported_media_type"),
        ),
        case(
            "start: no content type",
            a(Method::POST, &start).body(r#"{"device_id":"d"}"#),
            415,
            Some("unsupported_media_type"),
        ),
        // Oversized bodies (16 KiB limit), announced or streamed.
        case(
            "start: 20 KiB",
            json_body(Method::POST, &start, &big),
            413,
            Some("body_too_large"),
        ),
        case(
            "create: 256 KiB",
            json_body(Method::POST, "/api/sessions", &huge),
            413,
            Some("body_too_large"),
        ),
        // Unknown and foreign session ids, unknown routes.
        case(
            "view: not a uuid",
            a(Method::GET, "/api/sessions/not-a-uuid"),
            404,
            Some("session_not_found"),
        ),
        case(
            "view: random uuid",
            a(Method::GET, &format!("/api/sessions/{random_uuid}")),
            404,
            Some("session_not_found"),
        ),
        case(
            "view: foreign",
            a(Method::GET, &format!("/api/sessions/{foreign}")),
            403,
            Some("not_a_member"),
        ),
        case(
            "qr: foreign",
            a(Method::GET, &format!("/api/sessions/{foreign}/qr.svg")),
            403,
            Some("not_a_member"),
        ),
        case(
            "qr: random uuid",
            a(Method::GET, &format!("/api/sessions/{random_uuid}/qr.svg")),
            404,
            Some("session_not_found"),
        ),
        case(
            "leave: random uuid",
            a(Method::POST, &format!("/api/sessions/{random_uuid}/leave")),
            404,
            Some("session_not_found"),
        ),
        case(
            "leave: foreign",
            a(Method::POST, &format!("/api/sessions/{foreign}/leave")),
            403,
            Some("not_a_member"),
        ),
        case(
            "end: foreign",
            a(Method::POST, &format!("/api/sessions/{foreign}/end")),
            403,
            Some("not_a_member"),
        ),
        case(
            "end: not a uuid",
            a(Method::POST, "/api/sessions/%27%3B--/end"),
            404,
            Some("session_not_found"),
        ),
        case(
            "kick: foreign",
            a(Method::POST, &format!("/api/sessions/{foreign}/kick/carol")),
            403,
            Some("not_a_member"),
        ),
        case(
            "kick: nobody",
            a(Method::POST, &format!("/api/sessions/{id}/kick/nobody")),
            403,
            Some("not_a_member"),
        ),
        case(
            "invite: foreign",
            a(Method::POST, &format!("/api/sessions/{foreign}/invite")),
            403,
            Some("not_a_member"),
        ),
        case(
            "start: foreign",
            json_body(
                Method::POST,
                &format!("/api/sessions/{foreign}/start"),
                r#"{"device_id":"d1"}"#,
            ),
            403,
            Some("not_a_member"),
        ),
        case(
            "player: foreign",
            a(
                Method::POST,
                &format!("/api/sessions/{foreign}/player/pause"),
            ),
            403,
            Some("not_a_member"),
        ),
        case(
            "player: unknown command",
            a(Method::POST, &format!("/api/sessions/{id}/player/dance")),
            404,
            Some("not_found"),
        ),
        case(
            "player: not started",
            a(
                Method::POST,
                &format!("/api/sessions/{random_uuid}/player/next"),
            ),
            404,
            Some("session_not_found"),
        ),
        case(
            "ws: bad since",
            a(Method::GET, &format!("/ws/sessions/{id}?since=-1")),
            400,
            Some("invalid_query"),
        ),
        case(
            "ws: plain GET",
            a(Method::GET, &format!("/ws/sessions/{foreign}")),
            400,
            Some("not_a_websocket"),
        ),
        case(
            "unknown route",
            a(Method::GET, "/api/nope"),
            404,
            Some("not_found"),
        ),
        case(
            "wrong method",
            a(Method::DELETE, &format!("/api/sessions/{id}")),
            404,
            Some("not_found"),
        ),
        case(
            "asset traversal",
            a(Method::GET, "/assets/..%2F..%2FCargo.toml"),
            404,
            Some("not_found"),
        ),
        case(
            "invite: too short",
            a(Method::POST, "/api/join/abc"),
            404,
            Some("invite_not_found"),
        ),
        case(
            "invite: wrong code",
            a(Method::POST, "/api/join/AAAAAAAAAAAAAAAAAAAAAA"),
            404,
            Some("invite_not_found"),
        ),
        case(
            "invite: bad bytes",
            a(Method::GET, "/api/invites/%FF%00").header("X-Requested-With", "sesh"),
            404,
            Some("invite_not_found"),
        ),
        case(
            "invite preview without the page's header (a cross-site <img>)",
            a(Method::GET, "/api/invites/AAAAAAAAAAAAAAAAAAAAAA"),
            400,
            Some("header_required"),
        ),
        // Garbage, forged, expired and misnamed cookies.
        case(
            "cookie: none",
            anon.get(url("/api/me")),
            401,
            Some("unauthenticated"),
        ),
        case(
            "cookie: garbage",
            with_cookie("sesh_sid=garbage", "/api/sessions"),
            401,
            Some("unauthenticated"),
        ),
        case(
            "cookie: forged token",
            with_cookie(
                "sesh_sid=q3VfK1bW8nJ0Zr2yXa4TdAq3VfK1bW8nJ0Zr2yXa4Td",
                "/api/sessions",
            ),
            401,
            Some("unauthenticated"),
        ),
        case(
            "cookie: expired",
            with_cookie("sesh_sid=expired-cookie-value-0123456789", "/api/sessions"),
            401,
            Some("unauthenticated"),
        ),
        case(
            "cookie: 4 KiB",
            with_cookie(
                &format!("sesh_sid={}", "A".repeat(4000)),
                &format!("/api/join/{code}"),
            ),
            401,
            Some("unauthenticated"),
        ),
        case(
            "cookie: wrong name",
            with_cookie(
                "__Host-sesh_sid=garbage",
                &format!("/api/sessions/{id}/end"),
            ),
            401,
            Some("unauthenticated"),
        ),
        case(
            "cookie: not ascii",
            anon.get(url("/api/me"))
                .header("Cookie", b"sesh_sid=\xc3\xa9t\xc3\xa9".as_slice()),
            401,
            Some("unauthenticated"),
        ),
        // Forged, replayed and missing OAuth state: the documented 400 HTML page.
        case(
            "callback: forged state",
            anon.get(url("/auth/callback?code=x&state=forged")),
            400,
            None,
        ),
        case("callback: replayed state", anon.get(&replay), 400, None),
        case(
            "callback: no state",
            anon.get(url("/auth/callback?code=x")),
            400,
            None,
        ),
        case(
            "callback: empty state",
            anon.get(url("/auth/callback?code=x&state=")),
            400,
            None,
        ),
        case(
            "callback: long state",
            anon.get(url(&format!(
                "/auth/callback?code=x&state={}",
                "s".repeat(5000)
            ))),
            400,
            None,
        ),
        case(
            "callback: declined, forged",
            anon.get(url("/auth/callback?error=access_denied&state=forged")),
            400,
            None,
        ),
        case(
            "callback: duplicate params",
            anon.get(url("/auth/callback?state=a&state=b")),
            400,
            Some("invalid_query"),
        ),
    ];
    // Open redirects through `next`: refused before anything is stored.
    for next in [
        "//evil.com",
        "https://evil.com",
        "http:evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "%2F%2Fevil.com",
        "/%09/evil.com",
        "/%0a/evil.com",
        "%20//evil.com",
        "javascript:alert(1)",
        "data:text/html,hi",
        "evil.com",
        "%5C%5Cevil.com",
        "/%5Cevil.com",
    ] {
        let request = anon.get(format!("{base}/auth/login?next={next}"));
        cases.push(case("open redirect", request, 400, Some("invalid_next")));
    }
    let total = cases.len();
    for case in cases {
        check(case).await;
    }
    // A streamed (chunked) body gives no length up front: cut off once past the limit.
    let cookie = alice.cookie().unwrap();
    let (status, body) = chunked_post(&app, "/api/sessions", cookie.to_str().unwrap(), 32).await;
    assert_eq!(status, 413, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "body_too_large");
    assert!(total > 70, "{total} cases");

    let after = app.dump().await;
    assert_eq!(before, after, "the database changed");
    // And the app still works for the people it belongs to.
    let (status, snapshot) = bob.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(snapshot["members"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_optional_body_still_works_and_an_empty_one_means_defaults() {
    let app = spawn_app_with(|_| {}).await;
    let alice = app.login("alice").await;
    let (status, created) = alice
        .post(
            "/api/sessions",
            Some(json!({"capacity": 3, "shuffle_mode": "random"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["settings"],
        json!({"capacity": 3, "shuffle_mode": "random",
               "guest_permissions": ["add_tracks", "vote", "vote_skip", "chat", "show_invite", "spectators_vote"], "name": null,
               "queue_order": "fair", "max_queued_per_member": 3, "max_track_ms": 600000,
               "no_replay_plays": 20, "adding_locked": false,
               "permissions": {"add": true, "vote": true, "vote_skip": true, "skip": false,
                               "pause": false, "seek": false, "volume": false, "chat": true,
                               "show_invite": true, "spectators_vote": true, "spectators_add": false}})
    );
    let (status, created) = alice.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["settings"]["capacity"], 50);
}
