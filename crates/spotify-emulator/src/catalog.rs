//! The invented music catalog: artists, albums and tracks, generated deterministically
//! from a fixed seed so every run (and every test) sees the same world.

use std::collections::{HashMap, HashSet};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use crate::ids::{base62_id, hash64};

/// Index of a track in [`Catalog::tracks`].
pub(crate) type TrackIdx = usize;

/// An invented artist.
#[derive(Debug)]
pub(crate) struct Artist {
    pub id: String,
    pub name: String,
}

/// Spotify's `album_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AlbumType {
    Album,
    Single,
}

impl AlbumType {
    pub fn as_str(self) -> &'static str {
        match self {
            AlbumType::Album => "album",
            AlbumType::Single => "single",
        }
    }
}

/// An invented album; its cover is drawn by [`crate::images`].
#[derive(Debug)]
pub(crate) struct Album {
    pub id: String,
    pub name: String,
    pub artist: usize,
    pub album_type: AlbumType,
    pub release_date: String,
    pub tracks: Vec<TrackIdx>,
}

/// An invented track.
#[derive(Debug)]
pub(crate) struct Track {
    pub id: String,
    pub uri: String,
    pub name: String,
    pub album: usize,
    /// Main artist first, then any featured artist.
    pub artists: Vec<usize>,
    pub duration_ms: u64,
    pub track_number: u32,
    pub explicit: bool,
    pub isrc: String,
    /// Lower-cased "name artists album" for search.
    haystack: String,
}

/// The whole catalog, immutable once built.
#[derive(Debug)]
pub(crate) struct Catalog {
    pub artists: Vec<Artist>,
    pub albums: Vec<Album>,
    pub tracks: Vec<Track>,
    track_by_id: HashMap<String, TrackIdx>,
    album_by_id: HashMap<String, usize>,
    artist_by_id: HashMap<String, usize>,
}

const ADJECTIVES: &[&str] = &[
    "Velvet",
    "Neon",
    "Paper",
    "Silver",
    "Hollow",
    "Golden",
    "Electric",
    "Quiet",
    "Crimson",
    "Midnight",
    "Northern",
    "Glass",
    "Wild",
    "Lunar",
    "Amber",
    "Static",
    "Broken",
    "Frozen",
    "Distant",
    "Secret",
    "Violet",
    "Coastal",
    "Burning",
    "Gentle",
    "Restless",
    "Faded",
    "Bright",
    "Heavy",
    "Little",
    "Endless",
    "Copper",
    "Sleepless",
];
const NOUNS: &[&str] = &[
    "Harbor",
    "Satellite",
    "Owl",
    "River",
    "Lantern",
    "Engine",
    "Echo",
    "Tide",
    "Garden",
    "Signal",
    "Mountain",
    "Fox",
    "Horizon",
    "Letter",
    "Mirror",
    "Skyline",
    "Ember",
    "Wolf",
    "Orchard",
    "Radio",
    "Comet",
    "Island",
    "Parade",
    "Shadow",
    "Circuit",
    "Meadow",
    "Weather",
    "Avenue",
    "Postcard",
    "Fire",
    "Lighthouse",
    "Highway",
];
const FIRST_NAMES: &[&str] = &[
    "Mara", "Jonas", "Ines", "Theo", "Lena", "Rafael", "Noor", "Elio", "Saskia", "Kofi", "Yara",
    "Milo", "Ada", "Tomas", "Zoe", "Ivo",
];
const LAST_NAMES: &[&str] = &[
    "Lind", "Okafor", "Varga", "Moreau", "Sato", "Brandt", "Castell", "Novak", "Haddad", "Quinn",
    "Ferreira", "Holm", "Adeyemi", "Kowal", "Rossi", "Eriksen",
];
const TITLE_PATTERNS: &[&str] = &[
    "{a} {n}",
    "{n} of {N}",
    "Dancing in the {n}",
    "Call Me {a}",
    "{a} {N}s",
    "Under the {a} {n}",
    "Last {n}",
    "{n} Song",
    "Nights Like {n}",
    "{a} Again",
    "Back to the {n}",
    "Hold the {n}",
];

