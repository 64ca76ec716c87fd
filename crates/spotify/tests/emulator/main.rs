//! `sesh-spotify` against `sesh-spotify-emulator` over real HTTP on loopback: the OAuth
//! flows, token refresh, rate limits, retries, every Web API endpoint, the player's modes
//! (shuffle, repeat) and device rules (volume, restrictions), and saving playlists.

// Helpers outside `#[test]` functions panic on purpose: a panic here is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod endpoints;
mod oauth_flow;
mod observer;
mod player_modes;
mod playlists;
mod rate_limits;
mod refresh;
mod retries;
mod support;
