//! The chat's rules over random sequences of messages, reactions, deletions, mutes and role
//! changes by the host, a co-host, guests, a muted guest and an outsider: exactly the allowed
//! requests succeed, and a refused one changes neither the session nor the chat.
// Test helpers outside #[test] fns may unwrap too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use proptest::prelude::*;
use sesh_session::*;

/// alice hosts, bob is a co-host, carol and dave are guests, erin is not a member.
const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];

#[derive(Debug, Clone)]
enum Op {
    Post(usize, String),
    /// Actor, how far back from the newest message (beyond the history: an unknown id).
    Delete(usize, usize),
    React(usize, usize, usize),
    ReactTrack(usize, usize),
    Mute(usize, usize, bool),
    /// The host makes someone a co-host (`true`) or a guest again.
    SetRole(usize, bool),
    /// The host opens or closes the chat to guests.
    GuestChat(bool),
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..USERS.len();
    let text = prop_oneof![
        4 => "[a-z <>&]{1,20}",
        1 => Just("   ".to_owned()),
        1 => Just("two\nlines".to_owned()),
        1 => Just("x".repeat(MAX_CHAT_CHARS + 1)),
    ];
    prop_oneof![
        6 => (who.clone(), text).prop_map(|(a, t)| Op::Post(a, t)),
        2 => (who.clone(), 0..6usize).prop_map(|(a, back)| Op::Delete(a, back)),
        2 => (who.clone(), 0..6usize, 0..Reaction::ALL.len()).prop_map(|(a, b, r)| Op::React(a, b, r)),
        1 => (who.clone(), 0..Reaction::ALL.len()).prop_map(|(a, r)| Op::ReactTrack(a, r)),
        2 => (who.clone(), who.clone(), any::<bool>()).prop_map(|(a, t, m)| Op::Mute(a, t, m)),
        1 => (1..4usize, any::<bool>()).prop_map(|(t, c)| Op::SetRole(t, c)),
        1 => any::<bool>().prop_map(Op::GuestChat),
    ]
}

fn party() -> Session {
    let mut session = lobby();
    for (i, name) in ["bob", "carol", "dave"].into_iter().enumerate() {
        session
            .join(newcomer(name, &[]), 1_000 + i as i64, &mut rng(1))
            .unwrap();
    }
    session
        .set_role(&user("alice"), &user("bob"), Role::CoHost)
        .unwrap();
    session
        .start(&user("alice"), DeviceId::new("phone"), &mut rng(2))
        .unwrap();
    session
}

/// The message `back` places before the newest (or one the chat does not have).
fn pick(chat: &Chat, back: usize) -> ChatMessageId {
    chat.messages()
        .rev()
        .nth(back)
        .map_or(ChatMessageId::new(999_999), |m| m.id)
}

