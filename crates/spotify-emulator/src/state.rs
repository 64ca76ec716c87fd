//! Everything one emulator instance knows, shared by all HTTP workers.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::auth::AuthStore;
use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::config::EmulatorConfig;
use crate::faults::Faults;
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
    pub auth: RwLock<AuthStore>,
    pub clock: Clock,
    pub faults: Faults,
    pub limiter: RateLimiter,
    pub log: RequestLog,
}

impl AppState {
    pub fn new(config: EmulatorConfig, base_url: String) -> Self {
        let catalog = Arc::new(Catalog::generate());
        Self {
            limiter: RateLimiter::new(config.rate_limit),
            config,
            base_url,
            users: Users::new(Arc::clone(&catalog)),
            catalog,
            auth: RwLock::new(AuthStore::default()),
            clock: Clock::default(),
            faults: Faults::default(),
            log: RequestLog::default(),
        }
    }

    pub fn renderer(&self) -> Renderer<'_> {
        Renderer {
            base: &self.base_url,
            catalog: &self.catalog,
        }
    }

    /// Access token lifetime in milliseconds.
    pub fn token_ttl_ms(&self) -> i64 {
        i64::try_from(self.config.token_ttl.as_millis()).unwrap_or(i64::MAX)
    }
}
