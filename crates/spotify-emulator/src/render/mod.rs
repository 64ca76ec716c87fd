//! Web API JSON objects built from the world, shaped like Spotify's real answers (field
//! names, nesting, `href`s on the emulator's own base URL). Fields the spec marks
//! deprecated are left out, as Spotify leaves them out for new apps. Playlists are in
//! [`playlist`].

mod playlist;

use serde::Serialize;

use crate::catalog::{Catalog, TrackIdx};
use crate::player::Player;
use crate::world::{Device, Profile};

/// Cover sizes served for each album, widest first as Spotify lists them.
pub(crate) const COVER_SIZES: [u32; 3] = [640, 300, 64];

#[derive(Serialize)]
pub(crate) struct ExternalUrls {
    spotify: String,
}

#[derive(Serialize)]
pub(crate) struct Image {
    url: String,
    height: Option<u32>,
    width: Option<u32>,
}

#[derive(Serialize)]
pub(crate) struct ArtistJson<'a> {
    external_urls: ExternalUrls,
    href: String,
    id: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    uri: String,
}

#[derive(Serialize)]
pub(crate) struct AlbumJson<'a> {
    album_type: &'static str,
    artists: Vec<ArtistJson<'a>>,
    external_urls: ExternalUrls,
    href: String,
    id: &'a str,
    images: Vec<Image>,
    is_playable: bool,
    name: &'a str,
    release_date: &'a str,
    release_date_precision: &'static str,
    total_tracks: usize,
    #[serde(rename = "type")]
    kind: &'static str,
    uri: String,
}

#[derive(Serialize)]
pub(crate) struct ExternalIds<'a> {
    isrc: &'a str,
}

/// Spotify's full `TrackObject`.
#[derive(Serialize)]
pub(crate) struct TrackJson<'a> {
    album: AlbumJson<'a>,
    artists: Vec<ArtistJson<'a>>,
    disc_number: u32,
    duration_ms: u64,
    explicit: bool,
    external_ids: ExternalIds<'a>,
    external_urls: ExternalUrls,
    href: String,
    id: &'a str,
    is_local: bool,
    is_playable: bool,
    name: &'a str,
    track_number: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    uri: &'a str,
}

/// Spotify's `DeviceObject`.
#[derive(Serialize)]
pub(crate) struct DeviceJson<'a> {
    id: &'a str,
    is_active: bool,
    is_private_session: bool,
    is_restricted: bool,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    volume_percent: Option<u8>,
    supports_volume: bool,
}

#[derive(Serialize)]
pub(crate) struct ContextJson {
    external_urls: ExternalUrls,
    href: String,
    #[serde(rename = "type")]
    kind: &'static str,
    uri: String,
}

/// `actions.disallows`; only `true` entries are sent, like Spotify.
#[derive(Serialize, Default)]
pub(crate) struct Disallows {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pausing: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    resuming: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    skipping_prev: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    interrupting_playback: bool,
}

#[derive(Serialize)]
pub(crate) struct Actions {
    disallows: Disallows,
}

/// `GET /v1/me/player` (`CurrentlyPlayingContextObject`).
#[derive(Serialize)]
pub(crate) struct PlaybackJson<'a> {
    device: DeviceJson<'a>,
    shuffle_state: bool,
    smart_shuffle: bool,
    repeat_state: &'static str,
    timestamp: i64,
    context: Option<ContextJson>,
    progress_ms: u64,
    item: Option<TrackJson<'a>>,
    currently_playing_type: &'static str,
    actions: Actions,
    is_playing: bool,
}

/// `GET /v1/me/player/currently-playing` (`CurrentlyPlayingObject`).
#[derive(Serialize)]
pub(crate) struct CurrentlyPlayingJson<'a> {
    timestamp: i64,
    context: Option<ContextJson>,
    progress_ms: u64,
    item: Option<TrackJson<'a>>,
    currently_playing_type: &'static str,
    actions: Actions,
    is_playing: bool,
}

/// A `PagingObject` of `T` (tracks for top tracks and search, playlist items for playlists).
#[derive(Serialize)]
pub(crate) struct PagingJson<T> {
    href: String,
    items: Vec<T>,
    limit: usize,
    next: Option<String>,
    offset: usize,
    previous: Option<String>,
    total: usize,
}

/// Renders objects with `href`s and image URLs on one base URL.
#[derive(Clone, Copy)]
pub(crate) struct Renderer<'a> {
    pub base: &'a str,
    pub catalog: &'a Catalog,
}

