//! `sesh-spotify-emulator`: run the emulated Spotify standalone.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use sesh_spotify_emulator::{AppRegistration, Emulator, EmulatorConfig};
use tracing_subscriber::EnvFilter;

/// A faithful local Spotify: accounts service, Web API subset, simulated players and a
/// control API for tests and benchmarks.
#[derive(Parser)]
#[command(name = "sesh-spotify-emulator", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port; the base URL is logged).
    #[arg(long, env = "EMULATOR_LISTEN", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Client id of the registered app.
    #[arg(long, env = "EMULATOR_CLIENT_ID", default_value = "sesh-dev")]
    client_id: String,
    /// Client secret of the registered app.
    #[arg(
        long,
        env = "EMULATOR_CLIENT_SECRET",
        default_value = "sesh-dev-secret",
        hide_env_values = true
    )]
    client_secret: String,
    /// Registered redirect URI (repeatable; exact match).
    #[arg(
        long = "redirect-uri",
        env = "EMULATOR_REDIRECT_URI",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:8080/auth/callback"
    )]
    redirect_uris: Vec<String>,
    /// Serve the `/_emulator` control API.
    #[arg(long)]
    control_api: bool,
    /// Web API requests per rolling 30 s per client id.
    #[arg(long, default_value_t = 10_000)]
    rate_limit: u32,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl: u64,
    /// HTTP worker threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Keep tokens, players, devices and the virtual clock in this file across restarts
    /// (created if missing; an unusable one is moved aside to `<file>.bad`).
    #[arg(long, env = "EMULATOR_STATE_FILE")]
    state_file: Option<PathBuf>,
    /// Put the app in development mode with these users allow-listed (comma-separated
    /// Spotify user ids, at most five); anyone else gets 403 from the Web API.
    #[arg(long, env = "EMULATOR_DEV_MODE_USERS", value_delimiter = ',')]
    dev_mode_users: Option<Vec<String>>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = EmulatorConfig {
        listen: args.listen,
        apps: vec![AppRegistration {
            client_id: args.client_id,
            client_secret: args.client_secret,
            redirect_uris: args.redirect_uris,
        }],
        control_api: args.control_api,
        rate_limit: args.rate_limit,
        token_ttl: Duration::from_secs(args.token_ttl),
        workers: args.workers,
        state_file: args.state_file,
        dev_mode_users: args.dev_mode_users,
    };
    let emulator = Emulator::start(config).await?;
    // Logs go to stderr; stdout carries only the base URL, so scripts can read the port
    // when listening on port 0.
    println!("{}", emulator.base_url());
    stop_requested().await?;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM from a process manager: both shut down cleanly, saving the state file.
async fn stop_requested() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
