//! The player's use cases of a hub: start, resume, the player's commands, and following the
//! poller's observations. Every Spotify call goes through `effects` (spawned off the loop);
//! its result comes back as a command handled here, which is when the session changes.
//!
//! Why it is longer than ~400 lines: each of the player's use cases has two halves (the
//! request, and the handling of Spotify's answer when it comes back), kept next to each
//! other so a command's whole life reads in one place.

use std::time::Instant;

use sesh_session::{Action, DeviceId, SessionError, SessionState, UserId};
use sesh_spotify::{PlayRequest, PlaybackState, RepeatState, SpotifyError};

use super::SessionHub;
use crate::{
    hub::{
        HubError, PlayerCommand, PollerHandle,
        command::{Command, Reply},
        follower::{Assumed, Replay, status_for_error},
    },
    wire::{QueueWindow, RepeatMode, SessionEvent, SpotifyStatus},
};

impl SessionHub {
    pub(super) async fn handle_playing(&mut self, command: Command) {
        match command {
            Command::Start {
                actor,
                device,
                reply,
            } => {
                if self.follower.took_over() && self.session().state() == SessionState::Playing {
                    // Start on a playing session the host took over = resume on that device.
                    self.resume(actor, Some(device), reply);
                } else {
                    self.start(actor, device, reply);
                }
            }
            Command::StartPlayed {
                actor,
                device,
                plan,
                result,
                reply,
            } => {
                self.starting = false;
                self.in_flight -= 1;
                let result = match result {
                    Ok(()) => self.started(&actor, device, *plan).await,
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            Command::Player {
                actor,
                command,
                reply,
            } => self.player(actor, command, reply).await,
            Command::Resumed {
                actor,
                device,
                result,
                reply,
            } => {
                self.in_flight -= 1;
                let result = match result {
                    Ok(()) => self.resumed(&actor, device).await,
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            Command::PlayerDone {
                actor,
                command,
                result,
                reply,
            } => {
                self.in_flight -= 1;
                let result = match (result, command) {
                    (Ok(()), PlayerCommand::Transfer { device_id, .. }) => self
                        .apply(|s| s.set_device(&actor, device_id))
                        .await
                        .map(drop),
                    (Ok(()), command) => {
                        self.assume_done(&command);
                        Ok(())
                    }
                    (result, _) => result,
                };
                if result.is_ok() {
                    self.nudge();
                }
                let _ = reply.send(result);
            }
            Command::Observed {
                generation,
                result,
                at_ms,
            } => {
                if generation == self.poller_generation && self.poller.is_some() {
                    self.observe(*result, at_ms).await;
                }
            }
            Command::CommitDue { generation } => {
                if generation == self.poller_generation
                    && self.poller.is_some()
                    && let Some(entry) = self
                        .follower
                        .commit_due(self.store.session(), Instant::now())
                {
                    crate::metrics::commit_predicted();
                    self.spawn_commit(entry);
                }
            }
            Command::Committed {
                entry,
                track,
                result,
            } => match result {
                Ok(()) => {
                    self.follower.committed(entry, track);
                    // Pinned now, unless the queue changed while Spotify answered (then the
                    // follower replaces it when it plays).
                    if self.session().next_entry().is_some_and(|e| e.id == entry)
                        && let Err(e) = self.apply(|s| s.commit_next(entry)).await
                    {
                        tracing::warn!(session = %self.session_id(), error = %e, "could not pin the committed entry");
                    }
                }
                Err(error) => {
                    self.follower.commit_failed();
                    tracing::warn!(session = %self.session_id(), error = %error, "could not hand the next entry to Spotify");
                    self.set_status(status_for_error(&error));
                }
            },
            Command::Skipped {
                actor,
                forward,
                pending,
                result,
                reply,
            } => {
                self.in_flight -= 1;
                match &result {
                    Ok(()) => {
                        if let Some((entry, track)) = pending {
                            self.follower.committed(entry, track);
                        }
                        if forward {
                            self.assume_skipped();
                        }
                        self.nudge();
                    }
                    Err(e) => {
                        tracing::info!(session = %self.session_id(), user = %actor, error = %e, "a skip failed");
                    }
                }
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
            Command::Replayed { result } => match result {
                // Poll now: after a stopped player the poller would wait its paused interval,
                // and members should see the next entry as soon as it plays.
                Ok(()) => self.nudge(),
                Err(error) => {
                    tracing::warn!(session = %self.session_id(), error = %error, "playing the next entry failed");
                    self.set_status(status_for_error(&error));
                }
            },
            other => tracing::error!(?other, "a command reached the wrong handler"),
        }
    }

    /// Plans the start (the queue, nothing changed yet) and asks Spotify to play it; the
    /// session starts when Spotify has accepted ([`Command::StartPlayed`]): if it refuses (no
    /// Premium, no device), nothing is half-started.
    fn start(&mut self, actor: UserId, device: DeviceId, reply: Reply<(QueueWindow, usize)>) {
        if self.starting {
            let _ = reply.send(Err(HubError::StartInProgress));
            return;
        }
        let plan = match self.session().plan_start(&actor, &mut rand::rng()) {
            Ok(plan) => plan,
            Err(e) => {
                let _ = reply.send(Err(e.into()));
                return;
            }
        };
        if let Err(e) = self.core.limits.check_spotify_call(&actor) {
            let _ = reply.send(Err(e.into()));
            return;
        }
        self.starting = true;
        self.in_flight += 1;
        // One track: the next goes to Spotify's queue shortly before this one ends (see the
        // follower), so the order stays the session's until then.
        let uris: Vec<String> = plan.uris().take(1).map(ToString::to_string).collect();
        let target = device.clone();
        let host = self.session().host().clone();
        self.effects.spawn(
            host,
            move |spotify, auth| async move {
                // Sesh owns the order: Spotify's own shuffle would scramble it. A device that
                // is not active yet may refuse the switch; it is then made once it plays.
                let device = Some(target.as_str());
                let before = spotify.set_shuffle(&auth, device, false).await;
                let retry = match before {
                    Ok(()) => false,
                    Err(SpotifyError::NoActiveDevice { .. } | SpotifyError::NotFound { .. }) => {
                        true
                    }
                    Err(e) => return Err(e),
                };
                spotify
                    .play(&auth, device, &PlayRequest::uris(uris))
                    .await?;
                if retry && let Err(e) = spotify.set_shuffle(&auth, device, false).await {
                    tracing::warn!(error = %e, "could not switch Spotify's shuffle off");
                }
                Ok(())
            },
            move |result| {
                Some(Command::StartPlayed {
                    actor,
                    device,
                    plan: Box::new(plan),
                    result,
                    reply,
                })
            },
        );
    }

    /// Spotify plays the planned queue: the session starts (weaving in whoever joined while
    /// Spotify answered).
    async fn started(
        &mut self,
        actor: &UserId,
        device: DeviceId,
        plan: sesh_session::StartPlan,
    ) -> Result<(QueueWindow, usize), HubError> {
        let members_before = self.session().members().len();
        let events = self
            .store
            .apply(|s| s.start_planned(actor, device, plan, &mut rand::rng()))?;
        self.follower.reset();
        self.playback = None;
        self.commit(members_before, &events).await?;
        if let Some(first) = self.session().now_playing() {
            self.core
                .positions
                .record_start(self.session_id(), first.id, crate::db::now_ms());
        }
        self.set_status(SpotifyStatus::ok());
        Ok((
            self.views.queue_window(self.session()),
            self.session().position(),
        ))
    }

    /// The host takes the session back after taking over their player: the remaining queue
    /// (from the current entry) is played again on `device` (default: the session's), which
    /// becomes the session's device, and the hub follows the player again. Without a take-over
    /// this is a plain resume on the session's device.
    fn resume(
        &mut self,
        actor: UserId,
        device: Option<DeviceId>,
        reply: Reply<(QueueWindow, usize)>,
    ) {
        let session = self.session();
        let checked = session
            .authorize(&actor, Action::PauseResume)
            // Resuming elsewhere also moves the session to that device.
            .and_then(|()| match device {
                Some(_) => session.authorize(&actor, Action::Transfer),
                None => Ok(()),
            })
            .and_then(|()| match session.state() {
                SessionState::Playing => Ok(()),
                _ => Err(SessionError::NotStarted),
            })
            .map_err(HubError::from)
            .and_then(|()| Ok(self.core.limits.check_spotify_call(&actor)?));
        if let Err(e) = checked {
            let _ = reply.send(Err(e));
            return;
        }
        let target = device.clone().or_else(|| session.device().cloned());
        let host = session.host().clone();
        let request = if self.follower.took_over() {
            PlayRequest::uris(session.now_playing().map(|e| e.track.uri.to_string()))
        } else {
            PlayRequest::resume()
        };
        self.in_flight += 1;
        self.effects.spawn(
            host,
            move |spotify, auth| async move {
                let device = target.as_ref().map(DeviceId::as_str);
                spotify.play(&auth, device, &request).await
            },
            move |result| {
                Some(Command::Resumed {
                    actor,
                    device,
                    result,
                    reply,
                })
            },
        );
    }

    async fn resumed(
        &mut self,
        actor: &UserId,
        device: Option<DeviceId>,
    ) -> Result<(QueueWindow, usize), HubError> {
        if let Some(device) = device {
            self.apply(|s| s.set_device(actor, device)).await?;
        }
        if self.follower.took_over() {
            tracing::info!(session = %self.session_id(), "the host resumed the session");
        }
        self.follower.reset();
        self.set_status(SpotifyStatus::ok());
        self.nudge();
        Ok((
            self.views.queue_window(self.session()),
            self.session().position(),
        ))
    }

    /// A player command: authorized by the session's rules, counted against the caller's
    /// Spotify budget, then sent to Spotify off the loop (a reshuffle changes only the queue).
    async fn player(&mut self, actor: UserId, command: PlayerCommand, reply: Reply<()>) {
        let session = self.session();
        let checked = match command {
            // The playing entry's adder may skip it too.
            PlayerCommand::Next => session.authorize_skip(&actor),
            _ => session.authorize(&actor, command.action()),
        }
        .and_then(|()| match self.session().state() {
            SessionState::Playing => Ok(()),
            _ => Err(SessionError::NotStarted),
        });
        if let Err(e) = checked {
            let _ = reply.send(Err(e.into()));
            return;
        }
        match command {
            PlayerCommand::Reshuffle => {
                let result = self.apply(|s| s.reshuffle(&actor, &mut rand::rng())).await;
                let _ = reply.send(result.map(drop));
            }
            PlayerCommand::Next | PlayerCommand::Previous if !self.follower.took_over() => {
                if let Err(e) = self.core.limits.check_spotify_call(&actor) {
                    let _ = reply.send(Err(e.into()));
                    return;
                }
                self.skip(actor, command == PlayerCommand::Next, Some(reply));
            }
            PlayerCommand::Play if self.follower.took_over() => {
                // After a take-over, play means: the session's remaining queue again.
                let (tx, rx) = tokio::sync::oneshot::channel();
                self.resume(actor, None, tx);
                self.core.runtime.spawn(async move {
                    let result = match rx.await {
                        Ok(result) => result.map(drop),
                        Err(_) => Err(HubError::Restarting),
                    };
                    let _ = reply.send(result);
                });
            }
            command => {
                if let Err(e) = self.core.limits.check_spotify_call(&actor) {
                    let _ = reply.send(Err(e.into()));
                    return;
                }
                let device = self.session().device().cloned();
                let sent = command.clone();
                self.in_flight += 1;
                self.effects.spawn(
                    self.session().host().clone(),
                    move |spotify, auth| sent.send(spotify, auth, device),
                    move |result| {
                        Some(Command::PlayerDone {
                            actor,
                            command,
                            result,
                            reply,
                        })
                    },
                );
            }
        }
    }

    /// Skips forward (`forward`) or back, the session's way: forward, Spotify plays the entry
    /// in its queue (`POST next`), after handing it the session's next entry first when nothing
    /// is committed yet; back, Spotify plays the previous entry (`PUT play` with it; at the first
    /// entry Spotify's `previous` restarts the track). `reply`: the caller waiting, if any (a
    /// skip the votes called for has none).
    pub(super) fn skip(&mut self, actor: UserId, forward: bool, reply: Option<Reply<()>>) {
        let session = self.session();
        let device = session.device().cloned();
        let position = session.position();
        let to_commit = if forward && !self.follower.has_pending() && session.committed().is_none()
        {
            session
                .next_entry()
                .map(|e| (e.id, e.track.id.clone(), e.track.uri.to_string()))
        } else {
            None
        };
        let back =
            (!forward && position > 0).then(|| session.queue()[position - 1].track.uri.to_string());
        let pending = to_commit
            .as_ref()
            .map(|(id, track, _)| (*id, track.clone()));
        let host = session.host().clone();
        self.in_flight += 1;
        self.effects.spawn(
            host,
            move |spotify, auth| async move {
                let device = device.as_ref().map(DeviceId::as_str);
                if let Some((_, _, uri)) = &to_commit {
                    spotify.add_to_queue(&auth, uri, device).await?;
                }
                match (forward, back) {
                    (true, _) => spotify.next(&auth, device).await,
                    (false, Some(uri)) => {
                        spotify.play(&auth, device, &PlayRequest::uris([uri])).await
                    }
                    (false, None) => spotify.previous(&auth, device).await,
                }
            },
            move |result| {
                Some(Command::Skipped {
                    actor,
                    forward,
                    pending,
                    result,
                    reply,
                })
            },
        );
    }

    /// Hands `entry` (the one after the playing one) to Spotify's queue, in the background; it
    /// is pinned when Spotify has accepted ([`Command::Committed`]).
    fn spawn_commit(&mut self, entry: sesh_session::QueueEntryId) {
        let session = self.session();
        let Some(next) = session.next_entry().filter(|e| e.id == entry) else {
            return;
        };
        let (track, uri) = (next.track.id.clone(), next.track.uri.to_string());
        let device = session.device().cloned();
        let host = session.host().clone();
        self.follower.committing();
        self.effects.spawn_with(
            crate::budget::Priority::Feed,
            host,
            move |spotify, auth| async move {
                let device = device.as_ref().map(DeviceId::as_str);
                spotify.add_to_queue(&auth, &uri, device).await
            },
            move |result| {
                Some(Command::Committed {
                    entry,
                    track,
                    result,
                })
            },
        );
    }

    /// Spotify accepted a player command of Sesh's: members see its effect now, and the poll
    /// that follows confirms it ([`Follower::assume`](super::follower::Follower::assume)).
    /// A transfer waits for that poll (only Spotify knows the new device's details).
    fn assume_done(&mut self, command: &PlayerCommand) {
        let assumed = match *command {
            PlayerCommand::Play => Assumed::Playing(true),
            PlayerCommand::Pause => Assumed::Playing(false),
            PlayerCommand::Seek { position_ms } => Assumed::Position(position_ms),
            PlayerCommand::Volume { percent } => Assumed::Volume(u32::from(percent)),
            PlayerCommand::Repeat { state } => Assumed::Repeat(match state {
                RepeatMode::Off => RepeatState::Off,
                RepeatMode::Track => RepeatState::Track,
            }),
            _ => return,
        };
        let (now, at_ms) = (Instant::now(), crate::db::now_ms());
        let Some(changes) = self.follower.assume(&assumed, now) else {
            return;
        };
        let Some(view) = self.playback.as_mut() else {
            return;
        };
        view.progress_ms = view.progress_at(at_ms);
        view.server_time_ms = at_ms;
        match assumed {
            Assumed::Playing(playing) => view.is_playing = playing,
            Assumed::Position(ms) => view.progress_ms = ms,
            Assumed::Volume(percent) => view.volume_percent = Some(percent),
            Assumed::Repeat(state) => view.repeat = state,
            Assumed::Skipped(_) => {}
        }
        view.changes = changes;
        let view = view.clone();
        self.broadcast(&SessionEvent::Playback(Box::new(view)));
    }

    /// Spotify accepted Sesh's skip forward with the session's next entry in its queue: the
    /// session moves on now, and the poll that follows confirms it.
    fn assume_skipped(&mut self) {
        let session = self.session();
        let next = session.position() + 1;
        let Some(entry) = session
            .queue()
            .get(next)
            .map(|e| (e.id, e.track.id.clone()))
        else {
            return;
        };
        if self.follower.pending().map(|(id, _)| *id) != Some(entry.0) {
            return; // Spotify's queue holds something else: the poll will tell what plays
        }
        let (now, at_ms) = (Instant::now(), crate::db::now_ms());
        let Some(changes) = self.follower.assume(&Assumed::Skipped(entry.1), now) else {
            return;
        };
        if !self.store.move_to(next) {
            return;
        }
        self.core
            .positions
            .record(self.session_id(), next, entry.0, at_ms);
        self.refresh_window();
        if let Some(before) = &self.playback {
            let view = self
                .views
                .skipped_to(self.store.session(), next, before, changes, at_ms);
            self.broadcast(&SessionEvent::Playback(Box::new(view.clone())));
            self.playback = Some(view);
        }
    }

    /// Polls the player soon (after a command: everyone sees its effect at once).
    fn nudge(&self) {
        if let Some(poller) = &self.poller {
            poller.nudge();
        }
    }

    /// One poller per playing session with at least one subscriber, polling the host's player;
    /// with nobody connected, one that only feeds Spotify while there is something to feed
    /// ([`SessionHub::feeding`]).
    pub(super) fn update_poller(&mut self) {
        let watched = !self.room.is_empty();
        let wanted = self.session().state() == SessionState::Playing
            && (watched || self.feeding() || self.adopted)
            && !self.lifecycle.is_idle()
            && !self.core.shutdown.is_cancelled();
        let host = self.session().host().clone();
        let keep = wanted && self.poller.as_ref().is_some_and(|p| p.host == host);
        if keep {
            if let Some(poller) = &self.poller {
                poller.set_watched(watched);
            }
            return;
        }
        // Dropping the handle cancels the task.
        self.poller = None;
        if wanted {
            self.poller_generation += 1;
            self.follower.forget_observation();
            let poller = PollerHandle::spawn(
                self.core.clone(),
                self.tx.clone(),
                self.session().id(),
                host,
                self.poller_generation,
            );
            poller.set_watched(watched);
            self.poller = Some(poller);
        }
    }

    /// Whether Spotify needs the session with nobody connected: it plays (as last seen), the
    /// session steers it, and an entry comes next. Spotify holds one track at a time, so without
    /// this the music would stop at the end of the current track when every phone sleeps. A
    /// paused session, a finished queue or a host who took over need nothing.
    pub(super) fn feeding(&self) -> bool {
        self.session().state() == SessionState::Playing
            && !self.follower.took_over()
            && self.session().next_entry().is_some()
            && self.playback.as_ref().is_some_and(|p| p.is_playing)
    }

    async fn observe(&mut self, result: Result<Option<PlaybackState>, HubError>, at_ms: i64) {
        // The first answer after a take-over says whether the session needs feeding.
        self.adopted = false;
        let state = match result {
            Ok(state) => state,
            Err(e) => {
                if !matches!(e, HubError::Spotify(_)) {
                    tracing::warn!(session = %self.session_id(), error = %e, "could not poll the player");
                }
                self.set_status(status_for_error(&e));
                return;
            }
        };
        let followed = self.follower.observe(
            self.store.session(),
            state.as_ref(),
            Instant::now(),
            self.core.config.playback_resync,
        );
        if followed.held {
            // Spotify still shows the player before Sesh's own command: what members saw
            // stands, and the next poll comes soon.
            self.nudge();
            return;
        }
        if let Some(replay) = followed.replay {
            self.spawn_replay(replay);
        }
        if let Some(entry) = followed.commit {
            self.spawn_commit(entry);
        }
        // The hot path of a playing session: the position moves in memory and reaches the
        // members in the `playback` event that follows (its `position`), with no `queue` event
        // (only a long queue's window may move on) and no wait on the database: the position
        // is stored in the background.
        if let Some(target) = followed.move_to
            && self.store.move_to(target)
            && let Some(entry) = self.session().now_playing().map(|e| e.id)
        {
            // When it started: the answer's time less its progress (a change seen late still
            // starts when it did, so the recap's lengths and skips are the player's).
            let progress = state
                .as_ref()
                .and_then(|s| s.progress_ms)
                .map_or(0, i64::from);
            self.core
                .positions
                .record(self.session_id(), target, entry, at_ms - progress);
            self.refresh_window();
        }
        let emit = followed.emit.is_some();
        self.set_status(self.follower.status());
        match (&mut self.playback, state.as_ref()) {
            // Nothing changed (the usual poll): only the position moves, nothing is rebuilt.
            (Some(view), Some(state)) if !emit && view.position == followed.position => {
                view.progress_ms = state.progress_ms.unwrap_or(0);
                view.server_time_ms = at_ms;
            }
            _ => {
                let view =
                    self.views
                        .playback(self.store.session(), state.as_ref(), followed, at_ms);
                if emit {
                    self.broadcast(&SessionEvent::Playback(Box::new(view.clone())));
                }
                self.playback = Some(view);
            }
        }
        let steering =
            !self.follower.took_over() && self.session().state() == SessionState::Playing;
        self.mirror_host(state.as_ref(), steering).await;
    }

    /// Gives Spotify the entry at `replay.from` with `PUT play` (the fallback when its own
    /// queue would play the wrong track, or nothing), in the background.
    fn spawn_replay(&self, replay: Replay) {
        let session = self.session();
        let request = PlayRequest::uris(
            session
                .queue()
                .get(replay.from)
                .map(|e| e.track.uri.to_string()),
        );
        let device = session.device().cloned();
        self.effects.spawn_with(
            crate::budget::Priority::Feed,
            session.host().clone(),
            move |spotify, auth| async move {
                let device = device.as_ref().map(DeviceId::as_str);
                spotify.play(&auth, device, &request).await
            },
            |result| Some(Command::Replayed { result }),
        );
    }

    /// After the now-playing entry moved: a long queue's members get a new window before the
    /// entry leaves (or comes near the end of) the one they hold.
    fn refresh_window(&mut self) {
        let (offset, end) = self.window;
        let position = self.session().position();
        let length = self.session().queue().len();
        let margin = (self.core.config.queue_window / 10).max(1);
        if position >= offset && (end >= length || position + margin < end) {
            return;
        }
        let queue = self.views.queue_window(self.session());
        self.window = queue.bounds();
        self.broadcast(&SessionEvent::Queue { queue, position });
    }

    pub(super) fn set_status(&mut self, status: SpotifyStatus) {
        if self.status.state == status.state && self.status.retry_after_s == status.retry_after_s {
            return;
        }
        self.status = status.clone();
        self.broadcast(&SessionEvent::SpotifyStatus(status));
    }
}
