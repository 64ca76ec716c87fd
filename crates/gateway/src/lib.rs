//! Sesh's server: the HTTP API, the Spotify login, per-session hubs with WebSockets, playback
//! pollers and SQLite persistence.
//!
//! # Layout
//! - [`settings`]: flags and environment variables ([`Settings`], [`Cli`]).
//! - [`startup`]: [`Application::build`] binds and wires everything; `run_until_stopped`
//!   serves until SIGTERM and shuts down gracefully (sockets closed with 1001).
//! - [`routes`]: HTTP handlers (`auth`, `api`, `pages`, `ws`, `health`) and middleware
//!   (security headers, CSRF `Origin` check, request log).
//! - [`hub`]: one `SessionHub` task per live session (state, fan-out, event ring for resumes),
//!   the `HubRegistry` that revives hubs from SQLite, and the `PlaybackPoller`.
//! - [`wire`]: the JSON shapes of the API and the WebSocket protocol.
//! - [`db`]: SQLite through sqlx (runtime-checked queries, migrations from `migrations/`);
//!   [`read_cache`] keeps recently read logins and invites in memory.
//! - [`accounts`]: one shared `UserAuth` per user; refreshed tokens written back.
//! - [`budget`]: the app-wide Spotify request budget the pollers share.
//! - [`cluster`]: several instances behind one Nginx: the consistent-hash ring that says
//!   which instance a session belongs to (`docs/cluster.md`).
//! - [`crypto`]: AES-256-GCM for tokens at rest, hashed login ids, random tokens.
//! - [`request`]: login extractor, origin checks, client address behind trusted proxies.
//! - [`error`]: [`error::ApiError`], answered as `{"error": {"code", "message"}}`.
//! - [`demo`]: demo mode's in-process simulated Spotify (the `demo` cargo feature).
//! - [`telemetry`]: tracing subscriber.
//! - [`metrics`]: Prometheus metrics (what is recorded where) and `/metrics` on its own address.
//! - [`top_tracks`]: members' top tracks, prefetched at login and stored.
//! - [`search`]: members' track searches (cached per session) and pasted track links.
//!
//! Invariants: the domain (`sesh-session`) knows nothing of HTTP or SQL; a session's state is
//! only changed by its hub, and every change is stored before anyone is told; the hub never
//! waits on a member's socket.

pub mod accounts;
pub mod app;
pub mod budget;
pub mod cluster;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod error;
pub mod hub;
pub mod limits;
pub mod metrics;
pub mod playlists;
pub mod positions;
pub mod read_cache;
pub mod recap;
pub mod request;
pub mod routes;
pub mod search;
pub mod seats;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod top_tracks;
pub mod tracks;
pub mod wire;

pub use settings::{Cli, Command, Settings};
pub use startup::{Application, StartupError};
