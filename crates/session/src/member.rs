//! Members of a session and their role.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::track::Track;

/// What a member may do: the host controls the session, co-hosts help run it, guests
/// listen (and do what the host opens to them, see [`crate::Permissions`]), spectators
/// follow without a Spotify account. Serialized as `"host"`, `"co_host"`, `"guest"`,
/// `"spectator"`; any other text is refused, never read as a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The one member who controls the session; it plays on their device.
    Host,
    /// A member the host made a moderator: may do what guests may, control playback, kick
    /// and unban guests, rotate the invite and manage the queue.
    CoHost,
    /// Everyone else with a Spotify account.
    Guest,
    /// Someone who joined with a display name and no Spotify login (the app's Spotify seats
    /// are taken, or their account is not on its allow-list): sees everything guests see, may
    /// chat, vote and add only as far as the host opens it to spectators too
    /// ([`crate::Permission::SpectatorsVote`], [`crate::Permission::SpectatorsAdd`]), never
    /// controls playback, never becomes host or co-host, and brings no top tracks.
    Spectator,
}

impl Role {
    /// The serialized name: `"host"`, `"co_host"` or `"guest"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::CoHost => "co_host",
            Self::Guest => "guest",
            Self::Spectator => "spectator",
        }
    }

    /// Whether this role moderates the session (the host and co-hosts).
    pub const fn is_moderator(self) -> bool {
        matches!(self, Self::Host | Self::CoHost)
    }

    /// Whether this role has a Spotify account behind it (everyone but spectators).
    pub const fn has_spotify(self) -> bool {
        !matches!(self, Self::Spectator)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that names no [`Role`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`; expected host, co_host, guest or spectator")]
pub struct ParseRoleError(pub String);

impl FromStr for Role {
    type Err = ParseRoleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "host" => Ok(Self::Host),
            "co_host" => Ok(Self::CoHost),
            "guest" => Ok(Self::Guest),
            "spectator" => Ok(Self::Spectator),
            _ => Err(ParseRoleError(text.to_owned())),
        }
    }
}

/// A member of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Their Spotify user id.
    pub user_id: UserId,
    /// The name shown to the others.
    pub display_name: String,
    /// Host, co-host, guest or spectator; exactly one member of a live session is the host.
    pub role: Role,
    /// When they joined (Unix ms); decides who succeeds a host who leaves.
    pub joined_at_ms: i64,
    /// Their top tracks; only the first [`crate::shuffle::TRACKS_PER_MEMBER`] distinct
    /// ones count, and the session stores no more than that.
    pub top_tracks: Vec<Arc<Track>>,
}

impl Member {
    /// Whether this member is the host.
    pub fn is_host(&self) -> bool {
        self.role == Role::Host
    }

    /// Whether this member is the host or a co-host.
    pub fn is_moderator(&self) -> bool {
        self.role.is_moderator()
    }

    /// Whether this member is a spectator (no Spotify account).
    pub fn is_spectator(&self) -> bool {
        self.role == Role::Spectator
    }
}

/// Someone about to join (or create) a session; the session assigns role and join time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMember {
    /// Their Spotify user id.
    pub user_id: UserId,
    /// The name shown to the others.
    pub display_name: String,
    /// Their top tracks, best first (may be empty and set later with `set_top_tracks`).
    pub top_tracks: Vec<Arc<Track>>,
}

impl NewMember {
    /// Bundles the three fields.
    pub fn new(
        user_id: UserId,
        display_name: impl Into<String>,
        top_tracks: Vec<Arc<Track>>,
    ) -> Self {
        Self {
            user_id,
            display_name: display_name.into(),
            top_tracks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_strictly() {
        for role in [Role::Host, Role::CoHost, Role::Guest, Role::Spectator] {
            assert_eq!(role.as_str().parse(), Ok(role));
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{role}\""));
        }
        assert_eq!("admin".parse::<Role>(), Err(ParseRoleError("admin".into())));
        assert!(serde_json::from_str::<Role>("\"cohost\"").is_err());
    }
}
