//! Player state, devices, the queue, and the body of a play command.

use serde::{Deserialize, Deserializer, Serialize};

use super::catalog::{ExternalUrls, PlayableItem};

/// A Spotify Connect device (`DeviceObject`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Device {
    /// Device id; may be null for some devices, which then cannot be targeted.
    #[serde(default)]
    pub id: Option<String>,
    /// Whether this is the currently active device.
    #[serde(default)]
    pub is_active: bool,
    /// Whether the device is in a private session.
    #[serde(default)]
    pub is_private_session: bool,
    /// Restricted devices accept no Web API commands.
    #[serde(default)]
    pub is_restricted: bool,
    /// Human-readable name, e.g. "Kitchen speaker".
    pub name: String,
    /// `Computer`, `Smartphone`, `Speaker`, ...
    #[serde(rename = "type", default)]
    pub device_type: String,
    /// Current volume (0–100), when the device reports one.
    #[serde(default)]
    pub volume_percent: Option<u32>,
    /// Whether `set_volume` works on it; devices that leave it out (older answers, such as
    /// the one inside the player state) are taken to support it.
    #[serde(default = "yes", deserialize_with = "true_unless_false")]
    pub supports_volume: bool,
}

fn yes() -> bool {
    true
}

/// `supports_volume`: only an explicit `false` is false.
fn true_unless_false<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(deserializer)?.unwrap_or(true))
}

/// A flag Spotify may send as `null`: null reads as false.
fn false_unless_true<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(deserializer)?.unwrap_or(false))
}

impl Device {
    /// Whether Sesh can send commands to this device.
    pub fn is_controllable(&self) -> bool {
        self.id.is_some() && !self.is_restricted
    }
}

/// `GET /v1/me/player/devices` answer.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Devices {
    /// Available devices, possibly none.
    #[serde(default)]
    pub devices: Vec<Device>,
}

/// What is being played from (an album, playlist, show, ...).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Context {
    /// `album`, `artist`, `playlist`, `show`, ...
    #[serde(rename = "type", default)]
    pub context_type: Option<String>,
    /// The context's uri.
    #[serde(default)]
    pub uri: Option<String>,
    /// API link.
    #[serde(default)]
    pub href: Option<String>,
    /// Link into the app.
    #[serde(default)]
    pub external_urls: ExternalUrls,
}

/// Repeat mode of the player: the `repeat_state` of [`PlaybackState`] and the `state` of
/// [`SpotifyClient::set_repeat`](crate::SpotifyClient::set_repeat).
///
/// Reading is tolerant: `null`, or a mode newer than this client, reads as [`RepeatState::Off`].
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum RepeatState {
    /// No repeat: playback stops after the last item.
    #[default]
    Off,
    /// Repeat the current track.
    Track,
    /// Repeat the current context (album, playlist, list of uris).
    Context,
}

impl RepeatState {
    /// Spotify's spelling: `off`, `track` or `context`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Track => "track",
            Self::Context => "context",
        }
    }
}

impl<'de> Deserialize<'de> for RepeatState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(
            match Option::<String>::deserialize(deserializer)?.as_deref() {
                Some("track") => Self::Track,
                Some("context") => Self::Context,
                _ => Self::Off,
            },
        )
    }
}

/// Player actions that are currently not allowed; absent means allowed.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct Disallows {
    /// Interrupting playback.
    pub interrupting_playback: bool,
    /// Pausing.
    pub pausing: bool,
    /// Resuming.
    pub resuming: bool,
    /// Seeking.
    pub seeking: bool,
    /// Skipping to the next item.
    pub skipping_next: bool,
    /// Skipping to the previous item.
    pub skipping_prev: bool,
    /// Toggling context repeat.
    pub toggling_repeat_context: bool,
    /// Toggling shuffle.
    pub toggling_shuffle: bool,
    /// Toggling track repeat.
    pub toggling_repeat_track: bool,
    /// Transferring playback.
    pub transferring_playback: bool,
}

/// The `actions` object of the player state.
///
/// Spotify sends `{"disallows": {...}}`; the OpenAPI spec describes the flags directly. Both
/// are accepted.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(from = "ActionsRepr")]
pub struct Actions {
    /// What the player does not allow right now.
    pub disallows: Disallows,
}

