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
    assert_eq!(
        session.settings().guest_permissions,
        Permissions::GUEST_DEFAULT
    );
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
fn kick_is_for_moderators_and_bans_until_they_let_them_back_in() {
    let mut session = lobby_with_bob();
    session
        .join(newcomer("carol", &[]), 2, &mut rng(1))
        .unwrap();
    assert_eq!(
        session.kick(&user("bob"), &user("carol")).unwrap_err(),
        SessionError::Forbidden {
            action: Action::Kick,
            permission: None,
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
            action: Action::SetOwnTopTracks,
            permission: None,
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
            position: 0,
            device: DeviceId::new("phone"),
        }]
    );
    // Entries are numbered in queue order.
    assert_eq!(
        entry_ids(session.queue()),
        (0..5).map(QueueEntryId::new).collect::<Vec<_>>()
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
    assert!(matches!(events[0], Event::MemberJoined { .. }));
    // Two new entries, and a credit on b1 unless it played already.
    let added: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::EntryAdded { entry, index } => Some((entry, *index)),
            _ => None,
        })
        .collect();
    assert_eq!(added.len(), 2);
    for (entry, index) in &added {
        assert_eq!(entry.added_by, vec![user("carol")]);
        assert!(*index >= 2);
    }
    assert_eq!(replay(&before, &events, &session), seen(queue));
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
    let updated = events
        .iter()
        .filter(|e| matches!(e, Event::EntryUpdated { .. }))
        .count();
    assert_eq!(updated, usize::from(!played_b1));
    assert_eq!(events.len(), 1 + 2 + updated);
    assert_eq!(queue.len(), before.len() + 2);
    // Fresh ids, above every earlier one.
    assert!(added.iter().all(|(e, _)| e.id >= QueueEntryId::new(5)));
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
    let settings = session.settings().clone();
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
    let expected = numbered(shuffle::random_queue(session.members(), &mut rng(8)));
    assert_eq!(session.queue(), &expected[..]);
    assert_eq!(
        code(session.set_shuffle_mode(&user("alice"), ShuffleMode::Fair)),
        "already_started"
    );
}

#[test]
fn the_host_alone_names_the_session() {
    let mut session = lobby_with_bob();
    session
        .join(newcomer("carol", &["c1"]), 2_000, &mut rng(3))
        .unwrap();
    session
        .set_role(&user("alice"), &user("carol"), Role::CoHost)
        .unwrap();
    assert_eq!(session.settings().name, None);
    let name = SessionName::parse_optional("  Friday at Sam’s ").unwrap();
    assert_eq!(
        name.as_ref().map(SessionName::as_str),
        Some("Friday at Sam’s")
    );
    // Neither a guest nor a co-host may, and nothing changes when they try.
    for who in ["bob", "carol"] {
        assert_eq!(
            session.set_name(&user(who), name.clone()).unwrap_err(),
            SessionError::Forbidden {
                action: Action::RenameSession,
                permission: None,
            },
            "{who}"
        );
    }
    assert_eq!(
        code(session.set_name(&user("zed"), name.clone())),
        "not_a_member"
    );
    assert_eq!(session.settings().name, None);

    let events = session.set_name(&user("alice"), name.clone()).unwrap();
    assert_eq!(session.settings().name, name);
    let settings = session.settings().clone();
    assert_eq!(events, vec![Event::SettingsChanged { settings }]);
    // The same name again: no event. No name: the name goes.
    assert!(session.set_name(&user("alice"), name).unwrap().is_empty());
    let events = session.set_name(&user("alice"), None).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(session.settings().name, None);

    // While playing too; not once ended.
    session
        .set_name(
            &user("alice"),
            SessionName::parse_optional("Later").unwrap(),
        )
        .unwrap();
    session
        .start(&user("alice"), DeviceId::new("phone"), &mut rng(4))
        .unwrap();
    assert_eq!(session.set_name(&user("alice"), None).unwrap().len(), 1);
    session.end(&user("alice")).unwrap();
    assert_eq!(
        code(session.set_name(&user("alice"), None)),
        "session_ended"
    );
}

