//! Sesh-only scenarios about Spotify: Start latency and Spotify calls per session-minute
//! (playing, paused, nobody connected; at 1 and at 100 members). The shared request budget
//! under many sessions is in [`super::polling`]. Baselines have no Spotify, so no columns
//! for them.

use super::Env;
use super::fanout::{Tracker, drain};
use crate::client::ClientPool;
use crate::frame::now_us;
use crate::report::{Row, Target};
use crate::sesh::{LiveSession, SeshApi, SeshLocation, SeshTarget};
use crate::stats::Summary;
use crate::target::ServerKind;
use serde_json::{Value, json};
use std::time::Duration;

fn sesh_row(scenario: &str, metric: &str, unit: &str, value: Option<f64>) -> Row {
    Row::new(scenario, metric, unit, &[(ServerKind::Sesh, value)])
}

/// Opens a socket for every member of `session` (host first); returns the pool and the
/// ids of sockets that failed.
async fn connect(
    sesh: &SeshTarget,
    session: &LiveSession,
) -> anyhow::Result<(ClientPool, Vec<u32>, usize)> {
    let users: Vec<usize> = std::iter::once(session.host)
        .chain(session.guests.iter().copied())
        .collect();
    let mut pool = ClientPool::spawn(users.len(), 1).await?;
    let specs = users
        .iter()
        .map(|u| sesh.ws_spec(pool.next_id(), &session.id, *u))
        .collect();
    let outcome = pool.open(specs, None, 64, Duration::from_secs(60)).await?;
    if outcome.failed > 0 {
        anyhow::bail!(
            "{} sockets failed to open: {:?}",
            outcome.failed,
            outcome.errors
        );
    }
    Ok((pool, outcome.failed_ids, users.len()))
}

/// `start`: latency of `POST /api/sessions/{id}/start` for a session of N members, and
/// until every member has seen the first track.
pub async fn start(env: &mut Env) {
    let s = "start";
    let (n, runs) = (env.sizes.start_members, env.sizes.start_runs);
    let result: anyhow::Result<(Vec<f64>, Vec<f64>)> = async {
        let sesh = env.sesh().await?;
        sesh.ensure_users(n).await?;
        let (mut http_ms, mut all_see_ms) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let sessions = sesh.setup_sessions(vec![(0, (1..n).collect())], n).await?;
            sesh.prefetch_devices(&sessions).await?;
            let (mut pool, dead, members) = connect(sesh, &sessions[0]).await?;
            let mut tracker = Tracker::new(vec![0; members], 1, &dead);
            tracker.arm(0, now_us());
            let latency = sesh.start_sessions(&sessions).await?;
            http_ms.extend(latency.iter().map(|d| d.as_secs_f64() * 1000.0));
            drain(&mut pool, &mut tracker, Duration::from_secs(15)).await;
            if tracker.missed > 0 {
                anyhow::bail!("{} members never saw the first track", tracker.missed);
            }
            if let Some(summary) = tracker.e2e() {
                all_see_ms.push(summary.max);
            }
            pool.close().await?;
            sesh.end_sessions(&sessions).await?;
        }
        Ok((http_ms, all_see_ms))
    }
    .await;
    match result {
        Ok((mut http_ms, mut all_see_ms)) => {
            let http = Summary::of(&mut http_ms);
            let all_see = Summary::of(&mut all_see_ms);
            env.detail(format!("{s}/sesh"), json!({ "members": n, "runs": runs, "start_http_ms": http, "all_members_see_first_track_ms": all_see }));
            env.rows([
                sesh_row(
                    s,
                    &format!("POST start, {n} members, p50 of {runs}"),
                    "ms",
                    http.map(|s| s.p50),
                ),
                sesh_row(
                    s,
                    &format!("POST start, {n} members, max of {runs}"),
                    "ms",
                    http.map(|s| s.max),
                )
                .target("≤ 100 ms", Target::AtMost(100.0)),
                sesh_row(
                    s,
                    "start → all members see the first track (max)",
                    "ms",
                    all_see.map(|s| s.max),
                ),
            ]);
        }
        Err(err) => env.fail(format!("{s}/sesh: {err:#}")),
    }
}

