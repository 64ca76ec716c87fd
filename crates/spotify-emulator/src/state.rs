//! Everything one emulator instance knows, shared by all HTTP workers.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::auth::AuthStore;
use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::config::EmulatorConfig;
use crate::dev_mode::DevModes;
use crate::faults::Faults;
use crate::persist::Persistence;
use crate::playlists::Playlists;
use crate::rate_limit::RateLimiter;
use crate::render::Renderer;
use crate::request_log::RequestLog;
use crate::world::Users;

/// The emulated Spotify's whole state.
#[derive(Debug)]
pub(crate) struct AppState {
    pub config: EmulatorConfig,
    /// `http://127.0.0.1:PORT`, the prefix of every `href` and image URL.
    pub base_url: String,
    pub catalog: Arc<Catalog>,
    pub users: Users,
    pub playlists: Playlists,
    pub auth: RwLock<AuthStore>,
    pub clock: Clock,
    pub faults: Faults,
    /// Each app's development mode (allow-list).
    pub dev_modes: DevModes,
    pub limiter: RateLimiter,
    pub log: RequestLog,
    /// The state file, when `config.state_file` is set.
    pub persist: Option<Persistence>,
}

impl AppState {
    pub fn new(config: EmulatorConfig, base_url: String) -> Self {
        let catalog = Arc::new(Catalog::generate());
        Self {
            persist: config.state_file.clone().map(Persistence::new),
            dev_modes: DevModes::new(
                config.apps.iter().map(|a| a.client_id.as_str()),
                config.dev_mode_users.as_deref(),
            ),
            limiter: RateLimiter::new(config.rate_limit),
            config,
            base_url,
            users: Users::new(Arc::clone(&catalog)),
            catalog,
            playlists: Playlists::default(),
            auth: RwLock::new(AuthStore::default()),
            clock: Clock::default(),
            faults: Faults::default(),
            log: RequestLog::default(),
        }
    }

    /// Notes a change worth keeping across restarts (credentials, players, devices,
    /// playlists, clock).
    /// Reads need not call it: settling a player only catches up with time, which the saved
    /// anchor reproduces.
    pub fn changed(&self) {
        if let Some(persist) = &self.persist {
            persist.mark_dirty();
        }
    }

    pub fn renderer(&self) -> Renderer<'_> {
        Renderer {
            base: &self.base_url,
            catalog: &self.catalog,
        }
    }

    /// A guard that calls [`AppState::changed`] when dropped, for handlers that change the
    /// world on several paths, including failures (a failed code exchange uses the code up).
    pub fn change_on_drop(&self) -> ChangeOnDrop<'_> {
        ChangeOnDrop(self)
    }

    /// Access token lifetime in milliseconds.
    pub fn token_ttl_ms(&self) -> i64 {
        i64::try_from(self.config.token_ttl.as_millis()).unwrap_or(i64::MAX)
    }
}

/// See [`AppState::change_on_drop`].
#[derive(Debug)]
pub(crate) struct ChangeOnDrop<'a>(&'a AppState);

impl Drop for ChangeOnDrop<'_> {
    fn drop(&mut self) {
        self.0.changed();
    }
}
