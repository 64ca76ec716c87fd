//! Sesh as a benchmark target: started as child processes (or reached by URL), with a
//! pool of logged-in generated users (`gen-<n>`) that scenarios turn into hosts and
//! members. One `sesh` on SQLite, as a self-hoster runs it; or, for the cluster comparison,
//! one on PostgreSQL, or several on one PostgreSQL behind Nginx.

mod api;
pub mod metrics;
mod nginx;
mod postgres;
mod spawn;
mod watch;

pub use api::{ApiError, CreatedSession, EmulatorPlayer, JoinHops, SeshApi};
pub use spawn::{OnPostgres, SpawnOptions};

use crate::client::{ConnKind, ConnSpec};
use futures_util::{StreamExt, TryStreamExt, stream};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Concurrent HTTP calls while setting up (logins, joins, starts).
const SETUP_CONCURRENCY: usize = 32;

/// How to reach Sesh.
#[derive(Debug, Clone)]
pub enum SeshLocation {
    /// Start `sesh` and an emulator.
    Spawn(SpawnOptions),
    /// Use running ones.
    Running {
        /// Sesh's base URL (also its public URL).
        url: String,
        /// The emulator's base URL, control API on.
        emulator_url: String,
        /// Sesh's process id, for memory and CPU readings.
        pid: Option<u32>,
    },
}

/// A listening session set up by a scenario.
#[derive(Debug, Clone)]
pub struct LiveSession {
    /// Session id.
    pub id: String,
    /// Invite code.
    pub invite_code: String,
    /// Index of the host in the user pool.
    pub host: usize,
    /// Indices of the other members in the user pool.
    pub guests: Vec<usize>,
}

/// One `sesh` process of a target.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its `SESH_NODE_ID` (its address as Nginx lists it), or `sesh` for a Sesh reached by URL.
    pub id: String,
    /// Its process id, when known.
    pub pid: Option<u32>,
    /// Its `GET /metrics`, when it serves one.
    pub metrics_url: Option<String>,
}

/// Requests of one join (redirects and refusals included) before it counts as failed.
const JOIN_ATTEMPTS: u64 = 50;

/// A Sesh server under test and its logged-in users.
pub struct SeshTarget {
    /// HTTP API client.
    pub api: SeshApi,
    /// Sesh's process id, when known (the first node's, for several).
    pub pid: Option<u32>,
    /// Every `sesh` process: one, or a cluster's nodes.
    pub nodes: Vec<Node>,
    /// A cluster's other processes, by name: `nginx` (its master) and `postgres` (its
    /// postmaster); their children (workers, backends) count with them.
    pub aux: Vec<(String, u32)>,
    /// Several nodes behind Nginx: setup follows the cluster's routing (see
    /// [`setup_sessions`](Self::setup_sessions)).
    pub routed: bool,
    /// Joins answered 307 `session_moved` (and followed to the session's alias) so far.
    pub join_redirects: AtomicU64,
    /// Joins refused with 503 `session_elsewhere` (and sent again) so far.
    pub join_refusals: AtomicU64,
    /// What the benchmark started (stopped on drop); `None` for a Sesh reached by URL.
    processes: Option<spawn::Spawned>,
    /// `sesh_sid=...` cookie of user `gen-<i>` at index `i`.
    cookies: Vec<String>,
    devices: HashMap<usize, String>,
}

impl SeshTarget {
    /// Starts `layout.nodes` `sesh` processes on a throwaway PostgreSQL (behind Nginx when
    /// asked), with their own emulator.
    pub async fn open_on_postgres(
        options: &SpawnOptions,
        layout: OnPostgres,
    ) -> anyhow::Result<SeshTarget> {
        let spawned = spawn::spawn_on_postgres(options, layout).await?;
        let api = SeshApi::new(
            spawned.sesh_url.clone(),
            spawned.sesh_url.clone(),
            spawned.emulator_url.clone(),
        )?;
        let aux = [
            ("nginx", spawned.nginx_pid()),
            ("postgres", spawned.postgres_pid()),
        ]
        .into_iter()
        .filter_map(|(name, pid)| Some((name.to_owned(), pid?)))
        .collect();
        Ok(SeshTarget {
            api,
            pid: spawned.sesh_pid(),
            nodes: Self::nodes_of(&spawned),
            aux,
            routed: layout.behind_nginx && layout.nodes > 1,
            join_redirects: AtomicU64::new(0),
            join_refusals: AtomicU64::new(0),
            processes: Some(spawned),
            cookies: Vec::new(),
            devices: HashMap::new(),
        })
    }

