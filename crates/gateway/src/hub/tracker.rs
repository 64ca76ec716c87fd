//! Deciding when the host's player changed enough to tell everyone: track, play/pause, device,
//! or a seek (a progress jump beyond normal drift), plus a periodic resync.

use std::time::{Duration, Instant};

use sesh_session::TrackId;

/// A progress difference beyond this (after extrapolating) counts as a seek.
pub const SEEK_THRESHOLD: Duration = Duration::from_millis(2500);

/// One observation of the host's player, reduced to what the diff compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The track playing (None: nothing, or not a track).
    pub track: Option<TrackId>,
    /// Playing or paused.
    pub is_playing: bool,
    /// The device.
    pub device: Option<String>,
    /// Progress in the track.
    pub progress_ms: u32,
    /// When it was observed.
    pub at: Instant,
}

/// What changed since the last observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing worth an event.
    None,
    /// Send a `playback` event; `track_changed` when the track differs from the last one.
    Emit {
        /// The track differs from the previous observation.
        track_changed: bool,
    },
}

/// Remembers the last observation and when the last event went out.
#[derive(Debug, Default)]
pub struct PlaybackTracker {
    last: Option<Observation>,
    last_emit: Option<Instant>,
}

impl PlaybackTracker {
    /// Forgets everything (a new host, a restart of playback).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Records `now` and says whether to emit.
    pub fn observe(&mut self, now: Observation, resync_every: Duration) -> Change {
        let change = match &self.last {
            None => Change::Emit {
                track_changed: true,
            },
            Some(last) => {
                let track_changed = last.track != now.track;
                if track_changed || last.is_playing != now.is_playing || last.device != now.device {
                    Change::Emit { track_changed }
                } else if is_seek(last, &now)
                    || self
                        .last_emit
                        .is_none_or(|t| now.at.saturating_duration_since(t) >= resync_every)
                {
                    Change::Emit {
                        track_changed: false,
                    }
                } else {
                    Change::None
                }
            }
        };
        if matches!(change, Change::Emit { .. }) {
            self.last_emit = Some(now.at);
        }
        self.last = Some(now);
        change
    }
}

fn is_seek(last: &Observation, now: &Observation) -> bool {
    let elapsed = if last.is_playing {
        now.at.saturating_duration_since(last.at).as_millis() as i64
    } else {
        0
    };
    let expected = i64::from(last.progress_ms) + elapsed;
    (i64::from(now.progress_ms) - expected).unsigned_abs() > SEEK_THRESHOLD.as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(track: &str, playing: bool, progress_ms: u32, at: Instant) -> Observation {
        Observation {
            track: Some(TrackId::new(track)),
            is_playing: playing,
            device: Some("d".into()),
            progress_ms,
            at,
        }
    }

    #[test]
    fn emits_on_changes_and_resync_only() {
        let t0 = Instant::now();
        let resync = Duration::from_secs(15);
        let mut tracker = PlaybackTracker::default();
        let s = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(
            tracker.observe(obs("a", true, 0, s(0)), resync),
            Change::Emit {
                track_changed: true
            }
        );
        // Normal progress: nothing.
        assert_eq!(
            tracker.observe(obs("a", true, 1000, s(1000)), resync),
            Change::None
        );
        assert_eq!(
            tracker.observe(obs("a", true, 2100, s(2000)), resync),
            Change::None
        );
        // Pause.
        assert_eq!(
            tracker.observe(obs("a", false, 2500, s(2500)), resync),
            Change::Emit {
                track_changed: false
            }
        );
        // Paused, progress still: nothing.
        assert_eq!(
            tracker.observe(obs("a", false, 2500, s(7500)), resync),
            Change::None
        );
        // Seek while paused.
        assert!(matches!(
            tracker.observe(obs("a", false, 60_000, s(8000)), resync),
            Change::Emit { .. }
        ));
        // Track change.
        assert_eq!(
            tracker.observe(obs("b", true, 0, s(9000)), resync),
            Change::Emit {
                track_changed: true
            }
        );
        // Resync after 15 s without change.
        assert_eq!(
            tracker.observe(obs("b", true, 10_000, s(19_000)), resync),
            Change::None
        );
        assert_eq!(
            tracker.observe(obs("b", true, 15_000, s(24_000)), resync),
            Change::Emit {
                track_changed: false
            }
        );
    }
}
