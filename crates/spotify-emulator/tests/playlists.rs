//! Playlists as Spotify has them since 2026: create with `POST /v1/me/playlists`, add with
//! `POST /v1/playlists/{id}/items` (at most 100 uris, in order, at a position), read back
//! with `GET /v1/playlists/{id}[/items]`; the scopes each visibility needs, ownership, 404s,
//! the removed `/tracks` routes (403, but logged), faults on the new paths, and the control
//! API's view of a user's playlists.

// Helpers outside #[test] functions may panic too: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use common::TestEmulator;

/// Everything a playlist test needs: modify both kinds, read private ones.
const ALL: &str = "playlist-modify-private playlist-modify-public playlist-read-private";

/// Status and JSON body of a Web API call.
async fn call(
    emu: &TestEmulator,
    method: Method,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let response = emu.api(method, token, path, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
    };
    (status, value)
}

async fn create(emu: &TestEmulator, token: &str, body: Value) -> (StatusCode, Value) {
    call(emu, Method::POST, token, "/v1/me/playlists", Some(body)).await
}

/// Creates a private playlist and returns its id.
async fn private_playlist(emu: &TestEmulator, token: &str, name: &str) -> String {
    let (status, body) = create(emu, token, json!({ "name": name, "public": false })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn add(emu: &TestEmulator, token: &str, id: &str, body: Value) -> (StatusCode, Value) {
    let path = format!("/v1/playlists/{id}/items");
    call(emu, Method::POST, token, &path, Some(body)).await
}

/// `n` distinct catalogue track uris (top tracks of several users).
async fn track_uris(emu: &TestEmulator, n: usize) -> Vec<String> {
    let mut uris: Vec<String> = Vec::new();
    for user in [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    ] {
        let (_, body) = emu
            .control(Method::GET, &format!("/_emulator/users/{user}"), None)
            .await;
        for uri in body["top_tracks"]["medium_term"].as_array().unwrap() {
            let uri = uri.as_str().unwrap().to_owned();
            if !uris.contains(&uri) {
                uris.push(uri);
            }
        }
    }
    assert!(uris.len() >= n, "only {} distinct tracks", uris.len());
    uris.truncate(n);
    uris
}

/// The playlist's track uris, from the control API.
async fn control_uris(emu: &TestEmulator, user: &str, id: &str) -> Vec<String> {
    let (status, body) = emu
        .control(
            Method::GET,
            &format!("/_emulator/users/{user}/playlists"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let playlist = body["playlists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("{id} not among {body}"));
    playlist["uris"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_created_playlist_is_the_full_object_and_reads_back() {
    let emu = common::start().await;
    let alice = emu.login_with_scope("alice", ALL).await.access;
    let (status, created) = create(
        &emu,
        &alice,
        json!({ "name": "Sesh · Friday", "description": "played tracks", "public": false }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap();
    assert_eq!(id.len(), 22);
    assert_eq!(created["name"], "Sesh · Friday");
    assert_eq!(created["description"], "played tracks");
    assert_eq!(created["public"], false);
    assert_eq!(created["collaborative"], false);
    assert_eq!(created["type"], "playlist");
    assert_eq!(created["uri"], format!("spotify:playlist:{id}"));
    assert_eq!(
        created["external_urls"]["spotify"],
        format!("https://open.spotify.com/playlist/{id}")
    );
    assert_eq!(created["href"], emu.url(&format!("/v1/playlists/{id}")));
    assert_eq!(created["owner"]["id"], "alice");
    assert_eq!(created["owner"]["display_name"], "Alice Andersson");
    assert_eq!(created["items"]["total"], 0);
    assert!(created["snapshot_id"].is_string());
    assert!(
        created.get("tracks").is_none(),
        "the deprecated field is gone"
    );

    let (status, read) = call(
        &emu,
        Method::GET,
        &alice,
        &format!("/v1/playlists/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, created);

    // Spotify's default is public, which needs the public scope.
    let (status, public) = create(&emu, &alice, json!({ "name": "Loud" })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(public["public"], true);
    assert!(public["description"].is_null());
}

#[tokio::test]
async fn each_visibility_needs_its_scope() {
    let emu = common::start().await;
    let insufficient =
        json!({ "error": { "status": 403, "message": "Insufficient client scope" } });
    let only_private = emu
        .login_with_scope("alice", "playlist-modify-private")
        .await
        .access;
    let only_public = emu
        .login_with_scope("bob", "playlist-modify-public playlist-read-private")
        .await
        .access;
    let neither = emu.login_with_scope("carol", "user-top-read").await.access;

    assert_eq!(
        create(&emu, &only_private, json!({ "name": "x", "public": true })).await,
        (StatusCode::FORBIDDEN, insufficient.clone())
    );
    assert_eq!(
        create(&emu, &only_private, json!({ "name": "x" })).await,
        (StatusCode::FORBIDDEN, insufficient.clone()),
        "public by default"
    );
    assert_eq!(
        create(&emu, &only_public, json!({ "name": "x", "public": false })).await,
        (StatusCode::FORBIDDEN, insufficient.clone())
    );
    assert_eq!(
        create(&emu, &neither, json!({ "name": "x", "public": false })).await,
        (StatusCode::FORBIDDEN, insufficient.clone())
    );
    // A collaborative playlist needs both.
    assert_eq!(
        create(
            &emu,
            &only_private,
            json!({ "name": "x", "public": false, "collaborative": true })
        )
        .await,
        (StatusCode::FORBIDDEN, insufficient.clone())
    );
    let id = private_playlist(&emu, &only_private, "mine").await;
    let (status, _) = create(&emu, &only_public, json!({ "name": "x", "public": true })).await;
    assert_eq!(status, StatusCode::CREATED);

    // Adding to a private playlist needs the private scope, whoever asks.
    let uris = track_uris(&emu, 1).await;
    let only_public_alice = emu
        .login_with_scope("alice", "playlist-modify-public")
        .await
        .access;
    assert_eq!(
        add(&emu, &only_public_alice, &id, json!({ "uris": uris })).await,
        (StatusCode::FORBIDDEN, insufficient.clone())
    );
    assert_eq!(
        add(&emu, &neither, &id, json!({ "uris": uris })).await,
        (StatusCode::FORBIDDEN, insufficient.clone())
    );
    let (status, _) = add(&emu, &only_private, &id, json!({ "uris": uris })).await;
    assert_eq!(status, StatusCode::CREATED);
    // Reading items needs playlist-read-private.
    let (status, body) = call(
        &emu,
        Method::GET,
        &only_private,
        &format!("/v1/playlists/{id}/items"),
        None,
    )
    .await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, insufficient));
    assert_eq!(control_uris(&emu, "alice", &id).await, uris);
}

#[tokio::test]
async fn bad_create_bodies_are_refused_as_spotify_does() {
    let emu = common::start().await;
    let alice = emu.login_with_scope("alice", ALL).await.access;
    let missing = json!({ "error": { "status": 400, "message": "Missing required field: name" } });
    for body in [
        json!({ "public": false }),
        json!({ "name": "  ", "public": false }),
    ] {
        assert_eq!(
            create(&emu, &alice, body).await,
            (StatusCode::BAD_REQUEST, missing.clone())
        );
    }
    let response = emu
        .http
        .post(emu.url("/v1/me/playlists"))
        .bearer_auth(&alice)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (status, _) = create(
        &emu,
        &alice,
        json!({ "name": "x", "public": true, "collaborative": true }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = create(&emu, "not-a-token", json!({ "name": "x" })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, body) = emu
        .control(Method::GET, "/_emulator/users/alice/playlists", None)
        .await;
    assert_eq!(
        body,
        json!({ "playlists": [] }),
        "no refusal created anything"
    );
}

#[tokio::test]
async fn items_keep_their_order_across_calls_and_positions() {
    let emu = common::start().await;
    let alice = emu.login_with_scope("alice", ALL).await.access;
    let id = private_playlist(&emu, &alice, "Order").await;
    let uris = track_uris(&emu, 8).await;

    let (status, first) = add(&emu, &alice, &id, json!({ "uris": uris[0..3] })).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, second) = add(&emu, &alice, &id, json!({ "uris": uris[3..5] })).await;
    assert_ne!(first["snapshot_id"], second["snapshot_id"]);
    // At the front, then in the middle, then the query-string form (whose uris win).
    add(
        &emu,
        &alice,
        &id,
        json!({ "uris": [uris[5]], "position": 0 }),
    )
    .await;
    add(
        &emu,
        &alice,
        &id,
        json!({ "uris": [uris[6]], "position": 3 }),
    )
    .await;
    let path = format!("/v1/playlists/{id}/items?uris={}&position=6", uris[7]);
    let (status, _) = call(
        &emu,
        Method::POST,
        &alice,
        &path,
        Some(json!({ "uris": [uris[0]] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let expected: Vec<&str> = [5, 0, 1, 6, 2, 3, 7, 4]
        .iter()
        .map(|&i| uris[i].as_str())
        .collect();
    assert_eq!(control_uris(&emu, "alice", &id).await, expected);

    // The Web API agrees, and the playlist object embeds the items.
    let (_, page) = call(
        &emu,
        Method::GET,
        &alice,
        &format!("/v1/playlists/{id}/items?limit=50"),
        None,
    )
    .await;
    let listed: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"]["uri"].as_str().unwrap())
        .collect();
    assert_eq!(listed, expected);
    let entry = &page["items"][0];
    assert_eq!(entry["added_by"]["id"], "alice");
    assert_eq!(entry["is_local"], false);
    assert!(entry["added_at"].as_str().unwrap().ends_with('Z'));
    assert!(entry.get("track").is_none(), "the deprecated field is gone");
    let (_, playlist) = call(
        &emu,
        Method::GET,
        &alice,
        &format!("/v1/playlists/{id}"),
        None,
    )
    .await;
    assert_eq!(playlist["items"]["total"], 8);
    assert_eq!(
        playlist["items"]["items"][7]["item"]["uri"],
        uris[4].as_str()
    );

    // A position past the end is refused and changes nothing.
    let (status, _) = add(
        &emu,
        &alice,
        &id,
        json!({ "uris": [uris[0]], "position": 9 }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = add(
        &emu,
        &alice,
        &id,
        json!({ "uris": [uris[0]], "position": -1 }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(control_uris(&emu, "alice", &id).await.len(), 8);
}

#[tokio::test]
async fn at_most_100_uris_and_only_known_tracks() {
    let emu = common::start().await;
    let alice = emu.login_with_scope("alice", ALL).await.access;
    let id = private_playlist(&emu, &alice, "Limits").await;
    let uris = track_uris(&emu, 101).await;

    let (status, body) = add(&emu, &alice, &id, json!({ "uris": uris })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "error": { "status": 400, "message": "You can add a maximum of 100 tracks per request." } })
    );
    let (status, _) = add(&emu, &alice, &id, json!({ "uris": uris[..100] })).await;
    assert_eq!(status, StatusCode::CREATED);

    let unknown = "spotify:track:0000000000000000000000";
    let cases = [
        (
            json!({ "uris": [uris[0], unknown] }),
            "Payload contains a non-existing ID",
        ),
        (
            json!({ "uris": ["spotify:episode:0000000000000000000000"] }),
            "Payload contains a non-existing ID",
        ),
        (
            json!({ "uris": ["spotify:track:short"] }),
            "Invalid track uri: spotify:track:short",
        ),
        (
            json!({ "uris": ["spotify:album:0000000000000000000000"] }),
            "Invalid track uri: spotify:album:0000000000000000000000",
        ),
        (json!({ "uris": [] }), "Missing required field: uris"),
        (json!({}), "Missing required field: uris"),
    ];
    for (body, message) in cases {
        let (status, answer) = add(&emu, &alice, &id, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["error"]["message"], message, "{body}");
    }
    assert_eq!(
        control_uris(&emu, "alice", &id).await,
        uris[..100],
        "nothing of a refused call was added"
    );
}

#[tokio::test]
async fn only_owners_and_collaborators_add_or_list() {
    let emu = common::start().await;
    let alice = emu.login_with_scope("alice", ALL).await.access;
    let bob = emu.login_with_scope("bob", ALL).await.access;
    let uris = track_uris(&emu, 2).await;
    let mine = private_playlist(&emu, &alice, "Alice's").await;

    let (status, body) = add(&emu, &bob, &mine, json!({ "uris": uris })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["error"]["message"],
        "You cannot add tracks to a playlist you don't own."
    );
    let (status, body) = call(
        &emu,
        Method::GET,
        &bob,
        &format!("/v1/playlists/{mine}/items"),
        None,
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::FORBIDDEN,
            json!({ "error": { "status": 403, "message": "Forbidden" } })
        )
    );
    // Others see the playlist, but not its items.
    let (status, body) = call(
        &emu,
        Method::GET,
        &bob,
        &format!("/v1/playlists/{mine}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("items").is_none());

    let (status, shared) = create(
        &emu,
        &alice,
        json!({ "name": "Ours", "public": false, "collaborative": true }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let shared = shared["id"].as_str().unwrap();
    let (status, _) = add(&emu, &bob, shared, json!({ "uris": uris })).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, page) = call(
        &emu,
        Method::GET,
        &bob,
        &format!("/v1/playlists/{shared}/items"),
        None,
    )
    .await;
    assert_eq!(page["items"][0]["added_by"]["id"], "bob");
    assert_eq!(control_uris(&emu, "alice", shared).await, uris);
}

#[tokio::test]
async fn unknown_and_malformed_playlists() {
    let emu = common::start().await;
    let alice = emu.login_with_scope("alice", ALL).await.access;
    let uris = track_uris(&emu, 1).await;
    let not_found = json!({ "error": { "status": 404, "message": "Not found." } });
    let unknown = "0000000000000000000000";
    assert_eq!(
        add(&emu, &alice, unknown, json!({ "uris": uris })).await,
        (StatusCode::NOT_FOUND, not_found.clone())
    );
    for path in [
        format!("/v1/playlists/{unknown}"),
        format!("/v1/playlists/{unknown}/items"),
    ] {
        assert_eq!(
            call(&emu, Method::GET, &alice, &path, None).await,
            (StatusCode::NOT_FOUND, not_found.clone())
        );
    }
    let (status, body) = add(&emu, &alice, "not-an-id", json!({ "uris": uris })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["message"], "Invalid base62 id");
}

#[tokio::test]
async fn the_removed_tracks_routes_answer_403_and_are_logged() {
    let emu = common::start().await;
    let alice = emu.login_with_scope("alice", ALL).await.access;
    let id = private_playlist(&emu, &alice, "Old API").await;
    let uris = track_uris(&emu, 1).await;
    let path = format!("/v1/playlists/{id}/tracks");
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
        let (status, body) = call(
            &emu,
            method.clone(),
            &alice,
            &path,
            Some(json!({ "uris": uris })),
        )
        .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::FORBIDDEN,
                json!({ "error": { "status": 403, "message": "Forbidden" } })
            ),
            "{method}"
        );
    }
    assert!(control_uris(&emu, "alice", &id).await.is_empty());
    let (_, log) = emu
        .control(
            Method::GET,
            &format!("/_emulator/requests?path={path}"),
            None,
        )
        .await;
    let logged: Vec<(&str, u64)> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["method"].as_str().unwrap(), r["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        logged,
        [("GET", 403), ("POST", 403), ("PUT", 403), ("DELETE", 403)]
    );
    // The totals, which outlive the recent-requests window, count them too.
    let counted: u64 = log["by_endpoint"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"].as_str().unwrap().ends_with("/tracks"))
        .map(|e| e["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 4);
    // Without a token it is the usual 401.
    let (status, _) = call(&emu, Method::GET, "not-a-token", &path, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_fault_on_items_fires_once_then_adding_works() {
    let emu = common::start().await;
    let alice = emu.login_with_scope("alice", ALL).await.access;
    let id = private_playlist(&emu, &alice, "Flaky").await;
    let uris = track_uris(&emu, 2).await;
    // A pattern with a `*` segment: the test need not know the id in advance.
    let (status, _) = emu
        .control(
            Method::POST,
            "/_emulator/faults",
            Some(json!({ "method": "POST", "path": "/v1/playlists/*/items", "status": 429, "retry_after": 3 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let response = emu
        .api(
            Method::POST,
            &alice,
            &format!("/v1/playlists/{id}/items"),
            Some(json!({ "uris": uris[..1] })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "3");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "error": { "status": 429, "message": "API rate limit exceeded" } })
    );
    assert!(
        control_uris(&emu, "alice", &id).await.is_empty(),
        "a faulted call adds nothing"
    );
    let (status, _) = add(&emu, &alice, &id, json!({ "uris": uris })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(control_uris(&emu, "alice", &id).await, uris);
    let (_, log) = emu
        .control(
            Method::GET,
            &format!("/_emulator/requests?method=POST&path=/v1/playlists/{id}/items"),
            None,
        )
        .await;
    let statuses: Vec<u64> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [429, 201]);
}

#[tokio::test]
async fn items_page_with_limit_and_offset() {
    let emu = common::start().await;
    let alice = emu.login_with_scope("alice", ALL).await.access;
    let id = private_playlist(&emu, &alice, "Long").await;
    let uris = track_uris(&emu, 150).await;
    add(&emu, &alice, &id, json!({ "uris": uris[..100] })).await;
    add(&emu, &alice, &id, json!({ "uris": uris[100..] })).await;

    let items = format!("/v1/playlists/{id}/items");
    let (_, first) = call(&emu, Method::GET, &alice, &items, None).await;
    assert_eq!(first["limit"], 20, "Spotify's default");
    assert_eq!(first["total"], 150);
    assert!(first["previous"].is_null());

    // Following `next` sees every item once, in order.
    let mut seen = Vec::new();
    let mut next = Some(emu.url(&format!("{items}?limit=50")));
    while let Some(url) = next {
        let path = url.strip_prefix(&emu.base).unwrap().to_owned();
        let (status, page) = call(&emu, Method::GET, &alice, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(page["limit"], 50);
        for item in page["items"].as_array().unwrap() {
            seen.push(item["item"]["uri"].as_str().unwrap().to_owned());
        }
        next = page["next"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, uris);
    let (_, tail) = call(
        &emu,
        Method::GET,
        &alice,
        &format!("{items}?offset=140&limit=50"),
        None,
    )
    .await;
    assert_eq!(tail["items"].as_array().unwrap().len(), 10);
    assert!(tail["next"].is_null() && tail["previous"].is_string());
    for bad in ["limit=0", "limit=51", "offset=-1"] {
        let (status, _) = call(&emu, Method::GET, &alice, &format!("{items}?{bad}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}
