//! `SessionHub`: the one task that owns a live session — a loop and the dispatch of its
//! commands to the use cases. Membership use cases and subscribers are here; the player's
//! (start, resume, commands, following the poller) are in `playing.rs`. The concerns it
//! combines live in their own modules: `store`, `feed`, `room`, `views`, `follower`,
//! `effects`.
//!
//! Why it is longer than the other modules (~460 lines): it is the one place where a command
//! meets the session, so each use case's dispatch, reply and close handling sit together;
//! the logic they call lives in the modules above.

use std::sync::Arc;

use bytestring::ByteString;
use sesh_session::{
    Chat, Event, NewMember, Session, SessionError, SessionId, SessionState, UserId,
};
use tokio::sync::mpsc;

use super::{
    Audience, HubError, NewConnection, Outbound, PollerHandle, Slots, Subscriber, command::Command,
    displays::Displays, effects::Effects, feed::Feed, follower::Follower, lifecycle::Lifecycle,
    listening::Listening, room::Room, store::Store, views::Views,
};
use crate::{
    state::Core,
    wire::{
        MemberView, PROTOCOL_VERSION, Page, PlaybackView, QueueEntryView, SessionEvent,
        SessionView, SpotifyStatus, Welcome, YouView,
    },
};

#[path = "chatting.rs"]
pub(super) mod chatting;
#[path = "displaying.rs"]
mod displaying;
#[path = "ending.rs"]
mod ending;
#[path = "handing.rs"]
pub mod handing;
#[path = "listen_along.rs"]
pub(super) mod listen_along;
#[path = "playing.rs"]
mod playing;
#[path = "queueing.rs"]
mod queueing;

/// Most entries one page of `GET …/members` or `GET …/queue` returns.
pub const PAGE_LIMIT_MAX: usize = 500;

/// WebSocket close codes the hub asks for.
pub mod close {
    /// Normal closure (left, session ended).
    pub const NORMAL: u16 = 1000;
    /// The host removed this member.
    pub const KICKED: u16 = 4001;
    /// The session's hub stopped (it could not store a change and reloads, or another
    /// instance runs it now): reconnect.
    pub const RESTARTING: u16 = 1012;
}

pub(super) struct SessionHub {
    core: Arc<Core>,
    registry: Slots,
    store: Store,
    feed: Feed,
    /// What displays were told, and their replay ring.
    displays: Displays,
    /// The chat's last messages (`chatting.rs`), loaded with the session.
    chat: Chat,
    room: Room,
    views: Views,
    follower: Follower,
    effects: Effects,
    /// Whether nobody uses the session, and when it goes idle and ends.
    lifecycle: Lifecycle,
    /// Members who listen along on their own device (`listen_along.rs`).
    listening: Listening,
    /// The member the host offered the session to (they pick a device to accept).
    host_offer: Option<UserId>,
    /// Since when the host of a playing session has no socket open.
    host_offline_since: Option<tokio::time::Instant>,
    /// The host was away past `SESH_HOST_TIMEOUT` and nobody took over: any member may.
    host_gone: bool,
    /// A hand-over's `play` is with Spotify.
    handing_over: bool,
    /// The last `playback` sent (for welcomes).
    playback: Option<PlaybackView>,
    status: SpotifyStatus,
    poller: Option<PollerHandle>,
    poller_generation: u64,
    /// A start's `play` is with Spotify: a second start waits for it.
    starting: bool,
    /// Taken over from an instance that died, with nobody connected (several instances): the
    /// poller runs until its first answer says whether Spotify plays and needs feeding.
    adopted: bool,
    /// Spotify calls whose caller waits for the answer: the hub stays loaded until they are
    /// back (unloading would drop the reply, and the caller's retry would send it twice).
    in_flight: usize,
    /// `(offset, end)` of the queue window last broadcast: members hold at least this much of
    /// a long queue, and get a new window before the now-playing entry leaves it.
    window: (usize, usize),
    tx: mpsc::Sender<Command>,
    rx: mpsc::Receiver<Command>,
}

/// What woke the hub's loop.
enum Wake {
    Command(Command),
    /// The pending `members_summary` is due.
    Summary,
    /// The lifecycle's next step (idle, end) may be due.
    Lifecycle,
    /// The host has been away for `SESH_HOST_TIMEOUT`.
    HostTimeout,
    /// A listener's next call may be due.
    Listeners,
    /// Shut down, unload (idle), or every sender is gone.
    Stop,
}

