//! Two minimal broadcast servers that show what the machine and our stack cost without
//! Sesh: rooms of WebSockets, a trigger that broadcasts one ~300-byte frame to a room (or
//! to every room), and nothing else — no sessions, no database, no Spotify.
//!
//! Both run in their own process (`sesh-bench serve-baseline`) so the driver measures
//! their memory and CPU exactly as it measures `sesh`. On start they print one JSON line,
//! [`Ready`], on stdout; they exit when their stdin closes.

mod actix;
mod control;
mod rooms;
mod tungstenite;

pub use control::ControlClient;

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Which baseline server to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaselineKind {
    /// actix-web + actix-ws, as Sesh uses them: the floor of our own stack.
    Actix,
    /// tokio-tungstenite with small buffers: the floor of the machine.
    Tungstenite,
}

impl BaselineKind {
    /// Short name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            BaselineKind::Actix => "actix-ws",
            BaselineKind::Tungstenite => "tungstenite",
        }
    }
}

/// The line a baseline server prints once it accepts connections.
#[derive(Debug, Serialize, Deserialize)]
pub struct Ready {
    /// WebSocket address; rooms are at `ws://{ws}/ws/rooms/{room}`.
    pub ws: SocketAddr,
    /// Address of the line-based trigger protocol (see [`ControlClient`]).
    pub control: SocketAddr,
}

/// Runs a baseline server until stdin closes. Blocks the calling thread.
pub fn serve(kind: BaselineKind, listen: SocketAddr) -> anyhow::Result<()> {
    match kind {
        BaselineKind::Actix => actix::serve(listen),
        BaselineKind::Tungstenite => tungstenite::serve(listen),
    }
}

/// Resolves when stdin reaches end of file: the driver that spawned us has gone.
async fn stdin_closed() {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

/// Prints the [`Ready`] line.
fn announce(ready: &Ready) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, ready)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}
