//! Room scenarios: `members` (many sessions of 10) and `big-room` (one huge session).
//! Same clients, same triggers, against every server: idle memory, fan-out latency to
//! every member, CPU per delivery.

use super::fanout::{self, Tracker, drain};
use super::{Env, Server};
use crate::client::{ClientPool, ConnKind, ConnSpec, OpenOutcome};
use crate::frame::now_us;
use crate::probe::{Probe, Reading, Sel, Window};
use crate::report::{Row, Target};
use crate::sesh::{LiveSession, SeshTarget};
use crate::stats::Summary;
use crate::target::{ServerKind, Trigger};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// What to measure in a room scenario.
pub(super) struct Plan {
    pub(super) rooms: usize,
    pub(super) per_room: usize,
    pub(super) bursts: usize,
    /// Staggered phase: period between a room's changes, and rounds.
    pub(super) stagger: Option<(Duration, usize)>,
    /// Idle CPU window (members connected, nothing changing).
    pub(super) idle: Option<Duration>,
}

/// What one server did in a room scenario: the readings of its processes
/// ([`Probe`]) at each step, and the clients' latencies.
#[derive(Default)]
pub(super) struct Measure {
    pub(super) outcome: OpenOutcome,
    pub(super) connect_s: f64,
    /// Freshly started.
    pub(super) before: Reading,
    /// After logins, sessions and joins, before any socket (Sesh's state without sockets).
    pub(super) setup: Reading,
    /// Every member connected, idle.
    pub(super) idle: Reading,
    /// After the last phase.
    pub(super) end: Reading,
    /// Sesh only: start → first track seen by each member.
    pub(super) first_track: Option<Tracker>,
    pub(super) burst: Tracker,
    pub(super) burst_window: Window,
    /// Members connected, nothing changing.
    pub(super) idle_window: Option<Window>,
    pub(super) stagger: Option<Tracker>,
    pub(super) stagger_window: Option<Window>,
    /// The node of each room (the index in the probe's nodes): the lease holder of its
    /// session on PostgreSQL, else 0; `None` when nobody held it.
    pub(super) room_node: Vec<Option<usize>>,
    /// Sesh: joins answered 307 `session_moved` (followed to the alias) during setup.
    pub(super) join_redirects: u64,
    /// Sesh: joins refused with 503 `session_elsewhere` (and sent again) during setup.
    pub(super) join_refusals: u64,
}

/// CPU milliseconds per 1,000 deliveries.
pub(super) fn per_1000(cpu_s: Option<f64>, deliveries: f64) -> Option<f64> {
    (deliveries > 0.0).then_some(cpu_s? * 1000.0 / deliveries * 1000.0)
}

impl Measure {
    fn idle_bytes_per_member(&self) -> Option<f64> {
        let (before, idle) = (self.before.rss(Sel::All)?, self.idle.rss(Sel::All)?);
        (self.outcome.opened > 0)
            .then(|| (idle as f64 - before as f64) / self.outcome.opened as f64)
    }

    /// The part of [`idle_bytes_per_member`](Self::idle_bytes_per_member) already there
    /// before the sockets opened.
    fn setup_bytes_per_member(&self) -> Option<f64> {
        let (before, setup) = (self.before.rss(Sel::All)?, self.setup.rss(Sel::All)?);
        (self.outcome.opened > 0)
            .then(|| (setup as f64 - before as f64) / self.outcome.opened as f64)
    }

    /// The larger of the RSS with everybody idle and at the end, of `sel`.
    pub(super) fn rss_max(&self, sel: Sel) -> Option<u64> {
        let end = self.end.rss(sel)?;
        Some(end.max(self.idle.rss(sel).unwrap_or(0)))
    }

    fn burst_cpu_per_1000(&self) -> Option<f64> {
        let w = &self.burst_window;
        per_1000(w.cpu(Sel::All), w.frames as f64)
    }

    /// CPU seconds per second of `sel` in the idle window.
    pub(super) fn idle_cpu_per_s(&self, sel: Sel) -> Option<f64> {
        let w = self.idle_window.as_ref()?;
        Some(w.cpu(sel)? / w.secs)
    }

    fn stagger_deliveries(&self) -> u64 {
        self.stagger_window.as_ref().map_or(0, |w| w.frames)
    }

