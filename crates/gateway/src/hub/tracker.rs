//! Deciding when the host's player changed enough to tell everyone, and what changed: track,
//! play/pause, device, volume, shuffle, repeat, or a seek (a progress jump beyond normal
//! drift), plus a periodic resync.

use std::time::{Duration, Instant};

use sesh_session::TrackId;
use sesh_spotify::RepeatState;

use crate::wire::PlaybackChange;

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
    /// The device's volume, when it reports one.
    pub volume_percent: Option<u32>,
    /// Spotify's own shuffle.
    pub shuffle: bool,
    /// Spotify's repeat mode.
    pub repeat: RepeatState,
    /// When it was observed.
    pub at: Instant,
}

/// What changed since the last observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing worth an event.
    None,
    /// Send a `playback` event saying what changed (empty: a periodic resync, or the first
    /// observation, which counts as a track change).
    Emit {
        /// What differs from the previous observation.
        changes: Vec<PlaybackChange>,
    },
    /// The answer contradicts Sesh's own command Spotify accepted a moment ago: ignored, the
    /// previous observation stands.
    Held,
}

impl Change {
    /// Whether the track differs from the previous observation.
    pub fn track_changed(&self) -> bool {
        matches!(self, Self::Emit { changes } if changes.contains(&PlaybackChange::Track))
    }
}

/// Remembers the last observation and when the last event went out.
#[derive(Debug, Default)]
pub struct PlaybackTracker {
    last: Option<Observation>,
    last_emit: Option<Instant>,
    /// Until then, an answer that contradicts what Sesh's own command made of the player is
    /// Spotify not showing it yet, not news (see [`PlaybackTracker::assume`]).
    assumed_until: Option<Instant>,
}

impl PlaybackTracker {
    /// Forgets everything (a new host, a restart of playback).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// The last observation (or assumption), if any.
    pub fn last(&self) -> Option<&Observation> {
        self.last.as_ref()
    }

    /// Records `now` and says whether to emit, and what changed.
    pub fn observe(&mut self, now: Observation, resync_every: Duration) -> Change {
        let change = match &self.last {
            None => Change::Emit {
                changes: vec![PlaybackChange::Track],
            },
            Some(last) => {
                let changes = changes(last, &now);
                if !changes.is_empty() && self.assumed_until.is_some_and(|until| now.at < until) {
                    // Spotify accepted the command but still shows the player before it: the
                    // next answer will tell (members keep what the command made).
                    return Change::Held;
                }
                if !changes.is_empty()
                    || self
                        .last_emit
                        .is_none_or(|t| now.at.saturating_duration_since(t) >= resync_every)
                {
                    Change::Emit { changes }
                } else {
                    Change::None
                }
            }
        };
        self.assumed_until = None;
        if matches!(change, Change::Emit { .. }) {
            self.last_emit = Some(now.at);
        }
        self.last = Some(now);
        change
    }

    /// Sesh's own command was accepted by Spotify: `assumed` is the player as it made it,
    /// taken as observed (members are told at once, the confirming poll is not news). Answers
    /// that contradict it before `grace_until` are held back as Spotify lagging. Returns what
    /// changed (nothing: no basis, or the command changed nothing).
    pub fn assume(&mut self, assumed: Observation, grace_until: Instant) -> Vec<PlaybackChange> {
        let Some(last) = &self.last else {
            return Vec::new();
        };
        let changes = changes(last, &assumed);
        if !changes.is_empty() {
            self.last_emit = Some(assumed.at);
            self.last = Some(assumed);
            self.assumed_until = Some(grace_until);
        }
        changes
    }
}

/// What differs between two observations.
fn changes(last: &Observation, now: &Observation) -> Vec<PlaybackChange> {
    [
        (last.track != now.track, PlaybackChange::Track),
        (last.is_playing != now.is_playing, PlaybackChange::PlayState),
        (last.device != now.device, PlaybackChange::Device),
        (
            last.volume_percent != now.volume_percent,
            PlaybackChange::Volume,
        ),
        (
            last.track == now.track && is_seek(last, now),
            PlaybackChange::Seek,
        ),
        (last.shuffle != now.shuffle, PlaybackChange::Shuffle),
        (last.repeat != now.repeat, PlaybackChange::Repeat),
    ]
    .into_iter()
    .filter_map(|(changed, what)| changed.then_some(what))
    .collect()
}

fn is_seek(last: &Observation, now: &Observation) -> bool {
    let expected = progress_after(
        last.progress_ms,
        last.is_playing,
        now.at.saturating_duration_since(last.at),
    );
    (i64::from(now.progress_ms) - expected).unsigned_abs() > SEEK_THRESHOLD.as_millis() as u64
}

