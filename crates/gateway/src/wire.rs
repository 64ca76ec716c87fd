//! The JSON shapes the API and the WebSocket protocol (v1) send: views of a session, the
//! server frames (each session event with its `seq`) and the client frames.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sesh_session::{
    DeviceId, EntryOrigin, GuestControls, LeaveReason, QueueEntry, Role, SessionId, SessionName,
    SessionState, Settings, Track, TrackId, TrackUri, UserId,
};
use sesh_spotify::RepeatState;

pub mod chat;
pub mod recap;

/// WebSocket protocol version announced in `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

/// A member as others see them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct MemberView {
    /// Spotify user id.
    pub id: UserId,
    /// Display name.
    pub display_name: String,
    /// `host` or `guest`.
    pub role: Role,
    /// Whether they have a WebSocket open right now.
    pub online: bool,
    /// Whether a moderator muted them in the chat.
    pub muted: bool,
    /// Whether they listen along on their own device: `in_sync`, `detached` (they played
    /// something else; Sesh no longer steers their player until they rejoin), or `null`.
    pub listening: Option<ListeningState>,
}

/// Where a member who listens along on their own device stands (`hub/listening.rs`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListeningState {
    /// Their device follows the session's track, position and pause.
    InSync,
    /// They left (played something else, on another device, or paused on their own): no
    /// command reaches their player until they opt in again.
    Detached,
}

/// Why a member stopped listening along without asking to (the `listening` event's `reason`).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListeningEnded {
    /// Spotify plays on their device only with Premium.
    PremiumRequired,
    /// Their Spotify login was revoked: they must log in again.
    ReauthRequired,
}

/// `{"id", "display_name"}` of a user.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UserRef {
    /// Spotify user id.
    pub id: UserId,
    /// Display name.
    pub display_name: String,
}

/// The caller, as `welcome.you`.
#[derive(Debug, Clone, Serialize)]
pub struct YouView {
    /// Spotify user id.
    pub id: UserId,
    /// Display name.
    pub display_name: String,
    /// `host` or `guest`.
    pub role: Role,
}

/// A session as its members see it (HTTP snapshot and `welcome.session`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// Session id.
    pub id: SessionId,
    /// `lobby`, `playing` or `ended`.
    pub state: SessionState,
    /// User id of the host.
    pub host: UserId,
    /// The code in the join link.
    pub invite_code: String,
    /// `{public_url}/j/{invite_code}`.
    pub join_url: String,
    /// Members in join order; in a session of more than `SESH_ROSTER_LIMIT` members, the host
    /// and the first others up to that many (`member_count` says how many there are).
    pub members: Vec<MemberView>,
    /// How many members the session has.
    pub member_count: usize,
    /// How many of them have a WebSocket open.
    pub online_count: usize,
    /// The play queue (empty in the lobby), whole or a window of it.
    #[serde(flatten)]
    pub queue: QueueWindow,
    /// Index of the now-playing queue entry (in the whole queue).
    pub position: usize,
    /// The host's device the queue plays on.
    pub device: Option<DeviceId>,
    /// Capacity, shuffle mode, the queue's rules and the guest controls.
    pub settings: SettingsView,
    /// Set while the session is idle (see `session_idle`): when it ends unless a member acts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_ends_at_ms: Option<i64>,
    /// The host's view only (empty for guests): the users the host removed, who cannot join
    /// again until the host lets them back in, with the names they had when removed.
    pub banned: Vec<UserRef>,
    /// The viewer's own top tracks, the ones they brought into the session (at most 5, in
    /// their order; each viewer sees only their own).
    #[schema(value_type = Vec<Track>)]
    pub your_tracks: Vec<Arc<Track>>,
    /// The entry already handed to Spotify's queue ("up next", pinned), if any.
    #[schema(value_type = Option<u64>)]
    pub committed_id: Option<sesh_session::QueueEntryId>,
    /// Skip votes on the playing entry.
    pub skip: SkipView,
    /// Tracks the host or a co-host banned from the session.
    #[schema(value_type = Vec<String>)]
    pub banned_tracks: Vec<TrackId>,
}

/// `POST /api/sessions/{id}/queue/{entry_id}/vote` (and the caller's view of a `vote` frame).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct VoteAnswer {
    /// The entry.
    #[schema(value_type = u64)]
    pub id: sesh_session::QueueEntryId,
    /// Its net votes now.
    pub votes: i64,
    /// The caller's vote now: 1, −1 or 0.
    pub your_vote: i8,
}

/// `POST /api/sessions/{id}/skip-vote`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SkipAnswer {
    /// The playing entry.
    #[schema(value_type = u64)]
    pub entry_id: sesh_session::QueueEntryId,
    /// Members voting to skip it.
    pub votes: usize,
    /// Votes that skip it, for the members connected now.
    pub needed: usize,
    /// Whether the caller votes to skip it now.
    pub you_voted: bool,
    /// This vote called for the skip (Spotify is told in the background).
    pub skipped: bool,
}

