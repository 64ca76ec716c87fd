//! `poll-cpu`: server CPU per poll, and idle CPU with N playing sessions (one idle member each)
//! in each poll mode. Fixed mode polls every session every second, so its polls dominate what
//! the server does; predictive mode is measured the same way beside it, and fixed mode once
//! more without the pollers' shared wake-up grid (`SESH_POLL_GRID=0ms`: each poll its own
//! wake-up, as before the grid), the baseline of the grid's saving.

use super::super::Env;
use super::{per_mode, playing, sesh_row, with_env};
use crate::procstat;
use crate::report::{Row, Target};
use crate::sesh::{SeshLocation, SeshTarget};
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

/// After the start: its close watch (5 s of 1 s polls) is over, every poller is in its routine.
const SETTLE: Duration = Duration::from_secs(6);

/// What one Sesh measured over the window.
#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Cpu {
    window_s: f64,
    cpu_s: f64,
    polls: u64,
    playback_frames: u64,
}

impl Cpu {
    fn per_poll_us(&self) -> Option<f64> {
        (self.polls > 0).then(|| self.cpu_s * 1e6 / self.polls as f64)
    }

    fn core_percent(&self) -> f64 {
        self.cpu_s * 100.0 / self.window_s
    }

    fn per_s(&self, count: u64) -> f64 {
        count as f64 / self.window_s
    }
}

/// The CPU one more poll costs: the two modes hold the same sessions, sockets and resyncs and
/// differ in their polls, so the difference in CPU per second over the difference in polls per
/// second leaves out what every session costs whether it is polled or not.
fn marginal_per_poll_us(more: &Cpu, fewer: &Cpu) -> Option<f64> {
    let polls = more.per_s(more.polls) - fewer.per_s(fewer.polls);
    let cpu = more.cpu_s / more.window_s - fewer.cpu_s / fewer.window_s;
    (polls > 0.0).then(|| cpu * 1e6 / polls)
}

async fn measure(
    location: &SeshLocation,
    n: usize,
    window: Duration,
    procs: usize,
) -> anyhow::Result<Cpu> {
    let mut sesh = SeshTarget::open(location).await?;
    let pid = sesh
        .pid
        .ok_or_else(|| anyhow::anyhow!("no server pid (pass --server-pid)"))?;
    let mut playing = playing(&mut sesh, n, procs, Duration::from_secs(30)).await?;
    playing.all_started()?;
    tokio::time::sleep(SETTLE).await;
    let frames_before = playing.pool.stats().await?.1.playback;
    sesh.api.reset_emulator_requests().await?;
    let cpu_before = procstat::cpu_seconds(pid)?;
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let cpu_s = procstat::cpu_seconds(pid)? - cpu_before;
    let window_s = started.elapsed().as_secs_f64();
    let polls = sesh.api.emulator_player_poll_total().await?;
    let playback_frames = playing.pool.stats().await?.1.playback - frames_before;
    playing.pool.close().await?;
    sesh.end_sessions(&playing.sessions).await?;
    Ok(Cpu {
        window_s,
        cpu_s,
        polls,
        playback_frames,
    })
}

fn rows(s: &str, mode: &str, n: usize, m: &Cpu) -> Vec<Row> {
    let label = match mode {
        "fixed" => "SESH_POLL_MODE=fixed".to_owned(),
        UNGRIDDED => "SESH_POLL_MODE=fixed SESH_POLL_GRID=0ms".to_owned(),
        "predictive" => "predictive (default)".to_owned(),
        other => other.to_owned(),
    };
    let per_poll = sesh_row(
        s,
        &format!("CPU per poll, {label}, {n} playing sessions"),
        "µs",
        m.per_poll_us(),
    );
    // Judged where polls dominate: fixed mode as configured by default (or a running Sesh,
    // whatever its mode).
    let per_poll = if mode == "predictive" || mode == UNGRIDDED {
        per_poll
    } else {
        per_poll.target("≤ 100 µs", Target::AtMost(100.0))
    };
    let mut idle = sesh_row(
        s,
        &format!("idle CPU, {label}, {n} playing sessions"),
        "% core",
        Some(m.core_percent()),
    );
    idle.target = Some("reported against today's (fixed)".to_owned());
    vec![
        per_poll,
        idle,
        sesh_row(
            s,
            &format!("polls/s, {label}"),
            "/s",
            Some(m.per_s(m.polls)),
        ),
        sesh_row(
            s,
            &format!("playback frames to members/s (resyncs), {label}"),
            "/s",
            Some(m.per_s(m.playback_frames)),
        ),
    ]
}

