//! `PlaybackPoller`: one task per playing session with at least one connected member, or with
//! nobody connected while the session still has entries to feed to Spotify. It polls the host's
//! player within the app-wide budget and reports each result to the hub, which diffs and fans
//! out. Started and stopped by the hub only.
//!
//! With nobody watching it only feeds: it wakes shortly before the playing track's end (so the
//! hub can hand Spotify the next entry) and just after it (so the session follows), about two
//! polls a track instead of one a second.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sesh_session::UserId;
use sesh_spotify::{PlaybackState, SpotifyError};

use super::{HubError, command::Command, effects};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::{db::now_ms, state::Core};

/// Back-off cap after repeated failures (5xx, timeouts, revoked login).
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Poll this long after the expected end of a track, so the next one has started.
const END_OF_TRACK_SLACK: Duration = Duration::from_millis(150);
/// Never poll more often than this, even near the end of a track.
const MIN_INTERVAL: Duration = Duration::from_millis(200);
/// With nobody watching, the poll before a track's end comes this long before it: inside the
/// hub's commit window ([`super::follower::COMMIT_LEAD_MS`]) with a margin for the call.
const FEED_AHEAD: Duration = Duration::from_secs(12);

/// The hub's handle on its running poller.
#[derive(Debug)]
pub(super) struct PollerHandle {
    /// Whose player it polls.
    pub host: UserId,
    cancel: CancellationToken,
    nudge: Arc<Notify>,
    watched: Arc<AtomicBool>,
}

impl PollerHandle {
    /// Starts a poller of `host`'s player reporting to `hub`.
    pub(super) fn spawn(
        core: Arc<Core>,
        hub: mpsc::Sender<Command>,
        host: UserId,
        generation: u64,
    ) -> Self {
        let cancel = core.shutdown.child_token();
        let nudge = Arc::new(Notify::new());
        let watched = Arc::new(AtomicBool::new(true));
        let poller = Poller {
            core: core.clone(),
            hub,
            host: host.clone(),
            generation,
            cancel: cancel.clone(),
            nudge: nudge.clone(),
            watched: watched.clone(),
            failures: 0,
            last_poll: None,
        };
        core.runtime.spawn(poller.run());
        Self {
            host,
            cancel,
            nudge,
            watched,
        }
    }

    /// Whether anyone is connected: polls about once a second; otherwise only around the ends
    /// of tracks.
    pub fn set_watched(&self, watched: bool) {
        if self.watched.swap(watched, Ordering::Relaxed) != watched && watched {
            // Someone came back: they should see the player now, not at the next track's end.
            self.nudge.notify_one();
        }
    }

    /// Polls as soon as possible (after a control action).
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }
}

impl Drop for PollerHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

struct Poller {
    core: Arc<Core>,
    hub: mpsc::Sender<Command>,
    host: UserId,
    generation: u64,
    cancel: CancellationToken,
    nudge: Arc<Notify>,
    watched: Arc<AtomicBool>,
    failures: u32,
    /// When this session's player was last polled (for the staleness metric).
    last_poll: Option<std::time::Instant>,
}

impl Poller {
    async fn run(mut self) {
        let mut delay = Duration::ZERO;
        loop {
            // A zero delay (first poll, `0ms` interval) polls at once: a timer would round it
            // up to the next millisecond tick.
            if !delay.is_zero() {
                tokio::select! {
                    () = self.cancel.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                    () = self.nudge.notified() => {}
                }
            }
            tokio::select! {
                () = self.cancel.cancelled() => return,
                () = self.core.budget.acquire() => {}
            }
            crate::metrics::poll("fixed");
            if let Some(previous) = self.last_poll.replace(std::time::Instant::now()) {
                crate::metrics::poll_staleness(previous.elapsed());
            }
            let result = tokio::select! {
                () = self.cancel.cancelled() => return,
                r = self.poll_once() => r,
            };
            delay = self.next_delay(&result);
            let report = Command::Observed {
                generation: self.generation,
                result: Box::new(result),
                at_ms: now_ms(),
            };
            if self.hub.send(report).await.is_err() {
                return;
            }
        }
    }

    async fn poll_once(&self) -> Result<Option<PlaybackState>, HubError> {
        effects::call(&self.core, &self.host, |spotify, auth| async move {
            spotify.player(&auth).await
        })
        .await
    }

    /// About once a second while playing (sooner when the track is about to end), slower while
    /// paused, Spotify's `Retry-After` when rate limited, exponential back-off on failures.
    fn next_delay(&mut self, result: &Result<Option<PlaybackState>, HubError>) -> Duration {
        let config = &self.core.config;
        match result {
            Ok(state) => {
                self.failures = 0;
                match state {
                    Some(state) if state.is_playing => {
                        let remaining =
                            state.item.as_ref().and_then(|i| i.as_track()).map(|t| {
                                t.duration_ms.saturating_sub(state.progress_ms.unwrap_or(0))
                            });
                        let watched = self.watched.load(Ordering::Relaxed);
                        match remaining.map(|ms| Duration::from_millis(u64::from(ms))) {
                            Some(left) if !watched => feed_delay(left, config.poll_interval),
                            Some(left) => config
                                .poll_interval
                                .min(left + END_OF_TRACK_SLACK)
                                .max(MIN_INTERVAL),
                            None => config.poll_interval,
                        }
                    }
                    _ => config.poll_paused_interval,
                }
            }
            Err(HubError::Spotify(SpotifyError::RateLimited { retry_after, .. })) => {
                (*retry_after).max(config.poll_interval)
            }
            Err(_) => {
                self.failures = self.failures.saturating_add(1);
                let factor = 1u32 << self.failures.min(5);
                (config.poll_interval * factor).min(MAX_BACKOFF)
            }
        }
    }
}

/// With nobody watching: the next poll just inside the commit window, or, once inside it, just
/// after the track's end; never sooner than `interval`.
fn feed_delay(left: Duration, interval: Duration) -> Duration {
    match left.checked_sub(FEED_AHEAD) {
        Some(until_window) if !until_window.is_zero() => until_window.max(interval),
        _ => (left + END_OF_TRACK_SLACK).max(interval),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{FEED_AHEAD, feed_delay};

    #[test]
    fn unwatched_feeding_polls_before_and_after_each_tracks_end_only() {
        let second = Duration::from_secs(1);
        let s = Duration::from_secs;
        // Four minutes left: sleep until twelve seconds before the end.
        assert_eq!(feed_delay(s(240), second), s(240) - FEED_AHEAD);
        // Inside the window: sleep past the end.
        assert_eq!(feed_delay(s(10), second), s(10) + super::END_OF_TRACK_SLACK);
        // Right at the edge of the window, and never faster than the interval.
        assert_eq!(
            feed_delay(FEED_AHEAD, second),
            FEED_AHEAD + super::END_OF_TRACK_SLACK
        );
        assert_eq!(
            feed_delay(FEED_AHEAD + Duration::from_millis(10), second),
            second
        );
        assert_eq!(feed_delay(Duration::ZERO, second), second);
    }
}