/// The skip votes on the playing entry, as a member sees them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SkipView {
    /// The playing entry (`null` when nothing of the queue plays).
    #[schema(value_type = Option<u64>)]
    pub entry_id: Option<sesh_session::QueueEntryId>,
    /// Members voting to skip it.
    pub votes: usize,
    /// Votes that skip it, for the members connected now.
    pub needed: usize,
    /// Whether the viewer votes to skip it.
    pub you_voted: bool,
}

/// How many of the members who brought a track are named in `added_by` (the first ones, in join
/// order); `added_by_count` says how many there are in all. In a big room a popular track is in
/// hundreds of members' top 5: listing them all made every `playback` frame and queue entry
/// grow with the room.
pub const ADDED_BY_LISTED: usize = 5;

/// The first [`ADDED_BY_LISTED`] of `all`.
pub fn added_by_listed(all: &[UserId]) -> Vec<UserId> {
    all[..all.len().min(ADDED_BY_LISTED)].to_vec()
}

/// A queue entry as members see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct QueueEntryView {
    /// The entry's id, unique in the session (a track queued twice is two entries).
    #[schema(value_type = u64)]
    pub id: sesh_session::QueueEntryId,
    /// The track.
    #[schema(value_type = Track)]
    pub track: Arc<Track>,
    /// The first members (in join order) whose top tracks had it, at most [`ADDED_BY_LISTED`].
    pub added_by: Vec<UserId>,
    /// How many members brought it.
    pub added_by_count: usize,
    /// `top_tracks` (the opening shuffle, a late joiner) or `added` (by `added_by[0]` while the
    /// session played).
    #[schema(value_type = String)]
    pub origin: EntryOrigin,
    /// Net votes (up minus down); an added entry starts with its adder's up vote.
    pub votes: i64,
    /// The viewer's own vote (1, −1 or 0): in a member's snapshot and HTTP pages only, never in
    /// frames everyone receives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub your_vote: Option<i8>,
}

impl From<&QueueEntry> for QueueEntryView {
    fn from(entry: &QueueEntry) -> Self {
        Self {
            id: entry.id,
            track: entry.track.clone(),
            added_by: added_by_listed(&entry.added_by),
            added_by_count: entry.added_by.len(),
            origin: entry.origin,
            votes: entry.net_votes(),
            your_vote: None,
        }
    }
}

impl QueueEntryView {
    /// The entry as `viewer` sees it: with their own vote.
    pub fn for_viewer(entry: &QueueEntry, viewer: &UserId) -> Self {
        Self {
            your_vote: Some(entry.vote_of(viewer)),
            ..Self::from(entry)
        }
    }
}

/// The queue as members receive it: entries `queue_offset .. queue_offset + queue.len()` of the
/// `queue_length` entries of the whole queue. A queue of at most `SESH_QUEUE_WINDOW` entries is
/// sent whole (`queue_offset` 0); a longer one as a window around the now-playing entry, so no
/// frame grows with the size of the session (the rest is paged over HTTP).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct QueueWindow {
    /// The entries of the window.
    pub queue: Vec<QueueEntryView>,
    /// Index of `queue[0]` in the whole queue.
    pub queue_offset: usize,
    /// Entries in the whole queue.
    pub queue_length: usize,
}

impl QueueWindow {
    /// The window of `queue` that members get while `position` plays: the whole queue when it
    /// has at most `window` entries, else `window` entries starting a tenth of a window before
    /// `position` (so the last few played entries stay in view).
    pub fn around(queue: &[QueueEntry], position: usize, window: usize) -> Self {
        Self::around_as(queue, position, window, |e| QueueEntryView::from(e))
    }

    /// [`QueueWindow::around`] with each entry as `view` shows it (a viewer's own votes).
    pub fn around_as(
        queue: &[QueueEntry],
        position: usize,
        window: usize,
        view: impl Fn(&QueueEntry) -> QueueEntryView,
    ) -> Self {
        let window = window.max(1);
        let offset = if queue.len() <= window {
            0
        } else {
            position
                .saturating_sub(window / 10)
                .min(queue.len() - window)
        };
        let end = (offset + window).min(queue.len());
        Self {
            queue: queue[offset..end].iter().map(view).collect(),
            queue_offset: offset,
            queue_length: queue.len(),
        }
    }

    /// `(offset, end)`: the stretch of the whole queue this window covers.
    pub fn bounds(&self) -> (usize, usize) {
        (self.queue_offset, self.queue_offset + self.queue.len())
    }
}

/// A page of a list (`GET /api/sessions/{id}/members` and `…/queue`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The entries from `offset`.
    pub items: Vec<T>,
    /// Index of `items[0]` in the whole list.
    pub offset: usize,
    /// Entries in the whole list.
    pub total: usize,
}

