//! Putting a stored session back together, checking every invariant on the way in.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Deserializer, Serialize};

use super::{Session, SessionState};
use crate::error::RestoreError;
use crate::ids::{DeviceId, SessionId, UserId};
use crate::invite::InviteCode;
use crate::member::{Member, Role};
use crate::settings::Settings;
use crate::track::QueueEntry;

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
    /// See [`Session::position`].
    pub position: usize,
    /// See [`Session::device`].
    pub device: Option<DeviceId>,
    /// Kicked users and their names (see [`Session::banned`]): `{"bob": "Bob"}`. Sessions
    /// stored before names were kept have a list of ids (`["bob"]`); each then goes by their
    /// id until the gateway finds a better name.
    #[serde(default, deserialize_with = "banned_from_stored")]
    pub banned: BTreeMap<UserId, String>,
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
        Ok(Session {
            id: parts.id,
            invite_code: parts.invite_code,
            state: parts.state,
            host: parts.host,
            members: parts.members,
            settings: parts.settings,
            queue: parts.queue,
            position: parts.position,
            device: parts.device,
            banned: parts.banned,
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
    let mut hosts = parts.members.iter().filter(|m| m.role == Role::Host);
    match (hosts.next(), hosts.next()) {
        (Some(host), None) if host.user_id == parts.host => Ok(()),
        _ => Err(RestoreError::HostMismatch(parts.host.clone())),
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
    let mut ids = HashSet::new();
    let valid_queue = parts
        .queue
        .iter()
        .all(|entry| !entry.added_by.is_empty() && ids.insert(&entry.track.id));
    if !valid_queue {
        return Err(RestoreError::InvalidQueue);
    }
    Ok(())
}
