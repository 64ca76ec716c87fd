//! Prometheus metrics (docs/metrics.md) through the real server: `/metrics` on its own
//! address only, every metric named there present, the numbers moving with a playing
//! session, and the text valid for Prometheus (`promtool check metrics`).

use std::{
    io::Write as _,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::json;
use sesh_gateway::settings::HumanDuration;

use crate::common::{self, WAIT, spawn_app_with, sse};

/// Every metric docs/metrics.md lists, as it appears in the text (histograms by `_count`).
const NAMES: &[&str] = &[
    "sesh_spotify_requests_total",
    "sesh_spotify_request_duration_seconds_count",
    "sesh_spotify_rate_limited_total",
    "sesh_spotify_retry_after_seconds_total",
    "sesh_budget_tokens_available",
    "sesh_budget_rate_per_second",
    "sesh_budget_waiting",
    "sesh_budget_acquisitions_total",
    "sesh_budget_wait_seconds_total",
    "sesh_budget_wait_seconds_count",
    "sesh_polls_total",
    "sesh_poll_staleness_seconds_count",
    "sesh_sessions",
    "sesh_sockets_open",
    "sesh_display_streams_open",
    "sesh_fanout_frames_total",
    "sesh_fanout_bytes_total",
    "sesh_hub_command_duration_seconds_count",
    "sesh_hub_request_duration_seconds_count",
    "sesh_db_positions_pending",
    "sesh_db_positions_write_duration_seconds_count",
];

/// The sum of `name`'s samples whose labels contain every one of `labels` (`key="value"`).
fn value(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .filter(|(series, _)| {
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            metric == name && labels.iter().all(|label| rest.contains(label))
        })
        .map(|(_, value)| value.parse::<f64>().expect("a number"))
        .sum()
}

fn has(text: &str, name: &str) -> bool {
    text.lines().any(|line| {
        !line.starts_with('#')
            && (line.starts_with(&format!("{name} ")) || line.starts_with(&format!("{name}{{")))
    })
}

async fn scrape(url: &str) -> String {
    let response = reqwest::get(url).await.expect("/metrics answers");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

/// `promtool check metrics` on `text`: its complaints, if any. Missing promtool fails the
/// test: `scripts/install-deps` installs it (Debian's `prometheus`).
fn promtool_check(text: &str) -> Result<(), String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("promtool is needed to check /metrics ({e}); run scripts/install-deps")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address_and_follow_a_playing_session() {
    let app = spawn_app_with(|s| {
        s.metrics_listen = Some(([127, 0, 0, 1], 0).into());
        s.poll_interval = HumanDuration(Duration::from_millis(100));
        s.poll_paused_interval = HumanDuration(Duration::from_millis(100));
    })
    .await;
    let url = format!(
        "http://{}/metrics",
        app.metrics_addr.expect("metrics served")
    );
    assert_ne!(app.metrics_addr.map(|a| a.port()), Some(app.port));

    let party = common::party(&app, &["bob", "carol"]).await;
    let (status, key) = party
        .host
        .post(&format!("/api/sessions/{}/displays", party.id), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let events = format!("{}/d/{}/events", app.address, key["key"].as_str().unwrap());
    let mut display = sse::open(&sse::client(), &events, None)
        .await
        .expect("the display stream opens");
    display.next_named("snapshot").await;
    // A pause: a playback event fanned out to the sockets and the display.
    let (status, body) = party
        .host
        .post(&format!("/api/sessions/{}/player/pause", party.id), None)
        .await;
    assert!(status.is_success(), "{body}");
    display.next_named("playback").await;

    // One 429 for the poller, then polls again every 100 ms: wait for the 429 to be counted
    // and for a poll after it (a staleness).
    app.emulator_post(
        "/_emulator/faults",
        json!({"method": "GET", "path": "/v1/me/player", "status": 429, "retry_after": 1, "count": 1}),
    )
    .await;
    let deadline = Instant::now() + WAIT;
    let text = loop {
        let text = scrape(&url).await;
        if value(&text, "sesh_spotify_rate_limited_total", &[]) >= 1.0
            && value(
                &text,
                "sesh_poll_staleness_seconds_bucket",
                &[r#"le="+Inf""#],
            ) >= 2.0
            && value(&text, "sesh_poll_staleness_seconds_bucket", &[r#"le="1""#])
                < value(&text, "sesh_poll_staleness_seconds_count", &[])
        {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no 429 and poll after it in time:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    for name in NAMES {
        assert!(has(&text, name), "{name} missing from:\n{text}");
    }
    let player_calls = value(
        &text,
        "sesh_spotify_requests_total",
        &[r#"endpoint="GET /me/player""#],
    );
    assert!(player_calls > 0.0, "{text}");
    assert!(
        value(
            &text,
            "sesh_spotify_requests_total",
            &[r#"endpoint="POST /api/token""#]
        ) >= 3.0
    );
    // Polls by reason: the first poll of a session confirms its start; all reasons add up.
    assert!(
        value(&text, "sesh_polls_total", &[r#"reason="confirm""#]) >= 1.0,
        "{text}"
    );
    assert!(value(&text, "sesh_polls_total", &[]) >= 2.0, "{text}");
    assert!(
        value(
            &text,
            "sesh_spotify_rate_limited_total",
            &[r#"endpoint="GET /me/player""#]
        ) >= 1.0
    );
    assert!(value(&text, "sesh_spotify_retry_after_seconds_total", &[]) >= 1.0);
    // Spotify's 429 halved the app's budget (AIMD), seen by the client's observer.
    let budget = f64::from(app.settings.spotify_budget_per_sec);
    assert!(
        value(&text, "sesh_budget_rate_per_second", &[]) <= budget / 2.0 + budget / 20.0,
        "the budget did not adapt down from {budget}/s:\n{text}"
    );
    assert_eq!(
        value(&text, "sesh_sockets_open", &[]),
        party.sockets.len() as f64,
        "{text}"
    );
    assert_eq!(value(&text, "sesh_display_streams_open", &[]), 1.0);
    // Process-wide (other apps of this test binary may count too): at least this one.
    assert!(value(&text, "sesh_sessions", &[r#"state="playing""#]) >= 1.0);
    assert!(value(&text, "sesh_fanout_frames_total", &[r#"audience="member""#]) > 0.0);
    assert!(value(&text, "sesh_fanout_bytes_total", &[r#"audience="member""#]) > 0.0);
    assert!(
        value(
            &text,
            "sesh_fanout_frames_total",
            &[r#"audience="display""#]
        ) > 0.0
    );
    assert!(value(&text, "sesh_budget_acquisitions_total", &[]) >= 2.0);
    assert!(value(&text, "sesh_hub_request_duration_seconds_count", &[]) > 0.0);
    assert!(value(&text, "sesh_db_positions_write_duration_seconds_count", &[]) > 0.0);

    promtool_check(&text).unwrap_or_else(|problems| panic!("promtool: {problems}\n{text}"));

    // Never on the public address.
    let public = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);

    // A socket closed is a socket less at the next scrape.
    let mut sockets = party.sockets;
    drop(sockets.pop());
    let deadline = Instant::now() + WAIT;
    loop {
        let text = scrape(&url).await;
        if value(&text, "sesh_sockets_open", &[]) == 2.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed socket still counts:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn metrics_are_off_unless_an_address_is_set() {
    let app = spawn_app_with(|_| {}).await;
    assert_eq!(app.metrics_addr, None);
    let public = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
}
