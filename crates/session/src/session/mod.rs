//! The session aggregate: who is in it, who hosts, what plays, and what each may do.
//!
//! All state changes go through the transitions in `transitions.rs` (members, roles,
//! settings) and `playback.rs` (start and the queue); this file holds the data, the
//! getters and [`Session::authorize`], the one place the rule table of
//! [`Action::requirement`] is applied.

mod displays;
mod muting;
mod playback;
mod queue;
mod restore;
mod transitions;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

pub use playback::StartPlan;
pub use queue::{SkipVote, skip_threshold};
pub use restore::{MAX_ENTRY_ID, SessionParts};

pub use crate::action::Action;
use crate::display::{DisplayKey, SessionDisplay};
use crate::error::SessionError;
use crate::ids::{DeviceId, QueueEntryId, SessionId, TrackId, UserId};
use crate::invite::InviteCode;
use crate::member::{Member, NewMember, Role};
use crate::settings::Settings;
use crate::shuffle;
use crate::track::QueueEntry;

/// Where a session is in its life. Only forward: `Lobby → Playing → Ended` (or straight
/// from `Lobby` to `Ended`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Members gather and bring their top tracks.
    Lobby,
    /// The queue plays on the host's device.
    Playing,
    /// Over; every transition is refused with `session_ended`.
    Ended,
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Lobby => "lobby",
            Self::Playing => "playing",
            Self::Ended => "ended",
        })
    }
}

/// A listening session. Serializes (through [`SessionParts`]) so the gateway can persist
/// it; deserializing checks every invariant, so a restored session behaves exactly like
/// the one that was stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SessionParts", into = "SessionParts")]
pub struct Session {
    id: SessionId,
    invite_code: InviteCode,
    state: SessionState,
    /// The host; after the last member left, the last host (the session is ended then).
    host: UserId,
    /// In join order; a member who rejoins goes to the end. One is the host; any number
    /// may be co-hosts.
    members: Vec<Member>,
    settings: Settings,
    /// Empty in the lobby; built by `start`. Entry ids are unique and below `next_entry_id`.
    queue: Vec<QueueEntry>,
    /// The id the next new queue entry gets; only grows, so ids are never reused.
    next_entry_id: u64,
    /// Index of the now-playing queue entry (0 before start).
    position: usize,
    /// The host's device the queue plays on; set by `start`.
    device: Option<DeviceId>,
    /// Kicked users, with the name they had in the session when kicked (the host's list of
    /// them shows it); only `unban` lets them back in. Ordered so the stored form and the
    /// list are deterministic.
    banned: BTreeMap<UserId, String>,
    /// The entry handed to Spotify's own queue (always the one after the playing one): it
    /// is pinned, like the playing one, until it plays.
    committed: Option<QueueEntryId>,
    /// Members who voted to skip the playing entry; cleared when another entry plays.
    skip_votes: BTreeSet<UserId>,
    /// Whether the skip votes already called for a skip of the playing entry (so one more
    /// vote does not skip twice).
    skip_called: bool,
    /// Tracks the host or a co-host banned from the session.
    banned_tracks: BTreeSet<TrackId>,
    /// The display keys the host made, oldest first; at most [`crate::MAX_DISPLAYS`].
    displays: Vec<SessionDisplay>,
    /// Users muted in the chat (guests, or members who left; never a moderator).
    muted: BTreeSet<UserId>,
}

impl Session {
    /// A new session in the lobby with `host` as its only member. A capacity of 0 is
    /// raised to 1, since the host counts.
    pub fn new(
        id: SessionId,
        invite_code: InviteCode,
        host: NewMember,
        now_ms: i64,
        mut settings: Settings,
    ) -> Session {
        settings.capacity = settings.capacity.max(1);
        let host_id = host.user_id.clone();
        Session {
            id,
            invite_code,
            state: SessionState::Lobby,
            host: host_id,
            members: vec![member_from(host, Role::Host, now_ms)],
            settings,
            queue: Vec::new(),
            next_entry_id: 0,
            position: 0,
            device: None,
            banned: BTreeMap::new(),
            committed: None,
            skip_votes: BTreeSet::new(),
            skip_called: false,
            banned_tracks: BTreeSet::new(),
            displays: Vec::new(),
            muted: BTreeSet::new(),
        }
    }

    /// The session's id.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// The current invite code.
    pub fn invite_code(&self) -> &InviteCode {
        &self.invite_code
    }

    /// Lobby, playing or ended.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// The host (the last host, once everyone has left).
    pub fn host(&self) -> &UserId {
        &self.host
    }

    /// Members in join order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// One member, if `user` is in the session.
    pub fn member(&self, user: &UserId) -> Option<&Member> {
        self.members.iter().find(|m| &m.user_id == user)
    }

    /// Whether `user` is in the session.
    pub fn is_member(&self, user: &UserId) -> bool {
        self.member(user).is_some()
    }

    /// The queue (empty before start).
    pub fn queue(&self) -> &[QueueEntry] {
        &self.queue
    }

    /// The queue entry with this id, if it is in the queue.
    pub fn entry(&self, id: QueueEntryId) -> Option<&QueueEntry> {
        self.queue.iter().find(|entry| entry.id == id)
    }

