//! Saving a session as a playlist through the real server and the emulator (issue 19): the
//! scope is asked for only when needed (a login with `consent=playlist`), one create call and
//! `/items` calls of at most 100 uris in play order, never a `/tracks` route, a 429 between
//! calls waited out, and a save cut short by an error and a restart resumed without duplicates.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Browser, Party, TestApp, on_store, party, spawn_app_with};

async fn app() -> TestApp {
    spawn_app_with(|s| {
        s.queue_actions_per_minute = 100_000;
        s.spotify_user_rate_per_min = 100_000;
    })
    .await
}

/// Logs `who` in again with the playlist consent, through the emulator's authorize page.
async fn consent(app: &TestApp, who: &Browser, next: &str) {
    let start = who
        .http
        .get(format!(
            "{}/auth/login?consent=playlist&next={next}",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let authorize = start.headers()["location"].to_str().unwrap().to_owned();
    assert!(authorize.contains("playlist-modify-private"), "{authorize}");
    let approved = who
        .http
        .get(format!("{authorize}&user={}", who.user))
        .send()
        .await
        .unwrap();
    let callback = approved.headers()["location"].to_str().unwrap().to_owned();
    let done = who.http.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::FOUND);
    assert_eq!(done.headers()["location"], next);
}

/// Distinct track uris of the emulator's users' top tracks.
async fn catalog_uris(app: &TestApp) -> Vec<String> {
    let users = app.emulator_get("/_emulator/users").await;
    let mut seen = HashSet::new();
    let mut uris = Vec::new();
    for user in users["users"].as_array().unwrap() {
        let id = user["id"].as_str().unwrap();
        let detail = app.emulator_get(&format!("/_emulator/users/{id}")).await;
        for range in ["short_term", "medium_term", "long_term"] {
            for uri in detail["top_tracks"][range].as_array().into_iter().flatten() {
                let uri = uri.as_str().unwrap().to_owned();
                if seen.insert(uri.clone()) {
                    uris.push(uri);
                }
            }
        }
    }
    uris
}

/// The host adds tracks until the queue holds `n` entries; their ids in queue order.
async fn queue_of(app: &TestApp, p: &Party, n: usize) -> Vec<u64> {
    let id = &p.id;
    let ids = |queue: &Value| -> Vec<u64> {
        queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_u64().unwrap())
            .collect()
    };
    let (_, queue) = p
        .host
        .get(&format!("/api/sessions/{id}/queue?limit=500"))
        .await;
    let mut have = ids(&queue).len();
    let mut queued: HashSet<String> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["track"]["uri"].as_str().unwrap().to_owned())
        .collect();
    for uri in catalog_uris(app).await {
        if have >= n {
            break;
        }
        if !queued.insert(uri.clone()) {
            continue;
        }
        let (status, body) = p
            .host
            .post(
                &format!("/api/sessions/{id}/queue"),
                Some(json!({ "uri": uri })),
            )
            .await;
        if status == StatusCode::CREATED || status == StatusCode::OK {
            have += 1;
        } else {
            assert_eq!(status, StatusCode::CONFLICT, "{body}");
        }
    }
    let (_, queue) = p
        .host
        .get(&format!("/api/sessions/{id}/queue?limit=500"))
        .await;
    let all = ids(&queue);
    assert!(
        all.len() >= n,
        "the catalogue gave only {} entries",
        all.len()
    );
    all
}

/// Records that the entries after the first (which plays since the start) played, one after
/// another, as the background writer would have.
async fn played(app: &TestApp, session: &str, entries: &[u64]) {
    let store = app.store().await;
    let now = 2_000_000_000_000i64;
    for (i, entry) in entries.iter().enumerate() {
        on_store!(store, |c| sqlx::query(
            "INSERT INTO session_plays (session_id, started_at, entry_id) VALUES ($1, $2, $3)",
        )
        .bind(session)
        .bind(now + i as i64 * 300_000)
        .bind(*entry as i64)
        .execute(c)
        .await
        .map(drop)
        .unwrap());
    }
    store.close().await;
}

async fn playlist_requests(app: &TestApp) -> Vec<Value> {
    let log = app.emulator_get("/_emulator/requests").await;
    log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.contains("playlists")))
        .cloned()
        .collect()
}

