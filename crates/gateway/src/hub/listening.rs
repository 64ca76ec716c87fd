//! Listening along: members who hear the session on their own Spotify device. A plain struct
//! with no I/O and no clock of its own (every input carries its `Instant`): it is told what
//! the host's player plays (each poll) and what the listeners' players answered, and it says
//! which call to make to whose player — mirror a change (`PUT play` with the track and the
//! position, or `PUT pause`), read it back a few seconds later to measure the drift (and
//! correct it, at most once per [`CORRECTION_GAP`]), and between changes read it rarely, only
//! to notice that the listener left (they play something else, elsewhere, or paused on their
//! own while the session plays). A listener who left is *detached*: no call reaches their
//! player again until they opt in once more. The hub performs the calls (with the listener's
//! own login) and reports their answers back here.
//!
//! One call per listener is with Spotify at a time: a change while one is out is sent when it
//! answers (and a read that went out before the change is not judged).
//!
//! (About half of this file is its unit tests.)

use std::{collections::BTreeMap, time::Duration};

use sesh_session::{DeviceId, TrackId, UserId};
use tokio::time::Instant;

use crate::wire::ListeningState;

/// How far ahead of the host's position a listener's `play` starts: the time the call takes to
/// reach their device, roughly.
pub const LEAD: Duration = Duration::from_millis(300);
/// A listener further off the host's position than this is corrected.
pub const DRIFT_TOLERANCE_MS: i64 = 2_000;
/// At most one drift correction per listener this often.
pub const CORRECTION_GAP: Duration = Duration::from_secs(20);
/// A jump of the host's position beyond this (against where it should be) is a seek.
const SEEK_MS: i64 = 2_000;
/// A listener paused this close to the end of the track has just come to its end (their device
/// holds one track; the next comes with the host's track change): not a listener who left.
const TRACK_END_MS: u32 = 3_000;

/// What the session plays, as the host's player last showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Played {
    /// The track.
    pub track: TrackId,
    /// Its uri, for `PUT play`.
    pub uri: String,
    /// Playing or paused.
    pub playing: bool,
    /// The host's position when Spotify answered.
    pub progress_ms: u32,
    /// When Spotify answered (the server's monotonic clock).
    pub at: Instant,
}

impl Played {
    /// Where the host's track is at `now`, extrapolated from the answer.
    pub fn position_at(&self, now: Instant) -> i64 {
        super::tracker::progress_after(
            self.progress_ms,
            self.playing,
            now.saturating_duration_since(self.at),
        )
    }
}

/// What a listener's player showed when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    /// The track on their player, if any.
    pub track: Option<TrackId>,
    /// The device it plays on.
    pub device: Option<String>,
    /// Playing or paused.
    pub playing: bool,
    /// Their position.
    pub progress_ms: u32,
    /// Their track's length.
    pub duration_ms: u32,
}

/// A call to one listener's player.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `PUT /me/player/play?device_id` with one track from `position_ms`.
    Play {
        /// The track's uri.
        uri: String,
        /// Where to start.
        position_ms: u32,
    },
    /// `PUT /me/player/pause?device_id`.
    Pause,
    /// `GET /me/player`.
    Read,
}

/// Why a call is made (for the logs and the tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The session changed: track, seek, pause or resume.
    Mirror,
    /// The drift measured after a command was too large.
    Correct,
    /// The read a few seconds after a command.
    Verify,
    /// The rare read between commands, to notice a listener who left.
    Check,
    /// A command that failed for a passing reason, sent again.
    Resend,
}

/// A call to make, for `user` on `device`; its answer comes back with `epoch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Whose player (their login makes the call).
    pub user: UserId,
    /// Their device.
    pub device: DeviceId,
    /// Which call of theirs this is (an answer of another is stale).
    pub epoch: u64,
    /// The call.
    pub call: Call,
    /// Why.
    pub why: Why,
}

/// How a listener's call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Premium required or the login revoked: they stop listening, never retried.
    Drop,
    /// Their device is gone or refuses control: they are detached.
    Detach,
    /// Rate limited, Spotify down, a timeout: tried again later.
    Passing,
}

