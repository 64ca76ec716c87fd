//! `displays` (issue 18): one playing session with members on WebSockets and displays on
//! Server-Sent Events (`GET /d/{key}/events`), in one run: the server memory each adds (RSS
//! after the members connect, then again after the displays connect), and how fast a track
//! change reaches each (a member's `playback` frame, a display's `playback` event), with the
//! same changes made to the members alone first (what the displays cost them). Sesh only:
//! the baselines have no displays.

use super::Env;
use super::fanout::Tracker;
use crate::client::{ClientPool, ConnSpec, FrameCounts, OpenOutcome, Report};
use crate::frame::now_us;
use crate::procstat::Snapshot;
use crate::report::{Row, Target};
use crate::sesh::SeshTarget;
use crate::stats::Summary;
use crate::target::{ServerKind, Trigger};
use anyhow::{Context, bail};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the server is left alone after a batch of connections before its RSS is read.
const SETTLE: Duration = Duration::from_secs(2);
/// How long one change may take to reach every member and display.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Between changes, so that one change's fan-out (its `queue` frames too) is over before the
/// next skip.
const BETWEEN_CHANGES: Duration = Duration::from_secs(1);

/// What the run measured.
struct Measure {
    members: OpenOutcome,
    displays: OpenOutcome,
    members_connect_s: f64,
    displays_connect_s: f64,
    /// The server as the scenario found it.
    rss_before: Option<u64>,
    /// After logins, the session, its joins, its display key and its start.
    rss_setup: Option<u64>,
    /// After every member's WebSocket opened.
    rss_members: Option<u64>,
    /// After the changes with the members alone, just before the displays connect.
    rss_before_displays: Option<u64>,
    /// After every display's stream opened as well.
    rss_displays: Option<u64>,
    /// After the track changes.
    rss_end: Option<u64>,
    /// The changes with the members alone (before the displays connect).
    members_alone: Tracker,
    member_changes: Tracker,
    display_changes: Tracker,
    /// Track changes made (each phase).
    changes: usize,
    /// The display streams open by the server's own count (`open_streams` of the key).
    server_open_streams: Option<u64>,
    /// Server CPU per 1,000 frames and events the clients received during the changes.
    cpu_per_1000: Option<f64>,
    /// Server CPU per change (its pause included): members alone, then with the displays.
    cpu_per_change_alone: Option<f64>,
    cpu_per_change: Option<f64>,
    deliveries: u64,
    /// What the clients received during the changes.
    during: FrameCounts,
}

fn rss(pid: Option<u32>) -> Option<u64> {
    pid.and_then(|pid| Snapshot::take(pid).ok()).map(|s| s.rss)
}

fn cpu_s(pid: Option<u32>) -> Option<f64> {
    pid.and_then(|pid| Snapshot::take(pid).ok())
        .map(|s| s.cpu_s)
}

/// Server CPU ms per change between two readings (changes and the pauses between them).
fn cpu_per_change(before: Option<f64>, after: Option<f64>, changes: usize) -> Option<f64> {
    let (before, after) = (before?, after?);
    (changes > 0).then(|| (after - before) * 1000.0 / changes as f64)
}

/// `(after − before) / n` in KB.
fn kb_each(after: Option<u64>, before: Option<u64>, n: usize) -> Option<f64> {
    let (after, before) = (after?, before?);
    (n > 0).then(|| (after as f64 - before as f64) / n as f64 / 1024.0)
}

impl Measure {
    fn member_kb(&self) -> Option<f64> {
        kb_each(self.rss_members, self.rss_setup, self.members.opened)
    }

    fn display_kb(&self) -> Option<f64> {
        kb_each(
            self.rss_displays,
            self.rss_before_displays,
            self.displays.opened,
        )
    }

    fn changes(&self) -> f64 {
        self.changes.max(1) as f64
    }

