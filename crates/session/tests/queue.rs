//! The collaborative queue by example: the acceptance lines of the queue, its limits, votes,
//! skip votes, bans and the entry committed to Spotify, through the public API.
// Test helpers outside #[test] fns may unwrap too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use sesh_session::*;

/// alice hosts a playing session with `guests` (no top tracks of their own), its queue
/// replaced by entries 0, 1, 2, … of these (track, owner) pairs, playing the first
/// (through the stored form, as the gateway would load it).
fn queued(entries: &[(&str, &str)], guests: &[&str]) -> Session {
    let mut session = Session::new(
        SessionId::new_v4(),
        InviteCode::generate(&mut rng(7)),
        newcomer("alice", &["a1"]),
        0,
        Settings::default(),
    );
    for (i, guest) in guests.iter().enumerate() {
        session
            .join(newcomer(guest, &[]), 1 + i as i64, &mut rng(7))
            .unwrap();
    }
    session
        .start(&user("alice"), DeviceId::new("phone"), &mut rng(7))
        .unwrap();
    let mut parts = session.into_parts();
    parts.queue = entries
        .iter()
        .enumerate()
        .map(|(i, (track_id, owner))| QueueEntry {
            id: QueueEntryId::new(i as u64),
            track: Arc::new(track(track_id)),
            added_by: vec![user(owner)],
            origin: EntryOrigin::TopTracks,
            votes: BTreeMap::new(),
        })
        .collect();
    parts.next_entry_id = entries.len() as u64;
    Session::from_parts(parts).unwrap()
}

/// `who` adds track `track_id` (3 minutes long).
fn add(session: &mut Session, who: &str, track_id: &str) -> Result<Vec<Event>, SessionError> {
    session.add_track(&user(who), Arc::new(track(track_id)))
}

/// The id of the (first) entry playing `track_id`.
fn entry_of(session: &Session, track_id: &str) -> QueueEntryId {
    let entry = session
        .queue()
        .iter()
        .find(|e| e.track.id.as_str() == track_id);
    entry.unwrap().id
}

fn set(session: &mut Session, patch: QueueSettingsPatch) -> Vec<Event> {
    session.set_queue_settings(&user("alice"), &patch).unwrap()
}

fn votes_order() -> QueueSettingsPatch {
    QueueSettingsPatch {
        queue_order: Some(QueueOrder::Votes),
        ..QueueSettingsPatch::default()
    }
}

/// The tracks the session plays from now to the end of its queue.
fn play_out(session: &mut Session) -> Vec<String> {
    let mut played = Vec::new();
    while session.position() + 1 < session.queue().len() {
        session.advance_to(session.position() + 1).unwrap();
        played.push(session.now_playing().unwrap().track.id.to_string());
    }
    played
}

#[test]
fn fair_order_with_three_adders_plays_a1_b1_c1_a2() {
    // Nothing upcoming, or only the entry already handed to Spotify (pinned, it plays first).
    for pinned in [false, true] {
        let top: &[(&str, &str)] = if pinned {
            &[("h1", "alice"), ("h2", "alice")]
        } else {
            &[("h1", "alice")]
        };
        let mut session = queued(top, &["bob", "carol", "dave"]);
        if pinned {
            session.commit_next(QueueEntryId::new(1)).unwrap();
        }
        let first = session.queue().len();
        for (who, track_id) in [
            ("bob", "a1"),
            ("bob", "a2"),
            ("carol", "b1"),
            ("dave", "c1"),
        ] {
            let before = session.queue().to_vec();
            let events = add(&mut session, who, track_id).unwrap();
            assert_eq!(replay(&before, &events, &session), seen(session.queue()));
        }
        assert_eq!(ids(&session.queue()[first..]), ["a1", "b1", "c1", "a2"]);
        let mut expected = if pinned { vec!["h2"] } else { vec![] };
        expected.extend(["a1", "b1", "c1", "a2"]);
        assert_eq!(play_out(&mut session), expected, "pinned: {pinned}");
    }
}

