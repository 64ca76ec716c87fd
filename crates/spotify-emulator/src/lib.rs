//! A faithful local Spotify for tests, demo mode and benchmarks: the accounts service
//! (`/authorize`, `/api/token`), the Web API subset Sesh uses (`/v1/...`), simulated users
//! with devices and players whose position advances with time, per-app rate limiting, and a
//! control API (`/_emulator/...`) to inject faults, act as users and read the request log.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use sesh_spotify_emulator::{AppRegistration, Emulator, EmulatorConfig};
//! let emulator = Emulator::start(EmulatorConfig {
//!     apps: vec![AppRegistration::new("sesh", "secret", "http://127.0.0.1:8080/callback")],
//!     control_api: true,
//!     ..EmulatorConfig::default()
//! })
//! .await?;
//! println!("Spotify at {}", emulator.base_url());
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`config`]: `EmulatorConfig`, `AppRegistration`.
//! - `server`: start/stop, routes, and the gate (request log, faults, rate limit).
//! - `accounts`: `/authorize` and `/api/token`; `auth`: codes and tokens.
//! - `web_api`: the `/v1` endpoints (player ones in `web_api::player`, playlist ones in
//!   `web_api::playlists`); `render`: Spotify-shaped JSON; `errors`: error shapes.
//! - `world`: users and devices; `player`: the simulated player; `playlists`: users'
//!   playlists and their bounds; `catalog`: invented music;
//!   `images`: generated covers; `clock`: virtual time.
//! - `persist`: the optional state file (`EmulatorConfig::state_file`) and its debounced writer.
//! - `dev_mode`: development mode's allow-list per app (a user not on it gets `403`).
//! - `control`: the `/_emulator` API; `faults`, `rate_limit`, `request_log` behind it.
//!
//! Invariant: this crate never depends on `sesh-spotify`; it is the independent party that
//! keeps the client honest.

mod accounts;
mod auth;
mod catalog;
mod clock;
pub mod config;
mod control;
mod dev_mode;
mod errors;
mod faults;
mod ids;
mod images;
mod persist;
mod player;
mod playlists;
mod rate_limit;
mod render;
mod request_log;
mod server;
mod state;
mod web_api;
mod world;

pub use config::{AppRegistration, EmulatorConfig};
pub use dev_mode::MAX_USERS as DEV_MODE_MAX_USERS;
pub use server::{Emulator, EmulatorHandle};
