//! The collaborative queue through the real server: members add tracks (looked up on the
//! emulator with their own tokens) and vote; the host's limits refuse with clear errors and
//! change nothing; the next entry reaches Spotify's queue late, once, and plays without a
//! `PUT play`; skip votes skip once.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{self, Browser, party, playback_track, spawn_app};

/// The whole queue as `who` sees it.
async fn queue_of(who: &Browser, id: &str) -> (Vec<Value>, usize) {
    let (status, view) = who.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["queue_offset"], 0, "a short queue comes whole");
    let position = view["position"].as_u64().unwrap() as usize;
    (view["queue"].as_array().unwrap().clone(), position)
}

/// `who` votes `value` on the entry `entry` (its JSON id).
async fn vote(who: &Browser, id: &str, entry: &Value, value: i8) -> (StatusCode, Value) {
    who.post(
        &format!("/api/sessions/{id}/queue/{entry}/vote"),
        Some(json!({ "vote": value })),
    )
    .await
}

async fn add(who: &Browser, id: &str, uri: &str) -> (StatusCode, Value) {
    who.post(
        &format!("/api/sessions/{id}/queue"),
        Some(json!({ "uri": uri })),
    )
    .await
}

fn index_of(queue: &[Value], uri: &str) -> usize {
    queue
        .iter()
        .position(|e| e["track"]["uri"] == uri)
        .unwrap_or_else(|| panic!("{uri} is not in the queue"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_add_in_fair_turns_the_limits_refuse_and_votes_reorder() {
    let app = spawn_app().await;
    let mut p = party(&app, &["bob", "carol"]).await;
    let (bob, carol) = (&p.guests[0], &p.guests[1]);
    let (queue, position) = queue_of(&p.host, &p.id).await;
    let fresh = common::fresh_tracks(&app.http, &app.emulator_url, &queue, 8).await;

    // A adds two, then B and C one each: A's second waits until B and C had their turn.
    let (a1, a2, b1, c1) = (&fresh[0], &fresh[1], &fresh[2], &fresh[3]);
    let (status, added) = add(&p.host, &p.id, a1).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["entry"]["origin"], "added");
    assert_eq!(
        added["entry"]["votes"], 1,
        "adding counts as the adder's up vote"
    );
    assert_eq!(added["entry"]["your_vote"], 1);
    assert_eq!(added["entry"]["added_by"], json!(["alice"]));
    let frame = p.sockets[1].next_of_type("entry_added").await;
    assert_eq!(frame["entry"]["track"]["uri"], a1.as_str());
    assert_eq!(frame["index"], added["index"]);
    assert!(
        frame["entry"].get("your_vote").is_none(),
        "frames everyone gets carry no one's vote"
    );
    // A link works as well as a URI.
    let link = format!(
        "https://open.spotify.com/track/{}?si=abc",
        a2.trim_start_matches("spotify:track:")
    );
    assert_eq!(add(&p.host, &p.id, &link).await.0, StatusCode::CREATED);
    assert_eq!(add(bob, &p.id, b1).await.0, StatusCode::CREATED);
    assert_eq!(add(carol, &p.id, c1).await.0, StatusCode::CREATED);
    let (queue, _) = queue_of(bob, &p.id).await;
    let (ia1, ia2, ib1, ic1) = (
        index_of(&queue, a1),
        index_of(&queue, a2),
        index_of(&queue, b1),
        index_of(&queue, c1),
    );
    assert!(ia1 < ia2 && ia1 > position, "{ia1} {ia2}");
    // Fair: along the upcoming queue each entry is its owner's k-th, and k never goes down
    // (round after round; nobody gets a second turn while others wait for their first).
    let mut seen = std::collections::HashMap::new();
    let rounds: Vec<usize> = queue[position + 1..]
        .iter()
        .map(|e| {
            let owner = e["added_by"][0].as_str().unwrap().to_owned();
            let count = seen.entry(owner).or_insert(0);
            *count += 1;
            *count - 1
        })
        .collect();
    assert!(
        rounds.windows(2).all(|w| w[0] <= w[1]),
        "rounds {rounds:?} ({ib1}, {ic1})"
    );

    // Bob's limit is 3 waiting adds: the 4th is refused and nothing changes.
    assert_eq!(add(bob, &p.id, &fresh[4]).await.0, StatusCode::CREATED);
    assert_eq!(add(bob, &p.id, &fresh[5]).await.0, StatusCode::CREATED);
    let (before, _) = queue_of(bob, &p.id).await;
    app.emulator_clear_requests().await;
    let (status, refused) = add(bob, &p.id, &fresh[6]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "member_queue_full");
    assert!(refused["error"]["message"].as_str().unwrap().contains('3'));
    // Already upcoming, just played (the playing one counts), not a track: refused likewise.
    let (status, refused) = add(carol, &p.id, b1).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_queued"))
    );
    let playing = before[position]["track"]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, refused) = add(carol, &p.id, &playing).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("recently_played"))
    );
    let (status, refused) = add(carol, &p.id, "spotify:album:4uLU6hMCjMI75M1A2tKUQC").await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_track_uri"))
    );
    // Refusals known before the lookup cost no Spotify call.
    let log = app.emulator_get("/_emulator/requests?method=GET").await;
    let lookups = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/v1/tracks/"))
        })
        .count();
    assert_eq!(lookups, 0, "refused adds looked nothing up");
    // Too long: the host allows one minute at most now.
    let settings = format!("/api/sessions/{}/settings", p.id);
    let (status, body) = bob
        .send(
            Method::PATCH,
            &settings,
            Some(json!({"max_track_ms": 60000})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, body) = p
        .host
        .send(
            Method::PATCH,
            &settings,
            Some(json!({"max_track_ms": 60000})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["settings"]["max_track_ms"], 60000);
    let (status, refused) = add(carol, &p.id, &fresh[7]).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("track_too_long"))
    );
    let (status, body) = p
        .host
        .send(Method::PATCH, &settings, Some(json!({"max_track_ms": 5})))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_settings"))
    );
    let (after, _) = queue_of(bob, &p.id).await;
    assert_eq!(after, before, "refusals change nothing");

    // Votes order: net votes first, then the time added. Carol's track gets bob's vote (+2)
    // and goes before alice's older +1 tracks.
    let (status, body) = p
        .host
        .send(
            Method::PATCH,
            &settings,
            Some(json!({"queue_order": "votes"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let c1_id = after[index_of(&after, c1)]["id"].clone();
    let (status, voted) = vote(bob, &p.id, &c1_id, 1).await;
    assert_eq!(status, StatusCode::OK, "{voted}");
    assert_eq!(
        (voted["votes"].as_i64(), voted["your_vote"].as_i64()),
        (Some(2), Some(1))
    );
    let frame = p.sockets[0].next_of_type("entry_votes").await;
    assert_eq!(
        (frame["id"].clone(), frame["votes"].as_i64()),
        (c1_id.clone(), Some(2))
    );
    let (queue, position) = queue_of(bob, &p.id).await;
    let upcoming: Vec<i64> = queue[position + 1..]
        .iter()
        .map(|e| e["votes"].as_i64().unwrap())
        .collect();
    assert!(upcoming.windows(2).all(|w| w[0] >= w[1]), "{upcoming:?}");
    assert_eq!(queue[position + 1]["id"], c1_id, "the +2 entry is next");
    assert!(index_of(&queue, c1) < index_of(&queue, a1));
    // The voter's own vote is in their snapshot; withdrawing it reorders back.
    assert_eq!(queue[position + 1]["your_vote"], 1);
    let (status, voted) = vote(bob, &p.id, &c1_id, 0).await;
    assert_eq!((status, voted["votes"].as_i64()), (StatusCode::OK, Some(1)));
    let (status, bad) = vote(bob, &p.id, &c1_id, 2).await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_vote"))
    );
    // The playing entry takes no votes.
    let playing_id = queue[position]["id"].clone();
    let (status, pinned) = vote(bob, &p.id, &playing_id, 1).await;
    assert_eq!(
        (status, pinned["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("entry_pinned"))
    );

    // Over the socket too: a guest removes their own entry; another's is refused.
    let b1_id = queue[index_of(&queue, b1)]["id"].as_u64().unwrap();
    p.sockets[2]
        .send(json!({"type": "remove", "entry_id": b1_id}))
        .await;
    let error = p.sockets[2].next_of_type("error").await;
    assert_eq!(error["code"], "forbidden");
    p.sockets[1]
        .send(json!({"type": "remove", "entry_id": b1_id}))
        .await;
    let removed = p.sockets[0].next_of_type("entry_removed").await;
    assert_eq!(removed["id"], b1_id);
    let (queue, _) = queue_of(&p.host, &p.id).await;
    assert!(queue.iter().all(|e| e["track"]["uri"] != b1.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_entry_is_committed_late_once_and_spotify_moves_on_by_itself() {
    let app = spawn_app().await;
    let mut p = party(&app, &["bob"]).await;
    let bob = &p.guests[0];
    let (queue, position) = queue_of(&p.host, &p.id).await;
    assert!(queue.len() >= position + 4, "a few entries to choose from");

    // Twenty seconds before the end nothing is committed yet; a vote (in votes order) decides
    // what will be.
    let settings = format!("/api/sessions/{}/settings", p.id);
    let (status, _) = p
        .host
        .send(
            Method::PATCH,
            &settings,
            Some(json!({"queue_order": "votes"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let chosen = queue[position + 3].clone();
    let (status, voted) = vote(bob, &p.id, &chosen["id"], 1).await;
    assert_eq!(status, StatusCode::OK, "{voted}");
    let duration = queue[position]["track"]["duration_ms"].as_u64().unwrap();
    app.emulator_post(
        "/_emulator/users/alice/player",
        json!({"action": "seek", "position_ms": duration - 20_000}),
    )
    .await;
    app.emulator_clear_requests().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        app.emulator_requests("POST", "/v1/me/player/queue")
            .await
            .is_empty(),
        "still 17 s to go: votes count"
    );

    // Inside the last 15 s the voted entry goes to Spotify's queue, once.
    app.emulator_post("/_emulator/clock", json!({"advance_ms": 6000}))
        .await;
    let commits = app
        .wait_for_emulator_requests("POST", "/v1/me/player/queue", 1)
        .await;
    let committed = p.sockets[1].next_of_type("entry_committed").await;
    assert_eq!(committed["id"], chosen["id"]);
    let query = commits[0]["query"].as_str().unwrap_or_default().to_owned();
    let uri = chosen["track"]["uri"].as_str().unwrap();
    assert!(
        query.contains(&uri.replace(':', "%3A")) || query.contains(uri),
        "the voted entry is committed: {query}"
    );
    // Pinned: it takes no more votes.
    let (status, pinned) = vote(bob, &p.id, &chosen["id"], -1).await;
    assert_eq!(
        (status, pinned["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("entry_pinned"))
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        app.emulator_requests("POST", "/v1/me/player/queue")
            .await
            .len(),
        1,
        "once"
    );

    // At the end Spotify plays it from its own queue, with no `PUT play` from Sesh.
    let before = app.emulator_player("alice").await;
    let left = before["duration_ms"].as_u64().unwrap() - before["position_ms"].as_u64().unwrap();
    app.emulator_post("/_emulator/clock", json!({"advance_ms": left + 300}))
        .await;
    let player = app.emulator_player("alice").await;
    assert_eq!(player["current_uri"], uri);
    assert_eq!(player["is_playing"], true);
    assert!(
        player["position_ms"].as_u64().unwrap() < 300 + 1000,
        "the next track started when the last one ended: {player}"
    );
    let id = chosen["track"]["id"].as_str().unwrap().to_owned();
    for ws in &mut p.sockets {
        let frame = ws
            .next_matching(|f| {
                f["type"] == "playback" && playback_track(f).as_deref() == Some(id.as_str())
            })
            .await;
        assert_eq!(frame["position"], position + 1);
    }
    assert!(
        app.emulator_requests("PUT", "/v1/me/player/play")
            .await
            .is_empty(),
        "no play at the boundary"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_skip_votes_of_five_connected_skip_once() {
    let app = spawn_app().await;
    let mut p = party(&app, &["bob", "carol", "erin", "frank"]).await;
    let (queue, position) = queue_of(&p.host, &p.id).await;
    let next = queue[position + 1]["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.emulator_clear_requests().await;
    let path = format!("/api/sessions/{}/skip-vote", p.id);
    let path = path.as_str();
    async fn skip_vote(who: &Browser, path: &str) -> (StatusCode, Value) {
        who.post(path, None).await
    }
    let (status, first) = skip_vote(&p.guests[0], path).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        (
            first["votes"].as_u64(),
            first["needed"].as_u64(),
            first["you_voted"].as_bool(),
            first["skipped"].as_bool()
        ),
        (Some(1), Some(3), Some(true), Some(false)),
        "five connected: half, rounded up"
    );
    let frame = p.sockets[0].next_of_type("skip_votes").await;
    assert_eq!(
        (frame["votes"].as_u64(), frame["needed"].as_u64()),
        (Some(1), Some(3))
    );
    // Toggling withdraws, and again votes.
    assert_eq!(skip_vote(&p.guests[0], path).await.1["you_voted"], false);
    assert_eq!(skip_vote(&p.guests[0], path).await.1["you_voted"], true);
    assert_eq!(skip_vote(&p.guests[1], path).await.1["skipped"], false);
    // Spotify takes a moment to answer the skip, so the fourth vote is the playing track's for
    // sure: members see a skip as soon as Spotify accepts it (the session moves on then, and a
    // vote after that is the next track's).
    app.emulator_post(
        "/_emulator/faults",
        json!({ "method": "POST", "path": "/v1/me/player/next", "delay_ms": 1_000, "count": 1 }),
    )
    .await;
    let (_, third) = skip_vote(&p.guests[2], path).await;
    assert_eq!(
        (third["votes"].as_u64(), third["skipped"].as_bool()),
        (Some(3), Some(true))
    );
    let (_, fourth) = skip_vote(&p.guests[3], path).await;
    assert_eq!(fourth["skipped"], false, "skipped once");
    let nexts = app
        .wait_for_emulator_requests("POST", "/v1/me/player/next", 1)
        .await;
    for ws in &mut p.sockets {
        ws.next_matching(|f| {
            f["type"] == "playback" && playback_track(f).as_deref() == Some(next.as_str())
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(nexts.len(), 1);
    assert_eq!(
        app.emulator_requests("POST", "/v1/me/player/next")
            .await
            .len(),
        1,
        "exactly one skip"
    );
    // The next entry went to Spotify's queue first, so Spotify plays the session's next.
    assert_eq!(
        app.emulator_requests("POST", "/v1/me/player/queue")
            .await
            .len(),
        1
    );
    let player = app.emulator_player("alice").await;
    assert_eq!(player["current_uri"], queue[position + 1]["track"]["uri"]);
    // The votes were for the track that played; the new one starts at none.
    let (_, view) = p.host.get(&format!("/api/sessions/{}", p.id)).await;
    assert_eq!(view["skip"]["votes"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_changes_are_limited_per_member_over_http_and_the_socket() {
    let app = common::spawn_app_with(|settings| settings.queue_actions_per_minute = 3).await;
    let mut p = party(&app, &["bob"]).await;
    let bob = &p.guests[0];
    let (queue, position) = queue_of(bob, &p.id).await;
    let entry = queue[position + 2]["id"].clone();
    for value in [1, -1, 0] {
        assert_eq!(vote(bob, &p.id, &entry, value).await.0, StatusCode::OK);
    }
    let (status, refused) = vote(bob, &p.id, &entry, 1).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{refused}");
    assert_eq!(refused["error"]["code"], "rate_limited");
    // Nothing changed, and the socket shares the budget.
    let (after, _) = queue_of(bob, &p.id).await;
    assert_eq!(after[position + 2]["votes"], queue[position + 2]["votes"]);
    p.sockets[1]
        .send(json!({"type": "vote", "entry_id": entry, "vote": 1}))
        .await;
    let error = p.sockets[1].next_of_type("error").await;
    assert_eq!(error["code"], "rate_limited");
    assert!(error["retry_after_s"].as_u64().is_some(), "{error}");
    // Another member has their own budget.
    assert_eq!(vote(&p.host, &p.id, &entry, 1).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_phone_asleep_spotify_still_gets_the_next_entry() {
    let app = spawn_app().await;
    let p = party(&app, &["bob"]).await;
    let (queue, position) = queue_of(&p.host, &p.id).await;
    let duration = queue[position]["track"]["duration_ms"].as_u64().unwrap();
    app.emulator_post(
        "/_emulator/users/alice/player",
        json!({"action": "seek", "position_ms": duration - 25_000}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Everyone closes the page (or their phone sleeps) with 23 s to go.
    drop(p.sockets);
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.emulator_clear_requests().await;
    // Without a watcher the poller sleeps until just inside the last 15 s (real time here: ~10 s),
    // then hands Spotify the next entry; between the ends of tracks it does not poll.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let commits = loop {
        let commits = app.emulator_requests("POST", "/v1/me/player/queue").await;
        if !commits.is_empty() {
            break commits;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing was committed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(commits.len(), 1);
    let polls = app.emulator_requests("GET", "/v1/me/player").await.len();
    assert!(polls <= 3, "{polls} polls while feeding for nobody");
    let before = app.emulator_player("alice").await;
    let left = before["duration_ms"].as_u64().unwrap() - before["position_ms"].as_u64().unwrap();
    app.emulator_post("/_emulator/clock", json!({"advance_ms": left + 300}))
        .await;
    let player = app.emulator_player("alice").await;
    assert_eq!(player["current_uri"], queue[position + 1]["track"]["uri"]);
    assert_eq!(player["is_playing"], true, "the music goes on");
    // A member who comes back sees the session where Spotify is.
    let mut ws = p.guests[0].ws(&p.id).await;
    let next = queue[position + 1]["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ws.next_matching(|f| {
        (f["type"] == "playback" && playback_track(f).as_deref() == Some(next.as_str()))
            || (f["type"] == "welcome" && f["session"]["position"] == position + 1)
    })
    .await;
}
