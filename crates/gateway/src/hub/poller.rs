//! `PlaybackPoller`: one task per playing session with at least one connected member, or with
//! nobody connected while the session still has entries to feed to Spotify. It polls the host's
//! player within the app-wide budget and reports each result to the hub, which diffs and fans
//! out. Started and stopped by the hub only.
//!
//! When it polls is [`Schedule`]'s decision (no I/O, unit-tested). With
//! `SESH_POLL_MODE=predictive` (the default) a poll is spent only where it buys something: a
//! playing track's end is predicted from Spotify's answer, so a natural track change costs one
//! poll just after the boundary (`boundary`), and one more if Spotify has not moved yet
//! (`confirm`); a command Sesh sent is confirmed at once (`confirm`, the hub's nudge); between
//! those, only changes made outside Sesh (the host's own Spotify app, a device gone) need
//! watching, every `SESH_POLL_WATCH_INTERVAL` (`watch`), every `SESH_POLL_INTERVAL` for a short
//! while after something unexpected happened, and slower still while paused. With
//! `SESH_POLL_MODE=fixed` it polls every `SESH_POLL_INTERVAL` while playing (sooner at a track's
//! end), as Sesh did before.
//!
//! With nobody watching it only feeds (either mode): it wakes shortly before the playing
//! track's end (so the hub can hand Spotify the next entry) and just after it (so the session
//! follows), about two polls a track instead of one a second.

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sesh_session::{SessionId, UserId};
use sesh_spotify::{PlaybackState, SpotifyError};

use super::{HubError, command::Command, effects};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{db::now_ms, settings::PollMode, state::Core};

