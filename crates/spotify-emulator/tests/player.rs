//! The simulated player over real HTTP, driven by the virtual clock (no sleeps): position
//! advances, tracks end and the next plays, the last one stops; player commands and their
//! Premium, device and parameter rules.

// Helpers outside #[test] functions may panic too: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use common::TestEmulator;

/// Slack for real time passing between requests.
const DRIFT_MS: i64 = 5_000;

async fn player(emu: &TestEmulator, token: &str) -> Value {
    emu.get_json(token, "/v1/me/player").await
}

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["error"].clone())
}

fn duration(track: &Value) -> i64 {
    track["duration_ms"].as_i64().unwrap()
}

#[tokio::test]
async fn playback_advances_ends_tracks_and_stops_after_the_last() {
    let emu = common::start().await;
    let alice = emu.login("alice").await.access;
    let device = emu.device_id(&alice).await;
    let uris = emu.top_uris(&alice, 3).await;
    emu.play(&alice, &device, &uris).await;

    let state = player(&emu, &alice).await;
    assert_eq!(state["is_playing"], true);
    assert_eq!(state["device"]["id"], device.as_str());
    assert_eq!(state["device"]["is_active"], true);
    assert_eq!(state["item"]["uri"], uris[0].as_str());
    assert!(state["progress_ms"].as_i64().unwrap() < DRIFT_MS);
    let devices = emu.get_json(&alice, "/v1/me/player/devices").await;
    let active: Vec<&Value> = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["is_active"] == true)
        .collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["id"], device.as_str());

    emu.advance(30_000).await;
    let state = player(&emu, &alice).await;
    let progress = state["progress_ms"].as_i64().unwrap();
    assert!(
        (30_000..30_000 + DRIFT_MS).contains(&progress),
        "{progress}"
    );

    // Past the end of the first track: the second plays, from where the overshoot left it.
    let first = duration(&state["item"]);
    emu.advance(first - 30_000 + 2_000).await;
    let state = player(&emu, &alice).await;
    assert_eq!(state["item"]["uri"], uris[1].as_str());
    let progress = state["progress_ms"].as_i64().unwrap();
    assert!((2_000..2_000 + DRIFT_MS).contains(&progress), "{progress}");
    assert_eq!(state["is_playing"], true);
    let current = emu
        .get_json(&alice, "/v1/me/player/currently-playing")
        .await;
    assert_eq!(current["item"]["uri"], uris[1].as_str());

    // Far past the last one: playback stops at the end of the last track. (Less than the
    // token lifetime: access tokens expire on the virtual clock too.)
    emu.advance(1_000_000).await;
    let state = player(&emu, &alice).await;
    assert_eq!(state["is_playing"], false);
    assert_eq!(state["item"]["uri"], uris[2].as_str());
    assert_eq!(
        state["progress_ms"].as_i64().unwrap(),
        duration(&state["item"])
    );
    let raw = emu.raw_player("alice").await;
    assert_eq!(raw["ended"], true);
    assert_eq!(raw["current_uri"], uris[2].as_str());
    assert_eq!(raw["device_id"], device.as_str());
}