/// How many artists the catalog has; each gets a five-track album, a four-track EP-like
/// album and a single, so 10 tracks per artist.
const ARTIST_COUNT: usize = 36;

impl Catalog {
    /// Builds the catalog from a fixed seed.
    pub fn generate() -> Self {
        let mut rng = StdRng::seed_from_u64(0x5e54_5e54);
        let mut artists = Vec::with_capacity(ARTIST_COUNT);
        let mut taken = HashSet::new();
        while artists.len() < ARTIST_COUNT {
            let name = if artists.len() % 2 == 0 {
                format!(
                    "The {} {}s",
                    pick(&mut rng, ADJECTIVES),
                    pick(&mut rng, NOUNS)
                )
            } else {
                format!(
                    "{} {}",
                    pick(&mut rng, FIRST_NAMES),
                    pick(&mut rng, LAST_NAMES)
                )
            };
            if taken.insert(name.clone()) {
                let id = base62_id(&format!("artist:{}", artists.len()));
                artists.push(Artist { id, name });
            }
        }

        let mut albums = Vec::new();
        let mut tracks: Vec<Track> = Vec::new();
        for artist in 0..ARTIST_COUNT {
            for (kind, size) in [
                (AlbumType::Album, 5),
                (AlbumType::Album, 4),
                (AlbumType::Single, 1),
            ] {
                let album_idx = albums.len();
                let year = rng.random_range(1972..=2025);
                let month = rng.random_range(1..=12);
                let day = rng.random_range(1..=28);
                let mut album_tracks = Vec::with_capacity(size);
                let mut names = Vec::with_capacity(size);
                for number in 1..=size {
                    let track_idx = tracks.len();
                    let name = title(&mut rng);
                    let mut track_artists = vec![artist];
                    if rng.random_ratio(1, 8) {
                        let featured = rng.random_range(0..ARTIST_COUNT);
                        if featured != artist {
                            track_artists.push(featured);
                        }
                    }
                    let id = base62_id(&format!("track:{track_idx}"));
                    tracks.push(Track {
                        uri: format!("spotify:track:{id}"),
                        id,
                        name: name.clone(),
                        album: album_idx,
                        artists: track_artists,
                        duration_ms: rng.random_range(140_000..=330_000),
                        track_number: u32::try_from(number).unwrap_or(1),
                        explicit: rng.random_ratio(1, 6),
                        isrc: format!("QZES{:02}{:05}", year % 100, track_idx),
                        haystack: String::new(),
                    });
                    album_tracks.push(track_idx);
                    names.push(name);
                }
                let name = match kind {
                    AlbumType::Single => names.first().cloned().unwrap_or_default(),
                    AlbumType::Album => title(&mut rng),
                };
                albums.push(Album {
                    id: base62_id(&format!("album:{album_idx}")),
                    name,
                    artist,
                    album_type: kind,
                    release_date: format!("{year}-{month:02}-{day:02}"),
                    tracks: album_tracks,
                });
            }
        }

        for track in &mut tracks {
            let artist_names: Vec<&str> = track
                .artists
                .iter()
                .map(|&a| artists[a].name.as_str())
                .collect();
            track.haystack = format!(
                "{} {} {}",
                track.name,
                artist_names.join(" "),
                albums[track.album].name
            )
            .to_lowercase();
        }

        let track_by_id = tracks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.clone(), i))
            .collect();
        let album_by_id = albums
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        let artist_by_id = artists
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        Self {
            artists,
            albums,
            tracks,
            track_by_id,
            album_by_id,
            artist_by_id,
        }
    }

    /// The track with Spotify id `id`.
    pub fn track_by_id(&self, id: &str) -> Option<TrackIdx> {
        self.track_by_id.get(id).copied()
    }

    /// The track behind a `spotify:track:<id>` URI.
    pub fn track_by_uri(&self, uri: &str) -> Option<TrackIdx> {
        uri.strip_prefix("spotify:track:")
            .and_then(|id| self.track_by_id(id))
    }

    /// The album with Spotify id `id`.
    pub fn album_by_id(&self, id: &str) -> Option<usize> {
        self.album_by_id.get(id).copied()
    }

    /// The artist with Spotify id `id`.
    pub fn artist_by_id(&self, id: &str) -> Option<usize> {
        self.artist_by_id.get(id).copied()
    }

    /// Every track by `artist` (as main or featured artist), in catalog order.
    pub fn tracks_of_artist(&self, artist: usize) -> Vec<TrackIdx> {
        (0..self.tracks.len())
            .filter(|&t| self.tracks[t].artists.contains(&artist))
            .collect()
    }

    /// Tracks matching a search query: every word must occur in the track's name, artists
    /// or album; `track:`, `artist:` and `album:` filters narrow a word to one field.
    pub fn search(&self, query: &str) -> Vec<TrackIdx> {
        let terms: Vec<(Option<&str>, String)> = query
            .split_whitespace()
            .map(|word| match word.split_once(':') {
                Some((field @ ("track" | "artist" | "album"), value)) => {
                    (Some(field), value.to_lowercase())
                }
                _ => (None, word.to_lowercase()),
            })
            .filter(|(_, value)| !value.is_empty())
            .collect();
        if terms.is_empty() {
            return Vec::new();
        }
        (0..self.tracks.len())
            .filter(|&t| {
                let track = &self.tracks[t];
                terms.iter().all(|(field, value)| match field {
                    None => track.haystack.contains(value.as_str()),
                    Some("track") => track.name.to_lowercase().contains(value.as_str()),
                    Some("artist") => track
                        .artists
                        .iter()
                        .any(|&a| self.artists[a].name.to_lowercase().contains(value.as_str())),
                    Some(_) => self.albums[track.album]
                        .name
                        .to_lowercase()
                        .contains(value.as_str()),
                })
            })
            .collect()
    }

    /// A colour hue (0–359) for an album's generated cover.
    pub fn album_hue(&self, album: usize) -> u16 {
        u16::try_from(hash64(&self.albums[album].id) % 360).unwrap_or(0)
    }
}

