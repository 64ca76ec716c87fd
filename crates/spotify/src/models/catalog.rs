//! Catalog objects: tracks, albums, artists, episodes, and the paging envelope.

use serde::{Deserialize, Serialize};

/// Links into the Spotify app.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct ExternalUrls {
    /// `https://open.spotify.com/...`
    #[serde(default)]
    pub spotify: Option<String>,
}

/// A cover or profile picture. Spotify sends null sizes for some images.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Image {
    /// Where the image is served.
    pub url: String,
    /// Pixels, when known.
    #[serde(default)]
    pub height: Option<u32>,
    /// Pixels, when known.
    #[serde(default)]
    pub width: Option<u32>,
}

/// An artist as embedded in tracks and albums. Local files have no id or uri.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Artist {
    /// Base62 id; `None` for artists of local files.
    #[serde(default)]
    pub id: Option<String>,
    /// Artist name.
    pub name: String,
    /// `spotify:artist:<id>`.
    #[serde(default)]
    pub uri: Option<String>,
    /// API link.
    #[serde(default)]
    pub href: Option<String>,
    /// Link into the app.
    #[serde(default)]
    pub external_urls: ExternalUrls,
}

/// An album as embedded in a track (`SimplifiedAlbumObject`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Album {
    /// Base62 id; `None` for local files.
    #[serde(default)]
    pub id: Option<String>,
    /// Album title.
    pub name: String,
    /// `album`, `single` or `compilation`.
    #[serde(default)]
    pub album_type: Option<String>,
    /// Album artists.
    #[serde(default)]
    pub artists: Vec<Artist>,
    /// Covers, largest first.
    #[serde(default)]
    pub images: Vec<Image>,
    /// `1981-12-15`, `1981-12` or `1981`, see `release_date_precision`.
    #[serde(default)]
    pub release_date: Option<String>,
    /// `year`, `month` or `day`.
    #[serde(default)]
    pub release_date_precision: Option<String>,
    /// Number of tracks on the album.
    #[serde(default)]
    pub total_tracks: Option<u32>,
    /// `spotify:album:<id>`.
    #[serde(default)]
    pub uri: Option<String>,
    /// API link.
    #[serde(default)]
    pub href: Option<String>,
    /// Link into the app.
    #[serde(default)]
    pub external_urls: ExternalUrls,
}

/// The track a relinked track stands in for (deprecated `linked_from`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct TrackLink {
    /// Base62 id of the original track.
    #[serde(default)]
    pub id: Option<String>,
    /// `spotify:track:<id>` of the original track.
    #[serde(default)]
    pub uri: Option<String>,
}

/// A track (`TrackObject`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Track {
    /// Base62 id; `None` only for local files (`is_local`), which cannot be queued or played
    /// through the API anyway.
    #[serde(default)]
    pub id: Option<String>,
    /// Track title.
    pub name: String,
    /// `spotify:track:<id>` (local files use `spotify:local:...`).
    pub uri: String,
    /// Performing artists.
    #[serde(default)]
    pub artists: Vec<Artist>,
    /// The album it appears on.
    #[serde(default)]
    pub album: Option<Album>,
    /// Length in milliseconds.
    pub duration_ms: u32,
    /// Has explicit lyrics (unknown counts as false).
    #[serde(default)]
    pub explicit: bool,
    /// A local file from the user's library rather than a catalog track.
    #[serde(default)]
    pub is_local: bool,
    /// Sent when a market was given; `false` when the track cannot be played there.
    #[serde(default)]
    pub is_playable: Option<bool>,
    /// Track number on its disc.
    #[serde(default)]
    pub track_number: Option<u32>,
    /// Disc number.
    #[serde(default)]
    pub disc_number: Option<u32>,
    /// Deprecated: 0–100.
    #[serde(default)]
    pub popularity: Option<u32>,
    /// Deprecated: 30-second MP3 preview.
    #[serde(default)]
    pub preview_url: Option<String>,
    /// Deprecated: set when Spotify relinked the requested track to this one.
    #[serde(default)]
    pub linked_from: Option<TrackLink>,
    /// API link.
    #[serde(default)]
    pub href: Option<String>,
    /// Link into the app.
    #[serde(default)]
    pub external_urls: ExternalUrls,
}

