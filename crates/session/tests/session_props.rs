//! State-machine properties over random sequences of operations.
// Test helpers outside #[test] fns may unwrap too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use proptest::prelude::*;
use rand::rngs::StdRng;
use sesh_session::*;
use std::sync::Arc;

/// Users: 0 is the host `alice`, 1 the bystander `bob` (a guest who never acts), the rest
/// are guests or outsiders depending on what the sequence does.
const USERS: [&str; 7] = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"];

#[derive(Debug, Clone)]
enum Op {
    Join(usize, Vec<u8>),
    Leave(usize),
    Kick(usize, usize),
    Transfer(usize, usize),
    SetTracks(usize, usize, Vec<u8>),
    Start(usize),
    End(usize),
    SetMode(usize, bool),
    Rotate(usize, u64),
    Unban(usize, usize),
    Advance(usize),
}

fn track_ids() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0..12u8, 0..7)
}

/// Operations whose actor is drawn from `actors` and whose target is anyone.
fn op(actors: std::ops::Range<usize>) -> impl Strategy<Value = Op> {
    let anyone = 0..USERS.len();
    prop_oneof![
        (actors.clone(), track_ids()).prop_map(|(a, t)| Op::Join(a, t)),
        actors.clone().prop_map(Op::Leave),
        (actors.clone(), anyone.clone()).prop_map(|(a, t)| Op::Kick(a, t)),
        (actors.clone(), anyone.clone()).prop_map(|(a, t)| Op::Transfer(a, t)),
        (actors.clone(), anyone, track_ids()).prop_map(|(a, u, t)| Op::SetTracks(a, u, t)),
        actors.clone().prop_map(Op::Start),
        actors.clone().prop_map(Op::End),
        (actors.clone(), any::<bool>()).prop_map(|(a, r)| Op::SetMode(a, r)),
        (actors.clone(), any::<u64>()).prop_map(|(a, s)| Op::Rotate(a, s)),
        (actors, anyone_again()).prop_map(|(a, t)| Op::Unban(a, t)),
        (0..8usize).prop_map(Op::Advance),
    ]
}

/// The name user `i` joins with: not their id, so a property can tell the two apart.
fn display_name(i: usize) -> String {
    USERS[i].to_uppercase()
}

fn anyone_again() -> std::ops::Range<usize> {
    0..USERS.len()
}

fn tracks_from(ids: &[u8]) -> Vec<Arc<Track>> {
    ids.iter()
        .map(|t| Arc::new(track(&format!("t{t}"))))
        .collect()
}

fn apply(
    session: &mut Session,
    op: &Op,
    rng: &mut StdRng,
    now: i64,
) -> Result<Vec<Event>, SessionError> {
    let u = |i: usize| user(USERS[i]);
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
        Op::Rotate(a, seed) => {
            session.rotate_invite(&u(*a), InviteCode::generate(&mut common::rng(*seed)))
        }
        Op::Unban(a, t) => session.unban(&u(*a), &u(*t)),
        Op::Advance(p) => session.advance_to(*p),
    }
}

/// alice hosts, bob is a guest; optionally already playing.
fn start_session(playing: bool) -> Session {
    let mut session = lobby_with_bob();
    if playing {
        session
            .start(&user("alice"), DeviceId::new("alice-phone"), &mut rng(0))
            .unwrap();
    }
    session
}

