//! Users' playlists: created by `POST /v1/me/playlists`, filled by
//! `POST /v1/playlists/{id}/items`, bounded as Spotify bounds them. Plain data and rules, no
//! HTTP: the web layer checks scopes and turns [`PlaylistError`] into Spotify's answers.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, TrackIdx};
use crate::ids::{base62_id, hash64};

/// Items one playlist may hold, as on Spotify.
pub(crate) const MAX_ITEMS: usize = 10_000;
/// Playlists one user may own ("generally limited to a maximum of 11000", says the spec).
pub(crate) const MAX_PLAYLISTS_PER_USER: usize = 11_000;
/// URIs one `POST /items` may add.
pub(crate) const MAX_URIS_PER_CALL: usize = 100;

/// One entry of a playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub track: TrackIdx,
    /// Virtual Unix milliseconds.
    pub added_at_ms: i64,
    /// The user whose token added it.
    pub added_by: String,
}

/// A playlist and its items in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Playlist {
    pub id: String,
    /// The owner's user id.
    pub owner: String,
    pub name: String,
    pub description: Option<String>,
    pub public: bool,
    pub collaborative: bool,
    pub items: Vec<Item>,
    /// Bumped by every change; the snapshot id is derived from it.
    pub version: u64,
}

impl Playlist {
    /// Spotify's opaque version string: base64 of "version,hash", as Spotify's look.
    pub fn snapshot_id(&self) -> String {
        let hash = hash64(&format!("snapshot:{}:{}", self.id, self.version));
        STANDARD.encode(format!("{},{hash:016x}", self.version))
    }

    /// Whether `user` may read and change the items: the owner, or anyone for a
    /// collaborative playlist (knowing its id stands for being invited).
    pub fn editable_by(&self, user: &str) -> bool {
        self.owner == user || self.collaborative
    }
}

/// What a playlist change can run into.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PlaylistError {
    #[error("no playlist with that id")]
    NotFound,
    #[error("the user may not change this playlist")]
    NotEditable,
    #[error("the user owns {MAX_PLAYLISTS_PER_USER} playlists already")]
    TooManyPlaylists,
    #[error("a playlist holds at most {MAX_ITEMS} items")]
    Full,
    #[error("position {position} is past the end ({len} items)")]
    PositionOutOfRange { position: usize, len: usize },
}

/// A new playlist's details.
#[derive(Debug)]
pub(crate) struct NewPlaylist {
    pub name: String,
    pub description: Option<String>,
    pub public: bool,
    pub collaborative: bool,
}

#[derive(Debug, Default)]
struct Inner {
    by_id: HashMap<String, Playlist>,
    /// Each owner's playlist ids, oldest first.
    by_owner: HashMap<String, Vec<String>>,
    /// Playlists ever created; seeds the next id, so ids are stable across runs.
    created: u64,
}

/// Every playlist, behind one lock (playlist calls are rare next to player polls).
#[derive(Debug, Default)]
pub(crate) struct Playlists {
    inner: Mutex<Inner>,
}

impl Playlists {
    /// Creates an empty playlist owned by `owner`.
    pub fn create(&self, owner: &str, new: NewPlaylist) -> Result<Playlist, PlaylistError> {
        let mut inner = self.inner.lock();
        let Inner {
            by_id,
            by_owner,
            created,
        } = &mut *inner;
        let owned = by_owner.entry(owner.to_owned()).or_default();
        if owned.len() >= MAX_PLAYLISTS_PER_USER {
            return Err(PlaylistError::TooManyPlaylists);
        }
        *created += 1;
        let id = base62_id(&format!("playlist:{owner}:{created}"));
        let playlist = Playlist {
            id: id.clone(),
            owner: owner.to_owned(),
            name: new.name,
            description: new.description,
            public: new.public,
            collaborative: new.collaborative,
            items: Vec::new(),
            version: 1,
        };
        owned.push(id.clone());
        by_id.insert(id, playlist.clone());
        Ok(playlist)
    }

    /// Runs `read` on playlist `id` under the lock (no copy of its items).
    pub fn read<R>(&self, id: &str, read: impl FnOnce(&Playlist) -> R) -> Option<R> {
        self.inner.lock().by_id.get(id).map(read)
    }