#[test]
fn in_votes_order_a_plus_two_track_plays_before_an_older_plus_one() {
    let mut session = queued(&[("h1", "alice")], &["bob", "carol", "dave"]);
    set(&mut session, votes_order());
    add(&mut session, "bob", "older").unwrap();
    add(&mut session, "carol", "newer").unwrap();
    // Adding counts as the adder's up vote; ties stay first in, first out.
    assert_eq!(ids(session.queue()), ["h1", "older", "newer"]);
    let newer = entry_of(&session, "newer");
    assert_eq!(session.entry(newer).unwrap().net_votes(), 1);

    let before = session.queue().to_vec();
    let events = session.vote(&user("dave"), newer, Some(Vote::Up)).unwrap();
    assert_eq!(
        events,
        [
            Event::EntryVotes {
                id: newer,
                votes: 2
            },
            Event::EntryMoved {
                id: newer,
                index: 1
            },
        ]
    );
    assert_eq!(replay(&before, &events, &session), seen(session.queue()));
    assert_eq!(ids(session.queue()), ["h1", "newer", "older"]);

    // Withdrawn, it goes back behind the older one; given again, before it.
    let events = session.vote(&user("dave"), newer, None).unwrap();
    assert_eq!(
        events,
        [
            Event::EntryVotes {
                id: newer,
                votes: 1
            },
            Event::EntryMoved {
                id: newer,
                index: 2
            },
        ]
    );
    session.vote(&user("dave"), newer, Some(Vote::Up)).unwrap();
    assert_eq!(
        session.vote(&user("dave"), newer, Some(Vote::Up)),
        Ok(Vec::new()),
        "the same vote again changes nothing"
    );
    assert_eq!(play_out(&mut session), ["newer", "older"]);
}

#[test]
fn a_fourth_add_by_one_guest_is_refused_and_changes_nothing() {
    let mut session = queued(&[("h1", "alice")], &["bob", "carol"]);
    for track_id in ["b1", "b2", "b3"] {
        add(&mut session, "bob", track_id).unwrap();
    }
    let before = session.clone();
    let refused = add(&mut session, "bob", "b4").unwrap_err();
    assert_eq!(refused, SessionError::MemberQueueFull { limit: 3 });
    assert_eq!(refused.code(), "member_queue_full");
    assert_eq!(
        refused.to_string(),
        "you already have 3 tracks waiting in the queue; add more once one has played"
    );
    assert_eq!(session, before);

    // Others still add, and the host has no such limit.
    add(&mut session, "carol", "c1").unwrap();
    for track_id in ["h2", "h3", "h4", "h5"] {
        add(&mut session, "alice", track_id).unwrap();
    }
    // Once one of bob's has played, he adds again.
    let b1 = session.entry_index(entry_of(&session, "b1")).unwrap();
    session.advance_to(b1).unwrap();
    add(&mut session, "bob", "b4").unwrap();
}

#[test]
fn too_long_tracks_and_replays_are_refused_and_change_nothing() {
    let mut session = queued(&[("h1", "alice"), ("h2", "alice")], &["bob"]);
    let before = session.clone();
    let long = Track {
        duration_ms: 600_001,
        ..track("long")
    };
    let refused = session
        .add_track(&user("bob"), Arc::new(long.clone()))
        .unwrap_err();
    assert_eq!(refused, SessionError::TrackTooLong { max_ms: 600_000 });
    assert_eq!(
        refused.to_string(),
        "the track is longer than 10 minutes, the longest this session takes"
    );
    assert_eq!(session, before);
    let ten_minutes = Track {
        duration_ms: 600_000,
        ..long
    };
    session
        .add_track(&user("bob"), Arc::new(ten_minutes))
        .unwrap();

    // h1 plays now: no replay of it within the last 20 plays.
    let before = session.clone();
    let refused = add(&mut session, "bob", "h1").unwrap_err();
    assert_eq!(refused, SessionError::RecentlyPlayed { within: 20 });
    assert_eq!(refused.code(), "recently_played");
    assert_eq!(
        refused.to_string(),
        "the track played within the last 20 tracks; no replays"
    );
    assert_eq!(session, before);
    // Upcoming already: vote for it instead.
    let h2 = entry_of(&session, "h2");
    assert_eq!(
        add(&mut session, "bob", "h2"),
        Err(SessionError::AlreadyQueued { id: h2 })
    );
    assert_eq!(session, before);

    // With a window of one play, h1 may come back once something else plays.
    set(
        &mut session,
        QueueSettingsPatch {
            no_replay_plays: Some(1),
            ..QueueSettingsPatch::default()
        },
    );
    session.advance_to(1).unwrap();
    add(&mut session, "bob", "h1").unwrap();
    set(
        &mut session,
        QueueSettingsPatch {
            no_replay_plays: Some(0),
            ..QueueSettingsPatch::default()
        },
    );
    add(&mut session, "bob", "h2").expect("replays allowed");
}

