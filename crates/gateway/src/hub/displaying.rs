//! The hub's display use cases: the host's keys (create, list, revoke), a display's stream
//! (its first events, then the session's display events through its worker) and its state
//! for the polling routes. What displays see is `displays.rs`'s.

use sesh_session::{DisplayKey, SessionDisplay, SessionError, SessionName, SessionState, UserId};

use super::super::{
    Audience, HubError, NewConnection, Outbound, displays::DisplayState, displays::Displays,
    displays::NowPlaying,
};
use super::{SessionHub, close};
use crate::wire::{DisplayView, SessionEvent};

impl SessionHub {
    /// Fans out a member event, and what displays see of it.
    pub(super) fn broadcast(&mut self, event: &SessionEvent) {
        self.feed.broadcast(event);
        let session = self.store.session();
        let views = &self.views;
        let frames = self
            .displays
            .follow(self.feed.seq(), event, session, &self.room, || {
                views.join_url(session)
            });
        if !frames.is_empty() {
            self.feed.broadcast_display(&frames);
        }
    }

    pub(super) async fn create_display(
        &mut self,
        actor: &UserId,
        label: Option<SessionName>,
        show_join: bool,
    ) -> Result<DisplayView, HubError> {
        let key = DisplayKey::generate(&mut rand::rng());
        self.apply(|s| s.create_display(actor, key.clone(), label, show_join, crate::db::now_ms()))
            .await?;
        self.display_view(&key)
    }

    pub(super) fn list_displays(&self, actor: &UserId) -> Result<Vec<DisplayView>, HubError> {
        self.session()
            .authorize(actor, sesh_session::Action::ManageDisplays)?;
        Ok(self
            .session()
            .displays()
            .iter()
            .map(|d| self.views.display(d, self.room.display_count(Some(&d.key))))
            .collect())
    }

    pub(super) async fn revoke_display(
        &mut self,
        actor: &UserId,
        key: &DisplayKey,
    ) -> Result<(), HubError> {
        self.apply(|s| s.revoke_display(actor, key)).await?;
        for (id, conn) in self.room.remove_display(key) {
            self.feed.detach(
                id,
                &conn.worker,
                conn.audience,
                Some((close::NORMAL, "display revoked")),
            );
        }
        Ok(())
    }

    /// The session's display key `key` (`display_not_found` when it has none such).
    fn display(&self, key: &DisplayKey) -> Result<&SessionDisplay, HubError> {
        Ok(self
            .session()
            .display(key)
            .ok_or(SessionError::DisplayNotFound)?)
    }

    /// The join link a display of `display` shows: for keys that show it, while the session's
    /// invite opens anything (not once it ended).
    fn join_url_for(&self, display: &SessionDisplay) -> Option<String> {
        (display.show_join && self.session().state() != SessionState::Ended)
            .then(|| self.views.join_url(self.session()))
    }

    fn display_view(&self, key: &DisplayKey) -> Result<DisplayView, HubError> {
        let display = self.display(key)?;
        Ok(self
            .views
            .display(display, self.room.display_count(Some(key))))
    }

    pub(super) fn display_state(&self, key: &DisplayKey) -> Result<DisplayState, HubError> {
        let display = self.display(key)?;
        Ok(DisplayState {
            now_playing: NowPlaying::of(
                self.playback.as_ref(),
                self.session(),
                crate::db::now_ms(),
            ),
            join_url: self.join_url_for(display),
        })
    }

    /// A display's stream: a `snapshot` (or, resuming after `since`, exactly the display
    /// events it missed), then every display event through its worker. An ended session's
    /// display gets the snapshot, `session_ended` and the end of the stream.
    pub(super) fn connect_display(
        &mut self,
        conn: NewConnection,
        key: DisplayKey,
        since: Option<u64>,
    ) -> Result<u64, HubError> {
        let display = self.display(&key)?;
        let (show_join, join) = (display.show_join, self.join_url_for(display));
        let max = self.core.config.displays_per_session;
        if self.room.display_count(None) >= max {
            return Err(HubError::DisplaysFull { max });
        }
        let seq = self.feed.seq();
        let ended = self.session().state() == SessionState::Ended;
        let replay = since
            .filter(|_| !ended)
            .and_then(|since| self.displays.replay_since(since, seq, show_join))
            .filter(|frames| frames.len() < conn.tx.capacity());
        let first = match replay {
            Some(frames) => frames,
            None => {
                let session = self.store.session();
                vec![self.displays.snapshot(
                    seq,
                    session,
                    &self.room,
                    self.playback.as_ref(),
                    join.as_deref(),
                    crate::db::now_ms(),
                )]
            }
        };
        // The queue is fresh and larger than what we put in; a failure means it closed.
        for frame in first {
            let _ = conn.tx.try_send(Outbound::Display(frame));
        }
        if ended {
            let _ = conn.tx.try_send(Outbound::Display(Displays::ended()));
            let _ = conn
                .tx
                .try_send(Outbound::Close(close::NORMAL, "session ended"));
            // Never attached: 0 is no connection's id (they count from 1).
            return Ok(0);
        }
        let audience = Audience::Display { show_join };
        let (conn_id, _) = self.room.add(
            super::super::Subscriber::Display(key),
            conn.worker.clone(),
            audience,
        );
        self.feed
            .attach(conn_id, &conn.worker, conn.tx, conn.overflow, audience);
        Ok(conn_id)
    }
}