    /// Inserts `tracks` in order at `position` (appends when `None`) as `user`; answers the
    /// new snapshot id. All or nothing.
    pub fn add(
        &self,
        id: &str,
        user: &str,
        tracks: &[TrackIdx],
        position: Option<usize>,
        now_ms: i64,
    ) -> Result<String, PlaylistError> {
        let mut inner = self.inner.lock();
        let playlist = inner.by_id.get_mut(id).ok_or(PlaylistError::NotFound)?;
        if !playlist.editable_by(user) {
            return Err(PlaylistError::NotEditable);
        }
        let len = playlist.items.len();
        let at = position.unwrap_or(len);
        if at > len {
            return Err(PlaylistError::PositionOutOfRange { position: at, len });
        }
        if len + tracks.len() > MAX_ITEMS {
            return Err(PlaylistError::Full);
        }
        let new = tracks.iter().map(|&track| Item {
            track,
            added_at_ms: now_ms,
            added_by: user.to_owned(),
        });
        playlist.items.splice(at..at, new);
        playlist.version += 1;
        Ok(playlist.snapshot_id())
    }

    /// `owner`'s playlists, oldest first.
    pub fn owned_by(&self, owner: &str) -> Vec<Playlist> {
        let inner = self.inner.lock();
        inner
            .by_owner
            .get(owner)
            .into_iter()
            .flatten()
            .filter_map(|id| inner.by_id.get(id).cloned())
            .collect()
    }

    /// Everything, for the state file.
    pub fn save(&self, catalog: &Catalog) -> SavedPlaylists {
        let inner = self.inner.lock();
        let playlists = inner
            .by_owner
            .values()
            .flatten()
            .filter_map(|id| inner.by_id.get(id))
            .map(|p| SavedPlaylist {
                id: p.id.clone(),
                owner: p.owner.clone(),
                name: p.name.clone(),
                description: p.description.clone(),
                public: p.public,
                collaborative: p.collaborative,
                version: p.version,
                items: p
                    .items
                    .iter()
                    .map(|item| SavedItem {
                        uri: catalog.tracks[item.track].uri.clone(),
                        added_at_ms: item.added_at_ms,
                        added_by: item.added_by.clone(),
                    })
                    .collect(),
            })
            .collect();
        SavedPlaylists {
            created: inner.created,
            playlists,
        }
    }