#[test]
fn the_lock_and_the_limits_spare_the_host_and_co_hosts() {
    let mut session = queued(&[("h1", "alice")], &["bob", "carol"]);
    session
        .set_role(&user("alice"), &user("carol"), Role::CoHost)
        .unwrap();
    set(
        &mut session,
        QueueSettingsPatch {
            adding_locked: Some(true),
            max_queued_per_member: Some(1),
            ..QueueSettingsPatch::default()
        },
    );
    let before = session.clone();
    assert_eq!(
        add(&mut session, "bob", "b1"),
        Err(SessionError::AddingLocked)
    );
    assert_eq!(session, before);
    for track_id in ["c1", "c2"] {
        add(&mut session, "carol", track_id).unwrap();
    }
    for track_id in ["h2", "h3"] {
        add(&mut session, "alice", track_id).unwrap();
    }
    set(
        &mut session,
        QueueSettingsPatch {
            adding_locked: Some(false),
            ..QueueSettingsPatch::default()
        },
    );
    add(&mut session, "bob", "b1").unwrap();
    assert_eq!(
        add(&mut session, "bob", "b2"),
        Err(SessionError::MemberQueueFull { limit: 1 })
    );
    // Guests the host does not let add are told which permission they lack.
    session
        .set_guest_permissions(&user("alice"), Permissions::NONE)
        .unwrap();
    assert_eq!(
        add(&mut session, "bob", "b3"),
        Err(SessionError::Forbidden {
            action: Action::AddTrack,
            permission: Some(Permission::AddTracks)
        })
    );
}

fn code(result: Result<Vec<Event>, SessionError>) -> &'static str {
    result.unwrap_err().code()
}

#[test]
fn the_playing_played_and_committed_entries_take_no_votes() {
    let mut session = queued(
        &[("h1", "alice"), ("h2", "alice"), ("h3", "alice")],
        &["bob"],
    );
    let id = QueueEntryId::new;
    let bob = user("bob");
    // The next entry takes votes until it is handed to Spotify.
    session.vote(&bob, id(1), Some(Vote::Down)).unwrap();
    assert_eq!(
        session.commit_next(id(1)).unwrap(),
        [Event::EntryCommitted { id: id(1) }]
    );
    let before = session.clone();
    for pinned in [id(0), id(1)] {
        let refused = session.vote(&bob, pinned, Some(Vote::Up)).unwrap_err();
        assert_eq!(refused, SessionError::EntryPinned { id: pinned });
        assert_eq!(
            refused.to_string(),
            "this entry is playing, has played or is up next already, so it can no longer be voted on"
        );
        assert_eq!(
            code(session.vote(&bob, pinned, None)),
            "entry_pinned",
            "nor withdrawn"
        );
    }
    assert_eq!(session, before);
    session.vote(&bob, id(2), Some(Vote::Up)).unwrap();
    session.advance_to(1).unwrap();
    assert_eq!(code(session.vote(&bob, id(0), None)), "entry_pinned");
    assert_eq!(
        code(session.vote(&bob, id(99), Some(Vote::Up))),
        "entry_not_found"
    );
}

