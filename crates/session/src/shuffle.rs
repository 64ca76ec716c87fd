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
//! # Random mode
//! The deduplicated tracks shuffled uniformly (Fisher–Yates), as the original SpotSesh did.
//!
//! Everything is deterministic for a given `Rng` state: tests pass a seeded `StdRng`.

use std::collections::{HashMap, HashSet};

use rand::Rng;
use rand::seq::SliceRandom;

use crate::ids::{TrackId, UserId};
use crate::member::Member;
use crate::settings::ShuffleMode;
use std::sync::Arc;

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

/// The queue for `mode`.
pub fn build_queue<R: Rng + ?Sized>(
    mode: ShuffleMode,
    members: &[Member],
    rng: &mut R,
) -> Vec<QueueEntry> {
    match mode {
        ShuffleMode::Fair => fair_queue(members, rng),
        ShuffleMode::Random => random_queue(members, rng),
    }
}

/// The fair queue: round-robin over members in a random order, each member's own tracks
/// shuffled (see the module docs for the exact guarantees).
pub fn fair_queue<R: Rng + ?Sized>(members: &[Member], rng: &mut R) -> Vec<QueueEntry> {
    let Deduped { entries, mut owned } = dedupe(members);
    for tracks in &mut owned {
        tracks.shuffle(rng);
    }
    let mut order: Vec<usize> = (0..owned.len())
        .filter(|&owner| owned.get(owner).is_some_and(|t| !t.is_empty()))
        .collect();
    order.shuffle(rng);

    let mut slots: Vec<Option<QueueEntry>> = entries.into_iter().map(Some).collect();
    let mut queue = Vec::with_capacity(slots.len());
    loop {
        let before = queue.len();
        for &owner in &order {
            // Each owner's list is a shuffled stack: popping takes their next turn.
            let next = owned.get_mut(owner).and_then(Vec::pop);
            if let Some(entry) = next.and_then(|index| slots.get_mut(index)?.take()) {
                queue.push(entry);
            }
        }
        if queue.len() == before {
            return queue;
        }
    }
}

/// The plain shuffle: deduplicated tracks in a uniformly random order.
pub fn random_queue<R: Rng + ?Sized>(members: &[Member], rng: &mut R) -> Vec<QueueEntry> {
    let mut entries = dedupe(members).entries;
    entries.shuffle(rng);
    entries
}

/// Weaves a late joiner's tracks into the part of `queue` not yet played.
///
/// Entries `0..=position` (played and now playing) stay as they are. Of the member's
/// counted tracks, those already played are skipped, those still to come get the member
/// added to `added_by`, and the rest are shuffled and inserted one per round: the first
/// at a random spot within the next round, then one after every *round* entries, where a
/// round is as many entries as there are distinct owners still to come. The existing
/// entries keep their order; only once they run out do the joiner's tracks follow each
/// other.
pub fn merge_late_joiner<R: Rng + ?Sized>(
    queue: &[QueueEntry],
    position: usize,
    member: &Member,
    rng: &mut R,
) -> Vec<QueueEntry> {
    let fixed = position.saturating_add(1).min(queue.len());
    let (played, upcoming) = queue.split_at(fixed);
    let mut upcoming = upcoming.to_vec();
    let index: HashMap<&TrackId, usize> = queue
        .iter()
        .enumerate()
        .map(|(i, entry)| (&entry.track.id, i))
        .collect();

    let mut new_entries = Vec::new();
    for track in counted_tracks(&member.top_tracks) {
        match index.get(&track.id) {
            Some(&i) if i < fixed => {}
            Some(&i) => {
                if let Some(entry) = upcoming.get_mut(i - fixed) {
                    credit(entry, &member.user_id);
                }
            }
            None => new_entries.push(QueueEntry {
                track: track.clone(),
                added_by: vec![member.user_id.clone()],
            }),
        }
    }

    let mut merged = played.to_vec();
    merged.reserve(upcoming.len() + new_entries.len());
    if new_entries.is_empty() {
        merged.extend(upcoming);
        return merged;
    }
    new_entries.shuffle(rng);
    let round = upcoming
        .iter()
        .filter_map(QueueEntry::owner)
        .collect::<HashSet<_>>()
        .len()
        .max(1);
    let first = rng.random_range(0..=round.min(upcoming.len()));
    let mut existing = upcoming.into_iter();
    merged.extend(existing.by_ref().take(first));
    for entry in new_entries {
        merged.push(entry);
        merged.extend(existing.by_ref().take(round));
    }
    merged.extend(existing);
    merged
}

/// Adds `user` to an entry's credits unless already there.
fn credit(entry: &mut QueueEntry, user: &UserId) {
    if !entry.is_credited_to(user) {
        entry.added_by.push(user.clone());
    }
}

/// Every counted track once, with its credits, and which entries each member owns.
struct Deduped {
    /// Unique tracks in order of first appearance.
    entries: Vec<QueueEntry>,
    /// Per distinct member (first appearance order): indexes into `entries` they own.
    owned: Vec<Vec<usize>>,
}

fn dedupe(members: &[Member]) -> Deduped {
    let mut entries: Vec<QueueEntry> = Vec::new();
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
            entries.push(QueueEntry {
                track: track.clone(),
                added_by: vec![member.user_id.clone()],
            });
        }
    }
    Deduped { entries, owned }
}
