//! The driver's side of the client processes: spawn them, hand out sockets, collect
//! their reports.

use super::{Command, ConnSpec, FrameCounts, Report};
use anyhow::Context;
use std::collections::{HashMap, VecDeque};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Sockets per client process: well under the 20,000 open files a process may hold.
pub const SOCKETS_PER_PROCESS: usize = 8_000;

struct ClientProcess {
    child: Child,
    stdin: ChildStdin,
}

/// A set of client processes and the merged stream of their reports.
pub struct ClientPool {
    processes: Vec<ClientProcess>,
    reports: mpsc::Receiver<Report>,
    /// `Change`/`Lost` reports that arrived while waiting for something else.
    stash: VecDeque<Report>,
    next_id: u32,
    /// The process holding each socket.
    owner: HashMap<u32, usize>,
}

/// The result of opening a batch of sockets.
#[derive(Debug, Default)]
pub struct OpenOutcome {
    /// Sockets that got their `welcome`.
    pub opened: usize,
    /// Sockets that failed (or did not answer in time).
    pub failed: usize,
    /// The first few failure reasons.
    pub errors: Vec<String>,
    /// Ids of the sockets that failed.
    pub failed_ids: Vec<u32>,
    /// Join `POST` durations (ms), when sockets had a join URL.
    pub join_ms: Vec<f64>,
    /// Handshake-to-welcome durations (ms).
    pub welcome_ms: Vec<f64>,
    /// Join plus welcome (ms).
    pub total_ms: Vec<f64>,
}

impl ClientPool {
    /// Spawns enough client processes for `sockets` sockets (at least `min_processes`).
    pub async fn spawn(sockets: usize, min_processes: usize) -> anyhow::Result<ClientPool> {
        let count = sockets
            .div_ceil(SOCKETS_PER_PROCESS)
            .max(min_processes)
            .max(1);
        let exe = std::env::current_exe().context("locating sesh-bench")?;
        let (tx, reports) = mpsc::channel(64 * 1024);
        let mut processes = Vec::with_capacity(count);
        for _ in 0..count {
            let mut child = tokio::process::Command::new(&exe)
                .arg("client")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .env(
                    "RUST_LOG",
                    std::env::var("SESH_BENCH_CHILD_LOG").unwrap_or_else(|_| "warn".into()),
                )
                .kill_on_drop(true)
                .spawn()
                .context("spawning a client process")?;
            let stdin = child.stdin.take().context("client stdin")?;
            let stdout = child.stdout.take().context("client stdout")?;
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    match serde_json::from_str::<Report>(&line) {
                        Ok(report) => {
                            if tx.send(report).await.is_err() {
                                break;
                            }
                        }
                        Err(err) => tracing::warn!(%err, line, "unreadable client report"),
                    }
                }
            });
            processes.push(ClientProcess { child, stdin });
        }
        Ok(ClientPool {
            processes,
            reports,
            stash: VecDeque::new(),
            next_id: 0,
            owner: HashMap::new(),
        })
    }

    /// A fresh socket id, unique within this pool.
    pub fn next_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    async fn send(&mut self, process: usize, command: &Command) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(command)?;
        line.push(b'\n');
        let stdin = &mut self.processes[process].stdin;
        stdin
            .write_all(&line)
            .await
            .context("writing to a client process")?;
        stdin.flush().await?;
        Ok(())
    }

    async fn recv(&mut self, deadline: Instant) -> Option<Report> {
        tokio::time::timeout_at(deadline, self.reports.recv())
            .await
            .ok()
            .flatten()
    }

    /// Opens `conns` spread over the processes, paced at `rate_per_s` in total, and
    /// waits (up to `timeout`) until every one has reported.
    pub async fn open(
        &mut self,
        conns: Vec<ConnSpec>,
        rate_per_s: Option<f64>,
        max_in_flight: usize,
        timeout: Duration,
    ) -> anyhow::Result<OpenOutcome> {
        let expected = conns.len();
        let n = self.processes.len();
        let mut shares: Vec<Vec<ConnSpec>> = vec![Vec::new(); n];
        for (i, conn) in conns.into_iter().enumerate() {
            self.owner.insert(conn.id, i % n);
            shares[i % n].push(conn);
        }
        for (process, share) in shares.into_iter().enumerate() {
            let command = Command::Open {
                conns: share,
                rate_per_s: rate_per_s.map(|r| r / n as f64),
                max_in_flight: max_in_flight.div_ceil(n),
            };
            self.send(process, &command).await?;
        }
        let deadline = Instant::now() + timeout;
        let mut outcome = OpenOutcome::default();
        while outcome.opened + outcome.failed < expected {
            let Some(report) = self.recv(deadline).await else {
                outcome.failed = expected - outcome.opened;
                outcome.errors.push(format!(
                    "{} sockets did not report within {timeout:?}",
                    outcome.failed
                ));
                break;
            };
            match report {
                Report::Opened {
                    id,
                    error: Some(error),
                    ..
                } => {
                    outcome.failed += 1;
                    outcome.failed_ids.push(id);
                    if outcome.errors.len() < 5 {
                        outcome.errors.push(error);
                    }
                }
                Report::Opened {
                    error: None,
                    join_ms,
                    welcome_ms,
                    ..
                } => {
                    outcome.opened += 1;
                    outcome.welcome_ms.push(welcome_ms);
                    outcome.total_ms.push(welcome_ms + join_ms.unwrap_or(0.0));
                    if let Some(join_ms) = join_ms {
                        outcome.join_ms.push(join_ms);
                    }
                }
                other => self.stash.push_back(other),
            }
        }
        Ok(outcome)
    }

    /// Has socket `id` send `text`; its process answers [`Report::Sent`] with `op`.
    pub async fn send_text(&mut self, id: u32, op: u64, text: String) -> anyhow::Result<()> {
        let process = *self.owner.get(&id).context("no such socket")?;
        self.send(process, &Command::Send { id, op, text }).await
    }

    /// Sockets open and frames received, summed over the processes.
    pub async fn stats(&mut self) -> anyhow::Result<(u64, FrameCounts)> {
        for process in 0..self.processes.len() {
            self.send(process, &Command::Stats).await?;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut open, mut frames, mut answers) = (0, FrameCounts::default(), 0);
        while answers < self.processes.len() {
            match self.recv(deadline).await {
                Some(Report::Stats { open: o, frames: f }) => {
                    open += o;
                    frames.add(&f);
                    answers += 1;
                }
                Some(other) => self.stash.push_back(other),
                None => anyhow::bail!("client processes did not answer stats"),
            }
        }
        Ok((open, frames))
    }

    /// The next `Change` or `Lost` report, waiting until `deadline` at most.
    pub async fn next_event(&mut self, deadline: Instant) -> Option<Report> {
        if let Some(report) = self.stash.pop_front() {
            return Some(report);
        }
        self.recv(deadline).await
    }

    /// Discards every report received so far (stale changes between phases).
    pub fn discard_events(&mut self) {
        self.stash.clear();
        while self.reports.try_recv().is_ok() {}
    }

    /// Closes every socket and ends the processes.
    pub async fn close(mut self) -> anyhow::Result<()> {
        for process in 0..self.processes.len() {
            self.send(process, &Command::Close).await?;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut closed = 0;
        while closed < self.processes.len() {
            match self.recv(deadline).await {
                Some(Report::Closed) => closed += 1,
                Some(_) => {}
                None => break,
            }
        }
        for mut process in self.processes {
            drop(process.stdin);
            let _ = tokio::time::timeout(Duration::from_secs(5), process.child.wait()).await;
        }
        Ok(())
    }
}
