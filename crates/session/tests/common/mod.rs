//! Builders shared by the integration tests.
#![allow(dead_code)] // each test file uses a different subset

pub mod ops;

use rand::SeedableRng;
use rand::rngs::StdRng;
use sesh_session::shuffle::PlannedEntry;
use sesh_session::*;
use std::collections::HashSet;
use std::sync::Arc;

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn user(name: &str) -> UserId {
    UserId::new(name)
}

pub fn track(id: &str) -> Track {
    let id = TrackId::new(id);
    Track {
        uri: TrackUri::for_track(&id),
        name: format!("Song {id}"),
        artists: vec!["Artist".to_owned()],
        album: "Album".to_owned(),
        image_url: None,
        duration_ms: 180_000,
        id,
    }
}

pub fn tracks(ids: &[&str]) -> Vec<Arc<Track>> {
    ids.iter().map(|id| Arc::new(track(id))).collect()
}

pub fn newcomer(name: &str, track_ids: &[&str]) -> NewMember {
    NewMember::new(user(name), name.to_uppercase(), tracks(track_ids))
}

pub fn member(name: &str, track_ids: &[&str]) -> Member {
    Member {
        user_id: user(name),
        display_name: name.to_uppercase(),
        role: Role::Guest,
        joined_at_ms: 0,
        top_tracks: tracks(track_ids),
    }
}

/// A lobby hosted by `alice` (tracks a1..a3) with the given capacity.
pub fn lobby_with_capacity(capacity: usize) -> Session {
    let settings = Settings {
        capacity,
        ..Settings::default()
    };
    Session::new(
        SessionId::new_v4(),
        InviteCode::generate(&mut rng(99)),
        newcomer("alice", &["a1", "a2", "a3"]),
        0,
        settings,
    )
}

pub fn lobby() -> Session {
    lobby_with_capacity(DEFAULT_CAPACITY)
}

/// alice (host) and bob in the lobby.
pub fn lobby_with_bob() -> Session {
    let mut session = lobby();
    session
        .join(newcomer("bob", &["b1", "b2", "a1"]), 1_000, &mut rng(1))
        .unwrap();
    session
}

/// alice and bob, started on alice's phone.
pub fn playing() -> Session {
    let mut session = lobby_with_bob();
    session
        .start(&user("alice"), DeviceId::new("phone"), &mut rng(2))
        .unwrap();
    session
}

/// Track ids of a queue, in order.
pub fn ids(queue: &[QueueEntry]) -> Vec<String> {
    queue.iter().map(|e| e.track.id.to_string()).collect()
}

/// Track ids of a planned queue, in order.
pub fn planned_ids(queue: &[PlannedEntry]) -> Vec<String> {
    queue.iter().map(|e| e.track.id.to_string()).collect()
}

/// Entry ids of a queue, in order.
pub fn entry_ids(queue: &[QueueEntry]) -> Vec<QueueEntryId> {
    queue.iter().map(|e| e.id).collect()
}

/// A planned queue numbered 0, 1, 2, … (what the session does on start).
pub fn numbered(planned: Vec<PlannedEntry>) -> Vec<QueueEntry> {
    planned
        .into_iter()
        .enumerate()
        .map(|(i, e)| e.into_entry(QueueEntryId::new(i as u64)))
        .collect()
}

/// What a consumer of the events can know of a queue entry: the entry without who voted
/// how (`entry_votes` carries the net count only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub id: QueueEntryId,
    pub track: TrackId,
    pub added_by: Vec<UserId>,
    pub origin: EntryOrigin,
    pub votes: i64,
}

impl From<&QueueEntry> for Seen {
    fn from(entry: &QueueEntry) -> Self {
        Seen {
            id: entry.id,
            track: entry.track.id.clone(),
            added_by: entry.added_by.clone(),
            origin: entry.origin,
            votes: entry.net_votes(),
        }
    }
}

/// A queue as its events' consumer sees it.
pub fn seen(queue: &[QueueEntry]) -> Vec<Seen> {
    queue.iter().map(Seen::from).collect()
}

/// What a consumer that knows only the events makes of the queue: `before` with `events`
/// applied in order, as their docs say; compare it with `seen(after.queue())`.
///
/// `session_started` carries no entries (the queue is in the session): it stands for the
/// start plan's queue, which is `after`'s queue without the entries the same batch's later
/// `entry_added` events add. Everything else is applied from the events alone.
pub fn replay(before: &[QueueEntry], events: &[Event], after: &Session) -> Vec<Seen> {
    let mut queue = seen(before);
    let index_of = |queue: &[Seen], id: QueueEntryId, what: &str| {
        let index = queue.iter().position(|e| e.id == id);
        index.unwrap_or_else(|| panic!("{what} for an unknown entry {id}"))
    };
    for (i, event) in events.iter().enumerate() {
        match event {
            Event::SessionStarted { .. } => {
                let added_later: HashSet<QueueEntryId> = events[i + 1..]
                    .iter()
                    .filter_map(|e| match e {
                        Event::EntryAdded { entry, .. } => Some(entry.id),
                        _ => None,
                    })
                    .collect();
                queue = after
                    .queue()
                    .iter()
                    .filter(|e| !added_later.contains(&e.id))
                    .map(Seen::from)
                    .collect();
            }
            Event::EntryAdded { entry, index } => {
                assert!(*index <= queue.len(), "entry_added past the end: {event:?}");
                queue.insert(*index, Seen::from(entry));
            }
            Event::EntryUpdated { entry } => {
                let index = index_of(&queue, entry.id, "entry_updated");
                queue[index] = Seen::from(entry);
            }
            Event::EntryRemoved { id } => {
                queue.remove(index_of(&queue, *id, "entry_removed"));
            }
            Event::EntryMoved { id, index } => {
                let entry = queue.remove(index_of(&queue, *id, "entry_moved"));
                assert!(*index <= queue.len(), "entry_moved past the end: {event:?}");
                queue.insert(*index, entry);
            }
            Event::EntryVotes { id, votes } => {
                let index = index_of(&queue, *id, "entry_votes");
                queue[index].votes = *votes;
            }
            Event::QueueReordered { from, order } => {
                let mut rest = queue.split_off(*from);
                assert_eq!(
                    rest.len(),
                    order.len(),
                    "queue_reordered must cover the rest"
                );
                for id in order {
                    let index = rest.iter().position(|e| e.id == *id);
                    queue.push(rest.swap_remove(index.expect("reordered an unknown entry")));
                }
            }
            _ => {}
        }
    }
    queue
}