/// Both shapes of `actions` in one pass (an untagged enum would buffer the object to try
/// each): the flags of the `disallows` object when there is one, else the flags themselves.
#[derive(Default, Deserialize)]
#[serde(default)]
struct ActionsRepr {
    disallows: Option<Disallows>,
    interrupting_playback: bool,
    pausing: bool,
    resuming: bool,
    seeking: bool,
    skipping_next: bool,
    skipping_prev: bool,
    toggling_repeat_context: bool,
    toggling_shuffle: bool,
    toggling_repeat_track: bool,
    transferring_playback: bool,
}

impl From<ActionsRepr> for Actions {
    fn from(repr: ActionsRepr) -> Self {
        let disallows = repr.disallows.unwrap_or(Disallows {
            interrupting_playback: repr.interrupting_playback,
            pausing: repr.pausing,
            resuming: repr.resuming,
            seeking: repr.seeking,
            skipping_next: repr.skipping_next,
            skipping_prev: repr.skipping_prev,
            toggling_repeat_context: repr.toggling_repeat_context,
            toggling_shuffle: repr.toggling_shuffle,
            toggling_repeat_track: repr.toggling_repeat_track,
            transferring_playback: repr.transferring_playback,
        });
        Self { disallows }
    }
}

/// `GET /v1/me/player` answer (`CurrentlyPlayingContextObject`); the client returns `None`
/// for Spotify's 204 (nothing playing, no active device).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct PlaybackState {
    /// The active device.
    #[serde(default)]
    pub device: Option<Device>,
    /// Whether something is playing (false when paused).
    #[serde(default)]
    pub is_playing: bool,
    /// Position in the item, in milliseconds.
    #[serde(default)]
    pub progress_ms: Option<u32>,
    /// Unix milliseconds when Spotify took this snapshot.
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// The track or episode; `None` during ads, for unknown content, or between items.
    #[serde(default)]
    pub item: Option<PlayableItem>,
    /// `track`, `episode`, `ad` or `unknown`.
    #[serde(default)]
    pub currently_playing_type: Option<String>,
    /// What it plays from.
    #[serde(default)]
    pub context: Option<Context>,
    /// Whether shuffle is on; false when absent.
    #[serde(default, deserialize_with = "false_unless_true")]
    pub shuffle_state: bool,
    /// Whether Spotify's smart shuffle (shuffle with recommendations) is on; false when absent.
    #[serde(default, deserialize_with = "false_unless_true")]
    pub smart_shuffle: bool,
    /// Repeat mode; [`RepeatState::Off`] when absent.
    #[serde(default)]
    pub repeat_state: RepeatState,
    /// Actions currently not allowed.
    #[serde(default)]
    pub actions: Option<Actions>,
}

/// `GET /v1/me/player/currently-playing` answer (`CurrentlyPlayingObject`): the player state
/// without device, shuffle and repeat.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct CurrentlyPlaying {
    /// Whether something is playing.
    #[serde(default)]
    pub is_playing: bool,
    /// Position in the item, in milliseconds.
    #[serde(default)]
    pub progress_ms: Option<u32>,
    /// Unix milliseconds when Spotify took this snapshot.
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// The track or episode.
    #[serde(default)]
    pub item: Option<PlayableItem>,
    /// `track`, `episode`, `ad` or `unknown`.
    #[serde(default)]
    pub currently_playing_type: Option<String>,
    /// What it plays from.
    #[serde(default)]
    pub context: Option<Context>,
    /// Actions currently not allowed.
    #[serde(default)]
    pub actions: Option<Actions>,
}

/// `GET /v1/me/player/queue` answer.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Queue {
    /// What plays now.
    #[serde(default)]
    pub currently_playing: Option<PlayableItem>,
    /// What plays next, in order.
    #[serde(default)]
    pub queue: Vec<PlayableItem>,
}

/// Where in the context to start playing.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PlayOffset {
    /// Zero-based index into the context or `uris`.
    Position(u32),
    /// The uri of the item to start at.
    Uri(String),
}

/// Body of `PUT /v1/me/player/play`: a context or a list of uris; all empty resumes.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct PlayRequest {
    /// An album, artist or playlist uri to play.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_uri: Option<String>,
    /// Track uris to play, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uris: Option<Vec<String>>,
    /// Where to start within `context_uri` / `uris`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<PlayOffset>,
    /// Position within the first item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position_ms: Option<u32>,
}

impl PlayRequest {
    /// Resume whatever was paused.
    pub fn resume() -> Self {
        Self::default()
    }

    /// Play these track uris, starting with the first.
    pub fn uris(uris: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            uris: Some(uris.into_iter().map(Into::into).collect()),
            ..Self::default()
        }
    }
}
