//! `queue`: members of one playing session vote, add and remove tracks at a steady rate
//! (HTTP and WebSocket operations alternating), and every member's receipt of the resulting
//! delta frame is timed. Run at two queue lengths (a small session, then the big one) for the
//! frame sizes; the baselines get a trigger at the same rate to a room of the same size.

use super::{Env, Server};
use crate::client::{ClientPool, ConnSpec, QueueDelta, Report};
use crate::frame::now_us;
use crate::procstat::Snapshot;
use crate::report::{Row, Target};
use crate::sesh::{LiveSession, SeshTarget};
use crate::stats::Summary;
use crate::target::ServerKind;
use anyhow::Context;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long an operation waits for every member's receipt before its entry is used again.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Entries from the start of the queue left alone: the playing one and the one Spotify holds
/// are pinned (votes on them are refused), with a margin for a track change during the run.
const PINNED_MARGIN: usize = 5;
/// Tracks one member may have queued at once (the session default).
const MAX_QUEUED_PER_MEMBER: usize = 3;

/// What an operation's receipts are matched by: while an operation is in flight, nothing
/// else touches its entry (or, for an add, its track).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Votes(u64),
    Added(String),
    Removed(u64),
    Broadcast(String),
}

impl Key {
    fn of(delta: &QueueDelta) -> Key {
        match delta {
            QueueDelta::Votes { id, .. } => Key::Votes(*id),
            QueueDelta::Added { track, .. } => Key::Added(track.clone()),
            QueueDelta::Removed { id } => Key::Removed(*id),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Vote,
    Add,
    Remove,
    Broadcast,
}

/// One operation and what came of it.
struct Op {
    kind: OpKind,
    http: bool,
    key: Key,
    /// The adder of an add (to give the entry back to it for removal), or the remover.
    member: usize,
    /// An add's track URI, a removal's track (to add again later).
    track: Option<String>,
    /// Request sent (HTTP), frame handed to the socket (WebSocket), trigger sent (baseline).
    start_us: Option<i64>,
    /// HTTP answer (or the baseline trigger's), µs.
    answer_us: Option<i64>,
    /// The entry id an add produced.
    entry: Option<u64>,
    /// The net votes the driver expects an `entry_votes` frame to carry.
    expect_votes: Option<i64>,
    receipts: Vec<i64>,
    /// Bytes of each receipt.
    bytes: Vec<u32>,
    refused: bool,
    issued: Instant,
    open: bool,
}

/// What one server did at one queue length.
#[derive(Default)]
struct Phase {
    members: usize,
    queue_len: usize,
    ops: usize,
    http_ops: usize,
    refused: usize,
    refusals: Vec<String>,
    /// Answer (HTTP), send (WebSocket) or trigger answer (baseline) → receipt, ms.
    answer_ms: Vec<f64>,
    /// Request sent → receipt, ms.
    request_ms: Vec<f64>,
    http_answer_ms: Vec<f64>,
    ws_send_ms: Vec<f64>,
    /// Per operation: answer → the last member's receipt, ms.
    last_ms: Vec<f64>,
    /// HTTP request → answer, ms.
    http_ms: Vec<f64>,
    missed: usize,
    unmatched: usize,
    votes_mismatch: usize,
    /// Bytes of the frames received, by frame type.
    sizes: BTreeMap<&'static str, Vec<u32>>,
    /// Every byte members received during the operations, per member and operation.
    bytes_per_member_op: Option<f64>,
    /// `queue` (window) and `error` frames received during the operations.
    window_frames: u64,
    error_frames: u64,
    rate: f64,
    cpu_pct: Option<f64>,
}

impl Phase {
    fn answer(&self) -> Option<Summary> {
        Summary::of(&mut self.answer_ms.clone())
    }

    fn mean_size(&self, kind: &str) -> Option<f64> {
        let sizes = self.sizes.get(kind)?;
        (!sizes.is_empty())
            .then(|| sizes.iter().map(|&b| f64::from(b)).sum::<f64>() / sizes.len() as f64)
    }

    /// Folds the finished operations into latencies and sizes.
    fn account(&mut self, ops: &[Op], members: usize, elapsed: Duration) {
        self.members = members;
        self.ops = ops.len();
        self.rate = ops.len() as f64 / elapsed.as_secs_f64().max(1e-3);
        for op in ops {
            if op.refused {
                self.refused += 1;
                continue;
            }
            if op.http {
                self.http_ops += 1;
                if let (Some(s), Some(a)) = (op.start_us, op.answer_us) {
                    self.http_ms.push((a - s) as f64 / 1000.0);
                }
            }
            self.missed += members.saturating_sub(op.receipts.len());
            let from = op.answer_us.or(op.start_us);
            let kind = match op.kind {
                OpKind::Vote => "entry_votes",
                OpKind::Add => "entry_added",
                OpKind::Remove => "entry_removed",
                OpKind::Broadcast => "playback",
            };
            if !op.bytes.is_empty() {
                self.sizes.entry(kind).or_default().extend(&op.bytes);
            }
            let mut last: Option<f64> = None;
            for &recv in &op.receipts {
                if let Some(from) = from {
                    let ms = (recv - from) as f64 / 1000.0;
                    self.answer_ms.push(ms);
                    if op.http {
                        self.http_answer_ms.push(ms);
                    } else {
                        self.ws_send_ms.push(ms);
                    }
                    last = Some(last.map_or(ms, |l: f64| l.max(ms)));
                }
                if let Some(start) = op.start_us {
                    self.request_ms.push((recv - start) as f64 / 1000.0);
                }
            }
            if let Some(last) = last
                && op.receipts.len() >= members
            {
                self.last_ms.push(last);
            }
        }
    }

    fn json(&self) -> Value {
        let s =
            |v: &Vec<f64>| serde_json::to_value(Summary::of(&mut v.clone())).unwrap_or(Value::Null);
        let sizes: BTreeMap<&str, Value> = self
            .sizes
            .iter()
            .map(|(k, v)| {
                let max = v.iter().max().copied();
                (
                    *k,
                    json!({ "n": v.len(), "mean": self.mean_size(k), "max": max }),
                )
            })
            .collect();
        json!({
            "members": self.members,
            "queue_len": self.queue_len,
            "ops": self.ops,
            "http_ops": self.http_ops,
            "rate_per_s": self.rate,
            "refused": self.refused,
            "refusals": self.refusals,
            "answer_to_recv_ms": s(&self.answer_ms),
            "request_to_recv_ms": s(&self.request_ms),
            "http_answer_to_recv_ms": s(&self.http_answer_ms),
            "ws_send_to_recv_ms": s(&self.ws_send_ms),
            "answer_to_last_member_ms": s(&self.last_ms),
            "http_request_ms": s(&self.http_ms),
            "missed": self.missed,
            "unmatched": self.unmatched,
            "votes_mismatch": self.votes_mismatch,
            "frame_bytes": sizes,
            "bytes_per_member_op": self.bytes_per_member_op,
            "window_frames": self.window_frames,
            "error_frames": self.error_frames,
            "cpu_pct": self.cpu_pct,
        })
    }
}

/// A small deterministic generator (SplitMix64), so runs pick alike.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn cpu_s(pid: Option<u32>) -> Option<f64> {
    pid.and_then(|p| Snapshot::take(p).ok()).map(|s| s.cpu_s)
}

/// The driver's model of the session's queue, to pick operations that will be accepted and
/// to know what each should change.
struct Model {
    /// Entries that may be voted on, and their net votes.
    votes: HashMap<u64, i64>,
    votable: Vec<u64>,
    /// Each member's vote per entry.
    mine: HashMap<(usize, u64), i8>,
    /// Catalog tracks not in the queue (URIs).
    addable: Vec<String>,
    /// Entries added by the bench and settled: (adder, entry, track URI).
    removable: Vec<(usize, u64, String)>,
    queued_by: Vec<usize>,
    busy: HashMap<Key, usize>,
}

impl Model {
    fn pick_vote(&mut self, rng: &mut Rng, members: usize) -> Option<(usize, u64, i8, i64)> {
        for _ in 0..20 {
            let entry = *self.votable.get(rng.below(self.votable.len()))?;
            if self.busy.contains_key(&Key::Votes(entry)) {
                continue;
            }
            let member = rng.below(members);
            let current = self.mine.get(&(member, entry)).copied().unwrap_or(0);
            let vote = match current {
                0 if rng.unit() < 0.75 => 1,
                0 => -1,
                1 if rng.unit() < 0.7 => 0,
                1 => -1,
                _ => 0,
            };
            let total = self.votes.entry(entry).or_insert(0);
            *total += i64::from(vote) - i64::from(current);
            self.mine.insert((member, entry), vote);
            return Some((member, entry, vote, *total));
        }
        None
    }

