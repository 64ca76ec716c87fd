//! Putting a stored session back together, checking every invariant on the way in.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Deserializer, Serialize};

use super::{Session, SessionState};
use crate::display::{MAX_DISPLAYS, SessionDisplay};
use crate::error::RestoreError;
use crate::ids::{DeviceId, QueueEntryId, SessionId, TrackId, UserId};
use crate::invite::InviteCode;
use crate::member::{Member, Role};
use crate::settings::Settings;
use crate::track::QueueEntry;

/// The largest queue entry id a session hands out or restores: 2^53 − 1, the largest
/// integer a browser's JSON parser reads back exactly. No session comes near it (each
/// transition adds at most a handful of entries), so reaching it means corrupt data.
pub const MAX_ENTRY_ID: u64 = (1 << 53) - 1;

/// A session's data with public fields: the stored form of a [`Session`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionParts {
    /// See [`Session::id`].
    pub id: SessionId,
    /// See [`Session::invite_code`].
    pub invite_code: InviteCode,
    /// See [`Session::state`].
    pub state: SessionState,
    /// See [`Session::host`].
    pub host: UserId,
    /// See [`Session::members`].
    pub members: Vec<Member>,
    /// See [`Session::settings`].
    pub settings: Settings,
    /// See [`Session::queue`].
    pub queue: Vec<QueueEntry>,
    /// The id the next new queue entry gets. Sessions stored before entries had ids have
    /// none (0); restoring raises it above every stored id.
    #[serde(default)]
    pub next_entry_id: u64,
    /// See [`Session::position`].
    pub position: usize,
    /// See [`Session::device`].
    pub device: Option<DeviceId>,
    /// Kicked users and their names (see [`Session::banned`]): `{"bob": "Bob"}`. Sessions
    /// stored before names were kept have a list of ids (`["bob"]`); each then goes by their
    /// id until the gateway finds a better name.
    #[serde(default, deserialize_with = "banned_from_stored")]
    pub banned: BTreeMap<UserId, String>,
    /// See [`Session::committed`].
    #[serde(default)]
    pub committed: Option<QueueEntryId>,
    /// See [`Session::skip_votes`].
    #[serde(default)]
    pub skip_votes: BTreeSet<UserId>,
    /// See [`Session::skip_called`].
    #[serde(default)]
    pub skip_called: bool,
    /// See [`Session::banned_tracks`].
    #[serde(default)]
    pub banned_tracks: BTreeSet<TrackId>,
    /// See [`Session::displays`].
    #[serde(default)]
    pub displays: Vec<SessionDisplay>,
    /// See [`Session::muted`].
    #[serde(default)]
    pub muted: BTreeSet<UserId>,
}

/// The two stored forms of [`SessionParts::banned`].
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredBans {
    Named(BTreeMap<UserId, String>),
    Ids(BTreeSet<UserId>),
}

fn banned_from_stored<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<UserId, String>, D::Error> {
    Ok(match StoredBans::deserialize(deserializer)? {
        StoredBans::Named(named) => named,
        StoredBans::Ids(ids) => ids
            .into_iter()
            .map(|id| {
                let name = id.to_string();
                (id, name)
            })
            .collect(),
    })
}

impl Session {
    /// Rebuilds a session from stored parts, refusing data no sequence of transitions
    /// could have produced.
    pub fn from_parts(parts: SessionParts) -> Result<Session, RestoreError> {
        check_members(&parts)?;
        check_playback(&parts)?;
        check_votes(&parts)?;
        check_displays(&parts)?;
        let next_entry_id = next_entry_id(&parts)?;
        Ok(Session {
            id: parts.id,
            invite_code: parts.invite_code,
            state: parts.state,
            host: parts.host,
            members: parts.members,
            settings: parts.settings,
            queue: parts.queue,
            next_entry_id,
            position: parts.position,
            device: parts.device,
            banned: parts.banned,
            committed: parts.committed,
            skip_votes: parts.skip_votes,
            skip_called: parts.skip_called,
            banned_tracks: parts.banned_tracks,
            displays: parts.displays,
            muted: parts.muted,
        })
    }
}

impl TryFrom<SessionParts> for Session {
    type Error = RestoreError;

    fn try_from(parts: SessionParts) -> Result<Self, Self::Error> {
        Session::from_parts(parts)
    }
}

