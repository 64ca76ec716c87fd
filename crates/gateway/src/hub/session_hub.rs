//! `SessionHub`: the one task that owns a live session. It applies transitions (persisting each
//! before anyone hears of it, except the position moves that follow the host's player, which
//! are broadcast first and stored in the background by the `PositionWriter`), numbers and
//! serializes every event once, keeps the last [`RING_CAPACITY`] frames (at most
//! [`RING_MAX_BYTES`]) for `?since=` resumes, fans frames out to the members' bounded
//! queues without ever awaiting a member, and runs the session's `PlaybackPoller`. When the host
//! takes their player over (plays something else, or the device disappears) the hub stops
//! steering Spotify until the host resumes.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use bytestring::ByteString;
use parking_lot::Mutex;
use sesh_session::{
    Action, DeviceId, Event, NewMember, QueueEntry, Session, SessionError, SessionId, SessionState,
    TrackId, UserId,
};
use sesh_spotify::{PlayRequest, PlaybackState, SpotifyError};
use tokio::sync::mpsc;

use super::{
    ControlTarget, HubCommand, InvitePreview, NewConnection, Outbound, PollerHandle, PreviewYou,
    Slot, WorkerHandle,
    fanout::FanoutMessage,
    tracker::{Change, Observation, PlaybackTracker},
};
use crate::{
    error::ApiError,
    state::Core,
    wire::{
        DeviceView, MemberView, PROTOCOL_VERSION, Page, PlaybackView, QueueEntryView, QueueWindow,
        SessionEvent, SessionView, SpotifyState, SpotifyStatus, UserRef, Welcome, YouView,
        added_by_listed, track_from_spotify,
    },
};

/// Events kept for `?since=` resumes, at most.
pub const RING_CAPACITY: usize = 256;
/// Bytes of frames kept for `?since=` resumes, at most: the ring is bounded by size as well as
/// count, so a few large frames (a `queue` in a big room) cannot hold megabytes per session.
/// The newest frame is always kept; a resume that reaches further back gets a `welcome`.
pub const RING_MAX_BYTES: usize = 64 * 1024;

/// Sequence numbers are reserved in the database this many at a time, ahead of use, so that a
/// hub revived after a crash never reuses a number a client has seen, without a disk write per
/// event (see [`SessionHub::reserve_seq`]).
const SEQ_BLOCK: u64 = 1024;
/// A new block is reserved when fewer than this many numbers are left; no single command emits
/// this many events, so the numbers in use never pass the stored reservation.
const SEQ_HEADROOM: u64 = SEQ_BLOCK / 2;
/// Consecutive empty player answers (no device, nothing loaded) before the hub concludes the
/// session's playback is gone; one is tolerated because Spotify may briefly answer 204 right
/// after a `play` or a device switch.
const EMPTY_POLLS_FOR_TAKEOVER: u32 = 2;
/// In a session over the roster limit, member counts go out at most this often.
const SUMMARY_INTERVAL: Duration = Duration::from_secs(1);
/// Most entries one page of `GET …/members` or `GET …/queue` returns.
pub const PAGE_LIMIT_MAX: usize = 500;

/// WebSocket close codes the hub asks for.
pub mod close {
    /// Normal closure (left, session ended).
    pub const NORMAL: u16 = 1000;
    /// The host removed this member.
    pub const KICKED: u16 = 4001;
    /// The session's hub stopped (it could not store a change and reloads): reconnect.
    pub const RESTARTING: u16 = 1012;
}

struct Connection {
    user: UserId,
    /// The worker that delivers to it (see `fanout`).
    worker: WorkerHandle,
}

/// Why the hub stopped steering the host's player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TakeOver {
    /// The host plays something that is not the session's queue.
    ForeignPlayback,
    /// The player has nothing loaded any more (the device disappeared or was switched off).
    PlaybackGone,
}

impl TakeOver {
    fn status(self) -> SpotifyStatus {
        let message = match self {
            Self::ForeignPlayback => {
                "the host is playing something else in Spotify; the host can resume the session"
            }
            Self::PlaybackGone => {
                "the session's device stopped playing; the host can resume on a device"
            }
        };
        SpotifyStatus {
            state: SpotifyState::HostTookOver,
            retry_after_s: None,
            message: message.to_owned(),
        }
    }
}

/// A late joiner changed the unplayed queue while Spotify still has the old list: at the next
/// track boundary the hub re-issues `play` with the new remaining queue.
#[derive(Debug)]
struct PendingResync {
    /// What Spotify will play next from the old list (a natural advance looks like this).
    old_next: Option<TrackId>,
}

