//! What a session played, for its recap: the tracks in play order with who brought or added
//! each, their votes and whether they were skipped, the top voted, and per-member counts.
//!
//! Built from the session (its queue keeps every entry that played, with credits and votes) and
//! the [`Play`]s the gateway recorded when each entry started. Pure, like the rest of the
//! crate: the caller passes the plays and the time the recap is as of.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::ids::{QueueEntryId, UserId};
use crate::session::{Session, SessionState};
use crate::track::{EntryOrigin, QueueEntry, Vote};

/// How much shorter than its length a play must be to count as skipped: a track left this
/// long before its end was skipped (network, pauses and polling make a natural change come a
/// little early or late, never ten seconds early).
pub const SKIP_SLACK_MS: i64 = 10_000;

/// Most entries in [`Recap::top_voted`].
pub const TOP_VOTED: usize = 5;

/// An entry of the queue started playing at `started_at_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Play {
    /// The entry.
    pub entry_id: QueueEntryId,
    /// When it started (Unix ms).
    pub started_at_ms: i64,
}

/// One play of the recap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecapPlay {
    /// The entry as the queue holds it now (track, credits, origin, votes).
    pub entry: QueueEntry,
    /// When it started, when recorded (a session played before plays were recorded has none).
    pub started_at_ms: Option<i64>,
    /// How long until the next play started, or until the recap's time for the last one
    /// (pauses included); unknown without start times.
    pub played_ms: Option<i64>,
    /// Left more than [`SKIP_SLACK_MS`] before its end for another track.
    pub skipped: bool,
    /// The entry playing as of the recap (only the last play of a live session).
    pub now_playing: bool,
}

/// What one member contributed to what played.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemberTally {
    /// Played entries this member owns (the first credited: brought from their top tracks or
    /// added by them).
    pub brought: usize,
    /// Of those, the ones they added during the session.
    pub added: usize,
    /// Played entries on which they voted.
    pub votes_cast: usize,
    /// Played entries they own that were skipped.
    pub skipped: usize,
}

/// The recap of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recap {
    /// What played, in play order (an entry played again after a "previous" appears again).
    pub plays: Vec<RecapPlay>,
    /// Indices into `plays` of the most up-voted entries (net votes above zero, most first,
    /// at most [`TOP_VOTED`], each entry once).
    pub top_voted: Vec<usize>,
    /// Per member credited for anything played, by user id.
    pub members: BTreeMap<UserId, MemberTally>,
    /// How many plays were skipped.
    pub skipped: usize,
    /// Up votes and down votes on the played entries.
    pub votes: (usize, usize),
    /// From the first play to the recap's time (or the end), when start times are known.
    pub length_ms: Option<i64>,
    /// Whether the session is over (the recap is final).
    pub is_final: bool,
}

impl Recap {
    /// The recap of `session` as of `until_ms` (now, or when it ended) from the recorded
    /// `plays` (in any order; plays of entries the queue does not hold are ignored). Without
    /// recorded plays a started session recaps its queue up to the now-playing entry, without
    /// times.
    pub fn build(session: &Session, plays: &[Play], until_ms: i64) -> Recap {
        let mut timed: Vec<Play> = plays
            .iter()
            .copied()
            .filter(|p| session.entry(p.entry_id).is_some())
            .collect();
        timed.sort_by_key(|p| p.started_at_ms);
        let order: Vec<(QueueEntryId, Option<i64>)> =
            if timed.is_empty() && session.state() != SessionState::Lobby {
                let played = (session.position() + 1).min(session.queue().len());
                session.queue()[..played]
                    .iter()
                    .map(|e| (e.id, None))
                    .collect()
            } else {
                timed
                    .iter()
                    .map(|p| (p.entry_id, Some(p.started_at_ms)))
                    .collect()
            };
        let live = session.state() == SessionState::Playing;
        let mut recap = Recap {
            plays: Vec::with_capacity(order.len()),
            top_voted: Vec::new(),
            members: BTreeMap::new(),
            skipped: 0,
            votes: (0, 0),
            length_ms: None,
            is_final: session.state() == SessionState::Ended,
        };
        for (i, &(id, started)) in order.iter().enumerate() {
            let Some(entry) = session.entry(id) else {
                continue;
            };
            let next = order.get(i + 1).and_then(|&(_, at)| at);
            let last = i + 1 == order.len();
            let played_ms = started.and_then(|at| {
                let end = if last { Some(until_ms) } else { next }?;
                Some((end - at).max(0))
            });
            let skipped = !last
                && played_ms
                    .is_some_and(|ms| ms < i64::from(entry.track.duration_ms) - SKIP_SLACK_MS);
            recap.plays.push(RecapPlay {
                entry: entry.clone(),
                started_at_ms: started,
                played_ms,
                skipped,
                now_playing: last && live && session.now_playing().is_some_and(|e| e.id == id),
            });
        }
        recap.length_ms = order
            .first()
            .and_then(|&(_, at)| at)
            .map(|first| (until_ms - first).max(0));
        recap.tally();
        recap
    }

    fn tally(&mut self) {
        let mut seen = HashSet::new();
        let mut ranked: Vec<(i64, usize)> = Vec::new();
        for (i, play) in self.plays.iter().enumerate() {
            if play.skipped {
                self.skipped += 1;
            }
            let entry = &play.entry;
            // An entry played twice (after a "previous") counts once for its owner and votes.
            if !seen.insert(entry.id) {
                if play.skipped
                    && let Some(owner) = entry.owner()
                {
                    self.members.entry(owner.clone()).or_default().skipped += 1;
                }
                continue;
            }
            if let Some(owner) = entry.owner() {
                let tally = self.members.entry(owner.clone()).or_default();
                tally.brought += 1;
                tally.added += usize::from(entry.origin == EntryOrigin::Added);
                tally.skipped += usize::from(play.skipped);
            }
            for credited in entry.added_by.iter().skip(1) {
                self.members.entry(credited.clone()).or_default();
            }
            for (voter, vote) in &entry.votes {
                self.members.entry(voter.clone()).or_default().votes_cast += 1;
                match vote {
                    Vote::Up => self.votes.0 += 1,
                    Vote::Down => self.votes.1 += 1,
                }
            }
            if entry.net_votes() > 0 {
                ranked.push((entry.net_votes(), i));
            }
        }
        // Most votes first; among equals, what played first.
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        self.top_voted = ranked.into_iter().take(TOP_VOTED).map(|(_, i)| i).collect();
    }

    /// Every user the recap names (owners, co-credited, voters), for the caller to find names.
    pub fn users(&self) -> impl Iterator<Item = &UserId> {
        self.members.keys()
    }
}