proptest! {
    #[test]
    fn non_hosts_never_change_what_only_the_host_may(
        playing in any::<bool>(),
        // Actors are carol..grace: guests once they join, outsiders before.
        ops in prop::collection::vec(op(2..USERS.len()), 0..40),
        seed in any::<u64>(),
    ) {
        let mut session = start_session(playing);
        let before = session.clone();
        let mut rng = rng(seed);
        for (now, op) in ops.iter().enumerate() {
            if matches!(op, Op::Advance(_)) {
                continue; // the gateway's report, not a user action
            }
            if let Err(e) = apply(&mut session, op, &mut rng, now as i64 + 10) {
                prop_assert!(e.code() != "", "every refusal has a code");
            }
        }
        prop_assert_eq!(session.state(), before.state());
        prop_assert_eq!(session.host(), before.host());
        prop_assert_eq!(session.settings(), before.settings());
        prop_assert_eq!(session.invite_code(), before.invite_code());
        prop_assert_eq!(session.device(), before.device());
        prop_assert_eq!(session.position(), before.position());
        prop_assert!(!(0..USERS.len()).any(|i| session.is_banned(&user(USERS[i]))));
        // alice and bob never acted: still there, unchanged.
        for name in ["alice", "bob"] {
            prop_assert_eq!(session.member(&user(name)), before.member(&user(name)));
        }
        // Joiners may add tracks to the unplayed part, never reorder or drop anything.
        let fixed = if playing { before.position() + 1 } else { 0 };
        prop_assert_eq!(&session.queue()[..fixed], &before.queue()[..fixed]);
        let old = ids(before.queue());
        let new = ids(session.queue());
        let mut rest = new.iter();
        prop_assert!(old.iter().all(|id| rest.any(|n| n == id)), "old queue is a subsequence");
    }

    #[test]
    fn a_ban_lasts_until_the_host_lifts_it(
        ops in prop::collection::vec(op(0..USERS.len()), 0..40),
        seed in any::<u64>(),
    ) {
        let mut session = lobby_with_bob();
        let mut rng = rng(seed);
        for (now, op) in ops.iter().enumerate() {
            let banned_before = session.banned().clone();
            let host = session.host().clone();
            let result = apply(&mut session, op, &mut rng, now as i64);
            for user_id in banned_before.keys() {
                let lifted = matches!(op, Op::Unban(a, t)
                    if user(USERS[*a]) == host && user(USERS[*t]) == *user_id && result.is_ok());
                // Rotating the invite, joining with any code, anything else: still banned.
                prop_assert_eq!(session.is_banned(user_id), !lifted, "{:?} after {:?}", user_id, op);
                prop_assert!(!session.is_member(user_id) || lifted);
            }
        }
    }

    #[test]
    fn the_banned_keep_the_name_they_had_when_kicked(
        ops in prop::collection::vec(op(0..USERS.len()), 0..40),
        seed in any::<u64>(),
    ) {
        let mut session = lobby_with_bob();
        let mut rng = rng(seed);
        for (now, op) in ops.iter().enumerate() {
            let before = session.clone();
            let kicked = apply(&mut session, op, &mut rng, now as i64).is_ok()
                && matches!(op, Op::Kick(..));
            if let (true, Op::Kick(_, t)) = (kicked, op) {
                let target = user(USERS[*t]);
                let name = before.member(&target).map(|m| m.display_name.clone());
                prop_assert_eq!(session.banned().get(&target).cloned(), name);
            }
            // Nothing but a kick adds a name, nothing but an unban takes one away, and a name
            // never changes while banned.
            for (id, name) in session.banned() {
                prop_assert!(before.banned().get(id) == Some(name) || kicked, "{:?} after {:?}", id, op);
            }
            // The stored form brings the names back.
            let json = serde_json::to_string(&session).unwrap();
            let restored: Session = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(restored.banned(), session.banned());
        }
    }

    #[test]
    fn joins_past_capacity_always_fail(
        capacity in 1..6usize,
        ops in prop::collection::vec((any::<bool>(), 1..USERS.len()), 0..40),
    ) {
        let mut session = lobby_with_capacity(capacity);
        let mut rng = rng(0);
        for (now, (join, who)) in ops.into_iter().enumerate() {
            let id = user(USERS[who]);
            let was_member = session.is_member(&id);
            let count = session.members().len();
            if join {
                let result = session.join(NewMember::new(id.clone(), "x", Vec::new()), now as i64, &mut rng);
                if was_member {
                    prop_assert_eq!(result, Ok(Vec::new()));
                } else if count >= capacity {
                    prop_assert_eq!(result, Err(SessionError::SessionFull { capacity }));
                    prop_assert!(!session.is_member(&id));
                } else {
                    prop_assert!(result.is_ok());
                }
            } else {
                let _ = session.leave(&id);
            }
            prop_assert!(session.members().len() <= capacity);
        }
    }

    #[test]
    fn ended_sessions_accept_nothing(
        playing in any::<bool>(),
        ops in prop::collection::vec(op(0..USERS.len()), 1..30),
        seed in any::<u64>(),
    ) {
        let mut session = start_session(playing);
        session.end(&user("alice")).unwrap();
        let ended = session.clone();
        let mut rng = rng(seed);
        for op in &ops {
            prop_assert_eq!(apply(&mut session, op, &mut rng, 1), Err(SessionError::SessionEnded));
        }
        prop_assert_eq!(session, ended);
    }

    #[test]
    fn refusals_change_nothing_and_restored_sessions_behave_the_same(
        ops in prop::collection::vec(op(0..USERS.len()), 0..40),
        seed in any::<u64>(),
    ) {
        let mut session = lobby_with_bob();
        let mut rng = rng(seed);
        for (now, op) in ops.iter().enumerate() {
            let before = session.clone();
            let json = serde_json::to_string(&session).unwrap();
            let mut restored: Session = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&restored, &session);

            let mut twin_rng = rng.clone();
            let result = apply(&mut session, op, &mut rng, now as i64);
            let twin = apply(&mut restored, op, &mut twin_rng, now as i64);
            prop_assert_eq!(&result, &twin);
            prop_assert_eq!(&restored, &session);
            if result.is_err() {
                prop_assert_eq!(&session, &before);
            }
            // Invariants hold after every step.
            prop_assert!(Session::from_parts(session.clone().into_parts()).is_ok());
        }
    }
}
