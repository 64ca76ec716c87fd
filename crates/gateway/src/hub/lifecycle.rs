//! A live session's way to its end when nobody uses it: `live → idle → ended`.
//!
//! A session is *unattended* while nobody is connected (no member's socket, no display) or
//! while its music is paused. Unattended for `idle_after` (`SESH_SESSION_IDLE_TIMEOUT`), it
//! becomes *idle*: its poller stops (no more Spotify calls) and the members still connected
//! are told when it will end; `warning` (`SESH_SESSION_END_WARNING`) later it ends. Anything a
//! member does in between (a request, a frame, a new connection) brings it back to live and
//! starts the clock again. A plain struct the hub drives with its own clock, so the rules are
//! tested here without a hub.

use std::time::Duration;

use tokio::time::Instant;

/// What is due now (see [`Lifecycle::due`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Due {
    /// The session has been unattended for the idle time: stop polling, warn, end at `ends_at`.
    GoIdle {
        /// When it ends unless someone acts.
        ends_at: Instant,
    },
    /// The warning ran out: end the session.
    End,
}

/// Where a session is on its way to the end.
#[derive(Debug)]
pub(super) struct Lifecycle {
    /// `None`: sessions never end by themselves.
    idle_after: Option<Duration>,
    warning: Duration,
    /// Since when nobody is connected or the music is paused.
    unattended_since: Option<Instant>,
    /// Idle: when it ends.
    ends_at: Option<Instant>,
}

impl Lifecycle {
    /// A session that became live (or was loaded) at `now`; `idle_after` zero: never idle.
    pub(super) fn new(idle_after: Duration, warning: Duration, now: Instant) -> Self {
        Self {
            idle_after: (!idle_after.is_zero()).then_some(idle_after),
            warning,
            unattended_since: Some(now),
            ends_at: None,
        }
    }

    /// Whether the session is idle (its poller stays stopped until someone acts).
    pub(super) fn is_idle(&self) -> bool {
        self.ends_at.is_some()
    }

    /// When an idle session ends.
    pub(super) fn ends_at(&self) -> Option<Instant> {
        self.ends_at
    }

    /// Since when the session is unattended, if it is.
    pub(super) fn unattended_since(&self) -> Option<Instant> {
        self.unattended_since
    }

    /// The session's attendance now: somebody connected and the music not paused, or not.
    /// Attended again, an idle session stays idle until someone acts (a paused session nobody
    /// resumes from Sesh is still one nobody uses).
    pub(super) fn observe(&mut self, unattended: bool, now: Instant) {
        match (unattended, self.unattended_since) {
            (true, None) => self.unattended_since = Some(now),
            (false, Some(_)) if !self.is_idle() => self.unattended_since = None,
            _ => {}
        }
    }

    /// A member acted at `now`: the clock starts again. Whether the session was idle (it is
    /// live again: the caller restarts the poller and tells the members).
    pub(super) fn activity(&mut self, now: Instant) -> bool {
        let was_idle = self.ends_at.take().is_some();
        if self.unattended_since.is_some() {
            self.unattended_since = Some(now);
        }
        was_idle
    }

    /// The next moment something may be due, for the hub's timer.
    pub(super) fn deadline(&self) -> Option<Instant> {
        match self.ends_at {
            Some(ends_at) => Some(ends_at),
            None => Some(self.unattended_since? + self.idle_after?),
        }
    }

    /// What is due at `now`, at most once each: going idle, then the end.
    pub(super) fn due(&mut self, now: Instant) -> Option<Due> {
        match self.ends_at {
            Some(ends_at) if now >= ends_at => Some(Due::End),
            Some(_) => None,
            None => {
                let since = self.unattended_since?;
                if now >= since + self.idle_after? {
                    let ends_at = now + self.warning;
                    self.ends_at = Some(ends_at);
                    Some(Due::GoIdle { ends_at })
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(30 * 60);
    const WARNING: Duration = Duration::from_secs(120);

    #[test]
    fn an_unattended_session_goes_idle_then_ends_after_the_warning() {
        let t0 = Instant::now();
        let mut life = Lifecycle::new(IDLE, WARNING, t0);
        life.observe(true, t0);
        assert_eq!(life.deadline(), Some(t0 + IDLE));
        assert_eq!(life.due(t0 + IDLE - Duration::from_secs(1)), None);
        let idle_at = t0 + IDLE;
        assert_eq!(
            life.due(idle_at),
            Some(Due::GoIdle {
                ends_at: idle_at + WARNING
            })
        );
        assert!(life.is_idle());
        // Due once: the next look finds nothing until the end.
        assert_eq!(life.due(idle_at + Duration::from_secs(1)), None);
        assert_eq!(life.deadline(), Some(idle_at + WARNING));
        assert_eq!(life.due(idle_at + WARNING), Some(Due::End));
    }

    #[test]
    fn an_attended_session_never_goes_idle_and_attendance_restarts_the_clock() {
        let t0 = Instant::now();
        let mut life = Lifecycle::new(IDLE, WARNING, t0);
        life.observe(false, t0);
        assert_eq!(life.deadline(), None);
        assert_eq!(life.due(t0 + IDLE * 10), None);
        // Nobody from t0 + 1 h: idle an idle time after that, not before.
        let left = t0 + Duration::from_secs(3600);
        life.observe(true, left);
        life.observe(true, left + Duration::from_secs(60));
        assert_eq!(life.deadline(), Some(left + IDLE));
        assert_eq!(life.due(left + IDLE - Duration::from_millis(1)), None);
    }

    #[test]
    fn acting_while_idle_brings_it_back_and_starts_over() {
        let t0 = Instant::now();
        let mut life = Lifecycle::new(IDLE, WARNING, t0);
        life.observe(true, t0);
        assert!(matches!(life.due(t0 + IDLE), Some(Due::GoIdle { .. })));
        let acted = t0 + IDLE + Duration::from_secs(30);
        assert!(life.activity(acted));
        assert!(!life.is_idle());
        // Still unattended (say, paused): the full idle time again from the action.
        assert_eq!(life.deadline(), Some(acted + IDLE));
        assert_eq!(life.due(acted + WARNING), None);
        // An action while live is no wake-up.
        assert!(!life.activity(acted + Duration::from_secs(1)));
    }

    #[test]
    fn attendance_alone_does_not_wake_an_idle_session() {
        let t0 = Instant::now();
        let mut life = Lifecycle::new(IDLE, WARNING, t0);
        life.observe(true, t0);
        assert!(matches!(life.due(t0 + IDLE), Some(Due::GoIdle { .. })));
        life.observe(false, t0 + IDLE + Duration::from_secs(1));
        assert!(life.is_idle());
        assert_eq!(life.due(t0 + IDLE + WARNING), Some(Due::End));
    }

    #[test]
    fn a_zero_idle_time_means_never() {
        let t0 = Instant::now();
        let mut life = Lifecycle::new(Duration::ZERO, WARNING, t0);
        life.observe(true, t0);
        assert_eq!(life.deadline(), None);
        assert_eq!(life.due(t0 + IDLE * 100), None);
    }
}