impl SessionHub {
    pub(super) fn new(
        core: Arc<Core>,
        registry: Slots,
        session: Session,
        chat: Chat,
        last_seq: u64,
        tx: mpsc::Sender<Command>,
        rx: mpsc::Receiver<Command>,
    ) -> Self {
        let views = Views::new(&core.config, core.public_origin());
        // A hub loaded from the database starts from the window every welcome of it sends.
        let window = views.queue_window(&session).bounds();
        Self {
            feed: Feed::new(session.id(), last_seq),
            displays: Displays::new(last_seq),
            chat,
            store: Store::new(core.db.clone(), session, last_seq),
            room: Room::default(),
            views,
            follower: Follower::default(),
            effects: Effects::new(core.clone(), tx.clone()),
            lifecycle: Lifecycle::new(
                core.config.session_idle_timeout,
                core.config.session_end_warning,
                tokio::time::Instant::now(),
            ),
            listening: Listening::new(
                core.config.listen_check_interval,
                core.config.listen_verify_delay,
            ),
            host_offer: None,
            host_offline_since: None,
            host_gone: false,
            handing_over: false,
            playback: None,
            status: SpotifyStatus::ok(),
            poller: None,
            poller_generation: 0,
            starting: false,
            adopted: false,
            in_flight: 0,
            window,
            core,
            registry,
            tx,
            rx,
        }
    }

    fn session(&self) -> &Session {
        self.store.session()
    }

    pub(super) async fn run(mut self) {
        let id = self.session().id();
        self.store.reserve(self.feed.seq()).await;
        self.restore_listeners().await;
        // Counts this hub in `sesh_sessions` until the loop ends.
        let mut state_gauge = crate::metrics::SessionStateGauge::default();
        // Another instance runs the session now, or may (its lease is gone or ran out).
        let mut lease_lost = false;
        // Asked to unload: answered once the lease is given up.
        let mut unloaded: Option<super::command::Reply<()>> = None;
        loop {
            if !self.holds_lease() {
                lease_lost = true;
                break;
            }
            let live = self.session().state() != SessionState::Ended;
            state_gauge.observe(self.session().state(), self.lifecycle.is_idle());
            let now = tokio::time::Instant::now();
            self.lifecycle.observe(live && self.unattended(), now);
            self.observe_host(now);
            let host_at = self.host_absence_deadline();
            let host_timer =
                tokio::time::sleep_until(host_at.unwrap_or_else(tokio::time::Instant::now));
            // A hub feeding Spotify for nobody stays (its poller lives in it), and so does an
            // idle one until it ends.
            let idle = self.room.is_empty()
                && self.in_flight == 0
                && !self.feeding()
                && !self.adopted
                && !self.lifecycle.is_idle();
            let idle_timer = tokio::time::sleep(self.core.config.hub_idle_timeout);
            let summary_at = self.room.summary_due();
            let summary_timer =
                tokio::time::sleep_until(summary_at.unwrap_or_else(tokio::time::Instant::now));
            let life_at = self.lifecycle.deadline().filter(|_| live);
            let life_timer =
                tokio::time::sleep_until(life_at.unwrap_or_else(tokio::time::Instant::now));
            let listen_at = self.listening.deadline();
            let listen_timer =
                tokio::time::sleep_until(listen_at.unwrap_or_else(tokio::time::Instant::now));
            let wake = tokio::select! {
                command = self.rx.recv() => command.map_or(Wake::Stop, Wake::Command),
                () = self.core.shutdown.cancelled() => Wake::Stop,
                () = idle_timer, if idle => Wake::Stop,
                () = summary_timer, if summary_at.is_some() => Wake::Summary,
                () = life_timer, if life_at.is_some() => Wake::Lifecycle,
                () = host_timer, if host_at.is_some() => Wake::HostTimeout,
                () = listen_timer, if listen_at.is_some() => Wake::Listeners,
            };
            match wake {
                Wake::Command(Command::LeaseLost) => {
                    lease_lost = true;
                    break;
                }
                Wake::Command(Command::Unload { reply }) => {
                    unloaded = Some(reply);
                    break;
                }
                Wake::Command(Command::Adopt) => {
                    self.adopted = true;
                }
                Wake::Command(command) => {
                    self.note_activity(&command);
                    let started = std::time::Instant::now();
                    self.handle(command).await;
                    crate::metrics::hub_command(started.elapsed());
                }
                Wake::Summary => self.send_summary(None),
                Wake::Lifecycle => self.lifecycle_due().await,
                Wake::HostTimeout => self.host_timed_out().await,
                Wake::Listeners => self.listeners_due().await,
                Wake::Stop => break,
            }
            if self.store.is_broken() {
                break;
            }
            self.update_poller();
            self.store.reserve(self.feed.seq()).await;
        }
        self.poller = None;
        if lease_lost {
            // Its sockets reconnect and land where the session runs now; nothing more is
            // written from here (it would be refused).
            self.close_all(close::RESTARTING, "session moving to another instance");
            self.unregister();
            tracing::info!(session = %id, "hub stopped: another instance runs the session");
            return;
        }
        // The sweeper ends it if nobody comes back (see `ending.rs`).
        if self.session().state() != SessionState::Ended && !self.store.is_broken() {
            let since = self.unattended_since_ms();
            if let Err(e) = self.core.db.set_active_at(id, since).await {
                tracing::warn!(session = %id, error = %e, "could not store when the session was last used");
            }
        }
        // Sockets still here (the hub stopped after a failed write) reconnect to a fresh hub;
        // on shutdown their own 1001 comes first.
        if !self.room.is_empty() && !self.core.shutdown.is_cancelled() {
            self.close_all(close::RESTARTING, "session restarting");
        }
        // A hub revived from the database must find the position this one reached.
        self.core.positions.flush().await;
        self.unregister();
        // Another instance may run it now (several instances on PostgreSQL).
        if let Err(e) = self.core.db.release(id).await {
            tracing::warn!(session = %id, error = %e, "could not give the session's lease up");
        }
        if let Some(reply) = unloaded {
            let _ = reply.send(Ok(()));
        }
        tracing::debug!(session = %id, "hub unloaded");
    }

