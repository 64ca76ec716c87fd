//! Following the host's player: what each poll means for the session. A plain struct with no
//! I/O and no clock of its own (the observation carries its `Instant`): it decides whether to
//! tell everyone (and what changed), whether the queue's position moved, when the next entry
//! goes to Spotify's queue (and when Spotify must get it with `PUT play` instead), and whether the host took their player over
//! (played something else, or the device disappeared) — from then on the session stops
//! steering Spotify until the host resumes.
//!
//! (About half of this file is its unit tests.)

use std::time::{Duration, Instant};

use sesh_session::{QueueEntry, QueueEntryId, Session, SessionState, TrackId};
use sesh_spotify::{PlaybackState, RepeatState, SpotifyError};

use super::HubError;

use super::tracker::{Change, Observation, PlaybackTracker, progress_after};

use crate::wire::{PlaybackChange, SpotifyState, SpotifyStatus, TakeOverReason};

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

/// How long before the playing track ends the next entry is handed to Spotify's queue: late,
/// so votes and adds still count, early enough that a poll a second lands inside it.
pub const COMMIT_LEAD_MS: u32 = 15_000;

/// How long after Sesh's own command Spotify accepted an answer that contradicts it counts as
/// Spotify lagging behind its own acceptance (real Spotify shows a command within a few hundred
/// milliseconds), not as news.
pub const ASSUME_GRACE: Duration = Duration::from_secs(2);

/// What Sesh's own command, accepted by Spotify, made of the player: members are told at once
/// and the confirming poll is not news ([`Follower::assume`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assumed {
    /// Playing (resumed) or paused.
    Playing(bool),
    /// Sought to this position.
    Position(u32),
    /// The device's volume.
    Volume(u32),
    /// Repeat mode.
    Repeat(RepeatState),
    /// Skipped forward to the entry handed to Spotify's queue (the session's next one).
    Skipped(TrackId),
}

/// What a poll means for the session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Followed {
    /// The answer contradicts Sesh's own command Spotify accepted a moment ago (it lags):
    /// nothing else here applies, and what members saw stands.
    pub held: bool,
    /// Move the session's now-playing position here (the player moved on).
    pub move_to: Option<usize>,
    /// Give Spotify this queue entry with `PUT play` (the fallback: the entry committed to
    /// Spotify's queue was removed or moved away, or playback stopped at a track's end with
    /// nothing committed).
    pub replay: Option<Replay>,
    /// Hand this entry (the one after the playing one) to Spotify's queue now.
    pub commit: Option<QueueEntryId>,
    /// Tell everyone, with what changed; `None`: not worth an event.
    pub emit: Option<Vec<PlaybackChange>>,
    /// Queue index of what plays (after `move_to`), when it is from the queue.
    pub position: Option<usize>,
}

/// Re-issue `play` with one entry of the queue, from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replay {
    /// The queue index to play.
    pub from: usize,
}

/// The follower of one session's player.
///
/// How Sesh feeds Spotify: `PUT play` with one track (the playing entry), and the next entry
/// handed to Spotify's own queue (`POST /me/player/queue`) [`COMMIT_LEAD_MS`] before the
/// playing one ends, so Spotify's own transition has no gap and the order stays Sesh's until
/// the last moment. The follower decides when to commit, notices when the committed track
/// plays (the session moves on), and falls back to `PUT play` when Spotify is about to play
/// something the session no longer wants there.
#[derive(Debug, Default)]
pub struct Follower {
    tracker: PlaybackTracker,
    took_over: Option<TakeOver>,
    /// Consecutive empty player answers (see [`EMPTY_POLLS_FOR_TAKEOVER`]).
    empty_polls: u32,
    /// The entry handed to Spotify's queue and its track, until Spotify plays it.
    pending: Option<(QueueEntryId, TrackId)>,
    /// A commit call is on its way to Spotify.
    committing: bool,
    /// The position whose track ended with nothing committed, already replayed from.
    replayed_after: Option<usize>,
}

impl Follower {
    /// Starts over: the session (re)started or resumed on a device it now steers (a `PUT
    /// play` of one track: whatever Spotify had queued before is no longer expected).
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

