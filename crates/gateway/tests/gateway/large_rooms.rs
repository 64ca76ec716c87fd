//! Sessions over the roster limit and queues over the window: counts instead of per-member
//! events, a capped roster, a window of the queue that moves with the playback, and the HTTP
//! pages that give the rest. The limits are lowered (`SESH_ROSTER_LIMIT=3`,
//! `SESH_QUEUE_WINDOW=10`) so a handful of users shows what thousands would.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Browser, Ws, spawn_app_with, welcome};

/// The next session event (`seq`-numbered frame), skipping resyncs of the same playback and
/// Spotify status changes.
async fn next_roster_event(ws: &mut Ws) -> Value {
    ws.next_matching(|f| {
        f["seq"].is_u64() && f["type"] != "playback" && f["type"] != "spotify_status"
    })
    .await
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_owned())
        .collect()
}

fn track_ids(entries: &Value) -> Vec<String> {
    entries
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["track"]["id"].as_str().expect("track id").to_owned())
        .collect()
}

async fn join(guest: &Browser, code: &str) -> Value {
    let (status, body) = guest.post(&format!("/api/join/{code}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The host skips to each position of `positions` in turn, until a `queue` event (a new
/// window) arrives before that position's `playback`: the position and the event.
async fn skip_until_the_window_moves(
    host: &Browser,
    id: &str,
    ws: &mut Ws,
    positions: std::ops::RangeInclusive<usize>,
) -> Option<(usize, Value)> {
    for expected in positions {
        let (status, body) = host
            .post(&format!("/api/sessions/{id}/player/next"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let frame = ws
            .next_matching(|f| {
                (f["type"] == "playback" && f["position"] == expected) || f["type"] == "queue"
            })
            .await;
        if frame["type"] == "queue" {
            return Some((expected, frame));
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_over_the_roster_limit_sends_counts_and_a_moving_window_of_the_queue() {
    let mut app = spawn_app_with(|s| {
        s.roster_limit = 3;
        s.queue_window = 10;
        s.poll_interval = "100ms".parse().unwrap();
        // The host skips through the queue faster than a person would.
        s.spotify_user_rate_per_min = 0;
    })
    .await;
    let alice = app.login("alice").await;
    let mut guests = Vec::new();
    for user in ["bob", "carol", "erin", "frank"] {
        guests.push(app.login(user).await);
    }
    let (status, created) = alice.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["invite_code"].as_str().unwrap().to_owned();
    let mut ws = alice.ws(&id).await;
    welcome(&mut ws).await;
    let own = ws.next_json().await;
    assert_eq!(
        (&own["type"], &own["user_id"]),
        (&json!("presence"), &json!("alice"))
    );

    // Up to the limit every join is announced.
    for guest in &guests[..2] {
        join(guest, &code).await;
        let event = next_roster_event(&mut ws).await;
        assert_eq!(event["type"], "member_joined", "{event}");
    }
    // Beyond it: counts only, one summary for the change.
    let joined = join(&guests[2], &code).await;
    assert_eq!(joined["member_count"], 4);
    assert_eq!(ids(&joined["members"]).len(), 3, "{joined}");
    let summary = next_roster_event(&mut ws).await;
    assert_eq!(summary["type"], "members_summary", "{summary}");
    assert_eq!(summary["member_count"], 4);
    assert!(summary.get("members").is_none(), "{summary}");
    join(&guests[3], &code).await;
    let mut frank_ws = guests[3].ws(&id).await;
    let frank_welcome = welcome(&mut frank_ws).await;
    assert_eq!(frank_welcome["session"]["member_count"], 5);
    // Frank's socket is not announced one by one either: the summary counts it.
    let summary = next_roster_event(&mut ws).await;
    assert_eq!(summary["type"], "members_summary", "{summary}");
    assert_eq!(summary["member_count"], 5);
    let summary = if summary["online_count"] == 2 {
        summary
    } else {
        next_roster_event(&mut ws).await
    };
    assert_eq!(summary["online_count"], 2, "{summary}");

    // The snapshot lists the host and the first others up to the limit; the pages give all.
    let (status, view) = guests[3].get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&view["members"]), ["alice", "bob", "carol"]);
    assert_eq!(view["member_count"], 5);
    assert_eq!(view["online_count"], 2);
    let (status, page) = guests[0]
        .get(&format!("/api/sessions/{id}/members?offset=3&limit=10"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(&page["items"]), ["erin", "frank"]);
    assert_eq!(page["offset"], 3);
    assert_eq!(page["total"], 5);
    assert_eq!(page["items"][1]["online"], true);
    for bad in ["limit=0", "limit=501", "offset=-1", "limit=x", "size=3"] {
        let (status, body) = alice
            .get(&format!("/api/sessions/{id}/members?{bad}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_query", "{bad}: {body}");
    }

    // Start: 5 members × 5 tracks is longer than the window of 10.
    let (status, started) = alice.start_on_own_device(&id).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let length = started["queue_length"].as_u64().unwrap() as usize;
    assert!(length > 10, "{started}");
    assert_eq!(started["queue_offset"], 0);
    assert_eq!(track_ids(&started["queue"]).len(), 10);
    let event = ws.next_of_type("session_started").await;
    assert_eq!(event["queue"], started["queue"]);
    assert_eq!(event["queue_length"], length);
    assert_eq!(event["queue_offset"], 0);

    // The pages give the whole queue, starting with the window members hold.
    let (status, whole) = guests[1].get(&format!("/api/sessions/{id}/queue")).await;
    assert_eq!(status, StatusCode::OK, "{whole}");
    assert_eq!(whole["total"], length);
    let all = track_ids(&whole["items"]);
    assert_eq!(all.len(), length);
    assert_eq!(all[..10], track_ids(&started["queue"])[..]);
    let (_, tail) = guests[1]
        .get(&format!("/api/sessions/{id}/queue?offset=10&limit=3"))
        .await;
    assert_eq!(track_ids(&tail["items"]), all[10..13]);
    let (_, past_end) = guests[1]
        .get(&format!("/api/sessions/{id}/queue?offset=1000"))
        .await;
    assert_eq!(track_ids(&past_end["items"]).len(), 0);
    assert_eq!(past_end["total"], length);

    // Skipping ahead: before the now-playing entry reaches the window's last entry, everyone
    // gets the next window, which holds it.
    let window_moved = skip_until_the_window_moves(&alice, &id, &mut ws, 1..=9).await;
    let (at, queue) = window_moved.expect("a new window before the old one runs out");
    assert_eq!(at, 9, "the window moves a tenth of a window before its end");
    assert_eq!(queue["position"], 9);
    let offset = queue["queue_offset"].as_u64().unwrap() as usize;
    assert_eq!(offset, 8, "{queue}");
    let window = track_ids(&queue["queue"]);
    assert_eq!(window, all[offset..(offset + 10).min(length)]);
    let playback = ws.next_of_type("playback").await;
    assert_eq!(playback["position"], 9);
    assert_eq!(playback["track"]["id"], all[9]);
    // A newcomer's welcome holds the same stretch.
    let mut carol_ws = guests[1].ws(&id).await;
    let carol_welcome = welcome(&mut carol_ws).await;
    assert_eq!(carol_welcome["session"]["queue_offset"], 8);
    assert_eq!(carol_welcome["session"]["queue_length"], length);

    // Back to the limit: one summary carrying the whole roster, then per-member events again.
    for guest in &guests[2..] {
        let (status, body) = guest.post(&format!("/api/sessions/{id}/leave"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let summary = ws
        .next_matching(|f| f["type"] == "members_summary" && f["member_count"] == 3)
        .await;
    assert_eq!(
        ids(&summary["members"]),
        ["alice", "bob", "carol"],
        "{summary}"
    );
    let (status, _) = guests[0]
        .post(&format!("/api/sessions/{id}/leave"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let left = next_roster_event(&mut ws).await;
    assert_eq!(left["type"], "member_left", "{left}");
    assert_eq!(left["user_id"], "bob");

    // A hub loaded back from the database (after a restart) moves the window on too: from the
    // window 8..18 its welcome holds, before position 17.
    drop((ws, frank_ws, carol_ws));
    app.restart().await;
    let mut ws = alice.ws(&id).await;
    let fresh = welcome(&mut ws).await;
    assert_eq!(fresh["session"]["queue_offset"], 8, "{fresh}");
    let (moved_at, frame) = skip_until_the_window_moves(&alice, &id, &mut ws, 10..=17)
        .await
        .expect("a new window before the old one runs out");
    assert_eq!(frame["queue_offset"], 16.min(length - 10), "{frame}");
    assert_eq!(moved_at, 17);
}

/// Transitions change the live session in place (no copy per join); a change the database
/// refuses must not stay in memory: the hub goes back to the stored state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_that_cannot_be_stored_leaves_the_session_as_stored() {
    let app = spawn_app_with(|_| {}).await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let carol = app.login("carol").await;
    let (status, created) = alice.post("/api/sessions", None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let code = created["invite_code"].as_str().unwrap().to_owned();
    join(&bob, &code).await;
    // Carol's top tracks are fetched and stored now, so her next join only reads them.
    join(&carol, &code).await;
    let (status, _) = carol.post(&format!("/api/sessions/{id}/leave"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Another writer holds the database past Sesh's busy timeout: the join cannot be stored.
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(app.dir.path().join("sesh.db"))
        .busy_timeout(std::time::Duration::from_secs(1));
    let mut blocker = sqlx::ConnectOptions::connect(&options).await.unwrap();
    sqlx::Executor::execute(&mut blocker, "BEGIN IMMEDIATE")
        .await
        .unwrap();
    let (status, body) = carol.post(&format!("/api/join/{code}"), None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["error"]["code"], "internal", "{body}");
    sqlx::Executor::execute(&mut blocker, "ROLLBACK")
        .await
        .unwrap();

    // The live session is the stored one: no Carol, and she can join for real now.
    let (status, view) = alice.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&view["members"]), ["alice", "bob"], "{view}");
    let joined = join(&carol, &code).await;
    assert_eq!(ids(&joined["members"]), ["alice", "bob", "carol"]);
}
