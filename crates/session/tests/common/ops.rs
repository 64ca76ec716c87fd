//! The op-sequence model the property tests share: one operation per transition, drawn at
//! random, [`apply`] to run one on a session, and [`check_events`], what every accepted
//! operation's events must tell a consumer.

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use rand::rngs::StdRng;
use sesh_session::*;

use super::{replay, seen, track, user};

/// Users: 0 is the host `alice`, 1 the bystander `bob` (a guest who never acts in the
/// member properties), the rest are guests or outsiders depending on what the sequence does.
pub const USERS: [&str; 7] = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"];

/// An id no entry ever gets in these tests.
pub const UNKNOWN_ENTRY: QueueEntryId = QueueEntryId::new(999_999);

#[derive(Debug, Clone)]
pub enum Op {
    Join(usize, Vec<u8>),
    Leave(usize),
    Kick(usize, usize),
    Transfer(usize, usize),
    SetTracks(usize, usize, Vec<u8>),
    Start(usize),
    End(usize),
    SetMode(usize, bool),
    Rename(usize, Option<u8>),
    Rotate(usize, u64),
    Unban(usize, usize),
    /// The gateway reports this position.
    Advance(usize),
    SetRole(usize, usize, bool),
    SetPermissions(usize, u16),
    Reshuffle(usize),
    SetDevice(usize, u8),
    RemoveEntry(usize, Index),
    PlanStart(usize),
    StartPlanned(usize),
    /// Actor, track `t{n}`, its duration in ms.
    AddTrack(usize, u8, u32),
    /// Actor, entry, vote value (1, 0 or −1).
    Vote(usize, Target, i8),
    /// Actor, members connected.
    VoteSkip(usize, usize),
    BanTrack(usize, Target),
    SetQueueSettings(usize, QueueSettingsPatch),
    /// The gateway commits the next entry (`None`) or names any entry of the queue.
    CommitNext(Option<Index>),
    /// The gateway reports the next entry playing.
    Next,
    /// The gateway reports any entry of the queue playing (the host skipped or went back).
    MoveTo(Index),
    /// Actor, the key's seed, whether it shows the join link.
    CreateDisplay(usize, u64, bool),
    /// Actor, one of the session's keys (`None`: one it does not have).
    RevokeDisplay(usize, Option<Index>),
}

impl Op {
    /// The gateway's reports on the player, not a member's action.
    pub fn is_report(&self) -> bool {
        matches!(
            self,
            Op::Advance(_) | Op::Next | Op::MoveTo(_) | Op::CommitNext(_)
        )
    }
}

/// Which entry an operation names.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// One that may move (any, when none may).
    Movable(Index),
    /// Any entry, played, playing and pinned ones too.
    Any(Index),
    /// One the queue does not have.
    Unknown,
}

impl Target {
    pub fn id(self, session: &Session) -> QueueEntryId {
        let queue = session.queue();
        let pick = |entries: &[QueueEntry], index: Index| match entries {
            [] => UNKNOWN_ENTRY,
            entries => entries[index.index(entries.len())].id,
        };
        match self {
            Target::Movable(index) if session.movable_from() < queue.len() => {
                pick(&queue[session.movable_from()..], index)
            }
            Target::Movable(index) | Target::Any(index) => pick(queue, index),
            Target::Unknown => UNKNOWN_ENTRY,
        }
    }
}

pub fn track_ids() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0..12u8, 0..7)
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        6 => any::<Index>().prop_map(Target::Movable),
        3 => any::<Index>().prop_map(Target::Any),
        1 => Just(Target::Unknown),
    ]
}

/// Track numbers for adds: `t0`…`t11` are also top tracks, the rest only ever added.
fn added_track() -> impl Strategy<Value = u8> {
    0..20u8
}

/// Durations around the default limit (10 minutes) and the settings' range (1 min – 1 h).
fn duration() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => 30_000..700_000u32,
        1 => Just(600_000u32),
        1 => Just(600_001u32),
        1 => 700_000..4_000_000u32,
    ]
}

