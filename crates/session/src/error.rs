//! Why a transition was refused.

use crate::action::{Action, Requirement};
use crate::ids::{QueueEntryId, UserId};
use crate::permission::Permission;
use crate::session::SessionState;

/// A refused transition. The session is unchanged whenever one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The actor is a member but their role does not allow this (see
    /// [`Action::requirement`]).
    #[error("{}", forbidden_message(*action, *permission))]
    Forbidden {
        /// What was attempted.
        action: Action,
        /// The guest permission that would allow it, when the actor is a guest and one
        /// would: the host could open it to guests.
        permission: Option<Permission>,
    },
    /// The session already has `capacity` members.
    #[error("the session is full ({capacity} members)")]
    SessionFull {
        /// The session's capacity.
        capacity: usize,
    },
    /// The session has ended and accepts nothing more.
    #[error("the session has ended")]
    SessionEnded,
    /// The actor or the target is not in the session.
    #[error("{user} is not a member of this session")]
    NotAMember {
        /// Who is not a member.
        user: UserId,
    },
    /// Start was pressed but no member has any top tracks.
    #[error("nobody in the session has any top tracks to play yet")]
    NoTracks,
    /// The session is already playing.
    #[error("the session has already started")]
    AlreadyStarted,
    /// The operation needs a playing session.
    #[error("the session has not started yet")]
    NotStarted,
    /// The user was kicked and may come back only when the host lets them.
    #[error("{user} was removed from this session; only the host can let them back in")]
    Banned {
        /// Who was refused.
        user: UserId,
    },
    /// The target makes no sense for this action (e.g. the host kicking themself).
    #[error("invalid target: {reason}")]
    InvalidTarget {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No entry of the queue has this id (it never existed or was removed).
    #[error("the queue has no entry {id}")]
    EntryNotFound {
        /// The id asked for.
        id: QueueEntryId,
    },
    /// Adding is locked: only the host and co-hosts add now.
    #[error("the host has locked the queue; only the host and co-hosts can add tracks now")]
    AddingLocked,
    /// The host banned this track from the session.
    #[error("the host has banned this track from the session")]
    TrackBanned,
    /// The track is longer than the session allows.
    #[error("the track is longer than {} minutes, the longest this session takes", max_ms / 60_000)]
    TrackTooLong {
        /// The session's limit.
        max_ms: u32,
    },
    /// The track is already in the upcoming queue.
    #[error("the track is already in the queue; vote for it instead")]
    AlreadyQueued {
        /// The entry that has it.
        id: QueueEntryId,
    },
    /// The track played (or plays) within the session's last plays.
    #[error("the track played within the last {within} tracks; no replays")]
    RecentlyPlayed {
        /// The session's no-replay window.
        within: u32,
    },
    /// The member already has as many added tracks waiting as the session allows.
    #[error("you already have {limit} tracks waiting in the queue; add more once one has played")]
    MemberQueueFull {
        /// The session's limit.
        limit: u32,
    },
    /// The entry plays now, has played, or is already handed to Spotify: it cannot move or
    /// be voted on.
    #[error(
        "this entry is playing, has played or is up next already, so it can no longer be voted on"
    )]
    EntryPinned {
        /// Which entry.
        id: QueueEntryId,
    },
    /// A setting is out of its range.
    #[error("invalid settings: {reason}")]
    InvalidSettings {
        /// What is wrong.
        reason: &'static str,
    },
    /// Nothing of the queue plays now.
    #[error("nothing of the queue is playing")]
    NothingPlaying,
    /// The session holds as many display keys as it may.
    #[error("a session holds at most {max} display keys; revoke one first")]
    TooManyDisplays {
        /// The most there may be ([`crate::MAX_DISPLAYS`]).
        max: usize,
    },
    /// The session has no such display key (never had, or it was revoked).
    #[error("this display key is not valid (it was revoked, or never existed)")]
    DisplayNotFound,
    /// A moderator muted this member: their messages and reactions are refused.
    #[error("a moderator muted you in this session's chat")]
    Muted,
    /// The chat has no message with this id (it never existed, was deleted, or is older
    /// than the history the session keeps).
    #[error("the chat has no message {id}")]
    MessageNotFound {
        /// The id asked for.
        id: crate::chat::ChatMessageId,
    },
    /// The position is outside the queue.
    #[error("position {position} is outside the queue of {len} entries")]
    InvalidPosition {
        /// The position asked for.
        position: usize,
        /// Entries in the queue.
        len: usize,
    },
}

