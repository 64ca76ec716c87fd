//! Per-session settings the host chooses.

use serde::{Deserialize, Serialize};

use crate::permission::{GuestControlsPatch, Permissions};

/// Members a session holds unless configured otherwise.
pub const DEFAULT_CAPACITY: usize = 50;

/// How `start` (and `reshuffle`) order the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ShuffleMode {
    /// Round-robin over members, so everyone's tracks come up evenly (see [`crate::shuffle`]).
    #[default]
    Fair,
    /// All tracks deduplicated and shuffled uniformly, as the original SpotSesh did.
    Random,
}

/// How the upcoming queue is ordered while the session plays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum QueueOrder {
    /// Round-robin by member over everyone's upcoming entries, top tracks and added alike:
    /// an added entry goes to the end of its owner's next round, so nobody gets two in a row
    /// while others wait.
    #[default]
    Fair,
    /// Net votes first, then the time added (entry ids grow with time). Adding counts as
    /// the adder's up vote.
    Votes,
}

/// Default of [`Settings::max_queued_per_member`].
pub const DEFAULT_MAX_QUEUED_PER_MEMBER: u32 = 3;
/// Default of [`Settings::max_track_ms`]: ten minutes.
pub const DEFAULT_MAX_TRACK_MS: u32 = 600_000;
/// Default of [`Settings::no_replay_plays`].
pub const DEFAULT_NO_REPLAY_PLAYS: u32 = 20;
/// The range of [`Settings::max_queued_per_member`].
pub const MAX_QUEUED_PER_MEMBER_RANGE: std::ops::RangeInclusive<u32> = 1..=50;
/// The range of [`Settings::max_track_ms`]: one minute to an hour.
pub const MAX_TRACK_MS_RANGE: std::ops::RangeInclusive<u32> = 60_000..=3_600_000;
/// The range of [`Settings::no_replay_plays`] (0: replays allowed).
pub const NO_REPLAY_PLAYS_RANGE: std::ops::RangeInclusive<u32> = 0..=1000;

/// A change of the settings a session's host makes live (`PATCH …/settings`): the queue's
/// rules and the guest controls. The fields given change, the others stay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct QueueSettingsPatch {
    /// Fair or votes.
    pub queue_order: Option<QueueOrder>,
    /// See [`Settings::max_queued_per_member`].
    pub max_queued_per_member: Option<u32>,
    /// See [`Settings::max_track_ms`].
    pub max_track_ms: Option<u32>,
    /// See [`Settings::no_replay_plays`].
    pub no_replay_plays: Option<u32>,
    /// See [`Settings::adding_locked`].
    pub adding_locked: Option<bool>,
    /// Switches of the guest controls ([`Settings::guest_permissions`]) to turn on or off.
    pub permissions: Option<GuestControlsPatch>,
}

/// Most characters in a [`SessionName`], after trimming.
pub const MAX_NAME_CHARS: usize = 60;

/// What the host calls the session ("Friday at Sam's"): trimmed, 1 to [`MAX_NAME_CHARS`]
/// characters, no control characters. "No name" is `Option::None`, never an empty name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
#[serde(try_from = "String", into = "String")]
pub struct SessionName(String);

/// Why a name is not a [`SessionName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionNameError {
    /// Nothing but white space.
    #[error("the name is empty")]
    Empty,
    /// Over [`MAX_NAME_CHARS`] characters after trimming.
    #[error("the name is longer than {MAX_NAME_CHARS} characters")]
    TooLong,
    /// A control character (a line break, a tab, …).
    #[error("the name contains a control character")]
    ControlCharacter,
}

impl SessionName {
    /// A name from what the host typed, trimmed; white space only is "no name" (`Ok(None)`).
    pub fn parse_optional(raw: &str) -> Result<Option<Self>, SessionNameError> {
        match Self::try_from(raw.to_owned()) {
            Err(SessionNameError::Empty) => Ok(None),
            other => other.map(Some),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SessionName {
    type Error = SessionNameError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let name = raw.trim();
        if name.is_empty() {
            Err(SessionNameError::Empty)
        } else if name.chars().count() > MAX_NAME_CHARS {
            Err(SessionNameError::TooLong)
        } else if name.chars().any(char::is_control) {
            Err(SessionNameError::ControlCharacter)
        } else if name.len() == raw.len() {
            Ok(Self(raw))
        } else {
            Ok(Self(name.to_owned()))
        }
    }
}

impl From<SessionName> for String {
    fn from(name: SessionName) -> Self {
        name.0
    }
}

impl std::fmt::Display for SessionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Settings of one session. Every field has a default, so settings stored before a field
/// existed still load; a value that is present must be valid (an unknown permission name
/// is an error, not a default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Settings {
    /// Most members at once, host included; a session clamps 0 up to 1.
    pub capacity: usize,
    /// How the queue is shuffled on start and reshuffle.
    pub shuffle_mode: ShuffleMode,
    /// What guests may do besides listening (the host and co-hosts may do all of it).
    pub guest_permissions: Permissions,
    /// What the host calls the session; `None`: no name (the pages say whose session it is).
    pub name: Option<SessionName>,
    /// How the upcoming queue is ordered.
    pub queue_order: QueueOrder,
    /// Most added entries a member (other than the host and co-hosts) may have waiting.
    pub max_queued_per_member: u32,
    /// Longest track that may be added.
    pub max_track_ms: u32,
    /// A track that played (or plays) within this many of the session's last plays may not
    /// be added again; 0 allows replays.
    pub no_replay_plays: u32,
    /// Only the host and co-hosts may add.
    pub adding_locked: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            capacity: DEFAULT_CAPACITY,
            shuffle_mode: ShuffleMode::Fair,
            guest_permissions: Permissions::GUEST_DEFAULT,
            name: None,
            queue_order: QueueOrder::Fair,
            max_queued_per_member: DEFAULT_MAX_QUEUED_PER_MEMBER,
            max_track_ms: DEFAULT_MAX_TRACK_MS,
            no_replay_plays: DEFAULT_NO_REPLAY_PLAYS,
            adding_locked: false,
        }
    }
}