/// Web API calls (paths under `/v1`) in the emulator's request log, and how many of
/// them were answered 429. The log lists recent requests with `method`, `path`, `status`.
pub(super) fn web_api_calls(log: &Value) -> (u64, u64) {
    let mut calls = (0, 0);
    let entries = log.get("requests").and_then(Value::as_array);
    for entry in entries.into_iter().flatten() {
        let path = entry.get("path").and_then(Value::as_str).unwrap_or("");
        if path.starts_with("/v1") {
            calls.0 += 1;
            if entry.get("status").and_then(Value::as_u64) == Some(429) {
                calls.1 += 1;
            }
        }
    }
    calls
}

/// Web API calls made during `window`, in total and on behalf of each of `users`.
async fn calls_in(
    api: &SeshApi,
    window: Duration,
    users: &[String],
) -> anyhow::Result<((u64, u64), Vec<u64>)> {
    api.reset_emulator_requests().await?;
    tokio::time::sleep(window).await;
    let total = web_api_calls(&api.emulator_requests(None).await?);
    let mut per_user = Vec::with_capacity(users.len());
    for user in users {
        per_user.push(web_api_calls(&api.emulator_requests(Some(user)).await?).0);
    }
    Ok((total, per_user))
}

/// Calls per minute in each state, for one session size.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
struct Calls {
    playing: f64,
    paused: f64,
    nobody: f64,
}

/// Measures sessions of each size side by side (the emulator logs each call with the
/// user it was made for, so every session's calls are counted apart): playing, then
/// paused, then playing with nobody connected.
async fn calls_for(
    sesh: &mut SeshTarget,
    sizes: &[usize],
    window: Duration,
) -> anyhow::Result<Vec<Calls>> {
    let mut groups = Vec::new();
    let mut next_user = 0;
    for size in sizes {
        groups.push((
            next_user,
            ((next_user + 1)..(next_user + size)).collect::<Vec<_>>(),
        ));
        next_user += size;
    }
    sesh.ensure_users(next_user).await?;
    let sessions = sesh.setup_sessions(groups, 2).await?;
    let mut pool = ClientPool::spawn(next_user, 1).await?;
    let mut specs = Vec::new();
    let mut room_of = Vec::new();
    for (room, session) in sessions.iter().enumerate() {
        for user in std::iter::once(session.host).chain(session.guests.iter().copied()) {
            specs.push(sesh.ws_spec(pool.next_id(), &session.id, user));
            room_of.push(room as u32);
        }
    }
    let outcome = pool.open(specs, None, 64, Duration::from_secs(60)).await?;
    if outcome.failed > 0 {
        anyhow::bail!(
            "{} sockets failed to open: {:?}",
            outcome.failed,
            outcome.errors
        );
    }
    let mut first = Tracker::new(room_of, sessions.len(), &outcome.failed_ids);
    let at = now_us();
    (0..sessions.len()).for_each(|room| first.arm(room, at));
    sesh.start_sessions(&sessions).await?;
    drain(&mut pool, &mut first, Duration::from_secs(15)).await;

    let hosts: Vec<String> = sessions
        .iter()
        .map(|s| SeshTarget::user_name(s.host))
        .collect();
    let api = sesh.api.clone();
    let per_minute = |calls: u64| calls as f64 * 60.0 / window.as_secs_f64();
    let mut result = vec![Calls::default(); sessions.len()];

    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, playing) = calls_in(&api, window, &hosts).await?;
    for host in &hosts {
        api.emulator_player(host, "pause").await?;
    }
    // Let each poller notice the pause and fall back to its paused interval: predictive
    // polling sees it within its watch interval (5 s), then watches closely for 5 s more.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let (_, paused) = calls_in(&api, window, &hosts).await?;
    for host in &hosts {
        api.emulator_player(host, "resume").await?;
    }
    pool.close().await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, nobody) = calls_in(&api, window, &hosts).await?;
    for (i, calls) in result.iter_mut().enumerate() {
        *calls = Calls {
            playing: per_minute(playing[i]),
            paused: per_minute(paused[i]),
            nobody: per_minute(nobody[i]),
        };
    }
    sesh.end_sessions(&sessions).await?;
    Ok(result)
}