    /// Unregisters before the receiver goes away: a request racing with this exit either fails
    /// to send or loses its reply, and the registry then revives a fresh hub from the database
    /// (every change was stored before it was answered).
    fn unregister(&self) {
        super::forget_hub(&self.registry, self.session().id(), &self.tx);
    }

    /// Whether this instance still holds the session's lease by its own clock (always, with
    /// one instance on SQLite).
    pub(super) fn holds_lease(&self) -> bool {
        self.core
            .db
            .ownership()
            .is_none_or(|own| own.valid(self.session().id()).is_some())
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::View { user, reply } => {
                let _ = reply.send(self.view_for(&user));
            }
            Command::Authorize {
                user,
                action,
                reply,
            } => {
                let _ = reply.send(
                    self.session()
                        .authorize(&user, action)
                        .map_err(HubError::from),
                );
            }
            Command::Payer {
                user,
                action,
                reply,
            } => {
                let session = self.session();
                let _ = reply.send(
                    session
                        .authorize(&user, action)
                        .map(|()| match session.member(&user) {
                            Some(member) if member.is_spectator() => session.host().clone(),
                            _ => user,
                        })
                        .map_err(HubError::from),
                );
            }
            Command::Members {
                user,
                offset,
                limit,
                reply,
            } => {
                let page = self.check_member(&user).map(|()| {
                    Page::of(
                        self.session().members(),
                        offset,
                        limit.min(PAGE_LIMIT_MAX),
                        |m| self.views.member(self.session(), m, &self.room),
                    )
                });
                let _ = reply.send(page);
            }
            Command::Queue {
                user,
                offset,
                limit,
                reply,
            } => {
                let page = self.check_member(&user).map(|()| {
                    Page::of(
                        self.session().queue(),
                        offset,
                        limit.min(PAGE_LIMIT_MAX),
                        |e| QueueEntryView::from(e),
                    )
                });
                let _ = reply.send(page);
            }
            Command::Preview { viewer, reply } => {
                let _ = reply.send(Ok(self.views.preview(self.session(), viewer.as_ref())));
            }
            Command::Join {
                member,
                spectator,
                reply,
            } => {
                let user = member.user_id.clone();
                let result = self.join(member, spectator).await;
                let _ = reply.send(result.and_then(|()| self.view_for(&user)));
            }
            Command::Leave { user, reply } => {
                let result = self.apply(|s| s.leave(&user)).await;
                if result.is_ok() {
                    self.close_user(&user, close::NORMAL, "left the session");
                }
                let _ = reply.send(result.map(drop));
            }
            Command::Kick {
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
            Command::Unban {
                actor,
                target,
                reply,
            } => {
                let result = self.apply(|s| s.unban(&actor, &target)).await;
                let _ = reply.send(result.map(drop));
            }
            Command::SetRole {
                actor,
                target,
                role,
                reply,
            } => {
                let result = self.apply(|s| s.set_role(&actor, &target, role)).await;
                let _ = reply.send(result.map(drop));
            }
            Command::HandOver {
                actor,
                target,
                device,
                lobby_only,
                reply,
            } => {
                self.hand_over(actor, target, device, lobby_only, reply)
                    .await;
            }
            Command::HandedOver {
                from,
                to,
                device,
                old_device,
                result,
                reply,
            } => {
                self.handed_over(from, to, device, old_device, result, reply)
                    .await;
            }
            Command::SuccessorDevices { from, to, result } => {
                self.successor_devices(from, to, result).await;
            }
            Command::End { actor, reply } => {
                let result = self.apply(|s| s.end(&actor)).await;
                if result.is_ok() {
                    self.close_all(close::NORMAL, "session ended");
                }
                let _ = reply.send(result.map(drop));
            }
            Command::CreateDisplay {
                actor,
                label,
                show_join,
                reply,
            } => {
                let _ = reply.send(self.create_display(&actor, label, show_join).await);
            }
            Command::ListDisplays { actor, reply } => {
                let _ = reply.send(self.list_displays(&actor));
            }
            Command::RevokeDisplay { actor, key, reply } => {
                let _ = reply.send(self.revoke_display(&actor, &key).await);
            }
            Command::DisplayState { key, reply } => {
                let _ = reply.send(self.display_state(&key));
            }
            Command::RotateInvite { actor, code, reply } => {
                let result = self.apply(|s| s.rotate_invite(&actor, code)).await;
                let _ = reply.send(result.and_then(|_| self.view_for(&actor)));
            }
            Command::SetName { actor, name, reply } => {
                let result = self.apply(|s| s.set_name(&actor, name)).await;
                let _ = reply.send(result.and_then(|_| self.view_for(&actor)));
            }
            Command::CheckAdd {
                actor,
                track,
                reply,
            } => {
                let _ = reply.send(
                    self.session()
                        .check_add(&actor, &track)
                        .map_err(HubError::from),
                );
            }
            Command::AddTrack {
                actor,
                track,
                reply,
            } => {
                let _ = reply.send(self.add_track(&actor, track).await);
            }
            Command::RemoveEntry {
                actor,
                entry,
                reply,
            } => {
                let _ = reply.send(self.remove_entry(&actor, entry).await);
            }
            Command::BanTrack {
                actor,
                entry,
                reply,
            } => {
                let _ = reply.send(self.ban_track(&actor, entry).await);
            }
            Command::Vote {
                actor,
                entry,
                vote,
                reply,
            } => {
                let _ = reply.send(self.vote(&actor, entry, vote).await);
            }
            Command::VoteSkip { actor, reply } => {
                let _ = reply.send(self.vote_skip(&actor).await);
            }
            Command::QueueSettings {
                actor,
                patch,
                reply,
            } => {
                let _ = reply.send(self.queue_settings(&actor, &patch).await);
            }
            Command::Connect { conn, since, reply } => {
                // A handshake abandoned while we registered it (the client went away) never
                // gets its registration guard: deregister here, or it would be a ghost member.
                if let Err(Ok(conn_id)) = reply.send(self.connect(conn, since)) {
                    self.disconnect(conn_id);
                }
            }
            Command::Disconnect { conn_id } => self.disconnect(conn_id),
            Command::Chat(command) => self.handle_chat(command).await,
            Command::Listening(command) => self.handle_listening(command).await,
            // The player's commands and reports.
            Command::Recap {
                user,
                plays,
                created_at_ms,
                last_write_ms,
                reply,
            } => {
                let result = self.check_member(&user).map(|()| {
                    let session = self.session();
                    let ended = session.state() == SessionState::Ended;
                    let until = if ended {
                        last_write_ms
                    } else {
                        crate::db::now_ms()
                    };
                    let recap = sesh_session::Recap::build(session, &plays, until);
                    crate::wire::recap::RecapView::new(
                        session,
                        &recap,
                        created_at_ms,
                        ended.then_some(last_write_ms),
                    )
                });
                let _ = reply.send(result);
            }
            Command::ExpireUnattended { reply } => {
                let _ = reply.send(self.expire_unattended().await);
            }
            command => self.handle_playing(command).await,
        }
    }

