//! Load clients. The driver spawns `sesh-bench client` processes (one per ~8,000
//! sockets: each process may hold 20,000 files, and client CPU must not be counted as
//! the server's) and talks to them in JSON lines: [`Command`]s on their stdin,
//! [`Report`]s on their stdout. A socket is a member's WebSocket or a display's
//! Server-Sent Events stream ([`ConnKind`]).

mod pool;
mod process;
mod sse;

pub use pool::{ClientPool, OpenOutcome};
pub use process::run;

use serde::{Deserialize, Serialize};

/// What a socket is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnKind {
    /// A WebSocket; open once its `welcome` arrives.
    #[default]
    WebSocket,
    /// A display's Server-Sent Events stream (`GET /d/{key}/events`); open once its
    /// `snapshot` arrives, which plays the `welcome`'s part in the reports.
    Display,
}

/// One socket a client process should open.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnSpec {
    /// Driver-assigned id, unique across every client process.
    pub id: u32,
    /// WebSocket or display stream.
    #[serde(default)]
    pub kind: ConnKind,
    /// `ws://` URL (a display: `http://`).
    pub url: String,
    /// `Cookie` header value, e.g. `sesh_sid=...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
    /// `Origin` header value (Sesh checks it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// A URL to `POST` (same cookie and origin) before connecting, timed as the join.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_url: Option<String>,
}

/// Driver → client process.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    /// Open these sockets, paced at `rate_per_s` starts per second if given, with at most
    /// `max_in_flight` handshakes at once. Each ends in one [`Report::Opened`].
    Open {
        /// Sockets to open.
        conns: Vec<ConnSpec>,
        /// Starts per second (`None`: as fast as `max_in_flight` allows).
        rate_per_s: Option<f64>,
        /// Concurrent handshakes.
        max_in_flight: usize,
    },
    /// Send `text` on socket `id` and answer [`Report::Sent`] with the moment it went out
    /// (the `queue` scenario's WebSocket operations).
    Send {
        /// The socket.
        id: u32,
        /// The driver's operation number, echoed in the report.
        op: u64,
        /// The text frame.
        text: String,
    },
    /// Answer with [`Report::Stats`].
    Stats,
    /// Close every socket politely, answer [`Report::Closed`] and exit.
    Close,
}

/// Frames received, by `type`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FrameCounts {
    /// Every frame.
    pub total: u64,
    /// `welcome` frames (and displays' `snapshot` events).
    pub welcome: u64,
    /// `playback` frames (changes and resyncs; displays' `playback` events too).
    pub playback: u64,
    /// `member_joined`, `member_left` and `presence` frames.
    pub membership: u64,
    /// `spotify_status` frames.
    pub spotify_status: u64,
    /// `spotify_status` frames saying `rate_limited`.
    pub rate_limited: u64,
    /// `error` frames.
    pub error: u64,
    /// `queue` frames (a batch of entry changes as a window of the queue).
    #[serde(default)]
    pub queue_window: u64,
    /// Bytes of every text frame (and of every display event).
    #[serde(default)]
    pub bytes: u64,
    /// Display events, of those in `total`.
    #[serde(default)]
    pub display_events: u64,
    /// Bytes of display events, of those in `bytes`.
    #[serde(default)]
    pub display_bytes: u64,
}

impl FrameCounts {
    /// Field-wise sum.
    pub fn add(&mut self, other: &FrameCounts) {
        self.total += other.total;
        self.welcome += other.welcome;
        self.playback += other.playback;
        self.membership += other.membership;
        self.spotify_status += other.spotify_status;
        self.rate_limited += other.rate_limited;
        self.error += other.error;
        self.queue_window += other.queue_window;
        self.bytes += other.bytes;
        self.display_events += other.display_events;
        self.display_bytes += other.display_bytes;
    }
}

/// The part of a queue delta frame that names the operation behind it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueueDelta {
    /// `entry_votes`: entry `id` now has `votes`.
    Votes {
        /// Entry id.
        id: u64,
        /// Net votes.
        votes: i64,
    },
    /// `entry_added`: entry `id` of track `track`.
    Added {
        /// Entry id.
        id: u64,
        /// Track id.
        track: String,
    },
    /// `entry_removed`: entry `id`.
    Removed {
        /// Entry id.
        id: u64,
    },
}

/// Client process → driver.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum Report {
    /// A socket from [`Command::Open`] got its `welcome` (a display: its `snapshot`), or failed.
    Opened {
        /// The socket's id.
        id: u32,
        /// `None` on success.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Duration of the join `POST`, if any, in ms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        join_ms: Option<f64>,
        /// From starting the handshake (a display: connecting) to receiving `welcome`
        /// (`snapshot`), in ms.
        welcome_ms: f64,
    },
    /// A socket received a `playback` frame whose track differs from the last one it saw.
    Change {
        /// The socket's id.
        id: u32,
        /// The new track id (the baselines' broadcast tag; for a display, its title, album
        /// and length, since displays see no ids).
        track: String,
        /// The frame's `server_time_ms`.
        server_ms: Option<i64>,
        /// Receipt time, µs since the Unix epoch.
        recv_us: i64,
    },
    /// A socket received a queue delta (`entry_votes`, `entry_added`, `entry_removed`).
    Queue {
        /// The socket's id.
        id: u32,
        /// What changed, and of which entry or track.
        delta: QueueDelta,
        /// The frame's length in bytes.
        bytes: u32,
        /// Receipt time, µs since the Unix epoch.
        recv_us: i64,
    },
    /// A [`Command::Send`] went out.
    Sent {
        /// The driver's operation number.
        op: u64,
        /// When the frame was handed to the socket, µs since the Unix epoch.
        sent_us: i64,
    },
    /// An open socket was closed by the server or failed.
    Lost {
        /// The socket's id.
        id: u32,
        /// Why.
        reason: String,
    },
    /// Answer to [`Command::Stats`].
    Stats {
        /// Sockets currently open.
        open: u64,
        /// Frames received so far.
        frames: FrameCounts,
    },
    /// Answer to [`Command::Close`].
    Closed,
}
