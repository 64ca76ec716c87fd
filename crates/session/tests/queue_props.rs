//! The collaborative queue's promises, as properties over random sequences of operations
//! on a playing session: the events, the pinned entries, the two orders, the host's
//! limits, skip votes and bans.
// Test helpers outside #[test] fns may unwrap too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use common::ops::*;
use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use sesh_session::*;

/// A playing session to run the operations on.
#[derive(Debug, Clone)]
struct Setup {
    /// Top tracks of carol, dave, … who join before the start (alice and bob are there).
    joiners: Vec<Vec<u8>>,
    /// carol (if she joined) is a co-host.
    co_host: bool,
    /// Votes order: `None` no (fair), `Some(true)` chosen in the lobby, `Some(false)` once
    /// playing (which re-sorts the queue).
    votes: Option<bool>,
    max_queued_per_member: u32,
    no_replay_plays: u32,
    seed: u64,
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        prop::collection::vec(track_ids(), 0..4),
        any::<bool>(),
        prop::option::of(any::<bool>()),
        1..4u32,
        0..4u32,
        any::<u64>(),
    )
        .prop_map(
            |(joiners, co_host, votes, max_queued_per_member, no_replay_plays, seed)| Setup {
                joiners,
                co_host,
                votes,
                max_queued_per_member,
                no_replay_plays,
                seed,
            },
        )
}

impl Setup {
    fn session(&self) -> Session {
        let alice = user("alice");
        let mut session = lobby_with_bob();
        for (i, ids) in self.joiners.iter().enumerate() {
            let member = NewMember::new(user(USERS[i + 2]), display_name(i + 2), tracks_from(ids));
            session
                .join(member, 10 + i as i64, &mut rng(self.seed))
                .unwrap();
        }
        if self.co_host && !self.joiners.is_empty() {
            session
                .set_role(&alice, &user("carol"), Role::CoHost)
                .unwrap();
        }
        let mut limits = QueueSettingsPatch {
            max_queued_per_member: Some(self.max_queued_per_member),
            no_replay_plays: Some(self.no_replay_plays),
            ..QueueSettingsPatch::default()
        };
        let order = QueueSettingsPatch {
            queue_order: Some(QueueOrder::Votes),
            ..QueueSettingsPatch::default()
        };
        if self.votes == Some(true) {
            limits.queue_order = Some(QueueOrder::Votes);
        }
        session.set_queue_settings(&alice, &limits).unwrap();
        session
            .start(&alice, DeviceId::new("phone"), &mut rng(self.seed))
            .unwrap();
        if self.votes == Some(false) {
            session.set_queue_settings(&alice, &order).unwrap();
        }
        session
    }
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(queue_op(), 0..60)
}

/// One operation and what it did.
struct Step<'a> {
    before: &'a Session,
    op: &'a Op,
    result: &'a Result<Vec<Event>, SessionError>,
    after: &'a Session,
    /// The answer of a `VoteSkip` that was accepted.
    skip: Option<&'a SkipVote>,
}

impl Step<'_> {
    fn actor(&self) -> Option<UserId> {
        let actor = match self.op {
            Op::AddTrack(a, ..)
            | Op::Vote(a, ..)
            | Op::VoteSkip(a, _)
            | Op::BanTrack(a, _)
            | Op::SetQueueSettings(a, _) => *a,
            _ => return None,
        };
        Some(user(USERS[actor]))
    }

    fn moved(&self) -> bool {
        self.after.position() != self.before.position()
    }
}

/// Runs `ops` on the setup's session, checking after each that a refusal changed nothing
/// and that the session still restores, then `check`.
fn run(
    setup: &Setup,
    ops: &[Op],
    mut check: impl FnMut(&Step) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let mut session = setup.session();
    let mut rng = rng(setup.seed);
    let mut scratch = Scratch::default();
    for (i, op) in ops.iter().enumerate() {
        let before = session.clone();
        let result = apply(&mut session, &mut scratch, op, &mut rng, 10_000 + i as i64);
        if result.is_err() {
            prop_assert_eq!(
                &session,
                &before,
                "a refusal changes nothing: {:?} {:?}",
                op,
                result
            );
        }
        prop_assert!(
            Session::from_parts(session.clone().into_parts()).is_ok(),
            "{:?}",
            op
        );
        check(&Step {
            before: &before,
            op,
            result: &result,
            after: &session,
            skip: scratch.skip.as_ref(),
        })?;
    }
    Ok(())
}