    fn pick_add(&mut self, rng: &mut Rng, members: usize) -> Option<(usize, String)> {
        if self.addable.is_empty() {
            return None;
        }
        let member = (0..20)
            .map(|_| rng.below(members))
            .find(|m| self.queued_by[*m] < MAX_QUEUED_PER_MEMBER)?;
        let uri = self.addable.swap_remove(rng.below(self.addable.len()));
        self.queued_by[member] += 1;
        Some((member, uri))
    }

    fn pick_remove(&mut self, rng: &mut Rng) -> Option<(usize, u64, String)> {
        if self.removable.is_empty() {
            return None;
        }
        Some(self.removable.swap_remove(rng.below(self.removable.len())))
    }
}

fn track_id(uri: &str) -> String {
    uri.rsplit(':').next().unwrap_or(uri).to_owned()
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

/// Frees an operation's entry (or track) for the next operation and updates the model.
fn settle(op: &mut Op, model: &mut Model) {
    if !op.open {
        return;
    }
    op.open = false;
    model.busy.remove(&op.key);
    match op.kind {
        OpKind::Add if op.refused => {
            model.queued_by[op.member] = model.queued_by[op.member].saturating_sub(1);
        }
        OpKind::Add => {
            if let (Some(entry), Some(uri)) = (op.entry, &op.track) {
                model.removable.push((op.member, entry, uri.clone()));
            }
        }
        OpKind::Remove if !op.refused => {
            model.queued_by[op.member] = model.queued_by[op.member].saturating_sub(1);
            if let Some(uri) = &op.track {
                model.addable.push(uri.clone());
            }
        }
        _ => {}
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn op(http: bool, start_us: i64, answer_us: Option<i64>, receipts: Vec<i64>) -> Op {
        Op {
            kind: OpKind::Vote,
            http,
            key: Key::Votes(1),
            member: 0,
            track: None,
            start_us: Some(start_us),
            answer_us,
            entry: None,
            expect_votes: Some(1),
            bytes: vec![50; receipts.len()],
            receipts,
            refused: false,
            issued: Instant::now(),
            open: false,
        }
    }

    #[test]
    fn times_http_ops_from_the_answer_and_socket_ops_from_the_send() {
        let ops = vec![
            op(true, 1_000, Some(3_000), vec![4_000, 5_000]),
            op(false, 10_000, None, vec![12_000]),
        ];
        let mut phase = Phase::default();
        phase.account(&ops, 2, Duration::from_secs(1));
        assert_eq!(phase.http_answer_ms, vec![1.0, 2.0]);
        assert_eq!(phase.ws_send_ms, vec![2.0]);
        assert_eq!(phase.request_ms, vec![3.0, 4.0, 2.0]);
        // The socket op reached one member of two: one miss, no "last member" sample.
        assert_eq!((phase.missed, phase.last_ms.clone()), (1, vec![2.0]));
        assert_eq!(phase.mean_size("entry_votes"), Some(50.0));
    }

    #[test]
    fn votes_never_repeat_a_members_vote_and_keep_the_totals() {
        let mut model = Model {
            votes: HashMap::from([(7, 0)]),
            votable: vec![7],
            mine: HashMap::new(),
            addable: vec!["spotify:track:a".into()],
            removable: Vec::new(),
            queued_by: vec![0; 2],
            busy: HashMap::new(),
        };
        let mut rng = Rng(1);
        for _ in 0..50 {
            let (member, entry, vote, total) = model.pick_vote(&mut rng, 2).unwrap();
            assert_eq!(model.mine[&(member, entry)], vote);
            let sum: i64 = (0..2)
                .map(|m| i64::from(model.mine.get(&(m, 7)).copied().unwrap_or(0)))
                .sum();
            assert_eq!(total, sum);
        }
        model.busy.insert(Key::Votes(7), 0);
        assert!(model.pick_vote(&mut rng, 2).is_none());
        let (member, uri) = model.pick_add(&mut rng, 2).unwrap();
        assert_eq!(
            (model.queued_by[member], uri.as_str()),
            (1, "spotify:track:a")
        );
        assert!(model.pick_add(&mut rng, 2).is_none());
    }
}
