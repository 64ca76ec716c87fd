//! `quality`: N playing sessions against a Sesh with the default budget (20 requests/s), in
//! each poll mode: how late members see a natural track change (after the true boundary, in
//! the emulator's clock) and a change made in the host's own Spotify app, and whether both
//! stay within the issue's bounds (boundary p99 ≤ 1 s, app change p99 ≤ watch interval + 1 s).

use super::super::Env;
use super::super::fanout::Tracker;
use super::super::spotify::web_api_calls;
use super::staleness::spread_plan;
use super::{Playing, calls_by_endpoint, per_mode, playing, sesh_row};
use crate::frame::now_us;
use crate::report::{Row, Target};
use crate::sesh::{SeshApi, SeshLocation, SeshTarget};
use crate::stats::Summary;
use anyhow::Context as _;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Boundary p99 bound: a natural track change seen at most this long after the true end.
const BOUNDARY_P99_MS: f64 = 1_000.0;
/// App change p99 bound: the default watch interval (5 s) + 1 s.
const APP_CHANGE_P99_MS: f64 = 6_000.0;
/// How long after the last expected change the scenario still waits for receipts: longer than
/// a watch interval, and than a poll round of fixed mode over the budget (N / budget s).
const DRAIN: Duration = Duration::from_secs(20);
/// After the start: the start's close watch (5 s of 1 s polls) is over and every poller has
/// settled into its routine.
const SETTLE: Duration = Duration::from_secs(6);

/// What one Sesh measured.
#[derive(Debug, serde::Serialize)]
struct Quality {
    boundary_ms: Option<Summary>,
    boundary_missed: usize,
    boundary_calls_per_s: f64,
    /// Web API calls of the boundary phase per endpoint.
    boundary_calls: std::collections::BTreeMap<String, u64>,
    app_change_ms: Option<Summary>,
    app_change_missed: usize,
    app_change_calls_per_s: f64,
    /// Web API calls of the app change phase per endpoint.
    app_change_calls: std::collections::BTreeMap<String, u64>,
    http_429: u64,
}

impl Quality {
    /// Whether every change was seen within the issue's bounds.
    fn at_quality(&self) -> bool {
        let within = |s: Option<Summary>, bound| s.is_some_and(|s| s.p99 <= bound);
        self.boundary_missed == 0
            && self.app_change_missed == 0
            && within(self.boundary_ms, BOUNDARY_P99_MS)
            && within(self.app_change_ms, APP_CHANGE_P99_MS)
    }
}

