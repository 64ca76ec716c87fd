//! `join-storm`: members join at a fixed rate; each join is timed from the request to the
//! WebSocket `welcome` (for Sesh: `POST /api/join/{code}`, then the socket; for the
//! baselines, the socket alone).

use super::{Env, Server};
use crate::client::{ClientPool, ConnKind, ConnSpec, OpenOutcome};
use crate::report::{Row, Target};
use crate::stats::Summary;
use crate::target::ServerKind;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

struct Measure {
    outcome: OpenOutcome,
    achieved_rate: f64,
}

async fn measure(env: &mut Env, kind: ServerKind) -> anyhow::Result<Measure> {
    let sizes = env.sizes.clone();
    let procs = env.client_procs;
    let joins = (sizes.join_rate * sizes.join_secs).round() as usize;
    let per_session = sizes.room_size - 1;
    let rooms = joins.div_ceil(per_session);
    let mut server = env.server(kind).await?;
    let mut pool = ClientPool::spawn(joins, procs).await?;
    let mut specs = Vec::with_capacity(joins);
    let mut sessions = Vec::new();
    match &mut server {
        Server::Baseline(baseline) => {
            for i in 0..joins {
                specs.push(ConnSpec {
                    id: pool.next_id(),
                    kind: ConnKind::WebSocket,
                    url: baseline.room_url(i / per_session),
                    cookie: None,
                    origin: None,
                    join_url: None,
                });
            }
        }
        Server::Sesh(sesh) => {
            // Hosts are users 0..rooms (not connected); joiners follow them.
            sesh.ensure_users(rooms + joins).await?;
            sessions = sesh
                .setup_sessions(
                    (0..rooms).map(|h| (h, Vec::new())).collect(),
                    sizes.room_size,
                )
                .await?;
            for i in 0..joins {
                let session = &sessions[i / per_session];
                let mut spec = sesh.ws_spec(pool.next_id(), &session.id, rooms + i);
                spec.join_url = Some(sesh.api.join_url(&session.invite_code));
                specs.push(spec);
            }
        }
    }
    let started = Instant::now();
    let timeout = Duration::from_secs_f64(sizes.join_secs + 60.0);
    let outcome = pool
        .open(specs, Some(sizes.join_rate), 4096, timeout)
        .await?;
    let achieved_rate = outcome.opened as f64 / started.elapsed().as_secs_f64();
    pool.close().await?;
    if let Server::Sesh(sesh) = &server {
        sesh.end_sessions(&sessions).await?;
    }
    Ok(Measure {
        outcome,
        achieved_rate,
    })
}

/// `join-storm` on every server.
pub async fn join_storm(env: &mut Env) {
    let s = "join-storm";
    let rate = env.sizes.join_rate;
    let mut results = BTreeMap::new();
    for kind in env.servers.clone() {
        tracing::info!(scenario = s, server = kind.name(), "measuring");
        match measure(env, kind).await {
            Ok(m) => {
                let total = Summary::of(&mut m.outcome.total_ms.clone());
                env.detail(
                    format!("{s}/{}", kind.name()),
                    json!({
                        "opened": m.outcome.opened,
                        "failed": m.outcome.failed,
                        "errors": m.outcome.errors,
                        "achieved_rate": m.achieved_rate,
                        "join_post_ms": Summary::of(&mut m.outcome.join_ms.clone()),
                        "welcome_ms": Summary::of(&mut m.outcome.welcome_ms.clone()),
                        "total_ms": total,
                    }),
                );
                if m.outcome.opened == 0 {
                    env.fail(format!(
                        "{s}/{}: no join succeeded: {:?}",
                        kind.name(),
                        m.outcome.errors
                    ));
                }
                if m.outcome.failed > 0 {
                    env.fail(format!(
                        "{s}/{}: {} joins failed: {:?}",
                        kind.name(),
                        m.outcome.failed,
                        m.outcome.errors
                    ));
                }
                results.insert(kind, m);
            }
            Err(err) => env.fail(format!("{s}/{}: {err:#}", kind.name())),
        }
    }
    let row = |metric: &str, unit: &str, pick: &dyn Fn(&Measure) -> Option<f64>| {
        let values: Vec<(ServerKind, Option<f64>)> =
            [ServerKind::Sesh, ServerKind::Actix, ServerKind::Tungstenite]
                .into_iter()
                .map(|k| (k, results.get(&k).and_then(pick)))
                .collect();
        Row::new(s, metric, unit, &values)
    };
    let total = |f: fn(&Summary) -> f64| {
        move |m: &Measure| Summary::of(&mut m.outcome.total_ms.clone()).as_ref().map(f)
    };
    env.rows([
        row(
            &format!("join→welcome p50 at {rate:.0}/s"),
            "ms",
            &total(|s| s.p50),
        ),
        row(
            &format!("join→welcome p99 at {rate:.0}/s"),
            "ms",
            &total(|s| s.p99),
        )
        .target("≤ 30 ms", Target::AtMost(30.0)),
        row("join→welcome max", "ms", &total(|s| s.max)),
        row("POST /api/join p99", "ms", &|m: &Measure| {
            Summary::of(&mut m.outcome.join_ms.clone()).map(|s| s.p99)
        }),
        row("failed joins", "count", &|m: &Measure| {
            Some(m.outcome.failed as f64)
        })
        .target("0", Target::Equals(0.0)),
        row("achieved join rate", "/s", &|m: &Measure| {
            Some(m.achieved_rate)
        }),
    ]);
}