    fn nodes_of(spawned: &spawn::Spawned) -> Vec<Node> {
        spawned
            .nodes()
            .iter()
            .map(|n| Node {
                id: n.id.clone(),
                pid: n.pid(),
                metrics_url: n.metrics_url.clone(),
            })
            .collect()
    }

    /// For each of `sessions`, the index in [`nodes`](Self::nodes) of the node that holds its
    /// lease now (on PostgreSQL); every session on node 0 otherwise. A session whose lease
    /// nobody holds is `None`.
    pub async fn session_nodes(
        &self,
        sessions: &[LiveSession],
    ) -> anyhow::Result<Vec<Option<usize>>> {
        let owners = match &self.processes {
            Some(spawned) => spawned.lease_owners().await?,
            None => None,
        };
        let Some(owners) = owners else {
            return Ok(vec![Some(0); sessions.len()]);
        };
        let owner: HashMap<String, String> = owners.into_iter().collect();
        Ok(sessions
            .iter()
            .map(|s| {
                let node = owner.get(&s.id)?;
                self.nodes.iter().position(|n| &n.id == node)
            })
            .collect())
    }

    /// Nginx's access log so far, when the target has an Nginx.
    pub fn nginx_access_log(&self) -> Option<String> {
        self.processes.as_ref()?.nginx_access_log()
    }

    /// Starts or connects to Sesh.
    pub async fn open(location: &SeshLocation) -> anyhow::Result<SeshTarget> {
        let (api, pid, spawned) = match location {
            SeshLocation::Spawn(options) => {
                let spawned = spawn::spawn(options).await?;
                let api = SeshApi::new(
                    spawned.sesh_url.clone(),
                    spawned.sesh_url.clone(),
                    spawned.emulator_url.clone(),
                )?;
                (api, spawned.sesh_pid(), Some(spawned))
            }
            SeshLocation::Running {
                url,
                emulator_url,
                pid,
            } => {
                let api = SeshApi::new(url.clone(), url.clone(), emulator_url.clone())?;
                if !api.healthy().await {
                    anyhow::bail!("{url}/healthz does not answer 200");
                }
                (api, *pid, None)
            }
        };
        let nodes = match &spawned {
            Some(spawned) => Self::nodes_of(spawned),
            None => vec![Node {
                id: "sesh".to_owned(),
                pid,
                metrics_url: None,
            }],
        };
        Ok(SeshTarget {
            api,
            pid,
            nodes,
            aux: Vec::new(),
            routed: false,
            join_redirects: AtomicU64::new(0),
            join_refusals: AtomicU64::new(0),
            processes: spawned,
            cookies: Vec::new(),
            devices: HashMap::new(),
        })
    }

    /// The emulator user id of pool index `i`.
    pub fn user_name(i: usize) -> String {
        format!("gen-{i}")
    }

    /// The cookie of pool user `i` (after [`ensure_users`](Self::ensure_users)).
    pub fn cookie(&self, i: usize) -> &str {
        self.cookies.get(i).map(String::as_str).unwrap_or("")
    }

    /// Makes sure users `gen-0..gen-<n>` are logged in; returns the time spent.
    pub async fn ensure_users(&mut self, n: usize) -> anyhow::Result<Duration> {
        let started = Instant::now();
        if n <= self.cookies.len() {
            return Ok(started.elapsed());
        }
        let api = &self.api;
        let fresh: Vec<String> = stream::iter(self.cookies.len()..n)
            .map(|i| async move { api.login(&Self::user_name(i)).await })
            .buffered(SETUP_CONCURRENCY)
            .try_collect()
            .await?;
        let count = fresh.len();
        self.cookies.extend(fresh);
        tracing::info!(count, elapsed = ?started.elapsed(), "logged users in");
        Ok(started.elapsed())
    }