/// Fixed mode without the wake-up grid.
const UNGRIDDED: &str = "fixed-ungridded";

/// `poll-cpu`: when the bench starts Sesh, one in fixed mode without the wake-up grid, one in
/// fixed mode, one in predictive mode, N playing sessions each; a running Sesh once.
pub async fn poll_cpu(env: &mut Env) {
    let s = "poll-cpu";
    let n = env.sizes.poll_cpu_sessions;
    let window = Duration::from_secs_f64(env.sizes.poll_cpu_window_s);
    let mut measured = Vec::new();
    let mut runs = per_mode(&env.location, &["fixed", "predictive"], &[]);
    if let SeshLocation::Spawn(_) = env.location {
        let vars = [
            ("SESH_POLL_MODE", "fixed".to_owned()),
            ("SESH_POLL_GRID", "0ms".to_owned()),
        ];
        runs.insert(0, (UNGRIDDED, with_env(&env.location, &vars)));
    }
    for (mode, location) in runs {
        match measure(&location, n, window, env.client_procs).await {
            Ok(m) => {
                env.detail(
                    format!("{s}/sesh-{mode}"),
                    json!({ "sessions": n, "measured": m, "cpu_per_poll_us": m.per_poll_us() }),
                );
                env.rows(rows(s, mode, n, &m));
                measured.push((mode, m));
            }
            Err(err) => env.fail(format!("{s}/sesh {mode}: {err:#}")),
        }
    }
    let of = |name: &str| {
        measured
            .iter()
            .find(|(mode, _)| *mode == name)
            .map(|(_, m)| m)
    };
    if let (Some(ungridded), Some(fixed)) = (of(UNGRIDDED), of("fixed"))
        && let (Some(before), Some(after)) = (ungridded.per_poll_us(), fixed.per_poll_us())
    {
        env.rows([sesh_row(
            s,
            "CPU per poll, fixed mode, shared wake-up grid / none",
            "×",
            Some(after / before),
        )]);
    }
    if let (Some(fixed), Some(predictive)) = (of("fixed"), of("predictive"))
        && fixed.core_percent() > 0.0
    {
        env.rows([
            sesh_row(
                s,
                &format!("idle CPU, predictive / fixed, {n} playing sessions"),
                "×",
                Some(predictive.core_percent() / fixed.core_percent()),
            ),
            sesh_row(
                s,
                "CPU per poll net of what does not poll (fixed − predictive, per extra poll)",
                "µs",
                marginal_per_poll_us(fixed, predictive),
            ),
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extra_polls_carry_the_extra_cpu() {
        let fixed = Cpu {
            window_s: 30.0,
            cpu_s: 3.5,
            polls: 30_000,
            playback_frames: 2_000,
        };
        let predictive = Cpu {
            window_s: 30.0,
            cpu_s: 1.1,
            polls: 6_000,
            playback_frames: 2_000,
        };
        let net = marginal_per_poll_us(&fixed, &predictive).unwrap();
        assert!((net - 100.0).abs() < 1e-6, "{net}");
        assert!((fixed.per_poll_us().unwrap() - 116.666).abs() < 0.01);
        assert_eq!(marginal_per_poll_us(&predictive, &predictive), None);
    }
}
