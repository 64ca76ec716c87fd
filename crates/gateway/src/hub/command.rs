//! The messages a hub's task receives: requests of the use cases (sent by [`super::HubHandle`]),
//! and reports of its own poller and background Spotify calls. Private to the hub module.

use sesh_session::{
    Action, DeviceId, DisplayKey, InviteCode, NewMember, QueueEntryId, QueueSettingsPatch, Role,
    SessionName, Settings, StartPlan, Track, TrackId, UserId, Vote,
};
use std::sync::Arc;

use sesh_spotify::PlaybackState;
use tokio::sync::oneshot;

use super::{DisplayState, HubError, NewConnection, PlayerCommand};
use crate::wire::{
    DisplayView, InvitePreview, MemberView, Page, QueueEntryView, QueueWindow, SessionView,
    SkipAnswer, VoteAnswer,
};

/// Where a hub's answer goes.
pub(super) type Reply<T> = oneshot::Sender<Result<T, HubError>>;

/// A request to a hub, or a report to it.
#[derive(Debug)]
pub(super) enum Command {
    /// The session as `user` (a member) sees it.
    View {
        user: UserId,
        reply: Reply<SessionView>,
    },
    /// Whether `user` may do `action` now (for work done outside the hub, such as a search).
    Authorize {
        user: UserId,
        action: Action,
        reply: Reply<()>,
    },
    /// [`Command::Authorize`], answering whose Spotify login pays for the action.
    Payer {
        user: UserId,
        action: Action,
        reply: Reply<UserId>,
    },
    /// A page of the members, in join order.
    Members {
        user: UserId,
        offset: usize,
        limit: usize,
        reply: Reply<Page<MemberView>>,
    },
    /// A page of the queue.
    Queue {
        user: UserId,
        offset: usize,
        limit: usize,
        reply: Reply<Page<QueueEntryView>>,
    },
    /// The public invite preview; where `viewer` stands, when logged in.
    Preview {
        viewer: Option<UserId>,
        reply: Reply<InvitePreview>,
    },
    /// Join (idempotent), as a guest or (`spectator`) without a Spotify account; the answer
    /// is the session as the member sees it.
    Join {
        member: NewMember,
        spectator: bool,
        reply: Reply<SessionView>,
    },
    Leave {
        user: UserId,
        reply: Reply<()>,
    },
    Kick {
        actor: UserId,
        target: UserId,
        reply: Reply<()>,
    },
    Unban {
        actor: UserId,
        target: UserId,
        reply: Reply<()>,
    },
    /// The host makes `target` a co-host or a guest again.
    SetRole {
        actor: UserId,
        target: UserId,
        role: Role,
        reply: Reply<()>,
    },
    /// Hand the host role to another member: in the lobby at once; while playing on one of
    /// `target`'s devices (or offered, for them to pick one), or taken by `target` (an offer,
    /// a host who is gone). `lobby_only`: the old route, before Start only.
    HandOver {
        actor: UserId,
        target: UserId,
        device: Option<DeviceId>,
        lobby_only: bool,
        reply: Reply<super::HandOverOutcome>,
    },
    /// The new host's `play` answered.
    HandedOver {
        from: UserId,
        to: UserId,
        device: DeviceId,
        old_device: Option<DeviceId>,
        result: Result<(), HubError>,
        reply: Option<Reply<super::HandOverOutcome>>,
    },
    /// The devices of the co-host succeeding a gone host.
    SuccessorDevices {
        from: UserId,
        to: UserId,
        result: Result<Vec<sesh_spotify::Device>, HubError>,
    },
    End {
        actor: UserId,
        reply: Reply<()>,
    },
    /// The host makes a display key.
    CreateDisplay {
        actor: UserId,
        label: Option<SessionName>,
        show_join: bool,
        reply: Reply<DisplayView>,
    },
    /// The host lists the display keys.
    ListDisplays {
        actor: UserId,
        reply: Reply<Vec<DisplayView>>,
    },
    /// The host revokes a display key (its streams end).
    RevokeDisplay {
        actor: UserId,
        key: DisplayKey,
        reply: Reply<()>,
    },
    /// What a display with `key` sees now (now playing, the join link where allowed).
    DisplayState {
        key: DisplayKey,
        reply: Reply<DisplayState>,
    },
    RotateInvite {
        actor: UserId,
        code: InviteCode,
        reply: Reply<SessionView>,
    },
    SetName {
        actor: UserId,
        name: Option<SessionName>,
        reply: Reply<SessionView>,
    },
    /// Whether `actor` may add the track `track` now (every rule but its length).
    CheckAdd {
        actor: UserId,
        track: TrackId,
        reply: Reply<()>,
    },
    /// Add a track to the queue: the new entry as the adder sees it, and its index.
    AddTrack {
        actor: UserId,
        track: Arc<Track>,
        reply: Reply<(QueueEntryView, usize)>,
    },
    /// Take an upcoming entry out (or one's own credit from it).
    RemoveEntry {
        actor: UserId,
        entry: QueueEntryId,
        reply: Reply<()>,
    },
    /// Ban the track of an entry.
    BanTrack {
        actor: UserId,
        entry: QueueEntryId,
        reply: Reply<()>,
    },
    /// Vote on an upcoming entry (`None`: withdraw).
    Vote {
        actor: UserId,
        entry: QueueEntryId,
        vote: Option<Vote>,
        reply: Reply<VoteAnswer>,
    },
    /// Toggle the caller's skip vote on the playing entry.
    VoteSkip {
        actor: UserId,
        reply: Reply<SkipAnswer>,
    },
    /// Change the queue settings.
    QueueSettings {
        actor: UserId,
        patch: QueueSettingsPatch,
        reply: Reply<Settings>,
    },
    /// Start on a device (on a playing session the host took over: resume there).
    Start {
        actor: UserId,
        device: DeviceId,
        reply: Reply<(QueueWindow, usize)>,
    },
    /// A command to the session's player.
    Player {
        actor: UserId,
        command: PlayerCommand,
        reply: Reply<()>,
    },
    /// A subscriber connects; `since` asks to resume after that event.
    Connect {
        conn: NewConnection,
        since: Option<u64>,
        reply: Reply<u64>,
    },
    /// A subscriber went away.
    Disconnect {
        conn_id: u64,
    },
    /// A request of the chat (`chatting.rs`).
    Chat(super::task::chatting::ChatCommand),
    /// Listening along (`listen_along.rs`): a member's request, or a listener's call answered.
    Listening(super::task::listen_along::ListenCommand),
    /// A poller's observation (boxed: a playback state is large).
    Observed {
        generation: u64,
        result: Box<Result<Option<PlaybackState>, HubError>>,
        at_ms: i64,
    },
    /// A poller's poll that would have handed Spotify the next entry is still waiting for the
    /// app-wide budget as the track enters its commit window: the hub hands it from its
    /// prediction instead ([`Follower::commit_due`](super::follower::Follower::commit_due)).
    CommitDue {
        generation: u64,
    },
    /// This instance no longer holds the session's lease (several instances on PostgreSQL):
    /// another runs it now, or may at any moment. The hub stops at once and its sockets
    /// reconnect.
    LeaseLost,
    /// The lease sweeper revived this hub for a playing session nobody ran (its instance
    /// died): poll the host's player until an answer says whether it needs feeding.
    Adopt,
    /// Stop now as when idle, giving the session's lease up, and answer once given up
    /// (several instances: a session created here runs where Nginx sends its id).
    Unload {
        reply: Reply<()>,
    },
    /// Spotify answered the `play` of a start.
    StartPlayed {
        actor: UserId,
        device: DeviceId,
        plan: Box<StartPlan>,
        result: Result<(), HubError>,
        reply: Reply<(QueueWindow, usize)>,
    },
    /// Spotify answered the `play` of a resume (on `device`, when one was asked for).
    Resumed {
        actor: UserId,
        device: Option<DeviceId>,
        result: Result<(), HubError>,
        reply: Reply<(QueueWindow, usize)>,
    },
    /// Spotify answered a player command.
    PlayerDone {
        actor: UserId,
        command: PlayerCommand,
        result: Result<(), HubError>,
        reply: Reply<()>,
    },
    /// The next entry's `POST /me/player/queue` answered.
    Committed {
        entry: QueueEntryId,
        track: TrackId,
        result: Result<(), HubError>,
    },
    /// A skip (forward or back) answered; `pending`: the entry it handed to Spotify's queue
    /// first.
    Skipped {
        actor: UserId,
        forward: bool,
        pending: Option<(QueueEntryId, TrackId)>,
        result: Result<(), HubError>,
        reply: Option<Reply<()>>,
    },
    /// A fallback `play` of the next entry answered.
    Replayed {
        result: Result<(), HubError>,
    },
    /// The recap of what played as `user` (a member) may see it, from the stored `plays`.
    Recap {
        user: UserId,
        plays: Vec<sesh_session::Play>,
        created_at_ms: i64,
        last_write_ms: i64,
        reply: Reply<crate::wire::recap::RecapView>,
    },
    /// The registry's sweeper found the session unattended in the database for the idle time
    /// and the warning: end it unless someone came back (`true`: it ended).
    ExpireUnattended {
        reply: Reply<bool>,
    },
}

impl Command {
    /// Whether a member (or someone joining) sent it: the requests and frames that count as
    /// using the session (the hub's own reports, a subscriber leaving, a display's or the
    /// invite page's reads, and the sweeper do not).
    pub(super) fn is_members(&self) -> bool {
        !matches!(
            self,
            Self::Preview { .. }
                | Self::DisplayState { .. }
                | Self::Disconnect { .. }
                | Self::Observed { .. }
                | Self::CommitDue { .. }
                | Self::LeaseLost
                | Self::Adopt
                | Self::Unload { .. }
                | Self::StartPlayed { .. }
                | Self::Resumed { .. }
                | Self::PlayerDone { .. }
                | Self::Committed { .. }
                | Self::Skipped { .. }
                | Self::Replayed { .. }
                | Self::HandedOver { .. }
                | Self::SuccessorDevices { .. }
                | Self::ExpireUnattended { .. }
        ) && !matches!(self, Self::Connect { conn, .. } if conn.user().is_none())
            && !matches!(self, Self::Listening(command) if !command.is_members())
    }
}
