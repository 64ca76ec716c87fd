//! `queue`: members of one playing session vote, add and remove tracks at a steady rate
//! (HTTP and WebSocket operations alternating), and every member's receipt of the resulting
//! delta frame is timed. Run at two queue lengths (a small session, then the big one) for the
//! frame sizes; the baselines get a trigger at the same rate to a room of the same size.

mod model;
mod tally;

use super::{Env, Server};
use crate::client::{ClientPool, ConnKind, ConnSpec, QueueDelta, Report};
use crate::frame::now_us;
use crate::procstat::Snapshot;
use crate::report::{Row, Target};
use crate::sesh::{LiveSession, SeshTarget};
use crate::stats::Summary;
use crate::target::ServerKind;
use anyhow::Context;
use model::{Key, Model, Op, OpKind, Rng, settle, track_id};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;
use tally::Phase;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long an operation waits for every member's receipt before its entry is used again.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Entries from the start of the queue left alone: the playing one and the one Spotify holds
/// are pinned (votes on them are refused), with a margin for a track change during the run.
const PINNED_MARGIN: usize = 5;

fn cpu_s(pid: Option<u32>) -> Option<f64> {
    pid.and_then(|p| Snapshot::take(p).ok()).map(|s| s.cpu_s)
}

/// What an HTTP operation's task sends back.
struct Answer {
    op: usize,
    start_us: i64,
    answer_us: i64,
    result: Result<Option<u64>, String>,
}

