//! The gateway's integration tests, in one binary so the shared helpers (`common`) and the
//! dependencies link once: the real app on a free port against the emulator and a fresh SQLite
//! file, the real `sesh` binary as a child process, and the shipped Nginx templates.
//!
//! Each module is one suite; run one with `cargo nextest run -p sesh-gateway -E
//! 'test(/^security::/)'` or `cargo test -p sesh-gateway --test gateway security::`.

// Helpers outside `#[test]` functions panic on purpose: a panic there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod bad_input;
mod chat;
mod cluster_failover;
mod cluster_leases;
mod cluster_nginx;
mod cluster_routing;
mod decoding_props;
mod displays;
mod docker_context;
mod guest_controls;
mod handover;
mod large_rooms;
mod lifecycle;
mod listening;
mod metrics;
mod migrations;
mod nginx;
mod pages;
mod player;
mod playlist;
mod polling;
mod postgres_schema;
mod queue;
mod recap;
mod reliability_delivery;
mod reliability_spotify;
mod roles;
mod search;
mod security;
mod session_flow;
mod spectators;
mod startup_checks;
mod store;
