//! Seats and spectators through the real server (issue 20): Spotify's development mode (the
//! emulator's allow-list) and `SESH_SPOTIFY_SEATS` decide who logs in with Spotify; anyone
//! else joins by the invite link as a spectator, with a display name and no Spotify login,
//! and may only what the host opens to spectators.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Browser, CLIENT_ID, TestApp, on_store, party, spawn_app_with};

/// The login dance as `user`, up to where Sesh sends the browser after the callback.
async fn try_login(app: &TestApp, user: &str, next: &str) -> (Browser, String) {
    let browser = Browser::new(app, user);
    let to = browser.log_in_as(&app.emulator_url, user, next).await;
    (browser, to)
}

async fn dev_mode(app: &TestApp, body: Value) {
    let answer = app
        .http
        .put(format!(
            "{}/_emulator/apps/{CLIENT_ID}/dev-mode",
            app.emulator_url
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}

async fn users_row(app: &TestApp, user: &str) -> Option<(i64, i64)> {
    let store = app.store().await;
    let row = on_store!(store, |c| {
        sqlx::query_as(
        "SELECT CAST(CASE WHEN seated THEN 1 ELSE 0 END AS BIGINT), CAST(length(access_token) AS BIGINT)
         FROM users WHERE id = $1"
    )
    .bind(user)
    .fetch_optional(c)
    .await
    .unwrap()
    });
    store.close().await;
    row
}

#[tokio::test]
async fn a_sixth_account_is_offered_only_spectating_and_the_owner_sees_five_of_five() {
    let app = spawn_app_with(|s| s.spotify_seats = 5).await;
    dev_mode(
        &app,
        json!({ "enabled": true, "users": ["alice", "bob", "carol", "dave", "erin"] }),
    )
    .await;
    // Alice, the first to log in, owns the instance.
    let alice = app.login("alice").await;
    let (status, created) = alice.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let code = created["invite_code"].as_str().unwrap().to_owned();
    let mut seated = vec![];
    for user in ["bob", "carol", "dave", "erin"] {
        seated.push(app.login(user).await);
    }
    let (status, me) = alice.get("/api/me").await;
    assert_eq!(
        (status, &me["owner"]),
        (StatusCode::OK, &json!(true)),
        "{me}"
    );
    assert_eq!(seated[0].get("/api/me").await.1["owner"], false);

    // Frank is not on the allow-list: Spotify's 403 comes back to the join page, nothing is
    // stored, no login cookie.
    let (frank, to) = try_login(&app, "frank", &format!("/j/{code}")).await;
    assert_eq!(to, format!("/j/{code}?login=not_registered"));
    assert!(users_row(&app, "frank").await.is_none());
    assert_eq!(frank.get("/api/me").await.0, StatusCode::UNAUTHORIZED);
    // The join page's preview offers no seat.
    let preview: Value = frank
        .http
        .get(format!("{}/api/invites/{code}", app.address))
        .header("X-Requested-With", "sesh")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        preview["seats"],
        json!({ "limit": 5, "used": 5, "left": 0 }),
        "{preview}"
    );

    // The owner sees 5/5 with names; nobody else sees the list.
    let (status, seats) = alice.get("/api/admin/seats").await;
    assert_eq!(status, StatusCode::OK, "{seats}");
    assert_eq!(seats["limit"], 5);
    let holders: Vec<&str> = seats["used"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(holders, ["alice", "bob", "carol", "dave", "erin"]);
    assert!(seats["used"][1]["last_seen_ms"].as_i64().unwrap() > 0);
    assert_eq!(seats["used"][1]["display_name"], "Bob Brennan");
    let (status, body) = seated[0].get("/api/admin/seats").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::FORBIDDEN, &json!("forbidden"))
    );

    // On the allow-list but past the seats: refused by Sesh, nothing stored either.
    dev_mode(&app, json!({ "enabled": false })).await;
    let (_, to) = try_login(&app, "frank", "/").await;
    assert_eq!(to, "/?login=no_seats");
    assert!(users_row(&app, "frank").await.is_none());

    // The owner frees Erin's seat: her login ends, her tokens are gone, Frank gets the seat.
    let (status, _) = alice
        .send(Method::DELETE, "/api/admin/seats/erin", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(users_row(&app, "erin").await, Some((0, 0)));
    assert_eq!(seated[3].get("/api/me").await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = alice
        .send(Method::DELETE, "/api/admin/seats/erin", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "freed once");
    let (status, _) = alice
        .send(Method::DELETE, "/api/admin/seats/alice", None)
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the owner keeps their seat"
    );
    let (_, to) = try_login(&app, "frank", "/").await;
    assert_eq!(to, "/");
    assert_eq!(users_row(&app, "frank").await.map(|r| r.0), Some(1));
    // Erin, now over the limit, is turned away in her turn.
    let (_, to) = try_login(&app, "erin", "/").await;
    assert_eq!(to, "/?login=no_seats");
}

#[tokio::test]
async fn after_a_not_registered_login_one_click_joins_as_a_spectator() {
    let app = spawn_app_with(|s| s.spotify_seats = 5).await;
    let p = party(&app, &["bob"]).await;
    dev_mode(&app, json!({ "enabled": true, "users": ["alice", "bob"] })).await;
    let (frank, to) = try_login(&app, "frank", &format!("/j/{}", p.code)).await;
    assert!(to.ends_with("login=not_registered"), "{to}");

    // The one click: a name and the invite.
    let (status, view) = frank
        .post(
            &format!("/api/join/{}/spectator", p.code),
            Some(json!({ "display_name": "  Frank on the sofa " })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["id"], p.id.as_str());
    let (_, me) = frank.get("/api/me").await;
    assert_eq!(me["spectating"], p.id.as_str(), "{me}");
    assert_eq!(me["display_name"], "Frank on the sofa");
    assert_eq!(me["owner"], false);
    let spectator = me["id"].as_str().unwrap().to_owned();
    // In the roster as a spectator; the live socket welcomes them as one.
    let (_, members) = p.host.get(&format!("/api/sessions/{}/members", p.id)).await;
    let entry = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == spectator.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{members}"));
    assert_eq!(entry["role"], "spectator");
    let mut ws = frank.ws(&p.id).await;
    let welcome = ws.next_of_type("welcome").await;
    assert_eq!(welcome["you"]["role"], "spectator", "{welcome}");
    assert!(welcome["playback"]["track"]["id"].is_string(), "{welcome}");
    // A spectator holds no seat.
    let (_, seats) = p.host.get("/api/admin/seats").await;
    assert_eq!(seats["used"].as_array().unwrap().len(), 2, "{seats}");

    // Joining again with the same cookie is the same spectator.
    let (status, _) = frank
        .post(
            &format!("/api/join/{}/spectator", p.code),
            Some(json!({ "display_name": "Frank" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, members) = p.host.get(&format!("/api/sessions/{}/members", p.id)).await;
    assert_eq!(members["items"].as_array().unwrap().len(), 3, "{members}");

    // Bad names and a Spotify login are refused, nothing stored.
    let before = app.dump().await;
    for name in ["", "   ", "a\nb", &"x".repeat(41)] {
        let (status, body) = Browser::new(&app, "x")
            .post(
                &format!("/api/join/{}/spectator", p.code),
                Some(json!({ "display_name": name })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?} {body}");
        assert_eq!(body["error"]["code"], "invalid_display_name");
    }
    let (status, body) = p.guests[0]
        .post(
            &format!("/api/join/{}/spectator", p.code),
            Some(json!({ "display_name": "Bob" })),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::CONFLICT, &json!("already_logged_in"))
    );
    assert_eq!(app.dump().await, before);
}

#[tokio::test]
async fn a_spectator_votes_and_adds_only_as_the_host_allows_and_adds_with_the_hosts_login() {
    let app = spawn_app_with(|_| {}).await;
    let p = party(&app, &["bob"]).await;
    let sam = Browser::new(&app, "sam");
    let (status, view) = sam
        .post(
            &format!("/api/join/{}/spectator", p.code),
            Some(json!({ "display_name": "Sam" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let id = &p.id;
    let entry = view["queue"][2]["id"].as_u64().unwrap();

    // "Spectators vote" off: the vote is refused, naming the switch; nothing changes.
    let (status, _) = p
        .host
        .send(
            Method::PATCH,
            &format!("/api/sessions/{id}/settings"),
            Some(json!({ "permissions": { "spectators_vote": false } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let before = app.dump().await;
    let (status, body) = sam
        .post(
            &format!("/api/sessions/{id}/queue/{entry}/vote"),
            Some(json!({ "vote": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        (&body["error"]["code"], &body["error"]["permission"]),
        (&json!("forbidden"), &json!("spectators_vote"))
    );
    // Never playback control, even with pausing open to guests; never a Spotify account.
    p.host
        .send(
            Method::PATCH,
            &format!("/api/sessions/{id}/settings"),
            Some(json!({ "permissions": { "pause": true } })),
        )
        .await;
    let (status, _) = sam
        .post(&format!("/api/sessions/{id}/player/pause"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (method, path) in [
        (Method::POST, "/api/sessions".to_owned()),
        (Method::GET, "/api/me/devices".to_owned()),
        (Method::POST, format!("/api/sessions/{id}/playlist")),
        (Method::POST, format!("/api/join/{}", p.code)),
    ] {
        let (status, body) = sam.send(method, &path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path} {body}");
        assert_eq!(body["error"]["code"], "spectator", "{path}");
    }
    let (status, body) = sam
        .post(
            &format!("/api/sessions/{id}/listen"),
            Some(json!({ "device_id": "sams-phone" })),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::FORBIDDEN, &json!("spectator")),
        "{body}"
    );
    let (status, body) = sam.get(&format!("/api/sessions/{id}/search?q=a")).await;
    assert_eq!(
        (status, &body["error"]["permission"]),
        (StatusCode::FORBIDDEN, &json!("spectators_add")),
        "{body}"
    );
    let after = app.dump().await;
    // Only the host's PATCH (pausing opened) changed something since.
    assert_eq!(
        before.iter().filter(|r| !after.contains(r)).count(),
        1,
        "only the settings row changed"
    );

    // "Spectators add tracks" on: searched and added with the host's login.
    p.host
        .send(
            Method::PATCH,
            &format!("/api/sessions/{id}/settings"),
            Some(json!({ "permissions": { "spectators_add": true } })),
        )
        .await;
    app.emulator_clear_requests().await;
    let (status, found) = sam.get(&format!("/api/sessions/{id}/search?q=echo")).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let uri = found["tracks"][0]["uri"].as_str().unwrap().to_owned();
    let (status, added) = sam
        .post(
            &format!("/api/sessions/{id}/queue"),
            Some(json!({ "uri": uri })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let log = app
        .emulator_get("/_emulator/requests?path=/v1/search")
        .await;
    let users: Vec<&str> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["alice"], "{log}");
    let (_, queue) = p
        .host
        .get(&format!("/api/sessions/{id}/queue?limit=100"))
        .await;
    assert!(
        queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["track"]["uri"] == uri.as_str()),
        "{queue}"
    );
    // The spectator chats as guests do.
    let (status, _) = sam
        .post(
            &format!("/api/sessions/{id}/chat"),
            Some(json!({ "text": "hi all" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_spectator_logs_out_like_anyone() {
    let app = spawn_app_with(|_| {}).await;
    let p = party(&app, &[]).await;
    let sam = Browser::new(&app, "sam");
    let (status, _) = sam
        .post(
            &format!("/api/join/{}/spectator", p.code),
            Some(json!({ "display_name": "Sam" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sam.get("/api/me").await.0, StatusCode::OK);
    let (status, _) = sam.post("/auth/logout", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(sam.get("/api/me").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_401_at_login_asks_to_log_in_again_never_the_allow_list() {
    let app = spawn_app_with(|s| s.spotify_seats = 5).await;
    // Spotify refuses the fresh token (and the one refreshed after it).
    app.emulator_post(
        "/_emulator/faults",
        json!({ "method": "GET", "path": "/v1/me", "status": 401, "count": 2 }),
    )
    .await;
    let (carol, to) = try_login(&app, "carol", "/j/AbC").await;
    assert_eq!(to, "/j/AbC?login=expired");
    assert!(users_row(&app, "carol").await.is_none());
    assert_eq!(carol.get("/api/me").await.0, StatusCode::UNAUTHORIZED);
}