    fn stagger_cpu_per_1000(&self) -> Option<f64> {
        let w = self.stagger_window.as_ref()?;
        per_1000(w.cpu(Sel::All), w.frames as f64)
    }

    /// `sel`'s CPU in the staggered window less what it uses idle in as long.
    pub(super) fn stagger_cpu_net(&self, sel: Sel) -> Option<f64> {
        let w = self.stagger_window.as_ref()?;
        Some((w.cpu(sel)? - self.idle_cpu_per_s(sel)? * w.secs).max(0.0))
    }

    fn stagger_cpu_net_per_1000(&self) -> Option<f64> {
        per_1000(
            self.stagger_cpu_net(Sel::All),
            self.stagger_deliveries() as f64,
        )
    }

    /// Sockets the server closed after every member had connected, by the end of the last
    /// phase (the clients do not reconnect).
    pub(super) fn closed_by_server(&self) -> Option<u64> {
        let last = self
            .stagger_window
            .as_ref()
            .or(self.idle_window.as_ref())
            .unwrap_or(&self.burst_window);
        Some((self.outcome.opened as u64).saturating_sub(last.open))
    }

    /// Whether room `room` is on `sel`.
    pub(super) fn room_on(&self, sel: Sel, room: u32) -> bool {
        match sel {
            Sel::All => true,
            Sel::Node(i) => self.room_node.get(room as usize).copied().flatten() == Some(i),
        }
    }
}

/// Runs `plan` on the run's server `kind`.
async fn measure(env: &mut Env, kind: ServerKind, plan: &Plan) -> anyhow::Result<Measure> {
    let procs = env.client_procs;
    let server = env.server(kind).await?;
    measure_on(server, kind, procs, plan).await
}

/// Runs `plan` on `server` (a baseline, the run's Sesh, or a Sesh of a cluster comparison).
pub(super) async fn measure_on(
    mut server: Server<'_>,
    kind: ServerKind,
    procs: usize,
    plan: &Plan,
) -> anyhow::Result<Measure> {
    let total = plan.rooms * plan.per_room;
    let probe = server.probe();
    // Let a freshly started process finish its start-up allocations.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut m = Measure {
        before: probe.read().await,
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
            let hops_before = (
                sesh.join_redirects.load(Ordering::Relaxed),
                sesh.join_refusals.load(Ordering::Relaxed),
            );
            sessions = sesh.setup_sessions(groups, per).await?;
            m.join_redirects = sesh.join_redirects.load(Ordering::Relaxed) - hops_before.0;
            m.join_refusals = sesh.join_refusals.load(Ordering::Relaxed) - hops_before.1;
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

    m.setup = probe.read().await;
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
    m.idle = probe.read().await;
    let dead = m.outcome.failed_ids.clone();
    m.room_node = match &server {
        Server::Sesh(sesh) => sesh.session_nodes(&sessions).await?,
        Server::Baseline(_) => vec![Some(0); plan.rooms],
    };

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
    let (start, frames_before, started) = (
        probe.read().await,
        pool.stats().await?.1.total,
        Instant::now(),
    );
    for _ in 0..plan.bursts {
        fanout::burst(&mut pool, &trigger, &mut burst, burst_timeout).await?;
    }
    m.burst_window = window(&probe, &mut pool, start, frames_before, started).await?;
    m.burst = burst;

    if let Some(idle) = plan.idle {
        let (start, frames_before, started) = (
            probe.read().await,
            pool.stats().await?.1.total,
            Instant::now(),
        );
        tokio::time::sleep(idle).await;
        m.idle_window = Some(window(&probe, &mut pool, start, frames_before, started).await?);
    }

    if let Some((period, rounds)) = plan.stagger {
        let mut stagger = Tracker::new(room_of.clone(), plan.rooms, &dead);
        let (start, frames_before, started) = (
            probe.read().await,
            pool.stats().await?.1.total,
            Instant::now(),
        );
        fanout::staggered(
            &mut pool,
            &trigger,
            &mut stagger,
            period,
            rounds,
            burst_timeout,
        )
        .await?;
        m.stagger_window = Some(window(&probe, &mut pool, start, frames_before, started).await?);
        m.stagger = Some(stagger);
    }
    m.end = probe.read().await;

    pool.close().await?;
    if let Server::Sesh(sesh) = &server {
        sesh.end_sessions(&sessions).await?;
    }
    Ok(m)
}