/// Back-off cap after repeated failures (5xx, timeouts, revoked login).
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Poll this long after the expected end of a track, so the next one has started.
const END_OF_TRACK_SLACK: Duration = Duration::from_millis(150);
/// Never poll more often than this, even near the end of a track.
const MIN_INTERVAL: Duration = Duration::from_millis(200);
/// With nobody watching, the poll before a track's end comes this long before it: inside the
/// hub's commit window ([`super::follower::COMMIT_LEAD_MS`]) with a margin for the call.
const FEED_AHEAD: Duration = Duration::from_secs(12);
/// After something nobody predicted (a skip, pause or seek in the host's own app), predictive
/// polling watches at `SESH_POLL_INTERVAL` for this long: more may follow. Sesh's own commands
/// are known, not surprises: one confirming poll each.
const LIVELY_FOR: Duration = Duration::from_secs(5);
/// The poll confirming Sesh's own command comes this long after Spotify accepted it: Spotify
/// shows a command a moment after its `204` (members already see it: the hub applied it).
const CONFIRM_DELAY: Duration = Duration::from_millis(300);
/// The commit window: the next entry goes to Spotify's queue once the playing track has this
/// little left ([`super::follower::COMMIT_LEAD_MS`]), so the watch poll landing inside it
/// matters as much as a boundary's.
const COMMIT_WINDOW: Duration = Duration::from_millis(super::follower::COMMIT_LEAD_MS as u64);
/// A progress this far from where the last answer predicted it is a seek (or a stall).
const JUMP_MS: i64 = 2_000;

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
    /// Starts a poller of `host`'s player reporting to `hub`, the hub of `session`.
    pub(super) fn spawn(
        core: Arc<Core>,
        hub: mpsc::Sender<Command>,
        session: SessionId,
        host: UserId,
        generation: u64,
    ) -> Self {
        let cancel = core.shutdown.child_token();
        let nudge = Arc::new(Notify::new());
        let watched = Arc::new(AtomicBool::new(true));
        let poller = Poller {
            core: core.clone(),
            hub,
            session,
            host: host.clone(),
            generation,
            cancel: cancel.clone(),
            nudge: nudge.clone(),
            watched: watched.clone(),
            polled_at: Instant::now(),
            grid: core.config.poll_grid,
            schedule: Schedule::new(
                core.config.poll_mode,
                Intervals {
                    playing: core.config.poll_interval,
                    paused: core.config.poll_paused_interval,
                    watch: core.config.poll_watch_interval,
                },
            ),
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
    session: SessionId,
    host: UserId,
    generation: u64,
    cancel: CancellationToken,
    nudge: Arc<Notify>,
    watched: Arc<AtomicBool>,
    schedule: Schedule,
    /// `SESH_POLL_GRID`.
    grid: Duration,
    /// When the last poll answered (how stale this session is, for the budget).
    polled_at: Instant,
}

impl Poller {
    async fn run(mut self) {
        let mut delay = Duration::ZERO;
        loop {
            // A zero delay (first poll, `0ms` interval) polls at once: a timer would round it
            // up to the next millisecond tick.
            if !delay.is_zero() && !self.sleep(delay).await {
                return;
            }
            if !self.acquire().await {
                return;
            }
            // Several instances: not one call once this instance's lease ran out by its own
            // clock (paused, or cut off from the database), whatever the hub has not seen yet.
            if let Some(own) = self.core.db.ownership()
                && own.valid(self.session).is_none()
            {
                tracing::debug!(session = %self.session, "lease ran out: the poller stops");
                return;
            }
            crate::metrics::poll(self.schedule.reason().as_str());
            crate::metrics::poll_staleness(self.polled_at.elapsed());
            let result = tokio::select! {
                () = self.cancel.cancelled() => return,
                r = self.poll_once() => r,
            };
            let watched = self.watched.load(Ordering::Relaxed);
            self.polled_at = Instant::now();
            delay = self.schedule.next(&result, watched, self.polled_at).0;
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

    /// Sleeps `delay` (to the next point of the wake-up grid), or until a nudge and then
    /// [`CONFIRM_DELAY`]. A commit window that opens meanwhile with no answer inside it (the
    /// next poll comes only at the track's end, or later) is the hub's to commit from its
    /// prediction, without a call. `false`: cancelled, or the hub is gone.
    async fn sleep(&mut self, delay: Duration) -> bool {
        let wake = on_grid(Instant::now() + delay, self.grid);
        loop {
            let commit = self.schedule.commit_point().filter(|at| *at < wake);
            tokio::select! {
                () = self.cancel.cancelled() => return false,
                () = tokio::time::sleep_until(commit.unwrap_or(wake)) => {
                    if commit.is_none() {
                        return true;
                    }
                    if !self.commit_due().await {
                        return false;
                    }
                }
                () = self.nudge.notified() => {
                    self.schedule.nudged();
                    let confirm = on_grid(Instant::now() + CONFIRM_DELAY, self.grid);
                    return tokio::select! {
                        () = self.cancel.cancelled() => false,
                        () = tokio::time::sleep_until(confirm) => true,
                    };
                }
            }
        }
    }

    /// Tells the hub to hand Spotify the next entry from its prediction. `false`: the hub is
    /// gone.
    async fn commit_due(&mut self) -> bool {
        self.schedule.commit_handed();
        let due = Command::CommitDue {
            generation: self.generation,
        };
        self.hub.send(due).await.is_ok()
    }

    /// Waits for the app-wide budget: when it is short, the calls that keep the music playing
    /// go first, then boundaries and confirmations, then the sessions polled longest ago. A
    /// poll still waiting when it comes to matter more changes ([`Schedule::promotion`]): at
    /// the commit window the hub hands Spotify the next entry from its prediction (no call
    /// spent on a poll first), at the track's end the poll becomes a boundary poll.
    /// `false`: cancelled.
    async fn acquire(&mut self) -> bool {
        loop {
            let priority = self.schedule.reason().priority();
            let promotion = self.schedule.promotion();
            let at = promotion.map_or_else(Instant::now, |(at, _)| at);
            tokio::select! {
                // A token at hand is spent: a promotion is for polls the budget keeps waiting.
                biased;
                () = self.cancel.cancelled() => return false,
                () = self.core.budget.acquire(priority, self.polled_at.into_std()) => return true,
                () = tokio::time::sleep_until(at), if promotion.is_some() => {
                    match promotion {
                        Some((_, Promotion::CommitDue)) if !self.commit_due().await => {
                            return false;
                        }
                        Some((_, Promotion::CommitDue)) | None => {}
                        Some((_, Promotion::Boundary)) => self.schedule.promote(Reason::Boundary),
                    }
                }
            }
        }
    }

    async fn poll_once(&self) -> Result<Option<PlaybackState>, HubError> {
        effects::call(&self.core, &self.host, |spotify, auth| async move {
            spotify.player(&auth).await
        })
        .await
    }
}

/// `at`, or the first point after it of the grid of `step` all pollers share
/// (`SESH_POLL_GRID`): the polls due within one step go out in one wake-up of the runtime (one
/// timer pass, one burst of writes, their answers read together) instead of one thread wake-up
/// each, which costs more CPU than the poll itself. A poll comes less than `step` late.
fn on_grid(at: Instant, step: Duration) -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    let step = step.as_nanos();
    if step == 0 {
        return at;
    }
    // Less than one step: fits in u64.
    let late = |nanos: u128| Duration::from_nanos(nanos as u64);
    match at.checked_duration_since(origin) {
        Some(since) => match since.as_nanos() % step {
            0 => at,
            off => at + late(step - off),
        },
        // Before the first poller's first wake-up: the grid extends backwards too.
        None => at + late((origin - at).as_nanos() % step),
    }
}

/// What a poll still waiting for the budget turns into ([`Schedule::promotion`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Promotion {
    /// The playing track enters its commit window: the hub hands Spotify the next entry from
    /// its prediction, and the poll waits on as it was.
    CommitDue,
    /// The playing track's predicted end: a boundary poll.
    Boundary,
}

/// Why a poll is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reason {
    /// Just after a playing track's predicted end.
    Boundary,
    /// Right after a command of Sesh's, or again when Spotify had not moved at a boundary.
    Confirm,
    /// Between boundaries, for changes made outside Sesh.
    Watch,
    /// The watch poll inside the playing track's commit window: the one whose answer hands
    /// Spotify the session's next entry in time.
    Commit,
    /// While paused or stopped.
    Paused,
    /// With nobody connected: only around the track's end, to feed Spotify.
    Feed,
    /// `SESH_POLL_MODE=fixed`: every `SESH_POLL_INTERVAL`.
    Fixed,
    /// After a failure (back-off) or a `Retry-After`.
    Retry,
}