/// Queue settings patches, in range and out of it.
pub fn patch() -> impl Strategy<Value = QueueSettingsPatch> {
    let order = prop::option::weighted(
        0.6,
        any::<bool>().prop_map(|votes| {
            if votes {
                QueueOrder::Votes
            } else {
                QueueOrder::Fair
            }
        }),
    );
    let per_member = prop::option::of(prop_oneof![0..5u32, Just(50u32), Just(51u32)]);
    let track_ms = prop::option::of(prop_oneof![
        Just(59_999u32),
        Just(60_000u32),
        Just(179_999u32),
        Just(600_000u32),
        60_000..3_600_001u32,
        Just(3_600_001u32),
    ]);
    let no_replay = prop::option::of(prop_oneof![0..5u32, Just(1000u32), Just(1001u32)]);
    let locked = prop::option::weighted(0.3, any::<bool>());
    (order, per_member, track_ms, no_replay, locked).prop_map(
        |(queue_order, max_queued_per_member, max_track_ms, no_replay_plays, adding_locked)| {
            QueueSettingsPatch {
                queue_order,
                max_queued_per_member,
                max_track_ms,
                no_replay_plays,
                adding_locked,
                permissions: None,
            }
        },
    )
}

fn vote_value() -> impl Strategy<Value = i8> {
    prop_oneof![2 => Just(1i8), 1 => Just(0i8), 2 => Just(-1i8)]
}

/// Operations whose actor is drawn from `actors` and whose target is anyone.
pub fn op(actors: std::ops::Range<usize>) -> impl Strategy<Value = Op> {
    let anyone = 0..USERS.len();
    prop_oneof![
        1 => (actors.clone(), track_ids()).prop_map(|(a, t)| Op::Join(a, t)),
        1 => actors.clone().prop_map(Op::Leave),
        1 => (actors.clone(), anyone.clone()).prop_map(|(a, t)| Op::Kick(a, t)),
        1 => (actors.clone(), anyone.clone()).prop_map(|(a, t)| Op::Transfer(a, t)),
        1 => (actors.clone(), anyone.clone(), track_ids()).prop_map(|(a, u, t)| Op::SetTracks(a, u, t)),
        1 => actors.clone().prop_map(Op::Start),
        1 => actors.clone().prop_map(Op::End),
        1 => (actors.clone(), any::<bool>()).prop_map(|(a, r)| Op::SetMode(a, r)),
        1 => (actors.clone(), prop::option::of(0..4u8)).prop_map(|(a, n)| Op::Rename(a, n)),
        1 => (actors.clone(), any::<u64>()).prop_map(|(a, s)| Op::Rotate(a, s)),
        1 => (actors.clone(), anyone.clone()).prop_map(|(a, t)| Op::Unban(a, t)),
        1 => (0..8usize).prop_map(Op::Advance),
        1 => (actors.clone(), anyone.clone(), any::<bool>()).prop_map(|(a, t, c)| Op::SetRole(a, t, c)),
        1 => (actors.clone(), any::<u16>()).prop_map(|(a, p)| Op::SetPermissions(a, p)),
        1 => actors.clone().prop_map(Op::Reshuffle),
        1 => (actors.clone(), 0..3u8).prop_map(|(a, d)| Op::SetDevice(a, d)),
        1 => (actors.clone(), any::<Index>()).prop_map(|(a, i)| Op::RemoveEntry(a, i)),
        1 => actors.clone().prop_map(Op::PlanStart),
        1 => actors.clone().prop_map(Op::StartPlanned),
        2 => (actors.clone(), added_track(), duration()).prop_map(|(a, t, d)| Op::AddTrack(a, t, d)),
        1 => (actors.clone(), target(), vote_value()).prop_map(|(a, t, v)| Op::Vote(a, t, v)),
        1 => (actors.clone(), 0..12usize).prop_map(|(a, n)| Op::VoteSkip(a, n)),
        1 => (actors.clone(), target()).prop_map(|(a, t)| Op::BanTrack(a, t)),
        1 => (actors.clone(), patch()).prop_map(|(a, p)| Op::SetQueueSettings(a, p)),
        1 => prop::option::weighted(0.6, any::<Index>()).prop_map(Op::CommitNext),
        1 => Just(Op::Next),
        1 => any::<Index>().prop_map(Op::MoveTo),
        1 => (actors.clone(), 0..4u64, any::<bool>()).prop_map(|(a, k, j)| Op::CreateDisplay(a, k, j)),
        1 => (actors, prop::option::weighted(0.8, any::<Index>())).prop_map(|(a, i)| Op::RevokeDisplay(a, i)),
    ]
}

