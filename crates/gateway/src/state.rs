//! What every handler, hub and poller shares: the database, the Spotify client, credentials,
//! the request budget, the limits and the tunables. Depends on no hub and no route.

use std::{sync::Arc, time::Duration};

use sesh_session::UserId;
use sesh_spotify::SpotifyClient;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{
    accounts::Accounts, budget::RequestBudget, db::Database, limits::Limits,
    positions::PositionWriter, tracks::TrackCache,
};

/// Tunables of hubs, pollers and sockets (from [`crate::Settings`]).
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Most members a host may ask for (`SESH_MAX_CAPACITY`).
    pub max_capacity: usize,
    /// Largest session whose members are listed and announced one by one (`SESH_ROSTER_LIMIT`).
    pub roster_limit: usize,
    /// Longest queue sent whole; longer ones are sent as a window this long
    /// (`SESH_QUEUE_WINDOW`).
    pub queue_window: usize,
    /// Frames buffered per connection before it is dropped.
    pub ws_queue: usize,
    /// Open display streams per session (`SESH_DISPLAYS_PER_SESSION`).
    pub displays_per_session: usize,
    /// Server ping interval.
    pub ws_ping_interval: Duration,
    /// Silence after which a client is closed.
    pub ws_client_timeout: Duration,
    /// How the host's player is polled (`SESH_POLL_MODE`).
    pub poll_mode: crate::settings::PollMode,
    /// Predictive polling's check between track ends (`SESH_POLL_WATCH_INTERVAL`).
    pub poll_watch_interval: Duration,
    /// The step of the pollers' shared wake-up grid (`SESH_POLL_GRID`; zero: none).
    pub poll_grid: Duration,
    /// Player poll interval while playing.
    pub poll_interval: Duration,
    /// Player poll interval while paused.
    pub poll_paused_interval: Duration,
    /// Periodic `playback` resync.
    pub playback_resync: Duration,
    /// Unload hubs idle this long.
    pub hub_idle_timeout: Duration,
    /// A session unattended this long becomes idle (`SESH_SESSION_IDLE_TIMEOUT`; zero: never).
    pub session_idle_timeout: Duration,
    /// An idle session ends this long after its members were warned (`SESH_SESSION_END_WARNING`).
    pub session_end_warning: Duration,
    /// A playing session's host away this long is succeeded (`SESH_HOST_TIMEOUT`).
    pub host_timeout: Duration,
    /// A listener's player is read this often between commands (`SESH_LISTEN_CHECK_INTERVAL`).
    pub listen_check_interval: Duration,
    /// A command to a listener's player is read back this long after (`SESH_LISTEN_VERIFY_DELAY`).
    pub listen_verify_delay: Duration,
    /// A login unused this long ends (`SESH_LOGIN_IDLE_TIMEOUT`).
    pub login_idle_timeout: Duration,
    /// Live sessions one user may host at once (`SESH_MAX_LIVE_SESSIONS`).
    pub max_live_sessions_per_user: usize,
    /// Distinct Spotify users served (`SESH_SPOTIFY_SEATS`; 0: no limit).
    pub spotify_seats: u32,
    /// The instance's owners (`SESH_ADMINS`; empty: the first user who logged in).
    pub admins: Vec<UserId>,
}

/// Shared services (one per process, behind an `Arc`).
#[derive(Debug)]
pub struct Core {
    /// SQLite.
    pub db: Database,
    /// Now-playing positions, stored in the background (track changes never wait on SQLite).
    pub positions: PositionWriter,
    /// The Spotify Web API client (or the emulator's, in demo mode).
    pub spotify: SpotifyClient,
    /// Per-user Spotify credentials.
    pub accounts: Accounts,
    /// One shared copy of each track in memory.
    pub tracks: TrackCache,
    /// Members' top-track refreshes, one at a time per user.
    pub top_tracks: crate::tracks::OneAtATime,
    /// The app-wide Spotify request budget (polls, listen-along, searches, top tracks,
    /// playlist saves).
    pub budget: RequestBudget,
    /// Sesh's own abuse limits (invite attempts and logins per IP, Spotify calls and sockets
    /// per user).
    pub limits: Arc<Limits>,
    /// Tunables.
    pub config: HubConfig,
    /// The URL browsers use.
    pub public_url: Url,
    /// The multi-thread runtime hubs and pollers run on (see `startup.rs` for why).
    pub runtime: Handle,
    /// Cancelled on shutdown.
    pub shutdown: CancellationToken,
    /// Demo mode (in-process emulator).
    pub demo: bool,
}

impl Core {
    /// A stored session as a hub holds it (its tracks shared through [`TrackCache`]) and its
    /// last event sequence number; `None` for an unknown id.
    pub async fn load_session(
        &self,
        id: sesh_session::SessionId,
    ) -> Result<Option<(sesh_session::Session, u64)>, crate::db::DbError> {
        let Some((session, last_seq)) = self.db.load_session(id).await? else {
            return Ok(None);
        };
        let session = self.tracks.share_session(session)?;
        Ok(Some((session, last_seq)))
    }

    /// `{public_url}/j/{code}`.
    pub fn join_url(&self, invite_code: &str) -> String {
        format!("{}/j/{invite_code}", self.public_origin())
    }

    /// The public URL without a trailing slash.
    pub fn public_origin(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_owned()
    }
}
