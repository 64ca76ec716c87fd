//! The hub's side of a session's way to its end when nobody uses it (the rules are
//! `lifecycle.rs`'s): what makes a session unattended, going idle (the poller stops, the
//! members are warned), waking up on a member's action, and the end. A session whose hub was
//! unloaded is ended by the registry's sweeper through [`SessionHub::expire_unattended`].

use sesh_session::SessionState;
use tokio::time::Instant;

use super::{SessionHub, close};
use crate::{
    db::now_ms,
    hub::{HubError, command::Command, lifecycle::Due},
    wire::SessionEvent,
};

impl SessionHub {
    /// Nobody connected (no member, no display), or the music paused.
    pub(super) fn unattended(&self) -> bool {
        self.room.is_empty()
            || (self.session().state() == SessionState::Playing
                && self.playback.as_ref().is_some_and(|p| !p.is_playing))
    }

    /// A member's request or frame: it brings an idle session back.
    pub(super) fn note_activity(&mut self, command: &Command) {
        if !command.is_members() || self.session().state() == SessionState::Ended {
            return;
        }
        if self.lifecycle.activity(Instant::now()) {
            tracing::info!(session = %self.session_id(), "an idle session is live again");
            self.broadcast(&SessionEvent::SessionActive);
        }
    }

    /// The lifecycle's timer fired.
    pub(super) async fn lifecycle_due(&mut self) {
        if self.session().state() == SessionState::Ended {
            return;
        }
        let now = Instant::now();
        match self.lifecycle.due(now) {
            Some(Due::GoIdle { ends_at }) => {
                let ends_at_ms = wall_clock_ms(ends_at);
                tracing::info!(session = %self.session_id(), ends_at_ms, "the session is idle: nobody used it");
                self.broadcast(&SessionEvent::SessionIdle { ends_at_ms });
            }
            Some(Due::End) => {
                if let Err(e) = self.end_unattended().await {
                    tracing::warn!(session = %self.session_id(), error = %e, "could not end an idle session");
                }
            }
            None => {}
        }
    }

    /// When an idle session ends, on the server's wall clock.
    pub(super) fn idle_ends_at_ms(&self) -> Option<i64> {
        let ends_at = self.lifecycle.ends_at()?;
        Some(wall_clock_ms(ends_at))
    }

    /// Since when (wall clock) nobody used the session, for the database when the hub unloads.
    pub(super) fn unattended_since_ms(&self) -> i64 {
        self.lifecycle
            .unattended_since()
            .map_or_else(now_ms, wall_clock_ms)
    }

    /// The sweeper found this session unattended in the database for the idle time and the
    /// warning (its hub had unloaded): it ends, unless someone came back meanwhile or it still
    /// feeds Spotify. Whether it ended.
    pub(super) async fn expire_unattended(&mut self) -> Result<bool, HubError> {
        if self.session().state() == SessionState::Ended || !self.room.is_empty() || self.feeding()
        {
            return Ok(false);
        }
        self.end_unattended().await?;
        Ok(true)
    }

    async fn end_unattended(&mut self) -> Result<(), HubError> {
        self.apply(sesh_session::Session::end_idle).await?;
        tracing::info!(session = %self.session_id(), "ended an idle session");
        self.close_all(close::NORMAL, "session ended: nobody used it");
        Ok(())
    }
}

/// The server's wall clock (ms since the epoch) at `at`, a moment of the hub's monotonic clock,
/// past or future: what members are told of the hub's deadlines.
pub(super) fn wall_clock_ms(at: Instant) -> i64 {
    let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let now = Instant::now();
    if at >= now {
        now_ms().saturating_add(ms(at - now))
    } else {
        now_ms().saturating_sub(ms(now - at))
    }
}