/// Operations on a playing session's queue, mostly: adds, votes, skip votes and the
/// player moving on, with the occasional ban, settings change, removal, role change and
/// member coming, changing tracks or going. Actors are anyone (outsiders are refused).
pub fn queue_op() -> impl Strategy<Value = Op> {
    let anyone = || 0..USERS.len();
    prop_oneof![
        10 => (anyone(), added_track(), duration()).prop_map(|(a, t, d)| Op::AddTrack(a, t, d)),
        8 => (anyone(), target(), vote_value()).prop_map(|(a, t, v)| Op::Vote(a, t, v)),
        4 => (anyone(), 0..12usize).prop_map(|(a, n)| Op::VoteSkip(a, n)),
        2 => (anyone(), target()).prop_map(|(a, t)| Op::BanTrack(a, t)),
        2 => ((0..2usize), patch()).prop_map(|(a, p)| Op::SetQueueSettings(a, p)),
        3 => prop::option::weighted(0.7, any::<Index>()).prop_map(Op::CommitNext),
        3 => Just(Op::Next),
        1 => any::<Index>().prop_map(Op::MoveTo),
        1 => (anyone(), any::<Index>()).prop_map(|(a, i)| Op::RemoveEntry(a, i)),
        1 => (anyone(), track_ids()).prop_map(|(a, t)| Op::Join(a, t)),
        1 => (anyone(), track_ids()).prop_map(|(a, t)| Op::SetTracks(a, a, t)),
        1 => anyone().prop_map(Op::Leave),
        1 => (anyone(), anyone(), any::<bool>()).prop_map(|(a, t, c)| Op::SetRole(a, t, c)),
        1 => anyone().prop_map(Op::Reshuffle),
    ]
}

/// The name user `i` joins with: not their id, so a property can tell the two apart.
pub fn display_name(i: usize) -> String {
    USERS[i].to_uppercase()
}

pub fn tracks_from(ids: &[u8]) -> Vec<Arc<Track>> {
    ids.iter()
        .map(|t| Arc::new(track(&format!("t{t}"))))
        .collect()
}

/// Track `t{n}`, `duration_ms` long.
pub fn added(n: u8, duration_ms: u32) -> Arc<Track> {
    Arc::new(Track {
        duration_ms,
        ..track(&format!("t{n}"))
    })
}

/// The permissions whose bits are set in `bits` (bit i: `Permission::ALL[i]`).
pub fn permissions_from(bits: u16) -> Permissions {
    Permission::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, p)| p)
        .collect()
}

/// What an operation leaves behind: a `PlanStart`'s plan for a later `StartPlanned`, and
/// the answer of the last `VoteSkip` (only right after it).
#[derive(Debug, Default)]
pub struct Scratch {
    pub plan: Option<StartPlan>,
    pub skip: Option<SkipVote>,
}