/// Moves `session`'s track to `lead_ms` before its end with Sesh's own seek (so Sesh knows the
/// position from its own command); returns when the track really ends (µs, emulator clock).
async fn seek_near_end(
    api: SeshApi,
    cookie: String,
    session: String,
    host: String,
    lead_ms: u64,
) -> anyhow::Result<i64> {
    let before = api.emulator_player_state(&host).await?;
    let position = before.duration_ms.saturating_sub(lead_ms);
    api.seek(&cookie, &session, position).await?;
    // The seek has reached Spotify when Sesh answers; read back where it landed (a few tries
    // in case the emulator's answer raced the command).
    for _ in 0..20 {
        let after = api.emulator_player_state(&host).await?;
        let end = after.ends_at_ms().context("not playing after the seek")?;
        if after.duration_ms.saturating_sub(after.position_ms) <= lead_ms + 2_000 {
            return Ok(end * 1_000);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("{host}'s player did not move to the seek position")
}

/// Where a change is timed from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TimedFrom {
    /// The moment the driver issues it (a change in the host's own Spotify app).
    Issue,
    /// The moment its action answers (a track's true end after a seek).
    Answer,
}

/// Runs `change(room)` for each room at its moment of `plan` (offsets from now) and times each
/// host's receipt of the next track from `from`; waits `DRAIN` past the last expected change.
async fn run_plan<F, Fut>(
    playing: &mut Playing,
    plan: &[(Duration, usize)],
    from: TimedFrom,
    change: F,
) -> anyhow::Result<Tracker>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<i64>> + Send + 'static,
{
    let n = plan.len();
    let mut tracker = Tracker::new(playing.room_of.clone(), playing.sessions.len(), &[]);
    playing.pool.discard_events();
    let (done_tx, mut done) = mpsc::channel::<(usize, anyhow::Result<i64>)>(n.max(1));
    let start = Instant::now();
    let far = start + Duration::from_secs(24 * 3600);
    let (mut fired, mut answered, mut last_us) = (0, 0, now_us());
    let mut deadline = far;
    while !(answered == n && tracker.outstanding() == 0) {
        let due = plan.get(fired).map_or(far, |(at, _)| start + *at);
        tokio::select! {
            () = tokio::time::sleep_until(due), if fired < n => {
                let room = plan[fired].1;
                if from == TimedFrom::Issue {
                    tracker.arm(room, now_us());
                }
                let (task, done_tx) = (change(room), done_tx.clone());
                tokio::spawn(async move {
                    let _ = done_tx.send((room, task.await)).await;
                });
                fired += 1;
            }
            Some((room, at)) = done.recv() => {
                let at_us = at?;
                match from {
                    TimedFrom::Issue => tracker.reissued(room, at_us),
                    TimedFrom::Answer => tracker.arm(room, at_us),
                }
                last_us = last_us.max(at_us);
                answered += 1;
                if answered == n {
                    let until_last = u64::try_from(last_us - now_us()).unwrap_or(0);
                    deadline = Instant::now() + Duration::from_micros(until_last) + DRAIN;
                }
            }
            event = playing.pool.next_event(deadline) => match event {
                Some(report) => tracker.on_report(report),
                None => break,
            },
        }
    }
    tracker.finish();
    Ok(tracker)
}

/// Web API calls per second since the emulator's log was reset `since`, the 429s, and the
/// calls per endpoint.
async fn calls_since(
    api: &SeshApi,
    since: Instant,
) -> anyhow::Result<(f64, u64, BTreeMap<String, u64>)> {
    let log = api.emulator_requests(None).await?;
    let (calls, too_many) = web_api_calls(&log);
    let per_s = calls as f64 / since.elapsed().as_secs_f64();
    Ok((per_s, too_many, calls_by_endpoint(&log)))
}

async fn measure(
    location: &SeshLocation,
    n: usize,
    procs: usize,
    spread: Duration,
    lead: Duration,
) -> anyhow::Result<Quality> {
    let mut sesh = SeshTarget::open(location).await?;
    let mut playing = playing(&mut sesh, n, procs, Duration::from_secs(30)).await?;
    playing.all_started()?;
    tokio::time::sleep(SETTLE).await;

    // Natural boundaries: each host seeks (through Sesh) to `lead` before the end at a random
    // moment of the spread; timed from the true end.
    sesh.api.reset_emulator_requests().await?;
    let phase = Instant::now();
    let lead_ms = lead.as_millis() as u64;
    let plan = spread_plan(n, spread, 21);
    let (api, sessions, hosts) = (&sesh.api, &playing.sessions, &playing.hosts);
    let seeks: Vec<_> = (0..n)
        .map(|room| {
            let cookie = sesh.cookie(sessions[room].host).to_owned();
            (
                api.clone(),
                cookie,
                sessions[room].id.clone(),
                hosts[room].clone(),
            )
        })
        .collect();
    let boundary = run_plan(&mut playing, &plan, TimedFrom::Answer, |room| {
        let (api, cookie, session, host) = seeks[room].clone();
        seek_near_end(api, cookie, session, host, lead_ms)
    })
    .await?;
    let (boundary_calls_per_s, boundary_429, boundary_calls) =
        calls_since(&sesh.api, phase).await?;

    // Every poller back to its routine after the boundary (and its close watch); then each
    // host presses Next in their own Spotify app at a random moment of the spread.
    tokio::time::sleep(Duration::from_secs(6)).await;
    sesh.api.reset_emulator_requests().await?;
    let phase = Instant::now();
    let plan = spread_plan(n, spread, 22);
    let api = sesh.api.clone();
    let hosts = playing.hosts.clone();
    let app = run_plan(&mut playing, &plan, TimedFrom::Issue, |room| {
        let (api, host) = (api.clone(), hosts[room].clone());
        async move {
            let issued = now_us();
            api.emulator_player(&host, "next").await?;
            Ok(issued)
        }
    })
    .await?;
    let (app_change_calls_per_s, app_429, app_change_calls) = calls_since(&sesh.api, phase).await?;

    playing.pool.close().await?;
    sesh.end_sessions(&playing.sessions).await?;
    Ok(Quality {
        boundary_ms: boundary.e2e(),
        boundary_missed: boundary.missed,
        boundary_calls_per_s,
        boundary_calls,
        app_change_ms: app.e2e(),
        app_change_missed: app.missed,
        app_change_calls_per_s,
        app_change_calls,
        http_429: boundary_429 + app_429,
    })
}

fn rows(s: &str, mode: &str, n: usize, budget: u32, q: &Quality) -> Vec<Row> {
    let judged = mode != "fixed";
    let suffix = if judged {
        String::new()
    } else {
        ", SESH_POLL_MODE=fixed".to_owned()
    };
    let target = |row: Row, text: &str, target: Target| {
        if judged {
            row.target(text, target)
        } else {
            row
        }
    };
    let b = q.boundary_ms;
    let a = q.app_change_ms;
    vec![
        sesh_row(
            s,
            &format!(
                "natural track change seen after the true boundary, p50 ({n} sessions{suffix})"
            ),
            "ms",
            b.map(|s| s.p50),
        ),
        target(
            sesh_row(
                s,
                &format!(
                    "natural track change seen after the true boundary, p99 ({n} sessions{suffix})"
                ),
                "ms",
                b.map(|s| s.p99),
            ),
            "≤ 1 s",
            Target::AtMost(BOUNDARY_P99_MS),
        ),
        sesh_row(
            s,
            &format!(
                "natural track change seen after the true boundary, max ({n} sessions{suffix})"
            ),
            "ms",
            b.map(|s| s.max),
        ),
        sesh_row(
            s,
            &format!("change in the Spotify app seen, p50 ({n} sessions{suffix})"),
            "ms",
            a.map(|s| s.p50),
        ),
        target(
            sesh_row(
                s,
                &format!("change in the Spotify app seen, p99 ({n} sessions{suffix})"),
                "ms",
                a.map(|s| s.p99),
            ),
            "≤ the watch interval + 1 s (6 s)",
            Target::AtMost(APP_CHANGE_P99_MS),
        ),
        sesh_row(
            s,
            &format!("change in the Spotify app seen, max ({n} sessions{suffix})"),
            "ms",
            a.map(|s| s.max),
        ),
        target(
            sesh_row(
                s,
                &format!("changes never seen ({suffix_n} expected)", suffix_n = 2 * n),
                "count",
                Some((q.boundary_missed + q.app_change_missed) as f64),
            ),
            "0",
            Target::Equals(0.0),
        ),
        sesh_row(
            s,
            &format!("Spotify calls/s, boundary phase{suffix}"),
            "/s",
            Some(q.boundary_calls_per_s),
        ),
        sesh_row(
            s,
            &format!("Spotify calls/s, app change phase{suffix}"),
            "/s",
            Some(q.app_change_calls_per_s),
        ),
        target(
            sesh_row(
                s,
                &format!("429 answers from Spotify{suffix}"),
                "count",
                Some(q.http_429 as f64),
            ),
            "0",
            Target::Equals(0.0),
        ),
        target(
            sesh_row(
                s,
                &format!(
                    "sessions served at quality (boundary p99 ≤ 1 s, app change p99 ≤ 6 s), budget {budget}/s{suffix}: {n} tried, 0 = missed"
                ),
                "sessions",
                Some(if q.at_quality() { n as f64 } else { 0.0 }),
            ),
            "≥ 80 (from ~20)",
            Target::AtLeast(80.0),
        ),
    ]
}

/// `quality`: the sessions a budget of `--sessions-budget` (default 20/s) serves at the issue's
/// quality, with predictive polling and, when the bench starts Sesh, with fixed polling.
pub async fn quality(env: &mut Env) {
    let s = "quality";
    let n = env.sizes.quality_sessions;
    let budget = env.sessions_budget;
    let spread = Duration::from_secs_f64(env.sizes.quality_spread_s);
    let lead = Duration::from_secs_f64(env.sizes.quality_lead_s);
    let modes: &[&str] = if env.sizes.quality_fixed {
        &["predictive", "fixed"]
    } else {
        &["predictive"]
    };
    let budget_var = [("SESH_SPOTIFY_BUDGET", budget.to_string())];
    for (mode, location) in per_mode(&env.location, modes, &budget_var) {
        match measure(&location, n, env.client_procs, spread, lead).await {
            Ok(q) => {
                env.detail(
                    format!("{s}/sesh-{mode}"),
                    json!({ "sessions": n, "budget_per_s": budget, "spread_s": spread.as_secs_f64(), "lead_s": lead.as_secs_f64(), "measured": q }),
                );
                env.rows(rows(s, mode, n, budget, &q));
            }
            Err(err) => env.fail(format!("{s}/sesh {mode}: {err:#}")),
        }
    }
}
