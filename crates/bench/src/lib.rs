//! `sesh-bench`: measures Sesh side by side with two bare WebSocket broadcast servers,
//! with the same load clients, in one run.
//!
//! # Layout
//! - [`cli`]: command line and scenario sizes (`--quick` for CI).
//! - [`scenarios`]: `members`, `big-room`, `join-storm`, `start`, `calls`, `quality`, `poll-cpu`,
//!   `sessions`, `queue`, `displays`.
//! - [`target`]: the servers under test and the "track change" trigger of each.
//! - [`sesh`]: Sesh as a target — child processes, the OAuth login dance, its API.
//! - [`baseline`]: the bare actix-ws and tokio-tungstenite broadcast servers.
//! - [`client`]: load-client processes (WebSockets and display streams) and the driver's
//!   pool of them.
//! - [`procstat`]: server RSS and CPU from `/proc`; [`probe`]: every process of a server (a
//!   cluster's nodes, Nginx, PostgreSQL) and its counters, read at one moment; [`stats`]:
//!   percentiles; [`report`]: tables and JSON; [`frame`]: frames and clocks; [`limits`]: open
//!   files.
//!
//! Every server and every client runs in its own process: the driver reads the server's
//! memory and CPU from `/proc` without counting the clients', and no process needs more
//! than the 20,000 open files it may hold.

pub mod baseline;
pub mod cli;
pub mod client;
pub mod frame;
pub mod limits;
pub mod probe;
pub mod procstat;
pub mod report;
pub mod scenarios;
pub mod sesh;
pub mod stats;
pub mod target;