    /// Bytes a member and a display received per track change (every frame or event).
    fn bytes_per_change(&self) -> (Option<f64>, Option<f64>) {
        let changes = self.changes();
        let members = self.during.bytes - self.during.display_bytes;
        let per = |bytes: u64, n: usize| (n > 0).then(|| bytes as f64 / n as f64 / changes);
        (
            per(members, self.members.opened),
            per(self.during.display_bytes, self.displays.opened),
        )
    }

    /// Frames a member and events a display received per track change.
    fn messages_per_change(&self) -> (Option<f64>, Option<f64>) {
        let changes = self.changes();
        let members = self.during.total - self.during.display_events;
        let per = |count: u64, n: usize| (n > 0).then(|| count as f64 / n as f64 / changes);
        (
            per(members, self.members.opened),
            per(self.during.display_events, self.displays.opened),
        )
    }
}

async fn measure(env: &mut Env) -> anyhow::Result<Measure> {
    let sizes = env.sizes.clone();
    let (m, d) = (sizes.displays_members, sizes.displays);
    let procs = env.client_procs;
    let sesh = env.sesh().await?;
    let pid = sesh.pid;
    // Let a freshly started process finish its start-up allocations.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss(pid);
    sesh.ensure_users(m).await?;
    let sessions = sesh.setup_sessions(vec![(0, (1..m).collect())], m).await?;
    let session = sessions.first().context("no session")?.clone();
    let key = sesh
        .api
        .create_display(sesh.cookie(session.host), &session.id)
        .await?;
    // Playing before anybody connects: the start's frames count for neither side.
    sesh.start_sessions(&sessions).await?;
    tokio::time::sleep(SETTLE).await;
    let rss_setup = rss(pid);

    let mut pool = ClientPool::spawn(m + d, procs).await?;
    let member_specs: Vec<ConnSpec> = std::iter::once(session.host)
        .chain(session.guests.iter().copied())
        .map(|user| sesh.ws_spec(pool.next_id(), &session.id, user))
        .collect();
    let display_specs: Vec<ConnSpec> = (0..d)
        .map(|_| sesh.display_spec(pool.next_id(), &key))
        .collect();
    // Members are sockets 0..m, displays m..m+d.
    let first_display = m as u32;
    let timeout = |n: usize| Duration::from_secs(120 + n as u64 / 50);

    let (members, members_connect_s) =
        open_all(&mut pool, member_specs, timeout(m), "member's WebSocket").await?;
    tokio::time::sleep(SETTLE).await;
    let rss_members = rss(pid);

    // The same changes with the members alone first, for what the displays do to them.
    let trigger = Trigger::Sesh {
        api: sesh.api.clone(),
        hosts: Arc::new(vec![SeshTarget::user_name(session.host)]),
    };
    let mut members_alone = Tracker::new(vec![0; m], 1, &members.failed_ids);
    let cpu_alone_before = cpu_s(pid);
    track_changes(
        &mut pool,
        &trigger,
        sizes.displays_changes,
        first_display,
        &mut members_alone,
        &mut Tracker::new(Vec::new(), 1, &[]),
    )
    .await?;
    let cpu_alone = cpu_per_change(cpu_alone_before, cpu_s(pid), sizes.displays_changes);
    tokio::time::sleep(SETTLE).await;
    let rss_before_displays = rss(pid);

    let (displays, displays_connect_s) =
        open_all(&mut pool, display_specs, timeout(d), "display's stream").await?;
    tokio::time::sleep(SETTLE).await;
    let rss_displays = rss(pid);
    let server_open_streams = sesh
        .api
        .display_streams(sesh.cookie(session.host), &session.id)
        .await?
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, open)| open);

    // One tracker per side, each blind to the other side's sockets.
    let all = (m + d) as u32;
    let room_of = vec![0; all as usize];
    let mut not_members: Vec<u32> = (first_display..all).collect();
    not_members.extend(&members.failed_ids);
    let mut not_displays: Vec<u32> = (0..first_display).collect();
    not_displays.extend(&displays.failed_ids);
    let mut member_changes = Tracker::new(room_of.clone(), 1, &not_members);
    let mut display_changes = Tracker::new(room_of, 1, &not_displays);

    let (cpu_before, frames_before) = (
        pid.and_then(|p| Snapshot::take(p).ok()),
        pool.stats().await?.1,
    );
    track_changes(
        &mut pool,
        &trigger,
        sizes.displays_changes,
        first_display,
        &mut member_changes,
        &mut display_changes,
    )
    .await?;
    let (cpu_after, frames_after) = (
        pid.and_then(|p| Snapshot::take(p).ok()),
        pool.stats().await?.1,
    );
    let during = FrameCounts {
        total: frames_after.total - frames_before.total,
        bytes: frames_after.bytes - frames_before.bytes,
        display_events: frames_after.display_events - frames_before.display_events,
        display_bytes: frames_after.display_bytes - frames_before.display_bytes,
        ..FrameCounts::default()
    };
    let deliveries = during.total;
    let cpu_with_displays = cpu_per_change(
        cpu_before.map(|c| c.cpu_s),
        cpu_after.map(|c| c.cpu_s),
        sizes.displays_changes,
    );
    let cpu_per_1000 = cpu_before
        .zip(cpu_after)
        .filter(|_| deliveries > 0)
        .map(|(b, a)| (a.cpu_s - b.cpu_s) * 1000.0 / deliveries as f64 * 1000.0);
    let rss_end = rss(pid);

    pool.close().await?;
    sesh.end_sessions(&sessions).await?;
    Ok(Measure {
        members,
        displays,
        members_connect_s,
        displays_connect_s,
        rss_before,
        rss_setup,
        rss_members,
        rss_before_displays,
        rss_displays,
        rss_end,
        members_alone,
        member_changes,
        display_changes,
        changes: sizes.displays_changes,
        server_open_streams,
        cpu_per_1000,
        cpu_per_change_alone: cpu_alone,
        cpu_per_change: cpu_with_displays,
        deliveries,
        during,
    })
}