/// Whose turn each entry is in the fair order: an owner's k-th entry (from 0) is round k.
fn rounds(entries: &[QueueEntry]) -> Vec<usize> {
    let mut seen: BTreeMap<&UserId, usize> = BTreeMap::new();
    entries
        .iter()
        .map(|e| {
            let count = seen.entry(e.owner().unwrap()).or_default();
            *count += 1;
            *count - 1
        })
        .collect()
}

/// The votes order: more net votes first, then the older (smaller id).
fn votes_sorted(entries: &[QueueEntry]) -> bool {
    let keys: Vec<_> = entries
        .iter()
        .map(|e| (Reverse(e.net_votes()), e.id))
        .collect();
    keys.windows(2).all(|w| w[0] < w[1])
}

/// What `add_track` must answer, from the documented rules in their documented order.
fn expected_add(before: &Session, actor: &UserId, track: &Track) -> Result<(), SessionError> {
    before.authorize(actor, Action::AddTrack)?;
    if before.state() != SessionState::Playing {
        return Err(SessionError::NotStarted);
    }
    let settings = before.settings();
    let moderator = before.member(actor).is_some_and(Member::is_moderator);
    if settings.adding_locked && !moderator {
        return Err(SessionError::AddingLocked);
    }
    if before.banned_tracks().contains(&track.id) {
        return Err(SessionError::TrackBanned);
    }
    if track.duration_ms > settings.max_track_ms {
        return Err(SessionError::TrackTooLong {
            max_ms: settings.max_track_ms,
        });
    }
    let p = before.position();
    let (played, upcoming) = before.queue().split_at(p + 1);
    if let Some(entry) = upcoming.iter().find(|e| e.track.id == track.id) {
        return Err(SessionError::AlreadyQueued { id: entry.id });
    }
    let recent = played.iter().rev().take(settings.no_replay_plays as usize);
    if recent.clone().any(|e| e.track.id == track.id) {
        return Err(SessionError::RecentlyPlayed {
            within: settings.no_replay_plays,
        });
    }
    let waiting = upcoming
        .iter()
        .filter(|e| e.origin == EntryOrigin::Added && e.added_by.first() == Some(actor))
        .count();
    if !moderator && waiting >= settings.max_queued_per_member as usize {
        return Err(SessionError::MemberQueueFull {
            limit: settings.max_queued_per_member,
        });
    }
    Ok(())
}

/// `skip_threshold` written out again: ⌈n/2⌉, but at most 2 + ⌊log₂ n⌋.
fn threshold(n: u64) -> u64 {
    let half = (n as f64 / 2.0).ceil() as u64;
    let mut log = 0;
    while 1u64 << (log + 1) <= n {
        log += 1;
    }
    half.min(2 + log)
}

// The checks of the properties below (each property's doc says what it checks), run after
// every step.

fn check_pinned(step: &Step) -> Result<(), TestCaseError> {
    let (before, after) = (step.before, step.after);
    if let Some(id) = after.committed() {
        prop_assert_eq!(after.next_entry().map(|e| e.id), Some(id));
    }
    if step.moved() {
        prop_assert!(
            matches!(step.op, Op::Next | Op::MoveTo(_)),
            "{:?} moved",
            step.op
        );
        prop_assert_eq!(after.committed(), None, "a move unpins");
        return Ok(());
    }
    if before.state() != SessionState::Playing {
        return Ok(());
    }
    let p = before.position();
    prop_assert_eq!(
        entry_ids(&after.queue()[..=p]),
        entry_ids(&before.queue()[..=p]),
        "{:?}",
        step.op
    );
    if let Some(id) = before.committed() {
        if after.state() == SessionState::Ended {
            prop_assert_eq!(after.committed(), None, "an ended session pins nothing");
        } else if after.entry(id).is_some() {
            prop_assert_eq!(after.committed(), Some(id), "{:?}", step.op);
            prop_assert_eq!(after.entry_index(id), Some(p + 1), "{:?}", step.op);
        } else {
            prop_assert!(
                matches!(step.op, Op::RemoveEntry(..) | Op::BanTrack(..)),
                "{:?}",
                step.op
            );
        }
    }
    if let Op::CommitNext(_) = step.op {
        match step.result {
            Ok(events) if events.is_empty() => prop_assert_eq!(after, before),
            Ok(events) => {
                let next = before.next_entry().unwrap().id;
                prop_assert_eq!(events, &vec![Event::EntryCommitted { id: next }]);
                prop_assert_eq!(before.committed(), None);
                prop_assert_eq!(after.committed(), Some(next));
            }
            Err(e) => prop_assert_eq!(e.code(), "invalid_target"),
        }
    }
    Ok(())
}

