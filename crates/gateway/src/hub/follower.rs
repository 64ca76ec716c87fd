//! Following the host's player: what each poll means for the session. A plain struct with no
//! I/O and no clock of its own (the observation carries its `Instant`): it decides whether to
//! tell everyone (and what changed), whether the queue's position moved, whether Spotify must
//! be given the session's remaining queue again, and whether the host took their player over
//! (played something else, or the device disappeared) — from then on the session stops
//! steering Spotify until the host resumes.
//!
//! (About half of this file is its unit tests.)

use std::time::{Duration, Instant};

use sesh_session::{QueueEntry, Session, SessionState, TrackId};
use sesh_spotify::{PlaybackState, RepeatState, SpotifyError};

use super::HubError;

use super::tracker::{Change, Observation, PlaybackTracker};
use sesh_session::Track;

use crate::wire::{
    PlaybackChange, SpotifyState, SpotifyStatus, TakeOverReason, track_from_spotify,
};

/// Consecutive empty player answers (no device, nothing loaded) before the follower concludes
/// the session's playback is gone; one is tolerated because Spotify may briefly answer 204
/// right after a `play` or a device switch.
pub const EMPTY_POLLS_FOR_TAKEOVER: u32 = 2;

/// Why the session stopped steering the host's player.
pub type TakeOver = TakeOverReason;

/// What members see while the host has taken over.
fn take_over_status(reason: TakeOver) -> SpotifyStatus {
    let message = match reason {
        TakeOver::ForeignPlayback => {
            "the host is playing something else in Spotify; the host can resume the session"
        }
        TakeOver::PlaybackGone => {
            "the session's device stopped playing; the host can resume on a device"
        }
    };
    SpotifyStatus {
        state: SpotifyState::HostTookOver,
        retry_after_s: None,
        reason: Some(reason),
        message: message.to_owned(),
    }
}

/// What a poll means for the session.
#[derive(Debug, Clone, PartialEq)]
pub struct Followed {
    /// The track playing, as the session shows it.
    pub track: Option<Track>,
    /// Move the session's now-playing position here (the player moved on).
    pub move_to: Option<usize>,
    /// Give Spotify the session's queue from this index (a pending re-sync at a track
    /// boundary), starting `position_ms` into it when it is the track that plays now.
    pub replay: Option<Replay>,
    /// Tell everyone, with what changed; `None`: not worth an event.
    pub emit: Option<Vec<PlaybackChange>>,
    /// Queue index of what plays (after `move_to`), when it is from the queue.
    pub position: Option<usize>,
}

/// Re-issue `play` with the remaining queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replay {
    /// First queue index to play.
    pub from: usize,
    /// Where in that track to start (it is already playing).
    pub position_ms: Option<u32>,
}

/// The follower of one session's player.
#[derive(Debug, Default)]
pub struct Follower {
    tracker: PlaybackTracker,
    took_over: Option<TakeOver>,
    /// Consecutive empty player answers (see [`EMPTY_POLLS_FOR_TAKEOVER`]).
    empty_polls: u32,
    /// The upcoming part of the queue changed while Spotify still has the old list: what
    /// Spotify will play next from the old list (a natural advance looks like this). At the
    /// next track boundary Spotify gets the new remaining queue.
    resync: Option<Option<TrackId>>,
}

impl Follower {
    /// Starts over: the session (re)started or resumed on a device it now steers.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Forgets the last observation (a new poller: its first answer is news again).
    pub fn forget_observation(&mut self) {
        self.tracker.reset();
    }

    /// Whether the host took their player over.
    pub fn took_over(&self) -> bool {
        self.took_over.is_some()
    }

    /// The session's link to Spotify as the follower sees it.
    pub fn status(&self) -> SpotifyStatus {
        self.took_over
            .map_or_else(SpotifyStatus::ok, take_over_status)
    }

    /// The upcoming part of the queue changed (a late joiner, a reshuffle) while Spotify plays
    /// the old list, whose next track is `old_next`: Spotify gets the new remaining queue at
    /// the next track boundary, so nothing is cut. Nothing to do while the host took over
    /// (a resume sends the whole remaining queue anyway).
    pub fn queue_changed(&mut self, old_next: Option<TrackId>) {
        if self.took_over.is_none() && self.resync.is_none() {
            self.resync = Some(old_next);
        }
    }