#[test]
fn switching_from_fair_to_votes_re_sorts_the_queue_in_one_event() {
    let mut session = queued(
        &[("h1", "alice"), ("h2", "alice"), ("h3", "alice")],
        &["bob", "carol", "dave"],
    );
    add(&mut session, "bob", "x").unwrap();
    add(&mut session, "carol", "y").unwrap();
    session
        .vote(&user("dave"), entry_of(&session, "y"), Some(Vote::Up))
        .unwrap();
    // Fair order: one entry per member per round; votes move nothing.
    assert_eq!(ids(session.queue()), ["h1", "h2", "x", "y", "h3"]);

    let before = session.queue().to_vec();
    let events = set(&mut session, votes_order());
    assert_eq!(ids(session.queue()), ["h1", "y", "x", "h2", "h3"]);
    assert_eq!(
        events,
        [
            Event::SettingsChanged {
                settings: session.settings().clone()
            },
            Event::QueueReordered {
                from: 1,
                order: entry_ids(&session.queue()[1..])
            },
        ]
    );
    assert_eq!(replay(&before, &events, &session), seen(session.queue()));
    assert_eq!(set(&mut session, votes_order()), [], "unchanged");
    assert_eq!(
        code(session.reshuffle(&user("alice"), &mut rng(1))),
        "invalid_target",
        "the votes decide the order"
    );
    // Back to fair: already one per member per round, so nothing moves.
    let events = set(
        &mut session,
        QueueSettingsPatch {
            queue_order: Some(QueueOrder::Fair),
            ..QueueSettingsPatch::default()
        },
    );
    assert!(matches!(events[..], [Event::SettingsChanged { .. }]));
}

#[test]
fn queue_settings_are_the_hosts_and_checked_against_their_ranges() {
    let mut session = queued(&[("h1", "alice")], &["bob"]);
    let before = session.clone();
    let patch = |f: fn(&mut QueueSettingsPatch)| {
        let mut patch = QueueSettingsPatch::default();
        f(&mut patch);
        patch
    };
    assert_eq!(
        session.set_queue_settings(&user("bob"), &votes_order()),
        Err(SessionError::Forbidden {
            action: Action::SetQueueSettings,
            permission: None
        })
    );
    for (bad, reason) in [
        (
            patch(|p| p.max_queued_per_member = Some(0)),
            "max_queued_per_member must be between 1 and 50",
        ),
        (
            patch(|p| p.max_track_ms = Some(59_999)),
            "max_track_ms must be between 60000 (1 minute) and 3600000 (1 hour)",
        ),
        (
            patch(|p| p.no_replay_plays = Some(1001)),
            "no_replay_plays must be between 0 and 1000",
        ),
    ] {
        // One bad field refuses the whole patch.
        let bad = QueueSettingsPatch {
            queue_order: Some(QueueOrder::Votes),
            ..bad
        };
        assert_eq!(
            session.set_queue_settings(&user("alice"), &bad),
            Err(SessionError::InvalidSettings { reason })
        );
    }
    assert_eq!(session, before);
    let events = set(&mut session, patch(|p| p.max_track_ms = Some(3_600_000)));
    assert_eq!(session.settings().max_track_ms, 3_600_000);
    assert_eq!(
        events,
        [Event::SettingsChanged {
            settings: session.settings().clone()
        }]
    );
    // In the lobby too (the order applies once the session plays).
    let mut lobby = lobby();
    assert_eq!(set(&mut lobby, votes_order()).len(), 1);
}