pub(super) struct SessionHub {
    core: Arc<Core>,
    registry: Arc<Mutex<HashMap<SessionId, Slot>>>,
    session: Session,
    /// Sequence number of the last event sent.
    seq: u64,
    /// Highest sequence number reserved in the database (never below `seq`).
    reserved_seq: u64,
    /// `seq` when this hub was loaded: events up to it were sent by an earlier hub (before a
    /// restart or an unload), whose ring, presence and playback are gone.
    loaded_seq: u64,
    ring: VecDeque<(u64, ByteString)>,
    /// Total length of the frames in `ring`.
    ring_bytes: usize,
    conns: HashMap<u64, Connection>,
    /// The workers holding this session's connections, with how many each holds: an event
    /// goes to each once.
    workers: HashMap<usize, (WorkerHandle, usize)>,
    next_conn: u64,
    /// Open connections per member (presence).
    online: HashMap<UserId, u32>,
    playback: Option<PlaybackView>,
    tracker: PlaybackTracker,
    status: SpotifyStatus,
    poller: Option<PollerHandle>,
    poller_generation: u64,
    resync: Option<PendingResync>,
    /// Set while the host controls their player themselves: no following, no `play` calls.
    took_over: Option<TakeOver>,
    /// Consecutive empty player answers (see [`EMPTY_POLLS_FOR_TAKEOVER`]).
    empty_polls: u32,
    /// `(offset, end)` of the queue window last broadcast: members hold at least this much of
    /// a long queue, and get a new window before the now-playing entry leaves it.
    window: (usize, usize),
    /// When the pending `members_summary` of a session over the roster limit goes out.
    summary_at: Option<tokio::time::Instant>,
    /// `(member_count, online_count)` of the last `members_summary`: an unchanged count is not
    /// sent again.
    summary_sent: (usize, usize),
    /// Set when the in-memory session could not be brought back in line with the database:
    /// the hub unloads (see [`SessionHub::restore`]).
    stopped: bool,
    tx: mpsc::Sender<HubCommand>,
    rx: mpsc::Receiver<HubCommand>,
}

impl SessionHub {
    pub(super) fn new(
        core: Arc<Core>,
        registry: Arc<Mutex<HashMap<SessionId, Slot>>>,
        session: Session,
        last_seq: u64,
        tx: mpsc::Sender<HubCommand>,
        rx: mpsc::Receiver<HubCommand>,
    ) -> Self {
        // A hub loaded from the database starts from the window every welcome of it sends.
        let window = QueueWindow::around(
            session.queue(),
            session.position(),
            core.config.queue_window,
        );
        Self {
            window: window.bounds(),
            core,
            registry,
            session,
            seq: last_seq,
            reserved_seq: last_seq,
            loaded_seq: last_seq,
            ring: VecDeque::new(),
            ring_bytes: 0,
            conns: HashMap::new(),
            workers: HashMap::new(),
            next_conn: 1,
            online: HashMap::new(),
            playback: None,
            tracker: PlaybackTracker::default(),
            status: SpotifyStatus::ok(),
            poller: None,
            poller_generation: 0,
            resync: None,
            took_over: None,
            empty_polls: 0,
            summary_at: None,
            summary_sent: (0, 0),
            stopped: false,
            tx,
            rx,
        }
    }

    pub(super) async fn run(mut self) {
        let id = self.session.id();
        self.reserve_seq().await;
        loop {
            let idle = self.conns.is_empty();
            let idle_timer = tokio::time::sleep(self.core.config.hub_idle_timeout);
            let summary_at = self.summary_at;
            let summary_timer =
                tokio::time::sleep_until(summary_at.unwrap_or_else(tokio::time::Instant::now));
            let wake = tokio::select! {
                command = self.rx.recv() => command.map_or(Wake::Stop, Wake::Command),
                () = self.core.shutdown.cancelled() => Wake::Stop,
                () = idle_timer, if idle => Wake::Stop,
                () = summary_timer, if summary_at.is_some() => Wake::Summary,
            };
            match wake {
                Wake::Command(command) => self.handle(command).await,
                Wake::Summary => self.send_summary(None),
                Wake::Stop => break,
            }
            if self.stopped {
                break;
            }
            self.update_poller();
            self.reserve_seq().await;
        }
        self.poller = None;
        // Sockets still here (the hub stopped after a failed write) reconnect to a fresh hub;
        // on shutdown their own 1001 comes first.
        if !self.conns.is_empty() && !self.core.shutdown.is_cancelled() {
            self.close_all(close::RESTARTING, "session restarting");
        }
        // A hub revived from the database must find the position this one reached.
        self.core.positions.flush().await;
        // Unregister before the receiver goes away: a request racing with this exit either
        // fails to send or loses its reply, and the registry then revives a fresh hub from the
        // database (every change was stored before it was answered).
        {
            let mut hubs = self.registry.lock();
            if hubs
                .get(&id)
                .and_then(|slot| slot.get())
                .is_some_and(|h| h.tx.same_channel(&self.tx))
            {
                hubs.remove(&id);
            }
        }
        tracing::debug!(session = %id, "hub unloaded");
    }