    /// A commit call for `entry` is on its way (no second one until it answers).
    pub fn committing(&mut self) {
        self.committing = true;
    }

    /// Spotify's queue has `entry` (playing `track`) now: it plays next.
    pub fn committed(&mut self, entry: QueueEntryId, track: TrackId) {
        self.committing = false;
        self.pending = Some((entry, track));
    }

    /// The commit call failed: the next poll may try again.
    pub fn commit_failed(&mut self) {
        self.committing = false;
    }

    /// Whether an entry is in Spotify's queue (or on its way there).
    pub fn has_pending(&self) -> bool {
        self.pending.is_some() || self.committing
    }

    /// Sesh's own command was accepted by Spotify at `at`: the player as it made it is taken as
    /// observed. Returns what changed for members (`None`: nothing, or nothing to start from:
    /// no observation yet, or the host took over). A skip forward also ends the wait for the
    /// entry handed to Spotify's queue: it plays now.
    pub fn assume(&mut self, assumed: &Assumed, at: Instant) -> Option<Vec<PlaybackChange>> {
        if self.took_over.is_some() {
            return None;
        }
        let mut next = self.tracker.last()?.clone();
        let progress = progress_after(
            next.progress_ms,
            next.is_playing,
            at.saturating_duration_since(next.at),
        );
        next.progress_ms = u32::try_from(progress.max(0)).unwrap_or(u32::MAX);
        next.at = at;
        match assumed {
            Assumed::Playing(playing) => next.is_playing = *playing,
            Assumed::Position(ms) => next.progress_ms = *ms,
            Assumed::Volume(percent) => next.volume_percent = Some(*percent),
            Assumed::Repeat(state) => next.repeat = *state,
            Assumed::Skipped(track) => {
                if self.pending.as_ref().is_some_and(|(_, t)| t == track) {
                    self.pending = None;
                }
                next.track = Some(track.clone());
                next.progress_ms = 0;
                next.is_playing = true;
            }
        }
        let changes = self.tracker.assume(next, at + ASSUME_GRACE);
        (!changes.is_empty()).then_some(changes)
    }

    /// The entry handed to Spotify's queue, if Spotify has it.
    pub fn pending(&self) -> Option<&(QueueEntryId, TrackId)> {
        self.pending.as_ref()
    }

    /// The entry to hand Spotify now, with the playing track (the session's current entry)
    /// `remaining_ms` from its end: the next one, once the track is inside the commit window,
    /// unless Spotify repeats the track (Spotify would hold the commit too, but votes stay live
    /// longer this way) or an entry is handed already.
    fn to_commit(
        &self,
        session: &Session,
        repeat: RepeatState,
        remaining_ms: i64,
    ) -> Option<QueueEntryId> {
        (repeat == RepeatState::Off
            && remaining_ms <= i64::from(COMMIT_LEAD_MS)
            && !self.has_pending()
            && session.committed().is_none())
        .then(|| session.next_entry().map(|e| e.id))
        .flatten()
    }

    /// The poller could not afford the poll whose answer would hand Spotify the next entry (the
    /// app's budget is short): the entry to hand it now, from the last answer predicted to
    /// `now`, under the rules an answer inside the commit window would meet (the session steers
    /// a playing player on its current entry). Spotify plays a queued track after whatever
    /// plays then, so a prediction gone stale (the host skipped in their own app) costs at most
    /// an early commit, never a gap.
    pub fn commit_due(&self, session: &Session, now: Instant) -> Option<QueueEntryId> {
        let last = self.tracker.last()?;
        let current = session.queue().get(session.position())?;
        if self.took_over.is_some()
            || session.state() != SessionState::Playing
            || !last.is_playing
            || last.track.as_ref() != Some(&current.track.id)
        {
            return None;
        }
        let progress = progress_after(
            last.progress_ms,
            true,
            now.saturating_duration_since(last.at),
        );
        let remaining = i64::from(current.track.duration_ms).saturating_sub(progress);
        self.to_commit(session, last.repeat, remaining)
    }