    // ---- transitions ---------------------------------------------------------------------

    /// Applies a transition in place, stores it, then tells everyone. A refused transition
    /// changes nothing; a failed write puts the stored state back and tells nobody.
    pub(super) async fn apply(
        &mut self,
        transition: impl FnOnce(&mut Session) -> Result<Vec<Event>, SessionError>,
    ) -> Result<Vec<Event>, HubError> {
        let members_before = self.session().members().len();
        let events = self.store.apply(transition)?;
        self.commit(members_before, &events).await?;
        Ok(events)
    }

    /// Stores the session after a transition that produced `events` (the session had
    /// `members_before` members before it), then tells everyone.
    async fn commit(&mut self, members_before: usize, events: &[Event]) -> Result<(), HubError> {
        if events.is_empty() {
            return Ok(());
        }
        let was_large = self.views.is_large(members_before);
        let large = self.views.is_large(self.session().members().len());
        let frames = self
            .views
            .frames(events, self.session(), &self.room, was_large);
        let summary = was_large && !large;
        let last_seq = self.feed.seq() + frames.len() as u64 + u64::from(summary);
        self.store
            .commit(events, last_seq, &self.core.tracks)
            .await?;
        for frame in &frames {
            if let SessionEvent::SessionStarted { queue, .. } | SessionEvent::Queue { queue, .. } =
                frame
            {
                self.window = queue.bounds();
            }
            self.broadcast(frame);
        }
        if summary {
            // A session that became small again gets its whole roster in one.
            self.send_summary(Some(self.views.roster(self.session(), &self.room)));
        } else if large && events.iter().any(is_roster_event) {
            self.room.schedule_summary(tokio::time::Instant::now());
        }
        self.forget_listeners().await;
        Ok(())
    }