/// Runs the operations against a started Sesh session whose members' sockets are open.
#[allow(clippy::too_many_arguments)]
async fn drive_sesh(
    sesh: &SeshTarget,
    pool: &mut ClientPool,
    session: &LiveSession,
    members: &[usize],
    sockets: &[u32],
    model: &mut Model,
    rate: f64,
    secs: f64,
) -> anyhow::Result<(Vec<Op>, Duration, usize, usize)> {
    let total = ((rate * secs).round() as usize).max(1);
    let mut rng = Rng(0x5e5_0017);
    let mut ops: Vec<Op> = Vec::with_capacity(total);
    let (answers_tx, mut answers) = mpsc::channel::<Answer>(1024);
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let (mut unmatched, mut mismatch) = (0, 0);
    let mut op_index: HashMap<u64, usize> = HashMap::new();
    pool.discard_events();
    let mut drain_until: Option<Instant> = None;
    loop {
        let all_issued = ops.len() == total;
        if all_issued && drain_until.is_none() {
            drain_until = Some(Instant::now() + RECEIPT_TIMEOUT + Duration::from_millis(500));
        }
        if let Some(until) = drain_until
            && (Instant::now() >= until || ops.iter().all(|o| !o.open))
        {
            break;
        }
        let wake = drain_until.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = interval.tick(), if !all_issued => {
                // Settle operations that waited long enough.
                for op in ops.iter_mut().filter(|o| o.open && o.issued.elapsed() >= RECEIPT_TIMEOUT) {
                    settle(op, model);
                }
                let i = ops.len();
                let http = i.is_multiple_of(2);
                let roll = rng.unit();
                let op = if roll < 0.1 {
                    model.pick_add(&mut rng, members.len()).map(|(m, uri)| (OpKind::Add, m, uri, 0, 0))
                } else if roll < 0.2 {
                    model.pick_remove(&mut rng).map(|(m, entry, uri)| (OpKind::Remove, m, uri, entry, 0))
                } else {
                    None
                };
                let (kind, member, uri, entry, vote, expect) = match op {
                    Some((kind, m, uri, entry, _)) => (kind, m, Some(uri), entry, 0, None),
                    None => match model.pick_vote(&mut rng, members.len()) {
                        Some((m, entry, vote, total)) => (OpKind::Vote, m, None, entry, vote, Some(total)),
                        None => anyhow::bail!("no entry to vote on"),
                    },
                };
                let key = match kind {
                    OpKind::Vote => Key::Votes(entry),
                    OpKind::Add => Key::Added(track_id(uri.as_deref().unwrap_or(""))),
                    _ => Key::Removed(entry),
                };
                model.busy.insert(key.clone(), i);
                ops.push(Op {
                    kind, http, key, member, track: uri.clone(), start_us: None, answer_us: None,
                    entry: (kind == OpKind::Remove).then_some(entry), expect_votes: expect,
                    receipts: Vec::new(), bytes: Vec::new(), refused: false,
                    issued: Instant::now(), open: true,
                });
                let user = members[member];
                if http {
                    let api = sesh.api.clone();
                    let cookie = sesh.cookie(user).to_owned();
                    let session = session.id.clone();
                    let tx = answers_tx.clone();
                    tokio::spawn(async move {
                        let start_us = now_us();
                        let result = match kind {
                            OpKind::Vote => api.vote(&cookie, &session, entry, vote).await.map(|()| None),
                            OpKind::Add => api.add_track(&cookie, &session, uri.as_deref().unwrap_or("")).await.map(Some),
                            _ => api.remove_entry(&cookie, &session, entry).await.map(|()| None),
                        };
                        let answer_us = now_us();
                        let result = result.map_err(|e| e.to_string());
                        let _ = tx.send(Answer { op: i, start_us, answer_us, result }).await;
                    });
                } else {
                    let text = match kind {
                        OpKind::Vote => json!({"type": "vote", "entry_id": entry, "vote": vote}),
                        OpKind::Add => json!({"type": "add", "uri": uri}),
                        _ => json!({"type": "remove", "entry_id": entry}),
                    };
                    op_index.insert(i as u64, i);
                    pool.send_text(sockets[member], i as u64, text.to_string()).await?;
                }
            }
            Some(answer) = answers.recv() => {
                let op = &mut ops[answer.op];
                op.start_us = Some(answer.start_us);
                op.answer_us = Some(answer.answer_us);
                match answer.result {
                    Ok(entry) => {
                        if op.kind == OpKind::Add {
                            op.entry = entry;
                        }
                    }
                    Err(err) => {
                        op.refused = true;
                        tracing::warn!(%err, "queue operation refused");
                        settle(op, model);
                    }
                }
            }
            event = pool.next_event(wake) => match event {
                Some(Report::Queue { delta, bytes, recv_us, .. }) => {
                    let Some(&i) = model.busy.get(&Key::of(&delta)) else {
                        unmatched += 1;
                        continue;
                    };
                    let op = &mut ops[i];
                    op.receipts.push(recv_us);
                    op.bytes.push(bytes);
                    match &delta {
                        QueueDelta::Votes { votes, .. } => {
                            if op.expect_votes != Some(*votes) {
                                mismatch += 1;
                            }
                            if let QueueDelta::Votes { id, votes } = delta {
                                model.votes.insert(id, votes);
                            }
                        }
                        QueueDelta::Added { id, .. } => op.entry = Some(*id),
                        QueueDelta::Removed { .. } => {}
                    }
                    if op.receipts.len() >= sockets.len() {
                        settle(op, model);
                    }
                }
                Some(Report::Sent { op, sent_us }) => {
                    if let Some(&i) = op_index.get(&op) {
                        ops[i].start_us = Some(sent_us);
                    }
                }
                Some(Report::Lost { reason, .. }) => anyhow::bail!("a member's socket was lost: {reason}"),
                Some(_) => {}
                None => {}
            },
        }
    }
    let elapsed = started.elapsed();
    for op in ops.iter_mut().filter(|o| o.open) {
        settle(op, model);
    }
    Ok((ops, elapsed, unmatched, mismatch))
}