    async fn handle(&mut self, command: HubCommand) {
        match command {
            HubCommand::View { user, reply } => {
                let _ = reply.send(self.view_for(&user));
            }
            HubCommand::Members {
                user,
                offset,
                limit,
                reply,
            } => {
                let _ = reply.send(self.members_page(&user, offset, limit));
            }
            HubCommand::Queue {
                user,
                offset,
                limit,
                reply,
            } => {
                let _ = reply.send(self.queue_page(&user, offset, limit));
            }
            HubCommand::Preview { viewer, reply } => {
                let _ = reply.send(Ok(self.preview(viewer.as_ref())));
            }
            HubCommand::Join { member, reply } => {
                let user = member.user_id.clone();
                let result = self.join(member).await;
                let _ = reply.send(result.and_then(|()| self.view_for(&user)));
            }
            HubCommand::Leave { user, reply } => {
                let result = self.apply(|s| s.leave(&user)).await;
                if result.is_ok() {
                    self.close_user(&user, close::NORMAL, "left the session");
                }
                let _ = reply.send(result.map(drop));
            }
            HubCommand::Kick {
                actor,
                target,
                reply,
            } => {
                let result = self.apply(|s| s.kick(&actor, &target)).await;
                if result.is_ok() {
                    self.close_user(&target, close::KICKED, "removed by the host");
                }
                let _ = reply.send(result.map(drop));
            }
            HubCommand::Unban {
                actor,
                target,
                reply,
            } => {
                let result = self.apply(|s| s.unban(&actor, &target)).await;
                let _ = reply.send(result.map(drop));
            }
            HubCommand::End { actor, reply } => {
                let result = self.apply(|s| s.end(&actor)).await;
                if result.is_ok() {
                    self.close_all(close::NORMAL, "session ended");
                }
                let _ = reply.send(result.map(drop));
            }
            HubCommand::RotateInvite { actor, code, reply } => {
                let result = self.apply(|s| s.rotate_invite(&actor, code)).await;
                let _ = reply.send(result.and_then(|_| self.view_for(&actor)));
            }
            HubCommand::Start {
                actor,
                device,
                reply,
            } => {
                let result =
                    if self.took_over.is_some() && self.session.state() == SessionState::Playing {
                        // Start on a playing session the host took over = resume on that device.
                        self.resume(&actor, Some(device)).await
                    } else {
                        self.start(&actor, device).await
                    };
                let _ = reply.send(result);
            }
            HubCommand::Resume {
                actor,
                device,
                reply,
            } => {
                let _ = reply.send(self.resume(&actor, device).await.map(drop));
            }
            HubCommand::Authorize {
                user,
                action,
                reply,
            } => {
                let _ = reply.send(self.authorize(&user, action));
            }
            HubCommand::Nudge => {
                if let Some(poller) = &self.poller {
                    poller.nudge();
                }
            }
            HubCommand::Connect { conn, since, reply } => {
                // A handshake abandoned while we registered it (the client went away) never
                // gets its registration guard: deregister here, or it would be a ghost member.
                if let Err(Ok(conn_id)) = reply.send(self.connect(conn, since)) {
                    self.remove_connections(&[conn_id]);
                }
            }
            HubCommand::Disconnect { conn_id } => self.remove_connections(&[conn_id]),
            HubCommand::Observed {
                generation,
                result,
                at_ms,
            } => {
                if generation == self.poller_generation && self.poller.is_some() {
                    self.observe(*result, at_ms).await;
                }
            }
            HubCommand::ResyncFailed { error } => {
                tracing::warn!(session = %self.session.id(), error = %error, "queue resync failed");
                self.set_status(status_for_error(&error));
            }
        }
    }

    // ---- views -------------------------------------------------------------------------------

    fn is_online(&self, user: &UserId) -> bool {
        self.online.get(user).is_some_and(|n| *n > 0)
    }

    fn member_view(&self, member: &sesh_session::Member) -> MemberView {
        MemberView {
            id: member.user_id.clone(),
            display_name: member.display_name.clone(),
            role: member.role,
            online: self.is_online(&member.user_id),
        }
    }

    /// Whether `session` is too big to list and announce its members one by one.
    fn is_large(&self, session: &Session) -> bool {
        session.members().len() > self.core.config.roster_limit
    }

    /// The members a snapshot lists: all of them, or in a session over the roster limit the
    /// host and the first others up to the limit.
    fn roster(&self) -> Vec<MemberView> {
        let s = &self.session;
        if !self.is_large(s) {
            return s.members().iter().map(|m| self.member_view(m)).collect();
        }
        let host = s.members().iter().filter(|m| m.is_host());
        let others = s.members().iter().filter(|m| !m.is_host());
        host.chain(others)
            .take(self.core.config.roster_limit)
            .map(|m| self.member_view(m))
            .collect()
    }

    /// The queue window members get while the current entry plays.
    fn queue_window(&self, session: &Session) -> QueueWindow {
        QueueWindow::around(
            session.queue(),
            session.position(),
            self.core.config.queue_window,
        )
    }

