//! `sessions`: many playing sessions (2,000), one member each, against a Sesh with the
//! default-sized budget: calls within the budget, every session polled (no starvation), how
//! even the staleness is, and how late natural track changes are seen.

use super::super::Env;
use super::super::spotify::web_api_calls;
use super::staleness::{BoundaryWatch, Spread, longest_gaps};
use super::{calls_by_endpoint, per_mode, playing, sesh_row};
use crate::client::Report;
use crate::frame::{now_ms, now_us};
use crate::report::{Row, Target};
use crate::sesh::{EmulatorPlayer, SeshLocation, SeshTarget};
use crate::stats::Summary;
use futures_util::{StreamExt, TryStreamExt, stream};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Emulator player reads in flight at the window's start.
const READ_CONCURRENCY: usize = 32;

/// What one Sesh measured.
#[derive(Debug, serde::Serialize)]
struct Scale {
    window_s: f64,
    calls: u64,
    /// Of `calls`, per endpoint (what beside the polls draws on Spotify).
    by_endpoint: std::collections::BTreeMap<String, u64>,
    http_429: u64,
    rate_limited_frames: u64,
    never_polled: usize,
    spread: Option<Spread>,
    /// True end → receipt of the next track, ms (those unseen by the window's end at their
    /// age then, a lower bound).
    boundary_ms: Option<Summary>,
    boundaries_unseen: usize,
}

/// How long the scenario runs at `n` sessions: the start-up's polls drain for one budget
/// rotation (every session polled once: `n / budget` s), then the window is long enough for
/// each session to be polled at least three times.
fn timing(n: usize, budget: u32, window: Duration) -> (Duration, Duration, Duration) {
    let rotation = Duration::from_secs_f64(n as f64 / f64::from(budget.max(1)));
    let settle = rotation.max(Duration::from_secs(3));
    let window = window.max(Duration::from_secs(5)).max(rotation * 3);
    // A boundary is timed when its track ends at least a rotation before the window's end, so
    // a session polled at the budget's pace has been polled after it.
    let tail = rotation.max(Duration::from_secs(1));
    (settle, window, tail)
}

async fn measure(
    location: &SeshLocation,
    n: usize,
    budget: u32,
    window: Duration,
    procs: usize,
) -> anyhow::Result<Scale> {
    let (settle, window, tail) = timing(n, budget, window);
    let mut sesh = SeshTarget::open(location).await?;
    let mut playing = playing(&mut sesh, n, procs, Duration::from_secs(30)).await?;
    tokio::time::sleep(settle).await;
    let api = sesh.api.clone();
    let limited_before = playing.pool.stats().await?.1.rate_limited;

    api.reset_emulator_requests().await?;
    let start_ms = now_ms();
    let window_end = Instant::now() + window;
    let end_ms = start_ms + window.as_millis() as i64;
    let players: Vec<EmulatorPlayer> = stream::iter(&playing.hosts)
        .map(|host| api.emulator_player_state(host))
        .buffered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    let mut watch = BoundaryWatch::default();
    let horizon_ms = end_ms - tail.as_millis() as i64;
    for (session, player) in players.iter().enumerate() {
        if let (Some(track), Some(end)) = (player.track_id(), player.ends_at_ms())
            && end <= horizon_ms
        {
            watch.arm(session, track, end * 1_000);
        }
    }
    let armed = watch.outstanding();
    while let Some(report) = playing.pool.next_event(window_end).await {
        if let Report::Change {
            id, track, recv_us, ..
        } = report
            && let Some(room) = playing.room_of.get(id as usize)
        {
            watch.on_change(*room as usize, &track, recv_us);
        }
    }
    let unseen = watch.finish(now_us());
    let log = api.emulator_requests(None).await?;
    let (calls, http_429) = web_api_calls(&log);
    let by_endpoint = calls_by_endpoint(&log);
    let index: HashMap<&str, usize> = playing
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_str(), i))
        .collect();
    let polls = api.emulator_player_polls(start_ms).await?;
    let polled = longest_gaps(
        n,
        polls
            .iter()
            .filter_map(|(user, at)| Some((*index.get(user.as_str())?, *at))),
        start_ms,
        end_ms,
    );
    let gaps: Vec<i64> = polled.iter().map(|p| p.longest_gap_ms).collect();
    let limited = playing.pool.stats().await?.1.rate_limited - limited_before;
    playing.pool.close().await?;
    sesh.end_sessions(&playing.sessions).await?;

    tracing::info!(
        armed,
        seen = watch.seen_ms.len(),
        unseen = unseen.len(),
        "boundaries at scale"
    );
    let unseen_count = unseen.len();
    let mut delays = watch.seen_ms;
    delays.extend(unseen);
    Ok(Scale {
        window_s: window.as_secs_f64(),
        calls,
        by_endpoint,
        http_429,
        rate_limited_frames: limited,
        never_polled: polled.iter().filter(|p| p.polls == 0).count(),
        spread: Spread::of(&gaps),
        boundary_ms: Summary::of(&mut delays),
        boundaries_unseen: unseen_count,
    })
}