/// One Sesh session of `n` members (users `0..n`): set up, started, operated on, ended.
async fn sesh_phase(env: &mut Env, n: usize) -> anyhow::Result<Phase> {
    let (rate, secs, procs) = (env.sizes.queue_rate, env.sizes.queue_secs, env.client_procs);
    let sesh = env.sesh().await?;
    let pid = sesh.pid;
    sesh.ensure_users(n.max(20)).await?;
    let sessions = sesh.setup_sessions(vec![(0, (1..n).collect())], n).await?;
    let session = sessions.first().context("no session")?.clone();
    let members: Vec<usize> = (0..n).collect();
    let mut pool = ClientPool::spawn(n, procs).await?;
    let mut sockets = Vec::with_capacity(n);
    let specs: Vec<ConnSpec> = members
        .iter()
        .map(|&user| {
            let spec = sesh.ws_spec(pool.next_id(), &session.id, user);
            sockets.push(spec.id);
            spec
        })
        .collect();
    let outcome = pool.open(specs, None, 64, Duration::from_secs(60)).await?;
    if outcome.failed > 0 {
        anyhow::bail!(
            "{} sockets failed to open: {:?}",
            outcome.failed,
            outcome.errors
        );
    }
    sesh.start_sessions(&sessions).await?;
    // Let the start's `queue` frame and first `playback` reach everybody.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let host = sesh.cookie(0).to_owned();
    let mut entries: Vec<Value> = Vec::new();
    loop {
        let page = sesh
            .api
            .queue_page(&host, &session.id, entries.len(), 500)
            .await?;
        let items = page
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let total = page.get("total").and_then(Value::as_u64).unwrap_or(0) as usize;
        let done = items.is_empty();
        entries.extend(items);
        if done || entries.len() >= total {
            break;
        }
    }
    let mut catalog: HashSet<String> = HashSet::new();
    for user in 0..20 {
        catalog.extend(
            sesh.api
                .emulator_top_uris(&SeshTarget::user_name(user))
                .await?,
        );
    }
    let queued: HashSet<String> = entries
        .iter()
        .filter_map(|e| e.get("track")?.get("uri")?.as_str().map(str::to_owned))
        .collect();
    let mut addable: Vec<String> = catalog.difference(&queued).cloned().collect();
    addable.sort();
    let votable: Vec<u64> = entries
        .iter()
        .skip(PINNED_MARGIN)
        .filter_map(|e| e.get("id")?.as_u64())
        .collect();
    let votes = entries
        .iter()
        .filter_map(|e| Some((e.get("id")?.as_u64()?, e.get("votes")?.as_i64()?)))
        .collect();
    let mut model = Model {
        votes,
        votable,
        mine: HashMap::new(),
        addable,
        removable: Vec::new(),
        queued_by: vec![0; n],
        busy: HashMap::new(),
    };
    tracing::info!(
        members = n,
        queue = entries.len(),
        addable = model.addable.len(),
        "queue phase"
    );

    let before = pool.stats().await?.1;
    let cpu_before = cpu_s(pid);
    let (ops, elapsed, unmatched, mismatch) = drive_sesh(
        sesh, &mut pool, &session, &members, &sockets, &mut model, rate, secs,
    )
    .await?;
    let cpu_after = cpu_s(pid);
    let after = pool.stats().await?.1;
    let mut phase = Phase {
        queue_len: entries.len(),
        unmatched,
        votes_mismatch: mismatch,
        ..Phase::default()
    };
    phase.account(&ops, n, elapsed);
    phase.refusals = ops
        .iter()
        .filter(|o| o.refused)
        .take(5)
        .map(|o| format!("{:?} {:?}", o.kind, o.key))
        .collect();
    phase.window_frames = after.queue_window - before.queue_window;
    phase.error_frames = after.error - before.error;
    phase.bytes_per_member_op =
        Some((after.bytes - before.bytes) as f64 / (n * ops.len().max(1)) as f64);
    phase.cpu_pct = cpu_before
        .zip(cpu_after)
        .map(|(b, a)| (a - b) / elapsed.as_secs_f64() * 100.0);
    pool.close().await?;
    sesh.end_sessions(&sessions).await?;
    Ok(phase)
}

