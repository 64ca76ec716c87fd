//! The session aggregate: who is in it, who hosts, what plays, and what each may do.
//!
//! All state changes go through the transitions in `transitions.rs`; this file holds the
//! data, the getters and the authorization rule.

mod restore;
mod transitions;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use restore::SessionParts;

use crate::ids::{DeviceId, SessionId, UserId};
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

/// Something a user may try to do; see [`Session::can`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// See the session's state (snapshot, WebSocket). Any member.
    View,
    /// Leave the session. Any member.
    Leave,
    /// Replace one's own top tracks. Any member, for themself only.
    SetOwnTopTracks,
    /// Start playing. Host only.
    Start,
    /// Play, pause, skip, seek, volume. Host only.
    Control,
    /// Remove another member. Host only.
    Kick,
    /// End the session. Host only.
    End,
    /// Hand the host role to another member. Host only.
    TransferHost,
    /// Choose the shuffle mode. Host only.
    SetShuffleMode,
    /// Issue a new invite code. Host only.
    RotateInvite,
    /// Let a kicked user join again. Host only.
    Unban,
}

impl Action {
    /// Whether only the host may do this.
    pub fn host_only(self) -> bool {
        !matches!(self, Self::View | Self::Leave | Self::SetOwnTopTracks)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::View => "view the session",
            Self::Leave => "leave",
            Self::SetOwnTopTracks => "set top tracks",
            Self::Start => "start the session",
            Self::Control => "control playback",
            Self::Kick => "kick members",
            Self::End => "end the session",
            Self::TransferHost => "hand over the host role",
            Self::Unban => "let kicked members back in",
            Self::SetShuffleMode => "change the shuffle mode",
            Self::RotateInvite => "issue a new invite",
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
    /// In join order; a member who rejoins goes to the end.
    members: Vec<Member>,
    settings: Settings,
    /// Empty in the lobby; built by `start`.
    queue: Vec<QueueEntry>,
    /// Index of the now-playing queue entry (0 before start).
    position: usize,
    /// The host's device the queue plays on; set by `start`.
    device: Option<DeviceId>,
    /// Kicked users, with the name they had in the session when kicked (the host's list of
    /// them shows it); only `unban` lets them back in. Ordered so the stored form and the
    /// list are deterministic.
    banned: BTreeMap<UserId, String>,
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
            position: 0,
            device: None,
            banned: BTreeMap::new(),
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

    /// Capacity and shuffle mode.
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

    /// Whether `user`'s role allows `action`: members may view, leave and set their own
    /// top tracks; everything else is for the host. Non-members may do nothing. This is
    /// the role rule only: the transitions also refuse what the session's state forbids
    /// (e.g. anything at all once ended).
    pub fn can(&self, user: &UserId, action: Action) -> bool {
        match self.member(user) {
            None => false,
            Some(member) => !action.host_only() || member.is_host(),
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
            settings: self.settings,
            queue: self.queue,
            position: self.position,
            device: self.device,
            banned: self.banned,
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
