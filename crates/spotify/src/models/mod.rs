//! Typed Web API payloads. Deserialisation is tolerant: unknown fields are ignored and the
//! fields Spotify has deprecated (and stopped sending to new apps) are optional.

mod catalog;
mod player;
mod playlist;
mod user;

pub use catalog::{
    Album, Artist, CountryCode, Episode, ExternalUrls, Image, Market, Paging, PlayableItem,
    SearchResults, Show, TimeRange, Track, TrackLink,
};
pub use player::{
    Actions, Context, CurrentlyPlaying, Device, Devices, Disallows, PlayOffset, PlayRequest,
    PlaybackState, Queue, RepeatState,
};
pub(crate) use playlist::SnapshotAnswer;
pub use playlist::{
    AddPlaylistItems, CreatePlaylist, Playlist, PlaylistItemsRef, PlaylistOwner, SnapshotId,
};
pub use user::{Followers, User};