impl SessionError {
    /// A stable, machine-readable code for API responses (`{"error": {"code": …}}`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Forbidden { .. } => "forbidden",
            Self::SessionFull { .. } => "session_full",
            Self::SessionEnded => "session_ended",
            Self::NotAMember { .. } => "not_a_member",
            Self::NoTracks => "no_tracks",
            Self::AlreadyStarted => "already_started",
            Self::NotStarted => "not_started",
            Self::Banned { .. } => "banned",
            Self::InvalidTarget { .. } => "invalid_target",
            Self::InvalidPosition { .. } => "invalid_position",
            Self::EntryNotFound { .. } => "entry_not_found",
            Self::AddingLocked => "adding_locked",
            Self::TrackBanned => "track_banned",
            Self::TrackTooLong { .. } => "track_too_long",
            Self::AlreadyQueued { .. } => "already_queued",
            Self::RecentlyPlayed { .. } => "recently_played",
            Self::MemberQueueFull { .. } => "member_queue_full",
            Self::EntryPinned { .. } => "entry_pinned",
            Self::InvalidSettings { .. } => "invalid_settings",
            Self::NothingPlaying => "nothing_playing",
            Self::TooManyDisplays { .. } => "too_many_displays",
            Self::DisplayNotFound => "display_not_found",
            Self::Muted => "muted",
            Self::MessageNotFound { .. } => "message_not_found",
        }
    }
}

fn forbidden_message(action: Action, permission: Option<Permission>) -> String {
    if permission.is_some() {
        return format!("the host has not allowed guests to {action}");
    }
    match action.requirement() {
        Requirement::Host => format!("only the host may {action}"),
        Requirement::Moderator | Requirement::Guests(_) => {
            format!("only the host and co-hosts may {action}")
        }
        Requirement::AnyMember => format!("you may only {action} for yourself"),
        Requirement::Listener => {
            format!("the host may not {action}: the session plays on their device")
        }
    }
}

/// Why stored session data cannot be turned back into a [`crate::Session`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// Two members share a user id.
    #[error("member {0} appears twice")]
    DuplicateMember(UserId),
    /// Two display keys are the same, or there are more than a session may hold.
    #[error("the display keys are repeated or too many")]
    InvalidDisplays,
    /// A live session (or an ended one with members) whose host is not exactly the one
    /// member with the host role (co-hosts are fine).
    #[error("the host {0} is not the single member with the host role")]
    HostMismatch(UserId),
    /// A session that is not ended has no members.
    #[error("a {0} session has no members")]
    NoMembers(SessionState),
    /// More members than the capacity allows (or capacity 0).
    #[error("{members} members exceed the capacity of {capacity}")]
    OverCapacity {
        /// Members stored.
        members: usize,
        /// Capacity stored.
        capacity: usize,
    },
    /// The host or a co-host is muted.
    #[error("{0} is a moderator and muted")]
    MutedModerator(UserId),
    /// A banned user is also a member.
    #[error("{0} is both banned and a member")]
    BannedMember(UserId),
    /// Queue, position and device do not fit the state.
    #[error("the queue, position or device does not fit a {0} session")]
    InconsistentPlayback(SessionState),
    /// The queue holds an entry without credits, or credited twice to one member.
    #[error("the queue holds an entry without credits or credited twice to one member")]
    InvalidQueue,
    /// Two queue entries share an id.
    #[error("queue entry id {0} appears twice")]
    DuplicateEntryId(QueueEntryId),
    /// The committed entry is not the one after the playing one, or a session that does not
    /// play has skip votes. (Votes are `Vote`s, always ±1; members who left keep theirs.)
    #[error("votes, the committed entry or skip votes do not fit the queue")]
    InvalidVotes,
    /// An entry id (or the id counter) is beyond [`crate::session::MAX_ENTRY_ID`], which a
    /// browser could not read back exactly.
    #[error("queue entry id {0} is out of range")]
    EntryIdOutOfRange(QueueEntryId),
}