    /// Rebuilds the store from the state file; `known_user` tells owners that exist.
    pub fn restore(
        saved: SavedPlaylists,
        catalog: &Catalog,
        known_user: impl Fn(&str) -> bool,
    ) -> Result<Self, String> {
        let mut inner = Inner {
            created: saved.created,
            ..Inner::default()
        };
        for p in saved.playlists {
            if !known_user(&p.owner) {
                return Err(format!("playlist {} of unknown user {}", p.id, p.owner));
            }
            if p.items.len() > MAX_ITEMS {
                return Err(format!("playlist {} holds over {MAX_ITEMS} items", p.id));
            }
            let items = p
                .items
                .into_iter()
                .map(|item| {
                    let track = catalog
                        .track_by_uri(&item.uri)
                        .ok_or_else(|| format!("playlist {}: unknown track {}", p.id, item.uri))?;
                    Ok(Item {
                        track,
                        added_at_ms: item.added_at_ms,
                        added_by: item.added_by,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            let owned = inner.by_owner.entry(p.owner.clone()).or_default();
            if owned.len() >= MAX_PLAYLISTS_PER_USER {
                return Err(format!("user {} owns too many playlists", p.owner));
            }
            owned.push(p.id.clone());
            let playlist = Playlist {
                id: p.id.clone(),
                owner: p.owner,
                name: p.name,
                description: p.description,
                public: p.public,
                collaborative: p.collaborative,
                items,
                version: p.version,
            };
            if inner.by_id.insert(p.id.clone(), playlist).is_some() {
                return Err(format!("playlist {} appears twice", p.id));
            }
        }
        Ok(Self {
            inner: Mutex::new(inner),
        })
    }

    /// Takes over `other`'s playlists (a restored state file).
    pub fn replace_with(&self, other: Playlists) {
        *self.inner.lock() = other.inner.into_inner();
    }
}

/// The playlists as the state file holds them.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct SavedPlaylists {
    #[serde(default)]
    created: u64,
    #[serde(default)]
    playlists: Vec<SavedPlaylist>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedPlaylist {
    id: String,
    owner: String,
    name: String,
    description: Option<String>,
    public: bool,
    collaborative: bool,
    version: u64,
    /// In playlist order.
    items: Vec<SavedItem>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedItem {
    uri: String,
    added_at_ms: i64,
    added_by: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private(name: &str) -> NewPlaylist {
        NewPlaylist {
            name: name.to_owned(),
            description: None,
            public: false,
            collaborative: false,
        }
    }

    fn tracks(playlists: &Playlists, id: &str) -> Vec<TrackIdx> {
        playlists
            .read(id, |p| p.items.iter().map(|i| i.track).collect())
            .unwrap()
    }

    #[test]
    fn items_go_in_order_at_their_position_and_change_the_snapshot() {
        let playlists = Playlists::default();
        let p = playlists.create("alice", private("Mix")).unwrap();
        let first = p.snapshot_id();
        let s1 = playlists.add(&p.id, "alice", &[1, 2, 3], None, 10).unwrap();
        let s2 = playlists.add(&p.id, "alice", &[9, 8], Some(1), 20).unwrap();
        let s3 = playlists.add(&p.id, "alice", &[7], Some(0), 30).unwrap();
        assert_eq!(tracks(&playlists, &p.id), [7, 1, 9, 8, 2, 3]);
        let snapshots = std::collections::HashSet::from([first, s1, s2, s3]);
        assert_eq!(snapshots.len(), 4, "every change has its own snapshot");
        assert_eq!(
            playlists.add(&p.id, "alice", &[1], Some(7), 40),
            Err(PlaylistError::PositionOutOfRange {
                position: 7,
                len: 6
            })
        );
        assert_eq!(
            tracks(&playlists, &p.id).len(),
            6,
            "a refusal changes nothing"
        );
    }

    #[test]
    fn only_the_owner_changes_a_playlist_unless_it_is_collaborative() {
        let playlists = Playlists::default();
        let mine = playlists.create("alice", private("Mine")).unwrap();
        assert_eq!(
            playlists.add(&mine.id, "bob", &[1], None, 0),
            Err(PlaylistError::NotEditable)
        );
        let shared = playlists
            .create(
                "alice",
                NewPlaylist {
                    collaborative: true,
                    ..private("Ours")
                },
            )
            .unwrap();
        playlists.add(&shared.id, "bob", &[1], None, 0).unwrap();
        let added_by = playlists
            .read(&shared.id, |p| p.items[0].added_by.clone())
            .unwrap();
        assert_eq!(added_by, "bob");
        assert_eq!(
            playlists.add("nope", "alice", &[1], None, 0),
            Err(PlaylistError::NotFound)
        );
        let owned: Vec<_> = playlists
            .owned_by("alice")
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(owned, [mine.id, shared.id]);
        assert!(playlists.owned_by("bob").is_empty());
    }

    #[test]
    fn playlists_and_users_are_bounded() {
        let playlists = Playlists::default();
        let p = playlists.create("alice", private("Big")).unwrap();
        let hundred = vec![5; MAX_URIS_PER_CALL];
        for _ in 0..MAX_ITEMS / MAX_URIS_PER_CALL {
            playlists.add(&p.id, "alice", &hundred, None, 0).unwrap();
        }
        assert_eq!(
            playlists.add(&p.id, "alice", &[5], None, 0),
            Err(PlaylistError::Full)
        );
        for n in 1..MAX_PLAYLISTS_PER_USER {
            playlists.create("bob", private(&n.to_string())).unwrap();
        }
        playlists.create("bob", private("last")).unwrap();
        assert_eq!(
            playlists
                .create("bob", private("one too many"))
                .unwrap_err(),
            PlaylistError::TooManyPlaylists
        );
        // Ids are distinct and stable.
        let again = Playlists::default()
            .create("alice", private("Big"))
            .unwrap();
        assert_eq!(again.id, p.id);
        assert_ne!(playlists.owned_by("bob")[0].id, p.id);
    }

    #[test]
    fn the_saved_form_restores_the_same_playlists() {
        let catalog = Catalog::generate();
        let playlists = Playlists::default();
        let p = playlists.create("alice", private("Keep")).unwrap();
        playlists.add(&p.id, "alice", &[3, 1, 4], None, 99).unwrap();
        let saved = serde_json::to_string(&playlists.save(&catalog)).unwrap();
        let restored = Playlists::restore(serde_json::from_str(&saved).unwrap(), &catalog, |u| {
            u == "alice"
        })
        .unwrap();
        assert_eq!(restored.owned_by("alice"), playlists.owned_by("alice"));
        // The id counter survives too: the next playlist gets a new id.
        let next = restored.create("alice", private("Next")).unwrap();
        assert_ne!(next.id, p.id);
        let unknown_owner =
            Playlists::restore(serde_json::from_str(&saved).unwrap(), &catalog, |_| false);
        assert!(unknown_owner.is_err());
    }
}
