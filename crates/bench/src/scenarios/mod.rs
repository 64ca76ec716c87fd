//! The scenarios, each run against every selected server with the same clients, and the
//! orchestration that turns their measurements into report rows.

mod cluster;
mod displays;
mod fanout;
mod join;
mod polling;
mod queue;
mod rooms;
mod spotify;

use crate::cli::{RunArgs, Sizes};
use crate::probe::Probe;
use crate::report::{Meta, Report, Row, Table};
use crate::sesh::{SeshLocation, SeshTarget, SpawnOptions};
use crate::target::{BaselineServer, ServerKind};
use std::collections::BTreeMap;

/// State shared by the scenarios of one run.
pub struct Env {
    /// Sizes in force.
    pub sizes: Sizes,
    /// Servers to compare, Sesh first when selected.
    pub servers: Vec<ServerKind>,
    /// How to reach Sesh.
    pub location: SeshLocation,
    /// The Sesh used by every scenario but `sessions`, `quality` and `poll-cpu`, opened on
    /// first use.
    sesh: Option<SeshTarget>,
    /// Minimum client processes.
    pub client_procs: usize,
    /// Budget of the Seshes started for `sessions` and `quality`.
    pub sessions_budget: u32,
    /// `--members-cluster`: nodes of the cluster `members` also runs on.
    pub cluster: Option<usize>,
    rows: Vec<Row>,
    tables: Vec<Table>,
    details: BTreeMap<String, serde_json::Value>,
    failures: Vec<String>,
}

/// A server started for one measurement: a baseline process, or the shared Sesh.
pub enum Server<'a> {
    /// Baseline child process.
    Baseline(Box<BaselineServer>),
    /// The run's Sesh.
    Sesh(&'a mut SeshTarget),
}

impl Server<'_> {
    /// Process id to read memory and CPU from.
    pub fn pid(&self) -> Option<u32> {
        match self {
            Server::Baseline(b) => b.pid(),
            Server::Sesh(s) => s.pid,
        }
    }

    /// Every process to read (and each node's counters).
    pub fn probe(&self) -> Probe {
        match self {
            Server::Baseline(b) => Probe::single(b.pid()),
            Server::Sesh(s) => Probe::of_sesh(s),
        }
    }
}

impl Env {
    fn new(args: &RunArgs) -> Env {
        let sizes = Sizes::resolve(args);
        let location = match (&args.target_url, &args.emulator_url) {
            (Some(url), Some(emulator_url)) => SeshLocation::Running {
                url: url.trim_end_matches('/').to_owned(),
                emulator_url: emulator_url.trim_end_matches('/').to_owned(),
                pid: args.server_pid,
            },
            _ => {
                let displays_cap = (sizes.displays + 1).max(100_000).to_string();
                let mut sesh_env = vec![
                    // Fan-out scenarios measure delivery, not the budget: let every poller
                    // poll at its own pace (the `sessions` scenario checks the budget).
                    ("SESH_SPOTIFY_BUDGET".to_owned(), "1000000".to_owned()),
                    // Every simulated member joins from 127.0.0.1; the per-IP invite limit
                    // is for guessing attacks, not for thousands of friends behind one IP.
                    ("SESH_INVITE_RATE".to_owned(), "0".to_owned()),
                    // Likewise the per-IP login limit (every simulated member logs in from
                    // 127.0.0.1), and the per-user limits on Spotify-reaching requests and
                    // session creations: the scenarios measure Sesh, not its abuse limits.
                    ("SESH_LOGIN_RATE".to_owned(), "0".to_owned()),
                    ("SESH_SPOTIFY_SEATS".to_owned(), "0".to_owned()),
                    ("SESH_SPOTIFY_USER_RATE".to_owned(), "0".to_owned()),
                    ("SESH_SESSIONS_PER_HOUR".to_owned(), "0".to_owned()),
                    // The `queue` scenario's small session has each member change the queue
                    // twice a second (its 200-member session, 6 times a minute: under the
                    // default 120).
                    ("SESH_QUEUE_ACTIONS_PER_MINUTE".to_owned(), "0".to_owned()),
                    // `big-room` asks for one session of thousands (the default cap is 200).
                    ("SESH_MAX_CAPACITY".to_owned(), "100000".to_owned()),
                    // `displays` opens thousands of display streams on one session, all from
                    // 127.0.0.1: the per-address request rate (300 a minute) and stream cap
                    // (20), and the per-session cap (500), are against abuse, not for one
                    // address that stands for a crowd of TVs.
                    ("SESH_DISPLAY_RATE".to_owned(), "0".to_owned()),
                    ("SESH_DISPLAYS_PER_IP".to_owned(), displays_cap.clone()),
                    ("SESH_DISPLAYS_PER_SESSION".to_owned(), displays_cap),
                ];
                sesh_env.extend(args.sesh_env.iter().cloned());
                SeshLocation::Spawn(SpawnOptions {
                    sesh_bin: args.sesh_bin.clone(),
                    emulator_bin: args.emulator_bin.clone(),
                    rate_limit: args.emulator_rate_limit,
                    sesh_env,
                    // The cluster comparison reads every Sesh's own counters, the single
                    // node's too.
                    metrics: args.members_cluster.is_some(),
                })
            }
        };
        let mut servers = args.servers.clone();
        servers.sort_by_key(|k| *k != ServerKind::Sesh);
        servers.dedup();
        Env {
            sizes,
            servers,
            location,
            sesh: None,
            client_procs: args.client_procs,
            sessions_budget: args.sessions_budget,
            cluster: args.members_cluster.map(usize::from),
            rows: Vec::new(),
            tables: Vec::new(),
            details: BTreeMap::new(),
            failures: Vec::new(),
        }
    }