/// The uris of alice's playlists in the emulator, in order.
async fn alices_playlists(app: &TestApp) -> Vec<Vec<String>> {
    let lists = app.emulator_get("/_emulator/users/alice/playlists").await;
    lists["playlists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["uris"]
                .as_array()
                .or(p["tracks"].as_array())
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

async fn recap_uris(p: &Party) -> Vec<String> {
    let (_, recap) = p.host.get(&format!("/api/sessions/{}/recap", p.id)).await;
    recap["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["track"]["uri"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn twenty_three_played_tracks_make_one_create_and_one_items_call_after_consent() {
    let app = app().await;
    let p = party(&app, &["bob"]).await;
    let id = p.id.clone();
    let entries = queue_of(&app, &p, 24).await;
    played(&app, &id, &entries[1..23]).await;
    assert_eq!(recap_uris(&p).await.len(), 23);

    // The login did not ask for playlists: the first save asks for consent, and calls nobody.
    app.emulator_clear_requests().await;
    let (status, body) = p
        .host
        .post(&format!("/api/sessions/{id}/playlist"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "consent_required");
    assert!(playlist_requests(&app).await.is_empty());
    let (status, _) = p.guests[0].get("/auth/login?consent=teleport").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    consent(&app, &p.host, &format!("/s/{id}/recap?save=1")).await;
    let (status, saved) = p
        .host
        .post(&format!("/api/sessions/{id}/playlist"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(
        (&saved["added"], &saved["total"]),
        (&json!(23), &json!(23)),
        "{saved}"
    );
    assert!(saved["url"].as_str().is_some_and(|u| !u.is_empty()));
    let calls = playlist_requests(&app).await;
    let kinds: Vec<String> = calls
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect();
    let playlist_id = saved["playlist_id"].as_str().unwrap();
    assert_eq!(
        kinds,
        [
            "POST /v1/me/playlists".to_owned(),
            format!("POST /v1/playlists/{playlist_id}/items")
        ],
        "one create, one /items, no /tracks"
    );
    let lists = alices_playlists(&app).await;
    assert_eq!(lists.len(), 1);
    assert_eq!(lists[0], recap_uris(&p).await, "the uris in play order");

    // Saving again adds nothing (and calls nothing); after more plays, only those.
    app.emulator_clear_requests().await;
    let (_, again) = p
        .host
        .post(&format!("/api/sessions/{id}/playlist"), None)
        .await;
    assert_eq!(
        (&again["added"], &again["total"]),
        (&json!(0), &json!(23)),
        "{again}"
    );
    assert!(playlist_requests(&app).await.is_empty());
    played(&app, &id, &entries[23..24]).await;
    let (_, more) = p
        .host
        .post(&format!("/api/sessions/{id}/playlist"), None)
        .await;
    assert_eq!(
        (&more["added"], &more["total"]),
        (&json!(1), &json!(24)),
        "{more}"
    );
    assert_eq!(alices_playlists(&app).await[0].len(), 24);

    // Not a member: refused before anything else.
    let dave = app.login("dave").await;
    let (status, body) = dave
        .post(&format!("/api/sessions/{id}/playlist"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "not_a_member");
}

#[tokio::test]
async fn one_hundred_fifty_go_as_100_and_50_across_a_429_and_across_a_restart() {
    let mut app = app().await;
    let p = party(&app, &["bob"]).await;
    let id = p.id.clone();
    let entries = queue_of(&app, &p, 150).await;
    played(&app, &id, &entries[1..150]).await;
    consent(&app, &p.host, &format!("/s/{id}/recap")).await;
    let items = "/v1/playlists/*/items";

    // The second /items call gets a 429: waited out, then the 50.
    app.emulator_clear_requests().await;
    app.emulator_post(
        "/_emulator/faults",
        json!({"method": "POST", "path": items, "delay_ms": 1, "count": 1}),
    )
    .await;
    app.emulator_post(
        "/_emulator/faults",
        json!({"method": "POST", "path": items, "status": 429, "retry_after": 1, "count": 1}),
    )
    .await;
    let (status, saved) = p
        .host
        .post(&format!("/api/sessions/{id}/playlist"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["total"], 150);
    let statuses: Vec<u64> = playlist_requests(&app)
        .await
        .iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with("/items"))
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 429, 201]);
    let lists = alices_playlists(&app).await;
    assert_eq!(lists[0].len(), 150);
    assert_eq!(lists[0], recap_uris(&p).await);
    assert!(
        playlist_requests(&app)
            .await
            .iter()
            .all(|r| !r["path"].as_str().unwrap().contains("/tracks"))
    );

    // Another member's save fails after its first 100 (Spotify errs); a restart; the next save
    // adds exactly the 50 left.
    let bob = &p.guests[0];
    consent(&app, bob, &format!("/s/{id}/recap")).await;
    app.emulator_post(
        "/_emulator/faults",
        json!({"method": "POST", "path": items, "delay_ms": 1, "count": 1}),
    )
    .await;
    app.emulator_post(
        "/_emulator/faults",
        json!({"method": "POST", "path": items, "status": 502, "count": 1}),
    )
    .await;
    let (status, body) = bob
        .post(&format!("/api/sessions/{id}/playlist"), None)
        .await;
    assert!(status.is_server_error(), "{status} {body}");
    app.restart().await;
    let (status, saved) = bob
        .post(&format!("/api/sessions/{id}/playlist"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(
        (&saved["added"], &saved["total"]),
        (&json!(50), &json!(150)),
        "{saved}"
    );
    let bobs = app.emulator_get("/_emulator/users/bob/playlists").await;
    let bobs = &bobs["playlists"].as_array().unwrap()[0];
    let uris = bobs["uris"]
        .as_array()
        .or(bobs["tracks"].as_array())
        .unwrap();
    assert_eq!(uris.len(), 150, "no duplicates");
}
