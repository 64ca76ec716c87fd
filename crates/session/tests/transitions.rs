//! One test per transition and per refusal, through the public API.
// Test helpers outside #[test] fns may unwrap too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use sesh_session::*;
use std::sync::Arc;

fn code(result: Result<Vec<Event>, SessionError>) -> &'static str {
    result.unwrap_err().code()
}

#[test]
fn a_new_session_has_the_host_alone_in_the_lobby() {
    let session = lobby_with_capacity(0);
    assert_eq!(session.state(), SessionState::Lobby);
    assert_eq!(session.host(), &user("alice"));
    assert_eq!(session.members().len(), 1);
    assert_eq!(session.members()[0].role, Role::Host);
    assert!(session.queue().is_empty());
    assert_eq!(session.device(), None);
    // The host counts, so capacity 0 would make an impossible session.
    assert_eq!(session.settings().capacity, 1);
    assert_eq!(session.settings().shuffle_mode, ShuffleMode::Fair);
}

#[test]
fn join_adds_a_guest_once() {
    let mut session = lobby();
    let events = session
        .join(newcomer("bob", &["b1"]), 1_000, &mut rng(1))
        .unwrap();
    let bob = session.member(&user("bob")).unwrap().clone();
    assert_eq!(bob.role, Role::Guest);
    assert_eq!(bob.joined_at_ms, 1_000);
    assert_eq!(events, vec![Event::MemberJoined { member: bob }]);

    let before = session.clone();
    let again = session
        .join(newcomer("bob", &["other"]), 2_000, &mut rng(1))
        .unwrap();
    assert!(again.is_empty());
    assert_eq!(session, before);
}

#[test]
fn only_the_first_five_distinct_top_tracks_are_kept() {
    let mut session = lobby();
    session
        .join(
            newcomer("bob", &["t1", "t1", "t2", "t3", "t4", "t5", "t6"]),
            1,
            &mut rng(1),
        )
        .unwrap();
    let kept = &session.member(&user("bob")).unwrap().top_tracks;
    assert_eq!(
        kept.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["t1", "t2", "t3", "t4", "t5"]
    );
}

#[test]
fn join_is_refused_when_full_or_ended() {
    let mut session = lobby_with_capacity(2);
    session.join(newcomer("bob", &[]), 1, &mut rng(1)).unwrap();
    let refused = session.join(newcomer("carol", &[]), 2, &mut rng(1));
    assert_eq!(
        refused.clone().unwrap_err(),
        SessionError::SessionFull { capacity: 2 }
    );
    assert_eq!(code(refused), "session_full");
    // An existing member re-joining a full session is still fine (idempotent).
    assert!(
        session
            .join(newcomer("bob", &[]), 3, &mut rng(1))
            .unwrap()
            .is_empty()
    );

    session.end(&user("alice")).unwrap();
    assert_eq!(
        code(session.join(newcomer("dave", &[]), 4, &mut rng(1))),
        "session_ended"
    );
}

#[test]
fn a_guest_leaving_is_announced() {
    let mut session = lobby_with_bob();
    let events = session.leave(&user("bob")).unwrap();
    assert_eq!(
        events,
        vec![Event::MemberLeft {
            user_id: user("bob"),
            reason: LeaveReason::Left
        }]
    );
    assert!(!session.is_member(&user("bob")));
    assert_eq!(code(session.leave(&user("bob"))), "not_a_member");
}

#[test]
fn when_the_host_leaves_the_longest_present_member_takes_over() {
    let mut session = lobby();
    session
        .join(newcomer("bob", &[]), 2_000, &mut rng(1))
        .unwrap();
    // carol joined after bob in order but with an earlier clock reading: time decides.
    session
        .join(newcomer("carol", &[]), 1_500, &mut rng(1))
        .unwrap();
    let events = session.leave(&user("alice")).unwrap();
    assert_eq!(
        events,
        vec![
            Event::MemberLeft {
                user_id: user("alice"),
                reason: LeaveReason::Left
            },
            Event::HostChanged {
                host: user("carol")
            },
        ]
    );
    assert_eq!(session.host(), &user("carol"));
    assert!(session.member(&user("carol")).unwrap().is_host());
    assert!(!session.member(&user("bob")).unwrap().is_host());
    assert!(session.can(&user("carol"), Action::Start));
}

#[test]
fn the_last_member_leaving_ends_the_session() {
    let mut session = lobby();
    let events = session.leave(&user("alice")).unwrap();
    assert_eq!(events.last(), Some(&Event::SessionEnded));
    assert_eq!(session.state(), SessionState::Ended);
    assert!(session.members().is_empty());
}