impl<T> Page<T> {
    /// At most `limit` entries of `all` from `offset`, each shown with `show`.
    pub fn of<S>(all: &[S], offset: usize, limit: usize, show: impl FnMut(&S) -> T) -> Self {
        Self {
            items: all.iter().skip(offset).take(limit).map(show).collect(),
            offset,
            total: all.len(),
        }
    }
}

/// A device as the `playback` event shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeviceView {
    /// Spotify device id (may be absent for restricted devices).
    pub id: Option<String>,
    /// Device name.
    pub name: String,
    /// Whether its volume can be set (`volume` commands are refused otherwise).
    pub supports_volume: bool,
}

/// What a `playback` event changed (its `changes`), the diff of two observations of the
/// host's player.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum PlaybackChange {
    /// Another track (or none).
    Track,
    /// Playing ↔ paused.
    PlayState,
    /// Another device.
    Device,
    /// The device's volume.
    Volume,
    /// A jump in the track beyond normal drift.
    Seek,
    /// Spotify's own shuffle was switched (Sesh keeps it off: its order is the session's).
    Shuffle,
    /// The repeat mode.
    Repeat,
}

/// What plays on the host's device (`playback` event, `welcome.playback`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlaybackView {
    /// The track, or `null` when nothing (or a podcast) plays.
    pub track: Option<Track>,
    /// Playing or paused.
    pub is_playing: bool,
    /// Position in the track when the server observed it.
    pub progress_ms: u32,
    /// The device playing.
    pub device: Option<DeviceView>,
    /// Server clock (Unix ms) when the state was observed; clients extrapolate progress from it.
    pub server_time_ms: i64,
    /// The first members who brought this track, at most [`ADDED_BY_LISTED`] (empty when it is
    /// not from the session's queue).
    pub added_by: Vec<UserId>,
    /// How many members brought it.
    pub added_by_count: usize,
    /// Queue index of the track, when it is from the session's queue.
    pub position: Option<usize>,
    /// The device's volume (0–100), when it reports one.
    pub volume_percent: Option<u32>,
    /// Spotify's own shuffle is on (the host switched it on in Spotify: Sesh's order is then
    /// not what plays).
    pub shuffle: bool,
    /// `off`, `track` or `context`.
    pub repeat: RepeatState,
    /// What changed since the previous `playback` (empty: a periodic resync).
    pub changes: Vec<PlaybackChange>,
}

impl PlaybackView {
    /// Where the track is at `now_ms` (the server's clock): the observed progress, moved on
    /// by the time since Spotify answered while it plays.
    pub fn progress_at(&self, now_ms: i64) -> u32 {
        let elapsed = if self.is_playing {
            (now_ms - self.server_time_ms).max(0)
        } else {
            0
        };
        u32::try_from(i64::from(self.progress_ms) + elapsed).unwrap_or(0)
    }
}

/// The health of the session's link to Spotify (`spotify_status` event, `welcome.spotify`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SpotifyStatus {
    /// `ok`, `rate_limited`, `unavailable`, `host_took_over` or `reauth_required`.
    pub state: SpotifyState,
    /// For `rate_limited`: seconds until the next try.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
    /// For `host_took_over`: `foreign_playback` (the host plays something else) or
    /// `playback_gone` (the device stopped or disappeared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<TakeOverReason>,
    /// What members see.
    pub message: String,
}

/// Why the session stopped steering the host's player (`spotify_status.reason`).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TakeOverReason {
    /// The host plays something that is not the session's queue.
    ForeignPlayback,
    /// The player has nothing loaded any more (the device disappeared or was switched off).
    PlaybackGone,
}

impl SpotifyStatus {
    /// All good.
    pub fn ok() -> Self {
        Self {
            state: SpotifyState::Ok,
            retry_after_s: None,
            reason: None,
            message: "connected to Spotify".to_owned(),
        }
    }
}

/// See [`SpotifyStatus::state`].
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SpotifyState {
    /// Polling works.
    Ok,
    /// Spotify asked us to wait.
    RateLimited,
    /// 5xx or timeouts.
    Unavailable,
    /// The host plays something that is not the session's queue.
    HostTookOver,
    /// The host's Spotify login must be renewed.
    ReauthRequired,
}

/// A session's settings as members see them: the stored [`Settings`] (whose
/// `guest_permissions` lists what guests may do) and the same as the host's switches,
/// `permissions` (`{"add": true, "pause": false, …}`, the form `PATCH …/settings` takes).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SettingsView {
    /// The settings.
    #[serde(flatten)]
    pub settings: Settings,
    /// What guests may do, one switch per permission.
    pub permissions: GuestControls,
}

impl From<&Settings> for SettingsView {
    fn from(settings: &Settings) -> Self {
        Self {
            permissions: settings.guest_permissions.into(),
            settings: settings.clone(),
        }
    }
}

