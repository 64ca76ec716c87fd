//! Playlists (`POST /v1/me/playlists`, `POST /v1/playlists/{id}/items`): the playlist object,
//! the snapshot id, and the request bodies.

use serde::{Deserialize, Serialize};

use super::catalog::{ExternalUrls, Image};

/// A playlist (`PlaylistObject`, or the `SimplifiedPlaylistObject` of listings).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Playlist {
    /// Base62 id: what `add_playlist_items` takes.
    pub id: String,
    /// Name shown in Spotify.
    pub name: String,
    /// Description; Spotify sends null when there is none.
    #[serde(default)]
    pub description: Option<String>,
    /// `true` public, `false` private; Spotify may send null ("not relevant").
    #[serde(default)]
    pub public: Option<bool>,
    /// Others may change it.
    #[serde(default)]
    pub collaborative: bool,
    /// Who owns it.
    #[serde(default)]
    pub owner: Option<PlaylistOwner>,
    /// The version of its contents; changes with every edit.
    pub snapshot_id: SnapshotId,
    /// `spotify:playlist:<id>`.
    #[serde(default)]
    pub uri: Option<String>,
    /// API link.
    #[serde(default)]
    pub href: Option<String>,
    /// Link into the Spotify app (`external_urls.spotify`), see [`Playlist::url`].
    #[serde(default)]
    pub external_urls: ExternalUrls,
    /// Covers, largest first; empty for a new playlist.
    #[serde(default)]
    pub images: Vec<Image>,
    /// Where its items are and how many (a page of them in a full object; only the link and
    /// the count are read). Since 2026; absent for playlists the user may not read.
    #[serde(default)]
    pub items: Option<PlaylistItemsRef>,
    /// Deprecated spelling of `items`, null or absent since 2026.
    #[serde(default)]
    pub tracks: Option<PlaylistItemsRef>,
}

impl Playlist {
    /// The link to open it in Spotify.
    pub fn url(&self) -> Option<&str> {
        self.external_urls.spotify.as_deref()
    }

    /// How many items it holds, when Spotify said (`items`, else the deprecated `tracks`).
    pub fn item_count(&self) -> Option<u32> {
        self.items
            .as_ref()
            .or(self.tracks.as_ref())
            .map(|r| r.total)
    }
}

/// The owner of a playlist (`PlaylistOwnerObject`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct PlaylistOwner {
    /// Spotify user id.
    pub id: String,
    /// Their name, when they set one.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `spotify:user:<id>`.
    #[serde(default)]
    pub uri: Option<String>,
}

/// `{href, total}` of a playlist's items (a `PlaylistTracksRefObject`, or the paging object
/// a full playlist embeds).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct PlaylistItemsRef {
    /// Where the items are listed.
    #[serde(default)]
    pub href: Option<String>,
    /// How many there are.
    #[serde(default)]
    pub total: u32,
}

/// A playlist's version (`snapshot_id`): opaque, new after every change.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(transparent)]
pub struct SnapshotId(pub String);

impl SnapshotId {
    /// The id as Spotify sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The body of `POST /v1/me/playlists`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CreatePlaylist {
    /// Need not be unique.
    pub name: String,
    /// Shown under the name; left out when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Always sent: Spotify's default is public.
    pub public: bool,
    /// A collaborative playlist must be private.
    pub collaborative: bool,
}

/// The body of `POST /v1/playlists/{id}/items`: at most 100 uris, inserted in order at
/// `position` (appended when `None`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AddPlaylistItems<'a> {
    /// Track or episode uris.
    pub uris: Vec<&'a str>,
    /// Zero-based index to insert at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
}

/// The answer to adding items.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct SnapshotAnswer {
    pub(crate) snapshot_id: SnapshotId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_playlist_reads_in_the_2026_shape_and_the_older_one() {
        // Since 2026: `items` holds the page, `tracks` is null (both present).
        let new: Playlist = serde_json::from_str(
            r#"{"id": "3cEYpjA9oz9GiPac4AsH4n", "name": "Sesh", "description": null,
                "public": false, "collaborative": false, "snapshot_id": "MSwx",
                "owner": {"id": "alice", "display_name": "Alice", "type": "user"},
                "external_urls": {"spotify": "https://open.spotify.com/playlist/3cEYpjA9oz9GiPac4AsH4n"},
                "images": [], "type": "playlist", "followers": {"href": null, "total": 0},
                "items": {"href": "https://api.spotify.com/v1/playlists/3cEYpjA9oz9GiPac4AsH4n/items",
                          "items": [], "limit": 100, "next": null, "offset": 0,
                          "previous": null, "total": 0},
                "tracks": null}"#,
        )
        .unwrap();
        assert_eq!(new.item_count(), Some(0));
        assert_eq!(new.snapshot_id.as_str(), "MSwx");
        assert_eq!(
            new.url(),
            Some("https://open.spotify.com/playlist/3cEYpjA9oz9GiPac4AsH4n")
        );
        // Before: only `tracks`, as `{href, total}`; and `public` may be null.
        let old: Playlist = serde_json::from_str(
            r#"{"id": "x", "name": "Old", "public": null, "snapshot_id": "s",
                "tracks": {"href": "h", "total": 7}}"#,
        )
        .unwrap();
        assert_eq!(old.item_count(), Some(7));
        assert_eq!(old.public, None);
        assert!(old.owner.is_none());
    }

    #[test]
    fn request_bodies_are_what_spotify_reads() {
        let create = CreatePlaylist {
            name: "Sesh".into(),
            description: None,
            public: false,
            collaborative: false,
        };
        assert_eq!(
            serde_json::to_value(&create).unwrap(),
            serde_json::json!({ "name": "Sesh", "public": false, "collaborative": false })
        );
        let add = AddPlaylistItems {
            uris: vec!["spotify:track:a"],
            position: Some(3),
        };
        assert_eq!(
            serde_json::to_value(&add).unwrap(),
            serde_json::json!({ "uris": ["spotify:track:a"], "position": 3 })
        );
    }
}