proptest! {
    #[test]
    fn only_allowed_chat_requests_succeed_and_refusals_change_nothing(
        ops in prop::collection::vec(op(), 0..60),
    ) {
        let mut session = party();
        let mut chat = Chat::default();
        for (now, op) in ops.iter().enumerate() {
            let (session_before, chat_before) = (session.clone(), chat.clone());
            let role = |a: usize| session.member(&user(USERS[a])).map(|m| m.role);
            let guests_chat = session.settings().guest_permissions.contains(Permission::Chat);
            let may_chat = |a: usize| match role(a) {
                None => false,
                Some(Role::Guest) => guests_chat && !session.is_muted(&user(USERS[a])),
                Some(_) => true,
            };
            let moderator = |a: usize| role(a).is_some_and(Role::is_moderator);
            let result: Result<(), SessionError> = match op {
                Op::Post(a, text) => {
                    let parsed = ChatText::try_from(text.clone());
                    prop_assert_eq!(
                        parsed.is_ok(),
                        !text.trim().is_empty()
                            && text.trim().chars().count() <= MAX_CHAT_CHARS
                            && !text.contains('\n')
                    );
                    let Ok(text) = parsed else { continue };
                    let expected = may_chat(*a);
                    let decided = chat.decide_post(&session, &user(USERS[*a]), text, now as i64);
                    prop_assert_eq!(decided.is_ok(), expected, "{:?}", decided);
                    decided.map(|change| {
                        let next = chat.next_id();
                        chat.apply(change);
                        assert_eq!(chat.messages().last().unwrap().id.get(), next);
                    })
                }
                Op::Delete(a, back) => {
                    let id = pick(&chat, *back);
                    let expected = moderator(*a) && chat.message(id).is_some();
                    let decided = chat.decide_delete(&session, &user(USERS[*a]), id);
                    prop_assert_eq!(decided.is_ok(), expected, "{:?}", decided);
                    decided.map(|change| {
                        chat.apply(change);
                        assert!(chat.message(id).is_none());
                    })
                }
                Op::React(a, back, r) => {
                    let id = pick(&chat, *back);
                    let expected = may_chat(*a) && chat.message(id).is_some();
                    let actor = user(USERS[*a]);
                    let decided = chat.decide_react(&session, &actor, id, Reaction::ALL[*r]);
                    prop_assert_eq!(decided.is_ok(), expected, "{:?}", decided);
                    decided.map(|change| {
                        let had = chat.message(id).unwrap().reactions.of(&actor).contains(&Reaction::ALL[*r]);
                        chat.apply(change);
                        let has = chat.message(id).unwrap().reactions.of(&actor).contains(&Reaction::ALL[*r]);
                        assert_ne!(had, has, "a reaction toggles");
                    })
                }
                Op::ReactTrack(a, r) => {
                    let decided = chat.decide_react_track(&session, &user(USERS[*a]), Reaction::ALL[*r]);
                    prop_assert_eq!(decided.is_ok(), may_chat(*a), "{:?}", decided);
                    decided.map(|change| {
                        chat.apply(change);
                    })
                }
                Op::Mute(a, t, muted) => {
                    let target_is_guest = role(*t) == Some(Role::Guest);
                    let expected = moderator(*a) && a != t && target_is_guest;
                    let was = session.is_muted(&user(USERS[*t]));
                    let result = session.set_muted(&user(USERS[*a]), &user(USERS[*t]), *muted);
                    prop_assert_eq!(result.is_ok(), expected, "{:?}", result);
                    result.map(|events| {
                        assert_eq!(session.is_muted(&user(USERS[*t])), *muted);
                        assert_eq!(events.len(), usize::from(was != *muted));
                    })
                }
                Op::SetRole(t, co_host) => {
                    let role = if *co_host { Role::CoHost } else { Role::Guest };
                    session.set_role(&user("alice"), &user(USERS[*t]), role).map(|events| {
                        if *co_host {
                            assert!(!session.is_muted(&user(USERS[*t])), "a co-host is never muted");
                            let lifted = events.iter().any(|e| matches!(e, Event::MemberMuted { muted: false, .. }));
                            assert_eq!(lifted, session_before.is_muted(&user(USERS[*t])));
                        }
                    })
                }
                Op::GuestChat(open) => {
                    let permissions = session.settings().guest_permissions;
                    let permissions = if *open { permissions.with(Permission::Chat) } else { permissions.without(Permission::Chat) };
                    session.set_guest_permissions(&user("alice"), permissions).map(drop)
                }
            };
            match result {
                Ok(()) => {}
                Err(e) => {
                    prop_assert_eq!(&session, &session_before, "a refusal changes no session");
                    prop_assert_eq!(&chat, &chat_before, "a refusal changes no chat");
                    if let SessionError::Forbidden { action: Action::Chat, permission } = e {
                        prop_assert_eq!(permission, Some(Permission::Chat), "a guest is told what is missing");
                    }
                }
            }
            // Moderators are never muted; the history stays bounded, ids increase.
            for member in session.members() {
                prop_assert!(!(member.is_moderator() && session.is_muted(&member.user_id)));
            }
            prop_assert!(chat.messages().len() <= CHAT_HISTORY);
            let ids: Vec<_> = chat.messages().map(|m| m.id).collect();
            prop_assert!(ids.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(ids.last().is_none_or(|last| last.get() < chat.next_id()));
        }
        // What is stored comes back the same.
        let restored: Session = serde_json::from_value(serde_json::to_value(&session).unwrap()).unwrap();
        prop_assert_eq!(restored.muted(), session.muted());
    }
}

#[test]
fn a_muted_guest_is_refused_with_muted_and_a_guest_without_the_permission_with_forbidden() {
    let mut session = party();
    let chat = Chat::default();
    let text = || ChatText::try_from("hello".to_owned()).unwrap();
    session
        .set_muted(&user("bob"), &user("dave"), true)
        .unwrap();
    assert_eq!(
        chat.decide_post(&session, &user("dave"), text(), 1),
        Err(SessionError::Muted)
    );
    assert_eq!(SessionError::Muted.code(), "muted");
    // A co-host may not mute the host or another co-host; a guest may not mute anyone.
    for (actor, target) in [("bob", "alice"), ("carol", "dave"), ("alice", "bob")] {
        assert!(
            session
                .set_muted(&user(actor), &user(target), true)
                .is_err()
        );
    }
    let closed = session
        .settings()
        .guest_permissions
        .without(Permission::Chat);
    session
        .set_guest_permissions(&user("alice"), closed)
        .unwrap();
    assert_eq!(
        chat.decide_post(&session, &user("carol"), text(), 1),
        Err(SessionError::Forbidden {
            action: Action::Chat,
            permission: Some(Permission::Chat)
        })
    );
    // The host and co-hosts chat whatever guests may.
    assert!(chat.decide_post(&session, &user("bob"), text(), 1).is_ok());
    assert!(matches!(
        chat.decide_post(&session, &user("erin"), text(), 1),
        Err(SessionError::NotAMember { .. })
    ));
}

#[test]
fn the_history_keeps_the_last_200_and_ids_are_never_reused() {
    let session = party();
    let mut chat = Chat::default();
    let mut dropped = Vec::new();
    for i in 0..=CHAT_HISTORY {
        let text = ChatText::try_from(format!("message {i}")).unwrap();
        let change = chat
            .decide_post(&session, &user("carol"), text, i as i64)
            .unwrap();
        dropped.extend(chat.apply(change));
    }
    assert_eq!(dropped, [ChatMessageId::new(0)]);
    assert_eq!(chat.messages().len(), CHAT_HISTORY);
    let newest = chat.messages().last().unwrap().id;
    let change = chat
        .decide_delete(&session, &user("alice"), newest)
        .unwrap();
    chat.apply(change);
    let text = ChatText::try_from("again".to_owned()).unwrap();
    let ChatChange::Post(message) = chat.decide_post(&session, &user("carol"), text, 0).unwrap()
    else {
        panic!("a post");
    };
    assert!(message.id > newest);
    assert_eq!(message.author_name, "CAROL");
}

#[test]
fn track_reactions_belong_to_the_playing_entry() {
    let mut session = party();
    let mut chat = Chat::default();
    let change = chat
        .decide_react_track(&session, &user("carol"), Reaction::Fire)
        .unwrap();
    chat.apply(change);
    let (entry, reactions) = chat.track_reactions(&session).unwrap();
    assert_eq!(entry, session.now_playing().unwrap().id);
    assert_eq!(reactions.counts()[&Reaction::Fire], 1);
    if session.queue().len() > 1 {
        session.move_to(1).unwrap();
        assert!(
            chat.track_reactions(&session).is_none(),
            "another track plays"
        );
    }
    let lobby = lobby();
    assert_eq!(
        Chat::default().decide_react_track(&lobby, &user("alice"), Reaction::Fire),
        Err(SessionError::NothingPlaying)
    );
}