/// The window from `start` (read when the clients had received `frames_before` frames, at
/// `started`) to now.
async fn window(
    probe: &Probe,
    pool: &mut ClientPool,
    start: Reading,
    frames_before: u64,
    started: Instant,
) -> anyhow::Result<Window> {
    let secs = started.elapsed().as_secs_f64();
    let end = probe.read().await;
    let (open, counts) = pool.stats().await?;
    Ok(Window {
        start,
        end,
        secs,
        frames: counts.total - frames_before,
        open,
    })
}

fn summary_json(s: Option<Summary>) -> serde_json::Value {
    serde_json::to_value(s).unwrap_or(serde_json::Value::Null)
}

fn details(name: &str, m: &Measure) -> serde_json::Value {
    json!({
        "server": name,
        "opened": m.outcome.opened,
        "failed": m.outcome.failed,
        "errors": m.outcome.errors,
        "connect_s": m.connect_s,
        "handshake_ms": summary_json(Summary::of(&mut m.outcome.welcome_ms.clone())),
        "rss_before": m.before.rss(Sel::All),
        "rss_setup": m.setup.rss(Sel::All),
        "rss_idle": m.idle.rss(Sel::All),
        "rss_max": m.rss_max(Sel::All),
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
        "stagger_deliveries": m.stagger_deliveries(),
        "idle_cpu_per_s": m.idle_cpu_per_s(Sel::All),
        "join_redirects": m.join_redirects,
        "join_refusals": m.join_refusals,
    })
}

/// Records `result` of `name` in `scenario` (details, failures); returns the measure when
/// there is one.
pub(super) fn record(
    env: &mut Env,
    scenario: &str,
    name: &str,
    result: anyhow::Result<Measure>,
) -> Option<Measure> {
    match result {
        Ok(m) => {
            env.detail(format!("{scenario}/{name}"), details(name, &m));
            if m.outcome.failed > 0 {
                env.fail(format!(
                    "{scenario}/{name}: {} sockets failed to open: {:?}",
                    m.outcome.failed, m.outcome.errors
                ));
            }
            if m.burst.e2e_ms.is_empty() {
                env.fail(format!("{scenario}/{name}: no change was received"));
            }
            Some(m)
        }
        Err(err) => {
            env.fail(format!("{scenario}/{name}: {err:#}"));
            None
        }
    }
}

/// Runs `plan` on every server, recording failures; returns what succeeded.
async fn measure_all(env: &mut Env, scenario: &str, plan: &Plan) -> BTreeMap<ServerKind, Measure> {
    let mut results = BTreeMap::new();
    for kind in env.servers.clone() {
        tracing::info!(scenario, server = kind.name(), "measuring");
        let result = measure(env, kind, plan).await;
        if let Some(m) = record(env, scenario, kind.name(), result) {
            results.insert(kind, m);
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
    if let Some(nodes) = env.cluster
        && env.with_sesh()
    {
        super::cluster::members(env, &plan, r.get(&ServerKind::Sesh), nodes).await;
    }
    let kb = |m: &Measure| m.idle_bytes_per_member().map(|b| b / 1024.0);
    let mb = |m: &Measure| m.rss_max(Sel::All).map(|b| b as f64 / (1024.0 * 1024.0));
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
            &|m: &Measure| m.stagger_cpu_per_1000(),
        )
        .target("≤ 1.25× actix-ws", Target::RatioToActix(1.25)),
        row(
            s,
            &r,
            "… net of idle CPU (polling)",
            "ms",
            &|m: &Measure| m.stagger_cpu_net_per_1000(),
        )
        .target("≤ 1.25× actix-ws", Target::RatioToActix(1.25)),
        row(
            s,
            &r,
            "server CPU per 1,000 deliveries (bursts)",
            "ms",
            &|m: &Measure| m.burst_cpu_per_1000(),
        ),
        row(
            s,
            &r,
            "server CPU while idle (members connected)",
            "% core",
            &|m: &Measure| m.idle_cpu_per_s(Sel::All).map(|c| c * 100.0),
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
            &|m: &Measure| m.burst_cpu_per_1000(),
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
