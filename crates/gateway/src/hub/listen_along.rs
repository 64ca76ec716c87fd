//! Listening along, the hub's side (the decisions are `listening.rs`'s): the opt-in and opt-out
//! use cases (their [`HubHandle`] methods and commands too), what each poll of the host's player
//! means for the listeners, and the calls to their players — spawned off the loop with each
//! listener's own login, within the app-wide budget, their answers coming back as commands.
//!
//! The opt-in's first call is the command that puts the listener's device in step (`PUT play`
//! at the host's position, or `PUT pause` while nothing plays): only when Spotify accepted it is
//! the listener stored, then announced. A free account's answer is `premium_required`, and
//! nothing is stored.

use sesh_session::{Action, DeviceId, SessionState, TrackId, TrackUri, UserId};
use sesh_spotify::{PlayRequest, PlaybackState, SpotifyClient, SpotifyError, UserAuth};
use tokio::time::Instant;

use super::SessionHub;
use crate::{
    hub::{
        HubError, HubHandle,
        command::{Command, Reply},
        listening::{Call, Failure, Heard, Order, Played, Step},
    },
    wire::{ListeningEnded, ListeningState, SessionEvent, track_from_spotify},
};

/// A listening-along request to a hub, or the answer of a listener's call.
#[derive(Debug)]
pub(in crate::hub) enum ListenCommand {
    /// `actor` listens along on `device`.
    Listen {
        actor: UserId,
        device: DeviceId,
        reply: Reply<ListeningState>,
    },
    /// `actor` stops listening along (their player is left as it is).
    Unlisten { actor: UserId, reply: Reply<()> },
    /// The opt-in's first command answered; `version`: the session's change counter it was
    /// built at.
    Probed {
        actor: UserId,
        device: DeviceId,
        version: u64,
        result: Result<(), HubError>,
        reply: Reply<ListeningState>,
    },
    /// A listener's `play` or `pause` answered at `at`.
    Answered {
        user: UserId,
        epoch: u64,
        result: Result<(), HubError>,
        at: Instant,
    },
    /// A listener's player, read at `at` (boxed: a playback state is large).
    Read {
        user: UserId,
        epoch: u64,
        result: Box<Result<Option<PlaybackState>, HubError>>,
        at: Instant,
    },
}

impl ListenCommand {
    /// Whether a member sent it (the answers of calls are the hub's own).
    pub(in crate::hub) fn is_members(&self) -> bool {
        matches!(self, Self::Listen { .. } | Self::Unlisten { .. })
    }
}

impl HubHandle {
    /// `actor` listens along on their `device`: their player follows the session from now on.
    pub async fn listen(
        &self,
        actor: &UserId,
        device: DeviceId,
    ) -> Result<ListeningState, HubError> {
        self.request(|reply| {
            Command::Listening(ListenCommand::Listen {
                actor: actor.clone(),
                device: device.clone(),
                reply,
            })
        })
        .await
    }

    /// `actor` stops listening along (idempotent; their player is not paused).
    pub async fn unlisten(&self, actor: &UserId) -> Result<(), HubError> {
        self.request(|reply| {
            Command::Listening(ListenCommand::Unlisten {
                actor: actor.clone(),
                reply,
            })
        })
        .await
    }
}