#[test]
fn a_ban_removes_every_upcoming_entry_of_the_track_and_refuses_it_again() {
    let mut session = queued(
        &[("h1", "alice"), ("x", "bob"), ("b1", "bob"), ("x", "carol")],
        &["bob", "carol"],
    );
    let id = QueueEntryId::new;
    session.commit_next(id(1)).unwrap();
    assert_eq!(
        session.ban_track(&user("bob"), id(3)),
        Err(SessionError::Forbidden {
            action: Action::BanTrack,
            permission: None
        })
    );
    let before = session.queue().to_vec();
    let events = session.ban_track(&user("alice"), id(3)).unwrap();
    let x = TrackId::new("x");
    assert_eq!(
        events,
        [
            Event::EntryRemoved { id: id(1) },
            Event::EntryRemoved { id: id(3) },
            Event::TrackBanned {
                track_id: x.clone()
            },
        ]
    );
    assert_eq!(replay(&before, &events, &session), seen(session.queue()));
    assert_eq!(ids(session.queue()), ["h1", "b1"]);
    assert_eq!(session.committed(), None, "the committed entry went too");
    assert!(session.banned_tracks().contains(&x));

    let before = session.clone();
    for who in ["bob", "alice"] {
        let refused = add(&mut session, who, "x").unwrap_err();
        assert_eq!(refused, SessionError::TrackBanned);
        assert_eq!(
            refused.to_string(),
            "the host has banned this track from the session"
        );
    }
    assert_eq!(session, before);
    // Nor does it come back with someone's top tracks.
    session
        .join(newcomer("dave", &["x", "d1"]), 5, &mut rng(3))
        .unwrap();
    assert_eq!(
        session.queue().iter().filter(|e| e.track.id == x).count(),
        0
    );
    assert!(session.queue().iter().any(|e| e.track.id.as_str() == "d1"));
    // The playing entry stays (skip it to stop it).
    let events = session.ban_track(&user("alice"), id(0)).unwrap();
    assert_eq!(
        events,
        [Event::TrackBanned {
            track_id: TrackId::new("h1")
        }]
    );
    assert_eq!(session.now_playing().unwrap().id, id(0));
}

#[test]
fn whoever_added_the_playing_entry_may_skip_it() {
    let mut session = queued(&[("h1", "alice"), ("b1", "bob")], &["bob", "carol"]);
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    let guests_may_not = Err(SessionError::Forbidden {
        action: Action::Skip,
        permission: Some(Permission::Skip),
    });
    add(&mut session, "bob", "added").unwrap();
    session
        .advance_to(session.entry_index(entry_of(&session, "added")).unwrap())
        .unwrap();
    assert_eq!(session.authorize(&bob, Action::Skip), guests_may_not);
    assert_eq!(session.authorize_skip(&bob), Ok(()));
    assert_eq!(session.authorize_skip(&carol), guests_may_not);
    assert_eq!(session.authorize_skip(&alice), Ok(()));
    assert_eq!(
        session.authorize_skip(&user("zed")),
        Err(SessionError::NotAMember { user: user("zed") })
    );
    // A top track bob brought is not one he added.
    session.advance_to(1).unwrap();
    assert_eq!(session.authorize_skip(&bob), guests_may_not);
}

#[test]
fn three_skip_votes_of_five_connected_skip_once() {
    let mut session = queued(
        &[("h1", "alice"), ("h2", "alice")],
        &["bob", "carol", "dave", "erin"],
    );
    let playing = QueueEntryId::new(0);
    let vote = |session: &mut Session, who: &str| session.vote_skip(&user(who), 5).unwrap();
    let answer = vote(&mut session, "bob");
    assert_eq!(
        answer,
        SkipVote {
            events: vec![Event::SkipVotes {
                entry_id: playing,
                votes: 1
            }],
            entry_id: playing,
            voted: true,
            skip: false
        }
    );
    assert!(!vote(&mut session, "carol").skip);
    let third = vote(&mut session, "dave");
    assert!(third.skip, "3 of 5");
    assert!(!vote(&mut session, "erin").skip, "skipped already");
    // Toggling takes a vote back; voting again does not skip twice.
    let back = vote(&mut session, "dave");
    assert_eq!((back.voted, back.skip), (false, false));
    assert_eq!(
        back.events,
        [Event::SkipVotes {
            entry_id: playing,
            votes: 3
        }]
    );
    assert!(!vote(&mut session, "dave").skip);
    assert!(session.skip_called());

    // The next entry starts with none.
    session.advance_to(1).unwrap();
    assert!(session.skip_votes().is_empty());
    assert!(!session.skip_called());
    let answer = vote(&mut session, "bob");
    assert_eq!(
        answer.events,
        [Event::SkipVotes {
            entry_id: QueueEntryId::new(1),
            votes: 1
        }]
    );
    // A guest the host does not let vote to skip is told so.
    session
        .set_guest_permissions(&user("alice"), Permissions::NONE)
        .unwrap();
    assert_eq!(
        session.vote_skip(&user("carol"), 5),
        Err(SessionError::Forbidden {
            action: Action::VoteSkip,
            permission: Some(Permission::VoteSkip)
        })
    );
}