#[test]
fn kick_is_for_the_host_and_bans_until_the_host_lets_them_back_in() {
    let mut session = lobby_with_bob();
    session
        .join(newcomer("carol", &[]), 2, &mut rng(1))
        .unwrap();
    assert_eq!(
        session.kick(&user("bob"), &user("carol")).unwrap_err(),
        SessionError::Forbidden {
            action: Action::Kick
        }
    );
    assert_eq!(
        code(session.kick(&user("zed"), &user("carol"))),
        "not_a_member"
    );
    assert_eq!(
        code(session.kick(&user("alice"), &user("alice"))),
        "invalid_target"
    );
    assert_eq!(
        code(session.kick(&user("alice"), &user("zed"))),
        "not_a_member"
    );

    let events = session.kick(&user("alice"), &user("bob")).unwrap();
    assert_eq!(
        events,
        vec![Event::MemberLeft {
            user_id: user("bob"),
            reason: LeaveReason::Kicked
        }]
    );
    assert!(session.is_banned(&user("bob")));
    assert_eq!(
        code(session.join(newcomer("bob", &[]), 3, &mut rng(1))),
        "banned"
    );

    let old = session.invite_code().clone();
    let new = InviteCode::generate(&mut rng(5));
    assert_eq!(
        code(session.rotate_invite(&user("carol"), new.clone())),
        "forbidden"
    );
    let events = session.rotate_invite(&user("alice"), new.clone()).unwrap();
    assert_eq!(events, vec![Event::InviteRotated]);
    assert_eq!(session.invite_code(), &new);
    assert_ne!(session.invite_code(), &old);
    // A new link is for new people: the kicked stay out.
    assert!(session.is_banned(&user("bob")));
    assert_eq!(
        code(session.join(newcomer("bob", &[]), 4, &mut rng(1))),
        "banned"
    );

    assert_eq!(
        code(session.unban(&user("carol"), &user("bob"))),
        "forbidden"
    );
    assert_eq!(
        code(session.unban(&user("alice"), &user("carol"))),
        "invalid_target"
    );
    let events = session.unban(&user("alice"), &user("bob")).unwrap();
    assert_eq!(
        events,
        vec![Event::MemberUnbanned {
            user_id: user("bob")
        }]
    );
    assert!(!session.is_banned(&user("bob")));
    session.join(newcomer("bob", &[]), 5, &mut rng(1)).unwrap();
    assert!(session.is_member(&user("bob")));
}

#[test]
fn the_host_role_can_be_handed_over() {
    let mut session = lobby_with_bob();
    assert_eq!(
        code(session.transfer_host(&user("bob"), &user("bob"))),
        "forbidden"
    );
    assert_eq!(
        code(session.transfer_host(&user("alice"), &user("alice"))),
        "invalid_target"
    );
    assert_eq!(
        code(session.transfer_host(&user("alice"), &user("zed"))),
        "not_a_member"
    );
    let events = session.transfer_host(&user("alice"), &user("bob")).unwrap();
    assert_eq!(events, vec![Event::HostChanged { host: user("bob") }]);
    assert_eq!(session.host(), &user("bob"));
    assert_eq!(session.member(&user("alice")).unwrap().role, Role::Guest);
    assert_eq!(session.member(&user("bob")).unwrap().role, Role::Host);
    assert!(!session.can(&user("alice"), Action::Kick));
}

#[test]
fn members_set_only_their_own_top_tracks() {
    let mut session = lobby_with_bob();
    assert_eq!(
        session
            .set_top_tracks(&user("alice"), &user("bob"), tracks(&["x"]), &mut rng(1))
            .unwrap_err(),
        SessionError::Forbidden {
            action: Action::SetOwnTopTracks
        }
    );
    assert_eq!(
        code(session.set_top_tracks(&user("zed"), &user("zed"), tracks(&["x"]), &mut rng(1))),
        "not_a_member"
    );
    let events = session
        .set_top_tracks(&user("bob"), &user("bob"), tracks(&["x", "y"]), &mut rng(1))
        .unwrap();
    let bob = session.member(&user("bob")).unwrap().clone();
    assert_eq!(ids_of(&bob.top_tracks), ["x", "y"]);
    assert_eq!(events, vec![Event::MemberUpdated { member: bob }]);
    let same = session
        .set_top_tracks(&user("bob"), &user("bob"), tracks(&["x", "y"]), &mut rng(1))
        .unwrap();
    assert!(same.is_empty());
}

