//! Room scenarios: `members` (many sessions of 10) and `big-room` (one huge session).
//! Same clients, same triggers, against every server: idle memory, fan-out latency to
//! every member, CPU per delivery.

use super::fanout::{self, Tracker, drain};
use super::{Env, Server};
use crate::client::{ClientPool, ConnKind, ConnSpec, OpenOutcome};
use crate::frame::now_us;
use crate::procstat::Snapshot;
use crate::report::{Row, Target};
use crate::sesh::{LiveSession, SeshTarget};
use crate::stats::Summary;
use crate::target::{ServerKind, Trigger};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to measure in a room scenario.
struct Plan {
    rooms: usize,
    per_room: usize,
    bursts: usize,
    /// Staggered phase: period between a room's changes, and rounds.
    stagger: Option<(Duration, usize)>,
    /// Idle CPU window (members connected, nothing changing).
    idle: Option<Duration>,
}

/// What one server did in a room scenario.
#[derive(Default)]
struct Measure {
    outcome: OpenOutcome,
    connect_s: f64,
    rss_before: Option<u64>,
    /// After logins, sessions and joins, before any socket (Sesh's state without sockets).
    rss_setup: Option<u64>,
    rss_idle: Option<u64>,
    rss_max: Option<u64>,
    /// Sesh only: start → first track seen by each member.
    first_track: Option<Tracker>,
    burst: Tracker,
    burst_cpu_per_1000: Option<f64>,
    idle_cpu_per_s: Option<f64>,
    stagger: Option<Tracker>,
    stagger_cpu_per_1000: Option<f64>,
    stagger_cpu_net_per_1000: Option<f64>,
    stagger_deliveries: u64,
}

impl Measure {
    fn idle_bytes_per_member(&self) -> Option<f64> {
        let (before, idle) = (self.rss_before?, self.rss_idle?);
        (self.outcome.opened > 0)
            .then(|| (idle as f64 - before as f64) / self.outcome.opened as f64)
    }

    /// The part of [`idle_bytes_per_member`](Self::idle_bytes_per_member) already there
    /// before the sockets opened.
    fn setup_bytes_per_member(&self) -> Option<f64> {
        let (before, setup) = (self.rss_before?, self.rss_setup?);
        (self.outcome.opened > 0)
            .then(|| (setup as f64 - before as f64) / self.outcome.opened as f64)
    }
}

fn snapshot(pid: Option<u32>) -> Option<Snapshot> {
    pid.and_then(|pid| Snapshot::take(pid).ok())
}

fn cpu_per_1000(before: Option<Snapshot>, after: Option<Snapshot>, deliveries: u64) -> Option<f64> {
    let (before, after) = (before?, after?);
    (deliveries > 0).then(|| (after.cpu_s - before.cpu_s) * 1000.0 / deliveries as f64 * 1000.0)
}