/// A baseline room of `n` sockets, broadcast to at the same rate.
async fn baseline_phase(env: &mut Env, kind: ServerKind, n: usize) -> anyhow::Result<Phase> {
    let (rate, secs, procs) = (env.sizes.queue_rate, env.sizes.queue_secs, env.client_procs);
    let Server::Baseline(server) = env.server(kind).await? else {
        anyhow::bail!("not a baseline");
    };
    let pid = server.pid();
    let mut pool = ClientPool::spawn(n, procs).await?;
    let specs: Vec<ConnSpec> = (0..n)
        .map(|_| ConnSpec {
            id: pool.next_id(),
            kind: ConnKind::WebSocket,
            url: server.room_url(0),
            cookie: None,
            origin: None,
            join_url: None,
        })
        .collect();
    let outcome = pool.open(specs, None, 64, Duration::from_secs(60)).await?;
    if outcome.failed > 0 {
        anyhow::bail!(
            "{} sockets failed to open: {:?}",
            outcome.failed,
            outcome.errors
        );
    }
    let server = std::sync::Arc::new(*server);
    let total = ((rate * secs).round() as usize).max(1);
    let mut ops: Vec<Op> = Vec::with_capacity(total);
    let mut by_tag: HashMap<String, usize> = HashMap::new();
    let (answers_tx, mut answers) = mpsc::channel::<Answer>(1024);
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    pool.discard_events();
    let before = pool.stats().await?.1;
    let cpu_before = cpu_s(pid);
    let started = Instant::now();
    let mut drain_until: Option<Instant> = None;
    let mut unmatched = 0;
    loop {
        let all_issued = ops.len() == total;
        if all_issued && drain_until.is_none() {
            drain_until = Some(Instant::now() + RECEIPT_TIMEOUT);
        }
        if let Some(until) = drain_until
            && (Instant::now() >= until || ops.iter().all(|o| o.receipts.len() >= n))
        {
            break;
        }
        let wake = drain_until.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = interval.tick(), if !all_issued => {
                let i = ops.len();
                let tag = format!("q{i}");
                by_tag.insert(tag.clone(), i);
                ops.push(Op {
                    kind: OpKind::Broadcast, http: false, key: Key::Broadcast(tag.clone()), member: 0,
                    track: None, start_us: None, answer_us: None, entry: None, expect_votes: None,
                    receipts: Vec::new(), bytes: Vec::new(), refused: false, issued: Instant::now(),
                    open: true,
                });
                let server = server.clone();
                let tx = answers_tx.clone();
                tokio::spawn(async move {
                    let start_us = now_us();
                    let result = server.broadcast(0, &tag).await.map(|()| None).map_err(|e| e.to_string());
                    let answer_us = now_us();
                    let _ = tx.send(Answer { op: i, start_us, answer_us, result }).await;
                });
            }
            Some(answer) = answers.recv() => {
                let op = &mut ops[answer.op];
                op.start_us = Some(answer.start_us);
                op.answer_us = Some(answer.answer_us);
                op.refused = answer.result.is_err();
            }
            event = pool.next_event(wake) => match event {
                Some(Report::Change { track, recv_us, .. }) => match by_tag.get(&track) {
                    Some(&i) => ops[i].receipts.push(recv_us),
                    None => unmatched += 1,
                },
                Some(Report::Lost { reason, .. }) => anyhow::bail!("a socket was lost: {reason}"),
                _ => {}
            },
        }
    }
    let elapsed = started.elapsed();
    let cpu_after = cpu_s(pid);
    let after = pool.stats().await?.1;
    let mut phase = Phase {
        unmatched,
        ..Phase::default()
    };
    phase.account(&ops, n, elapsed);
    phase.http_ops = 0;
    phase.bytes_per_member_op =
        Some((after.bytes - before.bytes) as f64 / (n * ops.len().max(1)) as f64);
    phase.cpu_pct = cpu_before
        .zip(cpu_after)
        .map(|(b, a)| (a - b) / elapsed.as_secs_f64() * 100.0);
    pool.close().await?;
    Ok(phase)
}