fn ids_of(tracks: &[Arc<Track>]) -> Vec<&str> {
    tracks.iter().map(|t| t.id.as_str()).collect()
}

#[test]
fn start_needs_the_host_and_at_least_one_track() {
    let mut session = lobby();
    session.join(newcomer("bob", &[]), 1, &mut rng(1)).unwrap();
    session
        .set_top_tracks(&user("alice"), &user("alice"), Vec::new(), &mut rng(1))
        .unwrap();
    let device = DeviceId::new("phone");
    assert_eq!(
        code(session.start(&user("bob"), device.clone(), &mut rng(1))),
        "forbidden"
    );
    assert_eq!(
        code(session.start(&user("zed"), device.clone(), &mut rng(1))),
        "not_a_member"
    );
    let before = session.clone();
    assert_eq!(
        code(session.start(&user("alice"), device.clone(), &mut rng(1))),
        "no_tracks"
    );
    assert_eq!(session, before, "a refused start changes nothing");
}

#[test]
fn start_builds_the_queue_and_plays_from_the_top() {
    let mut session = lobby_with_bob();
    let events = session
        .start(&user("alice"), DeviceId::new("phone"), &mut rng(3))
        .unwrap();
    assert_eq!(session.state(), SessionState::Playing);
    assert_eq!(session.position(), 0);
    assert_eq!(session.device(), Some(&DeviceId::new("phone")));
    // a1 is shared: 3 + 3 - 1 distinct tracks, a1 credited to both.
    assert_eq!(session.queue().len(), 5);
    let a1 = session
        .queue()
        .iter()
        .find(|e| e.track.id.as_str() == "a1")
        .unwrap();
    assert_eq!(a1.added_by, vec![user("alice"), user("bob")]);
    assert_eq!(
        events,
        vec![Event::SessionStarted {
            queue: session.queue().to_vec(),
            position: 0
        }]
    );
    assert_eq!(session.now_playing(), session.queue().first());
    assert_eq!(
        code(session.start(&user("alice"), DeviceId::new("phone"), &mut rng(3))),
        "already_started"
    );
}

#[test]
fn a_late_joiner_is_woven_into_the_unplayed_queue() {
    let mut session = playing();
    session.advance_to(1).unwrap();
    let before = session.queue().to_vec();
    let events = session
        .join(newcomer("carol", &["c1", "c2", "b1"]), 5_000, &mut rng(4))
        .unwrap();
    let queue = session.queue();
    assert_eq!(events.len(), 2);
    assert!(matches!(events[0], Event::MemberJoined { .. }));
    assert_eq!(
        events[1],
        Event::Queue {
            queue: queue.to_vec(),
            position: 1
        }
    );
    assert_eq!(queue[..2], before[..2], "played entries stay put");
    for id in ["c1", "c2"] {
        let i = queue
            .iter()
            .position(|e| e.track.id.as_str() == id)
            .unwrap();
        assert!(i >= 2, "{id} must come after the now-playing entry");
    }
    let b1 = queue.iter().find(|e| e.track.id.as_str() == "b1").unwrap();
    let played_b1 = before[..2].iter().any(|e| e.track.id.as_str() == "b1");
    assert_eq!(b1.is_credited_to(&user("carol")), !played_b1);
    assert_eq!(queue.len(), before.len() + 2);
}

#[test]
fn the_shuffle_mode_is_chosen_by_the_host_in_the_lobby() {
    let mut session = lobby_with_bob();
    assert_eq!(
        code(session.set_shuffle_mode(&user("bob"), ShuffleMode::Random)),
        "forbidden"
    );
    let events = session
        .set_shuffle_mode(&user("alice"), ShuffleMode::Random)
        .unwrap();
    let settings = *session.settings();
    assert_eq!(settings.shuffle_mode, ShuffleMode::Random);
    assert_eq!(events, vec![Event::SettingsChanged { settings }]);
    assert!(
        session
            .set_shuffle_mode(&user("alice"), ShuffleMode::Random)
            .unwrap()
            .is_empty()
    );

    session
        .start(&user("alice"), DeviceId::new("phone"), &mut rng(8))
        .unwrap();
    let expected = shuffle::random_queue(session.members(), &mut rng(8));
    assert_eq!(session.queue(), &expected[..]);
    assert_eq!(
        code(session.set_shuffle_mode(&user("alice"), ShuffleMode::Fair)),
        "already_started"
    );
}