async fn measure(env: &mut Env, kind: ServerKind, plan: &Plan) -> anyhow::Result<Measure> {
    let procs = env.client_procs;
    let total = plan.rooms * plan.per_room;
    let mut server = env.server(kind).await?;
    let pid = server.pid();
    // Let a freshly started process finish its start-up allocations.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut m = Measure {
        rss_before: snapshot(pid).map(|s| s.rss),
        ..Measure::default()
    };
    let mut pool = ClientPool::spawn(total, procs).await?;
    let mut specs: Vec<ConnSpec> = Vec::with_capacity(total);
    let mut room_of: Vec<u32> = Vec::with_capacity(total);
    let mut sessions: Vec<LiveSession> = Vec::new();
    let trigger = match &mut server {
        Server::Baseline(baseline) => {
            for room in 0..plan.rooms {
                for _ in 0..plan.per_room {
                    let id = pool.next_id();
                    specs.push(ConnSpec {
                        id,
                        kind: ConnKind::WebSocket,
                        url: baseline.room_url(room),
                        cookie: None,
                        origin: None,
                        join_url: None,
                    });
                    room_of.push(room as u32);
                }
            }
            baseline.trigger()
        }
        Server::Sesh(sesh) => {
            sesh.ensure_users(total).await?;
            let per = plan.per_room;
            let groups = (0..plan.rooms)
                .map(|r| (r * per, ((r * per + 1)..((r + 1) * per)).collect()))
                .collect();
            sessions = sesh.setup_sessions(groups, per).await?;
            for (room, session) in sessions.iter().enumerate() {
                for user in std::iter::once(session.host).chain(session.guests.iter().copied()) {
                    specs.push(sesh.ws_spec(pool.next_id(), &session.id, user));
                    room_of.push(room as u32);
                }
            }
            let hosts = sessions
                .iter()
                .map(|s| SeshTarget::user_name(s.host))
                .collect();
            Trigger::Sesh {
                api: sesh.api.clone(),
                hosts: Arc::new(hosts),
            }
        }
    };

    m.rss_setup = snapshot(pid).map(|s| s.rss);
    let started = Instant::now();
    let timeout = Duration::from_secs(120 + total as u64 / 50);
    m.outcome = pool.open(specs, None, 256, timeout).await?;
    m.connect_s = started.elapsed().as_secs_f64();
    tracing::info!(
        server = kind.name(),
        opened = m.outcome.opened,
        failed = m.outcome.failed,
        secs = m.connect_s,
        "connected"
    );
    if m.outcome.opened == 0 {
        anyhow::bail!("no socket opened: {:?}", m.outcome.errors);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    m.rss_idle = snapshot(pid).map(|s| s.rss);
    let dead = m.outcome.failed_ids.clone();

    if let Server::Sesh(sesh) = &mut server {
        let mut first = Tracker::new(room_of.clone(), plan.rooms, &dead);
        let at = now_us();
        (0..plan.rooms).for_each(|room| first.arm(room, at));
        sesh.start_sessions(&sessions).await?;
        drain(&mut pool, &mut first, Duration::from_secs(30)).await;
        m.first_track = Some(first);
    }

    // Bursts: every room changes at once.
    let burst_timeout = Duration::from_secs(if kind == ServerKind::Sesh { 30 } else { 20 });
    let mut burst = Tracker::new(room_of.clone(), plan.rooms, &dead);
    let (cpu_before, frames_before) = (snapshot(pid), pool.stats().await?.1.total);
    for _ in 0..plan.bursts {
        fanout::burst(&mut pool, &trigger, &mut burst, burst_timeout).await?;
    }
    let (cpu_after, frames_after) = (snapshot(pid), pool.stats().await?.1.total);
    m.burst_cpu_per_1000 = cpu_per_1000(cpu_before, cpu_after, frames_after - frames_before);
    m.burst = burst;

    if let Some(idle) = plan.idle {
        let before = snapshot(pid);
        tokio::time::sleep(idle).await;
        let after = snapshot(pid);
        if let (Some(before), Some(after)) = (before, after) {
            m.idle_cpu_per_s = Some((after.cpu_s - before.cpu_s) / idle.as_secs_f64());
        }
    }

    if let Some((period, rounds)) = plan.stagger {
        let mut stagger = Tracker::new(room_of.clone(), plan.rooms, &dead);
        let (cpu_before, frames_before) = (snapshot(pid), pool.stats().await?.1.total);
        let started = Instant::now();
        fanout::staggered(
            &mut pool,
            &trigger,
            &mut stagger,
            period,
            rounds,
            burst_timeout,
        )
        .await?;
        let secs = started.elapsed().as_secs_f64();
        let (cpu_after, frames_after) = (snapshot(pid), pool.stats().await?.1.total);
        m.stagger_deliveries = frames_after - frames_before;
        m.stagger_cpu_per_1000 = cpu_per_1000(cpu_before, cpu_after, m.stagger_deliveries);
        if let (Some(b), Some(a), Some(idle)) = (cpu_before, cpu_after, m.idle_cpu_per_s) {
            let net = (a.cpu_s - b.cpu_s - idle * secs).max(0.0);
            m.stagger_cpu_net_per_1000 = (m.stagger_deliveries > 0)
                .then(|| net * 1000.0 / m.stagger_deliveries as f64 * 1000.0);
        }
        m.stagger = Some(stagger);
    }
    m.rss_max = snapshot(pid).map(|s| s.rss.max(m.rss_idle.unwrap_or(0)));

    pool.close().await?;
    if let Server::Sesh(sesh) = &server {
        sesh.end_sessions(&sessions).await?;
    }
    Ok(m)
}

fn summary_json(s: Option<Summary>) -> serde_json::Value {
    serde_json::to_value(s).unwrap_or(serde_json::Value::Null)
}

