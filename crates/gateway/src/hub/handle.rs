//! [`HubHandle`]: the use cases of one session, one async method each. The HTTP routes and the
//! WebSocket handler call these (never each other); each sends one command to the session's
//! hub and waits for its answer. A hub that just unloaded itself is revived once.

use std::sync::Arc;

use sesh_session::{
    Action, DeviceId, DisplayKey, InviteCode, NewMember, QueueEntryId, QueueSettingsPatch, Role,
    SessionId, SessionName, Settings, Track, TrackId, UserId, Vote,
};
use tokio::sync::{mpsc, oneshot};

use super::{
    DisplayState, HubError, HubRegistry, Mailbox, NewConnection, PlayerCommand,
    command::{Command, Reply},
};
use crate::wire::{
    DisplayView, InvitePreview, MemberView, Page, QueueEntryView, QueueWindow, SessionView,
    SkipAnswer, VoteAnswer,
};

/// A cheap handle on one session's hub.
#[derive(Debug, Clone)]
pub struct HubHandle {
    pub(super) registry: HubRegistry,
    id: SessionId,
}

impl HubHandle {
    pub(super) fn new(registry: HubRegistry, id: SessionId) -> Self {
        Self { registry, id }
    }

    /// The session's id.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// The session as `user` (a member) sees it.
    pub async fn view(&self, user: &UserId) -> Result<SessionView, HubError> {
        let user = user.clone();
        self.request(|reply| Command::View {
            user: user.clone(),
            reply,
        })
        .await
    }

    /// Whether `user` may do `action` now, by the session's rules (`Session::authorize`): for
    /// work done outside the hub on a member's behalf, such as a search.
    pub async fn authorize(&self, user: &UserId, action: Action) -> Result<(), HubError> {
        self.request(|reply| Command::Authorize {
            user: user.clone(),
            action,
            reply,
        })
        .await
    }

    /// [`HubHandle::authorize`], answering whose Spotify login pays for `action`: the
    /// member's own, or the host's for a spectator (who has none; their limits still count
    /// as theirs).
    pub async fn payer(&self, user: &UserId, action: Action) -> Result<UserId, HubError> {
        self.request(|reply| Command::Payer {
            user: user.clone(),
            action,
            reply,
        })
        .await
    }

    /// A page of the members, in join order (`limit` capped at [`super::PAGE_LIMIT_MAX`]).
    pub async fn members(
        &self,
        user: &UserId,
        offset: usize,
        limit: usize,
    ) -> Result<Page<MemberView>, HubError> {
        self.request(|reply| Command::Members {
            user: user.clone(),
            offset,
            limit,
            reply,
        })
        .await
    }

    /// A page of the queue (`limit` capped at [`super::PAGE_LIMIT_MAX`]).
    pub async fn queue(
        &self,
        user: &UserId,
        offset: usize,
        limit: usize,
    ) -> Result<Page<QueueEntryView>, HubError> {
        self.request(|reply| Command::Queue {
            user: user.clone(),
            offset,
            limit,
            reply,
        })
        .await
    }

    /// The public preview of the session's invite; where `viewer` stands, when logged in.
    pub async fn preview(&self, viewer: Option<&UserId>) -> Result<InvitePreview, HubError> {
        self.request(|reply| Command::Preview {
            viewer: viewer.cloned(),
            reply,
        })
        .await
    }

    /// Joins (idempotent); the session as the new member sees it.
    pub async fn join(&self, member: NewMember) -> Result<SessionView, HubError> {
        self.request(|reply| Command::Join {
            member: member.clone(),
            spectator: false,
            reply,
        })
        .await
    }

    /// `member` joins as a spectator (no Spotify account, no tracks; idempotent).
    pub async fn join_spectator(&self, member: NewMember) -> Result<SessionView, HubError> {
        self.request(|reply| Command::Join {
            member: member.clone(),
            spectator: true,
            reply,
        })
        .await
    }

    /// `user` leaves.
    pub async fn leave(&self, user: &UserId) -> Result<(), HubError> {
        self.request(|reply| Command::Leave {
            user: user.clone(),
            reply,
        })
        .await
    }

