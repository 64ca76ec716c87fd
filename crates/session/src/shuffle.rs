//! Turning everyone's top tracks into one queue.
//!
//! # Which tracks count
//! Of each member, the first [`TRACKS_PER_MEMBER`] *distinct* tracks of `top_tracks`
//! ([`counted_tracks`]). A track several members have appears once, credited to all of
//! them in `added_by`, in the order of the `members` slice (join order).
//!
//! # Whose turn a shared track is
//! For turn-taking, each queue entry belongs to exactly one member, its *owner*: the first
//! member in join order who had it, i.e. `added_by[0]` ([`QueueEntry::owner`]). So "a
//! member's tracks" below means the entries they own; a track shared with an earlier
//! joiner is credited to them but uses the earlier joiner's turn.
//!
//! # Fair mode (the default)
//! Each member's owned tracks are shuffled, the members are put in a random order, and the
//! queue takes one track from each member in that order, round after round, skipping
//! members who have run out. Two guarantees follow, checked by the property tests:
//! - **No two in a row**: two adjacent entries have the same owner only once every other
//!   member has run out of tracks (from there to the end, that owner is all that is left).
//! - **Even turns**: at any point in the queue, any two members who both still have tracks
//!   to come have had the same number of turns, give or take one.
//!
//! # Reshuffling
//! [`fair_order`] re-draws entries already in a queue with the same round-robin rule,
//! each entry belonging to its owner; [`random_order`] is the plain shuffle of them.
//!
//! # Ids
//! The shuffle never numbers entries: it returns [`PlannedEntry`]s (a track and its
//! credits) and the session turns them into [`QueueEntry`]s with ids of its own.
//!
//! # Random mode
//! The deduplicated tracks shuffled uniformly (Fisher–Yates), as the original SpotSesh did.
//!
//! Everything is deterministic for a given `Rng` state: tests pass a seeded `StdRng`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rand::Rng;
use rand::seq::SliceRandom;

use crate::ids::{QueueEntryId, TrackId, UserId};
use crate::member::Member;
use crate::settings::ShuffleMode;
use crate::track::{QueueEntry, Track};

/// How many of each member's top tracks go into the queue.
pub const TRACKS_PER_MEMBER: usize = 5;

/// The tracks of a member that count: the first [`TRACKS_PER_MEMBER`] distinct ones.
pub fn counted_tracks(top_tracks: &[Arc<Track>]) -> Vec<&Arc<Track>> {
    let mut seen = HashSet::new();
    top_tracks
        .iter()
        .filter(|track| seen.insert(&track.id))
        .take(TRACKS_PER_MEMBER)
        .collect()
}

/// A queue entry the shuffle chose, before the session gives it an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEntry {
    /// The track to play.
    pub track: Arc<Track>,
    /// The members credited for it, in join order; never empty. The first is its owner.
    pub added_by: Vec<UserId>,
}

impl PlannedEntry {
    /// The member whose turn this entry counts as: `added_by[0]`.
    pub fn owner(&self) -> Option<&UserId> {
        self.added_by.first()
    }

    /// Whether `user` is among the members credited for this entry.
    pub fn is_credited_to(&self, user: &UserId) -> bool {
        self.added_by.contains(user)
    }

    /// The queue entry with this id.
    pub fn into_entry(self, id: QueueEntryId) -> QueueEntry {
        QueueEntry {
            id,
            track: self.track,
            added_by: self.added_by,
            origin: crate::track::EntryOrigin::TopTracks,
            votes: Default::default(),
        }
    }
}

/// The queue for `mode`.
pub fn build_queue<R: Rng + ?Sized>(
    mode: ShuffleMode,
    members: &[Member],
    rng: &mut R,
) -> Vec<PlannedEntry> {
    match mode {
        ShuffleMode::Fair => fair_queue(members, rng),
        ShuffleMode::Random => random_queue(members, rng),
    }
}