    async fn join(&mut self, member: NewMember, spectator: bool) -> Result<(), HubError> {
        let now = crate::db::now_ms();
        if spectator {
            self.apply(|s| s.join_spectator(member, now)).await?;
        } else {
            self.apply(|s| s.join(member, now, &mut rand::rng()))
                .await?;
        }
        Ok(())
    }

    // ---- views ---------------------------------------------------------------------------

    fn check_member(&self, user: &UserId) -> Result<(), HubError> {
        if !self.session().is_member(user) {
            return Err(SessionError::NotAMember { user: user.clone() }.into());
        }
        Ok(())
    }

    fn view_for(&self, user: &UserId) -> Result<SessionView, HubError> {
        self.check_member(user)?;
        Ok(self.session_view(user))
    }

    /// The session as `user` sees it, with what only the hub knows (when an idle one ends).
    fn session_view(&self, user: &UserId) -> SessionView {
        let mut view = self.views.session(self.session(), user, &self.room);
        view.idle_ends_at_ms = self.idle_ends_at_ms();
        view
    }

    fn welcome(&self, you: YouView) -> String {
        let welcome = Welcome {
            kind: "welcome",
            protocol: PROTOCOL_VERSION,
            seq: self.feed.seq(),
            recovered: false,
            session: self.session_view(&you.id),
            chat: self.chat_page(&you.id, None, crate::wire::chat::WELCOME_CHAT_MESSAGES),
            you,
            playback: self.playback.clone(),
            spotify: self.status.clone(),
        };
        serde_json::to_string(&welcome).unwrap_or_default()
    }

    // ---- subscribers ---------------------------------------------------------------------