    /// The session as `viewer` sees it: the host also sees whom they removed.
    fn view(&self, viewer: &UserId) -> SessionView {
        let s = &self.session;
        let banned = if viewer == s.host() {
            s.banned()
                .iter()
                .map(|(id, name)| UserRef {
                    id: id.clone(),
                    display_name: name.clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        SessionView {
            id: s.id(),
            state: s.state(),
            host: s.host().clone(),
            invite_code: s.invite_code().to_string(),
            join_url: self.core.join_url(s.invite_code().as_str()),
            members: self.roster(),
            member_count: s.members().len(),
            online_count: self.online.len(),
            queue: self.queue_window(s),
            position: s.position(),
            device: s.device().cloned(),
            settings: *s.settings(),
            banned,
        }
    }

    fn members_page(
        &self,
        user: &UserId,
        offset: usize,
        limit: usize,
    ) -> Result<Page<MemberView>, ApiError> {
        self.view_check(user)?;
        let limit = limit.min(PAGE_LIMIT_MAX);
        Ok(Page::of(self.session.members(), offset, limit, |m| {
            self.member_view(m)
        }))
    }

    fn queue_page(
        &self,
        user: &UserId,
        offset: usize,
        limit: usize,
    ) -> Result<Page<QueueEntryView>, ApiError> {
        self.view_check(user)?;
        let limit = limit.min(PAGE_LIMIT_MAX);
        Ok(Page::of(self.session.queue(), offset, limit, |e| {
            QueueEntryView::from(e)
        }))
    }

    fn view_check(&self, user: &UserId) -> Result<(), ApiError> {
        if !self.session.is_member(user) {
            return Err(SessionError::NotAMember { user: user.clone() }.into());
        }
        Ok(())
    }

    fn view_for(&self, user: &UserId) -> Result<SessionView, ApiError> {
        self.view_check(user)?;
        Ok(self.view(user))
    }

    fn preview(&self, viewer: Option<&UserId>) -> InvitePreview {
        let s = &self.session;
        let host_name = s
            .member(s.host())
            .map(|m| m.display_name.clone())
            .unwrap_or_else(|| s.host().to_string());
        InvitePreview {
            session_id: s.id(),
            host: UserRef {
                id: s.host().clone(),
                display_name: host_name,
            },
            member_count: s.members().len(),
            state: s.state(),
            you: viewer.map(|user| PreviewYou {
                member: s.is_member(user),
                banned: s.is_banned(user),
            }),
        }
    }

    fn authorize(&self, user: &UserId, action: Action) -> Result<ControlTarget, ApiError> {
        let s = &self.session;
        if s.state() == SessionState::Ended {
            return Err(SessionError::SessionEnded.into());
        }
        if !s.is_member(user) {
            return Err(SessionError::NotAMember { user: user.clone() }.into());
        }
        if !s.can(user, action) {
            return Err(SessionError::Forbidden { action }.into());
        }
        Ok(ControlTarget {
            host: s.host().clone(),
            device: s.device().cloned(),
            took_over: self.took_over.is_some(),
        })
    }

    // ---- transitions ---------------------------------------------------------------------------

    /// Applies a transition in place, stores it, then tells everyone. A refused transition
    /// changes nothing (a property `sesh-session` tests), so there is no copy of the session
    /// per change (a copy of a 5,000-member session costs ~185,000 allocations per join); when
    /// storing fails, [`SessionHub::commit`] puts the stored state back.
    async fn apply(
        &mut self,
        transition: impl FnOnce(&mut Session) -> Result<Vec<Event>, SessionError>,
    ) -> Result<Vec<Event>, ApiError> {
        let members_before = self.session.members().len();
        let events = transition(&mut self.session)?;
        self.commit(members_before, &events).await?;
        Ok(events)
    }

    /// Stores the session after a transition that produced `events` (the session had
    /// `members_before` members before it) and tells everyone. If storing fails, nobody hears
    /// of the change and the session goes back to what the database holds.
    async fn commit(&mut self, members_before: usize, events: &[Event]) -> Result<(), ApiError> {
        if events.is_empty() {
            return Ok(());
        }
        // Over the roster limit (before or after this change) members are not announced one by
        // one: the counts follow in a `members_summary`, and a session that became small again
        // gets its whole roster in one.
        let was_large = members_before > self.core.config.roster_limit;
        let large = self.is_large(&self.session);
        let wire: Vec<SessionEvent> = events
            .iter()
            .filter(|e| !(was_large || large) || !is_roster_event(e))
            .map(|e| self.to_wire(e))
            .collect();
        let roster_changed = events.iter().any(is_roster_event);
        let last_seq = self.seq + wire.len() as u64 + u64::from(was_large && !large);
        if let Err(e) = self
            .core
            .db
            .persist_session(&self.session, events, last_seq)
            .await
        {
            self.restore().await;
            return Err(e.into());
        }
        self.reserved_seq = self.reserved_seq.max(last_seq);
        for event in &wire {
            if let SessionEvent::SessionStarted { queue, .. } | SessionEvent::Queue { queue, .. } =
                event
            {
                self.window = queue.bounds();
            }
            self.broadcast(event);
        }
        if was_large && !large {
            self.send_summary(Some(self.roster()));
        } else if large && roster_changed {
            self.schedule_summary();
        }
        Ok(())
    }

    /// After a failed write: the session as stored (the last state members heard of). If even
    /// that cannot be read, the hub stops; the registry revives a fresh one on the next request.
    async fn restore(&mut self) {
        match self.core.load_session(self.session.id()).await {
            Ok(Some((session, _))) => self.session = session,
            Ok(None) | Err(_) => {
                tracing::error!(session = %self.session.id(), "could not reload the session after a failed write; unloading its hub");
                self.stopped = true;
            }
        }
    }

    fn to_wire(&self, event: &Event) -> SessionEvent {
        let next = &self.session;
        match event {
            Event::MemberJoined { member } => SessionEvent::MemberJoined {
                member: self.member_view(member),
            },
            Event::MemberLeft { user_id, reason } => SessionEvent::MemberLeft {
                user_id: user_id.clone(),
                reason: *reason,
            },
            Event::HostChanged { host } => SessionEvent::HostChanged { host: host.clone() },
            Event::MemberUpdated { member } => SessionEvent::MemberUpdated {
                member: self.member_view(member),
            },
            Event::SettingsChanged { settings } => SessionEvent::SettingsChanged {
                settings: *settings,
            },
            Event::InviteRotated => SessionEvent::InviteRotated {
                invite_code: next.invite_code().to_string(),
                join_url: self.core.join_url(next.invite_code().as_str()),
            },
            Event::MemberUnbanned { user_id } => SessionEvent::MemberUnbanned {
                user_id: user_id.clone(),
            },
            // The domain event carries the whole queue; members get their window of it.
            Event::SessionStarted { position, .. } => SessionEvent::SessionStarted {
                queue: self.queue_window(next),
                position: *position,
                device: next.device().cloned(),
            },
            Event::Queue { position, .. } => SessionEvent::Queue {
                queue: self.queue_window(next),
                position: *position,
            },
            Event::SessionEnded => SessionEvent::SessionEnded,
        }
    }

    async fn join(&mut self, member: NewMember) -> Result<(), ApiError> {
        let playing = self.session.state() == SessionState::Playing;
        let old_next = self
            .session
            .queue()
            .get(self.session.position() + 1)
            .map(|e| e.track.id.clone());
        let members_before = self.session.members().len();
        let events = self
            .session
            .join(member, crate::db::now_ms(), &mut rand::rng())?;
        self.commit(members_before, &events).await?;
        let queue_changed = events.iter().any(|e| matches!(e, Event::Queue { .. }));
        // While the host has taken over, Spotify is not ours to re-aim; a resume sends the
        // whole remaining queue anyway.
        if playing && queue_changed && self.resync.is_none() && self.took_over.is_none() {
            self.resync = Some(PendingResync { old_next });
        }
        Ok(())
    }

    async fn start(
        &mut self,
        actor: &UserId,
        device: DeviceId,
    ) -> Result<(QueueWindow, usize), ApiError> {
        let mut next = self.session.clone();
        let events = next.start(actor, device.clone(), &mut rand::rng())?;
        let host = next.host().clone();
        let auth = self.core.accounts.auth(&host).await?;
        let uris: Vec<String> = next
            .queue()
            .iter()
            .map(|e| e.track.uri.to_string())
            .collect();
        // Spotify first: if it refuses (no Premium, no device), nothing is half-started.
        if let Err(e) = self
            .core
            .spotify
            .play(&auth, Some(device.as_str()), &PlayRequest::uris(uris))
            .await
        {
            self.core.accounts.note_failure(&host, &auth, &e).await;
            return Err(e.into());
        }
        self.tracker.reset();
        self.playback = None;
        self.resync = None;
        self.took_over = None;
        self.empty_polls = 0;
        let members_before = self.session.members().len();
        self.session = next;
        self.commit(members_before, &events).await?;
        self.set_status(SpotifyStatus::ok());
        Ok((self.queue_window(&self.session), self.session.position()))
    }

    /// The host takes the session back after taking over their player: the remaining queue
    /// (from the current entry) is played again on `device` (default: the session's), which
    /// becomes the session's device, and the hub follows the player again. Without a take-over
    /// this is a plain resume on the session's device.
    async fn resume(
        &mut self,
        actor: &UserId,
        device: Option<DeviceId>,
    ) -> Result<(QueueWindow, usize), ApiError> {
        let target = self.authorize(actor, Action::Control)?;
        if self.session.state() != SessionState::Playing {
            return Err(SessionError::NotStarted.into());
        }
        let auth = self.core.accounts.auth(&target.host).await?;
        let device = device.or(target.device);
        let position = self.session.position();
        let request = if self.took_over.is_some() {
            let uris: Vec<String> = self.session.queue()[position..]
                .iter()
                .map(|e| e.track.uri.to_string())
                .collect();
            PlayRequest::uris(uris)
        } else {
            PlayRequest::resume()
        };
        let device_id = device.as_ref().map(DeviceId::as_str);
        if let Err(e) = self.core.spotify.play(&auth, device_id, &request).await {
            self.core
                .accounts
                .note_failure(&target.host, &auth, &e)
                .await;
            return Err(e.into());
        }
        if let Some(device) = device
            && self.session.device() != Some(&device)
        {
            let mut parts = self.session.clone().into_parts();
            parts.device = Some(device);
            let next = Session::from_parts(parts).map_err(ApiError::internal)?;
            self.core.db.persist_session(&next, &[], self.seq).await?;
            self.session = next;
        }
        if self.took_over.take().is_some() {
            tracing::info!(session = %self.session.id(), "the host resumed the session");
        }
        self.empty_polls = 0;
        self.resync = None;
        self.tracker.reset();
        self.set_status(SpotifyStatus::ok());
        if let Some(poller) = &self.poller {
            poller.nudge();
        }
        Ok((self.queue_window(&self.session), position))
    }

    // ---- connections ---------------------------------------------------------------------------

    fn connect(&mut self, conn: NewConnection, since: Option<u64>) -> Result<u64, ApiError> {
        let Some(member) = self.session.member(&conn.user) else {
            return Err(SessionError::NotAMember { user: conn.user }.into());
        };
        let you = YouView {
            id: member.user_id.clone(),
            display_name: member.display_name.clone(),
            role: member.role,
        };
        let conn_id = self.next_conn;
        self.next_conn += 1;
        let count = self.online.entry(conn.user.clone()).or_insert(0);
        *count += 1;
        let went_online = *count == 1;

        let replay = since
            .and_then(|since| self.replay_since(since))
            .filter(|frames| frames.len() < conn.tx.capacity());
        let first: Vec<ByteString> = match replay {
            Some(frames) => frames,
            None => vec![ByteString::from(self.welcome(you))],
        };
        for frame in first {
            // The queue is fresh and larger than what we put in; a failure means it closed.
            let _ = conn.tx.try_send(Outbound::Frame(frame));
        }
        // From here on everything for this connection goes through its worker, after the
        // frames above.
        conn.worker.send(FanoutMessage::Attach {
            session: self.session.id(),
            conn_id,
            tx: conn.tx,
            stop: conn.overflow,
        });
        self.workers
            .entry(conn.worker.id())
            .or_insert_with(|| (conn.worker.clone(), 0))
            .1 += 1;
        self.conns.insert(
            conn_id,
            Connection {
                user: conn.user.clone(),
                worker: conn.worker,
            },
        );
        if went_online {
            if self.is_large(&self.session) {
                self.schedule_summary();
            } else {
                self.broadcast(&SessionEvent::Presence {
                    user_id: conn.user,
                    online: true,
                });
            }
        }
        Ok(conn_id)
    }

    /// The frames after `since`, if the ring still has all of them.
    fn replay_since(&self, since: u64) -> Option<Vec<ByteString>> {
        // Up to `loaded_seq` the client heard an earlier hub (before a restart or an unload):
        // presence and playback it knows may be stale, and the ring does not reach back.
        // Beyond `seq`: invented.
        if since <= self.loaded_seq || since > self.seq {
            return None;
        }
        if since == self.seq {
            return Some(Vec::new());
        }
        let oldest = self.ring.front()?.0;
        if since + 1 < oldest {
            return None;
        }
        Some(
            self.ring
                .iter()
                .filter(|(seq, _)| *seq > since)
                .map(|(_, frame)| frame.clone())
                .collect(),
        )
    }

    fn welcome(&self, you: YouView) -> String {
        let session = self.view(&you.id);
        let welcome = Welcome {
            kind: "welcome",
            protocol: PROTOCOL_VERSION,
            seq: self.seq,
            recovered: false,
            you,
            session,
            playback: self.playback.clone(),
            spotify: self.status.clone(),
        };
        serde_json::to_string(&welcome).unwrap_or_default()
    }

    /// Sends a `members_summary` within [`SUMMARY_INTERVAL`] (one for all changes until then).
    fn schedule_summary(&mut self) {
        if self.summary_at.is_none() {
            self.summary_at = Some(tokio::time::Instant::now() + SUMMARY_INTERVAL);
        }
    }

    /// Sends the member counts now if they changed since the last summary (and always with
    /// the whole roster when `members` is given).
    fn send_summary(&mut self, members: Option<Vec<MemberView>>) {
        self.summary_at = None;
        let counts = (self.session.members().len(), self.online.len());
        if self.session.state() == SessionState::Ended
            || (members.is_none() && counts == self.summary_sent)
        {
            return;
        }
        self.summary_sent = counts;
        self.broadcast(&SessionEvent::MembersSummary {
            member_count: counts.0,
            online_count: counts.1,
            members,
        });
    }

    /// After the now-playing entry moved: a long queue's members get a new window before the
    /// entry leaves (or comes near the end of) the one they hold.
    fn refresh_window(&mut self) {
        let (offset, end) = self.window;
        let position = self.session.position();
        let length = self.session.queue().len();
        let margin = (self.core.config.queue_window / 10).max(1);
        if position >= offset && (end >= length || position + margin < end) {
            return;
        }
        let queue = self.queue_window(&self.session);
        self.window = queue.bounds();
        self.broadcast(&SessionEvent::Queue { queue, position });
    }

    /// Numbers, serializes (once) and fans out a session event.
    fn broadcast(&mut self, event: &SessionEvent) {
        self.seq += 1;
        let frame = ByteString::from(event.to_frame(self.seq));
        self.ring_bytes += frame.len();
        self.ring.push_back((self.seq, frame.clone()));
        while self.ring.len() > 1
            && (self.ring.len() > RING_CAPACITY || self.ring_bytes > RING_MAX_BYTES)
        {
            if let Some((_, old)) = self.ring.pop_front() {
                self.ring_bytes -= old.len();
            }
        }
        // Once per worker, never waiting: each worker fills its sockets' queues (a full one
        // means the client cannot keep up: it is told to close with 1008, and its socket's exit
        // disconnects it from here).
        let session = self.session.id();
        for (worker, _) in self.workers.values() {
            worker.send(FanoutMessage::Frame {
                session,
                frame: frame.clone(),
            });
        }
    }

    /// Forgets a connection on the hub's side and tells its worker to close it (`close`) or
    /// just stop delivering to it.
    fn forget(&mut self, conn_id: u64, close: Option<(u16, &'static str)>) -> Option<Connection> {
        let conn = self.conns.remove(&conn_id)?;
        let session = self.session.id();
        conn.worker.send(match close {
            Some((code, reason)) => FanoutMessage::Close {
                session,
                conn_id,
                code,
                reason,
            },
            None => FanoutMessage::Detach { session, conn_id },
        });
        if let Some((_, count)) = self.workers.get_mut(&conn.worker.id()) {
            *count -= 1;
            if *count == 0 {
                self.workers.remove(&conn.worker.id());
            }
        }
        Some(conn)
    }

    /// Forgets connections and announces members who went offline (which may drop more).
    fn remove_connections(&mut self, ids: &[u64]) {
        let mut offline = Vec::new();
        for id in ids {
            if let Some(conn) = self.forget(*id, None)
                && let Some(count) = self.online.get_mut(&conn.user)
            {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.online.remove(&conn.user);
                    offline.push(conn.user);
                }
            }
        }
        let large = self.is_large(&self.session);
        for user in offline {
            if self.session.is_member(&user) && self.session.state() != SessionState::Ended {
                if large {
                    self.schedule_summary();
                } else {
                    self.broadcast(&SessionEvent::Presence {
                        user_id: user,
                        online: false,
                    });
                }
            }
        }
    }

    /// Closes (after the frames already queued) and forgets every connection of `user`.
    fn close_user(&mut self, user: &UserId, code: u16, reason: &'static str) {
        let ids: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.user == *user)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.forget(id, Some((code, reason)));
        }
        self.online.remove(user);
    }

    fn close_all(&mut self, code: u16, reason: &'static str) {
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            self.forget(id, Some((code, reason)));
        }
        self.online.clear();
    }