#[test]
fn advance_to_follows_the_player() {
    let mut session = lobby_with_bob();
    assert_eq!(code(session.advance_to(0)), "not_started");
    session
        .start(&user("alice"), DeviceId::new("phone"), &mut rng(2))
        .unwrap();
    let len = session.queue().len();
    assert_eq!(
        session.advance_to(len).unwrap_err(),
        SessionError::InvalidPosition { position: len, len }
    );
    assert!(session.advance_to(0).unwrap().is_empty());
    let events = session.advance_to(2).unwrap();
    assert_eq!(
        events,
        vec![Event::Queue {
            queue: session.queue().to_vec(),
            position: 2
        }]
    );
    assert_eq!(session.now_playing(), session.queue().get(2));
}

#[test]
fn an_ended_session_refuses_everything() {
    let mut session = playing();
    assert_eq!(code(session.end(&user("bob"))), "forbidden");
    assert_eq!(
        session.end(&user("alice")).unwrap(),
        vec![Event::SessionEnded]
    );
    assert_eq!(session.state(), SessionState::Ended);
    assert_eq!(session.now_playing(), None);
    let alice = user("alice");
    let results = [
        session.end(&alice),
        session.leave(&user("bob")),
        session.kick(&alice, &user("bob")),
        session.transfer_host(&alice, &user("bob")),
        session.start(&alice, DeviceId::new("phone"), &mut rng(1)),
        session.set_shuffle_mode(&alice, ShuffleMode::Random),
        session.rotate_invite(&alice, InviteCode::generate(&mut rng(1))),
        session.advance_to(0),
        session.join(newcomer("zed", &[]), 9, &mut rng(1)),
        session.set_top_tracks(&alice, &alice, Vec::new(), &mut rng(1)),
    ];
    for result in results {
        assert_eq!(result, Err(SessionError::SessionEnded));
    }
}

#[test]
fn roles_decide_what_each_user_can_do() {
    let session = lobby_with_bob();
    let all = [
        Action::View,
        Action::Leave,
        Action::SetOwnTopTracks,
        Action::Start,
        Action::Control,
        Action::Kick,
        Action::End,
        Action::TransferHost,
        Action::SetShuffleMode,
        Action::RotateInvite,
        Action::Unban,
    ];
    for action in all {
        assert!(session.can(&user("alice"), action), "host: {action:?}");
        assert_eq!(
            session.can(&user("bob"), action),
            !action.host_only(),
            "guest: {action:?}"
        );
        assert!(!session.can(&user("zed"), action), "outsider: {action:?}");
    }
    assert!(!session.can(&user("bob"), Action::Control));
}

#[test]
fn error_codes_are_stable() {
    let cases = [
        (
            SessionError::Forbidden {
                action: Action::Start,
            },
            "forbidden",
        ),
        (SessionError::SessionFull { capacity: 1 }, "session_full"),
        (SessionError::SessionEnded, "session_ended"),
        (SessionError::NotAMember { user: user("x") }, "not_a_member"),
        (SessionError::NoTracks, "no_tracks"),
        (SessionError::AlreadyStarted, "already_started"),
        (SessionError::NotStarted, "not_started"),
        (SessionError::Banned { user: user("x") }, "banned"),
        (
            SessionError::InvalidTarget { reason: "r" },
            "invalid_target",
        ),
        (
            SessionError::InvalidPosition {
                position: 1,
                len: 0,
            },
            "invalid_position",
        ),
    ];
    for (error, expected) in cases {
        assert_eq!(error.code(), expected);
        assert!(!error.to_string().is_empty());
    }
    assert_eq!(
        SessionError::Forbidden {
            action: Action::Kick
        }
        .to_string(),
        "only the host may kick members"
    );
}

#[test]
fn events_serialize_with_a_type_tag() {
    let json = |e: &Event| serde_json::to_value(e).unwrap();
    assert_eq!(
        json(&Event::SessionEnded),
        serde_json::json!({"type": "session_ended"})
    );
    assert_eq!(
        json(&Event::MemberLeft {
            user_id: user("bob"),
            reason: LeaveReason::Kicked
        }),
        serde_json::json!({"type": "member_left", "user_id": "bob", "reason": "kicked"})
    );
    let session = playing();
    let started = Event::SessionStarted {
        queue: session.queue().to_vec(),
        position: 0,
    };
    let value = json(&started);
    assert_eq!(value["type"], "session_started");
    assert_eq!(value["position"], 0);
    assert_eq!(
        value["queue"][0]["track"]["uri"],
        format!("spotify:track:{}", session.queue()[0].track.id)
    );
    assert!(value["queue"][0]["added_by"].is_array());
    let joined = json(&Event::MemberJoined {
        member: session.members()[0].clone(),
    });
    assert_eq!(joined["type"], "member_joined");
    assert_eq!(joined["member"]["role"], "host");
    let back: Event = serde_json::from_value(value).unwrap();
    assert_eq!(back, started);
}