    /// Where in the queue the entry with this id is, if it is there.
    pub fn entry_index(&self, id: QueueEntryId) -> Option<usize> {
        self.queue.iter().position(|entry| entry.id == id)
    }

    /// The id the next queue entry will get (above every id the session has used), for
    /// storage.
    pub fn next_entry_id(&self) -> u64 {
        self.next_entry_id
    }

    /// Index of the now-playing queue entry.
    pub fn position(&self) -> usize {
        self.position
    }

    /// The entry playing now, if the session plays.
    pub fn now_playing(&self) -> Option<&QueueEntry> {
        match self.state {
            SessionState::Playing => self.queue.get(self.position),
            _ => None,
        }
    }

    /// The device the queue plays on (set by `start`).
    pub fn device(&self) -> Option<&DeviceId> {
        self.device.as_ref()
    }

    /// The entry already handed to Spotify's queue (pinned until it plays), if any.
    pub fn committed(&self) -> Option<QueueEntryId> {
        self.committed
    }

    /// Who voted to skip the playing entry.
    pub fn skip_votes(&self) -> &BTreeSet<UserId> {
        &self.skip_votes
    }

    /// Whether the skip votes called for skipping the playing entry already.
    pub fn skip_called(&self) -> bool {
        self.skip_called
    }

    /// Tracks banned from the session.
    pub fn banned_tracks(&self) -> &BTreeSet<TrackId> {
        &self.banned_tracks
    }

    /// The display keys, oldest first.
    pub fn displays(&self) -> &[SessionDisplay] {
        &self.displays
    }

    /// The display key `key`, if the session has it.
    pub fn display(&self, key: &DisplayKey) -> Option<&SessionDisplay> {
        self.displays.iter().find(|d| &d.key == key)
    }

    /// The entry after the playing one: what Spotify should play next.
    pub fn next_entry(&self) -> Option<&QueueEntry> {
        match self.state {
            SessionState::Playing => self.queue.get(self.position + 1),
            _ => None,
        }
    }

    /// Index of the first entry that may still move (after the playing entry and the
    /// committed one).
    pub fn movable_from(&self) -> usize {
        let pinned = self.position + 1 + usize::from(self.committed.is_some());
        pinned.min(self.queue.len())
    }

    /// Capacity, shuffle mode and what guests may do.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The users who were kicked and have not been let back in ([`Session::unban`]), each
    /// with the display name they had in the session when kicked.
    pub fn banned(&self) -> &BTreeMap<UserId, String> {
        &self.banned
    }

    /// Whether `user` was kicked (and may not rejoin until the host lets them back in).
    pub fn is_banned(&self, user: &UserId) -> bool {
        self.banned.contains_key(user)
    }

    /// Whether `actor` may do `action` now, checked in this order: the session has ended
    /// → `SessionEnded`; `actor` is not a member → `NotAMember`; their role does not allow
    /// it ([`Action::requirement`], with the session's guest permissions) → `Forbidden`,
    /// naming the permission a guest lacks when one would allow it.
    ///
    /// The one place the rule table is applied: every transition with an actor calls it,
    /// and the gateway asks it for what is not a transition (playback control); the chat
    /// ([`crate::Chat`]) asks it too.
    /// Transitions may refuse more after it (the wrong state, a bad target).
    pub fn authorize(&self, actor: &UserId, action: Action) -> Result<(), SessionError> {
        self.ensure_not_ended()?;
        let member = self.member(actor).ok_or_else(|| SessionError::NotAMember {
            user: actor.clone(),
        })?;
        action
            .check(member.role, self.settings.guest_permissions)
            .map_err(|permission| SessionError::Forbidden { action, permission })
    }

    /// Whether [`Session::authorize`] lets `user` do `action` (for the UI).
    pub fn can(&self, user: &UserId, action: Action) -> bool {
        self.authorize(user, action).is_ok()
    }

    pub(crate) fn ensure_not_ended(&self) -> Result<(), SessionError> {
        match self.state {
            SessionState::Ended => Err(SessionError::SessionEnded),
            _ => Ok(()),
        }
    }

    /// Takes the session apart for storage; [`Session::from_parts`] puts it back together.
    pub fn into_parts(self) -> SessionParts {
        SessionParts {
            id: self.id,
            invite_code: self.invite_code,
            state: self.state,
            host: self.host,
            members: self.members,
            settings: self.settings.clone(),
            queue: self.queue,
            next_entry_id: self.next_entry_id,
            position: self.position,
            device: self.device,
            banned: self.banned,
            committed: self.committed,
            skip_votes: self.skip_votes,
            skip_called: self.skip_called,
            banned_tracks: self.banned_tracks,
            displays: self.displays,
            muted: self.muted,
        }
    }
}

/// Turns a newcomer into a member; stores only the tracks that count.
fn member_from(new: NewMember, role: Role, now_ms: i64) -> Member {
    Member {
        user_id: new.user_id,
        display_name: new.display_name,
        role,
        joined_at_ms: now_ms,
        top_tracks: shuffle::counted_tracks(&new.top_tracks)
            .into_iter()
            .cloned()
            .collect(),
    }
}