    /// `actor` removes `target` (who may not rejoin until let back in).
    pub async fn kick(&self, actor: &UserId, target: &UserId) -> Result<(), HubError> {
        self.request(|reply| Command::Kick {
            actor: actor.clone(),
            target: target.clone(),
            reply,
        })
        .await
    }

    /// `actor` lets the removed `target` join again.
    pub async fn unban(&self, actor: &UserId, target: &UserId) -> Result<(), HubError> {
        self.request(|reply| Command::Unban {
            actor: actor.clone(),
            target: target.clone(),
            reply,
        })
        .await
    }

    /// `actor` (the host) makes `target` a co-host, or a guest again.
    pub async fn set_role(
        &self,
        actor: &UserId,
        target: &UserId,
        role: Role,
    ) -> Result<(), HubError> {
        self.request(|reply| Command::SetRole {
            actor: actor.clone(),
            target: target.clone(),
            role,
            reply,
        })
        .await
    }

    /// `actor` (the host) hands the host role to `target`, before Start only (the older route;
    /// [`HubHandle::hand_over_playing`] also hands over a playing session).
    pub async fn hand_over(&self, actor: &UserId, target: &UserId) -> Result<(), HubError> {
        self.request(|reply| Command::HandOver {
            actor: actor.clone(),
            target: target.clone(),
            device: None,
            lobby_only: true,
            reply,
        })
        .await
        .map(drop)
    }

    /// `actor` hands the session to `target`: in the lobby at once; while playing on
    /// `device` (one of `target`'s), or — without one — offered to `target`, who accepts by
    /// asking the same with one of their devices. `target` may also take over a session whose
    /// host is gone.
    pub async fn hand_over_playing(
        &self,
        actor: &UserId,
        target: &UserId,
        device: Option<DeviceId>,
    ) -> Result<super::HandOverOutcome, HubError> {
        self.request(|reply| Command::HandOver {
            actor: actor.clone(),
            target: target.clone(),
            device: device.clone(),
            lobby_only: false,
            reply,
        })
        .await
    }

    /// The recap as `user` (a member) sees it, from the stored `plays` and the session row's
    /// times; members' names only (see [`crate::wire::recap::RecapView::name_others`]).
    pub async fn recap(
        &self,
        user: &UserId,
        plays: Vec<sesh_session::Play>,
        created_at_ms: i64,
        last_write_ms: i64,
    ) -> Result<crate::wire::recap::RecapView, HubError> {
        self.request(|reply| Command::Recap {
            user: user.clone(),
            plays: plays.clone(),
            created_at_ms,
            last_write_ms,
            reply,
        })
        .await
    }

    /// Ends the session if nobody came back since the sweeper found it unattended in the
    /// database (`true`: it ended).
    pub async fn expire_unattended(&self) -> Result<bool, HubError> {
        self.request(|reply| Command::ExpireUnattended { reply })
            .await
    }

    /// `actor` ends the session.
    pub async fn end(&self, actor: &UserId) -> Result<(), HubError> {
        self.request(|reply| Command::End {
            actor: actor.clone(),
            reply,
        })
        .await
    }

    /// `actor` replaces the invite code; the session with its new code.
    pub async fn rotate_invite(
        &self,
        actor: &UserId,
        code: InviteCode,
    ) -> Result<SessionView, HubError> {
        self.request(|reply| Command::RotateInvite {
            actor: actor.clone(),
            code: code.clone(),
            reply,
        })
        .await
    }

    /// The host makes a display key (docs/displays.md).
    pub async fn create_display(
        &self,
        actor: &UserId,
        label: Option<SessionName>,
        show_join: bool,
    ) -> Result<DisplayView, HubError> {
        self.request(|reply| Command::CreateDisplay {
            actor: actor.clone(),
            label: label.clone(),
            show_join,
            reply,
        })
        .await
    }

    /// The host's display keys, oldest first, with their open streams.
    pub async fn displays(&self, actor: &UserId) -> Result<Vec<DisplayView>, HubError> {
        self.request(|reply| Command::ListDisplays {
            actor: actor.clone(),
            reply,
        })
        .await
    }

    /// The host revokes a display key: its open streams end.
    pub async fn revoke_display(&self, actor: &UserId, key: &DisplayKey) -> Result<(), HubError> {
        self.request(|reply| Command::RevokeDisplay {
            actor: actor.clone(),
            key: key.clone(),
            reply,
        })
        .await
    }