#[tokio::test]
async fn player_commands_change_state() {
    let emu = common::start().await;
    let erin = emu.login("erin").await.access;
    let device = emu.device_id(&erin).await;
    let uris = emu.top_uris(&erin, 4).await;
    emu.play(&erin, &device, &uris).await;

    let command = |method: Method, path: &'static str| {
        let (emu, erin) = (&emu, &erin);
        async move { emu.api(method, erin, path, None).await.status() }
    };

    assert_eq!(
        command(Method::PUT, "/v1/me/player/pause").await,
        StatusCode::NO_CONTENT
    );
    let paused = player(&emu, &erin).await;
    assert_eq!(paused["is_playing"], false);
    assert_eq!(paused["actions"]["disallows"]["pausing"], true);
    emu.advance(60_000).await;
    assert_eq!(
        player(&emu, &erin).await["progress_ms"],
        paused["progress_ms"],
        "paused time stands still"
    );
    let (status, error) = error_of(
        emu.api(Method::PUT, &erin, "/v1/me/player/pause", None)
            .await,
    )
    .await;
    assert_eq!((status, error["reason"].as_str()), (403, Some("UNKNOWN")));

    assert_eq!(
        command(Method::PUT, "/v1/me/player/play").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(player(&emu, &erin).await["is_playing"], true);

    assert_eq!(
        command(Method::POST, "/v1/me/player/next").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(player(&emu, &erin).await["item"]["uri"], uris[1].as_str());
    assert_eq!(
        command(Method::POST, "/v1/me/player/previous").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(player(&emu, &erin).await["item"]["uri"], uris[0].as_str());

    let seek = emu
        .api(
            Method::PUT,
            &erin,
            "/v1/me/player/seek?position_ms=61000",
            None,
        )
        .await;
    assert_eq!(seek.status(), StatusCode::NO_CONTENT);
    let progress = player(&emu, &erin).await["progress_ms"].as_i64().unwrap();
    assert!((61_000..61_000 + DRIFT_MS).contains(&progress));
    // Previous after the first three seconds restarts the track.
    assert_eq!(
        command(Method::POST, "/v1/me/player/previous").await,
        StatusCode::NO_CONTENT
    );
    let state = player(&emu, &erin).await;
    assert_eq!(state["item"]["uri"], uris[0].as_str());
    assert!(state["progress_ms"].as_i64().unwrap() < DRIFT_MS);

    // Add to queue: it plays next, before the rest of the list.
    let queued = emu
        .api(
            Method::POST,
            &erin,
            &format!("/v1/me/player/queue?uri={}", uris[3]),
            Some(json!({})),
        )
        .await;
    assert_eq!(queued.status(), StatusCode::NO_CONTENT);
    let queue = emu.get_json(&erin, "/v1/me/player/queue").await;
    assert_eq!(queue["currently_playing"]["uri"], uris[0].as_str());
    let upcoming: Vec<&str> = queue["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["uri"].as_str().unwrap())
        .collect();
    assert_eq!(
        upcoming,
        vec![
            uris[3].as_str(),
            uris[1].as_str(),
            uris[2].as_str(),
            uris[3].as_str()
        ]
    );
    assert_eq!(
        command(Method::POST, "/v1/me/player/next").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(player(&emu, &erin).await["item"]["uri"], uris[3].as_str());
    assert_eq!(
        command(Method::POST, "/v1/me/player/next").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(player(&emu, &erin).await["item"]["uri"], uris[1].as_str());

    // Volume, on a device that supports it; transfer to another device.
    let devices = emu.get_json(&erin, "/v1/me/player/devices").await;
    let speaker = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Kitchen Speaker")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let volume = emu
        .api(
            Method::PUT,
            &erin,
            "/v1/me/player/volume?volume_percent=33",
            None,
        )
        .await;
    assert_eq!(volume.status(), StatusCode::NO_CONTENT);
    assert_eq!(player(&emu, &erin).await["device"]["volume_percent"], 33);
    let bad = emu
        .api(
            Method::PUT,
            &erin,
            "/v1/me/player/volume?volume_percent=101",
            None,
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let transfer = emu
        .api(
            Method::PUT,
            &erin,
            "/v1/me/player",
            Some(json!({ "device_ids": [speaker], "play": true })),
        )
        .await;
    assert_eq!(transfer.status(), StatusCode::NO_CONTENT);
    let state = player(&emu, &erin).await;
    assert_eq!(state["device"]["id"], speaker.as_str());
    assert_eq!(
        state["item"]["uri"],
        uris[1].as_str(),
        "transfer keeps what plays"
    );
    let two = emu
        .api(
            Method::PUT,
            &erin,
            "/v1/me/player",
            Some(json!({ "device_ids": [speaker, device] })),
        )
        .await;
    assert_eq!(two.status(), StatusCode::BAD_REQUEST);

    // Playing an album context from a given track.
    let track = emu
        .get_json(
            &erin,
            &format!("/v1/tracks/{}", &uris[0]["spotify:track:".len()..]),
        )
        .await;
    let album = track["album"]["uri"].as_str().unwrap();
    let play = emu
        .api(
            Method::PUT,
            &erin,
            "/v1/me/player/play",
            Some(
                json!({ "context_uri": album, "offset": { "uri": uris[0] }, "position_ms": 5000 }),
            ),
        )
        .await;
    assert_eq!(play.status(), StatusCode::NO_CONTENT);
    let state = player(&emu, &erin).await;
    assert_eq!(state["context"]["uri"], album);
    assert_eq!(state["item"]["uri"], uris[0].as_str());
    assert!(state["progress_ms"].as_i64().unwrap() >= 5_000);
}

#[tokio::test]
async fn player_rules_premium_devices_and_parameters() {
    let emu = common::start().await;
    let dave = emu.login("dave").await.access;
    let uris = emu.top_uris(&dave, 2).await;
    for (method, path) in [
        (Method::PUT, "/v1/me/player/play"),
        (Method::PUT, "/v1/me/player/pause"),
        (Method::POST, "/v1/me/player/next"),
        (Method::POST, "/v1/me/player/previous"),
        (Method::PUT, "/v1/me/player/seek?position_ms=0"),
        (Method::PUT, "/v1/me/player/volume?volume_percent=10"),
        (
            Method::POST,
            "/v1/me/player/queue?uri=spotify:track:4uLU6hMCjMI75M1A2tKUQC",
        ),
    ] {
        let (status, error) = error_of(
            emu.api(method, &dave, path, Some(json!({ "uris": uris })))
                .await,
        )
        .await;
        assert_eq!(status, 403, "{path}");
        assert_eq!(error["reason"], "PREMIUM_REQUIRED", "{path}");
        assert_eq!(error["message"], "Player command failed: Premium required");
    }
    assert_eq!(
        emu.get(&dave, "/v1/me/player").await.status(),
        StatusCode::NO_CONTENT,
        "free users can read"
    );

    let bob = emu.login("bob").await.access;
    let (status, error) = error_of(
        emu.api(Method::POST, &bob, "/v1/me/player/next", None)
            .await,
    )
    .await;
    assert_eq!(
        (status, error["reason"].as_str()),
        (404, Some("NO_ACTIVE_DEVICE"))
    );
    let (status, _) = error_of(
        emu.api(
            Method::PUT,
            &bob,
            "/v1/me/player/play?device_id=ffff",
            Some(json!({ "uris": uris })),
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
    let devices = emu.get_json(&bob, "/v1/me/player/devices").await;
    let tv = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["is_restricted"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, error) = error_of(
        emu.api(
            Method::PUT,
            &bob,
            &format!("/v1/me/player/play?device_id={tv}"),
            Some(json!({ "uris": uris })),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error["reason"].as_str()),
        (403, Some("DEVICE_NOT_CONTROLLABLE"))
    );

    let phone = emu.device_id(&bob).await;
    let play = |body: Value| {
        let (emu, bob, phone) = (&emu, &bob, &phone);
        async move {
            emu.api(
                Method::PUT,
                bob,
                &format!("/v1/me/player/play?device_id={phone}"),
                Some(body),
            )
            .await
            .status()
        }
    };
    assert_eq!(
        play(json!({ "uris": ["spotify:track:nope"] })).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        play(json!({ "uris": ["spotify:episode:4uLU6hMCjMI75M1A2tKUQC"] })).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        play(json!({ "uris": uris, "offset": { "position": 5 } })).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        play(json!({ "uris": uris, "context_uri": "spotify:album:4uLU6hMCjMI75M1A2tKUQC" })).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        play(json!({ "context_uri": "spotify:album:4uLU6hMCjMI75M1A2tKUQC" })).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        play(json!({ "uris": uris, "position_ms": -1 })).await,
        StatusCode::BAD_REQUEST
    );
    let malformed = emu
        .http
        .put(emu.url(&format!("/v1/me/player/play?device_id={phone}")))
        .bearer_auth(&bob)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(malformed).await.1["message"], "Malformed json");
    // Resuming with nothing loaded is refused; playing works; seek needs its parameter.
    let resume = emu
        .api(
            Method::PUT,
            &bob,
            &format!("/v1/me/player/play?device_id={phone}"),
            None,
        )
        .await;
    assert_eq!(resume.status(), StatusCode::FORBIDDEN);
    assert_eq!(play(json!({ "uris": uris })).await, StatusCode::NO_CONTENT);
    assert_eq!(
        emu.api(Method::PUT, &bob, "/v1/me/player/seek", None)
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        emu.api(Method::PUT, &bob, "/v1/me/player/seek?position_ms=x", None)
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    let volume = emu
        .api(
            Method::PUT,
            &bob,
            "/v1/me/player/volume?volume_percent=50",
            None,
        )
        .await;
    assert_eq!(
        error_of(volume).await.1["reason"],
        "VOLUME_CONTROL_DISALLOW",
        "phones cannot set volume"
    );
    // Wrong method on a known path: 405 in Spotify's shape.
    let wrong = emu
        .api(Method::DELETE, &bob, "/v1/me/player/next", None)
        .await;
    assert_eq!(error_of(wrong).await.0, 405);
}

#[tokio::test]
async fn top_tracks_page_and_differ_between_users() {
    let emu = common::start().await;
    let mut tops = Vec::new();
    for user in [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    ] {
        let token = emu.login(user).await.access;
        // Page the way well-known clients do, until `next` is null.
        let mut url = "/v1/me/top/tracks?limit=20".to_owned();
        let mut all = Vec::new();
        loop {
            let page = emu.get_json(&token, &url).await;
            assert_eq!(page["total"], 50);
            all.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["uri"].as_str().unwrap().to_owned()),
            );
            match page["next"].as_str() {
                Some(next) => url = next.strip_prefix(&emu.base).unwrap().to_owned(),
                None => break,
            }
        }
        assert_eq!(all.len(), 50);
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), 50);
        let short = emu.top_uris(&token, 50).await;
        assert_eq!(short, all, "the default time range is medium_term");
        let long = emu
            .get_json(&token, "/v1/me/top/tracks?limit=50&time_range=long_term")
            .await;
        assert_ne!(
            long["items"][0]["uri"].as_str().unwrap(),
            all[0],
            "time ranges rank differently"
        );
        assert_eq!(
            emu.get(&token, "/v1/me/top/tracks?time_range=forever")
                .await
                .status(),
            StatusCode::BAD_REQUEST
        );
        tops.push(all[..5].iter().cloned().collect::<HashSet<_>>());
    }
    for (i, top) in tops.iter().enumerate() {
        let next = &tops[(i + 1) % tops.len()];
        assert_ne!(top, next);
        assert!(
            !top.is_disjoint(next),
            "neighbouring users share a top track"
        );
    }
}

#[tokio::test]
async fn search_tracks_trailing_slashes_and_images() {
    let emu = common::start().await;
    let token = emu.login("grace").await.access;
    let default = emu.get_json(&token, "/v1/search?q=the&type=track").await;
    assert_eq!(default["tracks"]["limit"], 5);
    assert_eq!(default["tracks"]["items"].as_array().unwrap().len(), 5);
    assert!(default["tracks"]["next"].is_string());
    assert_eq!(
        emu.get(&token, "/v1/search?q=the").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        emu.get(&token, "/v1/search?type=track").await.status(),
        StatusCode::BAD_REQUEST
    );
    let empty = emu
        .get_json(&token, "/v1/search?q=zzzzqqq&type=track")
        .await;
    assert_eq!(empty["tracks"]["total"], 0);

    assert_eq!(emu.get_json(&token, "/v1/me/").await["id"], "grace");
    assert!(emu.get_json(&token, "/v1/me/player/devices/").await["devices"].is_array());
    assert_eq!(
        emu.get(&token, "/v1/tracks/not-an-id").await.status(),
        StatusCode::BAD_REQUEST
    );

    let item = &default["tracks"]["items"][0];
    let images = item["album"]["images"].as_array().unwrap();
    assert_eq!(images.len(), 3);
    for image in images {
        let url = image["url"].as_str().unwrap();
        assert!(url.starts_with(&emu.base));
        let response = emu.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "image/svg+xml");
        assert!(response.text().await.unwrap().starts_with("<svg"));
    }
    let me = emu.get_json(&token, "/v1/me").await;
    let avatar = emu
        .http
        .get(me["images"][0]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(avatar.status(), StatusCode::OK);
    assert_eq!(
        emu.http
            .get(emu.url("/_img/album/nope/64"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

/// Every page of a search, following `next` from the first (`limit` 3): the ids in order,
/// with each page's paging fields checked against the pages around it.
async fn search_pages(emu: &TestEmulator, token: &str, q: &str) -> (Vec<String>, u64) {
    let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    let mut path = format!("/v1/search?q={q}&type=track&market=from_token&limit=3");
    let (mut ids, mut total, mut previous_href) = (Vec::new(), None, Value::Null);
    loop {
        let page = emu.get_json(token, &path).await["tracks"].clone();
        let offset = page["offset"].as_u64().unwrap();
        assert_eq!(page["limit"], 3);
        assert_eq!(offset, ids.len() as u64, "pages follow each other");
        let href = page["href"].as_str().unwrap();
        assert!(
            href.ends_with(&format!("&market=from_token&offset={offset}&limit=3")),
            "{href}"
        );
        if offset > 0 {
            assert_eq!(href, format!("{}{path}", emu.base), "next led here");
        }
        assert_eq!(*total.get_or_insert(page["total"].clone()), page["total"]);
        if offset == 0 {
            assert!(page["previous"].is_null());
        } else {
            let previous = page["previous"].as_str().unwrap();
            assert!(
                previous.contains(&format!("offset={}&limit=3", offset - 3)),
                "{previous}"
            );
            assert_eq!(previous_href.as_str(), Some(previous));
        }
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        ids.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
        match page["next"].as_str() {
            Some(next) => {
                assert_eq!(items.len(), 3, "only the last page is short");
                previous_href = page["href"].clone();
                path = next.strip_prefix(&emu.base).unwrap().to_owned();
            }
            None => break,
        }
    }
    (ids, total.and_then(|t| t.as_u64()).unwrap())
}

#[tokio::test]
async fn search_pages_through_every_match_of_a_name_an_artist_or_an_album() {
    let emu = common::start().await;
    let token = emu.login("erin").await.access;
    let uri = emu.top_uris(&token, 1).await.remove(0);
    let id = uri.strip_prefix("spotify:track:").unwrap();
    let track = emu.get_json(&token, &format!("/v1/tracks/{id}")).await;
    let name = track["name"].as_str().unwrap();
    let artist = track["artists"][0]["name"].as_str().unwrap();
    let album = track["album"]["name"].as_str().unwrap();
    let shouted = format!("{name} {artist}").to_uppercase();
    for q in [name, artist, album, shouted.as_str()] {
        let (ids, total) = search_pages(&emu, &token, q).await;
        assert_eq!(ids.len() as u64, total, "{q:?}: every match, once");
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len(), "{q:?}");
        assert!(ids.iter().any(|i| i == id), "{q:?} finds the track");
    }
    // Each artist has ten tracks of their own (an album, an EP, a single).
    let (by_artist, _) = search_pages(
        &emu,
        &token,
        &format!("artist:{}", artist.replace(' ', " artist:")),
    )
    .await;
    assert!(by_artist.len() >= 10, "{}", by_artist.len());

    // Past the end: an empty page that still counts everything and links back.
    let q: String = url::form_urlencoded::byte_serialize(artist.as_bytes()).collect();
    let total = by_artist.len();
    let past = emu
        .get_json(
            &token,
            &format!("/v1/search?q={q}&type=track&offset=1000&limit=10"),
        )
        .await;
    assert!(past["tracks"]["items"].as_array().unwrap().is_empty());
    assert!(past["tracks"]["total"].as_u64().unwrap() >= total as u64);
    assert!(past["tracks"]["next"].is_null());
    assert!(
        past["tracks"]["previous"]
            .as_str()
            .unwrap()
            .contains("offset=990&limit=10")
    );

    // Markets: a country code or the token's; anything else is refused, as Spotify does.
    let sweden = emu
        .get_json(
            &token,
            &format!("/v1/search?q={q}&type=track&market=SE&limit=1"),
        )
        .await;
    assert!(
        sweden["tracks"]["href"]
            .as_str()
            .unwrap()
            .contains("&market=SE&")
    );
    for (query, message) in [
        ("market=se", "Invalid market code"),
        ("market=SWE", "Invalid market code"),
        ("market=", "Invalid market code"),
        ("limit=11", "Invalid limit"),
        ("limit=0", "Invalid limit"),
        ("offset=1001", "Invalid offset"),
        ("offset=-1", "Invalid offset"),
    ] {
        let response = emu
            .get(&token, &format!("/v1/search?q={q}&type=track&{query}"))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["message"], message, "{query}");
        assert_eq!(body["error"]["status"], 400);
    }

    // The request log keeps each Web API request's query string.
    let (_, log) = emu
        .control(Method::GET, "/_emulator/requests?path=/v1/search", None)
        .await;
    let queries: Vec<&str> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["query"].as_str().unwrap())
        .collect();
    assert!(
        queries.iter().any(|q| q.contains("limit=11")),
        "{queries:?}"
    );
    let (_, tokens) = emu
        .control(Method::GET, "/_emulator/requests?path=/api/token", None)
        .await;
    assert_eq!(
        tokens["requests"][0]["query"], "",
        "accounts requests keep no query"
    );
}

/// `PUT` a player command and return its status and error object (Null for a 204).
async fn command(emu: &TestEmulator, token: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let response = emu.api(Method::PUT, token, path, body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, body["error"].clone())
}

fn uris_of(raw: &Value) -> Vec<String> {
    raw["uris"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut uris: Vec<String>) -> Vec<String> {
    uris.sort();
    uris
}

#[tokio::test]
async fn shuffle_orders_what_plays_and_repeat_decides_what_follows() {
    let emu = common::start().await;
    let erin = emu.login("erin").await.access;
    let device = emu.device_id(&erin).await;
    let uris = emu.top_uris(&erin, 20).await;

    // Shuffle off: the given order; the state says so.
    emu.play(&erin, &device, &uris).await;
    assert_eq!(uris_of(&emu.raw_player("erin").await), uris);
    let state = player(&emu, &erin).await;
    assert_eq!(
        (
            &state["shuffle_state"],
            &state["smart_shuffle"],
            &state["repeat_state"]
        ),
        (&json!(false), &json!(false), &json!("off"))
    );

    // Shuffle on mid-list: the current track stays, the others are shuffled after it.
    assert_eq!(
        command(&emu, &erin, "/v1/me/player/shuffle?state=true", None).await,
        (204, Value::Null)
    );
    let raw = emu.raw_player("erin").await;
    let shuffled = uris_of(&raw);
    assert_eq!(shuffled[0], uris[0]);
    assert_eq!(raw["current_uri"], uris[0].as_str());
    assert_eq!(sorted(shuffled.clone()), sorted(uris.clone()));
    assert_ne!(shuffled, uris, "20 tracks shuffled into their own order");
    assert_eq!(player(&emu, &erin).await["shuffle_state"], true);

    // Playing a list with shuffle on plays it in a random order; an offset plays first.
    emu.play(&erin, &device, &uris).await;
    let played = uris_of(&emu.raw_player("erin").await);
    assert_eq!(sorted(played.clone()), sorted(uris.clone()));
    assert_ne!(played, uris);
    assert_eq!(player(&emu, &erin).await["item"]["uri"], played[0].as_str());
    let offset = command(
        &emu,
        &erin,
        "/v1/me/player/play",
        Some(json!({ "uris": uris, "offset": { "position": 5 } })),
    )
    .await;
    assert_eq!(offset.0, 204);
    assert_eq!(player(&emu, &erin).await["item"]["uri"], uris[5].as_str());
    emu.advance(1_000).await;
    let next = emu
        .api(Method::POST, &erin, "/v1/me/player/next", None)
        .await;
    assert_eq!(next.status(), StatusCode::NO_CONTENT);
    let current = player(&emu, &erin).await["item"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();

    // Shuffle off: back to the given order, going on after the current track.
    assert_eq!(
        command(&emu, &erin, "/v1/me/player/shuffle?state=false", None)
            .await
            .0,
        204
    );
    let raw = emu.raw_player("erin").await;
    assert_eq!(uris_of(&raw), uris);
    assert_eq!(raw["current_uri"], current.as_str());
    let index = usize::try_from(raw["index"].as_u64().unwrap()).unwrap();
    assert_eq!(uris[index], current);

    // Repeat track: the track plays again when it ends; next still skips.
    emu.play(&erin, &device, &uris[..2]).await;
    assert_eq!(
        command(&emu, &erin, "/v1/me/player/repeat?state=track", None)
            .await
            .0,
        204
    );
    let state = player(&emu, &erin).await;
    assert_eq!(state["repeat_state"], "track");
    emu.advance(duration(&state["item"]) + 1_000).await;
    let state = player(&emu, &erin).await;
    assert_eq!(state["item"]["uri"], uris[0].as_str());
    assert_eq!(state["is_playing"], true);
    assert!(state["progress_ms"].as_i64().unwrap() < 1_000 + DRIFT_MS);
    let next = emu
        .api(Method::POST, &erin, "/v1/me/player/next", None)
        .await;
    assert_eq!(next.status(), StatusCode::NO_CONTENT);
    assert_eq!(player(&emu, &erin).await["item"]["uri"], uris[1].as_str());

    // Repeat context: after the last track the list starts over.
    assert_eq!(
        command(&emu, &erin, "/v1/me/player/repeat?state=context", None)
            .await
            .0,
        204
    );
    let state = player(&emu, &erin).await;
    assert_eq!(state["repeat_state"], "context");
    emu.advance(duration(&state["item"]) + 1_000).await;
    let state = player(&emu, &erin).await;
    assert_eq!(state["item"]["uri"], uris[0].as_str());
    assert_eq!(state["is_playing"], true);

    // Repeat off: playback stops at the end of the list again.
    assert_eq!(
        command(&emu, &erin, "/v1/me/player/repeat?state=off", None)
            .await
            .0,
        204
    );
    emu.advance(1_000_000).await;
    let state = player(&emu, &erin).await;
    assert_eq!(
        (
            &state["is_playing"],
            &state["item"]["uri"],
            &state["repeat_state"]
        ),
        (&json!(false), &json!(uris[1]), &json!("off"))
    );
    let raw = emu.raw_player("erin").await;
    assert_eq!(
        (&raw["shuffle_state"], &raw["repeat_state"]),
        (&json!(false), &json!("off"))
    );
}

#[tokio::test]
async fn shuffle_and_repeat_refuse_like_the_other_commands() {
    let emu = common::start().await;
    let alice = emu.login("alice").await.access;
    let device = emu.device_id(&alice).await;
    emu.play(&alice, &device, &emu.top_uris(&alice, 2).await)
        .await;
    for (path, message) in [
        ("/v1/me/player/shuffle", "Required parameter state missing"),
        (
            "/v1/me/player/shuffle?state=yes",
            "Parameter state must be one of the following: true, false",
        ),
        ("/v1/me/player/repeat", "Required parameter state missing"),
        (
            "/v1/me/player/repeat?state=all",
            "Parameter state must be one of the following: track, context, off",
        ),
    ] {
        let (status, error) = command(&emu, &alice, path, None).await;
        assert_eq!(
            (status, error["message"].as_str()),
            (400, Some(message)),
            "{path}"
        );
        assert_eq!(error["status"], 400);
    }

    let dave = emu.login("dave").await.access;
    let carol = emu.login("carol").await.access;
    for path in [
        "/v1/me/player/shuffle?state=true",
        "/v1/me/player/repeat?state=track",
    ] {
        let (status, error) = command(&emu, &dave, path, None).await;
        assert_eq!(
            (status, error["reason"].as_str()),
            (403, Some("PREMIUM_REQUIRED")),
            "{path}"
        );
        let (status, error) = command(&emu, &carol, path, None).await;
        assert_eq!(
            (status, error["reason"].as_str()),
            (404, Some("NO_ACTIVE_DEVICE")),
            "{path}"
        );
    }

    // A device the control API makes restricted refuses commands, shuffle and repeat too.
    let grace = emu.login("grace").await.access;
    let device = emu.device_id(&grace).await;
    emu.play(&grace, &device, &emu.top_uris(&grace, 2).await)
        .await;
    let (status, body) = emu
        .control(
            Method::POST,
            &format!("/_emulator/users/grace/devices/{device}"),
            Some(json!({ "is_restricted": true })),
        )
        .await;
    assert_eq!(
        (status, &body["is_restricted"]),
        (StatusCode::OK, &json!(true))
    );
    for path in [
        "/v1/me/player/shuffle?state=true",
        "/v1/me/player/repeat?state=context",
        "/v1/me/player/seek?position_ms=0",
        "/v1/me/player/volume?volume_percent=10",
        "/v1/me/player/pause",
    ] {
        let (status, error) = command(&emu, &grace, path, None).await;
        assert_eq!(
            (status, error["reason"].as_str(), error["message"].as_str()),
            (
                403,
                Some("DEVICE_NOT_CONTROLLABLE"),
                Some("Player command failed: Device is not controllable")
            ),
            "{path}"
        );
    }
    let state = player(&emu, &grace).await;
    assert_eq!(
        (&state["shuffle_state"], &state["repeat_state"]),
        (&json!(false), &json!("off"))
    );
    assert_eq!(state["device"]["is_restricted"], true);
}

#[tokio::test]
async fn seek_volume_and_transfer_follow_spotifys_rules() {
    let emu = common::start().await;
    let alice = emu.login("alice").await.access;
    let device = emu.device_id(&alice).await;
    let uris = emu.top_uris(&alice, 2).await;
    emu.play(&alice, &device, &uris).await;

    // Seek: position_ms required and not negative; past the end plays the next track, even
    // with repeat track on.
    for path in [
        "/v1/me/player/seek",
        "/v1/me/player/seek?position_ms=-1",
        "/v1/me/player/seek?position_ms=1.5",
    ] {
        assert_eq!(command(&emu, &alice, path, None).await.0, 400, "{path}");
    }
    command(&emu, &alice, "/v1/me/player/repeat?state=track", None).await;
    let first = duration(&player(&emu, &alice).await["item"]);
    let past = format!("/v1/me/player/seek?position_ms={}", first + 10_000);
    assert_eq!(command(&emu, &alice, &past, None).await.0, 204);
    let state = player(&emu, &alice).await;
    assert_eq!(state["item"]["uri"], uris[1].as_str());
    assert!(state["progress_ms"].as_i64().unwrap() < DRIFT_MS);

    // Volume: 0–100 on a device that supports it, reported by the player.
    for path in [
        "/v1/me/player/volume",
        "/v1/me/player/volume?volume_percent=101",
        "/v1/me/player/volume?volume_percent=-1",
        "/v1/me/player/volume?volume_percent=loud",
    ] {
        assert_eq!(command(&emu, &alice, path, None).await.0, 400, "{path}");
    }
    assert_eq!(
        command(&emu, &alice, "/v1/me/player/volume?volume_percent=0", None)
            .await
            .0,
        204
    );
    let state = player(&emu, &alice).await;
    assert_eq!(
        (
            &state["device"]["volume_percent"],
            &state["device"]["supports_volume"]
        ),
        (&json!(0), &json!(true))
    );

    // A device made through the control API without volume control refuses volume.
    let fixed = "00000000000000000000000000000000000f1xed";
    let (status, body) = emu
        .control(
            Method::POST,
            &format!("/_emulator/users/alice/devices/{fixed}"),
            Some(json!({ "name": "Fixed-volume Speaker", "type": "Speaker", "supports_volume": false })),
        )
        .await;
    assert_eq!(
        (status, &body["supports_volume"]),
        (StatusCode::OK, &json!(false))
    );
    let transfer = |body: Value| command(&emu, &alice, "/v1/me/player", Some(body));
    assert_eq!(
        transfer(json!({ "device_ids": [fixed], "play": false }))
            .await
            .0,
        204
    );
    let state = player(&emu, &alice).await;
    assert_eq!(state["device"]["id"], fixed);
    assert_eq!(state["device"]["supports_volume"], false);
    assert_eq!(
        state["is_playing"], true,
        "play false keeps the player playing"
    );
    let (status, error) =
        command(&emu, &alice, "/v1/me/player/volume?volume_percent=50", None).await;
    assert_eq!(
        (status, error["reason"].as_str(), error["message"].as_str()),
        (
            403,
            Some("VOLUME_CONTROL_DISALLOW"),
            Some("Player command failed: Cannot control device volume")
        )
    );

    // Transfer: exactly one known device id; `play: true` starts a paused player.
    command(&emu, &alice, "/v1/me/player/pause", None).await;
    let (status, _) = transfer(json!({ "device_ids": [device, fixed] })).await;
    assert_eq!(status, 400);
    let (status, _) = transfer(json!({ "device_ids": [] })).await;
    assert_eq!(status, 400);
    let (status, _) = transfer(json!({ "play": true })).await;
    assert_eq!(status, 400);
    let (status, error) = transfer(json!({ "device_ids": ["ffffffff"] })).await;
    assert_eq!(
        (status, error["message"].as_str()),
        (404, Some("Device not found"))
    );
    assert_eq!(transfer(json!({ "device_ids": [device] })).await.0, 204);
    assert_eq!(
        player(&emu, &alice).await["is_playing"],
        false,
        "no play keeps it paused"
    );
    assert_eq!(
        transfer(json!({ "device_ids": [device], "play": true }))
            .await
            .0,
        204
    );
    let state = player(&emu, &alice).await;
    assert_eq!(
        (&state["device"]["id"], &state["is_playing"]),
        (&json!(device), &json!(true))
    );
    let dave = emu.login("dave").await.access;
    let (status, error) = command(
        &emu,
        &dave,
        "/v1/me/player",
        Some(json!({ "device_ids": [device] })),
    )
    .await;
    assert_eq!(
        (status, error["reason"].as_str()),
        (403, Some("PREMIUM_REQUIRED"))
    );
}
