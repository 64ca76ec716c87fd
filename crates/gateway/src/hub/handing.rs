//! Handing a playing session to another member (issue 19). Playback cannot move between
//! Spotify accounts, so Sesh plays the rest of the queue on the new host's device from the
//! current position (`PUT /me/player/play` with the remaining uris and `position_ms`), makes
//! them the host, pauses the old host's device, and from then on polls the new host's player.
//!
//! The host may name the new host's device, or offer the session (`handover_offered`): the
//! new host then picks one of their devices and accepts with the same request. A host
//! disconnected longer than `SESH_HOST_TIMEOUT` is succeeded the same way by the
//! longest-serving co-host (on their active device); with none, the music pauses
//! (`host_away`) and any member may take over with one of their devices (the domain's
//! `claim_host`). Premium is Spotify's to check: a free account's `play` is `premium_required`.

use sesh_session::{DeviceId, SessionError, SessionState, UserId};
use sesh_spotify::{PlayRequest, SpotifyError};
use tokio::time::Instant;

use super::SessionHub;
use crate::{
    db::now_ms,
    hub::{
        HubError,
        command::{Command, Reply},
    },
    wire::{SessionEvent, SpotifyStatus},
};

/// What a hand-over request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandOverOutcome {
    /// The new member is the host (and, while playing, the music plays on their device).
    Done,
    /// The new host was asked to pick a device (`handover_offered`).
    Offered,
}

impl SessionHub {
    /// `actor` hands the session to `target` (on `device`, one of `target`'s), or `target`
    /// accepts an offer or takes over from a host who is gone.
    pub(super) async fn hand_over(
        &mut self,
        actor: UserId,
        target: UserId,
        device: Option<DeviceId>,
        lobby_only: bool,
        reply: Reply<HandOverOutcome>,
    ) {
        let session = self.session();
        if session.state() != SessionState::Playing {
            let result = self.apply(|s| s.transfer_host(&actor, &target)).await;
            let _ = reply.send(result.map(|_| HandOverOutcome::Done));
            return;
        }
        if lobby_only {
            let _ = reply.send(Err(SessionError::AlreadyStarted.into()));
            return;
        }
        let host = session.host().clone();
        let by_host = actor == host;
        // The host hands it over, and only the host hands it to someone else.
        let checked = if by_host || actor != target {
            session.check_transfer_host(&actor, &target)
        } else if self.host_offer.as_ref() == Some(&target) {
            session.check_transfer_host(&host, &target)
        } else {
            // Taking over: the domain decides with what the hub knows (the host is gone).
            session.check_claim_host(&actor, self.host_gone)
        };
        if let Err(e) = checked {
            let _ = reply.send(Err(e.into()));
            return;
        }
        let Some(device) = device else {
            if by_host {
                self.host_offer = Some(target.clone());
                tracing::info!(session = %self.session_id(), to = %target, "the host offered the session");
                self.broadcast(&SessionEvent::HandoverOffered {
                    from: host,
                    to: target,
                });
                let _ = reply.send(Ok(HandOverOutcome::Offered));
            } else {
                let _ = reply.send(Err(HubError::DeviceRequired));
            }
            return;
        };
        if self.handing_over {
            let _ = reply.send(Err(HubError::HandOverInProgress));
            return;
        }
        if let Err(e) = self.core.limits.check_spotify_call(&target) {
            let _ = reply.send(Err(e.into()));
            return;
        }
        self.start_hand_over(host, target, device, Some(reply));
    }

    /// Plays the rest of the queue on `device` (the new host's) from where the music is now.
    fn start_hand_over(
        &mut self,
        from: UserId,
        to: UserId,
        device: DeviceId,
        reply: Option<Reply<HandOverOutcome>>,
    ) {
        let session = self.session();
        let position = session.position();
        let uris: Vec<String> = session.queue()[position.min(session.queue().len())..]
            .iter()
            .map(|e| e.track.uri.to_string())
            .collect();
        let position_ms = self
            .playback
            .as_ref()
            .map_or(0, |p| p.progress_at(now_ms()));
        let old_device = session.device().cloned();
        let request = PlayRequest {
            uris: Some(uris),
            position_ms: Some(position_ms),
            ..PlayRequest::default()
        };
        self.handing_over = true;
        self.in_flight += 1;
        let target = device.clone();
        self.effects.spawn(
            to.clone(),
            move |spotify, auth| async move {
                spotify.play(&auth, Some(target.as_str()), &request).await
            },
            move |result| {
                Some(Command::HandedOver {
                    from,
                    to,
                    device,
                    old_device,
                    result,
                    reply,
                })
            },
        );
    }