/// What the hub does after a step: calls to make, and listeners whose state members must see
/// (`None`: no longer listening).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Calls to make now.
    pub orders: Vec<Order>,
    /// Listeners whose state changed (store, then announce).
    pub changed: Vec<(UserId, Option<ListeningState>)>,
}

/// What is due for a listener with no call out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    Verify,
    Check,
    Resend,
}

#[derive(Debug, Clone)]
struct Listener {
    device: DeviceId,
    state: ListeningState,
    epoch: u64,
    /// The call out, if any.
    out: Option<Why>,
    /// The next call when none is out.
    due: Option<(Instant, Due)>,
    /// The session changed while a call was out: mirror it when that call answers.
    stale: bool,
    last_correction: Option<Instant>,
}

/// The listeners of one session and what the session plays.
#[derive(Debug)]
pub struct Listening {
    listeners: BTreeMap<UserId, Listener>,
    played: Option<Played>,
    /// Counts the session's changes (a probe sent before one is out of date).
    version: u64,
    check_every: Duration,
    verify_after: Duration,
}

impl Listening {
    /// No listeners; light checks every `check_every` (`SESH_LISTEN_CHECK_INTERVAL`), a
    /// command's read back `verify_after` it (`SESH_LISTEN_VERIFY_DELAY`).
    pub fn new(check_every: Duration, verify_after: Duration) -> Self {
        Self {
            listeners: BTreeMap::new(),
            played: None,
            version: 0,
            check_every,
            verify_after,
        }
    }

    /// Whether nobody listens along.
    pub fn is_empty(&self) -> bool {
        self.listeners.is_empty()
    }

    /// Everyone who listens along (in sync or detached).
    pub fn users(&self) -> impl Iterator<Item = &UserId> {
        self.listeners.keys()
    }

    /// Where `user` stands, if they listen along.
    pub fn state(&self, user: &UserId) -> Option<ListeningState> {
        self.listeners.get(user).map(|l| l.state)
    }

    /// The session's change counter (see [`Listening::joined`]).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The command that puts a player in step with the session at `now`: the track from the
    /// host's position (plus [`LEAD`]), or a pause when nothing plays.
    pub fn command_at(&self, now: Instant) -> Call {
        match &self.played {
            Some(played) if played.playing => Call::Play {
                uri: played.uri.clone(),
                position_ms: u32::try_from(
                    played
                        .position_at(now)
                        .saturating_add(duration_ms(LEAD))
                        .max(0),
                )
                .unwrap_or(u32::MAX),
            },
            _ => Call::Pause,
        }
    }

    /// `user`'s opt-in command (see [`Listening::command_at`]) answered well at `now`: they
    /// listen along on `device`, in sync. `version`: [`Listening::version`] when that command
    /// was built — the session changed since, it is mirrored at once.
    pub fn joined(&mut self, user: UserId, device: DeviceId, version: u64, now: Instant) -> Step {
        let mut listener = Listener {
            device,
            state: ListeningState::InSync,
            epoch: self
                .listeners
                .get(&user)
                .map_or(0, |l| l.epoch.wrapping_add(1)),
            out: None,
            due: Some((now + self.verify_after, Due::Verify)),
            stale: false,
            last_correction: None,
        };
        let mut step = Step {
            changed: vec![(user.clone(), Some(ListeningState::InSync))],
            ..Step::default()
        };
        if version != self.version {
            step.orders
                .push(self.send(&user, &mut listener, self.command_at(now), Why::Mirror));
        }
        self.listeners.insert(user, listener);
        step
    }

    /// A listener loaded from the database at `now` (the server restarted): in sync ones are
    /// put in step by the first poll that shows the session (it is news), and read back as
    /// usual from then on; detached ones stay so.
    pub fn restore(&mut self, user: UserId, device: DeviceId, state: ListeningState, now: Instant) {
        let due = (state == ListeningState::InSync).then_some((now + self.check_every, Due::Check));
        self.listeners.insert(
            user,
            Listener {
                device,
                state,
                epoch: 0,
                out: None,
                due,
                stale: false,
                last_correction: None,
            },
        );
    }

    /// `user` stops listening along (opted out, left, became the host): no further call. Whether
    /// they were listening.
    pub fn remove(&mut self, user: &UserId) -> bool {
        self.listeners.remove(user).is_some()
    }