    /// What the player's `state`, observed at `at`, means for `session`.
    pub fn observe(
        &mut self,
        session: &Session,
        state: Option<&PlaybackState>,
        at: Instant,
        resync_every: Duration,
    ) -> Followed {
        // Only the id and the length: the track itself is built when members are told.
        let item = state
            .and_then(|s| s.item.as_ref())
            .and_then(|i| i.as_track());
        let observation = Observation {
            track: item.and_then(|t| t.id.as_deref()).map(TrackId::new),
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
        if change == Change::Held {
            return Followed {
                held: true,
                ..Followed::default()
            };
        }
        self.detect_take_over(
            session,
            state.is_some_and(|s| s.item.is_some()),
            observation.track.as_ref(),
        );
        let (mut move_to, mut replay, mut commit) = (None, None, None);
        let steering = self.took_over.is_none() && session.state() == SessionState::Playing;
        if steering
            && change.track_changed()
            && let Some(id) = &observation.track
        {
            (move_to, replay) = self.follow(session, id);
        }
        let current = session.queue().get(session.position());
        let on_current = current.is_some_and(|e| observation.track.as_ref() == Some(&e.track.id));
        if steering && move_to.is_none() && replay.is_none() && on_current {
            let duration = item.map_or(0, |t| t.duration_ms);
            let remaining = duration.saturating_sub(observation.progress_ms);
            let next = session.next_entry();
            if observation.is_playing {
                self.replayed_after = None;
                commit = self.to_commit(session, observation.repeat, i64::from(remaining));
            } else if remaining <= 2_000
                && duration > 0
                && !self.has_pending()
                && next.is_some()
                && self.replayed_after != Some(session.position())
            {
                // Stopped at the end with nothing in Spotify's queue (a commit missed or
                // failed, or the host pressed Next in their own app): play the next entry.
                self.replayed_after = Some(session.position());
                replay = Some(Replay {
                    from: session.position() + 1,
                });
            }
        }
        // The stop a replay is about to end is not news: members see the next entry instead
        // (and a `playback` frame now would only delay that one behind its own fan-out).
        let ending = replay.is_some() && move_to.is_none();
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
            held: false,
            move_to,
            replay,
            commit,
            emit: match change {
                Change::Emit { changes } if !ending => Some(changes),
                Change::Emit { .. } | Change::None | Change::Held => None,
            },
            position,
        }
    }

    /// Notices the host taking their player over: something that is not in the session's queue
    /// (nor the track Sesh handed to Spotify's queue) plays, or the player stays empty (device
    /// gone).
    fn detect_take_over(&mut self, session: &Session, has_item: bool, track: Option<&TrackId>) {
        if self.took_over.is_some() || session.state() != SessionState::Playing {
            return;
        }
        let ours = |id: &TrackId| {
            self.pending.as_ref().is_some_and(|(_, t)| t == id)
                || session.queue().iter().any(|e| e.track.id == *id)
        };
        let reason = match (has_item, track) {
            // Nothing loaded (204: no active device) or no item.
            (false, _) => {
                self.empty_polls += 1;
                (self.empty_polls >= EMPTY_POLLS_FOR_TAKEOVER).then_some(TakeOver::PlaybackGone)
            }
            (true, Some(id)) if ours(id) => {
                self.empty_polls = 0;
                None
            }
            // A track outside the queue, an episode or a local file: not ours.
            (true, _) => Some(TakeOver::ForeignPlayback),
        };
        if let Some(reason) = reason {
            tracing::info!(session = %session.id(), ?reason, "the host took over playback; the session stops steering Spotify");
            self.took_over = Some(reason);
            self.pending = None;
        }
    }

    /// Where the session's position goes now that the player plays `id`, and whether Spotify
    /// must be given the next entry instead (the committed one was removed or moved).
    fn follow(&mut self, session: &Session, id: &TrackId) -> (Option<usize>, Option<Replay>) {
        let queue = session.queue();
        let position = session.position();
        if queue.get(position).is_some_and(|e| e.track.id == *id) {
            return (None, None); // still the current entry (first observation, or a restart)
        }
        let next = position + 1;
        if let Some((entry, _)) = self.pending.take_if(|(_, track)| track == id) {
            // Spotify plays what Sesh handed it: normally the next entry.
            if queue.get(next).is_some_and(|e| e.id == entry) {
                return (Some(next), None);
            }
            // It left the queue (or moved) since: the session plays its next entry instead.
            return match queue.get(next) {
                Some(_) => (Some(next), Some(Replay { from: next })),
                None => (None, None),
            };
        }
        (find_in_queue(queue, position, id), None)
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
        assert_eq!(followed.replay, None, "nothing to fix");
        assert!(followed.emit.unwrap().contains(&PlaybackChange::Track));
    }