impl From<Session> for SessionParts {
    fn from(session: Session) -> Self {
        session.into_parts()
    }
}

fn check_members(parts: &SessionParts) -> Result<(), RestoreError> {
    let mut seen = HashSet::new();
    for member in &parts.members {
        if !seen.insert(&member.user_id) {
            return Err(RestoreError::DuplicateMember(member.user_id.clone()));
        }
        if parts.banned.contains_key(&member.user_id) {
            return Err(RestoreError::BannedMember(member.user_id.clone()));
        }
        if member.is_moderator() && parts.muted.contains(&member.user_id) {
            return Err(RestoreError::MutedModerator(member.user_id.clone()));
        }
    }
    if parts.settings.capacity == 0 || parts.members.len() > parts.settings.capacity {
        return Err(RestoreError::OverCapacity {
            members: parts.members.len(),
            capacity: parts.settings.capacity,
        });
    }
    if parts.members.is_empty() {
        // Only the last member leaving empties a session, and that ends it.
        return match parts.state {
            SessionState::Ended => Ok(()),
            state => Err(RestoreError::NoMembers(state)),
        };
    }
    // Exactly one host; co-hosts are ordinary members as far as this goes.
    let mut hosts = parts.members.iter().filter(|m| m.role == Role::Host);
    match (hosts.next(), hosts.next()) {
        (Some(host), None) if host.user_id == parts.host => Ok(()),
        _ => Err(RestoreError::HostMismatch(parts.host.clone())),
    }
}

/// Display keys are unique and at most [`MAX_DISPLAYS`].
fn check_displays(parts: &SessionParts) -> Result<(), RestoreError> {
    let mut keys = HashSet::new();
    let unique = parts.displays.iter().all(|d| keys.insert(&d.key));
    if unique && parts.displays.len() <= MAX_DISPLAYS {
        Ok(())
    } else {
        Err(RestoreError::InvalidDisplays)
    }
}

/// The committed entry is the one after the playing one; skip votes exist only while playing.
/// (Votes themselves are `Vote`s, so always ±1, and may come from members who left.)
fn check_votes(parts: &SessionParts) -> Result<(), RestoreError> {
    let playing = parts.state == SessionState::Playing;
    let committed_fits = parts.committed.is_none_or(|id| {
        playing
            && parts
                .queue
                .get(parts.position + 1)
                .is_some_and(|e| e.id == id)
    });
    let skips_fit = playing || (parts.skip_votes.is_empty() && !parts.skip_called);
    if committed_fits && skips_fit {
        Ok(())
    } else {
        Err(RestoreError::InvalidVotes)
    }
}

fn check_playback(parts: &SessionParts) -> Result<(), RestoreError> {
    let consistent = match parts.state {
        SessionState::Lobby => {
            parts.queue.is_empty() && parts.position == 0 && parts.device.is_none()
        }
        SessionState::Playing => parts.position < parts.queue.len() && parts.device.is_some(),
        // A session may end from the lobby (empty queue) or while playing.
        SessionState::Ended => parts.position < parts.queue.len().max(1),
    };
    if !consistent {
        return Err(RestoreError::InconsistentPlayback(parts.state));
    }
    // A track may be queued more than once; an entry has credits, each member once.
    let valid_queue = parts.queue.iter().all(|entry| {
        let mut credited = HashSet::new();
        !entry.added_by.is_empty() && entry.added_by.iter().all(|user| credited.insert(user))
    });
    if !valid_queue {
        return Err(RestoreError::InvalidQueue);
    }
    let mut ids = HashSet::new();
    for entry in &parts.queue {
        if entry.id.get() > MAX_ENTRY_ID {
            return Err(RestoreError::EntryIdOutOfRange(entry.id));
        }
        if !ids.insert(entry.id) {
            return Err(RestoreError::DuplicateEntryId(entry.id));
        }
    }
    Ok(())
}

/// The stored counter, raised above every stored id if it is not (older data has none).
fn next_entry_id(parts: &SessionParts) -> Result<u64, RestoreError> {
    let above_all = parts
        .queue
        .iter()
        .map(|entry| entry.id.get().saturating_add(1))
        .max()
        .unwrap_or(0);
    let next = parts.next_entry_id.max(above_all);
    if next > MAX_ENTRY_ID {
        return Err(RestoreError::EntryIdOutOfRange(QueueEntryId::new(next)));
    }
    Ok(next)
}
