//! Displays through the real server (docs/displays.md): the host's keys, the Server-Sent
//! Events stream with its snapshot, live events and `Last-Event-ID` resumes, the public view's
//! privacy (no user ids, the join link only where allowed), revocation, limits, the end of a
//! session, and the polling routes — all fed from the session's one poller.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{
    self, Party, TestApp, spawn_app, spawn_app_with,
    sse::{self, Stream},
};

/// A playing session hosted by alice with bob joined, both on a socket.
async fn party(app: &TestApp) -> Party {
    common::party(app, &["bob"]).await
}

/// A new display key of `party` (by its host).
async fn display(party: &Party, body: Option<Value>) -> Value {
    let (status, created) = party
        .host
        .post(&format!("/api/sessions/{}/displays", party.id), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

/// The host revokes `key`.
async fn revoke(party: &Party, key: &str) -> (StatusCode, Value) {
    party
        .host
        .send(
            Method::DELETE,
            &format!("/api/sessions/{}/displays/{key}", party.id),
            None,
        )
        .await
}

async fn stream(app: &TestApp, key: &Value) -> Stream {
    open(app, key, None).await.expect("the stream opens")
}

async fn open(
    app: &TestApp,
    key: &Value,
    last: Option<&str>,
) -> Result<Stream, (StatusCode, Value)> {
    let url = format!("{}/d/{}/events", app.address, key["key"].as_str().unwrap());
    sse::open(&sse::client(), &url, last).await
}

/// Applies a `queue` event to the upcoming list a display keeps: the whole list, or the first
/// `drop` entries gone and `append` after the rest (docs/displays.md).
fn apply_queue(shown: &mut Vec<Value>, data: &Value) {
    if let Some(whole) = data["upcoming"].as_array() {
        *shown = whole.clone();
    } else {
        let drop = data["drop"].as_u64().expect("drop") as usize;
        shown.drain(..drop.min(shown.len()));
        shown.extend(data["append"].as_array().expect("append").iter().cloned());
    }
}

/// Every Spotify request the emulator saw since its log was cleared, as `METHOD path`.
async fn spotify_requests(app: &TestApp) -> Vec<String> {
    let log = app.emulator_get("/_emulator/requests").await;
    log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn the_host_manages_keys_and_nobody_else_may() {
    let app = spawn_app().await;
    let party = party(&app).await;
    let created = display(
        &party,
        Some(json!({"label": " Living room TV ", "show_join": true})),
    )
    .await;
    let key = created["key"].as_str().unwrap();
    assert_eq!(key.len(), 22);
    assert_ne!(key, party.code, "a display key is not the invite code");
    assert_eq!(created["label"], "Living room TV");
    assert_eq!(created["show_join"], true);
    assert_eq!(created["tv_url"], format!("{}/tv/{key}", app.address));
    assert_eq!(
        created["overlay_url"],
        format!("{}/overlay/{key}", app.address)
    );
    assert_eq!(
        created["events_url"],
        format!("{}/d/{key}/events", app.address)
    );
    let plain = display(&party, None).await;
    assert_eq!(plain["show_join"], false);
    assert_eq!(plain["label"], Value::Null);

    let path = format!("/api/sessions/{}/displays", party.id);
    // A guest may neither make, list nor revoke one; nothing changes.
    let (status, body) = party.guests[0].post(&path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let (status, _) = party.guests[0].get(&path).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = party.guests[0]
        .send(Method::DELETE, &format!("{path}/{key}"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Bad labels are refused.
    let (status, body) = party
        .host
        .post(&path, Some(json!({"label": "x".repeat(61)})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_label");
    let (status, body) = party.host.post(&path, Some(json!({"colour": "red"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, list) = party.host.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let keys: Vec<&str> = list["displays"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, [key, plain["key"].as_str().unwrap()]);
    assert_eq!(list["displays"][0]["open_streams"], 0);

    // At most 20 keys.
    for _ in 2..20 {
        display(&party, None).await;
    }
    let (status, body) = party.host.post(&path, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "too_many_displays");

    // Keys survive a restart (they are stored).
    let mut app = app;
    app.restart().await;
    let (status, list) = party.host.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["displays"].as_array().unwrap().len(), 20);
    assert_eq!(list["displays"][0]["label"], "Living room TV");
    stream(&app, &created).await;
}

#[tokio::test]
async fn a_display_sees_the_public_view_live_and_never_a_user_id() {
    let app = spawn_app().await;
    let mut party = party(&app).await;
    let key = display(&party, None).await;
    let mut tv = stream(&app, &key).await;
    assert_eq!(
        tv.headers["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    assert_eq!(tv.headers["cache-control"], "no-store");
    assert_eq!(tv.headers["x-accel-buffering"], "no");
    let snapshot = tv.next().await.unwrap();
    assert_eq!(tv.retry_ms, Some(2000));
    assert_eq!(snapshot.event, "snapshot");
    assert!(snapshot.id.is_some());
    let data = &snapshot.data;
    assert_eq!(data["session"]["state"], "playing");
    assert_eq!(data["now_playing"]["status"], "playing");
    assert!(!data["now_playing"]["title"].as_str().unwrap().is_empty());
    assert_eq!(data["members"]["member_count"], 2);
    assert_eq!(data["members"]["online_count"], 2);
    assert_eq!(
        data["join"],
        Value::Null,
        "this key does not show the join link"
    );
    let upcoming = data["upcoming"].as_array().unwrap();
    assert!(!upcoming.is_empty());
    assert_eq!(
        data["upcoming_total"].as_u64().unwrap() as usize,
        upcoming.len()
    );
    assert!(upcoming[0]["brought_by"][0].is_string());

    // The host skips: members and the display see the new track.
    let (status, body) = party
        .host
        .post(&format!("/api/sessions/{}/player/next", party.id), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let next_title = upcoming[0]["title"].as_str().unwrap().to_owned();
    let mut shown = upcoming.clone();
    loop {
        let event = tv.next().await.unwrap();
        if event.event == "queue" {
            apply_queue(&mut shown, &event.data);
        }
        if event.event == "playback" && event.data["title"] == next_title.as_str() {
            // What plays first; then the list moves up, and that last event carries the id.
            assert!(event.id.is_none(), "{event:?}");
            let moved = tv.next().await.unwrap();
            assert_eq!(moved.event, "queue");
            assert_eq!(
                moved.data["drop"], 1,
                "a track change is a small change: {moved:?}"
            );
            assert!(
                moved.id.is_some(),
                "the last event of a change carries the id"
            );
            apply_queue(&mut shown, &moved.data);
            break;
        }
    }
    // The list a display keeps from the events is the list a new display is given.
    let fresh = stream(&app, &key).await.next().await.unwrap();
    assert_eq!(Value::Array(shown), fresh.data["upcoming"]);
    for ws in &mut party.sockets {
        ws.next_matching(|f| f["type"] == "playback" && f["track"]["name"] == next_title.as_str())
            .await;
    }
    // bob leaves: the counts change, nothing names him.
    let (status, _) = party.guests[0]
        .post(&format!("/api/sessions/{}/leave", party.id), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let members = tv.next_named("members").await;
    assert_eq!(members.data, json!({"member_count": 1, "online_count": 1}));
    for user in ["alice", "bob"] {
        assert!(
            !tv.raw.contains(&format!("\"{user}\"")),
            "a display saw the user id {user}: {}",
            tv.raw
        );
    }
    assert!(
        !tv.raw.contains(&party.code),
        "a display saw the invite code"
    );
}

#[tokio::test]
async fn a_hundred_displays_cost_spotify_nothing() {
    let app = spawn_app_with(|s| s.displays_per_ip = 100).await;
    let party = party(&app).await;
    let key = display(&party, None).await;
    app.emulator_clear_requests().await;
    let started = Instant::now();
    let mut displays = Vec::new();
    for _ in 0..100 {
        let mut tv = stream(&app, &key).await;
        assert_eq!(tv.next().await.unwrap().event, "snapshot");
        displays.push(tv);
    }
    let (status, list) = party
        .host
        .get(&format!("/api/sessions/{}/displays", party.id))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["displays"][0]["open_streams"], 100);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let elapsed = started.elapsed();
    let requests = spotify_requests(&app).await;
    // Only the session's one poller, at its own pace: nothing a display asked for.
    assert!(
        requests.iter().all(|r| r == "GET /v1/me/player"),
        "{requests:?}"
    );
    let interval = app.settings.poll_interval.get();
    let most = (elapsed.as_secs_f64() / interval.as_secs_f64()).ceil() as usize + 2;
    assert!(
        requests.len() <= most,
        "{} polls in {elapsed:?} (at most {most})",
        requests.len()
    );
    drop(displays);
}

#[tokio::test]
async fn a_resume_gets_exactly_the_missed_events() {
    let app = spawn_app().await;
    let party = party(&app).await;
    let key = display(&party, None).await;
    // One display stays, one drops after its snapshot and comes back.
    let mut stays = stream(&app, &key).await;
    let mut drops = stream(&app, &key).await;
    let first = stays.next().await.unwrap();
    let snapshot = drops.next().await.unwrap();
    assert_eq!(first.id, snapshot.id);
    let last_seen = snapshot.id.clone().unwrap();
    drop(drops);

    // Changes the displays see: a skip, bob's add.
    let id = &party.id;
    let (status, _) = party
        .host
        .post(&format!("/api/sessions/{id}/player/next"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let stranger = app.emulator_get("/_emulator/users/gen-1").await;
    let uri = stranger["top_tracks"]["medium_term"][0].as_str().unwrap();
    let (status, added) = party.guests[0]
        .post(
            &format!("/api/sessions/{id}/queue"),
            Some(json!({ "uri": uri })),
        )
        .await;
    assert!(status.is_success(), "{added}");
    let mut missed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        match stays.next_within(Duration::from_millis(500)).await {
            Ok(Some(event)) => missed.push(event),
            Ok(None) => panic!("the stream ended"),
            Err(()) => {}
        }
    }
    assert!(
        missed.iter().any(|e| e.event == "playback") && missed.iter().any(|e| e.event == "queue"),
        "{missed:?}"
    );
    let last_id = missed.iter().rev().find_map(|e| e.id.clone()).unwrap();

    let mut back = open(&app, &key, Some(&last_seen)).await.unwrap();
    let mut replayed = Vec::new();
    while replayed.last().and_then(|e: &sse::Event| e.id.as_deref()) != Some(last_id.as_str()) {
        replayed.push(back.next().await.unwrap());
    }
    assert_eq!(
        replayed, missed,
        "exactly what it missed, in order, no snapshot"
    );

    // Nothing missed: nothing replayed. An id it cannot know: a fresh snapshot.
    let mut current = open(&app, &key, Some(&last_id)).await.unwrap();
    assert!(
        current
            .next_within(Duration::from_millis(500))
            .await
            .is_err()
    );
    let mut invented = open(&app, &key, Some("999999")).await.unwrap();
    assert_eq!(invented.next().await.unwrap().event, "snapshot");
    let mut garbage = open(&app, &key, Some("not a number")).await.unwrap();
    assert_eq!(garbage.next().await.unwrap().event, "snapshot");
}

#[tokio::test]
async fn a_revoked_key_ends_its_streams_and_opens_nothing_after() {
    let app = spawn_app().await;
    let party = party(&app).await;
    let key = display(&party, None).await;
    let other = display(&party, None).await;
    let mut tv = stream(&app, &key).await;
    let mut kept = stream(&app, &other).await;
    tv.next().await.unwrap();
    kept.next().await.unwrap();
    let k = key["key"].as_str().unwrap();
    assert_eq!(revoke(&party, k).await.0, StatusCode::NO_CONTENT);
    tokio::time::timeout(common::WAIT, tv.ended())
        .await
        .expect("the revoked key's stream ends");
    for path in ["events", "nowplaying.json", "nowplaying.txt", "join-qr.svg"] {
        let response = app
            .http
            .get(format!("{}/d/{k}/{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "display_key_invalid", "{path}");
    }
    // The same answer as a key that never was, or is not even a key.
    for bad in ["AAAAAAAAAAAAAAAAAAAAAA", "nope"] {
        let response = app
            .http
            .get(format!("{}/d/{bad}/events", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    let (status, body) = revoke(&party, k).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "display_not_found");
    // The other key's display goes on.
    let (status, _) = party
        .host
        .post(&format!("/api/sessions/{}/player/pause", party.id), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let paused = loop {
        let event = kept.next_named("playback").await;
        if event.data["status"] == "paused" {
            break event;
        }
    };
    assert_eq!(paused.data["status"], "paused");
}

#[tokio::test]
async fn only_a_key_that_shows_the_join_link_sees_it() {
    let app = spawn_app().await;
    let party = party(&app).await;
    let public = display(&party, Some(json!({"show_join": true}))).await;
    let private = display(&party, None).await;
    let mut tv = stream(&app, &public).await;
    let mut overlay = stream(&app, &private).await;
    let snapshot = tv.next().await.unwrap();
    assert_eq!(
        snapshot.data["join"]["url"],
        format!("{}/j/{}", app.address, party.code)
    );
    overlay.next().await.unwrap();
    let qr = |key: &Value| {
        format!(
            "{}/d/{}/join-qr.svg",
            app.address,
            key["key"].as_str().unwrap()
        )
    };
    let response = app.http.get(qr(&public)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("<svg"));
    let response = app.http.get(qr(&private)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "join_hidden"
    );

    // A new invite: the TV learns the new link, the overlay nothing.
    let (status, rotated) = party
        .host
        .post(&format!("/api/sessions/{}/invite", party.id), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let join = tv.next_named("join").await;
    assert_eq!(join.data["url"], rotated["join_url"]);
    assert!(join.id.is_some());
    // Something both see, after it: the overlay's next event is that, not the join.
    let (status, _) = party
        .host
        .post(&format!("/api/sessions/{}/player/pause", party.id), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let next = overlay.next().await.unwrap();
    assert_ne!(next.event, "join");
    assert!(
        !overlay
            .raw
            .contains(rotated["invite_code"].as_str().unwrap())
    );
    assert!(!overlay.raw.contains(&party.code));
}

#[tokio::test]
async fn now_playing_for_tools_that_poll() {
    let app = spawn_app().await;
    let party = party(&app).await;
    let key = display(&party, None).await;
    let k = key["key"].as_str().unwrap();
    let response = app
        .http
        .get(format!("{}/d/{k}/nowplaying.json", app.address))
        .header("Origin", "https://obs.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let now: Value = response.json().await.unwrap();
    for field in ["title", "album"] {
        assert!(!now[field].as_str().unwrap().is_empty(), "{now}");
    }
    assert_eq!(now["status"], "playing");
    assert!(now["artists"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(now["duration_ms"].as_u64().unwrap() > 0);
    assert!(now["progress_ms"].as_u64().unwrap() <= now["duration_ms"].as_u64().unwrap());
    assert!(now["server_time_ms"].as_i64().unwrap() > 0);
    let response = app
        .http
        .get(format!("{}/d/{k}/nowplaying.txt", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; charset=utf-8")
    );
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "JSON only"
    );
    let artists: Vec<&str> = now["artists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        response.text().await.unwrap(),
        format!(
            "{} — {}",
            artists.join(", "),
            now["title"].as_str().unwrap()
        )
    );
    // The API elsewhere does not open itself to other origins.
    let response = app
        .http
        .get(format!("{}/api/config", app.address))
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn streams_are_limited_per_address_and_per_session() {
    let app = spawn_app_with(|s| {
        s.displays_per_ip = 2;
        s.displays_per_session = 3;
        s.trusted_proxies = vec![[127, 0, 0, 1].into()];
    })
    .await;
    let party = party(&app).await;
    let (tv, overlay) = (display(&party, None).await, display(&party, None).await);
    let http = sse::client();
    let from = |ip: &str, key: &Value| {
        let url = format!("{}/d/{}/events", app.address, key["key"].as_str().unwrap());
        http.get(url)
            .header("X-Forwarded-For", ip.to_owned())
            .send()
    };
    let a = from("198.51.100.1", &tv).await.unwrap();
    let b = from("198.51.100.1", &overlay).await.unwrap();
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let refused = from("198.51.100.1", &overlay).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"]["code"],
        "rate_limited"
    );
    let c = from("198.51.100.2", &overlay).await.unwrap();
    assert_eq!(c.status(), StatusCode::OK);
    let full = from("198.51.100.3", &overlay).await.unwrap();
    assert_eq!(full.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        full.json::<Value>().await.unwrap()["error"]["code"],
        "too_many_displays"
    );
    // A stream the server ends frees its slots at once: the TV's key is revoked.
    let (status, _) = revoke(&party, tv["key"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut a = a;
    while let Some(chunk) = tokio::time::timeout(common::WAIT, a.chunk())
        .await
        .expect("the revoked stream ends")
        .unwrap()
    {
        drop(chunk);
    }
    let again = from("198.51.100.1", &overlay).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    drop((b, c, again));
}

#[tokio::test]
async fn the_end_of_the_session_ends_its_displays() {
    let app = spawn_app().await;
    let party = party(&app).await;
    let key = display(&party, Some(json!({"show_join": true}))).await;
    let mut tv = stream(&app, &key).await;
    tv.next().await.unwrap();
    let (status, _) = party
        .host
        .post(&format!("/api/sessions/{}/end", party.id), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let ended = tv.next_named("session_ended").await;
    assert!(ended.id.is_some());
    tokio::time::timeout(common::WAIT, tv.ended())
        .await
        .expect("the stream ends");
    // Later: the ended view once, then the end again (the page stops there).
    let mut late = stream(&app, &key).await;
    let snapshot = late.next().await.unwrap();
    assert_eq!(snapshot.event, "snapshot");
    assert_eq!(snapshot.data["session"]["state"], "ended");
    assert_eq!(
        snapshot.data["join"],
        Value::Null,
        "an ended session's link opens nothing"
    );
    assert_eq!(late.next().await.unwrap().event, "session_ended");
    assert!(late.next().await.is_none());
}
