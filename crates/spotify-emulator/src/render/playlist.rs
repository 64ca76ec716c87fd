//! Playlists as Spotify shapes them since its 2026 change: `PlaylistObject` with its first
//! page of items under `items` (no deprecated `tracks`), and `PlaylistTrackObject`s whose
//! track is under `item` (no deprecated `track`).

use serde::Serialize;

use super::{ExternalUrls, Image, PagingJson, Renderer, TrackJson, open_url};
use crate::clock::iso8601;
use crate::playlists::{Item, Playlist};
use crate::world::Profile;

/// Items a playlist object embeds, as Spotify embeds its first hundred.
const EMBEDDED_ITEMS: usize = 100;

/// `PlaylistUserObject`: who owns a playlist or added an item.
#[derive(Serialize)]
pub(crate) struct UserRefJson<'a> {
    external_urls: ExternalUrls,
    href: String,
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    uri: String,
}

/// `PlaylistOwnerObject`.
#[derive(Serialize)]
pub(crate) struct OwnerJson<'a> {
    #[serde(flatten)]
    user: UserRefJson<'a>,
    display_name: &'a str,
}

/// `FollowersObject`; Spotify's `href` is always null.
#[derive(Serialize)]
pub(crate) struct FollowersJson {
    href: Option<String>,
    total: u64,
}

/// `PlaylistTrackObject`.
#[derive(Serialize)]
pub(crate) struct PlaylistItemJson<'a> {
    added_at: String,
    added_by: UserRefJson<'a>,
    is_local: bool,
    item: TrackJson<'a>,
}

/// `PlaylistObject`.
#[derive(Serialize)]
pub(crate) struct PlaylistJson<'a> {
    collaborative: bool,
    description: Option<&'a str>,
    external_urls: ExternalUrls,
    followers: FollowersJson,
    href: String,
    id: &'a str,
    images: Vec<Image>,
    name: &'a str,
    owner: OwnerJson<'a>,
    public: bool,
    snapshot_id: String,
    /// Only for the owner and, on a collaborative playlist, its collaborators.
    #[serde(skip_serializing_if = "Option::is_none")]
    items: Option<PagingJson<PlaylistItemJson<'a>>>,
    #[serde(rename = "type")]
    kind: &'static str,
    uri: String,
}

impl<'a> Renderer<'a> {
    fn user_ref(&self, id: &'a str) -> UserRefJson<'a> {
        UserRefJson {
            external_urls: open_url("user", id),
            href: format!("{}/v1/users/{id}", self.base),
            id,
            kind: "user",
            uri: format!("spotify:user:{id}"),
        }
    }

    /// The full playlist; `with_items` adds its first page of items.
    pub fn playlist(
        &self,
        playlist: &'a Playlist,
        owner: &'a Profile,
        with_items: bool,
    ) -> PlaylistJson<'a> {
        // Spotify builds a cover from the tracks; the first track's album cover stands in.
        let images = playlist
            .items
            .first()
            .map(|item| self.covers(self.catalog.tracks[item.track].album))
            .unwrap_or_default();
        PlaylistJson {
            collaborative: playlist.collaborative,
            description: playlist.description.as_deref(),
            external_urls: open_url("playlist", &playlist.id),
            followers: FollowersJson {
                href: None,
                total: 0,
            },
            href: format!("{}/v1/playlists/{}", self.base, playlist.id),
            id: &playlist.id,
            images,
            name: &playlist.name,
            owner: OwnerJson {
                user: self.user_ref(&owner.id),
                display_name: &owner.display_name,
            },
            public: playlist.public,
            snapshot_id: playlist.snapshot_id(),
            items: with_items.then(|| self.playlist_items(playlist, 0, EMBEDDED_ITEMS)),
            kind: "playlist",
            uri: format!("spotify:playlist:{}", playlist.id),
        }
    }

    /// One page of a playlist's items (`PagingPlaylistTrackObject`).
    pub fn playlist_items(
        &self,
        playlist: &'a Playlist,
        offset: usize,
        limit: usize,
    ) -> PagingJson<PlaylistItemJson<'a>> {
        let path = format!("/v1/playlists/{}/items", playlist.id);
        self.page(
            &path,
            "",
            &playlist.items,
            offset,
            limit,
            |item: &'a Item| PlaylistItemJson {
                added_at: iso8601(item.added_at_ms),
                added_by: self.user_ref(&item.added_by),
                is_local: false,
                item: self.track(item.track),
            },
        )
    }
}
