//! The driver's picture of the queue under test: operations, what their frames are matched
//! by, and the choice of the next vote, add or removal so that Sesh accepts it.

use crate::client::QueueDelta;
use std::collections::HashMap;
use tokio::time::Instant;

/// Tracks one member may have queued at once (the session default).
const MAX_QUEUED_PER_MEMBER: usize = 3;

/// What an operation's receipts are matched by: while an operation is in flight, nothing
/// else touches its entry (or, for an add, its track).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Key {
    Votes(u64),
    Added(String),
    Removed(u64),
    Broadcast(String),
}

impl Key {
    pub(super) fn of(delta: &QueueDelta) -> Key {
        match delta {
            QueueDelta::Votes { id, .. } => Key::Votes(*id),
            QueueDelta::Added { track, .. } => Key::Added(track.clone()),
            QueueDelta::Removed { id } => Key::Removed(*id),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OpKind {
    Vote,
    Add,
    Remove,
    Broadcast,
}

/// One operation and what came of it.
pub(super) struct Op {
    pub(super) kind: OpKind,
    pub(super) http: bool,
    pub(super) key: Key,
    /// The adder of an add (to give the entry back to it for removal), or the remover.
    pub(super) member: usize,
    /// An add's track URI, a removal's track (to add again later).
    pub(super) track: Option<String>,
    /// Request sent (HTTP), frame handed to the socket (WebSocket), trigger sent (baseline).
    pub(super) start_us: Option<i64>,
    /// HTTP answer (or the baseline trigger's), µs.
    pub(super) answer_us: Option<i64>,
    /// The entry id an add produced.
    pub(super) entry: Option<u64>,
    /// The net votes the driver expects an `entry_votes` frame to carry.
    pub(super) expect_votes: Option<i64>,
    pub(super) receipts: Vec<i64>,
    /// Bytes of each receipt.
    pub(super) bytes: Vec<u32>,
    pub(super) refused: bool,
    pub(super) issued: Instant,
    pub(super) open: bool,
}

/// A small deterministic generator (SplitMix64), so runs pick alike.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The driver's model of the session's queue, to pick operations that will be accepted and
/// to know what each should change.
pub(super) struct Model {
    /// Entries that may be voted on, and their net votes.
    pub(super) votes: HashMap<u64, i64>,
    pub(super) votable: Vec<u64>,
    /// Each member's vote per entry.
    pub(super) mine: HashMap<(usize, u64), i8>,
    /// Catalog tracks not in the queue (URIs).
    pub(super) addable: Vec<String>,
    /// Entries added by the bench and settled: (adder, entry, track URI).
    pub(super) removable: Vec<(usize, u64, String)>,
    pub(super) queued_by: Vec<usize>,
    pub(super) busy: HashMap<Key, usize>,
}

impl Model {
    pub(super) fn pick_vote(
        &mut self,
        rng: &mut Rng,
        members: usize,
    ) -> Option<(usize, u64, i8, i64)> {
        for _ in 0..20 {
            let entry = *self.votable.get(rng.below(self.votable.len()))?;
            if self.busy.contains_key(&Key::Votes(entry)) {
                continue;
            }
            let member = rng.below(members);
            let current = self.mine.get(&(member, entry)).copied().unwrap_or(0);
            let vote = match current {
                0 if rng.unit() < 0.75 => 1,
                0 => -1,
                1 if rng.unit() < 0.7 => 0,
                1 => -1,
                _ => 0,
            };
            let total = self.votes.entry(entry).or_insert(0);
            *total += i64::from(vote) - i64::from(current);
            self.mine.insert((member, entry), vote);
            return Some((member, entry, vote, *total));
        }
        None
    }

    pub(super) fn pick_add(&mut self, rng: &mut Rng, members: usize) -> Option<(usize, String)> {
        if self.addable.is_empty() {
            return None;
        }
        let member = (0..20)
            .map(|_| rng.below(members))
            .find(|m| self.queued_by[*m] < MAX_QUEUED_PER_MEMBER)?;
        let uri = self.addable.swap_remove(rng.below(self.addable.len()));
        self.queued_by[member] += 1;
        Some((member, uri))
    }

    pub(super) fn pick_remove(&mut self, rng: &mut Rng) -> Option<(usize, u64, String)> {
        if self.removable.is_empty() {
            return None;
        }
        Some(self.removable.swap_remove(rng.below(self.removable.len())))
    }
}

pub(super) fn track_id(uri: &str) -> String {
    uri.rsplit(':').next().unwrap_or(uri).to_owned()
}

/// Frees an operation's entry (or track) for the next operation and updates the model.
pub(super) fn settle(op: &mut Op, model: &mut Model) {
    if !op.open {
        return;
    }
    op.open = false;
    model.busy.remove(&op.key);
    match op.kind {
        OpKind::Add if op.refused => {
            model.queued_by[op.member] = model.queued_by[op.member].saturating_sub(1);
        }
        OpKind::Add => {
            if let (Some(entry), Some(uri)) = (op.entry, &op.track) {
                model.removable.push((op.member, entry, uri.clone()));
            }
        }
        OpKind::Remove if !op.refused => {
            model.queued_by[op.member] = model.queued_by[op.member].saturating_sub(1);
            if let Some(uri) = &op.track {
                model.addable.push(uri.clone());
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn votes_never_repeat_a_members_vote_and_keep_the_totals() {
        let mut model = Model {
            votes: HashMap::from([(7, 0)]),
            votable: vec![7],
            mine: HashMap::new(),
            addable: vec!["spotify:track:a".into()],
            removable: Vec::new(),
            queued_by: vec![0; 2],
            busy: HashMap::new(),
        };
        let mut rng = Rng(1);
        for _ in 0..50 {
            let (member, entry, vote, total) = model.pick_vote(&mut rng, 2).unwrap();
            assert_eq!(model.mine[&(member, entry)], vote);
            let sum: i64 = (0..2)
                .map(|m| i64::from(model.mine.get(&(m, 7)).copied().unwrap_or(0)))
                .sum();
            assert_eq!(total, sum);
        }
        model.busy.insert(Key::Votes(7), 0);
        assert!(model.pick_vote(&mut rng, 2).is_none());
        let (member, uri) = model.pick_add(&mut rng, 2).unwrap();
        assert_eq!(
            (model.queued_by[member], uri.as_str()),
            (1, "spotify:track:a")
        );
        assert!(model.pick_add(&mut rng, 2).is_none());
    }
}