impl Reason {
    /// How much it matters when polls wait for the app-wide budget.
    pub(super) const fn priority(self) -> crate::budget::Priority {
        match self {
            Self::Boundary | Self::Confirm => crate::budget::Priority::Boundary,
            Self::Commit | Self::Feed => crate::budget::Priority::Feed,
            Self::Watch | Self::Paused | Self::Fixed | Self::Retry => {
                crate::budget::Priority::Watch
            }
        }
    }

    /// Its name (`reason` of the poll metrics).
    pub(super) const fn as_str(self) -> &'static str {
        match self {
            Self::Boundary => "boundary",
            Self::Confirm => "confirm",
            Self::Watch => "watch",
            Self::Commit => "commit",
            Self::Paused => "paused",
            Self::Feed => "feed",
            Self::Fixed => "fixed",
            Self::Retry => "retry",
        }
    }
}

/// The poll intervals of the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Intervals {
    /// `SESH_POLL_INTERVAL`: fixed mode's interval while playing, and predictive mode's for a
    /// short while after something unexpected.
    pub playing: Duration,
    /// `SESH_POLL_PAUSED_INTERVAL`: while paused (predictive mode: at least twice `watch`).
    pub paused: Duration,
    /// `SESH_POLL_WATCH_INTERVAL`: predictive mode's check between boundaries.
    pub watch: Duration,
}

/// What an answer showed, to predict the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    track: Option<String>,
    playing: bool,
    progress_ms: u32,
    duration_ms: Option<u32>,
    at: Instant,
}

impl Seen {
    fn of(state: &PlaybackState, at: Instant) -> Self {
        let track = state.item.as_ref().and_then(|i| i.as_track());
        Self {
            track: track.and_then(|t| t.id.clone()),
            playing: state.is_playing,
            progress_ms: state.progress_ms.unwrap_or(0),
            duration_ms: track.map(|t| t.duration_ms),
            at,
        }
    }

    /// Where the track should be at `now`.
    fn progress_at(&self, now: Instant) -> i64 {
        super::tracker::progress_after(
            self.progress_ms,
            self.playing,
            now.saturating_duration_since(self.at),
        )
    }