/// A session event as sent to every member; serialized once per session with its `seq`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionEvent {
    /// Someone joined.
    MemberJoined {
        /// The new member.
        member: MemberView,
    },
    /// Someone left or was kicked.
    MemberLeft {
        /// Who.
        user_id: UserId,
        /// `left` or `kicked`.
        reason: LeaveReason,
    },
    /// The host role moved.
    HostChanged {
        /// The new host.
        host: UserId,
    },
    /// A member's details changed.
    MemberUpdated {
        /// The member now.
        member: MemberView,
    },
    /// The host changed the settings.
    SettingsChanged {
        /// The settings now.
        settings: SettingsView,
    },
    /// A new invite link replaced the old one.
    InviteRotated {
        /// The new code.
        invite_code: String,
        /// The new link.
        join_url: String,
    },
    /// The host let a kicked user join again.
    MemberUnbanned {
        /// Who.
        user_id: UserId,
    },
    /// The host pressed start.
    SessionStarted {
        /// The shuffled queue (whole or a window, see [`QueueWindow`]).
        #[serde(flatten)]
        queue: QueueWindow,
        /// Now-playing index (0).
        position: usize,
        /// The device it plays on.
        device: Option<DeviceId>,
    },
    /// The queue's content changed (a late joiner), or a long queue's window moved on.
    Queue {
        /// The queue (whole or a window, see [`QueueWindow`]).
        #[serde(flatten)]
        queue: QueueWindow,
        /// Now-playing index.
        position: usize,
    },
    /// A member added an entry (or a few came in one change): inserted at `index` of the whole
    /// queue; the entries from `index` on move up by one.
    EntryAdded {
        /// The entry.
        entry: QueueEntryView,
        /// Its index in the whole queue.
        index: usize,
    },
    /// An entry left the queue; the entries after it move down by one.
    EntryRemoved {
        /// Which entry.
        id: sesh_session::QueueEntryId,
    },
    /// An entry moved: taken out, then inserted at `index` (of the queue without it).
    EntryMoved {
        /// Which entry.
        id: sesh_session::QueueEntryId,
        /// Its index now.
        index: usize,
    },
    /// An entry's net votes changed.
    EntryVotes {
        /// Which entry.
        id: sesh_session::QueueEntryId,
        /// Net votes now.
        votes: i64,
    },
    /// The entry after the playing one was handed to Spotify's queue: pinned, up next.
    EntryCommitted {
        /// Which entry.
        id: sesh_session::QueueEntryId,
    },
    /// The skip votes on the playing entry changed (or how many are needed, as members come
    /// and go).
    SkipVotes {
        /// The playing entry.
        entry_id: sesh_session::QueueEntryId,
        /// Members voting to skip it.
        votes: usize,
        /// Votes that skip it, for the members connected now.
        needed: usize,
    },
    /// A track was banned from the session (its upcoming entries were removed just before).
    TrackBanned {
        /// The track.
        track_id: TrackId,
    },
    /// In a session of more than `SESH_ROSTER_LIMIT` members, joins, leaves and presence are
    /// not announced one by one (that would be O(members²) frames); the counts are, at most
    /// once a second. When such a session shrinks back to the limit, this event carries the
    /// whole roster again (`members`) and per-member events resume.
    MembersSummary {
        /// How many members the session has.
        member_count: usize,
        /// How many of them have a WebSocket open.
        online_count: usize,
        /// The whole roster, when the session just became small enough to list it again.
        #[serde(skip_serializing_if = "Option::is_none")]
        members: Option<Vec<MemberView>>,
    },
    /// What plays changed (or the periodic resync).
    Playback(Box<PlaybackView>),
    /// A member's WebSocket presence changed.
    Presence {
        /// Who.
        user_id: UserId,
        /// Whether they have a socket open now.
        online: bool,
    },
    /// A member started or stopped listening along on their own device, or became detached.
    Listening {
        /// Who.
        user_id: UserId,
        /// `in_sync`, `detached`, or `null` (not listening along).
        listening: Option<ListeningState>,
        /// Why Sesh stopped it, when it did (not for the member's own opt-out).
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<ListeningEnded>,
    },
    /// The link to Spotify changed health.
    SpotifyStatus(SpotifyStatus),
    /// A moderator muted or unmuted a member in the chat.
    MemberMuted {
        /// Who.
        user_id: UserId,
        /// Whether their messages are refused now.
        muted: bool,
    },
    /// A member's role changed (promoted to co-host, or back to guest).
    RoleChanged {
        /// Who.
        user_id: UserId,
        /// Their role now.
        role: Role,
    },
    /// The session plays on another of the host's devices now (a transfer, or a resume on
    /// another device).
    DeviceChanged {
        /// The device.
        device: DeviceId,
    },
    /// Nobody used the session for `SESH_SESSION_IDLE_TIMEOUT` (nobody connected, or the music
    /// paused): it stopped following Spotify and ends at `ends_at_ms` unless a member acts (any
    /// request or frame; the page offers "Keep the session").
    SessionIdle {
        /// When it ends (server clock, ms since the epoch).
        ends_at_ms: i64,
    },
    /// A member acted while the session was idle: it is live again.
    SessionActive,
    /// The host offered the playing session to `to`, who picks one of their devices to take
    /// it (`POST …/handover {"to": <themselves>, "device_id"}`).
    HandoverOffered {
        /// The host.
        from: UserId,
        /// Who may take it.
        to: UserId,
    },
    /// The host has been disconnected for `SESH_HOST_TIMEOUT` and no co-host could take over:
    /// the music is paused, and any member may take the session over with one of their
    /// devices.
    HostAway {
        /// Since when the host is disconnected (ms since the epoch).
        since_ms: i64,
    },
    /// The host who was away is back.
    HostBack,
    /// The session is over.
    SessionEnded,
}