impl Track {
    /// Artist names, in order.
    pub fn artist_names(&self) -> Vec<String> {
        self.artists.iter().map(|a| a.name.clone()).collect()
    }

    /// URL of the largest album cover, if any.
    pub fn image_url(&self) -> Option<&str> {
        largest_image(
            self.album
                .as_ref()
                .map(|a| a.images.as_slice())
                .unwrap_or_default(),
        )
    }
}

/// The podcast an episode belongs to (`SimplifiedShowObject`, trimmed).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Show {
    /// Base62 id.
    #[serde(default)]
    pub id: Option<String>,
    /// Show title.
    pub name: String,
    /// Who publishes it.
    #[serde(default)]
    pub publisher: Option<String>,
    /// Covers, largest first.
    #[serde(default)]
    pub images: Vec<Image>,
    /// `spotify:show:<id>`.
    #[serde(default)]
    pub uri: Option<String>,
}

/// A podcast episode (`EpisodeObject`), which the player may be playing instead of a track.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Episode {
    /// Base62 id.
    #[serde(default)]
    pub id: Option<String>,
    /// Episode title.
    pub name: String,
    /// `spotify:episode:<id>`.
    pub uri: String,
    /// Length in milliseconds.
    pub duration_ms: u32,
    /// Plain-text description.
    #[serde(default)]
    pub description: Option<String>,
    /// Has explicit content.
    #[serde(default)]
    pub explicit: bool,
    /// Covers, largest first.
    #[serde(default)]
    pub images: Vec<Image>,
    /// Release date.
    #[serde(default)]
    pub release_date: Option<String>,
    /// The show it belongs to.
    #[serde(default)]
    pub show: Option<Show>,
    /// Link into the app.
    #[serde(default)]
    pub external_urls: ExternalUrls,
}

impl Episode {
    /// URL of the largest episode cover, if any.
    pub fn image_url(&self) -> Option<&str> {
        largest_image(&self.images)
    }
}

/// What a player plays: a track or a podcast episode, told apart by the `type` field.
///
/// Read in one pass over the object's fields ([`ItemRepr`]), wherever `type` comes: serde's
/// own internally tagged enums first buffer the whole object (every album image and artist)
/// to find the tag, which made that copy the largest cost of reading a player's state, the
/// answer Sesh asks for most.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PlayableItem {
    /// A music track.
    Track(Track),
    /// A podcast episode.
    Episode(Episode),
    /// Something newer than this client (audiobook chapters, ...).
    Unknown,
}

impl<'de> Deserialize<'de> for PlayableItem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ItemRepr::deserialize(deserializer)?
            .into_item()
            .map_err(serde::de::Error::missing_field)
    }
}

/// The `type` of a [`PlayableItem`].
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ItemKind {
    Track,
    Episode,
    #[serde(other)]
    Other,
}

/// Every field a [`Track`] or an [`Episode`] may have, read in one pass; `into_item` then
/// checks what the `type` requires. Fields of other item types are skipped.
#[derive(Deserialize)]
struct ItemRepr {
    #[serde(rename = "type")]
    kind: Option<ItemKind>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    duration_ms: Option<u32>,
    #[serde(default)]
    explicit: bool,
    #[serde(default)]
    external_urls: ExternalUrls,
    #[serde(default)]
    artists: Vec<Artist>,
    #[serde(default)]
    album: Option<Album>,
    #[serde(default)]
    is_local: bool,
    #[serde(default)]
    is_playable: Option<bool>,
    #[serde(default)]
    track_number: Option<u32>,
    #[serde(default)]
    disc_number: Option<u32>,
    #[serde(default)]
    popularity: Option<u32>,
    #[serde(default)]
    preview_url: Option<String>,
    #[serde(default)]
    linked_from: Option<TrackLink>,
    #[serde(default)]
    href: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    images: Vec<Image>,
    #[serde(default)]
    release_date: Option<String>,
    #[serde(default)]
    show: Option<Show>,
}