/// Applies `op` at `now`.
pub fn apply(
    session: &mut Session,
    scratch: &mut Scratch,
    op: &Op,
    rng: &mut StdRng,
    now: i64,
) -> Result<Vec<Event>, SessionError> {
    let u = |i: usize| user(USERS[i]);
    scratch.skip = None;
    match op {
        Op::Join(a, t) => session.join(
            NewMember::new(u(*a), display_name(*a), tracks_from(t)),
            now,
            rng,
        ),
        Op::Leave(a) => session.leave(&u(*a)),
        Op::Kick(a, t) => session.kick(&u(*a), &u(*t)),
        Op::Transfer(a, t) => session.transfer_host(&u(*a), &u(*t)),
        Op::SetTracks(a, who, t) => session.set_top_tracks(&u(*a), &u(*who), tracks_from(t), rng),
        Op::Start(a) => session.start(&u(*a), DeviceId::new(format!("{a}-phone")), rng),
        Op::End(a) => session.end(&u(*a)),
        Op::SetMode(a, random) => {
            let mode = if *random {
                ShuffleMode::Random
            } else {
                ShuffleMode::Fair
            };
            session.set_shuffle_mode(&u(*a), mode)
        }
        Op::Rename(a, name) => session.set_name(
            &u(*a),
            name.map(|n| SessionName::try_from(format!("Party {n}")).unwrap()),
        ),
        Op::Rotate(a, seed) => {
            session.rotate_invite(&u(*a), InviteCode::generate(&mut super::rng(*seed)))
        }
        Op::Unban(a, t) => session.unban(&u(*a), &u(*t)),
        Op::Advance(p) => session.advance_to(*p),
        Op::SetRole(a, t, co_host) => {
            let role = if *co_host { Role::CoHost } else { Role::Guest };
            session.set_role(&u(*a), &u(*t), role)
        }
        Op::SetPermissions(a, bits) => {
            session.set_guest_permissions(&u(*a), permissions_from(*bits))
        }
        Op::Reshuffle(a) => session.reshuffle(&u(*a), rng),
        Op::SetDevice(a, d) => session.set_device(&u(*a), DeviceId::new(format!("device-{d}"))),
        Op::RemoveEntry(a, pick) => {
            let id = Target::Any(*pick).id(session);
            session.remove_entry(&u(*a), id)
        }
        Op::PlanStart(a) => {
            scratch.plan = Some(session.plan_start(&u(*a), rng)?);
            Ok(Vec::new())
        }
        Op::StartPlanned(a) => match scratch.plan.take() {
            Some(planned) => {
                session.start_planned(&u(*a), DeviceId::new(format!("{a}-phone")), planned, rng)
            }
            None => session.start(&u(*a), DeviceId::new(format!("{a}-phone")), rng),
        },
        Op::AddTrack(a, n, duration_ms) => session.add_track(&u(*a), added(*n, *duration_ms)),
        Op::Vote(a, target, value) => {
            let id = target.id(session);
            session.vote(&u(*a), id, Vote::from_value(*value).unwrap())
        }
        Op::VoteSkip(a, connected) => {
            let answer = session.vote_skip(&u(*a), *connected)?;
            let events = answer.events.clone();
            scratch.skip = Some(answer);
            Ok(events)
        }
        Op::BanTrack(a, target) => {
            let id = target.id(session);
            session.ban_track(&u(*a), id)
        }
        Op::SetQueueSettings(a, patch) => session.set_queue_settings(&u(*a), patch),
        Op::CommitNext(pick) => {
            let id = match pick {
                None => session.next_entry().map_or(UNKNOWN_ENTRY, |e| e.id),
                Some(index) => Target::Any(*index).id(session),
            };
            session.commit_next(id)
        }
        Op::Next => session.advance_to(session.position() + 1),
        Op::MoveTo(index) => session.advance_to(index.index(session.queue().len().max(1))),
        Op::CreateDisplay(a, seed, show_join) => session.create_display(
            &u(*a),
            DisplayKey::generate(&mut super::rng(*seed)),
            None,
            *show_join,
            now,
        ),
        Op::RevokeDisplay(a, pick) => {
            let key = match (pick, session.displays()) {
                (Some(index), displays) if !displays.is_empty() => {
                    displays[index.index(displays.len())].key.clone()
                }
                _ => DisplayKey::generate(&mut super::rng(u64::MAX)),
            };
            session.revoke_display(&u(*a), &key)
        }
    }
}

/// What the events of an accepted transition from `before` to `after` tell a consumer: the
/// queue (entries, order, credits, net votes), the position and device, the committed
/// entry, the skip-vote count, the settings and the banned tracks, all as they are now.
pub fn check_events(
    before: &Session,
    events: &[Event],
    after: &Session,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        replay(before.queue(), events, after),
        seen(after.queue()),
        "the queue events gave another queue: {:?}",
        events
    );
    let mut position = before.position();
    let mut device = before.device().cloned();
    let mut committed = before.committed();
    let mut skip_votes = before.skip_votes().len();
    let mut settings = before.settings().clone();
    let mut banned_tracks: BTreeSet<TrackId> = before.banned_tracks().clone();
    for event in events {
        match event {
            Event::SessionStarted {
                position: p,
                device: d,
            } => {
                position = *p;
                device = Some(d.clone());
            }
            // Another entry playing unpins the committed one (it plays now, or was skipped)
            // and clears the skip votes.
            Event::NowPlaying { position: p } => {
                position = *p;
                committed = None;
                skip_votes = 0;
            }
            Event::DeviceChanged { device: d } => device = Some(d.clone()),
            Event::EntryCommitted { id } => committed = Some(*id),
            Event::EntryRemoved { id } if committed == Some(*id) => committed = None,
            Event::SkipVotes { entry_id, votes } => {
                prop_assert_eq!(Some(*entry_id), after.now_playing().map(|e| e.id));
                skip_votes = *votes;
            }
            Event::SettingsChanged { settings: s } => settings = s.clone(),
            Event::TrackBanned { track_id } => {
                banned_tracks.insert(track_id.clone());
            }
            Event::SessionEnded => {
                committed = None;
                skip_votes = 0;
            }
            _ => {}
        }
    }
    prop_assert_eq!(position, after.position(), "position after {:?}", events);
    prop_assert_eq!(device.as_ref(), after.device(), "device after {:?}", events);
    prop_assert_eq!(committed, after.committed(), "committed after {:?}", events);
    prop_assert_eq!(
        skip_votes,
        after.skip_votes().len(),
        "skip votes after {:?}",
        events
    );
    prop_assert_eq!(&settings, after.settings(), "settings after {:?}", events);
    prop_assert_eq!(&banned_tracks, after.banned_tracks());
    Ok(())
}