#[test]
fn a_restored_session_behaves_like_the_original() {
    let mut original = playing();
    original.kick(&user("alice"), &user("bob")).unwrap();
    let json = serde_json::to_string(&original).unwrap();
    let mut restored: Session = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, original);
    assert!(restored.is_banned(&user("bob")));
    let a = original.join(newcomer("carol", &["c1", "c2"]), 9, &mut rng(6));
    let b = restored.join(newcomer("carol", &["c1", "c2"]), 9, &mut rng(6));
    assert_eq!(a, b);
    assert_eq!(restored, original);
    assert_eq!(
        Session::from_parts(original.clone().into_parts()),
        Ok(original)
    );
}

#[test]
fn a_kicked_member_is_listed_with_the_name_they_had() {
    let mut session = lobby_with_bob();
    session.kick(&user("alice"), &user("bob")).unwrap();
    let banned: Vec<_> = session.banned().iter().collect();
    assert_eq!(banned, vec![(&user("bob"), &"BOB".to_owned())]);
    let json = serde_json::to_value(&session).unwrap();
    assert_eq!(json["banned"], serde_json::json!({ "bob": "BOB" }));
    session.unban(&user("alice"), &user("bob")).unwrap();
    assert!(session.banned().is_empty());
}

#[test]
fn sessions_stored_with_banned_ids_only_still_restore() {
    // Before names were kept, `banned` was a list of ids.
    let mut session = lobby_with_bob();
    session.kick(&user("alice"), &user("bob")).unwrap();
    let mut json = serde_json::to_value(&session).unwrap();
    json["banned"] = serde_json::json!(["bob", "zed"]);
    let restored: Session = serde_json::from_value(json.clone()).unwrap();
    assert!(restored.is_banned(&user("bob")) && restored.is_banned(&user("zed")));
    assert_eq!(
        restored.banned().get(&user("zed")).map(String::as_str),
        Some("zed")
    );
    json.as_object_mut().unwrap().remove("banned");
    let restored: Session = serde_json::from_value(json).unwrap();
    assert!(restored.banned().is_empty());
}

#[test]
fn restoring_refuses_impossible_sessions() {
    let good = playing().into_parts();

    let mut two_hosts = good.clone();
    two_hosts.members[1].role = Role::Host;
    assert!(matches!(
        Session::from_parts(two_hosts.clone()),
        Err(RestoreError::HostMismatch(_))
    ));
    let json = serde_json::to_string(&two_hosts).unwrap();
    assert!(serde_json::from_str::<Session>(&json).is_err());

    let mut no_device = good.clone();
    no_device.device = None;
    assert_eq!(
        Session::from_parts(no_device),
        Err(RestoreError::InconsistentPlayback(SessionState::Playing))
    );

    let mut past_end = good.clone();
    past_end.position = past_end.queue.len();
    assert!(Session::from_parts(past_end).is_err());

    let mut duplicate = good.clone();
    let first = duplicate.members[0].clone();
    duplicate.members.push(Member {
        role: Role::Guest,
        ..first
    });
    assert!(matches!(
        Session::from_parts(duplicate),
        Err(RestoreError::DuplicateMember(_))
    ));

    let mut over = good.clone();
    over.settings.capacity = 1;
    assert!(matches!(
        Session::from_parts(over),
        Err(RestoreError::OverCapacity { .. })
    ));

    let mut banned_member = good.clone();
    banned_member.banned.insert(user("bob"), "BOB".into());
    assert_eq!(
        Session::from_parts(banned_member),
        Err(RestoreError::BannedMember(user("bob")))
    );

    let mut repeated_track = good.clone();
    let entry = repeated_track.queue[0].clone();
    repeated_track.queue.push(entry);
    assert_eq!(
        Session::from_parts(repeated_track),
        Err(RestoreError::InvalidQueue)
    );

    let mut empty_lobby = lobby().into_parts();
    empty_lobby.members.clear();
    assert_eq!(
        Session::from_parts(empty_lobby),
        Err(RestoreError::NoMembers(SessionState::Lobby))
    );
}