    /// The host's player as polled at `played.at` (`None`: the session does not steer Spotify —
    /// not playing, taken over, nothing loaded). A track change, a seek, a pause or a resume is
    /// mirrored to every listener in sync.
    pub fn observe_host(&mut self, played: Option<Played>, now: Instant) -> Step {
        let changed = is_change(self.played.as_ref(), played.as_ref());
        self.played = played;
        let mut step = Step::default();
        if !changed {
            return step;
        }
        self.version = self.version.wrapping_add(1);
        let command = self.command_at(now);
        let users: Vec<UserId> = self.listeners.keys().cloned().collect();
        for user in users {
            let Some(mut listener) = self.listeners.remove(&user) else {
                continue;
            };
            if listener.state == ListeningState::InSync {
                if listener.out.is_some() {
                    listener.stale = true;
                } else {
                    step.orders
                        .push(self.send(&user, &mut listener, command.clone(), Why::Mirror));
                }
            }
            self.listeners.insert(user, listener);
        }
        step
    }

    /// When the next read or resend is due, for the hub's timer.
    pub fn deadline(&self) -> Option<Instant> {
        self.listeners
            .values()
            .filter(|l| l.out.is_none() && l.state == ListeningState::InSync)
            .filter_map(|l| l.due.map(|(at, _)| at))
            .min()
    }

    /// The calls due at `now`.
    pub fn due(&mut self, now: Instant) -> Step {
        let mut step = Step::default();
        let users: Vec<UserId> = self.listeners.keys().cloned().collect();
        for user in users {
            let Some(mut listener) = self.listeners.remove(&user) else {
                continue;
            };
            if listener.out.is_none()
                && listener.state == ListeningState::InSync
                && let Some((at, due)) = listener.due
                && at <= now
            {
                let (call, why) = match due {
                    Due::Verify => (Call::Read, Why::Verify),
                    Due::Check => (Call::Read, Why::Check),
                    Due::Resend => (self.command_at(now), Why::Resend),
                };
                step.orders.push(self.send(&user, &mut listener, call, why));
            }
            self.listeners.insert(user, listener);
        }
        step
    }

    /// `user`'s command (`play` or `pause`) of `epoch` answered at `now`.
    pub fn answered(
        &mut self,
        user: &UserId,
        epoch: u64,
        result: Result<(), Failure>,
        now: Instant,
    ) -> Step {
        let Some((mut listener, _)) = self.take_answering(user, epoch) else {
            return Step::default();
        };
        let mut step = Step::default();
        match result {
            Err(Failure::Drop) => {
                step.changed.push((user.clone(), None));
                return step;
            }
            Err(Failure::Detach) => self.detach(user, &mut listener, &mut step),
            Err(Failure::Passing) if !listener.stale => {
                listener.due = Some((now + self.check_every, Due::Resend));
            }
            Err(Failure::Passing) | Ok(()) => {
                listener.due = Some((now + self.verify_after, Due::Verify));
            }
        }
        self.resend_if_stale(user, &mut listener, now, &mut step);
        self.listeners.insert(user.clone(), listener);
        step
    }

    /// `user`'s read of `epoch` answered at `now` with what their player shows (`Ok(None)`:
    /// nothing is active on their account).
    pub fn read(
        &mut self,
        user: &UserId,
        epoch: u64,
        result: Result<Option<Heard>, Failure>,
        now: Instant,
    ) -> Step {
        let Some((mut listener, why)) = self.take_answering(user, epoch) else {
            return Step::default();
        };
        let mut step = Step::default();
        let next_check = Some((now + self.check_every, Due::Check));
        if listener.stale {
            // The session changed while the read was out: what it saw is not worth judging.
            self.resend_if_stale(user, &mut listener, now, &mut step);
            self.listeners.insert(user.clone(), listener);
            return step;
        }
        match result {
            Err(Failure::Drop) => {
                step.changed.push((user.clone(), None));
                return step;
            }
            Err(Failure::Detach | Failure::Passing) => listener.due = next_check,
            Ok(heard) => {
                if self.left(&listener, heard.as_ref()) {
                    self.detach(user, &mut listener, &mut step);
                } else if why == Why::Verify
                    && let (Some(heard), Some(played)) = (&heard, &self.played)
                    && played.playing
                    && (i64::from(heard.progress_ms) - played.position_at(now)).abs()
                        > DRIFT_TOLERANCE_MS
                    && listener
                        .last_correction
                        .is_none_or(|at| now.saturating_duration_since(at) >= CORRECTION_GAP)
                {
                    listener.last_correction = Some(now);
                    let call = self.command_at(now);
                    step.orders
                        .push(self.send(user, &mut listener, call, Why::Correct));
                } else {
                    listener.due = next_check;
                }
            }
        }
        self.listeners.insert(user.clone(), listener);
        step
    }