fn pick<'a>(rng: &mut StdRng, words: &[&'a str]) -> &'a str {
    words.choose(rng).copied().unwrap_or("Echo")
}

fn title(rng: &mut StdRng) -> String {
    let pattern = pick(rng, TITLE_PATTERNS);
    pattern
        .replace("{a}", pick(rng, ADJECTIVES))
        .replace("{n}", pick(rng, NOUNS))
        .replace("{N}", pick(rng, NOUNS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_large_deterministic_and_consistent() {
        let a = Catalog::generate();
        let b = Catalog::generate();
        assert!(a.tracks.len() >= 300, "{}", a.tracks.len());
        assert_eq!(a.tracks[17].id, b.tracks[17].id);
        assert_eq!(a.tracks[17].name, b.tracks[17].name);
        for (i, track) in a.tracks.iter().enumerate() {
            assert_eq!(a.track_by_id(&track.id), Some(i));
            assert!(a.albums[track.album].tracks.contains(&i));
            assert!((140_000..=330_000).contains(&track.duration_ms));
        }
        let ids: HashSet<_> = a.tracks.iter().map(|t| &t.id).collect();
        assert_eq!(ids.len(), a.tracks.len());
    }

    #[test]
    fn search_matches_every_word() {
        let catalog = Catalog::generate();
        let track = &catalog.tracks[42];
        let artist = &catalog.artists[track.artists[0]].name;
        let hits = catalog.search(&format!(
            "{} artist:{}",
            track.name,
            artist.split(' ').next_back().unwrap_or("")
        ));
        assert!(hits.contains(&42));
        assert!(catalog.search("zzzz-nothing").is_empty());
    }
}
