//! The servers under test as the scenarios see them: a process to measure, sockets to
//! open, and a way to make "the track change" in a room.

use crate::baseline::{BaselineKind, ControlClient, Ready};
use crate::frame::now_us;
use crate::sesh::SeshApi;
use anyhow::Context;
use futures_util::{StreamExt, stream};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc;

/// The three servers every report compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum ServerKind {
    /// The real thing.
    Sesh,
    /// Bare actix-ws broadcast server.
    Actix,
    /// tokio-tungstenite broadcast server with small buffers.
    Tungstenite,
}

impl ServerKind {
    /// Column name in reports.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Sesh => "sesh",
            ServerKind::Actix => BaselineKind::Actix.name(),
            ServerKind::Tungstenite => BaselineKind::Tungstenite.name(),
        }
    }

    /// The baseline this is, if any.
    pub fn baseline(self) -> Option<BaselineKind> {
        match self {
            ServerKind::Sesh => None,
            ServerKind::Actix => Some(BaselineKind::Actix),
            ServerKind::Tungstenite => Some(BaselineKind::Tungstenite),
        }
    }
}

/// A baseline server running as a child process (killed on drop).
pub struct BaselineServer {
    child: Child,
    ready: Ready,
    control: Arc<ControlClient>,
}

impl BaselineServer {
    /// Starts `sesh-bench serve-baseline --kind <kind>` and connects to its control port.
    pub async fn spawn(kind: BaselineKind) -> anyhow::Result<BaselineServer> {
        let exe = std::env::current_exe()?;
        let kind_arg = match kind {
            BaselineKind::Actix => "actix",
            BaselineKind::Tungstenite => "tungstenite",
        };
        let mut child = tokio::process::Command::new(exe)
            .args(["serve-baseline", "--kind", kind_arg])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .env(
                "RUST_LOG",
                std::env::var("SESH_BENCH_CHILD_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .kill_on_drop(true)
            .spawn()
            .context("starting a baseline server")?;
        let stdout = child.stdout.take().context("baseline stdout")?;
        let line = BufReader::new(stdout)
            .lines()
            .next_line()
            .await?
            .context("baseline server exited before it was ready")?;
        let ready: Ready = serde_json::from_str(&line)?;
        let control = Arc::new(ControlClient::connect(ready.control).await?);
        Ok(BaselineServer {
            child,
            ready,
            control,
        })
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The WebSocket URL of `room`.
    pub fn room_url(&self, room: usize) -> String {
        format!("ws://{}/ws/rooms/{room}", self.ready.ws)
    }

    /// Broadcasts one frame tagged `tag` to `room`; returns once the server has queued it.
    pub async fn broadcast(&self, room: u32, tag: &str) -> anyhow::Result<()> {
        self.control.broadcast(Some(room), tag).await?;
        Ok(())
    }

    /// A trigger for this server.
    pub fn trigger(&self) -> Trigger {
        Trigger::Baseline {
            control: self.control.clone(),
            counter: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// Makes the "track" change in rooms: a broadcast on a baseline, a skip on the host's
/// emulated Spotify app for Sesh (which Sesh's poller then has to notice).
#[derive(Clone)]
pub enum Trigger {
    /// Baseline control port.
    Baseline {
        /// Control connection.
        control: Arc<ControlClient>,
        /// Source of unique broadcast tags.
        counter: Arc<AtomicU64>,
    },
    /// The emulator's control API.
    Sesh {
        /// API client (emulator base URL inside).
        api: SeshApi,
        /// Emulator user id of each room's host.
        hosts: Arc<Vec<String>>,
    },
}

/// Emulator control calls in flight during a burst.
const BURST_CONCURRENCY: usize = 64;

impl Trigger {
    fn tag(counter: &AtomicU64) -> String {
        format!("b{}", counter.fetch_add(1, Ordering::Relaxed))
    }

    /// Changes the track in one room.
    pub async fn room(&self, room: usize) -> anyhow::Result<()> {
        match self {
            Trigger::Baseline { control, counter } => {
                control
                    .broadcast(Some(room as u32), &Self::tag(counter))
                    .await?;
            }
            Trigger::Sesh { api, hosts } => {
                let host = hosts.get(room).context("no such room")?;
                api.emulator_player(host, "next").await?;
            }
        }
        Ok(())
    }

    /// Changes the track in every room `0..rooms` at once. Sends `(room, µs)` on `fired`
    /// as each room's change is issued, so the driver knows when each began.
    pub async fn all(&self, rooms: usize, fired: mpsc::Sender<(usize, i64)>) -> anyhow::Result<()> {
        match self {
            Trigger::Baseline { control, counter } => {
                let at = now_us();
                control.broadcast(None, &Self::tag(counter)).await?;
                for room in 0..rooms {
                    let _ = fired.send((room, at)).await;
                }
            }
            Trigger::Sesh { .. } => {
                let results: Vec<anyhow::Result<()>> = stream::iter(0..rooms)
                    .map(|room| {
                        let fired = fired.clone();
                        async move {
                            let _ = fired.send((room, now_us())).await;
                            self.room(room).await
                        }
                    })
                    .buffer_unordered(BURST_CONCURRENCY)
                    .collect()
                    .await;
                results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
            }
        }
        Ok(())
    }
}