    #[test]
    fn the_next_entry_is_committed_late_once_and_followed_when_it_plays() {
        let session = playing();
        let mut follower = Follower::default();
        let t0 = Instant::now();
        let first = id_at(&session, 0);
        let at = |secs| t0 + Duration::from_secs(secs);
        let early = follower.observe(
            &session,
            Some(&state(Some(&first), true, 180_000)),
            at(0),
            RESYNC,
        );
        assert_eq!(early.commit, None, "20 s left: votes still count");
        let due = follower.observe(
            &session,
            Some(&state(Some(&first), true, 186_000)),
            at(6),
            RESYNC,
        );
        let next = session.queue()[1].id;
        assert_eq!(
            due.commit,
            Some(next),
            "14 s left: hand the next entry to Spotify"
        );
        follower.committing();
        let again = follower.observe(
            &session,
            Some(&state(Some(&first), true, 187_000)),
            at(7),
            RESYNC,
        );
        assert_eq!(again.commit, None, "one commit at a time");
        follower.committed(next, session.queue()[1].track.id.clone());
        let played = follower.observe(
            &session,
            Some(&state(Some(&id_at(&session, 1)), true, 500)),
            at(21),
            RESYNC,
        );
        assert_eq!(
            (played.move_to, played.replay),
            (Some(1), None),
            "Spotify's own transition"
        );
        assert!(!follower.has_pending());
    }

    #[test]
    fn a_commit_the_budget_could_not_poll_for_is_handed_from_the_prediction() {
        let session = playing();
        let mut follower = Follower::default();
        let t0 = Instant::now();
        let at = |secs| t0 + Duration::from_secs(secs);
        assert_eq!(follower.commit_due(&session, t0), None, "nothing seen yet");
        let first = id_at(&session, 0);
        let followed = follower.observe(
            &session,
            Some(&state(Some(&first), true, 100_000)),
            t0,
            RESYNC,
        );
        assert_eq!(followed.commit, None, "100 s left");
        // 100 s later the prediction has 0..15 s left: due; before that, not.
        assert_eq!(follower.commit_due(&session, at(84)), None, "16 s left");
        let next = session.next_entry().unwrap().id;
        assert_eq!(follower.commit_due(&session, at(88)), Some(next));
        follower.committing();
        assert_eq!(
            follower.commit_due(&session, at(89)),
            None,
            "on its way already"
        );
        follower.commit_failed();
        assert_eq!(
            follower.commit_due(&session, at(89)),
            Some(next),
            "failed: due again"
        );

        // Paused (as last seen), repeating, or the host took over: nothing is due.
        let mut paused = Follower::default();
        paused.observe(
            &session,
            Some(&state(Some(&first), false, 195_000)),
            t0,
            RESYNC,
        );
        assert_eq!(paused.commit_due(&session, at(1)), None);
        let mut repeating = Follower::default();
        let mut looped = state(Some(&first), true, 100_000);
        looped.repeat_state = RepeatState::Track;
        repeating.observe(&session, Some(&looped), t0, RESYNC);
        assert_eq!(repeating.commit_due(&session, at(90)), None);
        let mut foreign = Follower::default();
        foreign.observe(
            &session,
            Some(&state(Some("elsewhere"), true, 100_000)),
            t0,
            RESYNC,
        );
        assert_eq!(foreign.commit_due(&session, at(90)), None);
    }