fn details(kind: ServerKind, m: &Measure) -> serde_json::Value {
    json!({
        "server": kind.name(),
        "opened": m.outcome.opened,
        "failed": m.outcome.failed,
        "errors": m.outcome.errors,
        "connect_s": m.connect_s,
        "handshake_ms": summary_json(Summary::of(&mut m.outcome.welcome_ms.clone())),
        "rss_before": m.rss_before,
        "rss_setup": m.rss_setup,
        "rss_idle": m.rss_idle,
        "rss_max": m.rss_max,
        "first_track_e2e_ms": m.first_track.as_ref().map(|t| summary_json(t.e2e())),
        "first_track_missed": m.first_track.as_ref().map(|t| t.missed),
        "burst_detect_ms": summary_json(m.burst.detect()),
        "burst_e2e_ms": summary_json(m.burst.e2e()),
        "burst_missed": m.burst.missed,
        "burst_unsolicited": m.burst.unsolicited,
        "lost": m.burst.lost,
        "stagger_detect_ms": m.stagger.as_ref().map(|t| summary_json(t.detect())),
        "stagger_e2e_ms": m.stagger.as_ref().map(|t| summary_json(t.e2e())),
        "stagger_missed": m.stagger.as_ref().map(|t| t.missed),
        "stagger_deliveries": m.stagger_deliveries,
        "idle_cpu_per_s": m.idle_cpu_per_s,
    })
}

/// Runs `plan` on every server, recording failures; returns what succeeded.
async fn measure_all(env: &mut Env, scenario: &str, plan: &Plan) -> BTreeMap<ServerKind, Measure> {
    let mut results = BTreeMap::new();
    for kind in env.servers.clone() {
        tracing::info!(scenario, server = kind.name(), "measuring");
        match measure(env, kind, plan).await {
            Ok(m) => {
                env.detail(format!("{scenario}/{}", kind.name()), details(kind, &m));
                if m.outcome.failed > 0 {
                    env.fail(format!(
                        "{scenario}/{}: {} sockets failed to open: {:?}",
                        kind.name(),
                        m.outcome.failed,
                        m.outcome.errors
                    ));
                }
                if m.burst.e2e_ms.is_empty() {
                    env.fail(format!(
                        "{scenario}/{}: no change was received",
                        kind.name()
                    ));
                }
                results.insert(kind, m);
            }
            Err(err) => env.fail(format!("{scenario}/{}: {err:#}", kind.name())),
        }
    }
    results
}

type Pick<'a> = &'a dyn Fn(&Measure) -> Option<f64>;

fn row(
    scenario: &str,
    results: &BTreeMap<ServerKind, Measure>,
    metric: &str,
    unit: &str,
    pick: Pick<'_>,
) -> Row {
    let values: Vec<(ServerKind, Option<f64>)> =
        [ServerKind::Sesh, ServerKind::Actix, ServerKind::Tungstenite]
            .into_iter()
            .map(|k| (k, results.get(&k).and_then(pick)))
            .collect();
    Row::new(scenario, metric, unit, &values)
}