    /// Spotify answered the new host's `play`.
    pub(super) async fn handed_over(
        &mut self,
        from: UserId,
        to: UserId,
        device: DeviceId,
        old_device: Option<DeviceId>,
        result: Result<(), HubError>,
        reply: Option<Reply<HandOverOutcome>>,
    ) {
        self.handing_over = false;
        self.in_flight -= 1;
        let outcome = match result {
            Ok(()) => self.become_host(&from, &to, device).await,
            Err(e) => Err(e),
        };
        match &outcome {
            Ok(()) => {
                tracing::info!(session = %self.session_id(), from = %from, to = %to, "handed the session over");
                // The old host's device stops: the music now plays from the new host's.
                if let Some(old) = old_device {
                    self.effects.spawn(
                        from,
                        move |spotify, auth| async move {
                            spotify.pause(&auth, Some(old.as_str())).await
                        },
                        |result: Result<(), HubError>| {
                            if let Err(e) = result {
                                tracing::info!(error = %e, "could not pause the old host's device");
                            }
                            None
                        },
                    );
                }
            }
            Err(e) => {
                tracing::info!(session = %self.session_id(), to = %to, error = %e, "a hand-over failed");
                if reply.is_none() && self.session().host() == &from {
                    // A succession that could not play: wait for anyone to take over.
                    self.host_is_gone().await;
                }
            }
        }
        if let Some(reply) = reply {
            let _ = reply.send(outcome.map(|()| HandOverOutcome::Done));
        }
    }

    async fn become_host(
        &mut self,
        from: &UserId,
        to: &UserId,
        device: DeviceId,
    ) -> Result<(), HubError> {
        let gone = self.host_gone;
        let from = from.clone();
        let to_user = to.clone();
        let events = self.store.apply(|s| {
            let mut events = if gone && s.host() == &from {
                s.claim_host(&to_user, true)?
            } else {
                s.transfer_host(&from, &to_user)?
            };
            events.extend(s.set_device(&to_user, device)?);
            Ok(events)
        })?;
        let members = self.session().members().len();
        self.commit(members, &events).await?;
        self.host_offer = None;
        self.host_gone = false;
        self.host_offline_since = None;
        self.follower.reset();
        self.playback = None;
        self.set_status(SpotifyStatus::ok());
        Ok(())
    }

    // ---- a host who is gone --------------------------------------------------------------

    /// When the host's absence is due to be acted on (a playing session whose host has no
    /// socket open), if it is.
    pub(super) fn host_absence_deadline(&self) -> Option<Instant> {
        if self.host_gone || self.handing_over || self.session().state() != SessionState::Playing {
            return None;
        }
        Some(self.host_offline_since? + self.core.config.host_timeout)
    }

    /// Notes whether the host is connected now.
    pub(super) fn observe_host(&mut self, now: Instant) {
        let online = self.room.is_online(self.session().host());
        match (online, self.host_offline_since) {
            (true, _) => {
                self.host_offline_since = None;
                if self.host_gone {
                    self.host_gone = false;
                    self.broadcast(&SessionEvent::HostBack);
                }
            }
            (false, None) => self.host_offline_since = Some(now),
            (false, Some(_)) => {}
        }
    }

    /// The host has been away for `SESH_HOST_TIMEOUT`: the longest-serving co-host takes over
    /// on their active device; without one (or without a device), the session waits paused.
    pub(super) async fn host_timed_out(&mut self) {
        if self
            .host_absence_deadline()
            .is_none_or(|at| Instant::now() < at)
        {
            return;
        }
        let host = self.session().host().clone();
        let Some(successor) = self.session().successor().map(|m| m.user_id.clone()) else {
            self.host_is_gone().await;
            return;
        };
        tracing::info!(session = %self.session_id(), to = %successor, "the host is gone; a co-host takes over");
        self.handing_over = true;
        self.in_flight += 1;
        let to = successor.clone();
        self.effects.spawn(
            successor,
            |spotify, auth| async move { spotify.devices(&auth).await },
            move |result| {
                Some(Command::SuccessorDevices {
                    from: host,
                    to,
                    result,
                })
            },
        );
    }

    /// The successor's devices came back: hand over on the active one (else the first).
    pub(super) async fn successor_devices(
        &mut self,
        from: UserId,
        to: UserId,
        result: Result<Vec<sesh_spotify::Device>, HubError>,
    ) {
        self.handing_over = false;
        self.in_flight -= 1;
        let device = result.ok().and_then(|devices| {
            let usable = |d: &&sesh_spotify::Device| !d.is_restricted && d.id.is_some();
            devices
                .iter()
                .filter(usable)
                .find(|d| d.is_active)
                .or_else(|| devices.iter().find(usable))
                .and_then(|d| d.id.clone())
        });
        match device {
            Some(device) if self.session().host() == &from => {
                self.start_hand_over(from, to, DeviceId::new(device), None);
            }
            _ => self.host_is_gone().await,
        }
    }

    /// Nobody took over: the music pauses, members hear why, and any of them may take over.
    async fn host_is_gone(&mut self) {
        if self.host_gone {
            return;
        }
        self.host_gone = true;
        let host = self.session().host().clone();
        let device = self.session().device().cloned();
        tracing::info!(session = %self.session_id(), "the host is gone and nobody took over; pausing");
        self.effects.spawn(
            host,
            move |spotify, auth| async move {
                match spotify
                    .pause(&auth, device.as_ref().map(DeviceId::as_str))
                    .await
                {
                    // Already paused, or the device went away with the host: nothing plays.
                    Err(SpotifyError::NoActiveDevice { .. }) => Ok(()),
                    other => other,
                }
            },
            |result: Result<(), HubError>| {
                if let Err(e) = result {
                    tracing::info!(error = %e, "could not pause the gone host's device");
                }
                None
            },
        );
        let since_ms = self.host_offline_since.map_or_else(now_ms, |since| {
            now_ms() - i64::try_from(since.elapsed().as_millis()).unwrap_or(0)
        });
        self.broadcast(&SessionEvent::HostAway { since_ms });
    }
}
