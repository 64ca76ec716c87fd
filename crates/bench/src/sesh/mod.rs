//! Sesh as a benchmark target: started as child processes (or reached by URL), with a
//! pool of logged-in generated users (`gen-<n>`) that scenarios turn into hosts and
//! members.

mod api;
mod spawn;

pub use api::{ApiError, CreatedSession, EmulatorPlayer, SeshApi};
pub use spawn::SpawnOptions;

use crate::client::{ConnKind, ConnSpec};
use futures_util::{StreamExt, TryStreamExt, stream};
use std::collections::HashMap;
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

/// A Sesh server under test and its logged-in users.
pub struct SeshTarget {
    /// HTTP API client.
    pub api: SeshApi,
    /// Sesh's process id, when known.
    pub pid: Option<u32>,
    _spawned: Option<spawn::Spawned>,
    /// `sesh_sid=...` cookie of user `gen-<i>` at index `i`.
    cookies: Vec<String>,
    devices: HashMap<usize, String>,
}

impl SeshTarget {
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
        Ok(SeshTarget {
            api,
            pid,
            _spawned: spawned,
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
            .map(|(guest, code)| async move { api.join(self.cookie(guest), code).await })
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