    /// What the player's `state`, observed at `at`, means for `session`.
    pub fn observe(
        &mut self,
        session: &Session,
        state: Option<&PlaybackState>,
        at: Instant,
        resync_every: Duration,
    ) -> Followed {
        let track = state
            .and_then(|s| s.item.as_ref())
            .and_then(|i| i.as_track())
            .and_then(track_from_spotify);
        let observation = Observation {
            track: track.as_ref().map(|t| t.id.clone()),
            is_playing: state.is_some_and(|s| s.is_playing),
            device: state
                .and_then(|s| s.device.as_ref())
                .and_then(|d| d.id.clone()),
            progress_ms: state.and_then(|s| s.progress_ms).unwrap_or(0),
            volume_percent: state
                .and_then(|s| s.device.as_ref())
                .and_then(|d| d.volume_percent),
            shuffle: state.is_some_and(|s| s.shuffle_state),
            repeat: state.map_or(RepeatState::Off, |s| s.repeat_state),
            at,
        };
        let change = self.tracker.observe(observation.clone(), resync_every);
        self.detect_take_over(
            session,
            state.is_some_and(|s| s.item.is_some()),
            observation.track.as_ref(),
        );
        let (mut move_to, mut replay) = (None, None);
        if self.took_over.is_none()
            && change.track_changed()
            && let Some(id) = &observation.track
        {
            (move_to, replay) = self.follow(session, id, observation.progress_ms);
        }
        // The session's current entry when it is the one playing (always so after following),
        // else wherever the track is in the queue.
        let current = move_to.unwrap_or(session.position());
        let position = observation.track.as_ref().and_then(|id| {
            let queue = session.queue();
            Some(current)
                .filter(|p| queue.get(*p).is_some_and(|e| e.track.id == *id))
                .or_else(|| find_in_queue(queue, current, id))
        });
        Followed {
            track,
            move_to,
            replay,
            emit: match change {
                Change::Emit { changes } => Some(changes),
                Change::None => None,
            },
            position,
        }
    }

    /// Notices the host taking their player over: something that is not in the session's queue
    /// plays, or the player stays empty (device gone).
    fn detect_take_over(&mut self, session: &Session, has_item: bool, track: Option<&TrackId>) {
        if self.took_over.is_some() || session.state() != SessionState::Playing {
            return;
        }
        let reason = match (has_item, track) {
            // Nothing loaded (204: no active device) or no item.
            (false, _) => {
                self.empty_polls += 1;
                (self.empty_polls >= EMPTY_POLLS_FOR_TAKEOVER).then_some(TakeOver::PlaybackGone)
            }
            (true, Some(id)) if session.queue().iter().any(|e| e.track.id == *id) => {
                self.empty_polls = 0;
                None
            }
            // A track outside the queue, an episode or a local file: not ours.
            (true, _) => Some(TakeOver::ForeignPlayback),
        };
        if let Some(reason) = reason {
            tracing::info!(session = %session.id(), ?reason, "the host took over playback; the session stops steering Spotify");
            self.took_over = Some(reason);
            self.resync = None;
        }
    }

    /// Where the session's position goes now that the player plays `id`, and whether Spotify
    /// must get the new remaining queue (after a change of the upcoming part: the track that
    /// was playing has finished, nothing is cut).
    fn follow(
        &mut self,
        session: &Session,
        id: &TrackId,
        progress_ms: u32,
    ) -> (Option<usize>, Option<Replay>) {
        if session.state() != SessionState::Playing {
            return (None, None);
        }
        let queue = session.queue();
        let position = session.position();
        if queue.get(position).is_some_and(|e| e.track.id == *id) {
            return (None, None); // still the current entry (first observation, or a restart)
        }
        let target = match &self.resync {
            Some(old_next) if old_next.as_ref() == Some(id) => {
                (position + 1 < queue.len()).then_some(position + 1)
            }
            _ => find_in_queue(queue, position, id),
        };
        let Some(target) = target else {
            return (None, None);
        };
        let replay = self.resync.take().map(|_| Replay {
            from: target,
            position_ms: (queue[target].track.id == *id).then_some(progress_ms),
        });
        (Some(target), replay)
    }
}

/// The queue entry playing `id`: the next one first (the usual advance), then later ones,
/// then earlier ones (the host went back), then the current one.
pub fn find_in_queue(queue: &[QueueEntry], position: usize, id: &TrackId) -> Option<usize> {
    let matches = |i: &usize| queue.get(*i).is_some_and(|e| e.track.id == *id);
    (position + 1..queue.len())
        .find(matches)
        .or_else(|| (0..position).rev().find(matches))
        .or_else(|| Some(position).filter(matches))
}

