//! Predictive polling through the real server and the emulator (issue 21), at the default
//! `SESH_POLL_WATCH_INTERVAL` (5 s): a quiet playing session costs a poll per watch interval,
//! not one a second; a change made in the host's own Spotify app is seen within the watch
//! interval (+1 s); a natural track change is seen just after the true boundary.

use std::time::{Duration, Instant};

use serde_json::json;
use sesh_gateway::settings::HumanDuration;

use crate::common::{metric_sum, party, playback_track, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_playing_session_is_polled_where_it_pays_and_sees_boundaries_at_once() {
    let app = spawn_app().await;
    assert_eq!(
        app.settings.poll_watch_interval.get(),
        Duration::from_secs(5)
    );
    let mut p = party(&app, &["bob"]).await;
    let ws = &mut p.sockets[1];

    // Quiet: in 12 s, two or three watch polls (fixed polling made twelve).
    app.emulator_clear_requests().await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    let polls = app.player_polls("alice").await;
    assert!((1..=4).contains(&polls), "{polls} polls in 12 s");

    // The host seeks in their own Spotify app to 7 s before the end: seen within the watch
    // interval (+1 s)…
    let player = app.emulator_player("alice").await;
    let playing = player["current_uri"]
        .as_str()
        .and_then(|uri| uri.strip_prefix("spotify:track:"))
        .unwrap()
        .to_owned();
    let duration = player["duration_ms"].as_u64().unwrap();
    let seeked = Instant::now();
    app.emulator_post(
        "/_emulator/users/alice/player",
        json!({ "action": "seek", "position_ms": duration - 7_000 }),
    )
    .await;
    let seen = ws
        .next_matching(|f| {
            f["type"] == "playback"
                && f["progress_ms"]
                    .as_u64()
                    .is_some_and(|p| p + 10_000 > duration)
        })
        .await;
    assert_eq!(playback_track(&seen).as_deref(), Some(playing.as_str()));
    assert!(
        seeked.elapsed() <= Duration::from_secs(6),
        "the seek was seen {:?} later",
        seeked.elapsed()
    );
    // …and the next track, just after the true boundary (7 s after the seek).
    let next = ws
        .next_matching(|f| {
            f["type"] == "playback" && playback_track(f).is_some_and(|t| t != playing)
        })
        .await;
    let boundary = seeked + Duration::from_secs(7);
    let late = Instant::now().saturating_duration_since(boundary);
    assert!(
        late <= Duration::from_secs(1),
        "the track change was seen {late:?} after the boundary: {next}"
    );
}

/// Sesh's own commands are known the moment Spotify accepts them: members see them at once,
/// without waiting for a poll, and one poll confirms each (no close watch after it, which is
/// for changes made outside Sesh).
#[tokio::test]
async fn sesh_own_commands_reach_members_before_any_poll_and_cost_one_confirming_poll() {
    let app = spawn_app().await;
    let mut p = party(&app, &["bob"]).await;
    let ws = &mut p.sockets[1];
    let playing = playback_track(
        &ws.next_matching(|f| f["type"] == "playback" && playback_track(f).is_some())
            .await,
    )
    .unwrap();

    // Every poll of the host's player now takes 3 s to answer: what members see after a
    // command cannot come from a poll.
    app.emulator_post(
        "/_emulator/faults",
        json!({ "method": "GET", "path": "/v1/me/player", "delay_ms": 3_000, "count": 100 }),
    )
    .await;
    let asked = Instant::now();
    let (status, _) = p
        .host
        .post(&format!("/api/sessions/{}/player/next", p.id), None)
        .await;
    assert_eq!(status, 204);
    let next = ws
        .next_matching(|f| {
            f["type"] == "playback" && playback_track(f).is_some_and(|t| t != playing)
        })
        .await;
    assert!(
        asked.elapsed() < Duration::from_millis(1_500),
        "the skip reached bob {:?} after it was asked for: {next}",
        asked.elapsed()
    );
    assert_eq!(next["position"], 1, "the session's next entry: {next}");
    assert_eq!(next["progress_ms"], 0);
    assert_eq!(next["is_playing"], true);
    let asked = Instant::now();
    let (status, _) = p
        .host
        .post(&format!("/api/sessions/{}/player/pause", p.id), None)
        .await;
    assert_eq!(status, 204);
    let paused = ws
        .next_matching(|f| f["type"] == "playback" && f["is_playing"] == false)
        .await;
    assert!(
        asked.elapsed() < Duration::from_millis(1_500),
        "the pause reached bob {:?} after it was asked for",
        asked.elapsed()
    );
    assert_eq!(playback_track(&paused), playback_track(&next));
    app.emulator_clear_faults().await;

    // Without the delay: a resume costs one confirming poll, and the next comes a watch
    // interval later (5 s), not a second later.
    tokio::time::sleep(Duration::from_secs(4)).await;
    app.emulator_clear_requests().await;
    let (status, _) = p
        .host
        .post(&format!("/api/sessions/{}/player/play", p.id), None)
        .await;
    assert_eq!(status, 204);
    let resumed = ws
        .next_matching(|f| f["type"] == "playback" && f["is_playing"] == true)
        .await;
    assert_eq!(playback_track(&resumed), playback_track(&next));
    tokio::time::sleep(Duration::from_millis(4_000)).await;
    let polls = app.player_polls("alice").await;
    assert_eq!(polls, 1, "{polls} polls in the 4 s after the resume");
    // The confirming poll agreed: bob got no second frame telling the same change.
    let extra = tokio::time::timeout(
        Duration::from_millis(300),
        ws.next_matching(|f| {
            f["type"] == "playback" && f["changes"].as_array().is_some_and(|c| !c.is_empty())
        }),
    )
    .await;
    assert!(extra.is_err(), "a second playback frame: {extra:?}");
}

/// A commit window no poll answers in (here: a watch interval longer than the window; at
/// scale: a budget too short for the poll in time) is committed from the prediction: the next
/// entry reaches Spotify's queue 12 s before the end with no poll spent to find the moment,
/// and Spotify plays it at the end by itself.
#[tokio::test]
async fn a_commit_window_no_poll_answers_in_is_committed_from_the_prediction() {
    let app =
        spawn_app_with(|s| s.poll_watch_interval = HumanDuration(Duration::from_secs(30))).await;
    let mut p = party(&app, &["bob"]).await;
    let player = app.emulator_player("alice").await;
    let duration = player["duration_ms"].as_u64().unwrap();

    // Sesh's own seek to 18 s before the end: one poll confirms it (17.7 s left); the next
    // is the boundary's, 30 s being longer than what is left.
    app.emulator_clear_requests().await;
    let sought = Instant::now();
    p.sockets[0]
        .send(json!({ "type": "seek", "position_ms": duration - 18_000 }))
        .await;
    let commit = app
        .wait_for_emulator_requests("POST", "/v1/me/player/queue", 1)
        .await
        .swap_remove(0);
    let committed = sought.elapsed();
    assert!(
        (Duration::from_secs(4)..Duration::from_secs(8)).contains(&committed),
        "committed {committed:?} after the seek to 18 s before the end (due at 12 s before)"
    );
    assert_eq!(
        app.player_polls("alice").await,
        1,
        "only the seek's confirming poll: the commit cost no poll"
    );
    let entry = p.sockets[1].next_of_type("entry_committed").await;
    assert!(entry["id"].is_u64(), "members see it pinned: {entry}");
    let query = commit["query"]
        .as_str()
        .unwrap_or_default()
        .replace("%3A", ":");
    let id = query
        .split_once("spotify:track:")
        .map(|(_, rest)| rest.split('&').next().unwrap_or_default().to_owned())
        .unwrap_or_else(|| panic!("a track handed to Spotify: {query}"));

    // At the end Spotify plays it by itself: no `PUT play` from Sesh.
    let next = p.sockets[1]
        .next_matching(|f| {
            f["type"] == "playback" && playback_track(f).as_deref() == Some(id.as_str())
        })
        .await;
    assert_eq!(next["is_playing"], true, "{next}");
    assert!(
        app.emulator_requests("PUT", "/v1/me/player/play")
            .await
            .is_empty(),
        "no fallback play"
    );
}

/// Polls never starve a person waiting: with the app's budget spent on a playing session's
/// watch polls (1 call a second for five a second's worth of polls), a host who logs in and
/// creates a session is answered within a few seconds. The top tracks the create waits on (and
/// the login's prefetch it waits for) go ahead of the polls in the budget; as a background
/// call they waited for as long as the polls kept it spent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_is_answered_while_polls_spend_the_whole_budget() {
    let app = spawn_app_with(|s| {
        s.spotify_budget_per_sec = 1;
        s.poll_watch_interval = HumanDuration(Duration::from_millis(200));
        s.metrics_listen = Some(([127, 0, 0, 1], 0).into());
    })
    .await;
    let metrics = format!(
        "http://{}/metrics",
        app.metrics_addr.expect("metrics served")
    );
    let _party = party(&app, &["bob"]).await;
    // The polls queue up for the budget.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = app
            .http
            .get(&metrics)
            .send()
            .await
            .expect("metrics answer")
            .text()
            .await
            .expect("text");
        if metric_sum(&text, "sesh_budget_waiting") >= 1.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the polls never waited for the budget"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = Instant::now();
    let carol = app.login("carol").await;
    let (status, created) = carol.post("/api/sessions", None).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{created}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the create took {:?} behind the polls",
        started.elapsed()
    );
}