/// Makes `count` track changes (the host skips in their Spotify app), each timed to every
/// socket of both trackers; reports of sockets `first_display..` go to `displays`, the others
/// to `members`.
/// Opens `specs` (256 at a time) and how long it took; an error when not one of them (each a
/// `what`) opened.
async fn open_all(
    pool: &mut ClientPool,
    specs: Vec<ConnSpec>,
    timeout: Duration,
    what: &str,
) -> anyhow::Result<(OpenOutcome, f64)> {
    let started = Instant::now();
    let outcome = pool.open(specs, None, 256, timeout).await?;
    let secs = started.elapsed().as_secs_f64();
    tracing::info!(
        opened = outcome.opened,
        failed = outcome.failed,
        secs,
        what,
        "connected"
    );
    if outcome.opened == 0 {
        bail!("no {what} opened: {:?}", outcome.errors);
    }
    Ok((outcome, secs))
}

async fn track_changes(
    pool: &mut ClientPool,
    trigger: &Trigger,
    count: usize,
    first_display: u32,
    members: &mut Tracker,
    displays: &mut Tracker,
) -> anyhow::Result<()> {
    for change in 0..count {
        if change > 0 {
            tokio::time::sleep(BETWEEN_CHANGES).await;
        }
        pool.discard_events();
        let at = now_us();
        members.arm(0, at);
        displays.arm(0, at);
        trigger.room(0).await?;
        let deadline = tokio::time::Instant::now() + CHANGE_TIMEOUT;
        while members.outstanding() + displays.outstanding() > 0 {
            let Some(report) = pool.next_event(deadline).await else {
                break;
            };
            let id = match &report {
                Report::Change { id, .. } | Report::Lost { id, .. } => *id,
                _ => continue,
            };
            if id < first_display {
                members.on_report(report);
            } else {
                displays.on_report(report);
            }
        }
        members.finish();
        displays.finish();
        tracing::info!(
            change,
            members_missed = members.missed,
            displays_missed = displays.missed,
            "track change delivered"
        );
    }
    Ok(())
}

