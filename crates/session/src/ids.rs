//! Identifier newtypes, so a user id can never be passed where a track id belongs.
//!
//! `FromStr` validates untrusted text (a path segment, a form field); `new`, `From` and
//! serde trust their source (Spotify's JSON, our own database), because re-validating
//! what Spotify sent would only turn its quirks into outages.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest identifier we accept from untrusted text; Spotify's are far shorter.
pub const MAX_ID_LEN: usize = 256;

/// Why a piece of text is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseIdError {
    /// The text was empty.
    #[error("{kind} must not be empty")]
    Empty {
        /// Which identifier was being parsed.
        kind: &'static str,
    },
    /// The text was longer than [`MAX_ID_LEN`] bytes.
    #[error("{kind} is longer than {MAX_ID_LEN} bytes")]
    TooLong {
        /// Which identifier was being parsed.
        kind: &'static str,
    },
    /// The text contained whitespace, a control character or (for track ids) a `:`.
    #[error("{kind} contains a character that is not allowed here")]
    InvalidCharacter {
        /// Which identifier was being parsed.
        kind: &'static str,
    },
    /// The text did not start with `spotify:track:`.
    #[error("not a track URI; expected `spotify:track:<id>`")]
    NotATrackUri,
    /// The text was not a UUID.
    #[error("not a session id (expected a UUID): {0}")]
    SessionId(#[from] uuid::Error),
}

/// Checks untrusted text for a string identifier; `allow_colon` is false for ids that
/// end up inside a `spotify:…:<id>` URI.
fn check(kind: &'static str, text: &str, allow_colon: bool) -> Result<(), ParseIdError> {
    if text.is_empty() {
        return Err(ParseIdError::Empty { kind });
    }
    if text.len() > MAX_ID_LEN {
        return Err(ParseIdError::TooLong { kind });
    }
    let bad = |c: char| c.is_whitespace() || c.is_control() || (!allow_colon && c == ':');
    if text.chars().any(bad) {
        return Err(ParseIdError::InvalidCharacter { kind });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal, allow_colon = $allow_colon:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value from a trusted source without checking it (see the module docs).
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The identifier as an owned `String`.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                check($kind, text, $allow_colon)?;
                Ok(Self(text.to_owned()))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A Spotify user id (the `id` of `GET /v1/me`).
    UserId,
    "user id",
    allow_colon = true
);
string_id!(
    /// A Spotify track id (base62 on the real service; opaque to us).
    TrackId,
    "track id",
    allow_colon = false
);
string_id!(
    /// A Spotify Connect device id, where the session plays.
    DeviceId,
    "device id",
    allow_colon = true
);

/// Identifies one session; random (UUID v4) so ids reveal nothing and cannot be guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct SessionId(Uuid);

impl SessionId {
    /// A fresh random id.
    pub fn new_v4() -> Self {
        Self(Uuid::new_v4())
    }

    /// Wraps an existing UUID (e.g. read back from the database).
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hyphenated lower case, the form used in URLs.
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for SessionId {
    type Err = ParseIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self(Uuid::parse_str(text)?))
    }
}

/// Identifies one entry of a session's queue, unique within the session and never reused
/// (a track may be queued more than once; each time is its own entry). The session hands
/// them out in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct QueueEntryId(u64);

impl QueueEntryId {
    /// Wraps a stored number (the session numbers new entries itself).
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// The number inside.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for QueueEntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

const TRACK_URI_PREFIX: &str = "spotify:track:";

/// A Spotify track URI, always of the form `spotify:track:<id>`; what the player API takes.
///
/// Unlike the plain string ids this one is validated on every way in (including serde),
/// so [`TrackUri::track_id`] can never fail.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct TrackUri(String);

impl TrackUri {
    /// The URI of a track id.
    pub fn for_track(id: &TrackId) -> Self {
        Self(format!("{TRACK_URI_PREFIX}{}", id.as_str()))
    }

    /// The URI as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The track id inside the URI.
    pub fn track_id(&self) -> TrackId {
        TrackId::new(self.0.get(TRACK_URI_PREFIX.len()..).unwrap_or_default())
    }
}

impl fmt::Display for TrackUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TrackUri {
    type Err = ParseIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let id = text
            .strip_prefix(TRACK_URI_PREFIX)
            .ok_or(ParseIdError::NotATrackUri)?;
        check("track id", id, false)?;
        Ok(Self(text.to_owned()))
    }
}

impl TryFrom<String> for TrackUri {
    type Error = ParseIdError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<TrackUri> for String {
    fn from(uri: TrackUri) -> Self {
        uri.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_uri_round_trips_and_rejects_other_uris() {
        let id = TrackId::new("4uLU6hMCjMI75M1A2tKUQC");
        let uri = TrackUri::for_track(&id);
        assert_eq!(uri.as_str(), "spotify:track:4uLU6hMCjMI75M1A2tKUQC");
        assert_eq!(uri.track_id(), id);
        assert_eq!(uri.as_str().parse::<TrackUri>(), Ok(uri.clone()));
        assert_eq!(
            "spotify:album:x".parse::<TrackUri>(),
            Err(ParseIdError::NotATrackUri)
        );
        assert!(matches!(
            "spotify:track:a:b".parse::<TrackUri>(),
            Err(ParseIdError::InvalidCharacter { .. })
        ));
        assert!(serde_json::from_str::<TrackUri>("\"spotify:track:\"").is_err());
    }

    #[test]
    fn string_ids_validate_untrusted_text() {
        assert_eq!("alice".parse::<UserId>(), Ok(UserId::new("alice")));
        assert_eq!(
            "".parse::<UserId>(),
            Err(ParseIdError::Empty { kind: "user id" })
        );
        assert!(matches!(
            "a b".parse::<DeviceId>(),
            Err(ParseIdError::InvalidCharacter { .. })
        ));
        assert!(matches!(
            "x".repeat(MAX_ID_LEN + 1).parse::<TrackId>(),
            Err(ParseIdError::TooLong { .. })
        ));
        assert_eq!(
            serde_json::to_string(&UserId::new("bob")).unwrap(),
            "\"bob\""
        );
    }

    #[test]
    fn session_id_parses_its_own_display() {
        let id = SessionId::new_v4();
        assert_eq!(id.to_string().parse::<SessionId>(), Ok(id));
        assert_eq!(id.as_uuid().get_version_num(), 4);
        assert!(matches!(
            "not-a-uuid".parse::<SessionId>(),
            Err(ParseIdError::SessionId(_))
        ));
    }
}