#[test]
fn a_session_name_is_short_printable_text() {
    use SessionNameError::*;
    assert_eq!(SessionName::parse_optional("").unwrap(), None);
    assert_eq!(SessionName::parse_optional(" \u{3000} ").unwrap(), None);
    let sixty = "é".repeat(MAX_NAME_CHARS);
    assert_eq!(
        SessionName::parse_optional(&sixty)
            .unwrap()
            .unwrap()
            .as_str(),
        sixty
    );
    assert_eq!(
        SessionName::parse_optional(&format!("{sixty}x")),
        Err(TooLong)
    );
    assert_eq!(
        SessionName::parse_optional(&format!("  {sixty}  "))
            .unwrap()
            .unwrap()
            .as_str(),
        sixty
    );
    assert_eq!(SessionName::parse_optional("a\nb"), Err(ControlCharacter));
    assert_eq!(
        SessionName::parse_optional("a\u{7f}"),
        Err(ControlCharacter)
    );
    // Stored settings with a bad name do not load; settings stored before names existed do.
    assert!(serde_json::from_str::<Settings>(r#"{"name":"a\u0007"}"#).is_err());
    assert!(serde_json::from_str::<Settings>(r#"{"name":""}"#).is_err());
    assert_eq!(serde_json::from_str::<Settings>("{}").unwrap().name, None);
    let named: Settings = serde_json::from_str(r#"{"name":" Party "}"#).unwrap();
    assert_eq!(named.name.unwrap().as_str(), "Party");
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
    assert_eq!(events, vec![Event::NowPlaying { position: 2 }]);
    assert_eq!(session.move_to(2), Ok(false));
    assert_eq!(session.move_to(1), Ok(true));
    assert_eq!(session.position(), 1);
    session.advance_to(2).unwrap();
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
        session.set_role(&alice, &user("bob"), Role::CoHost),
        session.set_guest_permissions(&alice, Permissions::all()),
        session.reshuffle(&alice, &mut rng(1)),
        session.set_device(&alice, DeviceId::new("tv")),
        session.remove_entry(&alice, QueueEntryId::new(3)),
    ];
    assert_eq!(
        session.plan_start(&alice, &mut rng(1)),
        Err(SessionError::SessionEnded)
    );
    assert_eq!(session.move_to(0), Err(SessionError::SessionEnded));
    for result in results {
        assert_eq!(result, Err(SessionError::SessionEnded));
    }
}

#[test]
fn roles_decide_what_each_user_can_do() {
    let mut session = lobby_with_bob();
    session
        .join(newcomer("carol", &[]), 2, &mut rng(1))
        .unwrap();
    session
        .set_role(&user("alice"), &user("carol"), Role::CoHost)
        .unwrap();
    for action in Action::ALL {
        let requirement = action.requirement();
        assert_eq!(
            session.can(&user("alice"), action),
            requirement != Requirement::Listener,
            "host: {action:?}"
        );
        assert_eq!(
            session.can(&user("carol"), action),
            requirement != Requirement::Host,
            "co-host: {action:?}"
        );
        let guest = session.authorize(&user("bob"), action);
        match requirement {
            Requirement::AnyMember | Requirement::Listener => {
                assert_eq!(guest, Ok(()), "guest: {action:?}");
            }
            Requirement::Host | Requirement::Moderator => assert_eq!(
                guest,
                Err(SessionError::Forbidden {
                    action,
                    permission: None
                })
            ),
            // Adding, voting and voting to skip are open to guests by default; none of the
            // playback permissions is.
            Requirement::Guests(permission) if Permissions::GUEST_DEFAULT.contains(permission) => {
                assert_eq!(guest, Ok(()), "guest: {action:?}")
            }
            Requirement::Guests(permission) => assert_eq!(
                guest,
                Err(SessionError::Forbidden {
                    action,
                    permission: Some(permission)
                })
            ),
        }
        assert_eq!(
            session.authorize(&user("zed"), action),
            Err(SessionError::NotAMember { user: user("zed") }),
            "outsider: {action:?}"
        );
    }
    assert!(!session.can(&user("bob"), Action::Skip));
    let open = Permissions::NONE.with(Permission::Skip);
    assert_eq!(
        session.set_guest_permissions(&user("carol"), open),
        Err(SessionError::Forbidden {
            action: Action::SetPermissions,
            permission: None
        })
    );
    session.set_guest_permissions(&user("alice"), open).unwrap();
    assert!(session.can(&user("bob"), Action::Skip));
    assert!(!session.can(&user("bob"), Action::Seek));
}

#[test]
fn the_rule_table_is_as_documented() {
    use Requirement::*;
    let expected = [
        (Action::View, AnyMember),
        (Action::Leave, AnyMember),
        (Action::SetOwnTopTracks, AnyMember),
        (Action::Start, Host),
        (Action::End, Host),
        (Action::TransferHost, Host),
        (Action::SetRole, Host),
        (Action::SetPermissions, Host),
        (Action::Transfer, Host),
        (Action::SetShuffleMode, Host),
        (Action::RenameSession, Host),
        (Action::SetQueueSettings, Host),
        (Action::ManageDisplays, Host),
        (Action::Kick, Moderator),
        (Action::Unban, Moderator),
        (Action::RotateInvite, Moderator),
        (Action::Repeat, Moderator),
        (Action::Reshuffle, Moderator),
        (Action::RemoveEntry, Moderator),
        (Action::BanTrack, Moderator),
        (Action::DeleteChat, Moderator),
        (Action::Mute, Moderator),
        (Action::Chat, Guests(Permission::Chat)),
        (Action::Search, Guests(Permission::AddTracks)),
        (Action::AddTrack, Guests(Permission::AddTracks)),
        (Action::Vote, Guests(Permission::Vote)),
        (Action::VoteSkip, Guests(Permission::VoteSkip)),
        (Action::Skip, Guests(Permission::Skip)),
        (Action::PauseResume, Guests(Permission::PauseResume)),
        (Action::Seek, Guests(Permission::Seek)),
        (Action::Volume, Guests(Permission::Volume)),
        (Action::ListenAlong, Listener),
    ];
    assert_eq!(expected.len(), Action::ALL.len());
    for (action, requirement) in expected {
        assert_eq!(action.requirement(), requirement, "{action:?}");
    }
}

#[test]
fn error_codes_are_stable() {
    let cases = [
        (
            SessionError::Forbidden {
                action: Action::Start,
                permission: None,
            },
            "forbidden",
        ),
        (
            SessionError::EntryNotFound {
                id: QueueEntryId::new(7),
            },
            "entry_not_found",
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
    let forbidden = |action, permission| SessionError::Forbidden { action, permission }.to_string();
    assert_eq!(
        forbidden(Action::Kick, None),
        "only the host and co-hosts may kick members"
    );
    assert_eq!(
        forbidden(Action::Start, None),
        "only the host may start the session"
    );
    assert_eq!(
        forbidden(Action::Seek, Some(Permission::Seek)),
        "the host has not allowed guests to seek"
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
        position: 0,
        device: DeviceId::new("phone"),
    };
    let value = json(&started);
    assert_eq!(
        value,
        serde_json::json!({"type": "session_started", "position": 0, "device": "phone"})
    );
    let added = Event::EntryAdded {
        entry: session.queue()[0].clone(),
        index: 3,
    };
    let added_json = json(&added);
    assert_eq!(added_json["type"], "entry_added");
    assert_eq!(added_json["index"], 3);
    assert_eq!(added_json["entry"]["id"], 0);
    assert_eq!(
        added_json["entry"]["track"]["uri"],
        format!("spotify:track:{}", session.queue()[0].track.id)
    );
    assert!(added_json["entry"]["added_by"].is_array());
    assert_eq!(
        json(&Event::QueueReordered {
            from: 1,
            order: vec![QueueEntryId::new(4), QueueEntryId::new(2)]
        }),
        serde_json::json!({"type": "queue_reordered", "from": 1, "order": [4, 2]})
    );
    assert_eq!(
        json(&Event::RoleChanged {
            user_id: user("bob"),
            role: Role::CoHost
        }),
        serde_json::json!({"type": "role_changed", "user_id": "bob", "role": "co_host"})
    );
    assert_eq!(
        json(&Event::EntryRemoved {
            id: QueueEntryId::new(9)
        }),
        serde_json::json!({"type": "entry_removed", "id": 9})
    );
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

    let mut repeated_id = good.clone();
    let entry = repeated_id.queue[0].clone();
    repeated_id.queue.push(entry);
    assert_eq!(
        Session::from_parts(repeated_id),
        Err(RestoreError::DuplicateEntryId(QueueEntryId::new(0)))
    );

    let mut uncredited = good.clone();
    uncredited.queue[1].added_by.clear();
    assert_eq!(
        Session::from_parts(uncredited),
        Err(RestoreError::InvalidQueue)
    );

    let mut credited_twice = good.clone();
    credited_twice.queue[1].added_by = vec![user("bob"), user("bob")];
    assert_eq!(
        Session::from_parts(credited_twice),
        Err(RestoreError::InvalidQueue)
    );

    let mut huge_id = good.clone();
    huge_id.queue[1].id = QueueEntryId::new(MAX_ENTRY_ID + 1);
    assert!(matches!(
        Session::from_parts(huge_id),
        Err(RestoreError::EntryIdOutOfRange(_))
    ));

    let mut empty_lobby = lobby().into_parts();
    empty_lobby.members.clear();
    assert_eq!(
        Session::from_parts(empty_lobby),
        Err(RestoreError::NoMembers(SessionState::Lobby))
    );
}

/// alice hosts, bob and carol are guests, dave a co-host; playing on alice's phone.
fn playing_with_co_host() -> Session {
    let mut session = lobby_with_bob();
    session
        .join(newcomer("carol", &["c1", "c2"]), 2_000, &mut rng(1))
        .unwrap();
    session
        .join(newcomer("dave", &["d1"]), 3_000, &mut rng(1))
        .unwrap();
    session
        .set_role(&user("alice"), &user("dave"), Role::CoHost)
        .unwrap();
    session
        .start(&user("alice"), DeviceId::new("phone"), &mut rng(2))
        .unwrap();
    session
}

#[test]
fn the_host_appoints_and_demotes_co_hosts() {
    let mut session = lobby_with_bob();
    session
        .join(newcomer("carol", &[]), 2, &mut rng(1))
        .unwrap();
    let events = session
        .set_role(&user("alice"), &user("bob"), Role::CoHost)
        .unwrap();
    assert_eq!(
        events,
        vec![Event::RoleChanged {
            user_id: user("bob"),
            role: Role::CoHost
        }]
    );
    assert_eq!(session.member(&user("bob")).unwrap().role, Role::CoHost);
    assert!(
        session
            .set_role(&user("alice"), &user("bob"), Role::CoHost)
            .unwrap()
            .is_empty(),
        "the same role again changes nothing"
    );
    // Only the host: a co-host cannot promote anyone.
    assert_eq!(
        session.set_role(&user("bob"), &user("carol"), Role::CoHost),
        Err(SessionError::Forbidden {
            action: Action::SetRole,
            permission: None
        })
    );
    let before = session.clone();
    for (target, role) in [
        ("carol", Role::Host),
        ("alice", Role::Guest),
        ("alice", Role::CoHost),
    ] {
        assert_eq!(
            code(session.set_role(&user("alice"), &user(target), role)),
            "invalid_target",
            "{target} to {role}"
        );
    }
    assert_eq!(
        code(session.set_role(&user("alice"), &user("zed"), Role::CoHost)),
        "not_a_member"
    );
    assert_eq!(session, before, "refusals change nothing");
    session
        .set_role(&user("alice"), &user("bob"), Role::Guest)
        .unwrap();
    assert_eq!(session.member(&user("bob")).unwrap().role, Role::Guest);
}

#[test]
fn co_hosts_kick_guests_but_not_the_host_or_each_other() {
    let mut session = playing_with_co_host();
    session
        .set_role(&user("alice"), &user("carol"), Role::CoHost)
        .unwrap();
    assert_eq!(
        code(session.kick(&user("dave"), &user("alice"))),
        "invalid_target"
    );
    assert_eq!(
        code(session.kick(&user("dave"), &user("carol"))),
        "invalid_target"
    );
    session.kick(&user("dave"), &user("bob")).unwrap();
    assert!(session.is_banned(&user("bob")));
    session.unban(&user("dave"), &user("bob")).unwrap();
    session
        .rotate_invite(&user("dave"), InviteCode::generate(&mut rng(3)))
        .unwrap();
    // The host may kick a co-host.
    session.kick(&user("alice"), &user("carol")).unwrap();
    assert!(session.is_banned(&user("carol")));
}

#[test]
fn the_host_hand_over_keeps_other_co_hosts() {
    let mut session = playing_with_co_host();
    session
        .set_role(&user("alice"), &user("carol"), Role::CoHost)
        .unwrap();
    let events = session
        .transfer_host(&user("alice"), &user("dave"))
        .unwrap();
    assert_eq!(events, vec![Event::HostChanged { host: user("dave") }]);
    let role = |name: &str| session.member(&user(name)).unwrap().role;
    assert_eq!(role("dave"), Role::Host, "no longer a co-host");
    assert_eq!(role("alice"), Role::Guest);
    assert_eq!(role("carol"), Role::CoHost);
    assert_eq!(role("bob"), Role::Guest);
    assert!(Session::from_parts(session.clone().into_parts()).is_ok());
}

#[test]
fn a_leaving_host_is_succeeded_by_the_earliest_co_host() {
    let mut session = lobby();
    session
        .join(newcomer("bob", &[]), 1_000, &mut rng(1))
        .unwrap();
    session
        .join(newcomer("carol", &[]), 3_000, &mut rng(1))
        .unwrap();
    session
        .join(newcomer("dave", &[]), 2_000, &mut rng(1))
        .unwrap();
    for name in ["carol", "dave"] {
        session
            .set_role(&user("alice"), &user(name), Role::CoHost)
            .unwrap();
    }
    let events = session.leave(&user("alice")).unwrap();
    // bob joined first, but dave is the co-host who joined first.
    assert_eq!(events[1], Event::HostChanged { host: user("dave") });
    assert_eq!(session.member(&user("dave")).unwrap().role, Role::Host);
    assert_eq!(session.member(&user("carol")).unwrap().role, Role::CoHost);
    // Without co-hosts, the earliest member.
    session
        .set_role(&user("dave"), &user("carol"), Role::Guest)
        .unwrap();
    let events = session.leave(&user("dave")).unwrap();
    assert_eq!(events[1], Event::HostChanged { host: user("bob") });
}

#[test]
fn guests_do_what_the_host_opens_to_them() {
    let mut session = playing_with_co_host();
    let skip = Permissions::GUEST_DEFAULT.with(Permission::Skip);
    assert_eq!(
        session.set_guest_permissions(&user("dave"), skip),
        Err(SessionError::Forbidden {
            action: Action::SetPermissions,
            permission: None
        })
    );
    assert_eq!(
        session.authorize(&user("bob"), Action::Skip),
        Err(SessionError::Forbidden {
            action: Action::Skip,
            permission: Some(Permission::Skip)
        })
    );
    assert_eq!(session.authorize(&user("dave"), Action::Skip), Ok(()));
    let events = session.set_guest_permissions(&user("alice"), skip).unwrap();
    let settings = session.settings().clone();
    assert_eq!(settings.guest_permissions, skip);
    assert_eq!(events, vec![Event::SettingsChanged { settings }]);
    assert!(
        session
            .set_guest_permissions(&user("alice"), skip)
            .unwrap()
            .is_empty()
    );
    assert_eq!(session.authorize(&user("bob"), Action::Skip), Ok(()));
    assert!(!session.can(&user("bob"), Action::Volume));
}

#[test]
fn reshuffle_redraws_only_what_is_still_to_come() {
    let mut session = playing_with_co_host();
    session.advance_to(1).unwrap();
    assert_eq!(
        code(session.reshuffle(&user("bob"), &mut rng(1))),
        "forbidden"
    );
    let before = session.queue().to_vec();
    let mut seed = 0;
    let events = loop {
        // A seed whose draw differs from the current order (most do).
        let mut twin = session.clone();
        let events = twin.reshuffle(&user("dave"), &mut rng(seed)).unwrap();
        if !events.is_empty() {
            session = twin;
            break events;
        }
        seed += 1;
    };
    let queue = session.queue();
    assert_eq!(queue[..2], before[..2], "played and now playing stay");
    let order = entry_ids(&queue[2..]);
    assert_eq!(events, vec![Event::QueueReordered { from: 2, order }]);
    let mut old = entry_ids(&before[2..]);
    let mut new = entry_ids(&queue[2..]);
    old.sort();
    new.sort();
    assert_eq!(old, new, "the same entries");
    assert_eq!(replay(&before, &events, &session), seen(queue));

    // Nothing to re-draw with fewer than two upcoming entries.
    let last = session.queue().len() - 2;
    session.advance_to(last).unwrap();
    assert!(
        session
            .reshuffle(&user("alice"), &mut rng(1))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        code(lobby_with_bob().reshuffle(&user("alice"), &mut rng(1))),
        "not_started"
    );
}

#[test]
fn the_host_moves_playback_to_another_device() {
    let mut session = playing_with_co_host();
    assert_eq!(
        code(session.set_device(&user("dave"), DeviceId::new("tv"))),
        "forbidden"
    );
    let events = session
        .set_device(&user("alice"), DeviceId::new("tv"))
        .unwrap();
    assert_eq!(
        events,
        vec![Event::DeviceChanged {
            device: DeviceId::new("tv")
        }]
    );
    assert_eq!(session.device(), Some(&DeviceId::new("tv")));
    assert!(
        session
            .set_device(&user("alice"), DeviceId::new("tv"))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        code(lobby_with_bob().set_device(&user("alice"), DeviceId::new("tv"))),
        "not_started"
    );
}

/// `session` with its queue replaced by entries 0, 1, 2, … of these tracks and credits,
/// playing the first (through the stored form, as the gateway would load it).
fn with_queue(session: Session, entries: &[(&str, &[&str])]) -> Session {
    let mut parts = session.into_parts();
    parts.queue = entries
        .iter()
        .enumerate()
        .map(|(i, (track_id, credits))| QueueEntry {
            id: QueueEntryId::new(i as u64),
            track: Arc::new(track(track_id)),
            added_by: credits.iter().map(|name| user(name)).collect(),
            origin: Default::default(),
            votes: Default::default(),
        })
        .collect();
    parts.position = 0;
    Session::from_parts(parts).unwrap()
}

#[test]
fn members_remove_what_they_brought_and_moderators_anything_upcoming() {
    let mut session = with_queue(
        playing_with_co_host(),
        &[
            ("a2", &["alice"]),
            ("c1", &["carol"]),
            ("a1", &["alice", "bob"]),
            ("b2", &["bob"]),
            ("d1", &["dave"]),
        ],
    );
    let id = QueueEntryId::new;
    assert_eq!(
        code(session.remove_entry(&user("alice"), id(0))),
        "invalid_target",
        "the now-playing entry stays"
    );
    assert_eq!(
        session.remove_entry(&user("bob"), id(99)),
        Err(SessionError::EntryNotFound { id: id(99) })
    );
    assert_eq!(
        code(session.remove_entry(&user("zed"), id(1))),
        "not_a_member"
    );
    let before = session.clone();
    assert_eq!(
        session.remove_entry(&user("bob"), id(1)),
        Err(SessionError::Forbidden {
            action: Action::RemoveEntry,
            permission: None
        }),
        "not bob's"
    );
    assert_eq!(session, before);

    let events = session.remove_entry(&user("carol"), id(1)).unwrap();
    assert_eq!(events, vec![Event::EntryRemoved { id: id(1) }]);
    assert_eq!(session.entry(id(1)), None);
    assert_eq!(session.entry_index(id(2)), Some(1));

    // Shared: bob takes back only his credit.
    let queue = session.queue().to_vec();
    let events = session.remove_entry(&user("bob"), id(2)).unwrap();
    let updated = session.entry(id(2)).unwrap().clone();
    assert_eq!(updated.added_by, vec![user("alice")]);
    assert_eq!(events, vec![Event::EntryUpdated { entry: updated }]);
    assert_eq!(replay(&queue, &events, &session), seen(session.queue()));
    assert_eq!(
        code(session.remove_entry(&user("bob"), id(2))),
        "forbidden",
        "no longer his"
    );

    // A co-host removes anyone's entry, shared or not.
    session.remove_entry(&user("dave"), id(3)).unwrap();
    session.remove_entry(&user("dave"), id(2)).unwrap();
    assert_eq!(entry_ids(session.queue()), [id(0), id(4)]);

    // Played entries stay too.
    session.advance_to(1).unwrap();
    assert_eq!(
        code(session.remove_entry(&user("alice"), id(0))),
        "invalid_target"
    );
    assert_eq!(
        code(lobby_with_bob().remove_entry(&user("alice"), id(0))),
        "not_started"
    );
}

#[test]
fn a_track_may_be_queued_twice() {
    let mut session = with_queue(
        playing_with_co_host(),
        &[
            ("a2", &["alice"]),
            ("x", &["dave"]),
            ("b2", &["bob"]),
            ("x", &["dave"]),
        ],
    );
    let json = serde_json::to_string(&session).unwrap();
    let restored: Session = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, session);
    // Someone who has it is credited on the first upcoming one.
    let before = session.queue().to_vec();
    let events = session
        .join(newcomer("erin", &["x"]), 9_000, &mut rng(1))
        .unwrap();
    assert_eq!(
        session.entry(QueueEntryId::new(1)).unwrap().added_by,
        vec![user("dave"), user("erin")]
    );
    assert_eq!(
        session.entry(QueueEntryId::new(3)).unwrap().added_by,
        vec![user("dave")]
    );
    assert_eq!(replay(&before, &events, &session), seen(session.queue()));
    // New entries get ids from the stored counter: above every id the session ever handed
    // out (its original queue had 8 entries), not just above the restored ones.
    session
        .set_top_tracks(
            &user("erin"),
            &user("erin"),
            tracks(&["x", "e1"]),
            &mut rng(1),
        )
        .unwrap();
    let e1 = session
        .queue()
        .iter()
        .find(|e| e.track.id.as_str() == "e1")
        .unwrap();
    assert_eq!(e1.id, QueueEntryId::new(8));
}

#[test]
fn starting_in_two_steps_weaves_in_who_came_meanwhile() {
    let mut session = lobby_with_bob();
    let plan = session.plan_start(&user("alice"), &mut rng(5)).unwrap();
    let uris: Vec<String> = plan.uris().map(ToString::to_string).collect();
    assert_eq!(uris.len(), 5);
    assert_eq!(
        code(
            session
                .plan_start(&user("bob"), &mut rng(5))
                .map(|_| Vec::new())
        ),
        "forbidden"
    );
    // While Spotify answers, carol joins and bob changes his tracks.
    session
        .join(newcomer("carol", &["c1", "a2"]), 5_000, &mut rng(1))
        .unwrap();
    session
        .set_top_tracks(
            &user("bob"),
            &user("bob"),
            tracks(&["b1", "b9"]),
            &mut rng(1),
        )
        .unwrap();
    let before = session.queue().to_vec();
    assert_eq!(
        code(session.start_planned(
            &user("bob"),
            DeviceId::new("phone"),
            plan.clone(),
            &mut rng(6)
        )),
        "forbidden"
    );
    let mut other = lobby_with_bob();
    assert_eq!(
        code(other.start_planned(
            &user("alice"),
            DeviceId::new("phone"),
            plan.clone(),
            &mut rng(6)
        )),
        "invalid_target"
    );
    let events = session
        .start_planned(
            &user("alice"),
            DeviceId::new("phone"),
            plan.clone(),
            &mut rng(6),
        )
        .unwrap();
    assert_eq!(
        events[0],
        Event::SessionStarted {
            position: 0,
            device: DeviceId::new("phone")
        }
    );
    // The planned queue plays as sent to Spotify.
    let played: Vec<String> = session
        .queue()
        .iter()
        .filter(|e| e.id.get() < 5)
        .map(|e| e.track.uri.to_string())
        .collect();
    assert_eq!(played, uris);
    assert_eq!(session.queue()[0].track.uri.to_string(), uris[0]);
    // Everyone's counted tracks are in the queue now, credited to them (but for the
    // now-playing one, which a late joiner is not credited on).
    for member in session.members() {
        for track in &member.top_tracks {
            let entry = session
                .queue()
                .iter()
                .find(|e| e.track.id == track.id)
                .unwrap();
            assert!(
                entry.is_credited_to(&member.user_id) || session.queue()[0].id == entry.id,
                "{} on {}",
                member.user_id,
                track.id
            );
        }
    }
    assert!(
        events[1..]
            .iter()
            .all(|e| matches!(e, Event::EntryAdded { .. } | Event::EntryUpdated { .. }))
    );
    assert_eq!(replay(&before, &events, &session), seen(session.queue()));
    assert_eq!(
        code(session.start_planned(&user("alice"), DeviceId::new("phone"), plan, &mut rng(6))),
        "already_started"
    );
}

#[test]
fn stored_settings_without_permissions_get_the_default() {
    let mut json = serde_json::to_value(playing_with_co_host()).unwrap();
    json["settings"]
        .as_object_mut()
        .unwrap()
        .remove("guest_permissions");
    json.as_object_mut().unwrap().remove("next_entry_id");
    let restored: Session = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(
        restored.settings().guest_permissions,
        Permissions::GUEST_DEFAULT
    );
    // Without a stored counter, new ids still go above the stored ones.
    let mut restored = restored;
    let top = restored.queue().iter().map(|e| e.id).max().unwrap();
    restored
        .join(newcomer("erin", &["e1"]), 9_000, &mut rng(1))
        .unwrap();
    let e1 = restored
        .queue()
        .iter()
        .find(|e| e.track.id.as_str() == "e1")
        .unwrap();
    assert!(e1.id > top);

    json["settings"]["guest_permissions"] = serde_json::json!(["skip", "teleport"]);
    assert!(serde_json::from_value::<Session>(json.clone()).is_err());
    json["settings"]["guest_permissions"] = serde_json::json!(["skip"]);
    json["members"][1]["role"] = serde_json::json!("admin");
    assert!(serde_json::from_value::<Session>(json.clone()).is_err());
    json["members"][1]["role"] = serde_json::json!("co_host");
    let restored: Session = serde_json::from_value(json).unwrap();
    assert_eq!(restored.members()[1].role, Role::CoHost);
    assert_eq!(
        restored.settings().guest_permissions,
        Permissions::NONE.with(Permission::Skip)
    );
}

#[test]
fn a_spectator_joins_without_tracks_even_while_playing() {
    let mut session = playing();
    let queue_before = ids(session.queue());
    let events = session
        .join_spectator(newcomer("sam", &["s1", "s2"]), 5_000)
        .unwrap();
    assert_eq!(events.len(), 1, "only member_joined, no weave: {events:?}");
    let sam = session.member(&user("sam")).unwrap();
    assert_eq!(sam.role, Role::Spectator);
    assert!(sam.top_tracks.is_empty());
    assert_eq!(ids(session.queue()), queue_before);
    assert!(
        session
            .join_spectator(newcomer("sam", &[]), 6_000)
            .unwrap()
            .is_empty()
    );
    // Kicked, a spectator is refused like anyone.
    session.kick(&user("alice"), &user("sam")).unwrap();
    assert_eq!(
        code(session.join_spectator(newcomer("sam", &[]), 7_000)),
        "banned"
    );
}

#[test]
fn a_spectator_never_runs_the_session() {
    let mut session = playing();
    session.join_spectator(newcomer("sam", &[]), 5_000).unwrap();
    let (alice, sam) = (user("alice"), user("sam"));
    assert_eq!(
        code(session.set_role(&alice, &sam, Role::CoHost)),
        "invalid_target"
    );
    assert_eq!(
        code(session.set_role(&alice, &user("bob"), Role::Spectator)),
        "invalid_target"
    );
    assert_eq!(code(session.transfer_host(&alice, &sam)), "invalid_target");
    assert_eq!(code(session.claim_host(&sam, true)), "invalid_target");
    for action in [
        Action::PauseResume,
        Action::Skip,
        Action::Seek,
        Action::Volume,
    ] {
        let mut all = session.clone();
        all.set_guest_permissions(&alice, Permissions::all())
            .unwrap();
        assert!(!all.can(&sam, action), "{action:?}");
        assert!(all.can(&user("bob"), action), "{action:?}");
    }
    // Votes need the spectators' switch on top of the guests' one.
    assert!(
        session.can(&sam, Action::Vote),
        "spectators vote by default"
    );
    assert!(!session.can(&sam, Action::AddTrack), "but do not add");
    session
        .set_guest_permissions(
            &alice,
            Permissions::GUEST_DEFAULT.without(Permission::SpectatorsVote),
        )
        .unwrap();
    assert_eq!(
        session.authorize(&sam, Action::Vote),
        Err(SessionError::Forbidden {
            action: Action::Vote,
            permission: Some(Permission::SpectatorsVote)
        })
    );
    assert!(session.can(&user("bob"), Action::Vote));
    assert!(session.can(&sam, Action::Chat));
}

#[test]
fn a_host_leaving_only_spectators_behind_ends_the_session() {
    let mut session = lobby();
    session.join_spectator(newcomer("sam", &[]), 5_000).unwrap();
    let events = session.leave(&user("alice")).unwrap();
    assert!(events.contains(&Event::SessionEnded), "{events:?}");
    assert_eq!(session.state(), SessionState::Ended);

    // With a guest left, the guest succeeds, never the spectator who came first.
    let mut session = lobby();
    session.join_spectator(newcomer("sam", &[]), 500).unwrap();
    session
        .join(newcomer("bob", &["b1"]), 1_000, &mut rng(1))
        .unwrap();
    session.leave(&user("alice")).unwrap();
    assert_eq!(session.host(), &user("bob"));
}