    /// Starts (once) and returns the shared Sesh.
    pub async fn sesh(&mut self) -> anyhow::Result<&mut SeshTarget> {
        if self.sesh.is_none() {
            self.sesh = Some(SeshTarget::open(&self.location).await?);
        }
        self.sesh
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("Sesh is not running"))
    }

    /// Starts the server `kind` for one measurement.
    pub async fn server(&mut self, kind: ServerKind) -> anyhow::Result<Server<'_>> {
        match kind.baseline() {
            Some(baseline) => Ok(Server::Baseline(Box::new(
                BaselineServer::spawn(baseline).await?,
            ))),
            None => Ok(Server::Sesh(self.sesh().await?)),
        }
    }

    /// Whether Sesh is among the servers.
    pub fn with_sesh(&self) -> bool {
        self.servers.contains(&ServerKind::Sesh)
    }

    /// Adds report rows.
    pub fn rows(&mut self, rows: impl IntoIterator<Item = Row>) {
        self.rows.extend(rows);
    }

    /// Adds a side-by-side table.
    pub fn table(&mut self, table: Table) {
        self.tables.push(table);
    }

    /// Records details of a measurement.
    pub fn detail(&mut self, key: String, value: serde_json::Value) {
        self.details.insert(key, value);
    }

    /// Records a failure (the run will exit non-zero).
    pub fn fail(&mut self, what: String) {
        tracing::error!("{what}");
        self.failures.push(what);
    }
}

/// Runs the selected scenarios and returns the report.
pub async fn run(args: &RunArgs) -> Report {
    let meta = Meta::collect(args.quick);
    let mut env = Env::new(args);
    tracing::info!(sizes = ?env.sizes, servers = ?env.servers, "benchmark starting");
    if args.runs(args.members) {
        rooms::members(&mut env).await;
    }
    if args.runs(args.big_room) {
        rooms::big_room(&mut env).await;
    }
    if args.runs(args.join_storm) {
        join::join_storm(&mut env).await;
    }
    if args.runs(args.start) && env.with_sesh() {
        spotify::start(&mut env).await;
    }
    if args.runs(args.queue) {
        queue::queue(&mut env).await;
    }
    if args.runs(args.displays) && env.with_sesh() {
        // Its memory figures need a Sesh that no earlier scenario has grown (freed memory
        // the allocator keeps would take the new connections for free).
        env.sesh = None;
        displays::displays(&mut env).await;
    }
    if args.runs(args.calls) && env.with_sesh() {
        spotify::calls(&mut env).await;
    }
    // Last: each starts its own Sesh (the default budget, or an unlimited one per poll mode).
    env.sesh = None;
    if args.runs(args.quality) && env.with_sesh() {
        polling::quality(&mut env).await;
    }
    if args.runs(args.poll_cpu) && env.with_sesh() {
        polling::poll_cpu(&mut env).await;
    }
    if args.runs(args.sessions) && env.with_sesh() {
        polling::sessions(&mut env).await;
    }
    Report {
        meta,
        rows: env.rows,
        tables: env.tables,
        details: env.details,
        failures: env.failures,
    }
}
