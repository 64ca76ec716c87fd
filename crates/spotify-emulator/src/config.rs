//! Configuration of an emulator instance: the registered apps and the knobs tests turn.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// An app registered with the emulated Spotify, like one in Spotify's developer dashboard.
#[derive(Clone, PartialEq, Eq)]
pub struct AppRegistration {
    /// The public client id (`client_id` in `/authorize` and `/api/token`).
    pub client_id: String,
    /// The client secret for Basic authentication at `/api/token`. Never logged.
    pub client_secret: String,
    /// Redirect URIs accepted by `/authorize`, matched exactly.
    pub redirect_uris: Vec<String>,
}

impl AppRegistration {
    /// A registration with one redirect URI.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_uris: vec![redirect_uri.into()],
        }
    }
}

impl fmt::Debug for AppRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppRegistration")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

/// How an emulator instance is set up. Build it with struct update syntax over
/// [`EmulatorConfig::default`] so new knobs do not break callers.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Address to bind; port 0 picks a free one (see [`crate::EmulatorHandle::base_url`]).
    pub listen: SocketAddr,
    /// Registered apps. An unknown `client_id` is `invalid_client`.
    pub apps: Vec<AppRegistration>,
    /// Serve the `/_emulator` control API (faults, clock, request log, player actions).
    pub control_api: bool,
    /// Web API requests allowed per client id in any rolling 30-second window.
    pub rate_limit: u32,
    /// Lifetime of access tokens (`expires_in`).
    pub token_ttl: Duration,
    /// HTTP worker threads. Small by default: the emulator shares the machine with the
    /// server under test, and one worker already serves thousands of requests per second.
    pub workers: usize,
    /// Keep the mutable world (issued tokens, players, devices, the virtual clock) in this
    /// JSON file, so a restarted emulator continues where it left off. Loaded at start when
    /// it exists (an unusable file is moved aside to `<file>.bad`, with a warning); saved at
    /// most every 200 ms after a change, and at stop. `None`: in memory only.
    pub state_file: Option<PathBuf>,
    /// Start every app in development mode with these users (Spotify user ids) allow-listed;
    /// anyone else completes OAuth and then gets `403` "User not registered in the Developer
    /// Dashboard" from the Web API. `None`: no app is in development mode (the control API's
    /// `PUT /_emulator/apps/{client_id}/dev-mode` can still turn it on).
    pub dev_mode_users: Option<Vec<String>>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            apps: Vec::new(),
            control_api: false,
            rate_limit: 10_000,
            token_ttl: Duration::from_secs(3600),
            workers: 1,
            state_file: None,
            dev_mode_users: None,
        }
    }
}

impl EmulatorConfig {
    /// The registration for `client_id`, if any.
    pub(crate) fn app(&self, client_id: &str) -> Option<&AppRegistration> {
        self.apps.iter().find(|app| app.client_id == client_id)
    }
}
