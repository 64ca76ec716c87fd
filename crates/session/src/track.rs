//! Tracks as the session sees them, and entries of the shared queue.

use std::collections::BTreeMap;
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

/// How an entry came into the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EntryOrigin {
    /// From members' top tracks: the opening shuffle, or a late joiner woven in.
    #[default]
    TopTracks,
    /// A member added it while the session played (it counts against their limit).
    Added,
}

/// One member's vote on an entry. JSON: `1` or `-1` (withdrawing a vote removes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i8", into = "i8")]
pub enum Vote {
    /// +1.
    Up,
    /// −1.
    Down,
}

impl Vote {
    /// `1` up, `-1` down, `0` none (withdrawn): what the wire and the vote request carry.
    pub fn from_value(value: i8) -> Result<Option<Vote>, InvalidVote> {
        match value {
            1 => Ok(Some(Vote::Up)),
            -1 => Ok(Some(Vote::Down)),
            0 => Ok(None),
            _ => Err(InvalidVote),
        }
    }

    /// `1` or `-1`.
    pub fn value(self) -> i8 {
        match self {
            Vote::Up => 1,
            Vote::Down => -1,
        }
    }
}

/// A vote value other than 1, 0 or −1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a vote is 1, 0 or -1")]
pub struct InvalidVote;

impl TryFrom<i8> for Vote {
    type Error = InvalidVote;

    fn try_from(value: i8) -> Result<Self, Self::Error> {
        Vote::from_value(value)?.ok_or(InvalidVote)
    }
}

impl From<Vote> for i8 {
    fn from(vote: Vote) -> Self {
        vote.value()
    }
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
    /// From top tracks or added during the session.
    #[serde(default)]
    pub origin: EntryOrigin,
    /// Each member's vote on it (absent: no vote). Adding counts as the adder's up vote.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub votes: BTreeMap<UserId, Vote>,
}

impl QueueEntry {
    /// Up votes minus down votes.
    pub fn net_votes(&self) -> i64 {
        self.votes.values().map(|v| i64::from(v.value())).sum()
    }

    /// `user`'s vote: 1, −1 or 0.
    pub fn vote_of(&self, user: &UserId) -> i8 {
        self.votes.get(user).map_or(0, |v| v.value())
    }

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