fn check_votes_order(step: &Step, went_back: &mut bool) -> Result<(), TestCaseError> {
    let after = step.after;
    *went_back |= after.position() < step.before.position();
    if after.state() != SessionState::Playing || after.settings().queue_order != QueueOrder::Votes {
        return Ok(());
    }
    let sorts = match (step.op, step.result) {
        (Op::Vote(..), Ok(events)) => !events.is_empty(),
        (Op::SetQueueSettings(..), Ok(_)) => step.before.settings().queue_order == QueueOrder::Fair,
        // An add, or a member's top tracks woven in.
        (_, Ok(events)) => events.iter().any(|e| matches!(e, Event::EntryAdded { .. })),
        _ => false,
    };
    if sorts {
        *went_back = false;
    }
    if !*went_back {
        let movable = &after.queue()[after.movable_from()..];
        prop_assert!(
            votes_sorted(movable),
            "after {:?}: {:?}",
            step.op,
            seen(movable)
        );
    }
    Ok(())
}

fn check_fair_add(step: &Step) -> Result<(), TestCaseError> {
    let (before, Op::AddTrack(..), Ok(events)) = (step.before, step.op, step.result) else {
        return Ok(());
    };
    if before.settings().queue_order != QueueOrder::Fair {
        return Ok(());
    }
    let [Event::EntryAdded { index, .. }] = events[..] else {
        return Err(TestCaseError::fail(format!("an add gave {events:?}")));
    };
    let actor = step.actor().unwrap();
    let first = before.position() + 1;
    let upcoming = &before.queue()[first..];
    let rounds = rounds(upcoming);
    let r = upcoming
        .iter()
        .filter(|e| e.owner() == Some(&actor))
        .count();
    prop_assert!(index >= before.movable_from());
    let at = index - first;
    prop_assert!(
        rounds[at..].iter().all(|&k| k > r),
        "{} upcoming, at {} of rounds {:?}",
        r,
        at,
        rounds
    );
    prop_assert!(
        index == before.movable_from() || at == 0 || rounds[at - 1] <= r,
        "at {} of rounds {:?}",
        at,
        rounds
    );
    if rounds.is_sorted() {
        prop_assert_eq!(
            Some(at),
            rounds.iter().position(|&k| k > r).or(Some(rounds.len()))
        );
    }
    Ok(())
}

fn check_add(step: &Step) -> Result<(), TestCaseError> {
    let Op::AddTrack(_, n, duration_ms) = step.op else {
        return Ok(());
    };
    let actor = step.actor().unwrap();
    let track = added(*n, *duration_ms);
    let expected = expected_add(step.before, &actor, &track);
    prop_assert_eq!(
        step.result.clone().map(|_| ()),
        expected.clone(),
        "{:?}",
        step.op
    );
    // The check before the lookup (no length yet) agrees with the add on every refusal but
    // the length, and never refuses an add that succeeds.
    let checked = step.before.check_add(&actor, &track.id);
    match &expected {
        Err(SessionError::TrackTooLong { .. }) => {}
        other => prop_assert_eq!(&checked, other, "check_add for {:?}", step.op),
    }
    if let Ok(events) = step.result {
        // In votes order, after the host went back, a sort may come first.
        let (Some(Event::EntryAdded { entry, index }), sorted) =
            (events.last(), &events[..events.len() - 1])
        else {
            return Err(TestCaseError::fail(format!("an add gave {events:?}")));
        };
        prop_assert!(
            matches!(sorted, [] | [Event::QueueReordered { .. }]),
            "an add gave {:?}",
            events
        );
        prop_assert_eq!(entry.id.get(), step.before.next_entry_id());
        prop_assert_eq!(&entry.track, &track);
        prop_assert_eq!(&entry.added_by, &vec![actor.clone()]);
        prop_assert_eq!(entry.origin, EntryOrigin::Added);
        prop_assert_eq!(
            &entry.votes,
            &[(actor, Vote::Up)].into_iter().collect::<BTreeMap<_, _>>()
        );
        prop_assert_eq!(step.after.queue().get(*index), Some(entry));
    }
    Ok(())
}