/// A row whose target is to be reported, not judged.
fn reported(mut row: Row) -> Row {
    row.target = Some("reported".to_owned());
    row
}

fn rows(s: &str, mode: &str, n: usize, budget: u32, m: &Scale) -> Vec<Row> {
    let suffix = if mode == "fixed" {
        ", SESH_POLL_MODE=fixed"
    } else {
        ""
    };
    let secs = m.window_s;
    let gap_s = |ms: i64| ms as f64 / 1000.0;
    let b = m.boundary_ms;
    let ratio = match (b, m.spread) {
        (Some(b), Some(spread)) if spread.median_ms > 0 => Some(b.p99 / spread.median_ms as f64),
        _ => None,
    };
    vec![
        sesh_row(
            s,
            &format!("Spotify calls/s, {n} playing sessions{suffix}"),
            "/s",
            Some(m.calls as f64 / secs),
        )
        // A request in flight at each edge of the window may be counted: allow two.
        .target(
            &format!("≤ budget {budget}/s (± 2 calls at the window edges)"),
            Target::AtMost(f64::from(budget) + 2.0 / secs),
        ),
        sesh_row(
            s,
            &format!("of them polls (GET /v1/me/player)/s{suffix}"),
            "/s",
            Some(m.by_endpoint.get("GET /v1/me/player").copied().unwrap_or(0) as f64 / secs),
        ),
        sesh_row(
            s,
            &format!("polls per session-minute under the budget{suffix}"),
            "/min",
            Some(
                m.by_endpoint.get("GET /v1/me/player").copied().unwrap_or(0) as f64 * 60.0
                    / secs
                    / n as f64,
            ),
        ),
        sesh_row(
            s,
            &format!("429 answers from Spotify{suffix}"),
            "count",
            Some(m.http_429 as f64),
        )
        .target("0", Target::Equals(0.0)),
        sesh_row(
            s,
            &format!("rate_limited statuses sent to members{suffix}"),
            "count",
            Some(m.rate_limited_frames as f64),
        )
        .target("0", Target::Equals(0.0)),
        sesh_row(
            s,
            &format!("sessions never polled in the {secs:.0} s window{suffix}"),
            "count",
            Some(m.never_polled as f64),
        )
        .target("0 (no starvation)", Target::Equals(0.0)),
        sesh_row(
            s,
            &format!("each session's longest gap between polls, median{suffix}"),
            "s",
            m.spread.map(|g| gap_s(g.median_ms)),
        ),
        sesh_row(
            s,
            &format!("each session's longest gap between polls, max{suffix}"),
            "s",
            m.spread.map(|g| gap_s(g.max_ms)),
        ),
        sesh_row(
            s,
            &format!("spread of staleness (max / median longest gap){suffix}"),
            "×",
            m.spread.and_then(|g| g.ratio),
        )
        .target("≤ 2 (even)", Target::AtMost(2.0)),
        reported(sesh_row(
            s,
            &format!("natural track change seen after the true boundary, p50{suffix}"),
            "ms",
            b.map(|b| b.p50),
        )),
        reported(sesh_row(
            s,
            &format!("natural track change seen after the true boundary, p99{suffix}"),
            "ms",
            b.map(|b| b.p99),
        )),
        sesh_row(
            s,
            &format!(
                "boundaries timed (of them unseen by the window's end: {}){suffix}",
                m.boundaries_unseen
            ),
            "count",
            b.map(|b| b.n as f64),
        ),
        reported(sesh_row(
            s,
            &format!("boundary p99 / median longest gap (< 1: boundary polls go first){suffix}"),
            "×",
            ratio,
        )),
    ]
}

/// `sessions`: many playing sessions against a Sesh with a default-sized budget
/// (`--sessions-budget`), predictive polling, and with `--sessions-fixed` fixed polling too.
pub async fn sessions(env: &mut Env) {
    let s = "sessions";
    let n = env.sizes.sessions;
    let budget = env.sessions_budget;
    let modes: &[&str] = if env.sizes.sessions_fixed {
        &["predictive", "fixed"]
    } else {
        &["predictive"]
    };
    let budget_var = [("SESH_SPOTIFY_BUDGET", budget.to_string())];
    for (mode, location) in per_mode(&env.location, modes, &budget_var) {
        match measure(&location, n, budget, env.sizes.window(), env.client_procs).await {
            Ok(m) => {
                env.detail(
                    format!("{s}/sesh-{mode}"),
                    json!({ "sessions": n, "budget_per_s": budget, "measured": m }),
                );
                if m.calls == 0 {
                    env.fail(format!(
                        "{s}/sesh {mode}: no Spotify call seen in the window"
                    ));
                }
                env.rows(rows(s, mode, n, budget, &m));
            }
            Err(err) => env.fail(format!("{s}/sesh {mode}: {err:#}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_lets_every_session_be_polled_three_times() {
        let s = Duration::from_secs;
        // 2,000 sessions at 20/s: 100 s per rotation.
        assert_eq!(timing(2_000, 20, s(15)), (s(100), s(300), s(100)));
        // --quick: 40 sessions, a 2 s window asked for.
        assert_eq!(timing(40, 20, s(2)), (s(3), s(6), s(2)));
    }
}