/// Where a track observed at `progress_ms` is `elapsed` later: moved on while it plays, where
/// it was while paused (the one extrapolation of a player's position: the diff's, the poller's
/// schedule's and listen-along's).
pub fn progress_after(progress_ms: u32, playing: bool, elapsed: Duration) -> i64 {
    let moved = if playing {
        i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
    } else {
        0
    };
    i64::from(progress_ms).saturating_add(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use PlaybackChange::*;

    fn obs(track: &str, playing: bool, progress_ms: u32, at: Instant) -> Observation {
        Observation {
            track: Some(TrackId::new(track)),
            is_playing: playing,
            device: Some("d".into()),
            progress_ms,
            volume_percent: Some(50),
            shuffle: false,
            repeat: RepeatState::Off,
            at,
        }
    }

    fn emit(changes: &[PlaybackChange]) -> Change {
        Change::Emit {
            changes: changes.to_vec(),
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
            emit(&[Track])
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
            emit(&[PlayState])
        );
        // Paused, progress still: nothing.
        assert_eq!(
            tracker.observe(obs("a", false, 2500, s(7500)), resync),
            Change::None
        );
        // Seek while paused.
        assert_eq!(
            tracker.observe(obs("a", false, 60_000, s(8000)), resync),
            emit(&[Seek])
        );
        // Track change (not also a seek).
        assert_eq!(
            tracker.observe(obs("b", true, 0, s(9000)), resync),
            emit(&[Track, PlayState])
        );
        // Resync after 15 s without change.
        assert_eq!(
            tracker.observe(obs("b", true, 10_000, s(19_000)), resync),
            Change::None
        );
        assert_eq!(
            tracker.observe(obs("b", true, 15_000, s(24_000)), resync),
            emit(&[])
        );
    }

    #[test]
    fn volume_shuffle_repeat_and_device_are_each_named() {
        let t0 = Instant::now();
        let resync = Duration::from_secs(60);
        let mut tracker = PlaybackTracker::default();
        tracker.observe(obs("a", true, 0, t0), resync);
        let at = t0 + Duration::from_secs(1);
        let mut next = obs("a", true, 1000, at);
        next.volume_percent = Some(80);
        next.shuffle = true;
        next.repeat = RepeatState::Track;
        next.device = Some("kitchen".into());
        assert_eq!(
            tracker.observe(next, resync),
            emit(&[Device, Volume, Shuffle, Repeat])
        );
        assert!(!emit(&[Device]).track_changed());
        assert!(emit(&[Track]).track_changed());
    }

    #[test]
    fn an_assumed_command_is_news_once_and_a_lagging_answer_is_held() {
        let t0 = Instant::now();
        let resync = Duration::from_secs(60);
        let s = |ms| t0 + Duration::from_millis(ms);
        let mut tracker = PlaybackTracker::default();
        // Nothing to start from: nothing assumed.
        assert_eq!(tracker.assume(obs("a", false, 0, s(0)), s(2000)), vec![]);
        assert_eq!(tracker.last(), None);
        tracker.observe(obs("a", true, 0, s(0)), resync);
        // Sesh paused at 1 s: the change is told now.
        assert_eq!(
            tracker.assume(obs("a", false, 1000, s(1000)), s(3000)),
            vec![PlayState]
        );
        // Spotify still shows it playing: held, not news.
        assert_eq!(
            tracker.observe(obs("a", true, 1300, s(1300)), resync),
            Change::Held
        );
        // It shows the pause: confirmed, not news either.
        assert_eq!(
            tracker.observe(obs("a", false, 1000, s(1600)), resync),
            Change::None
        );
        // Once confirmed, a change is news again at once (the host resumed in their app).
        assert_eq!(
            tracker.observe(obs("a", true, 1000, s(1900)), resync),
            emit(&[PlayState])
        );
        // An assumption Spotify never shows: after the grace, its answer wins.
        tracker.assume(obs("a", false, 2000, s(2000)), s(4000));
        assert_eq!(
            tracker.observe(obs("a", true, 4100, s(4100)), resync),
            emit(&[PlayState])
        );
        // A command that changes nothing is nothing to tell.
        assert_eq!(
            tracker.assume(obs("a", true, 4200, s(4200)), s(6000)),
            vec![]
        );
        assert_eq!(
            tracker.observe(obs("a", false, 4300, s(4300)), resync),
            emit(&[PlayState]),
            "no grace without an assumption"
        );
    }
}