fn check_vote(step: &Step) -> Result<(), TestCaseError> {
    let (before, after, Op::Vote(_, target, value)) = (step.before, step.after, step.op) else {
        return Ok(());
    };
    let actor = step.actor().unwrap();
    let id = target.id(before);
    let expected = before
        .authorize(&actor, Action::Vote)
        .and_then(|()| match before.state() {
            SessionState::Playing => Ok(()),
            _ => Err(SessionError::NotStarted),
        })
        .and_then(|()| {
            before
                .entry_index(id)
                .ok_or(SessionError::EntryNotFound { id })
        })
        .and_then(|index| {
            if index < before.movable_from() {
                Err(SessionError::EntryPinned { id })
            } else {
                Ok(index)
            }
        });
    match (expected, step.result) {
        (Err(e), result) => prop_assert_eq!(result, &Err(e)),
        (Ok(_), Err(e)) => prop_assert!(false, "refused {:?}", e),
        (Ok(index), Ok(events)) => {
            let old = before.queue()[index].vote_of(&actor);
            if old == *value {
                prop_assert!(events.is_empty());
                prop_assert_eq!(after, before);
                return Ok(());
            }
            // In votes order, after the host went back, a sort may come first.
            let sorted = matches!(events.first(), Some(Event::QueueReordered { .. }));
            prop_assert!(!sorted || before.settings().queue_order == QueueOrder::Votes);
            let events = &events[usize::from(sorted)..];
            let entry = after.entry(id).unwrap();
            prop_assert_eq!(entry.vote_of(&actor), *value);
            let net = before.queue()[index].net_votes() - i64::from(old) + i64::from(*value);
            prop_assert_eq!(entry.net_votes(), net);
            prop_assert_eq!(&events[0], &Event::EntryVotes { id, votes: net });
            // Every other entry keeps its place relative to the rest (unless sorted).
            let others = |s: &Session| {
                entry_ids(s.queue())
                    .into_iter()
                    .filter(|e| *e != id)
                    .collect::<Vec<_>>()
            };
            prop_assert!(sorted || others(after) == others(before));
            let moved = events.len() > 1 || !sorted && after.entry_index(id) != Some(index);
            match before.settings().queue_order {
                QueueOrder::Fair => prop_assert_eq!(events.len(), 1),
                QueueOrder::Votes if moved => prop_assert_eq!(
                    &events[1..],
                    &[Event::EntryMoved {
                        id,
                        index: after.entry_index(id).unwrap()
                    }][..]
                ),
                QueueOrder::Votes => prop_assert_eq!(events.len(), 1),
            }
        }
    }
    Ok(())
}

fn check_skip_vote(step: &Step, skipped: &mut bool) -> Result<(), TestCaseError> {
    let (before, after) = (step.before, step.after);
    if step.moved() || after.state() != SessionState::Playing {
        prop_assert!(
            after.skip_votes().is_empty(),
            "{:?} keeps skip votes",
            step.op
        );
        *skipped = false;
    }
    let Op::VoteSkip(_, connected) = step.op else {
        prop_assert_eq!(after.skip_called(), *skipped, "{:?}", step.op);
        return Ok(());
    };
    let actor = step.actor().unwrap();
    let Ok(events) = step.result else {
        let expected = before
            .authorize(&actor, Action::VoteSkip)
            .and(Err(SessionError::NotStarted));
        prop_assert_eq!(step.result.clone().map(|_| ()), expected);
        return Ok(());
    };
    let answer = step.skip.unwrap();
    let mut votes = before.skip_votes().clone();
    let voted = !votes.contains(&actor);
    if voted {
        votes.insert(actor.clone());
    } else {
        votes.remove(&actor);
    }
    prop_assert_eq!(answer.voted, voted);
    prop_assert_eq!(after.skip_votes(), &votes);
    let playing = before.now_playing().unwrap().id;
    prop_assert_eq!(
        events,
        &vec![Event::SkipVotes {
            entry_id: playing,
            votes: votes.len()
        }]
    );
    let reached = answer.voted && votes.len() as u64 >= threshold(*connected as u64).max(1);
    prop_assert_eq!(
        answer.skip,
        reached && !*skipped,
        "{} of {} connected",
        votes.len(),
        connected
    );
    *skipped |= answer.skip;
    prop_assert_eq!(after.skip_called(), *skipped);
    // The same member again takes it back (or gives it again).
    let mut again = after.clone();
    let second = again.vote_skip(&actor, *connected).unwrap();
    prop_assert_eq!(second.voted, !answer.voted);
    prop_assert_eq!(again.skip_votes(), before.skip_votes());
    Ok(())
}