/// The fair queue: round-robin over members in a random order, each member's own tracks
/// shuffled (see the module docs for the exact guarantees).
pub fn fair_queue<R: Rng + ?Sized>(members: &[Member], rng: &mut R) -> Vec<PlannedEntry> {
    let Deduped { entries, owned } = dedupe(members);
    let mut slots: Vec<Option<PlannedEntry>> = entries.into_iter().map(Some).collect();
    round_robin(owned, rng)
        .into_iter()
        .filter_map(|index| slots.get_mut(index)?.take())
        .collect()
}

/// The plain shuffle: deduplicated tracks in a uniformly random order.
pub fn random_queue<R: Rng + ?Sized>(members: &[Member], rng: &mut R) -> Vec<PlannedEntry> {
    let mut entries = dedupe(members).entries;
    entries.shuffle(rng);
    entries
}

/// A fair order of `entries` (already in a queue): the same round-robin as
/// [`fair_queue`], each entry counting as its owner's turn. Returns indexes into
/// `entries`, each once.
pub fn fair_order<R: Rng + ?Sized>(entries: &[QueueEntry], rng: &mut R) -> Vec<usize> {
    let mut owner_slot: HashMap<Option<&UserId>, usize> = HashMap::new();
    let mut owned: Vec<Vec<usize>> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let slot = *owner_slot.entry(entry.owner()).or_insert_with(|| {
            owned.push(Vec::new());
            owned.len() - 1
        });
        if let Some(indexes) = owned.get_mut(slot) {
            indexes.push(index);
        }
    }
    round_robin(owned, rng)
}

/// A uniformly random order of `entries`: indexes into it, each once.
pub fn random_order<R: Rng + ?Sized>(entries: &[QueueEntry], rng: &mut R) -> Vec<usize> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.shuffle(rng);
    order
}

/// The order for `mode` (see [`fair_order`] and [`random_order`]).
pub fn reorder<R: Rng + ?Sized>(
    mode: ShuffleMode,
    entries: &[QueueEntry],
    rng: &mut R,
) -> Vec<usize> {
    match mode {
        ShuffleMode::Fair => fair_order(entries, rng),
        ShuffleMode::Random => random_order(entries, rng),
    }
}

/// The fair rule itself: `owned[o]` lists the items owner `o` has; each owner's items
/// are shuffled, the owners put in a random order, and one item is taken from each in
/// turn, round after round, skipping owners who have run out.
fn round_robin<R: Rng + ?Sized>(mut owned: Vec<Vec<usize>>, rng: &mut R) -> Vec<usize> {
    for items in &mut owned {
        items.shuffle(rng);
    }
    let mut order: Vec<usize> = (0..owned.len())
        .filter(|&owner| owned.get(owner).is_some_and(|items| !items.is_empty()))
        .collect();
    order.shuffle(rng);
    let mut picked = Vec::with_capacity(owned.iter().map(Vec::len).sum());
    loop {
        let before = picked.len();
        for &owner in &order {
            // Each owner's list is a shuffled stack: popping takes their next turn.
            if let Some(item) = owned.get_mut(owner).and_then(Vec::pop) {
                picked.push(item);
            }
        }
        if picked.len() == before {
            return picked;
        }
    }
}

/// How to weave a member into a queue ([`merge_late_joiner`]): which existing entries to
/// credit them on and which new entries to insert where.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Weave {
    /// Indexes (into the queue as it was) of upcoming entries that gain the member as a
    /// credit, ascending. None of them credits the member yet.
    pub credit: Vec<usize>,
    /// New entries, each with the index it has once all are in, ascending: inserting them
    /// one after the other in this order puts every one at its index.
    pub insert: Vec<(usize, PlannedEntry)>,
}

impl Weave {
    /// Whether the queue stays as it is.
    pub fn is_empty(&self) -> bool {
        self.credit.is_empty() && self.insert.is_empty()
    }
}