fn summary_json(s: Option<Summary>) -> serde_json::Value {
    serde_json::to_value(s).unwrap_or(serde_json::Value::Null)
}

fn details(m: &Measure) -> serde_json::Value {
    let side = |outcome: &OpenOutcome, secs: f64, changes: &Tracker| {
        json!({
            "opened": outcome.opened,
            "failed": outcome.failed,
            "errors": outcome.errors,
            "connect_s": secs,
            "first_frame_ms": summary_json(Summary::of(&mut outcome.welcome_ms.clone())),
            "change_e2e_ms": summary_json(changes.e2e()),
            "change_detect_ms": summary_json(changes.detect()),
            "missed": changes.missed,
            "unsolicited": changes.unsolicited,
            "lost": changes.lost,
        })
    };
    json!({
        "members": side(&m.members, m.members_connect_s, &m.member_changes),
        "displays": side(&m.displays, m.displays_connect_s, &m.display_changes),
        "rss_before": m.rss_before,
        "rss_setup": m.rss_setup,
        "rss_members": m.rss_members,
        "rss_before_displays": m.rss_before_displays,
        "members_alone": {
            "change_e2e_ms": summary_json(m.members_alone.e2e()),
            "change_detect_ms": summary_json(m.members_alone.detect()),
            "missed": m.members_alone.missed,
            "unsolicited": m.members_alone.unsolicited,
        },
        "rss_displays": m.rss_displays,
        "rss_end": m.rss_end,
        "server_open_streams": m.server_open_streams,
        "deliveries_during_changes": m.deliveries,
        "bytes_during_changes": m.during.bytes,
        "display_events_during_changes": m.during.display_events,
        "display_bytes_during_changes": m.during.display_bytes,
    })
}