/// The session's link to Spotify after a failed poll or call: Spotify's answer when there is
/// one; anything else (the host's stored credentials could not be read) is "not answering",
/// never "log in again".
pub fn status_for_error(error: &HubError) -> SpotifyStatus {
    let HubError::Spotify(error) = error else {
        return unavailable();
    };
    match error {
        SpotifyError::RateLimited { retry_after, .. } => {
            let secs = retry_after.as_secs_f64().ceil() as u64;
            SpotifyStatus {
                state: SpotifyState::RateLimited,
                retry_after_s: Some(secs),
                reason: None,
                message: format!("Spotify is busy, retrying in {secs} s"),
            }
        }
        SpotifyError::ReauthRequired | SpotifyError::Unauthorized { .. } => SpotifyStatus {
            state: SpotifyState::ReauthRequired,
            retry_after_s: None,
            reason: None,
            message: "the host must log in to Spotify again".to_owned(),
        },
        _ => unavailable(),
    }
}

fn unavailable() -> SpotifyStatus {
    SpotifyStatus {
        state: SpotifyState::Unavailable,
        retry_after_s: None,
        reason: None,
        message: "Spotify is not answering; retrying".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rand::{SeedableRng, rngs::StdRng};
    use serde_json::json;
    use sesh_session::{DeviceId, InviteCode, NewMember, SessionId, Settings, TrackUri, UserId};

    use super::*;

    const RESYNC: Duration = Duration::from_secs(60);

    fn track(id: &str) -> Arc<sesh_session::Track> {
        let track_id = TrackId::new(id);
        Arc::new(sesh_session::Track {
            uri: TrackUri::for_track(&track_id),
            id: track_id,
            name: id.into(),
            artists: vec!["A".into()],
            album: "B".into(),
            image_url: None,
            duration_ms: 200_000,
        })
    }

    /// A playing session whose queue is alice's five tracks t0..t4.
    fn playing() -> Session {
        let mut rng = StdRng::seed_from_u64(7);
        let tracks = (0..5).map(|i| track(&format!("t{i}"))).collect();
        let host = NewMember::new(UserId::new("alice"), "Alice", tracks);
        let mut session = Session::new(
            SessionId::new_v4(),
            InviteCode::generate(&mut rng),
            host,
            0,
            Settings::default(),
        );
        session
            .start(&UserId::new("alice"), DeviceId::new("laptop"), &mut rng)
            .unwrap();
        session
    }

    fn state(track_id: Option<&str>, playing: bool, progress_ms: u32) -> PlaybackState {
        serde_json::from_value(json!({
            "device": {"id": "laptop", "name": "Laptop", "type": "Computer", "volume_percent": 40,
                       "is_active": true, "is_restricted": false, "is_private_session": false,
                       "supports_volume": true},
            "is_playing": playing,
            "progress_ms": progress_ms,
            "timestamp": 0,
            "shuffle_state": false,
            "repeat_state": "off",
            "currently_playing_type": "track",
            "item": track_id.map(|id| json!({
                "type": "track", "id": id, "uri": format!("spotify:track:{id}"), "name": id,
                "duration_ms": 200000, "artists": [{"name": "A"}], "album": {"name": "B", "images": []}
            })),
        }))
        .unwrap()
    }

    fn id_at(session: &Session, index: usize) -> String {
        session.queue()[index].track.id.to_string()
    }

    #[test]
    fn the_first_poll_is_news_and_normal_progress_is_not() {
        let session = playing();
        let mut follower = Follower::default();
        let t0 = Instant::now();
        let first = id_at(&session, 0);
        let followed = follower.observe(&session, Some(&state(Some(&first), true, 0)), t0, RESYNC);
        assert_eq!(followed.emit, Some(vec![PlaybackChange::Track]));
        assert_eq!(followed.move_to, None, "already the current entry");
        assert_eq!(followed.position, Some(0));
        let later = t0 + Duration::from_secs(1);
        let followed = follower.observe(
            &session,
            Some(&state(Some(&first), true, 1000)),
            later,
            RESYNC,
        );
        assert_eq!(followed.emit, None);
        assert!(!follower.took_over());
    }

    #[test]
    fn a_natural_advance_moves_the_position_to_the_next_entry() {
        let session = playing();
        let mut follower = Follower::default();
        let t0 = Instant::now();
        follower.observe(
            &session,
            Some(&state(Some(&id_at(&session, 0)), true, 0)),
            t0,
            RESYNC,
        );
        let next = id_at(&session, 1);
        let followed = follower.observe(
            &session,
            Some(&state(Some(&next), true, 300)),
            t0 + Duration::from_secs(200),
            RESYNC,
        );
        assert_eq!(followed.move_to, Some(1));
        assert_eq!(followed.position, Some(1));
        assert_eq!(followed.replay, None, "nothing pending");
        assert!(followed.emit.unwrap().contains(&PlaybackChange::Track));
    }

    #[test]
    fn a_changed_upcoming_queue_is_replayed_at_the_next_boundary_only() {
        let session = playing();
        let mut follower = Follower::default();
        let t0 = Instant::now();
        follower.observe(
            &session,
            Some(&state(Some(&id_at(&session, 0)), true, 0)),
            t0,
            RESYNC,
        );
        // Spotify still has the old list, whose next track is now the fourth entry.
        let old_next = id_at(&session, 3);
        follower.queue_changed(Some(TrackId::new(old_next.clone())));
        let followed = follower.observe(
            &session,
            Some(&state(Some(&old_next), true, 120)),
            t0 + Duration::from_secs(200),
            RESYNC,
        );
        assert!(
            !follower.took_over(),
            "a track of the queue is no take-over"
        );
        assert_eq!(followed.move_to, Some(1), "the next entry of the new order");
        assert_eq!(
            followed.replay,
            Some(Replay {
                from: 1,
                position_ms: None
            }),
            "the old list's next is not what the new order plays there: start from the beginning"
        );
        // Once only.
        let again = follower.observe(
            &session,
            Some(&state(Some(&id_at(&session, 2)), true, 0)),
            t0 + Duration::from_secs(400),
            RESYNC,
        );
        assert_eq!(again.replay, None);
    }

    #[test]
    fn foreign_playback_and_an_empty_player_are_take_overs() {
        let session = playing();
        let t0 = Instant::now();
        let mut follower = Follower::default();
        follower.observe(
            &session,
            Some(&state(Some(&id_at(&session, 0)), true, 0)),
            t0,
            RESYNC,
        );
        follower.queue_changed(None);
        let followed = follower.observe(
            &session,
            Some(&state(Some("podcast-ish"), true, 0)),
            t0 + Duration::from_secs(5),
            RESYNC,
        );
        assert!(follower.took_over());
        assert_eq!(follower.status().state, SpotifyState::HostTookOver);
        assert_eq!(follower.status().reason, Some(TakeOver::ForeignPlayback));
        assert_eq!(followed.move_to, None, "no following while taken over");
        assert_eq!(followed.position, None);
        // Back to a queue track: still taken over until the host resumes.
        let back = follower.observe(
            &session,
            Some(&state(Some(&id_at(&session, 3)), true, 0)),
            t0 + Duration::from_secs(10),
            RESYNC,
        );
        assert_eq!(back.move_to, None);
        assert_eq!(back.replay, None, "the pending resync was dropped");
        follower.reset();
        assert_eq!(follower.status(), SpotifyStatus::ok());

        // One empty answer is tolerated, two are a take-over.
        let mut follower = Follower::default();
        follower.observe(&session, None, t0, RESYNC);
        assert!(!follower.took_over());
        follower.observe(&session, None, t0 + Duration::from_secs(1), RESYNC);
        assert!(follower.took_over());
    }

    #[test]
    fn a_failed_call_says_log_in_again_only_when_spotify_said_so() {
        let reauth = status_for_error(&HubError::Spotify(SpotifyError::ReauthRequired));
        assert_eq!(reauth.state, SpotifyState::ReauthRequired);
        // The host's stored credentials could not be read: not the host's doing.
        let storage = status_for_error(&HubError::Storage(crate::db::DbError::Corrupt(
            "unreadable".into(),
        )));
        assert_eq!(storage.state, SpotifyState::Unavailable);
        let limited = status_for_error(&HubError::Spotify(SpotifyError::RateLimited {
            retry_after: Duration::from_millis(1500),
            quota_exceeded: false,
        }));
        assert_eq!(
            (limited.state, limited.retry_after_s),
            (SpotifyState::RateLimited, Some(2))
        );
    }

    #[test]
    fn finds_the_next_entry_first_then_earlier_ones() {
        let session = playing();
        let queue = session.queue();
        let id = |i: usize| queue[i].track.id.clone();
        assert_eq!(find_in_queue(queue, 0, &id(1)), Some(1));
        assert_eq!(find_in_queue(queue, 3, &id(0)), Some(0));
        assert_eq!(find_in_queue(queue, 2, &id(2)), Some(2));
        assert_eq!(find_in_queue(queue, 0, &TrackId::new("z")), None);
    }
}