    /// How much of the track is left at `now` (none: no known duration).
    fn left_at(&self, now: Instant) -> Option<i64> {
        self.duration_ms
            .map(|d| i64::from(d).saturating_sub(self.progress_at(now)))
    }

    /// Whether `next` is what nobody could predict from `self`: another track well before
    /// this one's end, a pause or a resume, a seek.
    fn surprised_by(&self, next: &Seen) -> bool {
        if self.playing != next.playing {
            return true;
        }
        if self.track != next.track {
            return !self.playing || self.left_at(next.at).is_none_or(|left| left > JUMP_MS);
        }
        (i64::from(next.progress_ms) - self.progress_at(next.at)).abs() > JUMP_MS
    }
}

/// When to poll next, and why: the decisions of one session's poller, from the answers it got
/// and the nudges after Sesh's own commands. No I/O; time is passed in.
#[derive(Debug)]
pub(super) struct Schedule {
    mode: PollMode,
    intervals: Intervals,
    failures: u32,
    last: Option<Seen>,
    /// Watch closely until then: something unexpected happened, more may follow.
    lively_until: Option<Instant>,
    /// Why the coming poll is made.
    reason: Reason,
    /// The hub was told to hand Spotify the next entry while the coming poll waited.
    commit_handed: bool,
}

impl Schedule {
    /// A poller's first schedule: the first poll comes at once.
    pub(super) fn new(mode: PollMode, intervals: Intervals) -> Self {
        Self {
            mode,
            intervals,
            failures: 0,
            last: None,
            lively_until: None,
            reason: Reason::Confirm,
            commit_handed: false,
        }
    }

    /// Why the coming poll is made.
    pub(super) fn reason(&self) -> Reason {
        self.reason
    }

    /// The hub sent Spotify a command (or wants the player now): the coming poll confirms it.
    /// Its answer is not compared with the one before (the command changed the player: no
    /// surprise); if Spotify still lags, the hub nudges again.
    pub(super) fn nudged(&mut self) {
        self.reason = Reason::Confirm;
        self.last = None;
        self.commit_handed = false;
    }

    /// When the coming poll, if it still waits for the budget then, matters more, and what
    /// changes: as the playing track (as last seen) enters its commit window, if the last
    /// answer came before the window (an answer inside it has handed Spotify the next entry
    /// already), the hub hands the next entry from its prediction ([`Promotion::CommitDue`]:
    /// a watch or commit poll that could not be afforded in time is not worth the call any
    /// more, and goes on waiting as a watch poll); at the track's predicted end, a watch poll
    /// becomes a `boundary` poll.
    pub(super) fn promotion(&self) -> Option<(Instant, Promotion)> {
        if !matches!(self.reason, Reason::Watch | Reason::Commit) {
            return None;
        }
        if let Some(at) = self.commit_point() {
            return Some((at, Promotion::CommitDue));
        }
        let (answered, left) = self.left_when_answered()?;
        (self.reason == Reason::Watch)
            .then(|| (answered + left + END_OF_TRACK_SLACK, Promotion::Boundary))
    }

    /// When the last answer came and how much of its track was left then, if it was playing a
    /// track of known length.
    fn left_when_answered(&self) -> Option<(Instant, Duration)> {
        let last = self.last.as_ref().filter(|l| l.playing)?;
        let left = Duration::from_millis(u64::try_from(last.left_at(last.at)?).ok()?);
        Some((last.at, left))
    }

    /// When the hub is to hand Spotify the next entry from its prediction, if no answer does
    /// first: [`FEED_AHEAD`] before the playing track's predicted end, when the last answer
    /// came before its commit window and the hub was not told yet. (With nobody connected the
    /// feed poll at that point does it, and confirms the player is still there.)
    pub(super) fn commit_point(&self) -> Option<Instant> {
        if self.commit_handed || self.reason == Reason::Feed {
            return None;
        }
        let (answered, left) = self.left_when_answered()?;
        (left > COMMIT_WINDOW).then(|| answered + left.saturating_sub(FEED_AHEAD))
    }

    /// The hub was told to hand Spotify the next entry ([`Schedule::commit_point`]): a commit
    /// poll still to come is not worth its call any more, and is made as a watch poll (until
    /// the track's end promotes it).
    pub(super) fn commit_handed(&mut self) {
        self.commit_handed = true;
        if self.reason == Reason::Commit {
            self.reason = Reason::Watch;
        }
    }