impl<'a> Renderer<'a> {
    fn artist(&self, index: usize) -> ArtistJson<'a> {
        let artist = &self.catalog.artists[index];
        ArtistJson {
            external_urls: open_url("artist", &artist.id),
            href: format!("{}/v1/artists/{}", self.base, artist.id),
            id: &artist.id,
            name: &artist.name,
            kind: "artist",
            uri: format!("spotify:artist:{}", artist.id),
        }
    }

    fn album(&self, index: usize) -> AlbumJson<'a> {
        let album = &self.catalog.albums[index];
        AlbumJson {
            album_type: album.album_type.as_str(),
            artists: vec![self.artist(album.artist)],
            external_urls: open_url("album", &album.id),
            href: format!("{}/v1/albums/{}", self.base, album.id),
            id: &album.id,
            images: self.covers(index),
            is_playable: true,
            name: &album.name,
            release_date: &album.release_date,
            release_date_precision: "day",
            total_tracks: album.tracks.len(),
            kind: "album",
            uri: format!("spotify:album:{}", album.id),
        }
    }

    /// Album `index`'s covers, widest first.
    fn covers(&self, index: usize) -> Vec<Image> {
        let album = &self.catalog.albums[index];
        COVER_SIZES
            .iter()
            .map(|&size| Image {
                url: format!("{}/_img/album/{}/{size}", self.base, album.id),
                height: Some(size),
                width: Some(size),
            })
            .collect()
    }

    pub fn track(&self, index: TrackIdx) -> TrackJson<'a> {
        let track = &self.catalog.tracks[index];
        TrackJson {
            album: self.album(track.album),
            artists: track.artists.iter().map(|&a| self.artist(a)).collect(),
            disc_number: 1,
            duration_ms: track.duration_ms,
            explicit: track.explicit,
            external_ids: ExternalIds { isrc: &track.isrc },
            external_urls: open_url("track", &track.id),
            href: format!("{}/v1/tracks/{}", self.base, track.id),
            id: &track.id,
            is_local: false,
            is_playable: true,
            name: &track.name,
            track_number: track.track_number,
            kind: "track",
            uri: &track.uri,
        }
    }

    /// A page of tracks; `href`, `next` and `previous` repeat `query` (without the paging
    /// parameters) and add `offset` and `limit`.
    pub fn paging(
        &self,
        path: &str,
        query: &str,
        all: &[TrackIdx],
        offset: usize,
        limit: usize,
    ) -> PagingJson<TrackJson<'a>> {
        self.page(path, query, all, offset, limit, |&t| self.track(t))
    }

    /// A page of `all` rendered by `render`, with links as [`Renderer::paging`] makes them.
    fn page<'b, T, J>(
        &self,
        path: &str,
        query: &str,
        all: &'b [T],
        offset: usize,
        limit: usize,
        render: impl Fn(&'b T) -> J,
    ) -> PagingJson<J> {
        let page_url = |offset: usize| {
            let sep = if query.is_empty() { "" } else { "&" };
            format!(
                "{}{path}?{query}{sep}offset={offset}&limit={limit}",
                self.base
            )
        };
        PagingJson {
            href: page_url(offset),
            items: all.iter().skip(offset).take(limit).map(render).collect(),
            limit,
            next: (offset + limit < all.len()).then(|| page_url(offset + limit)),
            offset,
            previous: (offset > 0).then(|| page_url(offset.saturating_sub(limit))),
            total: all.len(),
        }
    }

    pub fn device(device: &'a Device, active: bool) -> DeviceJson<'a> {
        DeviceJson {
            id: &device.id,
            is_active: active,
            is_private_session: false,
            is_restricted: device.is_restricted,
            name: &device.name,
            kind: &device.kind,
            volume_percent: Some(device.volume_percent),
            supports_volume: device.supports_volume,
        }
    }

    fn context(&self, player: &Player) -> Option<ContextJson> {
        let context = player.context.as_ref()?;
        let plural = if context.kind == "album" {
            "albums"
        } else {
            "artists"
        };
        Some(ContextJson {
            external_urls: open_url(context.kind, &context.id),
            href: format!("{}/v1/{plural}/{}", self.base, context.id),
            kind: context.kind,
            uri: format!("spotify:{}:{}", context.kind, context.id),
        })
    }

    fn actions(player: &Player) -> Actions {
        Actions {
            disallows: Disallows {
                pausing: !player.is_playing,
                resuming: player.is_playing,
                skipping_prev: !player.from_queue && player.index == 0,
                interrupting_playback: false,
            },
        }
    }

    /// The playback state, or `None` when Spotify answers 204 (no active device or nothing
    /// loaded).
    pub fn playback(
        &self,
        player: &Player,
        device: Option<&'a Device>,
        now_ms: i64,
    ) -> Option<PlaybackJson<'a>> {
        let device = device?;
        let current = player.current?;
        Some(PlaybackJson {
            device: Self::device(device, true),
            shuffle_state: player.shuffle,
            smart_shuffle: false,
            repeat_state: player.repeat.as_str(),
            timestamp: player.changed_at_ms,
            context: self.context(player),
            progress_ms: player.position_ms(now_ms),
            item: Some(self.track(current)),
            currently_playing_type: "track",
            actions: Self::actions(player),
            is_playing: player.is_playing,
        })
    }

    /// What plays now, or `None` for Spotify's 204.
    pub fn currently_playing(
        &self,
        player: &Player,
        now_ms: i64,
    ) -> Option<CurrentlyPlayingJson<'a>> {
        player.device.as_ref()?;
        let current = player.current?;
        Some(CurrentlyPlayingJson {
            timestamp: player.changed_at_ms,
            context: self.context(player),
            progress_ms: player.position_ms(now_ms),
            item: Some(self.track(current)),
            currently_playing_type: "track",
            actions: Self::actions(player),
            is_playing: player.is_playing,
        })
    }

    /// `GET /v1/me` (`PrivateUserObject` without the deprecated fields).
    pub fn me(&self, profile: &Profile) -> serde_json::Value {
        serde_json::json!({
            "account_id": profile.account_id,
            "display_name": profile.display_name,
            "external_urls": { "spotify": format!("https://open.spotify.com/user/{}", profile.id) },
            "href": format!("{}/v1/users/{}", self.base, profile.id),
            "id": profile.id,
            "images": [{
                "url": format!("{}/_img/user/{}", self.base, profile.id),
                "height": 300,
                "width": 300,
            }],
            "type": "user",
            "uri": format!("spotify:user:{}", profile.id),
        })
    }
}

fn open_url(kind: &str, id: &str) -> ExternalUrls {
    ExternalUrls {
        spotify: format!("https://open.spotify.com/{kind}/{id}"),
    }
}