/// `{..event, "seq": N}`: the envelope every session event travels in.
#[derive(Serialize)]
struct Sequenced<'a> {
    #[serde(flatten)]
    event: &'a SessionEvent,
    seq: u64,
}

impl SessionEvent {
    /// The event as the JSON text frame members receive.
    pub fn to_frame(&self, seq: u64) -> String {
        // Serializing these plain data types cannot fail (string keys, no custom impls).
        serde_json::to_string(&Sequenced { event: self, seq }).unwrap_or_default()
    }
}

/// The first frame of a connection (or after a resume that could not be served).
#[derive(Debug, Serialize)]
pub struct Welcome {
    /// Always `welcome`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// Sequence number of the last event included in this state; the next event has `seq + 1`.
    pub seq: u64,
    /// `false`: this is a full state, drop anything you had (a `?since=` resume was not possible
    /// or not asked for).
    pub recovered: bool,
    /// The caller.
    pub you: YouView,
    /// The session.
    pub session: SessionView,
    /// What plays now (`null` when unknown or nothing).
    pub playback: Option<PlaybackView>,
    /// The link to Spotify.
    pub spotify: SpotifyStatus,
    /// The newest chat messages (at most [`chat::WELCOME_CHAT_MESSAGES`]) and the playing
    /// track's reactions.
    pub chat: chat::ChatPage,
}

/// A frame for one connection only (not a session event, no `seq`).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DirectFrame {
    /// Answer to a bad client frame or a refused action.
    Error {
        /// Stable code.
        code: String,
        /// Human-readable explanation.
        message: String,
        /// For `rate_limited`.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_s: Option<u64>,
        /// For `forbidden`: the guest control (`settings.permissions` key) that would
        /// allow it, when the host could open it to guests.
        #[serde(skip_serializing_if = "Option::is_none")]
        permission: Option<&'static str>,
    },
    /// Answer to `ping`.
    Pong,
}

impl DirectFrame {
    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// An error frame.
    pub fn error(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Error {
            code: code.into(),
            message: message.into(),
            retry_after_s: None,
            permission: None,
        }
    }
}

/// What a client may send.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Host: start the session on a device.
    Start {
        /// The Spotify device id.
        device_id: String,
    },
    /// Resume.
    Play,
    /// Pause.
    Pause,
    /// Skip forward.
    Next,
    /// Skip back.
    Previous,
    /// Jump in the current track.
    Seek(SeekBody),
    /// Set the device's volume.
    Volume(VolumeBody),
    /// Repeat the current track, or not.
    Repeat(RepeatBody),
    /// Move playback to another of the host's devices.
    Transfer(TransferBody),
    /// Re-draw the fair order of what is next.
    Reshuffle,
    /// Add a track to the queue: `{"type": "add", "uri": "spotify:track:…"}` (or a link).
    Add {
        /// `spotify:track:<id>` or `https://open.spotify.com/track/<id>`.
        uri: String,
    },
    /// Take an upcoming entry out: `{"type": "remove", "entry_id": 7}`.
    Remove {
        /// The entry.
        entry_id: u64,
    },
    /// Vote on an upcoming entry: `{"type": "vote", "entry_id": 7, "vote": 1}` (1, −1, 0).
    Vote {
        /// The entry.
        entry_id: u64,
        /// 1 up, −1 down, 0 withdraw.
        vote: i8,
    },
    /// Toggle the caller's vote to skip the playing track.
    VoteSkip,
    /// Write in the chat: `{"type": "chat", "text": "…"}`.
    Chat {
        /// One line, 1–500 characters after trimming.
        text: String,
    },
    /// Toggle a reaction on a chat message: `{"type": "chat_react", "id": 7, "reaction": "👍"}`.
    ChatReact {
        /// The message.
        id: u64,
        /// One of 👍 ❤️ 😂 🔥 🎉.
        reaction: sesh_session::Reaction,
    },
    /// Toggle a reaction on the playing track: `{"type": "track_react", "reaction": "🔥"}`.
    TrackReact {
        /// One of 👍 ❤️ 😂 🔥 🎉.
        reaction: sesh_session::Reaction,
    },
    /// Keep-alive; answered with `pong`.
    Ping,
}