impl SessionHub {
    pub(super) async fn handle_listening(&mut self, command: ListenCommand) {
        match command {
            ListenCommand::Listen {
                actor,
                device,
                reply,
            } => self.listen(actor, device, reply),
            ListenCommand::Unlisten { actor, reply } => {
                let result = self.unlisten(&actor).await;
                let _ = reply.send(result);
            }
            ListenCommand::Probed {
                actor,
                device,
                version,
                result,
                reply,
            } => {
                self.in_flight -= 1;
                let result = match result {
                    Ok(()) => self.listened(actor, device, version).await,
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            ListenCommand::Answered {
                user,
                epoch,
                result,
                at,
            } => {
                let reason = result.as_ref().err().and_then(ended_by);
                let step =
                    self.listening
                        .answered(&user, epoch, result.map_err(|e| failure(&e)), at);
                self.perform(step, reason).await;
            }
            ListenCommand::Read {
                user,
                epoch,
                result,
                at,
            } => {
                let reason = result.as_ref().as_ref().err().and_then(ended_by);
                let heard = (*result)
                    .map(|state| state.as_ref().map(heard))
                    .map_err(|e| failure(&e));
                let step = self.listening.read(&user, epoch, heard, at);
                self.perform(step, reason).await;
            }
        }
    }

    /// Loads the session's listeners (a revived hub resumes them).
    pub(super) async fn restore_listeners(&mut self) {
        if self.session().state() == SessionState::Ended {
            return;
        }
        let listeners = match self.core.db.load_listeners(self.session_id()).await {
            Ok(listeners) => listeners,
            Err(e) => {
                tracing::warn!(session = %self.session_id(), error = %e, "could not load the listeners");
                return;
            }
        };
        let now = Instant::now();
        for (user, device, state) in listeners {
            if self.session().can(&user, Action::ListenAlong) {
                self.room.set_listening(&user, Some(state));
                self.listening.restore(user, device, state, now);
            }
        }
    }

    /// The host's player as just polled (`None`: nothing, or the session does not steer it):
    /// listeners follow a track change, a seek, a pause or a resume.
    pub(super) async fn mirror_host(&mut self, state: Option<&PlaybackState>, steering: bool) {
        // Kept with nobody listening too: an opt-in starts from where the host is.
        let now = Instant::now();
        let played = state.filter(|_| steering).and_then(|s| {
            // The id and the uri only: this runs on every poll.
            let track = s.item.as_ref()?.as_track()?;
            let id = TrackId::new(track.id.clone()?);
            Some(Played {
                uri: track
                    .uri
                    .parse::<TrackUri>()
                    .unwrap_or_else(|_| TrackUri::for_track(&id))
                    .to_string(),
                track: id,
                playing: s.is_playing,
                progress_ms: s.progress_ms.unwrap_or(0),
                at: now,
            })
        });
        let step = self.listening.observe_host(played, now);
        self.perform(step, None).await;
    }

    /// The listeners' calls that are due now (the hub's timer).
    pub(super) async fn listeners_due(&mut self) {
        let step = self.listening.due(Instant::now());
        self.perform(step, None).await;
    }

    /// After a transition: members who left, were removed or became the host stop listening
    /// (with no call to their player); an ended session stops everyone.
    pub(super) async fn forget_listeners(&mut self) {
        if self.listening.is_empty() {
            return;
        }
        let id = self.session_id();
        if self.session().state() == SessionState::Ended {
            let users: Vec<UserId> = self.listening.users().cloned().collect();
            for user in &users {
                self.listening.remove(user);
                self.room.set_listening(user, None);
            }
            if let Err(e) = self.core.db.remove_listener(id, None).await {
                tracing::warn!(session = %id, error = %e, "could not forget the listeners");
            }
            return;
        }
        let gone: Vec<UserId> = self
            .listening
            .users()
            .filter(|u| !self.session().can(u, Action::ListenAlong))
            .cloned()
            .collect();
        for user in gone {
            self.listening.remove(&user);
            let step = Step {
                changed: vec![(user, None)],
                ..Step::default()
            };
            self.perform(step, None).await;
        }
    }

    fn listen(&mut self, actor: UserId, device: DeviceId, reply: Reply<ListeningState>) {
        let checked = self
            .session()
            .authorize(&actor, Action::ListenAlong)
            .map_err(HubError::from)
            .and_then(|()| Ok(self.core.limits.check_spotify_call(&actor)?));
        if let Err(e) = checked {
            let _ = reply.send(Err(e));
            return;
        }
        let call = self.listening.command_at(Instant::now());
        let version = self.listening.version();
        let target = device.clone();
        self.in_flight += 1;
        self.effects.spawn(
            actor.clone(),
            move |spotify, auth| command(spotify, auth, target, call),
            move |result| {
                Some(Command::Listening(ListenCommand::Probed {
                    actor,
                    device,
                    version,
                    result,
                    reply,
                }))
            },
        );
    }

    async fn listened(
        &mut self,
        actor: UserId,
        device: DeviceId,
        version: u64,
    ) -> Result<ListeningState, HubError> {
        // They may have left, or become the host, while Spotify answered.
        self.session().authorize(&actor, Action::ListenAlong)?;
        self.core
            .db
            .set_listener(
                self.session_id(),
                &actor,
                Some(&device),
                ListeningState::InSync,
            )
            .await?;
        let step = self
            .listening
            .joined(actor, device, version, Instant::now());
        for (user, state) in &step.changed {
            self.announce(user, *state, None);
        }
        self.spawn_orders(step.orders);
        Ok(ListeningState::InSync)
    }

    async fn unlisten(&mut self, actor: &UserId) -> Result<(), HubError> {
        self.session().authorize(actor, Action::View)?;
        if self.listening.state(actor).is_none() {
            return Ok(());
        }
        self.core
            .db
            .remove_listener(self.session_id(), Some(actor))
            .await?;
        self.listening.remove(actor);
        self.announce(actor, None, None);
        Ok(())
    }

    /// Stores each change of a listener's state, then tells the members; then makes the calls.
    async fn perform(&mut self, step: Step, reason: Option<ListeningEnded>) {
        let id = self.session_id();
        for (user, state) in step.changed {
            let stored = match state {
                Some(state) => self.core.db.set_listener(id, &user, None, state).await,
                None => self.core.db.remove_listener(id, Some(&user)).await,
            };
            if let Err(e) = stored {
                // Not announced: members keep what is stored (a restart resumes that).
                tracing::warn!(session = %id, user = %user, error = %e, "could not store a listener's state");
                continue;
            }
            self.announce(&user, state, reason.filter(|_| state.is_none()));
        }
        self.spawn_orders(step.orders);
    }

    fn announce(
        &mut self,
        user: &UserId,
        listening: Option<ListeningState>,
        reason: Option<ListeningEnded>,
    ) {
        self.room.set_listening(user, listening);
        if self.session().state() != SessionState::Ended {
            self.broadcast(&SessionEvent::Listening {
                user_id: user.clone(),
                listening,
                reason,
            });
        }
    }

    fn spawn_orders(&self, orders: Vec<Order>) {
        for Order {
            user,
            device,
            epoch,
            call,
            why,
        } in orders
        {
            tracing::debug!(session = %self.session_id(), user = %user, ?call, ?why, "a listener's call");
            if call == Call::Read {
                self.effects.spawn_with(
                    crate::budget::Priority::Background,
                    user.clone(),
                    |spotify, auth| async move { spotify.player(&auth).await },
                    move |result| {
                        Some(Command::Listening(ListenCommand::Read {
                            user,
                            epoch,
                            result: Box::new(result),
                            at: Instant::now(),
                        }))
                    },
                );
            } else {
                self.effects.spawn_with(
                    crate::budget::Priority::Background,
                    user.clone(),
                    move |spotify, auth| command(spotify, auth, device, call),
                    move |result| {
                        Some(Command::Listening(ListenCommand::Answered {
                            user,
                            epoch,
                            result,
                            at: Instant::now(),
                        }))
                    },
                );
            }
        }
    }
}

/// Sends `call` (a `play` or a `pause`) to `device`. A pause that finds nothing to pause there
/// (no active device, nothing loaded) has nothing to do: the player is as silent as the session.
async fn command(
    spotify: SpotifyClient,
    auth: UserAuth,
    device: DeviceId,
    call: Call,
) -> Result<(), SpotifyError> {
    let device = Some(device.as_str());
    match call {
        Call::Play { uri, position_ms } => {
            let request = PlayRequest {
                position_ms: Some(position_ms),
                ..PlayRequest::uris([uri])
            };
            spotify.play(&auth, device, &request).await
        }
        Call::Pause | Call::Read => match spotify.pause(&auth, device).await {
            Err(SpotifyError::NoActiveDevice { .. }) => Ok(()),
            Err(SpotifyError::Forbidden { reason, .. })
                if reason.as_deref() != Some("DEVICE_NOT_CONTROLLABLE") =>
            {
                Ok(())
            }
            other => other,
        },
    }
}

/// What a listener's player shows.
fn heard(state: &PlaybackState) -> Heard {
    let track = state.item.as_ref().and_then(|i| i.as_track());
    Heard {
        track: track.and_then(track_from_spotify).map(|t| t.id),
        device: state.device.as_ref().and_then(|d| d.id.clone()),
        playing: state.is_playing,
        progress_ms: state.progress_ms.unwrap_or(0),
        duration_ms: track.map_or(0, |t| t.duration_ms),
    }
}

/// How a listener's failed call counts: no Premium or a revoked login ends their listening with
/// no retry; a device gone or not controllable detaches them; anything else passes.
fn failure(error: &HubError) -> Failure {
    match error {
        HubError::Spotify(
            SpotifyError::PremiumRequired { .. }
            | SpotifyError::ReauthRequired
            | SpotifyError::Unauthorized { .. },
        ) => Failure::Drop,
        HubError::Spotify(
            SpotifyError::NoActiveDevice { .. }
            | SpotifyError::NotFound { .. }
            | SpotifyError::Forbidden { .. },
        ) => Failure::Detach,
        _ => Failure::Passing,
    }
}

/// Why a failure ended someone's listening, for the members.
fn ended_by(error: &HubError) -> Option<ListeningEnded> {
    match error {
        HubError::Spotify(SpotifyError::PremiumRequired { .. }) => {
            Some(ListeningEnded::PremiumRequired)
        }
        HubError::Spotify(SpotifyError::ReauthRequired | SpotifyError::Unauthorized { .. }) => {
            Some(ListeningEnded::ReauthRequired)
        }
        _ => None,
    }
}