/// `queue`: the small session, then the big one, then the baselines with a room of the big
/// one's size.
pub async fn queue(env: &mut Env) {
    let sizes = env.sizes.clone();
    let (n, small_n) = (sizes.queue_members, sizes.queue_small);
    let s = "queue";
    let mut big: BTreeMap<ServerKind, Phase> = BTreeMap::new();
    let mut small: Option<Phase> = None;
    for kind in env.servers.clone() {
        tracing::info!(scenario = s, server = kind.name(), "measuring");
        let result = if kind == ServerKind::Sesh {
            match sesh_phase(env, small_n).await {
                Ok(phase) => {
                    env.detail(format!("{s}/sesh/small"), phase.json());
                    small = Some(phase);
                    sesh_phase(env, n).await
                }
                Err(err) => Err(err),
            }
        } else {
            baseline_phase(env, kind, n).await
        };
        match result {
            Ok(phase) => {
                env.detail(format!("{s}/{}", kind.name()), phase.json());
                if phase.answer_ms.is_empty() {
                    env.fail(format!("{s}/{}: no frame was received", kind.name()));
                }
                if phase.refused * 2 > phase.ops {
                    env.fail(format!(
                        "{s}/{}: {} of {} operations refused: {:?}",
                        kind.name(),
                        phase.refused,
                        phase.ops,
                        phase.refusals
                    ));
                }
                big.insert(kind, phase);
            }
            Err(err) => env.fail(format!("{s}/{}: {err:#}", kind.name())),
        }
    }
    let rate = sizes.queue_rate;
    let row = |metric: &str, unit: &str, pick: &dyn Fn(&Phase) -> Option<f64>| {
        let values: Vec<(ServerKind, Option<f64>)> =
            [ServerKind::Sesh, ServerKind::Actix, ServerKind::Tungstenite]
                .into_iter()
                .map(|k| (k, big.get(&k).and_then(pick)))
                .collect();
        Row::new(s, metric, unit, &values)
    };
    let sesh_row = |metric: &str, unit: &str, value: Option<f64>| {
        Row::new(s, metric, unit, &[(ServerKind::Sesh, value)])
    };
    let p = |v: &Vec<f64>, f: fn(&Summary) -> f64| Summary::of(&mut v.clone()).as_ref().map(f);
    let big_len = big.get(&ServerKind::Sesh).map_or(0, |p| p.queue_len);
    let small_len = small.as_ref().map_or(0, |p| p.queue_len);
    let mut rows = vec![
        row(
            &format!("op answer→recv p50, {n} members, {rate} ops/s"),
            "ms",
            &|m| m.answer().map(|s| s.p50),
        ),
        row(
            &format!("op answer→recv p99, {n} members, {rate} ops/s"),
            "ms",
            &|m| m.answer().map(|s| s.p99),
        )
        .target("≤ 50 ms", Target::AtMost(50.0)),
        row("op answer→recv max", "ms", &|m| m.answer().map(|s| s.max)),
        row("op answer→last member p99", "ms", &|m| {
            p(&m.last_ms, |s| s.p99)
        }),
        row("op request→recv p99 (incl. the request)", "ms", &|m| {
            p(&m.request_ms, |s| s.p99)
        }),
        row("missed receipts", "count", &|m| Some(m.missed as f64))
            .target("0", Target::Equals(0.0)),
        row("achieved operation rate", "/s", &|m| Some(m.rate)),
        row("server CPU during the operations", "% core", &|m| m.cpu_pct),
        row("bytes received per member per operation", "B", &|m| {
            m.bytes_per_member_op
        }),
    ];
    if let Some(sesh) = big.get(&ServerKind::Sesh) {
        rows.extend([
            sesh_row(
                "HTTP ops answer→recv p99",
                "ms",
                p(&sesh.http_answer_ms, |s| s.p99),
            ),
            sesh_row(
                "WebSocket ops send→recv p99",
                "ms",
                p(&sesh.ws_send_ms, |s| s.p99),
            ),
            sesh_row("HTTP request→answer p99", "ms", p(&sesh.http_ms, |s| s.p99)),
            sesh_row("refused operations", "count", Some(sesh.refused as f64)),
            sesh_row(
                "queue / error frames during the operations",
                "count",
                Some((sesh.window_frames + sesh.error_frames) as f64),
            )
            .target("0", Target::Equals(0.0)),
        ]);
    }
    if let Some(small) = &small {
        rows.push(sesh_row(
            &format!("op answer→recv p99, {small_n} members (queue of {small_len})"),
            "ms",
            small.answer().map(|s| s.p99),
        ));
    }
    let sesh_big = big.get(&ServerKind::Sesh);
    for (kind, label) in [
        ("entry_votes", "vote"),
        ("entry_added", "add"),
        ("entry_removed", "remove"),
    ] {
        let at_small = small.as_ref().and_then(|p| p.mean_size(kind));
        let at_big = sesh_big.and_then(|p| p.mean_size(kind));
        rows.push(sesh_row(
            &format!("{kind} frame, queue of {small_len} (mean)"),
            "B",
            at_small,
        ));
        rows.push(sesh_row(
            &format!("{kind} frame, queue of {big_len} (mean)"),
            "B",
            at_big,
        ));
        if kind != "entry_removed" {
            rows.push(
                sesh_row(
                    &format!("{label} frame, queue {big_len} / queue {small_len}"),
                    "×",
                    at_small.zip(at_big).map(|(a, b)| b / a),
                )
                .target("≤ 1.5× (no growth with the queue)", Target::AtMost(1.5)),
            );
        }
    }
    if let Some(small) = &small {
        rows.push(sesh_row(
            &format!("bytes per member per operation, queue of {small_len}"),
            "B",
            small.bytes_per_member_op,
        ));
    }
    env.rows(rows);
}