fn check_ban(step: &Step, banned_below: &mut BTreeMap<TrackId, u64>) -> Result<(), TestCaseError> {
    let (before, after) = (step.before, step.after);
    match (step.op, step.result) {
        (Op::BanTrack(_, target), Ok(events)) => {
            let track = before.entry(target.id(before)).unwrap().track.id.clone();
            let first = before.position() + 1;
            let mut expected: Vec<Event> = before.queue()[first..]
                .iter()
                .filter(|e| e.track.id == track)
                .map(|e| Event::EntryRemoved { id: e.id })
                .collect();
            // Banning a banned track again with nothing of it upcoming changes nothing.
            if !before.banned_tracks().contains(&track) || !expected.is_empty() {
                expected.push(Event::TrackBanned {
                    track_id: track.clone(),
                });
            }
            prop_assert_eq!(events, &expected);
            prop_assert!(after.queue()[first..].iter().all(|e| e.track.id != track));
            banned_below.entry(track).or_insert(before.next_entry_id());
        }
        (Op::BanTrack(..), Err(e)) => {
            match before.authorize(&step.actor().unwrap(), Action::BanTrack) {
                Err(refused) => prop_assert_eq!(e, &refused),
                Ok(()) => prop_assert!(matches!(e, SessionError::EntryNotFound { .. }), "{:?}", e),
            }
        }
        _ => {}
    }
    for entry in after.queue() {
        if let Some(&below) = banned_below.get(&entry.track.id) {
            prop_assert!(
                entry.id.get() < below,
                "banned {} came back after {:?}",
                entry.track.id,
                step.op
            );
        }
    }
    Ok(())
}

fn check_queue_settings(step: &Step) -> Result<(), TestCaseError> {
    let (before, after, Op::SetQueueSettings(_, patch)) = (step.before, step.after, step.op) else {
        return Ok(());
    };
    let actor = step.actor().unwrap();
    let in_range = patch
        .max_queued_per_member
        .is_none_or(|v| (1..=50).contains(&v))
        && patch
            .max_track_ms
            .is_none_or(|v| (60_000..=3_600_000).contains(&v))
        && patch.no_replay_plays.is_none_or(|v| v <= 1000);
    match step.result {
        Err(e) => match before.authorize(&actor, Action::SetQueueSettings) {
            Err(refused) => prop_assert_eq!(e, &refused),
            Ok(()) => {
                prop_assert!(!in_range);
                prop_assert_eq!(e.code(), "invalid_settings");
            }
        },
        Ok(events) => {
            prop_assert!(in_range);
            let s = after.settings();
            let b = before.settings();
            prop_assert_eq!(s.queue_order, patch.queue_order.unwrap_or(b.queue_order));
            prop_assert_eq!(
                s.max_queued_per_member,
                patch
                    .max_queued_per_member
                    .unwrap_or(b.max_queued_per_member)
            );
            prop_assert_eq!(s.max_track_ms, patch.max_track_ms.unwrap_or(b.max_track_ms));
            prop_assert_eq!(
                s.no_replay_plays,
                patch.no_replay_plays.unwrap_or(b.no_replay_plays)
            );
            prop_assert_eq!(
                s.adding_locked,
                patch.adding_locked.unwrap_or(b.adding_locked)
            );
            if s == b {
                prop_assert!(events.is_empty());
                return Ok(());
            }
            prop_assert_eq!(
                &events[0],
                &Event::SettingsChanged {
                    settings: s.clone()
                }
            );
            match &events[1..] {
                [] => prop_assert_eq!(entry_ids(after.queue()), entry_ids(before.queue())),
                [Event::QueueReordered { from, .. }] => {
                    prop_assert_ne!(s.queue_order, b.queue_order);
                    prop_assert_eq!(*from, before.movable_from());
                }
                other => prop_assert!(false, "then {:?}", other),
            }
        }
    }
    Ok(())
}