/// `displays`: members and displays of one playing session, side by side.
pub async fn displays(env: &mut Env) {
    let s = "displays";
    let (n_members, n_displays) = (env.sizes.displays_members, env.sizes.displays);
    tracing::info!(
        scenario = s,
        members = n_members,
        displays = n_displays,
        "measuring"
    );
    let m = match measure(env).await {
        Ok(m) => m,
        Err(err) => {
            env.fail(format!("{s}/sesh: {err:#}"));
            return;
        }
    };
    env.detail(format!("{s}/sesh"), details(&m));
    for (what, outcome) in [
        ("members' WebSockets", &m.members),
        ("displays", &m.displays),
    ] {
        if outcome.failed > 0 {
            env.fail(format!(
                "{s}/sesh: {} {what} failed to open: {:?}",
                outcome.failed, outcome.errors
            ));
        }
    }
    for (what, changes) in [
        ("member", &m.member_changes),
        ("display", &m.display_changes),
    ] {
        if changes.e2e_ms.is_empty() {
            env.fail(format!("{s}/sesh: no {what} received a track change"));
        }
    }

    let sesh = |metric: &str, unit: &str, value: Option<f64>| {
        Row::new(s, metric, unit, &[(ServerKind::Sesh, value)])
    };
    let (members, displays) = (&m.member_changes, &m.display_changes);
    let mut rows = vec![
        sesh(
            &format!("server RSS growth per WebSocket member ({n_members} members)"),
            "KB",
            m.member_kb(),
        ),
        sesh(
            &format!("server RSS growth per display ({n_displays} SSE streams)"),
            "KB",
            m.display_kb(),
        ),
        sesh(
            "display / member (memory)",
            "×",
            m.display_kb()
                .zip(m.member_kb())
                .filter(|(_, member)| *member > 0.0)
                .map(|(display, member)| display / member),
        )
        .target(
            "≤ 1× (a display costs no more than a member)",
            Target::AtMost(1.0),
        ),
        sesh(
            "… before sockets, per member (logins, session, joins)",
            "KB",
            kb_each(m.rss_setup, m.rss_before, n_members),
        ),
        sesh(
            &format!("server RSS with {n_members} members and {n_displays} displays"),
            "MB",
            m.rss_displays.map(|b| b as f64 / (1024.0 * 1024.0)),
        ),
    ];
    type Pick = fn(&Summary) -> f64;
    let stats: [(&str, Pick); 4] = [
        ("p50", |s| s.p50),
        ("p95", |s| s.p95),
        ("p99", |s| s.p99),
        ("max", |s| s.max),
    ];
    for (measure, of) in [
        (
            "track change→recv",
            Tracker::e2e as fn(&Tracker) -> Option<Summary>,
        ),
        ("detect→recv", Tracker::detect),
    ] {
        let suffix = if measure == "detect→recv" {
            ""
        } else {
            " (incl. polling)"
        };
        for (stat, pick) in stats {
            rows.push(sesh(
                &format!("{measure} {stat}, members alone, before any display{suffix}"),
                "ms",
                of(&m.members_alone).as_ref().map(pick),
            ));
            rows.push(sesh(
                &format!("{measure} {stat}, members' WebSockets{suffix}"),
                "ms",
                of(members).as_ref().map(pick),
            ));
            rows.push(sesh(
                &format!("{measure} {stat}, displays' SSE{suffix}"),
                "ms",
                of(displays).as_ref().map(pick),
            ));
        }
        let p99 = |t: &Tracker| of(t).map(|s| s.p99);
        rows.push(sesh(
            &format!("display / member {measure} p99"),
            "×",
            p99(displays)
                .zip(p99(members))
                .filter(|(_, member)| *member > 0.0)
                .map(|(display, member)| display / member),
        ));
    }
    let (member_bytes, display_bytes) = m.bytes_per_change();
    let (member_messages, display_messages) = m.messages_per_change();
    rows.extend([
        sesh(
            "frames received per member per change",
            "count",
            member_messages,
        ),
        sesh(
            "events received per display per change",
            "count",
            display_messages,
        ),
        sesh("bytes received per member per change", "B", member_bytes),
        sesh("bytes received per display per change", "B", display_bytes),
        sesh(
            "missed deliveries, members alone",
            "count",
            Some(m.members_alone.missed as f64),
        )
        .target("0", Target::Equals(0.0)),
        sesh(
            "missed deliveries, members",
            "count",
            Some(members.missed as f64),
        )
        .target("0", Target::Equals(0.0)),
        sesh(
            "missed deliveries, displays",
            "count",
            Some(displays.missed as f64),
        )
        .target("0", Target::Equals(0.0)),
        sesh(
            "server CPU per track change, members alone",
            "ms",
            m.cpu_per_change_alone,
        ),
        sesh(
            "server CPU per track change, members and displays",
            "ms",
            m.cpu_per_change,
        ),
        sesh(
            "server CPU per 1,000 frames and events during the changes",
            "ms",
            m.cpu_per_1000,
        ),
        sesh(
            &format!("connect {n_members} members (handshake→welcome p99)"),
            "ms",
            Summary::of(&mut m.members.welcome_ms.clone()).map(|s| s.p99),
        ),
        sesh(
            &format!("connect {n_displays} displays (connect→snapshot p99)"),
            "ms",
            Summary::of(&mut m.displays.welcome_ms.clone()).map(|s| s.p99),
        ),
        sesh(
            &format!("time to connect all {n_members} members"),
            "s",
            Some(m.members_connect_s),
        ),
        sesh(
            &format!("time to connect all {n_displays} displays"),
            "s",
            Some(m.displays_connect_s),
        ),
    ]);
    env.rows(rows);
}
