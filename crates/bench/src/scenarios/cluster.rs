//! `members` on a cluster (`--members-cluster N`, issue 22): the same plan as the single
//! node's, run twice more in the same run — on one `sesh` on PostgreSQL (the store's effect
//! alone), and on N `sesh` instances on one PostgreSQL behind Nginx, every member connected
//! through Nginx — and reported per node beside the single nodes: memory, sockets held,
//! fan-out (frames and bytes out, from each node's own counters), latency, CPU, Spotify calls;
//! and what the cluster costs beyond its nodes (Nginx, PostgreSQL).

use super::rooms::{Measure, Plan, measure_on, per_1000, record};
use super::{Env, Server};
use crate::probe::Sel;
use crate::report::{Row, Table};
use crate::sesh::metrics::Counters;
use crate::sesh::{OnPostgres, SeshLocation, SeshTarget};
use crate::stats::Summary;
use crate::target::ServerKind;
use std::collections::{BTreeMap, BTreeSet};

/// How Nginx routed the cluster's requests, from its access log.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub(super) struct Routing {
    /// Sessions with a request routed by id (`/api/sessions/{id}…`, `/ws/sessions/{id}`).
    pub(super) sessions: usize,
    /// Of those, sessions whose id-routed requests reached more than one node.
    pub(super) split: usize,
    /// Id-routed requests answered 503 (a node that does not run the session).
    pub(super) refused: usize,
}

/// Reads Nginx's access log (`METHOD URI STATUS UPSTREAM` per line).
fn routing(log: &str) -> Routing {
    let mut upstreams: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut refused = 0;
    for line in log.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, uri, status, upstream @ ..] = fields.as_slice() else {
            continue;
        };
        let Some(id) = ["/api/sessions/", "/ws/sessions/"]
            .iter()
            .find_map(|prefix| uri.strip_prefix(prefix))
            .map(|rest| rest.split('/').next().unwrap_or(rest))
            .filter(|id| id.len() == 36)
        else {
            continue;
        };
        if *status == "503" {
            refused += 1;
        }
        // `a, b` when Nginx passed the request on; the node that answered is the last.
        if let Some(last) = upstream.last() {
            upstreams.entry(id).or_default().insert(last);
        }
    }
    Routing {
        sessions: upstreams.len(),
        split: upstreams.values().filter(|nodes| nodes.len() > 1).count(),
        refused,
    }
}

/// Picks one of a node's counters.
type CounterOf = fn(&Counters) -> f64;

/// The hubs that moved between nodes in `m`, by node, reason and the phase in which the
/// counters grew, and whether any moved once the members were connecting; `None` when none
/// did.
fn moves(m: &Measure) -> Option<(String, bool)> {
    let mut phases: Vec<(&str, &crate::probe::Reading)> = vec![
        ("setup", &m.setup),
        ("connecting", &m.idle),
        ("start and bursts", &m.burst_window.end),
    ];
    if let Some(w) = &m.idle_window {
        phases.push(("idle", &w.end));
    }
    if let Some(w) = &m.stagger_window {
        phases.push(("staggered", &w.end));
    }
    phases.push(("end", &m.end));
    let reasons: [(&str, CounterOf); 3] = [
        ("taken_over", |k| k.taken_over),
        ("handed_back", |k| k.handed_back),
        ("lease_lost", |k| k.lease_lost),
    ];
    let (mut found, mut with_members) = (Vec::new(), false);
    for node in 0..m.before.counters.len() {
        let mut last = &m.before;
        for (phase, reading) in &phases {
            for (reason, f) in &reasons {
                let grew = reading.counter(Sel::Node(node), f).unwrap_or(0.0)
                    - last.counter(Sel::Node(node), f).unwrap_or(0.0);
                if grew > 0.0 {
                    found.push(format!("node {}: {grew} {reason} during {phase}", node + 1));
                    with_members |= *phase != "setup";
                }
            }
            last = reading;
        }
    }
    (!found.is_empty()).then(|| (found.join(", "), with_members))
}

/// One column of the table: a measure and which of its nodes.
struct Column<'a> {
    name: String,
    m: &'a Measure,
    sel: Sel,
    routing: Option<Routing>,
}

