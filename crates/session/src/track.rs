//! Tracks as the session sees them, and entries of the shared queue.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ids::{QueueEntryId, TrackId, TrackUri, UserId};

/// A track's metadata, as much as the session pages need to show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Track {
    /// Spotify track id; what deduplication compares.
    pub id: TrackId,
    /// `spotify:track:<id>`, what the player API takes.
    pub uri: TrackUri,
    /// Track title.
    pub name: String,
    /// Artist names, main artist first.
    pub artists: Vec<String>,
    /// Album title.
    pub album: String,
    /// Cover art, if Spotify has one.
    pub image_url: Option<String>,
    /// Length of the track.
    pub duration_ms: u32,
}

/// One entry of the session queue: a track and the members who brought it. The same track
/// may be queued more than once; the id tells the entries apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// Unique within the session, never reused; what events and requests name it by.
    pub id: QueueEntryId,
    /// The track to play (shared with the top tracks it came from: a track is held once
    /// however many members and queue entries refer to it).
    pub track: Arc<Track>,
    /// The members credited for it, in join order; never empty. The first is its owner.
    pub added_by: Vec<UserId>,
}

impl QueueEntry {
    /// The member whose turn this entry counts as in the fair shuffle: the first member
    /// (in join order) who had the track. See [`crate::shuffle`].
    pub fn owner(&self) -> Option<&UserId> {
        self.added_by.first()
    }

    /// Whether `user` is among the members credited for this entry.
    pub fn is_credited_to(&self, user: &UserId) -> bool {
        self.added_by.contains(user)
    }
}
