//! What happened in a session, for the gateway to fan out to every member.

use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::member::Member;
use crate::settings::Settings;
use crate::track::QueueEntry;

/// Why a member is no longer in the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// They left themselves.
    Left,
    /// The host removed them; they cannot rejoin until the invite is rotated.
    Kicked,
}

/// One change to a session. JSON: `{"type": "member_joined", "member": {…}}` and so on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Someone joined.
    MemberJoined {
        /// The new member.
        member: Member,
    },
    /// Someone left or was kicked.
    MemberLeft {
        /// Who.
        user_id: UserId,
        /// Left or kicked.
        reason: LeaveReason,
    },
    /// Another member is host now (handed over, or the host left).
    HostChanged {
        /// The new host.
        host: UserId,
    },
    /// A member's top tracks changed.
    MemberUpdated {
        /// The member as they are now.
        member: Member,
    },
    /// The host changed the settings.
    SettingsChanged {
        /// The settings as they are now.
        settings: Settings,
    },
    /// The host issued a new invite code; the old link stops working (kicked members stay
    /// banned). The code itself is not in the event: the gateway decides who gets to see it.
    InviteRotated,
    /// The host let a kicked user join again.
    MemberUnbanned {
        /// Who may join again.
        user_id: UserId,
    },
    /// The host pressed start.
    SessionStarted {
        /// The shuffled queue.
        queue: Vec<QueueEntry>,
        /// Index of the entry playing now (0).
        position: usize,
    },
    /// The queue or the now-playing position changed.
    Queue {
        /// The whole queue.
        queue: Vec<QueueEntry>,
        /// Index of the entry playing now.
        position: usize,
    },
    /// The session is over; nothing more will happen in it.
    SessionEnded,
}
