//! One copy of each track's metadata in memory, however many members' top tracks and queue
//! entries refer to it. Friends share favourites, and a big room's members share many: without
//! this, every member held their five tracks' strings (~2.5 KB) and every queue entry another
//! copy.

use std::{
    collections::HashMap,
    sync::{Arc, Weak},
};

use parking_lot::Mutex;
use sesh_session::{Session, Track, TrackId, UserId};

/// Below this many entries the map is never swept.
const MIN_SWEEP_AT: usize = 1024;

/// Shares identical tracks. Holds only weak references: a track nobody refers to any more is
/// freed, and its entry is swept away once the map has doubled since the last sweep.
#[derive(Debug)]
pub struct TrackCache {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    map: HashMap<TrackId, Weak<Track>>,
    sweep_at: usize,
}

impl Default for TrackCache {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                sweep_at: MIN_SWEEP_AT,
            }),
        }
    }
}

impl TrackCache {
    /// The shared copy of `track` (an equal one already in memory, or this one from now on).
    /// Only equal metadata is shared: a track whose name or cover changed gets its own copy.
    pub fn share(&self, track: Track) -> Arc<Track> {
        let mut inner = self.inner.lock();
        if let Some(existing) = inner.map.get(&track.id).and_then(Weak::upgrade)
            && *existing == track
        {
            return existing;
        }
        let shared = Arc::new(track);
        inner.map.insert(shared.id.clone(), Arc::downgrade(&shared));
        if inner.map.len() >= inner.sweep_at {
            inner.map.retain(|_, track| track.strong_count() > 0);
            inner.sweep_at = (inner.map.len() * 2).max(MIN_SWEEP_AT);
        }
        shared
    }

    /// The copy of track `id` that something holds now (a queue entry, a member's top
    /// tracks, a cached search answer), if any: a track known without asking Spotify.
    pub fn get(&self, id: &TrackId) -> Option<Arc<Track>> {
        self.inner.lock().map.get(id).and_then(Weak::upgrade)
    }

    /// [`TrackCache::share`] for a whole list.
    pub fn share_all(&self, tracks: impl IntoIterator<Item = Track>) -> Vec<Arc<Track>> {
        tracks.into_iter().map(|t| self.share(t)).collect()
    }

    /// A session (just read from the database, where every track is a separate copy) with its
    /// members' top tracks and its queue entries shared.
    pub fn share_session(&self, session: Session) -> Result<Session, sesh_session::RestoreError> {
        let mut parts = session.into_parts();
        let share = |track: &mut Arc<Track>| *track = self.share(Track::clone(track));
        for member in &mut parts.members {
            member.top_tracks.iter_mut().for_each(share);
        }
        for entry in &mut parts.queue {
            share(&mut entry.track);
        }
        Session::from_parts(parts)
    }

    /// Distinct tracks held (live or not yet swept), for tests.
    pub fn len(&self) -> usize {
        self.inner.lock().map.len()
    }

    /// Whether no track is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesh_session::TrackUri;

    fn track(id: &str, name: &str) -> Track {
        let id = TrackId::new(id);
        Track {
            uri: TrackUri::for_track(&id),
            id,
            name: name.into(),
            artists: vec!["A".into()],
            album: "B".into(),
            image_url: None,
            duration_ms: 1,
        }
    }

    #[test]
    fn equal_tracks_are_shared_and_dead_ones_swept() {
        let cache = TrackCache::default();
        let a = cache.share(track("a", "Song"));
        let again = cache.share(track("a", "Song"));
        assert!(Arc::ptr_eq(&a, &again));
        // Changed metadata is not merged into the old copy.
        let renamed = cache.share(track("a", "Song (Remastered)"));
        assert!(!Arc::ptr_eq(&a, &renamed));
        assert_eq!(renamed.name, "Song (Remastered)");
        // The newest copy is the one found by id.
        assert!(Arc::ptr_eq(
            &cache.get(&TrackId::new("a")).unwrap(),
            &renamed
        ));
        drop((a, again, renamed));
        assert_eq!(
            cache.get(&TrackId::new("a")),
            None,
            "nobody holds it any more"
        );
        // Nobody holds them: the next sweep forgets them.
        let kept: Vec<_> = (0..MIN_SWEEP_AT)
            .map(|i| cache.share(track(&format!("t{i}"), "x")))
            .collect();
        assert!(cache.len() <= kept.len(), "{} entries", cache.len());
        assert!(Arc::ptr_eq(&kept[7], &cache.share(track("t7", "x"))));
    }
}

/// One refresh of a user's top tracks at a time. A join (or session creation) that arrives
/// while the login's prefetch is still asking Spotify waits for it and uses what it stored,
/// instead of asking again and storing twice.
#[derive(Debug, Default)]
pub struct OneAtATime {
    locks: Mutex<HashMap<UserId, Arc<tokio::sync::Mutex<()>>>>,
}

impl OneAtATime {
    /// Runs `work` for `user` once the previous run for them is over.
    pub async fn run<T>(&self, user: &UserId, work: impl Future<Output = T>) -> T {
        let lock = self.locks.lock().entry(user.clone()).or_default().clone();
        let out = {
            let _turn = lock.lock().await;
            work.await
        };
        let mut locks = self.locks.lock();
        // Nobody else holds or waits for it (the map's copy and ours): forget it.
        if Arc::strong_count(&lock) == 2 {
            locks.remove(user);
        }
        out
    }
}