/// How to weave a late joiner's tracks into the part of `queue` not yet played.
///
/// Entries `0..=position` (played and now playing) stay as they are. Of the member's
/// counted tracks, those with an upcoming entry get the member credited on it (the first
/// such entry, unless one already credits them), those only played are skipped, and the
/// rest are shuffled and inserted one per round: the first at a random spot within the
/// next round, then one after every *round* entries, where a round is as many entries as
/// there are distinct owners still to come. The existing entries keep their order; only
/// once they run out do the joiner's tracks follow each other.
pub fn merge_late_joiner<R: Rng + ?Sized>(
    queue: &[QueueEntry],
    position: usize,
    member: &Member,
    rng: &mut R,
) -> Weave {
    let fixed = position.saturating_add(1).min(queue.len());
    let (played, upcoming) = queue.split_at(fixed);
    let played: HashSet<&TrackId> = played.iter().map(|entry| &entry.track.id).collect();
    // Per track still to come: the first upcoming entry with it, and whether any upcoming
    // entry with it credits the member already (a track may be queued more than once).
    let mut coming: HashMap<&TrackId, (usize, bool)> = HashMap::new();
    for (offset, entry) in upcoming.iter().enumerate() {
        let credited = entry.is_credited_to(&member.user_id);
        coming
            .entry(&entry.track.id)
            .and_modify(|(_, any)| *any |= credited)
            .or_insert((fixed + offset, credited));
    }

    let mut weave = Weave::default();
    let mut new_entries = Vec::new();
    for track in counted_tracks(&member.top_tracks) {
        match coming.get(&track.id) {
            Some(&(_, true)) => {}
            Some(&(index, false)) => weave.credit.push(index),
            None if played.contains(&track.id) => {}
            None => new_entries.push(PlannedEntry {
                track: track.clone(),
                added_by: vec![member.user_id.clone()],
            }),
        }
    }
    weave.credit.sort_unstable();
    if new_entries.is_empty() {
        return weave;
    }

    new_entries.shuffle(rng);
    let round = upcoming
        .iter()
        .filter_map(QueueEntry::owner)
        .collect::<HashSet<_>>()
        .len()
        .max(1);
    let first = rng.random_range(0..=round.min(upcoming.len()));
    // Before the k-th new entry come the first `first + k * round` existing upcoming
    // entries (or all of them, once they run out) and the k new ones before it.
    weave.insert = new_entries
        .into_iter()
        .enumerate()
        .map(|(k, entry)| {
            let existing = k
                .saturating_mul(round)
                .saturating_add(first)
                .min(upcoming.len());
            (fixed + existing + k, entry)
        })
        .collect();
    weave
}
/// Adds `user` to an entry's credits unless already there.
fn credit(entry: &mut PlannedEntry, user: &UserId) {
    if !entry.is_credited_to(user) {
        entry.added_by.push(user.clone());
    }
}

/// Every counted track once, with its credits, and which entries each member owns.
struct Deduped {
    /// Unique tracks in order of first appearance.
    entries: Vec<PlannedEntry>,
    /// Per distinct member (first appearance order): indexes into `entries` they own.
    owned: Vec<Vec<usize>>,
}

fn dedupe(members: &[Member]) -> Deduped {
    let mut entries: Vec<PlannedEntry> = Vec::new();
    let mut by_track: HashMap<&TrackId, usize> = HashMap::new();
    // Keyed by user id so a member listed twice still takes one turn per round.
    let mut owner_slot: HashMap<&UserId, usize> = HashMap::new();
    let mut owned: Vec<Vec<usize>> = Vec::new();
    for member in members {
        let slot = *owner_slot.entry(&member.user_id).or_insert_with(|| {
            owned.push(Vec::new());
            owned.len() - 1
        });
        for track in counted_tracks(&member.top_tracks) {
            if let Some(&i) = by_track.get(&track.id) {
                if let Some(entry) = entries.get_mut(i) {
                    credit(entry, &member.user_id);
                }
                continue;
            }
            by_track.insert(&track.id, entries.len());
            if let Some(tracks) = owned.get_mut(slot) {
                tracks.push(entries.len());
            }
            entries.push(PlannedEntry {
                track: track.clone(),
                added_by: vec![member.user_id.clone()],
            });
        }
    }
    Deduped { entries, owned }
}