    /// Whether the listener's player shows they left the session: nothing active, another
    /// device, another track, playing while the session is silent, or paused (not at the
    /// track's end) while it plays.
    fn left(&self, listener: &Listener, heard: Option<&Heard>) -> bool {
        let Some(heard) = heard else {
            // Nothing active: the session plays and they closed Spotify (a silent session with
            // a silent listener is in step).
            return self.played.as_ref().is_some_and(|p| p.playing);
        };
        if heard
            .device
            .as_deref()
            .is_some_and(|d| d != listener.device.as_str())
        {
            return true;
        }
        match &self.played {
            Some(played) if played.playing => {
                heard.track.as_ref() != Some(&played.track)
                    || (!heard.playing
                        && heard.progress_ms.saturating_add(TRACK_END_MS) < heard.duration_ms)
            }
            // Paused or silent: they play on their own.
            _ => heard.playing,
        }
    }

    fn detach(&mut self, user: &UserId, listener: &mut Listener, step: &mut Step) {
        listener.state = ListeningState::Detached;
        listener.due = None;
        listener.stale = false;
        step.changed
            .push((user.clone(), Some(ListeningState::Detached)));
    }

    /// Takes `user`'s listener out for the answer of `epoch`, with why that call was made;
    /// `None` when that answer is not theirs (they left, or rejoined since).
    fn take_answering(&mut self, user: &UserId, epoch: u64) -> Option<(Listener, Why)> {
        if self
            .listeners
            .get(user)
            .is_none_or(|l| l.epoch != epoch || l.out.is_none())
        {
            return None;
        }
        let mut listener = self.listeners.remove(user)?;
        let why = listener.out.take()?;
        Some((listener, why))
    }

    fn resend_if_stale(
        &self,
        user: &UserId,
        listener: &mut Listener,
        now: Instant,
        step: &mut Step,
    ) {
        if listener.stale && listener.state == ListeningState::InSync {
            listener.stale = false;
            let call = self.command_at(now);
            step.orders
                .push(self.send(user, listener, call, Why::Mirror));
        }
    }

    fn send(&self, user: &UserId, listener: &mut Listener, call: Call, why: Why) -> Order {
        listener.epoch = listener.epoch.wrapping_add(1);
        listener.out = Some(why);
        listener.due = None;
        listener.stale = false;
        Order {
            user: user.clone(),
            device: listener.device.clone(),
            epoch: listener.epoch,
            call,
            why,
        }
    }
}