fn check_authorize_skip(step: &Step) -> Result<(), TestCaseError> {
    let after = step.after;
    for name in USERS {
        let who = user(name);
        let adder = after.is_member(&who)
            && after.now_playing().is_some_and(|e| {
                e.origin == EntryOrigin::Added && e.added_by.first() == Some(&who)
            });
        let expected = if adder {
            Ok(())
        } else {
            after.authorize(&who, Action::Skip)
        };
        prop_assert_eq!(after.authorize_skip(&who), expected, "{}", name);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Applying each transition's events to the queue as it was gives the queue as it is
    /// (ids, order, credits, net votes), and the committed entry, skip votes, settings and
    /// banned tracks follow from them too.
    #[test]
    fn queue_events_describe_every_change(setup in setup(), ops in ops()) {
        run(&setup, &ops, |step| match step.result {
            Ok(events) => check_events(step.before, events, step.after),
            Err(_) => Ok(()),
        })?;
    }

    /// The played entries, the playing one and the committed one stay where they are
    /// unless the position moves, which only the player's reports do; the committed entry
    /// is always the one after the playing one, and is unpinned only by its removal (or
    /// the session ending).
    #[test]
    fn pinned_entries_stay_where_they_are(setup in setup(), ops in ops()) {
        run(&setup, &ops, check_pinned)?;
    }

    /// In votes order the entries that may move are always sorted by net votes, then by
    /// id. Only the host going back in their player (a move to an earlier entry, which
    /// has no event to reorder with) can leave played entries out of order among them;
    /// the next add or vote sorts them again.
    #[test]
    fn in_votes_order_the_movable_entries_stay_sorted(setup in setup(), ops in ops()) {
        let mut went_back = false;
        run(&setup, &ops, |step| check_votes_order(step, &mut went_back))?;
    }

    /// In fair order an add by a member with r upcoming entries joins round r: after every
    /// upcoming entry of round r or earlier, right after the last of them (so, when the
    /// rounds are in order, before the first entry of a later round), never before
    /// `movable_from`.
    #[test]
    fn fair_adds_join_their_owners_next_round(setup in setup(), ops in ops()) {
        run(&setup, &ops, check_fair_add)?;
    }

    /// Adds are refused exactly as the host's limits say, in the documented order (the
    /// host and co-hosts are exempt from the per-member limit and the lock), and an
    /// accepted add is the adder's, with their up vote and a fresh id.
    #[test]
    fn adds_are_refused_exactly_by_the_host_limits(setup in setup(), ops in ops()) {
        run(&setup, &ops, check_add)?;
    }

    /// A vote changes one entry's count (one `entry_votes` with its net votes), moves only
    /// that entry and only in votes order; played, playing and committed entries refuse
    /// votes; the same vote again changes nothing.
    #[test]
    fn votes_count_once_per_member_and_pinned_entries_refuse_them(setup in setup(), ops in ops()) {
        run(&setup, &ops, check_vote)?;
    }

    /// Skip votes toggle (twice gives the same votes back), and `skip` is set exactly once
    /// per playing entry: by the vote that reaches the threshold of the members connected.
    /// Another entry playing clears them.
    #[test]
    fn skip_votes_call_for_one_skip_per_playing_entry(setup in setup(), ops in ops()) {
        let mut skipped = false;
        run(&setup, &ops, |step| check_skip_vote(step, &mut skipped))?;
    }

    /// A ban takes every upcoming entry of the track out (one `entry_removed` each, the
    /// committed one too, then `track_banned`), and no new entry of it ever comes back:
    /// not by adding, not by a member joining or changing their top tracks.
    #[test]
    fn a_banned_track_never_comes_back(setup in setup(), ops in ops()) {
        let mut banned_below: BTreeMap<TrackId, u64> = BTreeMap::new();
        run(&setup, &ops, |step| check_ban(step, &mut banned_below))?;
    }

    /// The queue settings change only in range and only by the host; the host switching
    /// the order re-sorts the movable entries with one `queue_reordered` after
    /// `settings_changed`.
    #[test]
    fn queue_settings_change_in_range_and_reorder_once(setup in setup(), ops in ops()) {
        run(&setup, &ops, check_queue_settings)?;
    }

    /// Who may skip outright: whom the rule table lets (`Action::Skip`), and the member
    /// who added the entry playing now.
    #[test]
    fn the_adder_of_the_playing_entry_may_skip_it(setup in setup(), ops in ops()) {
        run(&setup, &ops, check_authorize_skip)?;
    }
}

proptest! {
    /// `min(⌈n/2⌉, 2 + ⌊log₂ n⌋)`, at least 1 and at most n, for rooms of any size.
    #[test]
    fn the_skip_threshold_follows_the_formula(n in 1..(1usize << 40)) {
        let needed = skip_threshold(n);
        prop_assert_eq!(needed as u64, threshold(n as u64));
        prop_assert!((1..=n).contains(&needed));
        prop_assert!(skip_threshold(n + 1) >= needed);
    }
}

#[test]
fn the_skip_threshold_grows_with_the_room_and_never_asks_for_more_than_it_has() {
    assert_eq!(skip_threshold(0), 1, "at least one vote");
    let mut last = 1;
    for n in 1..=5_000 {
        let needed = skip_threshold(n);
        assert_eq!(needed as u64, threshold(n as u64), "{n} connected");
        assert!((1..=n).contains(&needed), "{n} connected: {needed}");
        assert!(needed >= last, "{n} connected: {needed} after {last}");
        last = needed;
    }
    assert_eq!(skip_threshold(5), 3, "three of five");
    assert_eq!(skip_threshold(100), 8, "eight of a hundred, not fifty");
}

/// The generators reach every answer the properties above are about: without this, a
/// property could pass by never meeting its case.
#[test]
fn the_operations_reach_every_refusal_and_a_skip() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let mut codes: BTreeSet<(&'static str, &'static str)> = BTreeSet::new();
    let mut skips = 0;
    for _ in 0..96 {
        let setup = setup().new_tree(&mut runner).unwrap().current();
        let ops = ops().new_tree(&mut runner).unwrap().current();
        run(&setup, &ops, |step| {
            let kind = match step.op {
                Op::AddTrack(..) => "add",
                Op::Vote(..) => "vote",
                Op::VoteSkip(..) => "skip",
                Op::BanTrack(..) => "ban",
                Op::SetQueueSettings(..) => "settings",
                Op::CommitNext(..) => "commit",
                _ => "other",
            };
            match step.result {
                Err(e) => {
                    codes.insert((kind, e.code()));
                }
                Ok(events) => {
                    codes.insert((kind, "ok"));
                    if events.iter().any(|e| matches!(e, Event::EntryMoved { .. })) {
                        codes.insert((kind, "moved"));
                    }
                    if events
                        .iter()
                        .any(|e| matches!(e, Event::QueueReordered { .. }))
                    {
                        codes.insert((kind, "reordered"));
                    }
                }
            }
            skips += usize::from(step.skip.is_some_and(|s| s.skip));
            Ok(())
        })
        .unwrap();
    }
    let wanted = [
        ("add", "ok"),
        ("add", "member_queue_full"),
        ("add", "track_too_long"),
        ("add", "recently_played"),
        ("add", "already_queued"),
        ("add", "track_banned"),
        ("add", "adding_locked"),
        ("add", "not_a_member"),
        ("vote", "ok"),
        ("vote", "moved"),
        ("vote", "entry_pinned"),
        ("vote", "entry_not_found"),
        ("skip", "ok"),
        ("ban", "ok"),
        ("ban", "forbidden"),
        ("settings", "ok"),
        ("settings", "reordered"),
        ("settings", "invalid_settings"),
        ("commit", "ok"),
        ("commit", "invalid_target"),
    ];
    for case in wanted {
        assert!(codes.contains(&case), "never reached {case:?}");
    }
    assert!(skips > 0, "no skip vote ever reached the threshold");
}