    /// Keeps a block of sequence numbers reserved in the database ahead of `seq`: events that
    /// change no stored state (playback, presence) then need no disk write, and a hub revived
    /// after a restart or a crash (`kill -9`) starts above every number a client may have seen,
    /// so numbers never go back and a resume from an earlier run is recognised.
    async fn reserve_seq(&mut self) {
        if self.seq + SEQ_HEADROOM <= self.reserved_seq {
            return;
        }
        let target = self.seq + SEQ_BLOCK;
        match self.core.db.set_last_seq(self.session.id(), target).await {
            Ok(()) => self.reserved_seq = target,
            Err(e) => {
                tracing::warn!(session = %self.session.id(), error = %e, "could not reserve event sequence numbers");
            }
        }
    }

    // ---- playback ------------------------------------------------------------------------------

    fn update_poller(&mut self) {
        let wanted = self.session.state() == SessionState::Playing
            && !self.conns.is_empty()
            && !self.core.shutdown.is_cancelled();
        let host = self.session.host();
        let keep = wanted && self.poller.as_ref().is_some_and(|p| p.host == *host);
        if keep {
            return;
        }
        // Dropping the handle cancels the task.
        self.poller = None;
        if wanted {
            self.poller_generation += 1;
            self.tracker.reset();
            self.poller = Some(PollerHandle::spawn(
                self.core.clone(),
                self.tx.clone(),
                host.clone(),
                self.poller_generation,
            ));
        }
    }