    /// The coming poll waited into its [`Schedule::promotion`]: it is made as `reason`.
    pub(super) fn promote(&mut self, reason: Reason) {
        self.reason = reason;
    }

    /// After a poll answered at `now` with `result`: how long until the next one, and why.
    pub(super) fn next(
        &mut self,
        result: &Result<Option<PlaybackState>, HubError>,
        watched: bool,
        now: Instant,
    ) -> (Duration, Reason) {
        let next = self.decide(result, watched, now);
        self.reason = next.1;
        self.commit_handed = false;
        next
    }

    fn decide(
        &mut self,
        result: &Result<Option<PlaybackState>, HubError>,
        watched: bool,
        now: Instant,
    ) -> (Duration, Reason) {
        let state = match result {
            Ok(state) => state,
            Err(HubError::Spotify(SpotifyError::RateLimited { retry_after, .. })) => {
                return ((*retry_after).max(self.intervals.playing), Reason::Retry);
            }
            Err(_) => {
                self.failures = self.failures.saturating_add(1);
                let factor = 1u32 << self.failures.min(5);
                return (
                    (self.intervals.playing * factor).min(MAX_BACKOFF),
                    Reason::Retry,
                );
            }
        };
        self.failures = 0;
        let seen = state.as_ref().map(|s| Seen::of(s, now));
        let surprised = match (&self.last, &seen) {
            (Some(last), Some(seen)) => last.surprised_by(seen),
            (Some(_), None) | (None, Some(_)) => self.last.is_some(),
            (None, None) => false,
        };
        if surprised {
            self.lively_until = Some(now + LIVELY_FOR);
        }
        let lively = self.lively_until.is_some_and(|until| now < until);
        self.last = seen.clone();
        let Some(seen) = seen.filter(|s| s.playing) else {
            return match self.mode {
                PollMode::Fixed => (self.intervals.paused, Reason::Fixed),
                PollMode::Predictive if lively => (self.intervals.playing, Reason::Watch),
                PollMode::Predictive => (
                    self.intervals.paused.max(self.intervals.watch * 2),
                    Reason::Paused,
                ),
            };
        };
        let left = seen
            .left_at(now)
            .map(|ms| Duration::from_millis(u64::try_from(ms.max(0)).unwrap_or(0)));
        let Some(left) = left else {
            return match self.mode {
                PollMode::Fixed => (self.intervals.playing, Reason::Fixed),
                PollMode::Predictive => (self.watch_interval(lively), Reason::Watch),
            };
        };
        if !watched {
            return (feed_delay(left, self.intervals.playing), Reason::Feed);
        }
        let boundary = (left + END_OF_TRACK_SLACK).max(MIN_INTERVAL);
        // Spotify still shows the track at (or just past) its end: it has not moved yet.
        let at_end = left < Duration::from_secs(1);
        match self.mode {
            PollMode::Fixed if boundary < self.intervals.playing => (boundary, Reason::Boundary),
            PollMode::Fixed => (self.intervals.playing, Reason::Fixed),
            PollMode::Predictive => {
                let watch = self.watch_interval(lively);
                if boundary > watch {
                    // The first watch poll inside the commit window hands Spotify the next
                    // entry: it matters as much as a boundary.
                    let in_window =
                        left > COMMIT_WINDOW && left.saturating_sub(watch) <= COMMIT_WINDOW;
                    (
                        watch,
                        if in_window {
                            Reason::Commit
                        } else {
                            Reason::Watch
                        },
                    )
                } else if at_end {
                    (boundary, Reason::Confirm)
                } else {
                    (boundary, Reason::Boundary)
                }
            }
        }
    }

