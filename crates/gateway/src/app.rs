//! What actix hands every handler: the shared services and the live sessions.

use std::sync::Arc;

use crate::{hub::HubRegistry, state::Core};

/// Application state given to actix handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Shared services.
    pub core: Arc<Core>,
    /// Live session hubs.
    pub hubs: HubRegistry,
    /// Members' searches, cached per session.
    pub searches: Arc<crate::search::SearchCache>,
    /// Proxies whose `X-Forwarded-*` headers are believed (addresses or CIDR ranges).
    pub trusted_proxies: Arc<[crate::settings::ProxyRange]>,
}