    #[test]
    fn sesh_own_skip_and_pause_are_taken_as_seen_and_a_lagging_answer_changes_nothing() {
        let mut session = playing();
        let mut follower = Follower::default();
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let first = id_at(&session, 0);
        // Nothing seen yet: nothing to assume from.
        assert_eq!(follower.assume(&Assumed::Playing(false), t0), None);
        follower.observe(&session, Some(&state(Some(&first), true, 0)), t0, RESYNC);
        assert_eq!(
            follower.assume(&Assumed::Playing(false), at(1)),
            Some(vec![PlaybackChange::PlayState])
        );
        // Spotify still plays a moment later: held, nothing moves.
        let lagging = follower.observe(
            &session,
            Some(&state(Some(&first), true, 1_300)),
            at(1) + Duration::from_millis(300),
            RESYNC,
        );
        assert!(lagging.held);
        assert_eq!((lagging.emit, lagging.move_to), (None, None));
        // The pause shows: confirmed, not news.
        let confirmed = follower.observe(
            &session,
            Some(&state(Some(&first), false, 1_000)),
            at(2),
            RESYNC,
        );
        assert!(!confirmed.held);
        assert_eq!(confirmed.emit, None);
        // Sesh's skip forward with the next entry in Spotify's queue: the next track, at once.
        let (entry, track) = (session.queue()[1].id, session.queue()[1].track.id.clone());
        follower.committed(entry, track.clone());
        assert_eq!(
            follower.assume(&Assumed::Skipped(track.clone()), at(3)),
            Some(vec![PlaybackChange::Track, PlaybackChange::PlayState])
        );
        assert!(!follower.has_pending(), "it plays now");
        session.move_to(1).unwrap();
        // Spotify still shows the old track: held (the session does not go back).
        let lagging = follower.observe(
            &session,
            Some(&state(Some(&first), false, 1_000)),
            at(3) + Duration::from_millis(300),
            RESYNC,
        );
        assert!(lagging.held);
        assert_eq!(lagging.move_to, None);
        // It plays the next track: confirmed, no second move, no take-over.
        let confirmed = follower.observe(
            &session,
            Some(&state(Some(track.as_str()), true, 700)),
            at(4),
            RESYNC,
        );
        assert_eq!((confirmed.emit, confirmed.move_to), (None, None));
        assert_eq!(confirmed.position, Some(1));
        assert!(!follower.took_over());
    }

    #[test]
    fn a_committed_entry_that_left_the_queue_is_replaced_by_the_next_one() {
        let mut session = playing();
        let mut follower = Follower::default();
        let t0 = Instant::now();
        let first = id_at(&session, 0);
        follower.observe(
            &session,
            Some(&state(Some(&first), true, 190_000)),
            t0,
            RESYNC,
        );
        let (entry, track) = (session.queue()[1].id, session.queue()[1].track.id.clone());
        follower.committed(entry, track.clone());
        session.remove_entry(&UserId::new("alice"), entry).unwrap();
        let followed = follower.observe(
            &session,
            Some(&state(Some(track.as_str()), true, 300)),
            t0 + Duration::from_secs(12),
            RESYNC,
        );
        assert!(!follower.took_over(), "Sesh put that track there itself");
        assert_eq!(followed.move_to, Some(1));
        assert_eq!(followed.replay, Some(Replay { from: 1 }));
    }

    #[test]
    fn a_track_that_ended_with_nothing_committed_is_followed_by_play_once() {
        let session = playing();
        let mut follower = Follower::default();
        let t0 = Instant::now();
        let first = id_at(&session, 0);
        let ended = follower.observe(
            &session,
            Some(&state(Some(&first), false, 200_000)),
            t0,
            RESYNC,
        );
        assert_eq!(ended.replay, Some(Replay { from: 1 }));
        assert_eq!(ended.commit, None);
        assert_eq!(ended.emit, None, "the stop being fixed is not announced");
        let still = follower.observe(
            &session,
            Some(&state(Some(&first), false, 200_000)),
            t0 + Duration::from_secs(1),
            RESYNC,
        );
        assert_eq!(still.replay, None, "once per track");
        // Paused in the middle is a pause, not an end.
        let mut follower = Follower::default();
        let paused = follower.observe(
            &session,
            Some(&state(Some(&first), false, 100_000)),
            t0,
            RESYNC,
        );
        assert_eq!(paused.replay, None);
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
        assert_eq!(back.replay, None, "nothing is replayed while taken over");
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
