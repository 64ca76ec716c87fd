//! Builders shared by the integration tests.
#![allow(dead_code)] // each test file uses a different subset

use rand::SeedableRng;
use rand::rngs::StdRng;
use sesh_session::*;
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

pub fn ids(queue: &[QueueEntry]) -> Vec<String> {
    queue.iter().map(|e| e.track.id.to_string()).collect()
}