    fn connect(&mut self, conn: NewConnection, since: Option<u64>) -> Result<u64, HubError> {
        let you = match conn.user() {
            Some(user) => {
                let Some(member) = self.session().member(user) else {
                    return Err(SessionError::NotAMember { user: user.clone() }.into());
                };
                YouView {
                    id: member.user_id.clone(),
                    display_name: member.display_name.clone(),
                    role: member.role,
                }
            }
            None => {
                let Subscriber::Display(key) = conn.subscriber.clone() else {
                    unreachable!("a connection without a user is a display's");
                };
                return self.connect_display(conn, key, since);
            }
        };
        let (conn_id, went_online) = self.room.add(
            conn.subscriber.clone(),
            conn.worker.clone(),
            Audience::Member,
        );
        let replay = since
            .and_then(|since| self.feed.replay_since(since))
            .filter(|frames| frames.len() < conn.tx.capacity());
        let first: Vec<ByteString> = match replay {
            // Chat frames are not replayed: the chat as it is now follows what was missed.
            Some(mut frames) => {
                frames.push(self.chat_history(&you.id));
                frames
            }
            None => vec![ByteString::from(self.welcome(you))],
        };
        for frame in first {
            // The queue is fresh and larger than what we put in; a failure means it closed.
            let _ = conn.tx.try_send(Outbound::Frame(frame));
        }
        // From here on everything for this connection goes through its worker, after the
        // frames above.
        self.feed.attach(
            conn_id,
            &conn.worker,
            conn.tx,
            conn.overflow,
            Audience::Member,
        );
        if went_online && let Subscriber::Member(user) = conn.subscriber {
            self.announce_presence(user, true);
        }
        Ok(conn_id)
    }

    fn disconnect(&mut self, conn_id: u64) {
        let Some((conn, offline)) = self.room.remove(conn_id) else {
            return;
        };
        self.feed.detach(conn_id, &conn.worker, conn.audience, None);
        if let Some(user) = offline
            && self.session().is_member(&user)
            && self.session().state() != SessionState::Ended
        {
            self.announce_presence(user, false);
        }
    }

    fn announce_presence(&mut self, user_id: UserId, online: bool) {
        if self.views.is_large(self.session().members().len()) {
            self.room.schedule_summary(tokio::time::Instant::now());
        } else {
            self.broadcast(&SessionEvent::Presence { user_id, online });
        }
        // The skip threshold follows who is connected: members see how many votes it takes
        // now. (A threshold that drops to the votes already cast does not skip by itself;
        // the next vote does.)
        let session = self.session();
        if let Some(entry) = session.now_playing()
            && !session.skip_votes().is_empty()
        {
            let frame = SessionEvent::SkipVotes {
                entry_id: entry.id,
                votes: session.skip_votes().len(),
                needed: sesh_session::skip_threshold(self.room.online_count()),
            };
            self.broadcast(&frame);
        }
    }

    /// Closes (after the frames already queued) every connection of `user`.
    fn close_user(&mut self, user: &UserId, code: u16, reason: &'static str) {
        for (id, conn) in self.room.remove_user(user) {
            self.feed
                .detach(id, &conn.worker, conn.audience, Some((code, reason)));
        }
    }

    fn close_all(&mut self, code: u16, reason: &'static str) {
        for (id, conn) in self.room.remove_all() {
            self.feed
                .detach(id, &conn.worker, conn.audience, Some((code, reason)));
        }
    }

    /// Sends the member counts now if they changed since the last summary (and always, with
    /// the whole roster, when `members` is given).
    fn send_summary(&mut self, members: Option<Vec<MemberView>>) {
        let count = self.session().members().len();
        let Some((member_count, online_count)) = self.room.take_summary(count, members.is_some())
        else {
            return;
        };
        if self.session().state() == SessionState::Ended {
            return;
        }
        self.broadcast(&SessionEvent::MembersSummary {
            member_count,
            online_count,
            members,
        });
    }

    fn session_id(&self) -> SessionId {
        self.session().id()
    }
}

/// Events about one member, which sessions over the roster limit do not announce one by one.
fn is_roster_event(event: &Event) -> bool {
    matches!(
        event,
        Event::MemberJoined { .. } | Event::MemberLeft { .. } | Event::MemberUpdated { .. }
    )
}