/// `members`: N members in sessions of `room_size`.
pub async fn members(env: &mut Env) {
    let sizes = env.sizes.clone();
    let rooms = sizes.members / sizes.room_size;
    let period = Duration::from_secs_f64(sizes.change_period_s);
    let rounds = ((sizes.window_s / sizes.change_period_s).round() as usize).max(1);
    let plan = Plan {
        rooms,
        per_room: sizes.room_size,
        bursts: sizes.bursts,
        stagger: Some((period, rounds)),
        idle: Some(Duration::from_secs_f64(sizes.window_s.min(10.0))),
    };
    let n = rooms * sizes.room_size;
    let s = "members";
    let r = measure_all(env, s, &plan).await;
    let kb = |m: &Measure| m.idle_bytes_per_member().map(|b| b / 1024.0);
    let mb = |m: &Measure| m.rss_max.map(|b| b as f64 / (1024.0 * 1024.0));
    let burst = |f: fn(&Summary) -> f64| move |m: &Measure| m.burst.detect().as_ref().map(f);
    let stagger =
        |f: fn(&Summary) -> f64| move |m: &Measure| m.stagger.as_ref()?.detect().as_ref().map(f);
    let p50 = |s: &Summary| s.p50;
    let p99 = |s: &Summary| s.p99;
    let max = |s: &Summary| s.max;
    let rss_target = if n >= 10_000 {
        Target::AtMost(200.0)
    } else {
        // Scale the 200 MB at 10,000 target linearly for smaller runs.
        Target::AtMost(200.0 * n as f64 / 10_000.0)
    };
    env.rows([
        row(
            s,
            &r,
            &format!("idle memory per member ({n} members)"),
            "KB",
            &kb,
        )
        .target("≤ 18 KB", Target::AtMost(18.0)),
        row(
            s,
            &r,
            "… of which before sockets (logins, sessions, joins)",
            "KB",
            &|m: &Measure| m.setup_bytes_per_member().map(|b| b / 1024.0),
        ),
        row(s, &r, &format!("server RSS with {n} members"), "MB", &mb).target(
            &format!("≤ {:.0} MB", 200.0 * n as f64 / 10_000.0),
            rss_target,
        ),
        row(
            s,
            &r,
            &format!("burst ({rooms} sessions at once) detect→recv p50"),
            "ms",
            &burst(p50),
        ),
        row(
            s,
            &r,
            &format!("burst ({rooms} sessions at once) detect→recv p99"),
            "ms",
            &burst(p99),
        )
        .target("≤ 1.25× actix-ws", Target::RatioToActix(1.25)),
        row(s, &r, "burst detect→recv max", "ms", &burst(max)),
        row(
            s,
            &r,
            "burst change→recv p50 (incl. polling)",
            "ms",
            &|m: &Measure| m.burst.e2e().map(|s| s.p50),
        ),
        row(
            s,
            &r,
            "burst change→recv p99 (incl. polling)",
            "ms",
            &|m: &Measure| m.burst.e2e().map(|s| s.p99),
        ),
        row(
            s,
            &r,
            "one session's change detect→recv p50",
            "ms",
            &stagger(p50),
        ),
        row(
            s,
            &r,
            "one session's change detect→recv p99",
            "ms",
            &stagger(p99),
        )
        .target("≤ 5 ms", Target::AtMost(5.0)),
        row(
            s,
            &r,
            "one session's change→recv p99 (incl. polling)",
            "ms",
            &|m: &Measure| m.stagger.as_ref()?.e2e().map(|s| s.p99),
        ),
        row(
            s,
            &r,
            "missed deliveries (bursts + staggered)",
            "count",
            &|m: &Measure| {
                Some((m.burst.missed + m.stagger.as_ref().map_or(0, |t| t.missed)) as f64)
            },
        )
        .target("0", Target::Equals(0.0)),
        row(
            s,
            &r,
            "server CPU per 1,000 deliveries (staggered)",
            "ms",
            &|m: &Measure| m.stagger_cpu_per_1000,
        )
        .target("≤ 1.25× actix-ws", Target::RatioToActix(1.25)),
        row(
            s,
            &r,
            "… net of idle CPU (polling)",
            "ms",
            &|m: &Measure| m.stagger_cpu_net_per_1000,
        )
        .target("≤ 1.25× actix-ws", Target::RatioToActix(1.25)),
        row(
            s,
            &r,
            "server CPU per 1,000 deliveries (bursts)",
            "ms",
            &|m: &Measure| m.burst_cpu_per_1000,
        ),
        row(
            s,
            &r,
            "server CPU while idle (members connected)",
            "% core",
            &|m: &Measure| m.idle_cpu_per_s.map(|c| c * 100.0),
        ),
    ]);
}

/// `big-room`: one session of `big_room` members.
pub async fn big_room(env: &mut Env) {
    let sizes = env.sizes.clone();
    let plan = Plan {
        rooms: 1,
        per_room: sizes.big_room,
        bursts: sizes.big_room_bursts,
        stagger: None,
        idle: None,
    };
    let n = sizes.big_room;
    let s = "big-room";
    let r = measure_all(env, s, &plan).await;
    let pick = |f: fn(&Summary) -> f64| move |m: &Measure| m.burst.detect().as_ref().map(f);
    env.rows([
        row(
            s,
            &r,
            &format!("change to all {n} detect→recv p50"),
            "ms",
            &pick(|s| s.p50),
        ),
        row(
            s,
            &r,
            &format!("change to all {n} detect→recv p99"),
            "ms",
            &pick(|s| s.p99),
        )
        .target(
            "≤ 100 ms and ≤ 1.25× actix-ws",
            Target::AtMostAndRatio(100.0, 1.25),
        ),
        row(s, &r, "detect→recv max", "ms", &pick(|s| s.max)),
        row(
            s,
            &r,
            "change→recv p99 (incl. polling)",
            "ms",
            &|m: &Measure| m.burst.e2e().map(|s| s.p99),
        ),
        row(s, &r, "missed deliveries", "count", &|m: &Measure| {
            Some(m.burst.missed as f64)
        })
        .target("0", Target::Equals(0.0)),
        row(
            s,
            &r,
            "server CPU per 1,000 deliveries",
            "ms",
            &|m: &Measure| m.burst_cpu_per_1000,
        )
        .target("≤ 1.25× actix-ws", Target::RatioToActix(1.25)),
        row(
            s,
            &r,
            &format!("connect all {n} (handshake→welcome p99)"),
            "ms",
            &|m: &Measure| Summary::of(&mut m.outcome.welcome_ms.clone()).map(|s| s.p99),
        ),
        row(
            s,
            &r,
            &format!("time to connect all {n}"),
            "s",
            &|m: &Measure| Some(m.connect_s),
        ),
    ]);
}