/// Whether the host's player moved in a way listeners must follow.
fn is_change(before: Option<&Played>, now: Option<&Played>) -> bool {
    let sounding = |p: Option<&Played>| p.filter(|p| p.playing).cloned();
    match (sounding(before), sounding(now)) {
        (None, None) => false,
        (Some(a), Some(b)) => {
            a.track != b.track || (b.position_at(b.at) - a.position_at(b.at)).abs() > SEEK_MS
        }
        _ => true,
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const CHECK: Duration = Duration::from_secs(30);
    const VERIFY: Duration = Duration::from_secs(4);

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn user(name: &str) -> UserId {
        UserId::new(name.to_owned())
    }

    fn device(name: &str) -> DeviceId {
        name.parse().unwrap()
    }

    fn played(track: &str, playing: bool, progress_ms: u32, at: Instant) -> Option<Played> {
        Some(Played {
            track: TrackId::new(track.to_owned()),
            uri: format!("spotify:track:{track}"),
            playing,
            progress_ms,
            at,
        })
    }

    fn heard(track: &str, dev: &str, playing: bool, progress_ms: u32) -> Option<Heard> {
        Some(Heard {
            track: Some(TrackId::new(track.to_owned())),
            device: Some(dev.to_owned()),
            playing,
            progress_ms,
            duration_ms: 200_000,
        })
    }

    /// A session playing track `a` with bob listening along on `bob-phone` since `t0`.
    fn with_bob(t0: Instant) -> Listening {
        let mut l = Listening::new(CHECK, VERIFY);
        l.observe_host(played("a", true, 10_000, t0), t0);
        let version = l.version();
        assert_eq!(
            l.command_at(t0),
            Call::Play {
                uri: "spotify:track:a".into(),
                position_ms: 10_300
            }
        );
        let step = l.joined(user("bob"), device("bob-phone"), version, t0);
        assert!(step.orders.is_empty());
        assert_eq!(
            step.changed,
            vec![(user("bob"), Some(ListeningState::InSync))]
        );
        l
    }

    fn only(step: &Step) -> &Order {
        assert_eq!(step.orders.len(), 1, "{step:?}");
        &step.orders[0]
    }

    #[test]
    fn a_track_change_is_one_play_from_the_hosts_position_plus_the_lead() {
        let t0 = Instant::now();
        let mut l = with_bob(t0);
        // Same track a second later: no news.
        assert!(
            l.observe_host(played("a", true, 11_000, t0 + s(1)), t0 + s(1))
                .orders
                .is_empty()
        );
        // The next track, answered 200 ms before the hub saw it.
        let answered = t0 + s(2);
        let step = l.observe_host(
            played("b", true, 500, answered),
            answered + Duration::from_millis(200),
        );
        let order = only(&step);
        assert_eq!(order.why, Why::Mirror);
        assert_eq!(
            order.call,
            Call::Play {
                uri: "spotify:track:b".into(),
                position_ms: 500 + 200 + 300
            }
        );
        assert_eq!(order.device, device("bob-phone"));
    }

    #[test]
    fn pause_resume_and_seek_are_mirrored_and_drift_within_the_poll_is_not() {
        let t0 = Instant::now();
        let mut l = with_bob(t0);
        let step = l.observe_host(played("a", false, 12_000, t0 + s(2)), t0 + s(2));
        assert_eq!(only(&step).call, Call::Pause);
        let epoch = only(&step).epoch;
        l.answered(&user("bob"), epoch, Ok(()), t0 + s(2));
        // Paused and still paused: nothing.
        assert!(
            l.observe_host(played("a", false, 12_000, t0 + s(3)), t0 + s(3))
                .orders
                .is_empty()
        );
        let step = l.observe_host(played("a", true, 12_000, t0 + s(4)), t0 + s(4));
        assert!(matches!(
            only(&step).call,
            Call::Play {
                position_ms: 12_300,
                ..
            }
        ));
        l.answered(&user("bob"), only(&step).epoch, Ok(()), t0 + s(4));
        // 1.5 s of normal jitter is not a seek; a jump of a minute is.
        assert!(
            l.observe_host(played("a", true, 14_500, t0 + s(5)), t0 + s(5))
                .orders
                .is_empty()
        );
        let step = l.observe_host(played("a", true, 80_000, t0 + s(6)), t0 + s(6));
        assert!(matches!(
            only(&step).call,
            Call::Play {
                position_ms: 80_300,
                ..
            }
        ));
    }

    #[test]
    fn a_command_is_read_back_after_the_verify_delay_and_large_drift_is_corrected_once_per_gap() {
        let t0 = Instant::now();
        let mut l = with_bob(t0);
        assert_eq!(l.deadline(), Some(t0 + VERIFY));
        assert!(
            l.due(t0 + VERIFY - Duration::from_millis(1))
                .orders
                .is_empty()
        );
        let step = l.due(t0 + VERIFY);
        let order = only(&step).clone();
        assert_eq!((order.call.clone(), order.why), (Call::Read, Why::Verify));
        // Nothing else is due while the read is out.
        assert_eq!(l.deadline(), None);
        // The host is at 14 s; bob at 17 s: 3 s ahead.
        let at = t0 + VERIFY;
        let step = l.read(
            &user("bob"),
            order.epoch,
            Ok(heard("a", "bob-phone", true, 17_000)),
            at,
        );
        let fix = only(&step).clone();
        assert_eq!(fix.why, Why::Correct);
        assert_eq!(
            fix.call,
            Call::Play {
                uri: "spotify:track:a".into(),
                position_ms: 14_300
            }
        );
        l.answered(&user("bob"), fix.epoch, Ok(()), at);
        // Still off 4 s later: no second correction inside the gap.
        let verify = only(&l.due(at + VERIFY)).clone();
        let step = l.read(
            &user("bob"),
            verify.epoch,
            Ok(heard("a", "bob-phone", true, 30_000)),
            at + VERIFY,
        );
        assert!(step.orders.is_empty() && step.changed.is_empty());
        assert_eq!(l.deadline(), Some(at + VERIFY + CHECK));
        // Within the tolerance: the next read is a light check, 30 s on.
        let mut m = with_bob(t0);
        let verify = only(&m.due(t0 + VERIFY)).clone();
        let step = m.read(
            &user("bob"),
            verify.epoch,
            Ok(heard("a", "bob-phone", true, 15_500)),
            t0 + VERIFY,
        );
        assert!(step.orders.is_empty());
        assert_eq!(m.deadline(), Some(t0 + VERIFY + CHECK));
    }

    #[test]
    fn a_light_check_only_notices_a_listener_who_left_and_then_nothing_reaches_them() {
        let t0 = Instant::now();
        let mut l = with_bob(t0);
        let verify = only(&l.due(t0 + VERIFY)).clone();
        l.read(
            &user("bob"),
            verify.epoch,
            Ok(heard("a", "bob-phone", true, 14_300)),
            t0 + VERIFY,
        );
        // A light check far off in position corrects nothing (only verifies do).
        let at = t0 + VERIFY + CHECK;
        let check = only(&l.due(at)).clone();
        assert_eq!(check.why, Why::Check);
        let step = l.read(
            &user("bob"),
            check.epoch,
            Ok(heard("a", "bob-phone", true, 90_000)),
            at,
        );
        assert!(step.orders.is_empty() && step.changed.is_empty());
        // Another track: detached.
        let at = at + CHECK;
        let check = only(&l.due(at)).clone();
        let step = l.read(
            &user("bob"),
            check.epoch,
            Ok(heard("zzz", "bob-phone", true, 1_000)),
            at,
        );
        assert_eq!(
            step.changed,
            vec![(user("bob"), Some(ListeningState::Detached))]
        );
        assert_eq!(l.state(&user("bob")), Some(ListeningState::Detached));
        // No call, ever: not for a track change, not for a check.
        assert_eq!(l.deadline(), None);
        assert!(
            l.observe_host(played("b", true, 0, at), at)
                .orders
                .is_empty()
        );
        assert!(l.due(at + CHECK * 10).orders.is_empty());
        // Opting in again puts them back in sync.
        let version = l.version();
        l.joined(user("bob"), device("bob-phone"), version, at);
        assert_eq!(l.state(&user("bob")), Some(ListeningState::InSync));
    }

    #[test]
    fn what_counts_as_leaving() {
        let t0 = Instant::now();
        let l = with_bob(t0);
        let bob = l.listeners.get(&user("bob")).unwrap();
        assert!(!l.left(bob, heard("a", "bob-phone", true, 1).as_ref()));
        assert!(
            l.left(bob, heard("a", "bob-laptop", true, 1).as_ref()),
            "another device"
        );
        assert!(
            l.left(bob, heard("b", "bob-phone", true, 1).as_ref()),
            "another track"
        );
        assert!(
            l.left(bob, heard("a", "bob-phone", false, 50_000).as_ref()),
            "paused"
        );
        assert!(
            !l.left(bob, heard("a", "bob-phone", false, 198_000).as_ref()),
            "the track's end"
        );
        assert!(l.left(bob, None), "Spotify closed");
        let mut paused = with_bob(t0);
        paused.observe_host(played("a", false, 10_000, t0), t0);
        let bob = paused.listeners.get(&user("bob")).unwrap();
        assert!(!paused.left(bob, heard("a", "bob-phone", false, 1).as_ref()));
        assert!(!paused.left(bob, None));
        assert!(
            paused.left(bob, heard("x", "bob-phone", true, 1).as_ref()),
            "plays on their own"
        );
    }

    #[test]
    fn a_change_while_a_call_is_out_goes_when_it_answers_and_a_stale_read_is_not_judged() {
        let t0 = Instant::now();
        let mut l = with_bob(t0);
        let verify = only(&l.due(t0 + VERIFY)).clone();
        // The track changes while the read is out: nothing is sent yet (one call at a time).
        let at = t0 + VERIFY + Duration::from_millis(100);
        assert!(
            l.observe_host(played("b", true, 0, at), at)
                .orders
                .is_empty()
        );
        // The read shows the old track: not a listener who left; the change goes now.
        let step = l.read(
            &user("bob"),
            verify.epoch,
            Ok(heard("a", "bob-phone", true, 14_000)),
            at,
        );
        assert!(step.changed.is_empty());
        let order = only(&step);
        assert!(matches!(&order.call, Call::Play { uri, .. } if uri == "spotify:track:b"));
        // An answer with an old epoch changes nothing.
        assert_eq!(
            l.answered(&user("bob"), verify.epoch, Ok(()), at),
            Step::default()
        );
    }

    #[test]
    fn failures_drop_detach_or_retry_later() {
        let t0 = Instant::now();
        let mut l = with_bob(t0);
        let step = l.observe_host(played("b", true, 0, t0 + s(1)), t0 + s(1));
        let play = only(&step).clone();
        // A passing failure: the command is sent again a check interval later.
        let step = l.answered(&user("bob"), play.epoch, Err(Failure::Passing), t0 + s(1));
        assert!(step.orders.is_empty());
        assert_eq!(l.deadline(), Some(t0 + s(1) + CHECK));
        let again = only(&l.due(t0 + s(1) + CHECK)).clone();
        assert_eq!(again.why, Why::Resend);
        assert!(matches!(again.call, Call::Play { .. }));
        // Premium required (or a revoked login): gone, no retry.
        let step = l.answered(&user("bob"), again.epoch, Err(Failure::Drop), t0 + s(32));
        assert_eq!(step.changed, vec![(user("bob"), None)]);
        assert!(l.is_empty());
        // A device that went away: detached.
        let mut m = with_bob(t0);
        let play = only(&m.observe_host(played("b", true, 0, t0 + s(1)), t0 + s(1))).clone();
        let step = m.answered(&user("bob"), play.epoch, Err(Failure::Detach), t0 + s(1));
        assert_eq!(
            step.changed,
            vec![(user("bob"), Some(ListeningState::Detached))]
        );
    }

    #[test]
    fn defaults_cost_about_two_reads_a_minute_when_nothing_happens() {
        let t0 = Instant::now();
        let mut l = with_bob(t0);
        let mut calls = 0;
        let mut now = t0;
        let end = t0 + s(600);
        while let Some(at) = l.deadline().filter(|&at| at <= end) {
            now = at;
            for order in l.due(now).orders {
                calls += 1;
                assert_eq!(order.call, Call::Read);
                let position = u32::try_from(10_000 + (now - t0).as_millis()).unwrap();
                l.read(
                    &order.user,
                    order.epoch,
                    Ok(heard("a", "bob-phone", true, position)),
                    now,
                );
            }
        }
        assert!(now > t0 + s(560));
        // Ten minutes: one verify and then a light check every 30 s.
        assert!(calls <= 21, "{calls} calls in ten minutes");
        // And a detachment shows within one check interval of leaving.
        assert!(CHECK + VERIFY <= s(35));
    }

    #[test]
    fn a_restored_listener_is_put_in_step_by_the_first_poll() {
        let t0 = Instant::now();
        let mut l = Listening::new(CHECK, VERIFY);
        l.restore(user("bob"), device("bob-phone"), ListeningState::InSync, t0);
        l.restore(
            user("carol"),
            device("carol-laptop"),
            ListeningState::Detached,
            t0,
        );
        let step = l.observe_host(played("a", true, 5_000, t0), t0);
        assert_eq!(only(&step).user, user("bob"));
    }

    #[derive(Debug, Clone)]
    enum Input {
        Host {
            track: u8,
            playing: bool,
            progress_s: u8,
        },
        Due,
        Answer {
            who: u8,
            ok: u8,
        },
        Read {
            who: u8,
            track: u8,
            playing: bool,
            progress_s: u8,
        },
        Join {
            who: u8,
        },
        Remove {
            who: u8,
        },
        Wait {
            s: u8,
        },
    }

    fn input() -> impl Strategy<Value = Input> {
        prop_oneof![
            (0u8..3, any::<bool>(), 0u8..200).prop_map(|(track, playing, progress_s)| {
                Input::Host {
                    track,
                    playing,
                    progress_s,
                }
            }),
            Just(Input::Due),
            (0u8..3, 0u8..4).prop_map(|(who, ok)| Input::Answer { who, ok }),
            (0u8..3, 0u8..3, any::<bool>(), 0u8..200).prop_map(
                |(who, track, playing, progress_s)| Input::Read {
                    who,
                    track,
                    playing,
                    progress_s
                }
            ),
            (0u8..3).prop_map(|who| Input::Join { who }),
            (0u8..3).prop_map(|who| Input::Remove { who }),
            (0u8..40).prop_map(|s| Input::Wait { s }),
        ]
    }

    proptest! {
        /// Whatever happens: no call to a detached or removed listener, one call out per
        /// listener at a time, and at most one correction per listener per gap.
        #[test]
        fn never_a_call_to_a_detached_listener_and_corrections_are_throttled(inputs in proptest::collection::vec(input(), 1..120)) {
            let t0 = Instant::now();
            let mut now = t0;
            let mut l = Listening::new(CHECK, VERIFY);
            let names = ["bob", "carol", "dave"];
            let mut out: BTreeMap<UserId, Order> = BTreeMap::new();
            let mut corrections: BTreeMap<UserId, Instant> = BTreeMap::new();
            for input in inputs {
                let step = match input {
                    Input::Host { track, playing, progress_s } => l.observe_host(
                        played(&format!("t{track}"), playing, u32::from(progress_s) * 1000, now), now),
                    Input::Due => l.due(now),
                    Input::Answer { who, ok } => {
                        let u = user(names[usize::from(who)]);
                        match out.get(&u).cloned() {
                            Some(order) if order.call != Call::Read => {
                                let result = match ok { 0 => Err(Failure::Drop), 1 => Err(Failure::Detach), 2 => Err(Failure::Passing), _ => Ok(()) };
                                out.remove(&u);
                                l.answered(&u, order.epoch, result, now)
                            }
                            _ => Step::default(),
                        }
                    }
                    Input::Read { who, track, playing, progress_s } => {
                        let u = user(names[usize::from(who)]);
                        match out.get(&u).cloned() {
                            Some(order) if order.call == Call::Read => {
                                out.remove(&u);
                                let dev = format!("{}-dev", names[usize::from(who)]);
                                l.read(&u, order.epoch, Ok(heard(&format!("t{track}"), &dev, playing, u32::from(progress_s) * 1000)), now)
                            }
                            _ => Step::default(),
                        }
                    }
                    Input::Join { who } => {
                        let u = user(names[usize::from(who)]);
                        out.remove(&u);
                        let version = l.version();
                        l.joined(u, device(&format!("{}-dev", names[usize::from(who)])), version, now)
                    }
                    Input::Remove { who } => {
                        let u = user(names[usize::from(who)]);
                        out.remove(&u);
                        l.remove(&u);
                        Step::default()
                    }
                    Input::Wait { s } => { now += Duration::from_secs(u64::from(s)); Step::default() }
                };
                for (u, state) in &step.changed {
                    if *state != Some(ListeningState::InSync) {
                        out.remove(u);
                    }
                }
                for order in step.orders {
                    prop_assert_eq!(l.state(&order.user), Some(ListeningState::InSync), "{:?}", order);
                    prop_assert!(!out.contains_key(&order.user), "two calls out for {:?}", order.user);
                    if order.why == Why::Correct {
                        if let Some(last) = corrections.get(&order.user) {
                            prop_assert!(now.saturating_duration_since(*last) >= CORRECTION_GAP);
                        }
                        corrections.insert(order.user.clone(), now);
                    }
                    out.insert(order.user.clone(), order);
                }
            }
        }
    }
}