    fn watch_interval(&self, lively: bool) -> Duration {
        if lively {
            self.intervals.playing.min(self.intervals.watch)
        } else {
            self.intervals.watch
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

    use sesh_spotify::PlaybackState;
    use tokio::time::Instant;

    use super::{FEED_AHEAD, Intervals, Promotion, Reason, Schedule, feed_delay, on_grid};
    use crate::hub::HubError;
    use crate::settings::PollMode;

    const S: fn(u64) -> Duration = Duration::from_secs;
    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn intervals() -> Intervals {
        Intervals {
            playing: S(1),
            paused: S(5),
            watch: S(5),
        }
    }

    #[test]
    fn wake_ups_gather_on_one_grid_never_early_and_less_than_a_step_late() {
        const WAKE_GRID: Duration = Duration::from_millis(20);
        let t0 = Instant::now();
        assert_eq!(on_grid(t0, Duration::ZERO), t0, "no grid: on time");
        let mut points = std::collections::BTreeSet::new();
        for us in (0..200_000u64).step_by(1_300) {
            let at = t0 + Duration::from_micros(us);
            let woke = on_grid(at, WAKE_GRID);
            assert!(woke >= at && woke - at < WAKE_GRID, "{us} µs");
            assert_eq!(
                on_grid(woke, WAKE_GRID),
                woke,
                "a grid point is its own wake-up"
            );
            points.insert(woke);
        }
        // 154 instants over 200 ms share at most 11 wake-ups 20 ms apart.
        assert!(points.len() <= 11, "{}", points.len());
        let gaps: Vec<_> = points
            .iter()
            .zip(points.iter().skip(1))
            .map(|(a, b)| *b - *a)
            .collect();
        assert!(gaps.iter().all(|gap| *gap == WAKE_GRID), "{gaps:?}");
    }

    /// The host's player: `track` (200 s long) at `progress_ms`.
    fn player(
        track: &str,
        playing: bool,
        progress_ms: u64,
    ) -> Result<Option<PlaybackState>, HubError> {
        let state = serde_json::from_value(serde_json::json!({
            "is_playing": playing,
            "progress_ms": progress_ms,
            "item": {
                "type": "track", "id": track, "uri": format!("spotify:track:{track}"),
                "name": track, "duration_ms": 200_000, "artists": [], "album": {"name": "a", "images": []}
            }
        }))
        .unwrap();
        Ok(Some(state))
    }

    #[test]
    fn a_playing_track_is_watched_every_interval_and_polled_just_after_its_end() {
        let t0 = Instant::now();
        let mut plan = Schedule::new(PollMode::Predictive, intervals());
        assert_eq!(plan.reason(), Reason::Confirm, "the first poll");
        assert_eq!(
            plan.next(&player("a", true, 10_000), true, t0),
            (S(5), Reason::Watch)
        );
        assert_eq!(plan.reason(), Reason::Watch);
        // Three seconds left: the next poll is just after the end.
        assert_eq!(
            plan.next(&player("a", true, 197_000), true, t0 + S(187)),
            (S(3) + super::END_OF_TRACK_SLACK, Reason::Boundary)
        );
        // Spotify has not moved yet at the boundary: confirm soon.
        assert_eq!(
            plan.next(&player("a", true, 199_950), true, t0 + S(190)),
            (super::MIN_INTERVAL, Reason::Confirm)
        );
        // The next track came as predicted: nothing unexpected, back to watching.
        assert_eq!(
            plan.next(&player("b", true, 300), true, t0 + S(191)),
            (S(5), Reason::Watch)
        );
    }

    #[test]
    fn something_unexpected_makes_the_next_polls_come_sooner_for_a_while() {
        let t0 = Instant::now();
        let mut plan = Schedule::new(PollMode::Predictive, intervals());
        plan.next(&player("a", true, 10_000), true, t0);
        // A seek in the host's own app: 50 s further than predicted.
        assert_eq!(
            plan.next(&player("a", true, 65_000), true, t0 + S(5)),
            (S(1), Reason::Watch)
        );
        assert_eq!(
            plan.next(&player("a", true, 66_000), true, t0 + S(6)),
            (S(1), Reason::Watch)
        );
        // Quiet again after a while.
        assert_eq!(
            plan.next(&player("a", true, 76_000), true, t0 + S(16)),
            (S(5), Reason::Watch)
        );
        // A skip to another track long before the end, and a pause, are unexpected too.
        assert_eq!(
            plan.next(&player("c", true, 0), true, t0 + S(21)),
            (S(1), Reason::Watch)
        );
        let mut plan = Schedule::new(PollMode::Predictive, intervals());
        plan.next(&player("a", true, 10_000), true, t0);
        assert_eq!(
            plan.next(&player("a", false, 15_000), true, t0 + S(5)),
            (S(1), Reason::Watch)
        );
        // Paused and quiet: slower than watching.
        assert_eq!(
            plan.next(&player("a", false, 15_000), true, t0 + S(11)),
            (S(10), Reason::Paused)
        );
    }

    #[test]
    fn a_command_of_sesh_is_confirmed_once_and_is_no_surprise() {
        let t0 = Instant::now();
        let mut plan = Schedule::new(PollMode::Predictive, intervals());
        plan.next(&player("a", true, 10_000), true, t0);
        plan.nudged();
        assert_eq!(plan.reason(), Reason::Confirm);
        // Sesh skipped to "b": the confirming answer is expected, so no close watch follows.
        assert_eq!(
            plan.next(&player("b", true, 0), true, t0 + S(2)),
            (S(5), Reason::Watch)
        );
        // The same change made in the host's own app is a surprise.
        let mut plan = Schedule::new(PollMode::Predictive, intervals());
        plan.next(&player("a", true, 10_000), true, t0);
        assert_eq!(
            plan.next(&player("b", true, 0), true, t0 + S(2)),
            (S(1), Reason::Watch)
        );
    }

    #[test]
    fn the_watch_poll_entering_the_commit_window_goes_first() {
        let t0 = Instant::now();
        let mut plan = Schedule::new(PollMode::Predictive, intervals());
        // 200 s tracks: at 180 s, 20 s are left; the next watch poll (15 s left) is inside the
        // 15 s commit window.
        assert_eq!(
            plan.next(&player("a", true, 170_000), true, t0),
            (S(5), Reason::Watch)
        );
        assert_eq!(
            plan.next(&player("a", true, 180_000), true, t0 + S(10)),
            (S(5), Reason::Commit)
        );
        assert!(Reason::Commit.priority() > Reason::Boundary.priority());
        assert!(Reason::Boundary.priority() > Reason::Watch.priority());
        // Later ones inside the window are watch polls again, then the boundary.
        assert_eq!(
            plan.next(&player("a", true, 185_000), true, t0 + S(15)),
            (S(5), Reason::Watch)
        );
        assert_eq!(
            plan.next(&player("a", true, 196_000), true, t0 + S(26)),
            (MS(4_150), Reason::Boundary)
        );
        // A watch poll due long before the end that is still waiting for the budget when
        // the track enters the window (12 s before its end): the hub hands Spotify the next
        // entry from its prediction, and the poll waits on as a watch poll, a boundary poll
        // from the track's end on.
        let mut plan = Schedule::new(PollMode::Predictive, intervals());
        plan.next(&player("a", true, 100_000), true, t0);
        assert_eq!(plan.reason(), Reason::Watch);
        assert_eq!(plan.promotion(), Some((t0 + S(88), Promotion::CommitDue)));
        plan.commit_handed();
        assert_eq!(plan.reason(), Reason::Watch);
        assert_eq!(
            plan.promotion(),
            Some((t0 + S(100) + MS(150), Promotion::Boundary))
        );
        plan.promote(Reason::Boundary);
        assert_eq!(plan.promotion(), None);
        // The next answer starts over: its track's commit is due again.
        plan.next(&player("b", true, 100_000), true, t0 + S(101));
        assert_eq!(plan.promotion(), Some((t0 + S(189), Promotion::CommitDue)));
        // A commit poll the budget keeps waiting past that point is not worth its call any
        // more: the hub commits from its prediction, the poll turns into a watch poll.
        let mut plan = Schedule::new(PollMode::Predictive, intervals());
        plan.next(&player("a", true, 180_000), true, t0);
        assert_eq!(plan.reason(), Reason::Commit);
        assert_eq!(plan.promotion(), Some((t0 + S(8), Promotion::CommitDue)));
        plan.commit_handed();
        assert_eq!(plan.reason(), Reason::Watch);
        // A nudge (Sesh's own command) confirms first; the answer decides again.
        plan.nudged();
        assert_eq!((plan.reason(), plan.promotion()), (Reason::Confirm, None));
        // An answer inside the window has committed already: the next waiting poll only
        // becomes a boundary poll.
        let mut plan = Schedule::new(PollMode::Predictive, intervals());
        plan.next(&player("a", true, 190_000), true, t0);
        assert_eq!(plan.reason(), Reason::Watch);
        assert_eq!(
            plan.promotion(),
            Some((t0 + S(10) + MS(150), Promotion::Boundary))
        );
        // Paused: nothing ends, nothing to promote.
        let mut plan = Schedule::new(PollMode::Predictive, intervals());
        plan.next(&player("a", false, 100_000), true, t0);
        assert_eq!(plan.promotion(), None);
        assert_eq!(plan.commit_point(), None);
    }

    #[test]
    fn a_commit_window_no_poll_lands_in_is_committed_from_the_prediction() {
        let t0 = Instant::now();
        // A watch interval longer than the window: with 25 s left the next poll is the
        // boundary's, and nothing answers inside the window.
        let mut plan = Schedule::new(
            PollMode::Predictive,
            Intervals {
                watch: S(30),
                ..intervals()
            },
        );
        assert_eq!(
            plan.next(&player("a", true, 175_000), true, t0),
            (S(25) + MS(150), Reason::Boundary)
        );
        assert_eq!(plan.commit_point(), Some(t0 + S(13)));
        plan.commit_handed();
        assert_eq!(plan.reason(), Reason::Boundary, "still the boundary's poll");
        assert_eq!(plan.commit_point(), None, "once a track");
        // An answer inside the window: nothing to predict.
        plan.next(&player("a", true, 190_000), true, t0 + S(15));
        assert_eq!(plan.commit_point(), None);
        // Nobody connected: the feed poll itself comes at that point.
        let mut plan = Schedule::new(PollMode::Predictive, intervals());
        assert_eq!(
            plan.next(&player("a", true, 100_000), false, t0).1,
            Reason::Feed
        );
        assert_eq!(plan.commit_point(), None);
    }

    #[test]
    fn fixed_mode_polls_every_interval_and_unwatched_sessions_only_feed() {
        let t0 = Instant::now();
        let mut plan = Schedule::new(PollMode::Fixed, intervals());
        assert_eq!(
            plan.next(&player("a", true, 10_000), true, t0),
            (S(1), Reason::Fixed)
        );
        assert_eq!(
            plan.next(&player("a", true, 199_500), true, t0 + S(1)),
            (MS(650), Reason::Boundary)
        );
        assert_eq!(
            plan.next(&player("a", false, 10_000), true, t0 + S(2)),
            (S(5), Reason::Fixed)
        );
        let mut plan = Schedule::new(PollMode::Predictive, intervals());
        assert_eq!(
            plan.next(&player("a", true, 10_000), false, t0),
            (S(190) - FEED_AHEAD, Reason::Feed)
        );
        // Failures back off, a Retry-After is waited out.
        let limited = Err(HubError::Spotify(sesh_spotify::SpotifyError::RateLimited {
            retry_after: S(7),
            quota_exceeded: false,
        }));
        assert_eq!(plan.next(&limited, true, t0), (S(7), Reason::Retry));
    }

    /// Ten minutes of a session playing 200 s tracks one after another, polled as the
    /// schedule says (Spotify moving on exactly at each end): about 15 polls a minute in
    /// predictive mode, about 60 in fixed mode.
    fn polls_in_ten_minutes(mode: PollMode) -> usize {
        let t0 = Instant::now();
        let mut plan = Schedule::new(mode, intervals());
        let mut now = t0;
        let mut polls = 0;
        while now < t0 + S(600) {
            let played = u64::try_from(now.duration_since(t0).as_millis()).unwrap();
            let track = format!("t{}", played / 200_000);
            polls += 1;
            now += plan
                .next(&player(&track, true, played % 200_000), true, now)
                .0;
        }
        polls
    }

    #[test]
    fn predictive_polling_costs_a_quarter_of_fixed_polling() {
        let predictive = polls_in_ten_minutes(PollMode::Predictive);
        let fixed = polls_in_ten_minutes(PollMode::Fixed);
        assert!(
            (120..=150).contains(&predictive),
            "{predictive} polls in ten minutes"
        );
        assert!(fixed >= 590, "{fixed} polls in ten minutes");
    }

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
