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
    /// Playlist saves under way (one per member and session).
    pub playlist_saves: Arc<crate::playlists::SavesInFlight>,
    /// Proxies whose `X-Forwarded-*` headers are believed (addresses or CIDR ranges).
    pub trusted_proxies: Arc<[crate::settings::ProxyRange]>,
    /// The instances as Nginx's upstream lists them (`SESH_CLUSTER_NODES`), if set.
    pub ring: Option<Arc<crate::cluster::ring::ClusterRing>>,
    /// Hints to and from the other instances (several instances on PostgreSQL).
    pub bus: Option<Arc<crate::cluster::bus::Bus>>,
}