    async fn observe(&mut self, result: Result<Option<PlaybackState>, SpotifyError>, at_ms: i64) {
        let state = match result {
            Ok(state) => state,
            Err(e) => {
                self.set_status(status_for_error(&e));
                return;
            }
        };
        let track = state
            .as_ref()
            .and_then(|s| s.item.as_ref())
            .and_then(|i| i.as_track())
            .and_then(track_from_spotify);
        let observation = Observation {
            track: track.as_ref().map(|t| t.id.clone()),
            is_playing: state.as_ref().is_some_and(|s| s.is_playing),
            device: state
                .as_ref()
                .and_then(|s| s.device.as_ref())
                .and_then(|d| d.id.clone()),
            progress_ms: state.as_ref().and_then(|s| s.progress_ms).unwrap_or(0),
            at: Instant::now(),
        };
        let change = self
            .tracker
            .observe(observation.clone(), self.core.config.playback_resync);
        self.detect_take_over(state.as_ref(), observation.track.as_ref());
        if self.took_over.is_none()
            && let (
                Change::Emit {
                    track_changed: true,
                },
                Some(id),
            ) = (change, &observation.track)
        {
            self.follow_track(id, observation.progress_ms).await;
        }
        // The session's current entry when it is the one playing (always so after following),
        // else wherever the track is in the queue.
        let position = observation.track.as_ref().and_then(|id| {
            let current = self.session.position();
            let queue = self.session.queue();
            Some(current)
                .filter(|p| queue.get(*p).is_some_and(|e| e.track.id == *id))
                .or_else(|| find_in_queue(queue, current, id))
        });
        let entry = position.and_then(|p| self.session.queue().get(p));
        let view = PlaybackView {
            track,
            is_playing: observation.is_playing,
            progress_ms: observation.progress_ms,
            device: state
                .as_ref()
                .and_then(|s| s.device.as_ref())
                .map(|d| DeviceView {
                    id: d.id.clone(),
                    name: d.name.clone(),
                }),
            server_time_ms: at_ms,
            added_by: entry
                .map(|e| added_by_listed(&e.added_by))
                .unwrap_or_default(),
            added_by_count: entry.map_or(0, |e| e.added_by.len()),
            position,
        };
        self.set_status(
            self.took_over
                .map_or_else(SpotifyStatus::ok, TakeOver::status),
        );
        self.playback = Some(view.clone());
        if matches!(change, Change::Emit { .. }) {
            self.broadcast(&SessionEvent::Playback(view));
        }
    }