/// `calls`: Spotify calls per session-minute, with Sesh's default (predictive) polling and,
/// side by side in the same run, a second Sesh started with `SESH_POLL_MODE=fixed` (the
/// poller before issue 21) when the bench starts Sesh itself.
pub async fn calls(env: &mut Env) {
    let s = "calls";
    let sizes = env.sizes.calls_sizes.clone();
    let window = Duration::from_secs_f64(env.sizes.calls_window_s);
    let result = async { calls_for(env.sesh().await?, &sizes, window).await }.await;
    let measured = match result {
        Ok(measured) => measured,
        Err(err) => return env.fail(format!("{s}/sesh: {err:#}")),
    };
    let fixed = match &env.location {
        SeshLocation::Spawn(options) => {
            let mut options = options.clone();
            options.sesh_env.retain(|(k, _)| k != "SESH_POLL_MODE");
            options
                .sesh_env
                .push(("SESH_POLL_MODE".into(), "fixed".into()));
            let location = SeshLocation::Spawn(options);
            let result = async {
                let mut sesh = SeshTarget::open(&location).await?;
                calls_for(&mut sesh, &sizes, window).await
            }
            .await;
            match result {
                Ok(fixed) => Some(fixed),
                Err(err) => return env.fail(format!("{s}/sesh fixed: {err:#}")),
            }
        }
        _ => None,
    };
    for (i, (members, c)) in sizes.iter().zip(&measured).enumerate() {
        env.detail(
            format!("{s}/sesh/{members}"),
            serde_json::to_value(c).unwrap_or_default(),
        );
        let fixed = fixed.as_ref().and_then(|f| f.get(i));
        if let Some(f) = fixed {
            env.detail(
                format!("{s}/sesh-fixed/{members}"),
                serde_json::to_value(f).unwrap_or_default(),
            );
        }
        env.rows([
            sesh_row(
                s,
                &format!("playing, {members} member(s)"),
                "/min",
                Some(c.playing),
            )
            .target("≤ 15", Target::AtMost(15.0)),
            sesh_row(
                s,
                &format!("playing, {members} member(s), SESH_POLL_MODE=fixed"),
                "/min",
                fixed.map(|f| f.playing),
            ),
            sesh_row(
                s,
                &format!("paused, {members} member(s)"),
                "/min",
                Some(c.paused),
            )
            .target("≤ 12", Target::AtMost(12.0)),
            sesh_row(
                s,
                &format!("paused, {members} member(s), SESH_POLL_MODE=fixed"),
                "/min",
                fixed.map(|f| f.paused),
            ),
            sesh_row(
                s,
                &format!("nobody connected ({members} member(s))"),
                "/min",
                Some(c.nobody),
            )
            .target("≤ 1", Target::AtMost(1.0)),
        ]);
    }
    if measured.iter().all(|c| c.playing == 0.0) {
        env.fail(format!("{s}/sesh: no Spotify call seen while playing"));
    }
    if let ([small, large], [a, b]) = (&sizes[..], &measured[..]) {
        // Identical up to one call per window (the count's own granularity), and the
        // boundaries each window happens to hold.
        let tolerance = 2.0 * 60.0 / window.as_secs_f64();
        let diff = [
            a.playing - b.playing,
            a.paused - b.paused,
            a.nobody - b.nobody,
        ]
        .into_iter()
        .map(f64::abs)
        .fold(0.0, f64::max);
        env.rows([sesh_row(
            s,
            &format!("largest difference {large} vs {small} members"),
            "/min",
            Some(diff),
        )
        .target(
            &format!("≤ {tolerance:.0} (two calls per window)"),
            Target::AtMost(tolerance),
        )]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_web_api_calls_and_429s() {
        let log = json!({ "requests": [
            { "method": "GET", "path": "/v1/me/player", "status": 200 },
            { "method": "GET", "path": "/v1/me/player", "status": 429 },
            { "method": "POST", "path": "/api/token", "status": 200 },
        ]});
        assert_eq!(web_api_calls(&log), (2, 1));
        assert_eq!(web_api_calls(&json!({ "total": 5 })), (0, 0));
        assert_eq!(web_api_calls(&json!({})), (0, 0));
    }
}