    /// What a display with `key` sees now (`display_not_found` for a key the session lacks).
    pub async fn display_state(&self, key: &DisplayKey) -> Result<DisplayState, HubError> {
        self.request(|reply| Command::DisplayState {
            key: key.clone(),
            reply,
        })
        .await
    }

    /// `actor` names the session (`None`: no name); the session with its new name.
    pub async fn set_name(
        &self,
        actor: &UserId,
        name: Option<SessionName>,
    ) -> Result<SessionView, HubError> {
        self.request(|reply| Command::SetName {
            actor: actor.clone(),
            name: name.clone(),
            reply,
        })
        .await
    }

    /// Whether `actor` may add the track `track` now, by every rule but the track's length
    /// (unknown before it is looked up): asked before a Spotify call is spent on the lookup.
    pub async fn check_add(&self, actor: &UserId, track: &TrackId) -> Result<(), HubError> {
        self.request(|reply| Command::CheckAdd {
            actor: actor.clone(),
            track: track.clone(),
            reply,
        })
        .await
    }

    /// Counts a change of the queue against `actor`'s `SESH_QUEUE_ACTIONS_PER_MINUTE`, for the
    /// HTTP routes and the socket alike, before the hub is asked (an add counts where it starts,
    /// `routes::queue::add_track`, before its track is looked up).
    fn count_queue_change(&self, actor: &UserId) -> Result<(), HubError> {
        Ok(self.registry.core.limits.check_queue_action(actor)?)
    }

    /// `actor` adds `track` (already looked up on Spotify): the new entry (with the adder's
    /// vote) and its index in the queue.
    pub async fn add_track(
        &self,
        actor: &UserId,
        track: Arc<Track>,
    ) -> Result<(QueueEntryView, usize), HubError> {
        self.request(|reply| Command::AddTrack {
            actor: actor.clone(),
            track: track.clone(),
            reply,
        })
        .await
    }

    /// `actor` takes an upcoming entry out of the queue (or their own credit from it).
    pub async fn remove_entry(&self, actor: &UserId, entry: QueueEntryId) -> Result<(), HubError> {
        self.count_queue_change(actor)?;
        self.request(|reply| Command::RemoveEntry {
            actor: actor.clone(),
            entry,
            reply,
        })
        .await
    }

    /// The host or a co-host bans the track of `entry` from the session.
    pub async fn ban_track(&self, actor: &UserId, entry: QueueEntryId) -> Result<(), HubError> {
        self.count_queue_change(actor)?;
        self.request(|reply| Command::BanTrack {
            actor: actor.clone(),
            entry,
            reply,
        })
        .await
    }

    /// `actor` votes on `entry` (`None`: withdraws their vote).
    pub async fn vote(
        &self,
        actor: &UserId,
        entry: QueueEntryId,
        vote: Option<Vote>,
    ) -> Result<VoteAnswer, HubError> {
        self.count_queue_change(actor)?;
        self.request(|reply| Command::Vote {
            actor: actor.clone(),
            entry,
            vote,
            reply,
        })
        .await
    }

    /// `actor` toggles their vote to skip the playing entry.
    pub async fn vote_skip(&self, actor: &UserId) -> Result<SkipAnswer, HubError> {
        self.count_queue_change(actor)?;
        self.request(|reply| Command::VoteSkip {
            actor: actor.clone(),
            reply,
        })
        .await
    }

    /// The host changes the queue settings; the settings as they are now.
    pub async fn queue_settings(
        &self,
        actor: &UserId,
        patch: QueueSettingsPatch,
    ) -> Result<Settings, HubError> {
        self.count_queue_change(actor)?;
        self.request(|reply| Command::QueueSettings {
            actor: actor.clone(),
            patch: patch.clone(),
            reply,
        })
        .await
    }

    /// `actor` starts the session on `device` (or, on a playing session the host took over,
    /// resumes it there): the queue (whole or its window) and the now-playing index.
    pub async fn start(
        &self,
        actor: &UserId,
        device: DeviceId,
    ) -> Result<(QueueWindow, usize), HubError> {
        self.request(|reply| Command::Start {
            actor: actor.clone(),
            device: device.clone(),
            reply,
        })
        .await
    }