    /// Creates one session per host with room for at least `capacity` members, then joins
    /// the guests; every user must be logged in.
    ///
    /// Behind Nginx with several nodes ([`routed`](Self::routed)), as a browser would: the
    /// creation lands on any node, which gives the new session's lease up; the host then reads
    /// the session by its id (as the host's page does, before anybody has the invite), so the
    /// node Nginx routes the id to claims it. A join by invite code carries no id and lands on
    /// any node: another node answers 307 `session_moved` to the join's id-bearing alias,
    /// which is followed ([`join_redirects`](Self::join_redirects)), or 503
    /// `session_elsewhere`, and the join is sent again ([`join_refusals`](Self::join_refusals)).
    pub async fn setup_sessions(
        &self,
        groups: Vec<(usize, Vec<usize>)>,
        capacity: usize,
    ) -> anyhow::Result<Vec<LiveSession>> {
        let started = Instant::now();
        let api = &self.api;
        let sessions: Vec<LiveSession> = stream::iter(groups)
            .map(|(host, guests)| async move {
                // Sesh's default capacity is 50; ask for what the scenario needs.
                let capacity = (guests.len() + 1).max(capacity).max(2);
                let created = api.create_session(self.cookie(host), capacity).await?;
                if self.routed {
                    api.session(self.cookie(host), &created.id).await?;
                }
                Ok::<_, ApiError>(LiveSession {
                    id: created.id,
                    invite_code: created.invite_code,
                    host,
                    guests,
                })
            })
            .buffered(SETUP_CONCURRENCY)
            .try_collect()
            .await?;
        let joins: Vec<(usize, &str)> = sessions
            .iter()
            .flat_map(|s| s.guests.iter().map(|g| (*g, s.invite_code.as_str())))
            .collect();
        let join_count = joins.len();
        stream::iter(joins)
            .map(|(guest, code)| async move {
                let hops = api
                    .join_following(self.cookie(guest), code, JOIN_ATTEMPTS)
                    .await?;
                self.join_redirects
                    .fetch_add(hops.redirected, Ordering::Relaxed);
                self.join_refusals
                    .fetch_add(hops.refused, Ordering::Relaxed);
                Ok::<_, ApiError>(())
            })
            .buffer_unordered(SETUP_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        tracing::info!(sessions = sessions.len(), joins = join_count, elapsed = ?started.elapsed(), "sessions set up");
        Ok(sessions)
    }

    /// Looks up (once) the first device of each session's host.
    pub async fn prefetch_devices(&mut self, sessions: &[LiveSession]) -> anyhow::Result<()> {
        let api = &self.api;
        let mut missing: Vec<usize> = sessions
            .iter()
            .map(|s| s.host)
            .filter(|h| !self.devices.contains_key(h))
            .collect();
        missing.dedup();
        let this = &*self;
        let found: Vec<(usize, String)> = stream::iter(missing)
            .map(|host| async move {
                Ok::<_, ApiError>((host, api.first_device(this.cookie(host)).await?))
            })
            .buffered(SETUP_CONCURRENCY)
            .try_collect()
            .await?;
        self.devices.extend(found);
        Ok(())
    }

    /// Starts every session on its host's first device; returns each start's latency
    /// (the device look-up is not part of it).
    pub async fn start_sessions(
        &mut self,
        sessions: &[LiveSession],
    ) -> anyhow::Result<Vec<Duration>> {
        self.prefetch_devices(sessions).await?;
        let this = &*self;
        let api = &self.api;
        let devices = &self.devices;
        let latencies = stream::iter(sessions)
            .map(|s| async move {
                let device = devices.get(&s.host).map(String::as_str).unwrap_or("");
                api.start(this.cookie(s.host), &s.id, device).await
            })
            .buffered(SETUP_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(latencies)
    }

    /// Ends the sessions (so their pollers stop before the next scenario).
    pub async fn end_sessions(&self, sessions: &[LiveSession]) -> anyhow::Result<()> {
        let api = &self.api;
        stream::iter(sessions)
            .map(|s| async move { api.end(self.cookie(s.host), &s.id).await })
            .buffer_unordered(SETUP_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// The WebSocket of pool user `user` in `session`.
    pub fn ws_spec(&self, id: u32, session: &str, user: usize) -> ConnSpec {
        let ws_base = self.api.base.replacen("http", "ws", 1);
        ConnSpec {
            id,
            kind: ConnKind::WebSocket,
            url: format!("{ws_base}/ws/sessions/{session}"),
            cookie: Some(self.cookie(user).to_owned()),
            origin: Some(self.api.public_url.clone()),
            join_url: None,
        }
    }

    /// The display stream of `key` (`GET /d/{key}/events`): no login, no origin.
    pub fn display_spec(&self, id: u32, key: &str) -> ConnSpec {
        ConnSpec {
            id,
            kind: ConnKind::Display,
            url: format!("{}/d/{key}/events", self.api.base),
            cookie: None,
            origin: None,
            join_url: None,
        }
    }
}