    /// Notices the host taking their player over: something that is not in the session's queue
    /// plays, or the player stays empty (device gone). From then on the hub only watches: no
    /// following, no queue resync, until the host resumes.
    fn detect_take_over(&mut self, state: Option<&PlaybackState>, track: Option<&TrackId>) {
        if self.took_over.is_some() || self.session.state() != SessionState::Playing {
            return;
        }
        let item = state.and_then(|s| s.item.as_ref());
        let reason = match (item, track) {
            // Nothing loaded (204: no active device) or no item.
            (None, _) => {
                self.empty_polls += 1;
                (self.empty_polls >= EMPTY_POLLS_FOR_TAKEOVER).then_some(TakeOver::PlaybackGone)
            }
            (Some(_), Some(id)) if self.session.queue().iter().any(|e| e.track.id == *id) => {
                self.empty_polls = 0;
                None
            }
            // A track outside the queue, an episode or a local file: not ours.
            (Some(_), _) => Some(TakeOver::ForeignPlayback),
        };
        if let Some(reason) = reason {
            tracing::info!(session = %self.session.id(), ?reason, "the host took over playback; the session stops steering Spotify");
            self.took_over = Some(reason);
            self.resync = None;
        }
    }

    /// Moves the session's position to the track the host's player moved to. After a late
    /// joiner changed the unplayed queue, this is where Spotify gets the new remaining queue:
    /// the track that was playing has finished, nothing is cut.
    async fn follow_track(&mut self, id: &TrackId, progress_ms: u32) {
        if self.session.state() != SessionState::Playing {
            return;
        }
        let queue = self.session.queue();
        let position = self.session.position();
        if queue.get(position).is_some_and(|e| e.track.id == *id) {
            return; // still the current entry (first observation, or a restart of it)
        }
        let target = match &self.resync {
            Some(pending) if pending.old_next.as_ref() == Some(id) => {
                (position + 1 < queue.len()).then_some(position + 1)
            }
            _ => find_in_queue(queue, position, id),
        };
        let Some(target) = target else { return };
        if self.resync.take().is_some() {
            let uris: Vec<String> = queue[target..]
                .iter()
                .map(|e| e.track.uri.to_string())
                .collect();
            let same_track = queue[target].track.id == *id;
            self.spawn_resync_play(uris, same_track.then_some(progress_ms));
        }
        // The hot path of a playing session: the position moves in memory and reaches the
        // members in the `playback` event that follows (its `position`), with no `queue` event
        // (the queue's content did not change; only a long queue's window may move on, see
        // `refresh_window`) and no wait on SQLite: the position is stored in
        // the background (`PositionWriter`, which says what a crash can lose and why that is
        // acceptable). A refusal leaves the session unchanged.
        match self.session.move_to(target) {
            Ok(true) => {
                self.core.positions.record(self.session.id(), target);
                self.refresh_window();
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(session = %self.session.id(), error = %e, "could not advance the queue");
            }
        }
    }