/// `{"position_ms"}`: the `seek` frame and `POST …/player/seek`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeekBody {
    /// Milliseconds from the start of the current track.
    pub position_ms: u32,
}

/// `{"percent"}` (0–100): the `volume` frame and `POST …/player/volume`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeBody {
    /// 0–100.
    #[serde(deserialize_with = "percent")]
    #[schema(minimum = 0, maximum = 100)]
    pub percent: u8,
}

/// `{"state": "off" | "track"}`: the `repeat` frame and `POST …/player/repeat`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatBody {
    /// `off` or `track`.
    pub state: RepeatMode,
}

/// Repeat modes a session may ask for. Spotify's `context` (loop the whole list) is left out:
/// a session's queue ends when its last entry has played.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RepeatMode {
    /// Play on through the queue.
    Off,
    /// Repeat the current track.
    Track,
}

/// `{"device_id", "play"}`: the `transfer` frame and `POST …/player/transfer`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// One of the host's devices (`GET /api/me/devices`).
    #[serde(deserialize_with = "device_id")]
    #[schema(value_type = String, min_length = 1, max_length = 256)]
    pub device_id: DeviceId,
    /// Start playing there (default: keep playing or paused as now).
    #[serde(default)]
    pub play: bool,
}

fn percent<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let value = u32::deserialize(d)?;
    u8::try_from(value)
        .ok()
        .filter(|p| *p <= 100)
        .ok_or_else(|| serde::de::Error::custom("percent must be between 0 and 100"))
}

fn device_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DeviceId, D::Error> {
    let text = String::deserialize(d)?;
    text.parse::<DeviceId>()
        .ok()
        .filter(|_| text.len() <= 256)
        .ok_or_else(|| serde::de::Error::custom("device_id is not a device id"))
}

/// Why a client frame was refused before reaching the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not JSON, or not an object with a string `type`.
    #[error("frames are JSON objects with a string \"type\"")]
    Malformed,
    /// A `type` this server does not know.
    #[error("unknown frame type {0:?}")]
    UnknownType(String),
    /// A known type with missing or wrong fields.
    #[error("invalid {kind} frame: {detail}")]
    Invalid {
        /// The frame type.
        kind: String,
        /// What is wrong.
        detail: String,
    },
}

impl FrameError {
    /// The `error.code` for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed_frame",
            Self::UnknownType(_) => "unknown_type",
            Self::Invalid { .. } => "invalid_frame",
        }
    }
}

const KNOWN_TYPES: &[&str] = &[
    "start",
    "play",
    "pause",
    "next",
    "previous",
    "seek",
    "volume",
    "repeat",
    "transfer",
    "reshuffle",
    "add",
    "remove",
    "vote",
    "vote_skip",
    "chat",
    "chat_react",
    "track_react",
    "ping",
];
/// Types whose frames have no field but `type`.
const FIELDLESS_TYPES: &[&str] = &[
    "play",
    "pause",
    "next",
    "previous",
    "reshuffle",
    "vote_skip",
    "ping",
];

impl ClientFrame {
    /// Parses a text frame, telling malformed JSON, unknown types and bad fields apart.
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|_| FrameError::Malformed)?;
        let kind = value
            .get("type")
            .and_then(serde_json::Value::as_str)
            .ok_or(FrameError::Malformed)?
            .to_owned();
        if !KNOWN_TYPES.contains(&kind.as_str()) {
            return Err(FrameError::UnknownType(shortened(&kind).to_owned()));
        }
        // serde ignores extra fields next to the tag of a unit variant even with
        // `deny_unknown_fields`; refuse them here so every type is as strict as `start`.
        if FIELDLESS_TYPES.contains(&kind.as_str())
            && let Some(extra) = value
                .as_object()
                .and_then(|o| o.keys().find(|k| k.as_str() != "type"))
        {
            return Err(FrameError::Invalid {
                detail: format!(
                    "unknown field `{}`: this frame has no fields",
                    shortened(extra)
                ),
                kind,
            });
        }
        serde_json::from_value(value).map_err(|e| FrameError::Invalid {
            kind,
            detail: e.to_string(),
        })
    }
}

/// Most bytes of client text echoed back in an error frame.
const ECHO_MAX_BYTES: usize = 64;

