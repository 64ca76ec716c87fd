//! What happened in a session, for the gateway to fan out to every member.

use serde::{Deserialize, Serialize};

use crate::display::{DisplayKey, SessionDisplay};
use crate::ids::{DeviceId, QueueEntryId, TrackId, UserId};
use crate::member::{Member, Role};
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
///
/// The queue events (`entry_added`, `entry_updated`, `entry_removed`, `entry_moved`,
/// `entry_votes`, `queue_reordered`)
/// describe a change exactly: applied in order to the queue as it was, they give the
/// queue as it is (same entries, same ids). The tests check this for every transition.
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
    /// Another member is host now (handed over, or the host left). The new host's role is
    /// `host` (a co-host who became host is no longer a co-host); a previous host who is
    /// still a member is a guest now.
    HostChanged {
        /// The new host.
        host: UserId,
    },
    /// The host made a member a co-host, or a co-host a guest again.
    RoleChanged {
        /// Whose role changed.
        user_id: UserId,
        /// Their role now (`co_host` or `guest`; the host changes only by `host_changed`).
        role: Role,
    },
    /// A moderator muted or unmuted a guest in the chat (or a mute was lifted because the
    /// member became a co-host or the host).
    MemberMuted {
        /// Who.
        user_id: UserId,
        /// Whether their messages are refused now.
        muted: bool,
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
    /// The host made a display key.
    DisplayCreated {
        /// The key and what it shows.
        display: SessionDisplay,
    },
    /// The host revoked a display key: its displays stop seeing the session.
    DisplayRevoked {
        /// The key.
        key: DisplayKey,
    },
    /// The session started playing on `device`. The queue, empty until now, holds the
    /// entries of the start plan ([`crate::Session::plan_start`]) in order: a store
    /// writes them all. Members woven in after the plan was made follow as `entry_added`
    /// and `entry_updated` events in the same batch, which apply on top of the plan's
    /// queue; a consumer that writes [`crate::Session::queue`] as it is after the batch
    /// must skip those.
    SessionStarted {
        /// Index of the entry playing now (0).
        position: usize,
        /// Where it plays.
        device: DeviceId,
    },
    /// An entry was inserted at `index`; the entries from `index` on move up by one.
    EntryAdded {
        /// The new entry.
        entry: QueueEntry,
        /// Its index in the queue now.
        index: usize,
    },
    /// An entry's credits (`added_by`) changed; its place in the queue did not.
    EntryUpdated {
        /// The entry as it is now.
        entry: QueueEntry,
    },
    /// An entry left the queue; the entries after it move down by one.
    EntryRemoved {
        /// Which entry.
        id: QueueEntryId,
    },
    /// The entries at indices `from..` are now in exactly this order (the same entries as
    /// before, rearranged).
    QueueReordered {
        /// Index of the first entry that may have moved.
        from: usize,
        /// Ids of the entries from `from` to the end of the queue, in their new order.
        order: Vec<QueueEntryId>,
    },
    /// An entry moved: taken out of the queue, then inserted at `index` (an index of the
    /// queue without it).
    EntryMoved {
        /// Which entry.
        id: QueueEntryId,
        /// Where it is now.
        index: usize,
    },
    /// Someone voted on an entry, changed or withdrew their vote.
    EntryVotes {
        /// Which entry.
        id: QueueEntryId,
        /// Its net votes now.
        votes: i64,
    },
    /// The entry after the playing one was handed to Spotify's queue: it is pinned now.
    EntryCommitted {
        /// Which entry.
        id: QueueEntryId,
    },
    /// The skip votes on the playing entry changed.
    SkipVotes {
        /// The playing entry.
        entry_id: QueueEntryId,
        /// How many members vote to skip it.
        votes: usize,
    },
    /// The host or a co-host banned a track: its upcoming entries left the queue (each
    /// with its own `entry_removed` before this event) and it cannot be added again.
    TrackBanned {
        /// The track.
        track_id: TrackId,
    },
    /// Another entry plays now.
    NowPlaying {
        /// Index of the entry playing now.
        position: usize,
    },
    /// Playback moved to another of the host's devices.
    DeviceChanged {
        /// Where it plays now.
        device: DeviceId,
    },
    /// The session is over; nothing more will happen in it.
    SessionEnded,
}
