//! State-machine properties over random sequences of operations.
// Test helpers outside #[test] fns may unwrap too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ops::*;
use common::*;
use proptest::prelude::*;
use sesh_session::*;
use std::collections::{BTreeMap, BTreeSet, HashSet};

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
        let mut scratch = Scratch::default();
        for (now, op) in ops.iter().enumerate() {
            if op.is_report() {
                continue; // the gateway's report, not a user action
            }
            if let Err(e) = apply(&mut session, &mut scratch, op, &mut rng, now as i64 + 10) {
                prop_assert!(e.code() != "", "every refusal has a code");
            }
        }
        prop_assert_eq!(session.state(), before.state());
        prop_assert_eq!(session.host(), before.host());
        prop_assert_eq!(session.settings(), before.settings());
        prop_assert_eq!(session.invite_code(), before.invite_code());
        prop_assert_eq!(session.device(), before.device());
        prop_assert_eq!(session.position(), before.position());
        prop_assert_eq!(session.displays(), before.displays());
        prop_assert!(!(0..USERS.len()).any(|i| session.is_banned(&user(USERS[i]))));
        // alice and bob never acted: still there, unchanged.
        for name in ["alice", "bob"] {
            prop_assert_eq!(session.member(&user(name)), before.member(&user(name)));
        }
        // Joiners may add tracks to the unplayed part (and take out only what they brought
        // themselves), never reorder or drop anything that was there.
        let fixed = if playing { before.position() + 1 } else { 0 };
        prop_assert_eq!(&session.queue()[..fixed], &before.queue()[..fixed]);
        let old = entry_ids(before.queue());
        let new = entry_ids(session.queue());
        let mut rest = new.iter();
        prop_assert!(old.iter().all(|id| rest.any(|n| n == id)), "old queue is a subsequence");
    }

    #[test]
    fn a_ban_lasts_until_a_moderator_lifts_it(
        ops in prop::collection::vec(op(0..USERS.len()), 0..40),
        seed in any::<u64>(),
    ) {
        let mut session = lobby_with_bob();
        let mut rng = rng(seed);
        let mut scratch = Scratch::default();
        for (now, op) in ops.iter().enumerate() {
            let banned_before = session.banned().clone();
            let moderator = |a: usize| session.member(&user(USERS[a])).is_some_and(Member::is_moderator);
            let by_moderator = matches!(op, Op::Unban(a, _) if moderator(*a));
            let result = apply(&mut session, &mut scratch, op, &mut rng, now as i64);
            for user_id in banned_before.keys() {
                let lifted = by_moderator && matches!(op, Op::Unban(_, t)
                    if user(USERS[*t]) == *user_id && result.is_ok());
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
        let mut scratch = Scratch::default();
        for (now, op) in ops.iter().enumerate() {
            let before = session.clone();
            let kicked = apply(&mut session, &mut scratch, op, &mut rng, now as i64).is_ok()
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
        let mut scratch = Scratch::default();
        for op in &ops {
            prop_assert_eq!(apply(&mut session, &mut scratch, op, &mut rng, 1), Err(SessionError::SessionEnded));
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
        let mut scratch = Scratch::default();
        let mut twin_scratch = Scratch::default();
        for (now, op) in ops.iter().enumerate() {
            let before = session.clone();
            let json = serde_json::to_string(&session).unwrap();
            let mut restored: Session = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&restored, &session);

            let mut twin_rng = rng.clone();
            let result = apply(&mut session, &mut scratch, op, &mut rng, now as i64);
            let twin = apply(&mut restored, &mut twin_scratch, op, &mut twin_rng, now as i64);
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

/// Who may do what, written out again independently of `Action::requirement`: the test's
/// copy of the table in the crate docs.
fn table_allows(action: Action, role: Role, guests: Permissions) -> Result<(), Option<Permission>> {
    use Action::*;
    let guest_permission = match action {
        View | Leave | SetOwnTopTracks => return Ok(()),
        // The host's device plays the session already; a spectator has no Spotify account.
        ListenAlong => {
            return if matches!(role, Role::Host | Role::Spectator) {
                Err(None)
            } else {
                Ok(())
            };
        }
        Start | End | TransferHost | SetRole | SetPermissions | Transfer | SetShuffleMode
        | RenameSession | SetQueueSettings | ManageDisplays => {
            return if role == Role::Host {
                Ok(())
            } else {
                Err(None)
            };
        }
        Kick | Unban | RotateInvite | Repeat | Reshuffle | RemoveEntry | BanTrack | DeleteChat
        | Mute => {
            return if matches!(role, Role::Guest | Role::Spectator) {
                Err(None)
            } else {
                Ok(())
            };
        }
        Skip => Permission::Skip,
        PauseResume => Permission::PauseResume,
        Seek => Permission::Seek,
        Volume => Permission::Volume,
        Search | AddTrack => Permission::AddTracks,
        Vote => Permission::Vote,
        VoteSkip => Permission::VoteSkip,
        Chat => Permission::Chat,
    };
    let open = |p: Permission| {
        if guests.contains(p) {
            Ok(())
        } else {
            Err(Some(p))
        }
    };
    match role {
        Role::Host | Role::CoHost => Ok(()),
        Role::Guest => open(guest_permission),
        // Spectators: never playback control; votes and adds need their own switch too.
        Role::Spectator => match action {
            Chat => open(Permission::Chat),
            Vote | VoteSkip => open(guest_permission).and(open(Permission::SpectatorsVote)),
            Search | AddTrack => open(Permission::AddTracks).and(open(Permission::SpectatorsAdd)),
            _ => Err(None),
        },
    }
}

/// Members of a session keyed by entry id: a queue as a map, for comparing contents.
fn by_id(queue: &[QueueEntry]) -> BTreeMap<QueueEntryId, QueueEntry> {
    queue.iter().map(|e| (e.id, e.clone())).collect()
}

proptest! {
    #[test]
    fn authorize_agrees_with_the_table(
        // Per user but alice: not a member, guest, co-host or spectator.
        roles in prop::collection::vec(0..4u8, USERS.len() - 1),
        bits in any::<u16>(),
        playing in any::<bool>(),
        ended in any::<bool>(),
    ) {
        let mut session = lobby();
        let alice = user("alice");
        for (i, role) in roles.iter().enumerate() {
            let who = user(USERS[i + 1]);
            if *role == 3 {
                session.join_spectator(NewMember::new(who.clone(), "x", tracks(&["t1"])), 1).unwrap();
            } else if *role > 0 {
                session.join(NewMember::new(who.clone(), "x", tracks(&["t1"])), 1, &mut rng(0)).unwrap();
            }
            if *role == 2 {
                session.set_role(&alice, &who, Role::CoHost).unwrap();
            }
        }
        let guests = permissions_from(bits);
        session.set_guest_permissions(&alice, guests).unwrap();
        if playing {
            session.start(&alice, DeviceId::new("phone"), &mut rng(0)).unwrap();
        }
        if ended {
            session.end(&alice).unwrap();
        }
        for name in USERS {
            let who = user(name);
            for action in Action::ALL {
                let expected = if ended {
                    Err(SessionError::SessionEnded)
                } else {
                    match session.member(&who) {
                        None => Err(SessionError::NotAMember { user: who.clone() }),
                        Some(member) => table_allows(action, member.role, guests)
                            .map_err(|permission| SessionError::Forbidden { action, permission }),
                    }
                };
                prop_assert_eq!(session.authorize(&who, action), expected.clone(), "{} {:?}", name, action);
                prop_assert_eq!(session.can(&who, action), expected.is_ok());
            }
        }
    }

    #[test]
    fn events_replay_to_the_queue_and_ids_are_never_reused(
        ops in prop::collection::vec(op(0..USERS.len()), 0..60),
        seed in any::<u64>(),
    ) {
        let mut session = lobby_with_bob();
        let mut rng = rng(seed);
        let mut scratch = Scratch::default();
        let mut handed_out: HashSet<QueueEntryId> = HashSet::new();
        for (now, op) in ops.iter().enumerate() {
            let before = session.clone();
            let result = apply(&mut session, &mut scratch, op, &mut rng, now as i64);
            let Ok(events) = result else {
                prop_assert_eq!(&session, &before, "a refusal changes nothing: {:?}", op);
                continue;
            };
            // The queue, position, device, committed entry, skip votes, settings and banned
            // tracks all follow from the events.
            check_events(&before, &events, &session)?;

            let ids = entry_ids(session.queue());
            let unique: BTreeSet<_> = ids.iter().collect();
            prop_assert_eq!(unique.len(), ids.len(), "ids unique in the queue");
            let old: HashSet<_> = entry_ids(before.queue()).into_iter().collect();
            let next = session.clone().into_parts().next_entry_id;
            for id in ids {
                prop_assert!(id.get() < next, "{} not below the counter {}", id, next);
                if !old.contains(&id) {
                    prop_assert!(handed_out.insert(id), "{} handed out twice", id);
                }
            }
            handed_out.extend(old);
        }
    }

    #[test]
    fn reshuffle_keeps_what_played_and_redraws_the_rest_fairly(
        extra in prop::collection::vec(prop::collection::vec(0..20u8, 0..7), 0..5),
        position_pick in any::<prop::sample::Index>(),
        random in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut session = lobby_with_bob();
        let alice = user("alice");
        if random {
            session.set_shuffle_mode(&alice, ShuffleMode::Random).unwrap();
        }
        for (i, ids) in extra.iter().enumerate() {
            let member = NewMember::new(user(USERS[i + 2]), display_name(i + 2), tracks_from(ids));
            session.join(member, 10 + i as i64, &mut rng(seed)).unwrap();
        }
        session.start(&alice, DeviceId::new("phone"), &mut rng(seed)).unwrap();
        session.advance_to(position_pick.index(session.queue().len())).unwrap();
        let before = session.clone();
        let events = session.reshuffle(&alice, &mut rng(seed.wrapping_add(1))).unwrap();
        let from = before.position() + 1;
        prop_assert_eq!(&session.queue()[..from], &before.queue()[..from], "played and playing stay");
        prop_assert_eq!(session.position(), before.position());
        prop_assert_eq!(by_id(session.queue()), by_id(before.queue()), "the same entries");
        prop_assert_eq!(replay(before.queue(), &events, &session), seen(session.queue()));
        match &events[..] {
            [] => prop_assert_eq!(session.queue(), before.queue()),
            [Event::QueueReordered { from: f, order }] => {
                prop_assert_eq!(*f, from);
                prop_assert_eq!(order, &entry_ids(&session.queue()[from..]));
            }
            other => prop_assert!(false, "unexpected events {:?}", other),
        }
        if !random {
            let owners: Vec<&UserId> =
                session.queue()[from..].iter().map(|e| e.owner().unwrap()).collect();
            for i in 1..owners.len() {
                if owners[i - 1] == owners[i] {
                    prop_assert!(owners[i..].iter().all(|o| o == &owners[i]), "{:?}", owners);
                }
            }
            let mut turns: BTreeMap<&UserId, usize> = BTreeMap::new();
            for p in 0..owners.len() {
                let waiting: BTreeSet<&UserId> = owners[p..].iter().copied().collect();
                let counts: Vec<usize> = waiting.iter().map(|o| turns.get(o).copied().unwrap_or(0)).collect();
                let spread = counts.iter().max().zip(counts.iter().min()).map(|(a, b)| a - b);
                prop_assert!(spread.is_none_or(|s| s <= 1), "uneven turns: {:?}", owners);
                *turns.entry(owners[p]).or_default() += 1;
            }
        }
    }

    #[test]
    fn stored_sessions_round_trip_with_co_hosts_permissions_and_repeated_tracks(
        ops in prop::collection::vec(op(0..USERS.len()), 0..40),
        repeat in any::<prop::sample::Index>(),
        seed in any::<u64>(),
    ) {
        let mut session = lobby_with_bob();
        let mut rng = rng(seed);
        let mut scratch = Scratch::default();
        for (now, op) in ops.iter().enumerate() {
            let _ = apply(&mut session, &mut scratch, op, &mut rng, now as i64);
        }
        let json = serde_json::to_string(&session).unwrap();
        prop_assert_eq!(&serde_json::from_str::<Session>(&json).unwrap(), &session);
        // The same track queued again (as a later entry) restores too.
        let mut parts = session.clone().into_parts();
        if !parts.queue.is_empty() {
            let mut again = parts.queue[repeat.index(parts.queue.len())].clone();
            again.id = QueueEntryId::new(parts.next_entry_id);
            parts.next_entry_id += 1;
            parts.queue.push(again);
        }
        let repeated = Session::from_parts(parts).unwrap();
        let json = serde_json::to_string(&repeated).unwrap();
        prop_assert_eq!(serde_json::from_str::<Session>(&json).unwrap(), repeated);
    }
}

proptest! {
    /// Whatever the host types, a name that parses is trimmed, 1 to 60 characters with no
    /// control character, parses again to itself, and survives JSON; one that does not
    /// parse says which rule it broke.
    #[test]
    fn names_that_parse_keep_the_rules(raw in "[ \\t\\na-zé€\\u{7}\\u{1F3B5}]{0,70}") {
        match SessionName::parse_optional(&raw) {
            Ok(None) => prop_assert!(raw.trim().is_empty()),
            Ok(Some(name)) => {
                let text = name.as_str();
                prop_assert_eq!(text, raw.trim());
                prop_assert!((1..=MAX_NAME_CHARS).contains(&text.chars().count()));
                prop_assert!(!text.chars().any(char::is_control));
                prop_assert_eq!(SessionName::parse_optional(text).unwrap(), Some(name.clone()));
                let json = serde_json::to_string(&name).unwrap();
                prop_assert_eq!(serde_json::from_str::<SessionName>(&json).unwrap(), name);
            }
            Err(SessionNameError::TooLong) => prop_assert!(raw.trim().chars().count() > MAX_NAME_CHARS),
            Err(SessionNameError::ControlCharacter) => prop_assert!(raw.trim().chars().any(char::is_control)),
            Err(SessionNameError::Empty) => prop_assert!(false, "parse_optional maps empty to None"),
        }
    }
}

proptest! {
    #[test]
    fn display_keys_are_the_hosts_alone_bounded_unique_and_gone_once_revoked(
        playing in any::<bool>(),
        // (actor: alice hosts, bob is a guest, carol is no member; make or revoke; key seed;
        // which key to revoke, or one the session lacks)
        steps in prop::collection::vec(
            (0..3usize, any::<bool>(), 0..40u64, prop::option::weighted(0.8, any::<prop::sample::Index>())),
            0..80,
        ),
    ) {
        let mut session = start_session(playing);
        for (actor, make, seed, pick) in steps {
            let before = session.clone();
            let who = user(USERS[actor]);
            let (result, key) = if make {
                let key = DisplayKey::generate(&mut rng(seed));
                (session.create_display(&who, key.clone(), None, seed % 2 == 0, 7), key)
            } else {
                let key = match (pick, before.displays()) {
                    (Some(i), keys) if !keys.is_empty() => keys[i.index(keys.len())].key.clone(),
                    _ => DisplayKey::generate(&mut rng(1000 + seed)),
                };
                (session.revoke_display(&who, &key), key)
            };
            match &result {
                Ok(events) => {
                    prop_assert_eq!(actor, 0, "only the host manages displays");
                    prop_assert_eq!(events.len(), 1);
                    if make {
                        prop_assert_eq!(session.displays().len(), before.displays().len() + 1);
                        prop_assert!(session.display(&key).is_some_and(|d| d.show_join == (seed % 2 == 0)));
                    } else {
                        prop_assert!(session.display(&key).is_none());
                        prop_assert_eq!(session.displays().len() + 1, before.displays().len());
                    }
                }
                Err(e) => {
                    prop_assert_eq!(&session, &before, "a refusal changes nothing");
                    let why = match (actor, make) {
                        (1, _) => "forbidden",
                        (2, _) => "not_a_member",
                        (_, true) if before.displays().len() == MAX_DISPLAYS => "too_many_displays",
                        (_, true) => "invalid_target",
                        (_, false) => "display_not_found",
                    };
                    prop_assert_eq!(e.code(), why);
                }
            }
            prop_assert!(session.displays().len() <= MAX_DISPLAYS);
            let keys: HashSet<_> = session.displays().iter().map(|d| &d.key).collect();
            prop_assert_eq!(keys.len(), session.displays().len(), "keys are unique");
            prop_assert_eq!(Session::from_parts(session.clone().into_parts()), Ok(session.clone()));
        }
    }
}

/// A random change of the guest controls: each switch left alone, turned on or turned off.
fn controls_patch() -> impl Strategy<Value = GuestControlsPatch> {
    prop::collection::vec(prop::option::of(any::<bool>()), Permission::ALL.len()).prop_map(|s| {
        GuestControlsPatch {
            add: s[0],
            vote: s[1],
            vote_skip: s[2],
            skip: s[3],
            pause: s[4],
            seek: s[5],
            volume: s[6],
            chat: s[7],
            show_invite: s[8],
            spectators_vote: s[9],
            spectators_add: s[10],
        }
    })
}

proptest! {
    #[test]
    fn only_the_host_switches_guest_controls_and_guests_get_exactly_what_is_on(
        // (actor: 0 alice the host, 1 bob a co-host, 2 carol a guest, 3 dave an outsider; patch)
        patches in prop::collection::vec((0..4usize, controls_patch()), 1..30),
        playing in any::<bool>(),
    ) {
        let mut session = start_session(playing);
        let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
        session.join(NewMember::new(carol.clone(), "Carol", tracks(&["c1"])), 2, &mut rng(2)).unwrap();
        session.set_role(&alice, &bob, Role::CoHost).unwrap();
        let sam = user("erin");
        session.join_spectator(NewMember::new(sam.clone(), "Sam", Vec::new()), 3).unwrap();
        // The model: which permission is on, switched as the host's patches say.
        let mut on: BTreeMap<Permission, bool> =
            Permission::ALL.iter().map(|&p| (p, Permissions::GUEST_DEFAULT.contains(p))).collect();
        for (actor, patch) in patches {
            let who = user(["alice", "bob", "carol", "dave"][actor]);
            let before = session.clone();
            let wire = QueueSettingsPatch { permissions: Some(patch), ..Default::default() };
            let result = session.set_queue_settings(&who, &wire);
            if actor == 0 {
                let events = result.unwrap();
                let switches = [patch.add, patch.vote, patch.vote_skip, patch.skip, patch.pause,
                    patch.seek, patch.volume, patch.chat, patch.show_invite, patch.spectators_vote,
                    patch.spectators_add];
                for (permission, switch) in Permission::ALL.into_iter().zip(switches) {
                    if let Some(value) = switch {
                        on.insert(permission, value);
                    }
                }
                let changed = session.settings() != before.settings();
                prop_assert_eq!(events.len(), usize::from(changed));
                if let Some(Event::SettingsChanged { settings }) = events.first() {
                    prop_assert_eq!(settings, session.settings());
                }
            } else {
                prop_assert!(result.is_err());
                prop_assert_eq!(&session, &before);
            }
            let guests = session.settings().guest_permissions;
            for (&permission, &allowed) in &on {
                prop_assert_eq!(guests.contains(permission), allowed);
            }
            let controls = GuestControls::from(guests);
            prop_assert_eq!(controls.pause, session.can(&carol, Action::PauseResume));
            prop_assert_eq!(controls.add, session.can(&carol, Action::AddTrack));
            prop_assert_eq!(controls.skip, session.can(&carol, Action::Skip));
            prop_assert_eq!(controls.volume, session.can(&carol, Action::Volume));
            // The co-host is not bound by the guest controls.
            prop_assert!(session.can(&bob, Action::PauseResume) && session.can(&bob, Action::Skip));
            // A spectator gets what guests get, as far as the spectators' switches open it,
            // and never playback control.
            prop_assert_eq!(controls.vote && controls.spectators_vote, session.can(&sam, Action::Vote));
            prop_assert_eq!(controls.add && controls.spectators_add, session.can(&sam, Action::AddTrack));
            prop_assert_eq!(controls.chat, session.can(&sam, Action::Chat));
            prop_assert!(!session.can(&sam, Action::PauseResume) && !session.can(&sam, Action::Skip));
        }
    }
}

proptest! {
    #[test]
    fn a_gone_host_is_succeeded_by_the_longest_serving_co_host_or_claimed_only_when_gone(
        // Per user but alice: 0 outsider, 1 guest, 2 co-host; and the join times.
        roles in prop::collection::vec(0..3u8, USERS.len() - 1),
        joined in prop::collection::vec(0..1_000i64, USERS.len() - 1),
        claimer in 0..USERS.len(),
        gone in any::<bool>(),
    ) {
        let mut session = lobby();
        let alice = user("alice");
        for (i, role) in roles.iter().enumerate() {
            let who = user(USERS[i + 1]);
            if *role > 0 {
                session.join(NewMember::new(who.clone(), "x", tracks(&["t1"])), joined[i], &mut rng(0)).unwrap();
            }
            if *role == 2 {
                session.set_role(&alice, &who, Role::CoHost).unwrap();
            }
        }
        // The successor: the co-host who joined first (ties: the first in join order).
        let expected = session.members().iter()
            .filter(|m| m.role == Role::CoHost)
            .min_by_key(|m| m.joined_at_ms)
            .map(|m| m.user_id.clone());
        prop_assert_eq!(session.successor().map(|m| m.user_id.clone()), expected);

        let who = user(USERS[claimer]);
        let before = session.clone();
        let result = session.claim_host(&who, gone);
        match (before.member(&who), who == alice) {
            (None, _) => prop_assert!(result.is_err()),
            (Some(_), true) => prop_assert!(result.is_err()),
            (Some(_), false) if !gone => {
                prop_assert_eq!(result, Err(SessionError::Forbidden { action: Action::TransferHost, permission: None }));
            }
            (Some(_), false) => {
                let events = result.unwrap();
                prop_assert_eq!(&events[0], &Event::HostChanged { host: who.clone() });
                prop_assert_eq!(session.host(), &who);
                prop_assert_eq!(session.member(&who).unwrap().role, Role::Host);
                prop_assert_eq!(session.member(&alice).unwrap().role, Role::Guest);
                prop_assert_eq!(session.members().iter().filter(|m| m.is_host()).count(), 1);
            }
        }
        if session.host() == &alice {
            prop_assert_eq!(&session, &before);
        }
    }
}