/// `text` cut to at most [`ECHO_MAX_BYTES`] bytes, on a character boundary (a multibyte
/// character across the cut is left out whole, never split).
fn shortened(text: &str) -> &str {
    if text.len() <= ECHO_MAX_BYTES {
        return text;
    }
    let mut cut = ECHO_MAX_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// Converts a Spotify track into the session's track (None for local files without an id).
pub fn track_from_spotify(track: &sesh_spotify::Track) -> Option<Track> {
    let id = TrackId::new(track.id.clone()?);
    let uri = track
        .uri
        .parse::<TrackUri>()
        .unwrap_or_else(|_| TrackUri::for_track(&id));
    Some(Track {
        uri,
        name: track.name.clone(),
        artists: track.artist_names(),
        album: track
            .album
            .as_ref()
            .map(|a| a.name.clone())
            .unwrap_or_default(),
        image_url: track.image_url().map(str::to_owned),
        duration_ms: track.duration_ms,
        id,
    })
}

/// One of the session's display keys, as its host sees it (`…/displays`, docs/displays.md).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DisplayView {
    /// The key (22 URL-safe characters): the secret in the links below.
    pub key: String,
    /// What the host called it.
    pub label: Option<String>,
    /// Whether its displays see the join link (and show its QR code).
    pub show_join: bool,
    /// When it was made (Unix ms).
    pub created_at_ms: i64,
    /// The full-screen TV page.
    pub tv_url: String,
    /// The stream overlay (a transparent card for OBS).
    pub overlay_url: String,
    /// The Server-Sent Events stream.
    pub events_url: String,
    /// Streams open with it now.
    pub open_streams: usize,
}

/// `GET /api/sessions/{id}/displays`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DisplayList {
    /// Oldest first.
    pub displays: Vec<DisplayView>,
}

/// Public preview of an invite (`GET /api/invites/{code}`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InvitePreview {
    /// The session.
    pub session_id: SessionId,
    /// Its host.
    pub host: UserRef,
    /// What the host named it (`null`: no name).
    pub name: Option<SessionName>,
    /// How many members it has.
    pub member_count: usize,
    /// `lobby`, `playing` or `ended`.
    pub state: SessionState,
    /// For a logged-in caller only: where they stand in this session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub you: Option<PreviewYou>,
    /// The app's Spotify seats (`SESH_SPOTIFY_SEATS`): a login past them is offered to
    /// spectate; spectating needs none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seats: Option<SeatsLeft>,
}

/// How many of the app's Spotify seats are left (`seats` of an invite preview).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SeatsLeft {
    /// `SESH_SPOTIFY_SEATS` (0: no limit).
    pub limit: u32,
    /// Held now.
    pub used: u32,
    /// Free now (`null`: no limit).
    pub left: Option<u32>,
}