#[test]
fn only_the_next_entry_is_committed_and_it_stays_pinned_until_it_plays() {
    let mut session = queued(
        &[("h1", "alice"), ("h2", "alice"), ("h3", "alice")],
        &["bob"],
    );
    let id = QueueEntryId::new;
    let before = session.clone();
    for wrong in [id(0), id(2), id(99)] {
        assert_eq!(
            session.commit_next(wrong),
            Err(SessionError::InvalidTarget {
                reason: "only the entry after the playing one can be committed"
            })
        );
    }
    assert_eq!(session, before);
    assert_eq!(
        session.commit_next(id(1)).unwrap(),
        [Event::EntryCommitted { id: id(1) }]
    );
    assert_eq!(session.commit_next(id(1)).unwrap(), [], "committed already");
    assert_eq!(session.movable_from(), 2);
    // Adds and the late joiners' tracks go after it.
    add(&mut session, "bob", "b1").unwrap();
    assert_eq!(session.entry_index(entry_of(&session, "b1")), Some(2));
    // It is stored with the session.
    let json = serde_json::to_string(&session).unwrap();
    let restored: Session = serde_json::from_str(&json).unwrap();
    assert_eq!(restored.committed(), Some(id(1)));
    // Playing it unpins it; so does removing it.
    session.advance_to(1).unwrap();
    assert_eq!(session.committed(), None);
    session
        .commit_next(session.next_entry().unwrap().id)
        .unwrap();
    let next = session.committed().unwrap();
    assert_eq!(
        session.remove_entry(&user("alice"), next).unwrap(),
        [Event::EntryRemoved { id: next }]
    );
    assert_eq!(session.committed(), None);
    assert_eq!(
        code(lobby().commit_next(id(0))),
        "not_started",
        "nothing plays in the lobby"
    );
}

#[test]
fn in_votes_order_going_back_is_sorted_out_by_the_next_vote() {
    let mut session = queued(
        &[("h1", "alice"), ("h2", "alice"), ("h3", "alice")],
        &["bob", "carol", "dave"],
    );
    set(&mut session, votes_order());
    add(&mut session, "bob", "x").unwrap();
    assert_eq!(ids(session.queue()), ["h1", "x", "h2", "h3"]);
    session.advance_to(2).unwrap();
    add(&mut session, "carol", "y").unwrap();
    // The host goes back to the first track in their player: x (+1) and h2 (0) are to come
    // again, in the order they played, before y (+1).
    assert!(session.move_to(0).unwrap());
    assert_eq!(ids(session.queue()), ["h1", "x", "h2", "y", "h3"]);

    let before = session.queue().to_vec();
    let h3 = entry_of(&session, "h3");
    let events = session.vote(&user("dave"), h3, Some(Vote::Up)).unwrap();
    assert_eq!(
        events,
        [
            Event::QueueReordered {
                from: 1,
                order: [3, 4, 1, 2].map(QueueEntryId::new).to_vec()
            },
            Event::EntryVotes { id: h3, votes: 1 },
            Event::EntryMoved { id: h3, index: 1 },
        ]
    );
    assert_eq!(replay(&before, &events, &session), seen(session.queue()));
    assert_eq!(ids(session.queue()), ["h1", "h3", "x", "y", "h2"]);
}
