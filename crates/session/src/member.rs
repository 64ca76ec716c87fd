//! Members of a session and their role.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::track::Track;

/// What a member may do: the host controls the session, guests listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The one member who controls the session; it plays on their device.
    Host,
    /// Everyone else.
    Guest,
}

/// A member of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Their Spotify user id.
    pub user_id: UserId,
    /// The name shown to the others.
    pub display_name: String,
    /// Host or guest; exactly one member of a live session is the host.
    pub role: Role,
    /// When they joined (Unix ms); the earliest becomes host when the host leaves.
    pub joined_at_ms: i64,
    /// Their top tracks; only the first [`crate::shuffle::TRACKS_PER_MEMBER`] distinct
    /// ones count, and the session stores no more than that.
    pub top_tracks: Vec<Arc<Track>>,
}

impl Member {
    /// Whether this member is the host.
    pub fn is_host(&self) -> bool {
        self.role == Role::Host
    }
}

/// Someone about to join (or create) a session; the session assigns role and join time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMember {
    /// Their Spotify user id.
    pub user_id: UserId,
    /// The name shown to the others.
    pub display_name: String,
    /// Their top tracks, best first (may be empty and set later with `set_top_tracks`).
    pub top_tracks: Vec<Arc<Track>>,
}

impl NewMember {
    /// Bundles the three fields.
    pub fn new(
        user_id: UserId,
        display_name: impl Into<String>,
        top_tracks: Vec<Arc<Track>>,
    ) -> Self {
        Self {
            user_id,
            display_name: display_name.into(),
            top_tracks,
        }
    }
}