type Figure<'a> = &'a dyn Fn(&Column<'_>) -> Option<f64>;

const MB: f64 = 1024.0 * 1024.0;

fn sockets(c: &Column<'_>) -> Option<f64> {
    c.m.idle
        .counter(c.sel, |k| k.sockets)
        .or_else(|| (c.sel == Sel::All).then_some(c.m.outcome.opened as f64))
}

fn sessions(c: &Column<'_>) -> Option<f64> {
    let on = |n: &Option<usize>| match c.sel {
        Sel::All => n.is_some(),
        Sel::Node(i) => *n == Some(i),
    };
    Some(c.m.room_node.iter().filter(|n| on(n)).count() as f64)
}

/// Figures over the whole measure only (not split per node).
fn whole(c: &Column<'_>, f: impl Fn(&Measure) -> Option<f64>) -> Option<f64> {
    (c.sel == Sel::All).then(|| f(c.m)).flatten()
}

fn frames(k: &Counters) -> f64 {
    k.frames
}

fn burst_detect(c: &Column<'_>, f: fn(&Summary) -> f64) -> Option<f64> {
    c.m.burst
        .detect_in(|room| c.m.room_on(c.sel, room))
        .as_ref()
        .map(f)
}

/// CPU seconds of the other process `name` per second of the idle window.
fn aux_idle(c: &Column<'_>, name: &str) -> Option<f64> {
    let w = c.m.idle_window.as_ref()?;
    whole(c, |_| Some(w.aux_cpu(name)? / w.secs))
}

/// CPU ms of the other process `name` per 1,000 frames out in the staggered window.
fn aux_stagger(c: &Column<'_>, name: &str) -> Option<f64> {
    let w = c.m.stagger_window.as_ref()?;
    whole(c, |_| {
        per_1000(w.aux_cpu(name), w.counter(Sel::All, frames)?)
    })
}

/// The rows, each a figure per column.
fn rows(scenario: &str, columns: &[Column<'_>], bursts: usize) -> Vec<Row> {
    let bursts = bursts.max(1) as f64;
    let burst_frames =
        move |c: &Column<'_>| Some(c.m.burst_window.counter(c.sel, frames)? / bursts);
    let burst_kb =
        move |c: &Column<'_>| Some(c.m.burst_window.counter(c.sel, |k| k.bytes)? / bursts / 1024.0);
    let figures: Vec<(&str, &str, Figure<'_>)> = vec![
        ("member WebSockets held", "count", &sockets),
        ("sessions it runs (lease holder)", "count", &sessions),
        ("RSS freshly started", "MB", &|c| {
            Some(c.m.before.rss(c.sel)? as f64 / MB)
        }),
        ("RSS with the members connected, idle", "MB", &|c| {
            Some(c.m.idle.rss(c.sel)? as f64 / MB)
        }),
        ("RSS at the end (or idle, if larger)", "MB", &|c| {
            Some(c.m.rss_max(c.sel)? as f64 / MB)
        }),
        ("idle memory per member held", "KB", &|c| {
            let grew = c.m.idle.rss(c.sel)? as f64 - c.m.before.rss(c.sel)? as f64;
            let n = sockets(c)?;
            (n > 0.0).then_some(grew / n / 1024.0)
        }),
        (
            "… of which before sockets (logins, sessions, joins)",
            "KB",
            &|c| {
                let grew = c.m.setup.rss(c.sel)? as f64 - c.m.before.rss(c.sel)? as f64;
                let n = sockets(c)?;
                (n > 0.0).then_some(grew / n / 1024.0)
            },
        ),
        (
            "burst (every session at once) detect→recv p50",
            "ms",
            &|c| burst_detect(c, |s| s.p50),
        ),
        ("burst detect→recv p99", "ms", &|c| {
            burst_detect(c, |s| s.p99)
        }),
        ("burst change→recv p99 (incl. polling)", "ms", &|c| {
            c.m.burst
                .e2e_in(|room| c.m.room_on(c.sel, room))
                .map(|s| s.p99)
        }),
        (
            "one session's change detect→recv p99 (staggered)",
            "ms",
            &|c| {
                let t = c.m.stagger.as_ref()?;
                t.detect_in(|room| c.m.room_on(c.sel, room)).map(|s| s.p99)
            },
        ),
        ("missed deliveries (bursts + staggered)", "count", &|c| {
            whole(c, |m| {
                Some((m.burst.missed + m.stagger.as_ref().map_or(0, |t| t.missed)) as f64)
            })
        }),
        ("fan-out per burst: frames out", "count", &burst_frames),
        ("fan-out per burst: bytes out", "KB", &burst_kb),
        ("fan-out, staggered: frames out per second", "/s", &|c| {
            let w = c.m.stagger_window.as_ref()?;
            Some(w.counter(c.sel, frames)? / w.secs)
        }),
        ("fan-out, staggered: bytes out per second", "KB/s", &|c| {
            let w = c.m.stagger_window.as_ref()?;
            Some(w.counter(c.sel, |k| k.bytes)? / w.secs / 1024.0)
        }),
        ("server CPU per 1,000 frames out (staggered)", "ms", &|c| {
            let w = c.m.stagger_window.as_ref()?;
            per_1000(w.cpu(c.sel), w.counter(c.sel, frames)?)
        }),
        ("… net of idle CPU", "ms", &|c| {
            let w = c.m.stagger_window.as_ref()?;
            per_1000(c.m.stagger_cpu_net(c.sel), w.counter(c.sel, frames)?)
        }),
        ("server CPU per 1,000 frames out (bursts)", "ms", &|c| {
            let w = &c.m.burst_window;
            per_1000(w.cpu(c.sel), w.counter(c.sel, frames)?)
        }),
        (
            "server CPU while idle (members connected)",
            "% core",
            &|c| Some(c.m.idle_cpu_per_s(c.sel)? * 100.0),
        ),
        ("Spotify calls while idle", "/s", &|c| {
            let w = c.m.idle_window.as_ref()?;
            Some(w.counter(c.sel, |k| k.spotify)? / w.secs)
        }),
        ("… per session-minute", "/min", &|c| {
            let w = c.m.idle_window.as_ref()?;
            let n = sessions(c)?;
            (n > 0.0).then_some(w.counter(c.sel, |k| k.spotify)? / w.secs * 60.0 / n)
        }),
        (
            "Spotify calls per session-minute (staggered changes)",
            "/min",
            &|c| {
                let w = c.m.stagger_window.as_ref()?;
                let n = sessions(c)?;
                (n > 0.0).then_some(w.counter(c.sel, |k| k.spotify)? / w.secs * 60.0 / n)
            },
        ),
        (
            "player polls at the emulator ÷ polls the nodes counted (staggered)",
            "×",
            &|c| {
                let w = c.m.stagger_window.as_ref()?;
                whole(c, |_| {
                    let counted = w.counter(Sel::All, |k| k.polls)?;
                    (counted > 0.0).then_some(w.emulator_polls()? as f64 / counted)
                })
            },
        ),
        ("Nginx CPU while idle (master + workers)", "% core", &|c| {
            Some(aux_idle(c, "nginx")? * 100.0)
        }),
        ("Nginx CPU per 1,000 frames out (staggered)", "ms", &|c| {
            aux_stagger(c, "nginx")
        }),
        (
            "Nginx RSS freshly started (master + workers: shared pages counted in each)",
            "MB",
            &|c| whole(c, |m| Some(m.before.aux("nginx")?.rss as f64 / MB)),
        ),
        ("Nginx RSS, members connected", "MB", &|c| {
            whole(c, |m| Some(m.idle.aux("nginx")?.rss as f64 / MB))
        }),
        (
            "Nginx memory per member (RSS growth ÷ members)",
            "KB",
            &|c| {
                whole(c, |m| {
                    let grew = m.idle.aux("nginx")?.rss as f64 - m.before.aux("nginx")?.rss as f64;
                    (m.outcome.opened > 0).then_some(grew / m.outcome.opened as f64 / 1024.0)
                })
            },
        ),
        ("Nginx sockets held, members connected", "count", &|c| {
            whole(c, |m| Some(m.idle.aux_sockets("nginx")? as f64))
        }),
        (
            "PostgreSQL CPU while idle (all its processes)",
            "% core",
            &|c| Some(aux_idle(c, "postgres")? * 100.0),
        ),
        (
            "PostgreSQL CPU per 1,000 frames out (staggered)",
            "ms",
            &|c| aux_stagger(c, "postgres"),
        ),
        (
            "every process's CPU while idle (sesh + Nginx + PostgreSQL)",
            "% core",
            &|c| {
                let w = c.m.idle_window.as_ref()?;
                let aux: f64 = ["nginx", "postgres"]
                    .iter()
                    .filter_map(|name| w.aux_cpu(name))
                    .sum();
                whole(c, |_| Some((w.cpu(Sel::All)? + aux) / w.secs * 100.0))
            },
        ),
        (
            "every process's CPU per 1,000 frames out (staggered)",
            "ms",
            &|c| {
                let w = c.m.stagger_window.as_ref()?;
                let aux: f64 = ["nginx", "postgres"]
                    .iter()
                    .filter_map(|name| w.aux_cpu(name))
                    .sum();
                whole(c, |_| {
                    per_1000(Some(w.cpu(Sel::All)? + aux), w.counter(Sel::All, frames)?)
                })
            },
        ),
        ("subscribers dropped as slow consumers", "count", &|c| {
            Some(
                c.m.end.counter(c.sel, |k| k.dropped)?
                    - c.m.before.counter(c.sel, |k| k.dropped)?,
            )
        }),
        (
            "hubs moved between nodes during setup (sesh_session_moves_total)",
            "count",
            &|c| {
                Some(
                    c.m.setup.counter(c.sel, |k| k.moves)?
                        - c.m.before.counter(c.sel, |k| k.moves)?,
                )
            },
        ),
        (
            "… from the members' connecting to the end",
            "count",
            &|c| {
                Some(c.m.end.counter(c.sel, |k| k.moves)? - c.m.setup.counter(c.sel, |k| k.moves)?)
            },
        ),
        (
            "joins answered 307 session_moved, followed to the id-bearing alias",
            "count",
            &|c| whole(c, |m| Some(m.join_redirects as f64)),
        ),
        (
            "joins refused with 503 session_elsewhere, sent again",
            "count",
            &|c| whole(c, |m| Some(m.join_refusals as f64)),
        ),
        (
            "sessions whose requests Nginx sent to more than one node",
            "count",
            &|c| whole(c, |_| Some(c.routing?.split as f64)),
        ),
        (
            "sockets the server closed once every member was connected",
            "count",
            &|c| whole(c, |m| Some(m.closed_by_server()? as f64)),
        ),
        ("sockets that failed to open", "count", &|c| {
            whole(c, |m| Some(m.outcome.failed as f64))
        }),
        ("time to connect every member", "s", &|c| {
            whole(c, |m| Some(m.connect_s))
        }),
        ("handshake→welcome p99", "ms", &|c| {
            whole(c, |m| {
                Summary::of(&mut m.outcome.welcome_ms.clone()).map(|s| s.p99)
            })
        }),
    ];
    figures
        .into_iter()
        .map(|(metric, unit, figure)| {
            let values: Vec<(String, Option<f64>)> = columns
                .iter()
                .map(|c| (c.name.clone(), figure(c)))
                .collect();
            Row::columns(scenario, metric, unit, &values)
        })
        .collect()
}

/// Runs `plan` on one `sesh` on PostgreSQL and on `nodes` behind Nginx, and adds the table
/// beside `sqlite` (the run's single node, when it was measured).
pub(super) async fn members(env: &mut Env, plan: &Plan, sqlite: Option<&Measure>, nodes: usize) {
    let scenario = "members-cluster";
    let SeshLocation::Spawn(options) = env.location.clone() else {
        env.fail(format!("{scenario}: needs a Sesh the benchmark starts"));
        return;
    };
    // The run's Sesh (idle now, its sessions ended) gives its memory and its emulator back;
    // a later scenario starts a fresh one.
    env.sesh = None;
    let sockets = plan.rooms * plan.per_room;
    let single = OnPostgres {
        nodes: 1,
        behind_nginx: false,
        sockets,
    };
    let cluster = OnPostgres {
        nodes,
        behind_nginx: true,
        sockets,
    };
    let plural = if nodes == 1 { "" } else { "s" };
    let cluster_name = format!("{nodes} node{plural} behind Nginx");
    let mut measured: Vec<(String, Measure, Option<Routing>)> = Vec::new();
    for (name, layout) in [
        ("PostgreSQL, 1 node".to_owned(), single),
        (cluster_name.clone(), cluster),
    ] {
        tracing::info!(scenario, server = name.as_str(), "measuring");
        let result = async {
            let mut target = SeshTarget::open_on_postgres(&options, layout).await?;
            let m = measure_on(
                Server::Sesh(&mut target),
                ServerKind::Sesh,
                env.client_procs,
                plan,
            )
            .await?;
            let routing = target.nginx_access_log().map(|log| routing(&log));
            anyhow::Ok((m, routing))
        }
        .await;
        let (result, routing) = match result {
            Ok((m, routing)) => (Ok(m), routing),
            Err(e) => (Err(e), None),
        };
        let Some(m) = record(env, scenario, &name, result) else {
            continue;
        };
        if let Some(routing) = routing {
            env.detail(
                format!("{scenario}/{name}/routing"),
                serde_json::to_value(routing).unwrap_or_default(),
            );
            if routing.split > 0 {
                env.fail(format!(
                    "{scenario}/{name}: Nginx sent the requests of {} of {} sessions to more \
                     than one node",
                    routing.split, routing.sessions
                ));
            }
        }
        if let Some((moved, with_members)) = moves(&m) {
            let what = format!(
                "{scenario}/{name}: hubs moved between nodes (sesh_session_moves_total): {moved}"
            );
            // Before any socket a move closes nothing (a sweep that meets a session being
            // created counts it handed back); once the members connect it closes their sockets.
            if with_members {
                env.fail(what);
            } else {
                tracing::warn!("{what}");
            }
            env.detail(format!("{scenario}/{name}/moves"), moved.into());
        }
        if m.room_node.iter().any(Option::is_none) {
            let missing = m.room_node.iter().filter(|n| n.is_none()).count();
            env.fail(format!(
                "{scenario}/{name}: {missing} sessions had no lease holder with the members connected"
            ));
        }
        measured.push((name, m, routing));
    }

    let mut columns: Vec<Column<'_>> = Vec::new();
    if let Some(m) = sqlite {
        columns.push(Column {
            name: "SQLite, 1 node".to_owned(),
            m,
            sel: Sel::All,
            routing: None,
        });
    }
    for (name, m, routing) in &measured {
        if *name == cluster_name {
            for i in 0..m.idle.nodes.len() {
                columns.push(Column {
                    name: format!("node {}", i + 1),
                    m,
                    sel: Sel::Node(i),
                    routing: None,
                });
            }
            columns.push(Column {
                name: format!("{nodes} node{plural}, together"),
                m,
                sel: Sel::All,
                routing: *routing,
            });
        } else {
            columns.push(Column {
                name: name.clone(),
                m,
                sel: Sel::All,
                routing: *routing,
            });
        }
    }
    let table = Table {
        title: format!(
            "members on {nodes} node{plural} behind Nginx beside one node ({} members in sessions of {})",
            sockets, plan.per_room
        ),
        columns: columns.iter().map(|c| c.name.clone()).collect(),
        rows: rows(scenario, &columns, plan.bursts),
    };
    env.table(table);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_which_node_served_each_session() {
        let a = "0b6f2c1e-0000-4000-8000-000000000001";
        let b = "0b6f2c1e-0000-4000-8000-000000000002";
        let log = format!(
            "POST /api/sessions 201 127.0.0.1:3\n\
             GET /api/sessions/{a} 200 127.0.0.1:1\n\
             GET /ws/sessions/{a} 101 127.0.0.1:1\n\
             POST /api/sessions/{a}/start 200 127.0.0.1:2, 127.0.0.1:1\n\
             GET /api/sessions/{b} 200 127.0.0.1:2\n\
             GET /ws/sessions/{b} 503 127.0.0.1:3\n\
             POST /api/join/abcd 503 127.0.0.1:3\n"
        );
        let r = routing(&log);
        assert_eq!((r.sessions, r.split, r.refused), (2, 1, 1));
    }
}