    /// A command to the session's player, for `actor`.
    pub async fn player(&self, actor: &UserId, command: PlayerCommand) -> Result<(), HubError> {
        self.request(|reply| Command::Player {
            actor: actor.clone(),
            command: command.clone(),
            reply,
        })
        .await
    }

    /// Registers a subscriber; the answer deregisters it when dropped.
    pub async fn connect(
        &self,
        conn: NewConnection,
        since: Option<u64>,
    ) -> Result<Registration, HubError> {
        let (mailbox, answer) = self
            .request_of(|reply| Command::Connect {
                conn: conn.clone(),
                since,
                reply,
            })
            .await?;
        answer.map(|conn_id| Registration { mailbox, conn_id })
    }

    /// Unloads the session's hub if it runs here (as when idle: stored, its lease given up),
    /// and returns once it is; never revives one.
    pub async fn unload(&self) -> Result<(), HubError> {
        let Some(mailbox) = self.registry.loaded_mailbox(self.id) else {
            return Ok(());
        };
        let (reply, answer) = oneshot::channel();
        if mailbox.tx.send(Command::Unload { reply }).await.is_err() {
            return Ok(());
        }
        // A hub that stopped on its own meanwhile dropped the reply: unloaded too.
        answer.await.unwrap_or(Ok(()))
    }

    pub(super) async fn request<T>(
        &self,
        make: impl Fn(Reply<T>) -> Command,
    ) -> Result<T, HubError> {
        self.request_of(make).await?.1
    }

    /// Sends a command to the session's hub and waits for its answer, reviving the hub once
    /// if it just unloaded itself; the answer comes with the mailbox of the hub that gave it.
    async fn request_of<T>(
        &self,
        make: impl Fn(Reply<T>) -> Command,
    ) -> Result<(Mailbox, Result<T, HubError>), HubError> {
        for _ in 0..2 {
            let mailbox = self.registry.mailbox(self.id).await?;
            let (reply, answer) = oneshot::channel();
            let sent = std::time::Instant::now();
            if mailbox.tx.send(make(reply)).await.is_err() {
                self.registry.forget(self.id, &mailbox);
                continue;
            }
            match answer.await {
                Ok(result) => {
                    crate::metrics::hub_request(sent.elapsed());
                    return Ok((mailbox, result));
                }
                Err(_) => self.registry.forget(self.id, &mailbox),
            }
        }
        Err(HubError::Restarting)
    }
}

/// A subscriber registered with its hub: dropping it deregisters the connection, however the
/// socket's task ends (returns, is cancelled or panics), so no connection outlives its socket
/// as an "online" ghost that keeps the hub and its poller alive.
#[derive(Debug)]
pub struct Registration {
    mailbox: Mailbox,
    conn_id: u64,
}

impl Registration {
    /// The connection's id within its hub.
    pub fn conn_id(&self) -> u64 {
        self.conn_id
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let command = Command::Disconnect {
            conn_id: self.conn_id,
        };
        match self.mailbox.tx.try_send(command) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            // A busy hub: wait for room in the background (a drop cannot wait).
            Err(mpsc::error::TrySendError::Full(command)) => {
                let tx = self.mailbox.tx.clone();
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        let _ = tx.send(command).await;
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dropped_registration_deregisters_even_when_its_task_panics() {
        let (tx, mut rx) = mpsc::channel(4);
        let registration = Registration {
            mailbox: Mailbox { tx },
            conn_id: 7,
        };
        // A socket task that panics while it holds its registration.
        let task = tokio::spawn(async move {
            let _registration = registration;
            panic!("a bug in the socket task");
        });
        assert!(task.await.unwrap_err().is_panic());
        assert!(matches!(
            rx.recv().await,
            Some(Command::Disconnect { conn_id: 7 })
        ));

        // A full command queue: the deregistration waits for room instead of being lost.
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(Command::Disconnect { conn_id: 1 }).unwrap();
        drop(Registration {
            mailbox: Mailbox { tx },
            conn_id: 2,
        });
        assert!(matches!(
            rx.recv().await,
            Some(Command::Disconnect { conn_id: 1 })
        ));
        assert!(matches!(
            rx.recv().await,
            Some(Command::Disconnect { conn_id: 2 })
        ));
    }
}
