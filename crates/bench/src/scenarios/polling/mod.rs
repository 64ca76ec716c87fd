//! Sesh-only scenarios about the host-player poller (issue 21) and its app-wide request budget:
//! `quality` (how many playing sessions the default budget serves with changes seen in time),
//! `sessions` (2,000 playing sessions: calls within the budget, no starvation, even staleness)
//! and `poll-cpu` (server CPU per poll). Each starts its own Sesh; side by side in one run, a
//! second one with `SESH_POLL_MODE=fixed` (the poller before issue 21) where the scenario says.

mod cpu;
mod quality;
mod scale;
mod staleness;

pub use cpu::poll_cpu;
pub use quality::quality;
pub use scale::sessions;

use super::fanout::{Tracker, drain};
use crate::client::ClientPool;
use crate::frame::now_us;
use crate::report::Row;
use crate::sesh::{LiveSession, SeshLocation, SeshTarget};
use crate::target::ServerKind;
use std::collections::BTreeMap;
use std::time::Duration;

/// Web API calls in the emulator's request log by `"METHOD path"` (a path's ids and all).
fn calls_by_endpoint(log: &serde_json::Value) -> BTreeMap<String, u64> {
    let mut calls = BTreeMap::new();
    let entries = log.get("requests").and_then(serde_json::Value::as_array);
    for entry in entries.into_iter().flatten() {
        let field = |name| entry.get(name).and_then(serde_json::Value::as_str);
        if let (Some(method), Some(path)) = (field("method"), field("path"))
            && path.starts_with("/v1")
        {
            *calls.entry(format!("{method} {path}")).or_insert(0) += 1;
        }
    }
    calls
}

fn sesh_row(scenario: &str, metric: &str, unit: &str, value: Option<f64>) -> Row {
    Row::new(scenario, metric, unit, &[(ServerKind::Sesh, value)])
}

/// `location` with `vars` set in the environment of the Sesh it starts; a running Sesh is
/// used as it is.
fn with_env(location: &SeshLocation, vars: &[(&str, String)]) -> SeshLocation {
    match location {
        SeshLocation::Spawn(options) => {
            let mut options = options.clone();
            options
                .sesh_env
                .retain(|(k, _)| !vars.iter().any(|(name, _)| name == k));
            options
                .sesh_env
                .extend(vars.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
            SeshLocation::Spawn(options)
        }
        running => running.clone(),
    }
}

/// The poll modes to compare, each with the Sesh to measure it on: a Sesh started by the
/// bench in each of `modes` (with `vars` too); a running Sesh once, as it is configured.
fn per_mode(
    location: &SeshLocation,
    modes: &[&'static str],
    vars: &[(&str, String)],
) -> Vec<(&'static str, SeshLocation)> {
    match location {
        SeshLocation::Spawn(_) => modes
            .iter()
            .map(|mode| {
                let mut vars = vars.to_vec();
                vars.push(("SESH_POLL_MODE", (*mode).to_owned()));
                (*mode, with_env(location, &vars))
            })
            .collect(),
        running => vec![("as configured", running.clone())],
    }
}

/// `n` playing sessions, each with its host connected (socket `i` is session `i`'s host).
struct Playing {
    sessions: Vec<LiveSession>,
    pool: ClientPool,
    /// Room of each socket (`room_of[i] = i`), for [`Tracker`]s.
    room_of: Vec<u32>,
    /// Emulator user id of each session's host.
    hosts: Vec<String>,
    /// Hosts that had not seen their first track within the wait.
    first_track_missed: usize,
}

impl Playing {
    /// Fails when a host never saw the first track (what the scenarios time would be wrong).
    fn all_started(&self) -> anyhow::Result<()> {
        if self.first_track_missed > 0 {
            anyhow::bail!(
                "{} hosts never saw the first track",
                self.first_track_missed
            );
        }
        Ok(())
    }
}

/// Sets up `n` sessions of one member (the host), connects each host's socket, starts them all
/// and waits up to `first_track` for every host to see the first track.
async fn playing(
    sesh: &mut SeshTarget,
    n: usize,
    procs: usize,
    first_track: Duration,
) -> anyhow::Result<Playing> {
    sesh.ensure_users(n).await?;
    let sessions = sesh
        .setup_sessions((0..n).map(|h| (h, Vec::new())).collect(), 2)
        .await?;
    let mut pool = ClientPool::spawn(n, procs).await?;
    let specs = sessions
        .iter()
        .map(|session| sesh.ws_spec(pool.next_id(), &session.id, session.host))
        .collect();
    let outcome = pool
        .open(specs, None, 256, Duration::from_secs(120))
        .await?;
    if outcome.failed > 0 {
        anyhow::bail!("{} sockets failed: {:?}", outcome.failed, outcome.errors);
    }
    let room_of: Vec<u32> = (0..n as u32).collect();
    let mut first = Tracker::new(room_of.clone(), n, &[]);
    let at = now_us();
    (0..n).for_each(|room| first.arm(room, at));
    sesh.start_sessions(&sessions).await?;
    drain(&mut pool, &mut first, first_track).await;
    let hosts = sessions
        .iter()
        .map(|s| SeshTarget::user_name(s.host))
        .collect();
    Ok(Playing {
        sessions,
        pool,
        room_of,
        hosts,
        first_track_missed: first.missed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_api_calls_by_endpoint() {
        let log = serde_json::json!({ "requests": [
            { "method": "GET", "path": "/v1/me/player", "status": 200 },
            { "method": "GET", "path": "/v1/me/player", "status": 429 },
            { "method": "POST", "path": "/v1/me/player/queue", "status": 204 },
            { "method": "POST", "path": "/api/token", "status": 200 },
        ]});
        let calls = calls_by_endpoint(&log);
        assert_eq!(calls.get("GET /v1/me/player"), Some(&2));
        assert_eq!(calls.get("POST /v1/me/player/queue"), Some(&1));
        assert_eq!(calls.len(), 2);
    }
}