/// Where the logged-in caller of an invite preview stands (`you`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PreviewYou {
    /// Already a member.
    pub member: bool,
    /// Removed by the host: a join is refused (`banned`) until the host lets them back in.
    pub banned: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_playing_track_moves_on_from_its_observation_and_a_paused_one_stays() {
        let mut view = PlaybackView {
            track: None,
            is_playing: true,
            progress_ms: 10_000,
            device: None,
            server_time_ms: 1_000_000,
            added_by: Vec::new(),
            added_by_count: 0,
            position: None,
            volume_percent: None,
            shuffle: false,
            repeat: RepeatState::Off,
            changes: Vec::new(),
        };
        assert_eq!(view.progress_at(1_002_500), 12_500);
        // A clock that reads earlier than the answer does not move it back.
        assert_eq!(view.progress_at(999_000), 10_000);
        view.is_playing = false;
        assert_eq!(view.progress_at(1_060_000), 10_000);
    }

    #[test]
    fn client_frames_parse_and_fail_precisely() {
        assert_eq!(
            ClientFrame::parse(r#"{"type":"ping"}"#),
            Ok(ClientFrame::Ping)
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"start","device_id":"d1"}"#),
            Ok(ClientFrame::Start {
                device_id: "d1".into()
            })
        );
        assert_eq!(ClientFrame::parse("nope"), Err(FrameError::Malformed));
        assert_eq!(
            ClientFrame::parse(r#"{"type":3}"#),
            Err(FrameError::Malformed)
        );
        assert_eq!(ClientFrame::parse("[]"), Err(FrameError::Malformed));
        assert!(matches!(
            ClientFrame::parse(r#"{"type":"dance"}"#),
            Err(FrameError::UnknownType(t)) if t == "dance"
        ));
        assert!(matches!(
            ClientFrame::parse(r#"{"type":"start"}"#),
            Err(FrameError::Invalid { .. })
        ));
        assert!(matches!(
            ClientFrame::parse(r#"{"type":"play","device_id":null}"#),
            Err(FrameError::Invalid { .. })
        ));
    }

    #[test]
    fn echoed_names_are_cut_on_a_character_boundary() {
        // "é" is two bytes: with 63 ASCII bytes before it, byte 64 falls inside it.
        let long = format!("{}é{}", "x".repeat(63), "y".repeat(10));
        let Err(FrameError::UnknownType(shown)) =
            ClientFrame::parse(&serde_json::json!({ "type": long }).to_string())
        else {
            panic!("an unknown type");
        };
        assert_eq!(shown, "x".repeat(63));
        let Err(FrameError::Invalid { detail, .. }) =
            ClientFrame::parse(&serde_json::json!({ "type": "play", long.clone(): 1 }).to_string())
        else {
            panic!("an unknown field");
        };
        assert!(
            detail.contains(&"x".repeat(63)) && !detail.contains('y'),
            "{detail}"
        );
        assert_eq!(shortened("short é"), "short é");
        assert_eq!(shortened(&"é".repeat(40)), "é".repeat(32));
    }

    #[test]
    fn a_queue_entry_names_the_first_members_who_brought_it_and_counts_them_all() {
        let id = TrackId::new("t");
        let entry = |n: usize| QueueEntry {
            id: sesh_session::QueueEntryId::new(n as u64),
            track: Arc::new(Track {
                uri: TrackUri::for_track(&id),
                id: id.clone(),
                name: String::new(),
                artists: vec![],
                album: String::new(),
                image_url: None,
                duration_ms: 1,
            }),
            added_by: (0..n).map(|i| UserId::new(format!("u{i}"))).collect(),
            origin: Default::default(),
            votes: Default::default(),
        };
        let names = |view: &QueueEntryView| -> Vec<String> {
            view.added_by.iter().map(|u| u.to_string()).collect()
        };
        let few = QueueEntryView::from(&entry(2));
        assert_eq!(
            (names(&few), few.added_by_count),
            (vec!["u0".into(), "u1".into()], 2)
        );
        let many = QueueEntryView::from(&entry(ADDED_BY_LISTED + 70));
        assert_eq!(
            names(&many),
            (0..ADDED_BY_LISTED)
                .map(|i| format!("u{i}"))
                .collect::<Vec<_>>()
        );
        assert_eq!(many.added_by_count, ADDED_BY_LISTED + 70);
        let json = serde_json::to_value(&many).unwrap();
        assert_eq!(json["added_by"].as_array().unwrap().len(), ADDED_BY_LISTED);
        assert_eq!(json["added_by_count"], ADDED_BY_LISTED + 70);
    }

    #[test]
    fn a_long_queue_is_sent_as_a_window_around_the_current_entry() {
        use sesh_session::Track;
        let queue: Vec<QueueEntry> = (0..25)
            .map(|i| {
                let id = TrackId::new(format!("t{i}"));
                QueueEntry {
                    id: sesh_session::QueueEntryId::new(i as u64),
                    track: std::sync::Arc::new(Track {
                        uri: TrackUri::for_track(&id),
                        id,
                        name: String::new(),
                        artists: vec![],
                        album: String::new(),
                        image_url: None,
                        duration_ms: 1,
                    }),
                    added_by: vec![UserId::new("a")],
                    origin: Default::default(),
                    votes: Default::default(),
                }
            })
            .collect();
        let bounds = |position, window| {
            let w = QueueWindow::around(&queue, position, window);
            assert_eq!(w.queue_length, 25);
            assert_eq!(
                w.queue[..],
                queue[w.queue_offset..w.queue_offset + w.queue.len()]
                    .iter()
                    .map(QueueEntryView::from)
                    .collect::<Vec<_>>()[..]
            );
            (w.queue_offset, w.queue.len())
        };
        // Short enough: whole, wherever the position.
        assert_eq!(bounds(24, 25), (0, 25));
        assert_eq!(bounds(3, 100), (0, 25));
        // Longer: a tenth of a window behind, the rest ahead, never past the end.
        assert_eq!(bounds(0, 10), (0, 10));
        assert_eq!(bounds(1, 10), (0, 10));
        assert_eq!(bounds(9, 10), (8, 10));
        assert_eq!(bounds(20, 10), (15, 10));
        assert_eq!(bounds(24, 10), (15, 10));
        assert_eq!(bounds(0, 0), (0, 1));
        let empty = QueueWindow::around(&[], 0, 10);
        assert_eq!(
            (empty.queue_offset, empty.queue.len(), empty.queue_length),
            (0, 0, 0)
        );
    }

    #[test]
    fn events_carry_type_and_seq() {
        let frame = SessionEvent::Presence {
            user_id: UserId::new("bob"),
            online: true,
        }
        .to_frame(7);
        let v: serde_json::Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(v["type"], "presence");
        assert_eq!(v["seq"], 7);
        assert_eq!(v["user_id"], "bob");
        let ended: serde_json::Value =
            serde_json::from_str(&SessionEvent::SessionEnded.to_frame(8)).unwrap();
        assert_eq!(
            ended,
            serde_json::json!({"type": "session_ended", "seq": 8})
        );
        let status: serde_json::Value =
            serde_json::from_str(&SessionEvent::SpotifyStatus(SpotifyStatus::ok()).to_frame(9))
                .unwrap();
        assert_eq!(status["state"], "ok");
        assert_eq!(status["type"], "spotify_status");
    }
}
