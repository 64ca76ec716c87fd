//! Predictive polling through the real server and the emulator (issue 21), at the default
//! `SESH_POLL_WATCH_INTERVAL` (5 s): a quiet playing session costs a poll per watch interval,
//! not one a second; a change made in the host's own Spotify app is seen within the watch
//! interval (+1 s); a natural track change is seen just after the true boundary.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{party, playback_track, spawn_app};

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