impl ItemRepr {
    /// The item its `type` names; `Err`: the field it lacks.
    fn into_item(self) -> Result<PlayableItem, &'static str> {
        let kind = self.kind.ok_or("type")?;
        if matches!(kind, ItemKind::Other) {
            return Ok(PlayableItem::Unknown);
        }
        let name = self.name.ok_or("name")?;
        let uri = self.uri.ok_or("uri")?;
        let duration_ms = self.duration_ms.ok_or("duration_ms")?;
        Ok(match kind {
            ItemKind::Track => PlayableItem::Track(Track {
                id: self.id,
                name,
                uri,
                artists: self.artists,
                album: self.album,
                duration_ms,
                explicit: self.explicit,
                is_local: self.is_local,
                is_playable: self.is_playable,
                track_number: self.track_number,
                disc_number: self.disc_number,
                popularity: self.popularity,
                preview_url: self.preview_url,
                linked_from: self.linked_from,
                href: self.href,
                external_urls: self.external_urls,
            }),
            // (`Other` was answered above.)
            ItemKind::Episode | ItemKind::Other => PlayableItem::Episode(Episode {
                id: self.id,
                name,
                uri,
                duration_ms,
                description: self.description,
                explicit: self.explicit,
                images: self.images,
                release_date: self.release_date,
                show: self.show,
                external_urls: self.external_urls,
            }),
        })
    }
}

impl PlayableItem {
    /// The track, if this is one.
    pub fn as_track(&self) -> Option<&Track> {
        match self {
            Self::Track(track) => Some(track),
            _ => None,
        }
    }

    /// The item's uri, if known.
    pub fn uri(&self) -> Option<&str> {
        match self {
            Self::Track(track) => Some(&track.uri),
            Self::Episode(episode) => Some(&episode.uri),
            Self::Unknown => None,
        }
    }

    /// The item's length, if known.
    pub fn duration_ms(&self) -> Option<u32> {
        match self {
            Self::Track(track) => Some(track.duration_ms),
            Self::Episode(episode) => Some(episode.duration_ms),
            Self::Unknown => None,
        }
    }
}

/// A page of results (`PagingObject`). `next` is null on the last page.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Paging<T> {
    /// The items on this page.
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
    /// Page size requested.
    #[serde(default)]
    pub limit: u32,
    /// Index of the first item.
    #[serde(default)]
    pub offset: u32,
    /// Total items available.
    #[serde(default)]
    pub total: u32,
    /// URL of the next page, `None` on the last.
    #[serde(default)]
    pub next: Option<String>,
    /// URL of the previous page.
    #[serde(default)]
    pub previous: Option<String>,
    /// URL of this page.
    #[serde(default)]
    pub href: Option<String>,
}

/// `GET /v1/search` answer; only `tracks` is asked for.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct SearchResults {
    /// Matching tracks.
    #[serde(default)]
    pub tracks: Option<Paging<Track>>,
}

/// Whose country's catalogue a request is answered for (the `market` parameter): what is
/// available and playable there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Market {
    /// The country of the user whose token makes the call (`market=from_token`).
    FromToken,
    /// One country.
    Country(CountryCode),
}

impl Market {
    /// The market of a country code (`se` or `SE`); `None` unless two ASCII letters.
    pub fn country(code: &str) -> Option<Self> {
        CountryCode::new(code).map(Self::Country)
    }

    /// The query value Spotify expects.
    pub fn as_str(&self) -> &str {
        match self {
            Self::FromToken => "from_token",
            Self::Country(code) => code.as_str(),
        }
    }
}

impl std::fmt::Display for Market {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ISO 3166-1 alpha-2 country code: two upper-case ASCII letters (`SE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// `code` upper-cased; `None` unless two ASCII letters.
    pub fn new(code: &str) -> Option<Self> {
        match *code.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Two ASCII letters by construction, so always UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Period over which top tracks are computed.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum TimeRange {
    /// About the last 4 weeks.
    ShortTerm,
    /// About the last 6 months (Spotify's default).
    #[default]
    MediumTerm,
    /// About a year.
    LongTerm,
}

impl TimeRange {
    /// The query value Spotify expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ShortTerm => "short_term",
            Self::MediumTerm => "medium_term",
            Self::LongTerm => "long_term",
        }
    }
}

/// Spotify does not promise an order, so pick by area.
fn largest_image(images: &[Image]) -> Option<&str> {
    images
        .iter()
        .max_by_key(|i| u64::from(i.width.unwrap_or(0)) * u64::from(i.height.unwrap_or(0)))
        .map(|i| i.url.as_str())
}
