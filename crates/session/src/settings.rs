//! Per-session settings the host chooses.

use serde::{Deserialize, Serialize};

use crate::permission::Permissions;

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

/// Settings of one session. Every field has a default, so settings stored before a field
/// existed still load; a value that is present must be valid (an unknown permission name
/// is an error, not a default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Settings {
    /// Most members at once, host included; a session clamps 0 up to 1.
    pub capacity: usize,
    /// How the queue is shuffled on start and reshuffle.
    pub shuffle_mode: ShuffleMode,
    /// What guests may do besides listening (the host and co-hosts may do all of it).
    pub guest_permissions: Permissions,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            capacity: DEFAULT_CAPACITY,
            shuffle_mode: ShuffleMode::Fair,
            guest_permissions: Permissions::GUEST_DEFAULT,
        }
    }
}
