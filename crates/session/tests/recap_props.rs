//! The recap over random sessions: random members, votes and plays (tracks played through,
//! skipped early, played again after a "previous").
// Test helpers outside #[test] fns may unwrap too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;

use common::*;
use proptest::prelude::*;
use sesh_session::recap::{SKIP_SLACK_MS, TOP_VOTED};
use sesh_session::*;

/// alice hosts; bob, carol and dave join with overlapping top tracks; the session starts.
fn playing_party() -> Session {
    let mut session = lobby();
    for (i, (name, ids)) in [
        ("bob", ["b1", "b2", "a1"]),
        ("carol", ["c1", "c2", "b1"]),
        ("dave", ["d1", "d2", "d3"]),
    ]
    .into_iter()
    .enumerate()
    {
        session
            .join(newcomer(name, &ids), 1_000 + i as i64, &mut rng(i as u64))
            .unwrap();
    }
    session
        .start(&user("alice"), DeviceId::new("phone"), &mut rng(7))
        .unwrap();
    session
}

proptest! {
    #[test]
    fn the_recap_keeps_play_order_counts_every_entry_once_and_ranks_the_votes(
        // Per step: the next position (a jump back is a "previous"), and how long it played.
        steps in prop::collection::vec((0..12usize, 0..400_000i64), 0..20),
        // Votes: (voter, entry index, up?)
        votes in prop::collection::vec((0..4usize, 0..12usize, any::<bool>()), 0..30),
        ended in any::<bool>(),
    ) {
        let mut session = playing_party();
        let voters = ["alice", "bob", "carol", "dave"];
        let queue_len = session.queue().len();
        // Votes land on upcoming entries only: vote before anything moves.
        for (voter, index, up) in votes {
            let Some(id) = session.queue().get(index % queue_len).map(|e| e.id) else { continue };
            let vote = if up { Vote::Up } else { Vote::Down };
            let _ = session.vote(&user(voters[voter]), id, Some(vote));
        }
        let start_ms = 1_000_000;
        let mut plays = vec![Play { entry_id: session.queue()[0].id, started_at_ms: start_ms }];
        let mut at = start_ms;
        for (position, played) in steps {
            let position = position % queue_len;
            at += played;
            if session.move_to(position).unwrap() {
                plays.push(Play { entry_id: session.queue()[position].id, started_at_ms: at });
            }
        }
        if ended {
            session.end(&user("alice")).unwrap();
        }
        let until = at + 30_000;
        // Shuffled input: the recap orders by time.
        let mut shuffled = plays.clone();
        shuffled.reverse();
        let recap = Recap::build(&session, &shuffled, until);

        let ids: Vec<QueueEntryId> = recap.plays.iter().map(|p| p.entry.id).collect();
        prop_assert_eq!(&ids, &plays.iter().map(|p| p.entry_id).collect::<Vec<_>>());
        prop_assert_eq!(recap.is_final, ended);
        prop_assert_eq!(recap.length_ms, Some(until - start_ms));
        // Skipped: left early for another track; never the last play; counted.
        for (i, play) in recap.plays.iter().enumerate() {
            let last = i + 1 == recap.plays.len();
            let early = play.played_ms.unwrap() < i64::from(play.entry.track.duration_ms) - SKIP_SLACK_MS;
            prop_assert_eq!(play.skipped, !last && early);
            prop_assert_eq!(play.now_playing, last && !ended);
        }
        prop_assert_eq!(recap.skipped, recap.plays.iter().filter(|p| p.skipped).count());
        // Every distinct played entry is brought by exactly one member (its owner).
        let distinct: HashSet<QueueEntryId> = ids.iter().copied().collect();
        let brought: usize = recap.members.values().map(|t| t.brought).sum();
        prop_assert_eq!(brought, distinct.len());
        for (user_id, tally) in &recap.members {
            prop_assert!(tally.added <= tally.brought);
            let owned_skips = recap.plays.iter()
                .filter(|p| p.skipped && p.entry.owner() == Some(user_id))
                .count();
            prop_assert_eq!(tally.skipped, owned_skips);
        }
        // Top voted: positive, most first, distinct, at most five, and nothing better left out.
        prop_assert!(recap.top_voted.len() <= TOP_VOTED);
        let nets: Vec<i64> = recap.top_voted.iter().map(|&i| recap.plays[i].entry.net_votes()).collect();
        prop_assert!(nets.iter().all(|&n| n > 0));
        prop_assert!(nets.windows(2).all(|w| w[0] >= w[1]));
        let top_ids: HashSet<QueueEntryId> = recap.top_voted.iter().map(|&i| recap.plays[i].entry.id).collect();
        prop_assert_eq!(top_ids.len(), recap.top_voted.len());
        if recap.top_voted.len() < TOP_VOTED {
            let positive: HashSet<QueueEntryId> = recap.plays.iter()
                .filter(|p| p.entry.net_votes() > 0).map(|p| p.entry.id).collect();
            prop_assert_eq!(positive.len(), recap.top_voted.len());
        } else if let Some(&weakest) = nets.last() {
            prop_assert!(recap.plays.iter()
                .filter(|p| !top_ids.contains(&p.entry.id))
                .all(|p| p.entry.net_votes() <= weakest));
        }
        let (up, down) = recap.votes;
        let cast: usize = recap.members.values().map(|t| t.votes_cast).sum();
        prop_assert_eq!(up + down, cast);
    }
}

#[test]
fn without_recorded_plays_a_session_recaps_its_queue_up_to_now_untimed() {
    let mut session = playing_party();
    session.move_to(2).unwrap();
    let recap = Recap::build(&session, &[], 5_000);
    assert_eq!(recap.plays.len(), 3);
    assert!(
        recap
            .plays
            .iter()
            .all(|p| p.started_at_ms.is_none() && !p.skipped)
    );
    assert_eq!(recap.length_ms, None);
    assert!(recap.plays[2].now_playing);
    // A lobby has nothing to recap.
    assert!(Recap::build(&lobby(), &[], 5_000).plays.is_empty());
}