    fn spawn_resync_play(&self, uris: Vec<String>, position_ms: Option<u32>) {
        let core = self.core.clone();
        let tx = self.tx.clone();
        let host = self.session.host().clone();
        let device = self.session.device().map(|d| d.as_str().to_owned());
        self.core.runtime.spawn(async move {
            let request = PlayRequest {
                position_ms,
                ..PlayRequest::uris(uris)
            };
            let result = match core.accounts.auth(&host).await {
                Ok(auth) => {
                    let result = core.spotify.play(&auth, device.as_deref(), &request).await;
                    if let Err(error) = &result {
                        core.accounts.note_failure(&host, &auth, error).await;
                    }
                    result
                }
                Err(_) => Err(SpotifyError::ReauthRequired),
            };
            if let Err(error) = result {
                let _ = tx.send(HubCommand::ResyncFailed { error }).await;
            }
        });
    }

    fn set_status(&mut self, status: SpotifyStatus) {
        if self.status.state == status.state && self.status.retry_after_s == status.retry_after_s {
            return;
        }
        self.status = status.clone();
        self.broadcast(&SessionEvent::SpotifyStatus(status));
    }
}

/// What woke the hub's loop.
enum Wake {
    /// A request.
    Command(HubCommand),
    /// The pending `members_summary` is due.
    Summary,
    /// Shut down, unload (idle), or every sender is gone.
    Stop,
}

/// Events about one member, which sessions over the roster limit do not announce one by one.
fn is_roster_event(event: &Event) -> bool {
    matches!(
        event,
        Event::MemberJoined { .. } | Event::MemberLeft { .. } | Event::MemberUpdated { .. }
    )
}

/// The queue entry playing `id`: the next one first (the usual advance), then later ones,
/// then earlier ones (the host went back), then the current one.
fn find_in_queue(queue: &[QueueEntry], position: usize, id: &TrackId) -> Option<usize> {
    let matches = |i: &usize| queue.get(*i).is_some_and(|e| e.track.id == *id);
    (position + 1..queue.len())
        .find(matches)
        .or_else(|| (0..position).rev().find(matches))
        .or_else(|| Some(position).filter(matches))
}

fn status_for_error(error: &SpotifyError) -> SpotifyStatus {
    match error {
        SpotifyError::RateLimited { retry_after, .. } => {
            let secs = retry_after.as_secs_f64().ceil() as u64;
            SpotifyStatus {
                state: SpotifyState::RateLimited,
                retry_after_s: Some(secs),
                message: format!("Spotify is busy, retrying in {secs} s"),
            }
        }
        SpotifyError::ReauthRequired | SpotifyError::Unauthorized { .. } => SpotifyStatus {
            state: SpotifyState::ReauthRequired,
            retry_after_s: None,
            message: "the host must log in to Spotify again".to_owned(),
        },
        _ => SpotifyStatus {
            state: SpotifyState::Unavailable,
            retry_after_s: None,
            message: "Spotify is not answering; retrying".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesh_session::{Track, TrackUri};

    fn entry(id: &str) -> QueueEntry {
        let track_id = TrackId::new(id);
        QueueEntry {
            track: std::sync::Arc::new(Track {
                uri: TrackUri::for_track(&track_id),
                id: track_id,
                name: id.into(),
                artists: vec![],
                album: String::new(),
                image_url: None,
                duration_ms: 1000,
            }),
            added_by: vec![UserId::new("alice")],
        }
    }

    #[test]
    fn finds_the_next_entry_first_then_earlier_ones() {
        let queue: Vec<_> = ["a", "b", "c", "b"].into_iter().map(entry).collect();
        assert_eq!(find_in_queue(&queue, 0, &TrackId::new("b")), Some(1));
        assert_eq!(find_in_queue(&queue, 2, &TrackId::new("b")), Some(3));
        assert_eq!(find_in_queue(&queue, 3, &TrackId::new("a")), Some(0));
        assert_eq!(find_in_queue(&queue, 2, &TrackId::new("c")), Some(2));
        assert_eq!(find_in_queue(&queue, 0, &TrackId::new("z")), None);
    }
}
