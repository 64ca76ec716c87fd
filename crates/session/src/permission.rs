//! What the host may open to guests: [`Permission`] and the set of them, [`Permissions`].
//!
//! The host and co-hosts may always do these things; guests only when the session's
//! [`crate::Settings::guest_permissions`] hold the permission. Which actions need which
//! permission is [`crate::Action::requirement`].

use std::fmt;
use std::str::FromStr;

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// One thing a host may allow guests. Serialized in snake case (`"add_tracks"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Bring tracks into the queue.
    AddTracks,
    /// Vote on queue entries.
    Vote,
    /// Vote to skip the playing track.
    VoteSkip,
    /// Skip to the next or previous track outright.
    Skip,
    /// Play, pause and resume.
    PauseResume,
    /// Seek within the playing track.
    Seek,
    /// Change the volume.
    Volume,
    /// Write in the session's chat.
    Chat,
    /// See the invite link (to pass it on).
    ShowInvite,
    /// Spectators too may vote and vote to skip, as far as guests may.
    SpectatorsVote,
    /// Spectators too may search and add tracks, as far as guests may (their searches and
    /// adds use the host's Spotify login, under the per-member limits).
    SpectatorsAdd,
}

impl Permission {
    /// Every permission, in declaration order (the order [`Permissions`] lists them in).
    pub const ALL: [Permission; 11] = [
        Self::AddTracks,
        Self::Vote,
        Self::VoteSkip,
        Self::Skip,
        Self::PauseResume,
        Self::Seek,
        Self::Volume,
        Self::Chat,
        Self::ShowInvite,
        Self::SpectatorsVote,
        Self::SpectatorsAdd,
    ];

    /// The serialized name, e.g. `"vote_skip"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AddTracks => "add_tracks",
            Self::Vote => "vote",
            Self::VoteSkip => "vote_skip",
            Self::Skip => "skip",
            Self::PauseResume => "pause_resume",
            Self::Seek => "seek",
            Self::Volume => "volume",
            Self::Chat => "chat",
            Self::ShowInvite => "show_invite",
            Self::SpectatorsVote => "spectators_vote",
            Self::SpectatorsAdd => "spectators_add",
        }
    }

    /// The permission's name among the guest controls (`settings.permissions`, the
    /// `PATCH …/settings` body and a `forbidden` refusal): the short form the host's toggles
    /// use, e.g. `"add"` for [`Permission::AddTracks`] and `"pause"` for
    /// [`Permission::PauseResume`].
    pub const fn control_name(self) -> &'static str {
        match self {
            Self::AddTracks => "add",
            Self::PauseResume => "pause",
            other => other.as_str(),
        }
    }

    /// This permission's bit in [`Permissions`].
    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that names no [`Permission`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown permission `{0}`; expected one of add_tracks, vote, vote_skip, skip, pause_resume, seek, volume, chat, show_invite, spectators_vote, spectators_add"
)]
pub struct ParsePermissionError(pub String);

impl FromStr for Permission {
    type Err = ParsePermissionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| ParsePermissionError(text.to_owned()))
    }
}

/// A set of [`Permission`]s. Serialized as a JSON list of their names in declaration order
/// (`["add_tracks", "vote"]`); an unknown name fails to deserialize, a repeated one counts
/// once. `Default` is what guests get in a new session: [`Permissions::GUEST_DEFAULT`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = Vec<Permission>)
)]
pub struct Permissions(u16);

impl Permissions {
    /// Nothing allowed.
    pub const NONE: Permissions = Permissions(0);

    /// What guests may do unless the host decides otherwise: add tracks, vote, vote to
    /// skip, chat and share the invite; spectators may vote and chat too, but not add (their
    /// searches would spend the host's Spotify calls). Playback control stays with the host
    /// and co-hosts.
    pub const GUEST_DEFAULT: Permissions = Permissions(
        Permission::AddTracks.bit()
            | Permission::Vote.bit()
            | Permission::VoteSkip.bit()
            | Permission::Chat.bit()
            | Permission::ShowInvite.bit()
            | Permission::SpectatorsVote.bit(),
    );

    /// Every permission.
    pub fn all() -> Permissions {
        Permission::ALL.into_iter().collect()
    }

    /// Whether `permission` is in the set.
    pub const fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    /// Adds `permission`; whether it was missing.
    pub fn insert(&mut self, permission: Permission) -> bool {
        let missing = !self.contains(permission);
        self.0 |= permission.bit();
        missing
    }

    /// Takes `permission` out; whether it was there.
    pub fn remove(&mut self, permission: Permission) -> bool {
        let present = self.contains(permission);
        self.0 &= !permission.bit();
        present
    }

    /// The set with `permission` added.
    #[must_use]
    pub const fn with(self, permission: Permission) -> Permissions {
        Permissions(self.0 | permission.bit())
    }

    /// The set without `permission`.
    #[must_use]
    pub const fn without(self, permission: Permission) -> Permissions {
        Permissions(self.0 & !permission.bit())
    }

    /// Whether nothing is allowed.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The permissions in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |&p| self.contains(p))
    }
}

impl Default for Permissions {
    fn default() -> Self {
        Self::GUEST_DEFAULT
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<Permission> for Permissions {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut set = Permissions::NONE;
        for permission in iter {
            set.insert(permission);
        }
        set
    }
}

impl Serialize for Permissions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.iter().count()))?;
        for permission in self.iter() {
            seq.serialize_element(&permission)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Permissions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct List;

        impl<'de> Visitor<'de> for List {
            type Value = Permissions;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of permission names")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Permissions, A::Error> {
                let mut set = Permissions::NONE;
                while let Some(permission) = seq.next_element::<Permission>()? {
                    set.insert(permission);
                }
                Ok(set)
            }
        }

        deserializer.deserialize_seq(List)
    }
}

/// Defines [`GuestControls`] and [`GuestControlsPatch`] with one field per [`Permission`],
/// named by [`Permission::control_name`], so the two cannot drift from the enum.
macro_rules! guest_controls {
    ($($field:ident => $permission:ident $(, alias $alias:literal)?;)*) => {
        /// What guests may do, one switch per [`Permission`] under its
        /// [`Permission::control_name`]: the `settings.permissions` of the session view.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct GuestControls {
            $(
                #[doc = concat!("Guests may `", stringify!($permission), "` (see [`Permission`]).")]
                pub $field: bool,
            )*
        }

        /// A change of the guest controls: the switches given change, the others stay. Each
        /// key is a [`Permission::control_name`] (the full permission name is accepted too);
        /// an unknown key is refused.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(deny_unknown_fields)]
        pub struct GuestControlsPatch {
            $(
                #[doc = concat!("Open or close `", stringify!($permission), "` to guests.")]
                #[serde(default, skip_serializing_if = "Option::is_none" $(, alias = $alias)?)]
                pub $field: Option<bool>,
            )*
        }

        impl From<Permissions> for GuestControls {
            fn from(set: Permissions) -> Self {
                Self { $($field: set.contains(Permission::$permission),)* }
            }
        }

        impl GuestControlsPatch {
            /// `set` with the switches of this patch applied.
            #[must_use]
            pub fn apply(&self, mut set: Permissions) -> Permissions {
                $(
                    match self.$field {
                        Some(true) => { set.insert(Permission::$permission); }
                        Some(false) => { set.remove(Permission::$permission); }
                        None => {}
                    }
                )*
                set
            }

            /// Whether the patch names no switch.
            pub fn is_empty(&self) -> bool {
                true $(&& self.$field.is_none())*
            }
        }
    };
}

guest_controls! {
    add => AddTracks, alias "add_tracks";
    vote => Vote;
    vote_skip => VoteSkip;
    skip => Skip;
    pause => PauseResume, alias "pause_resume";
    seek => Seek;
    volume => Volume;
    chat => Chat;
    show_invite => ShowInvite;
    spectators_vote => SpectatorsVote;
    spectators_add => SpectatorsAdd;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for permission in Permission::ALL {
            assert_eq!(permission.as_str().parse(), Ok(permission));
            let json = serde_json::to_string(&permission).unwrap();
            assert_eq!(json, format!("\"{}\"", permission.as_str()));
        }
        assert_eq!(
            "control".parse::<Permission>(),
            Err(ParsePermissionError("control".into()))
        );
        assert!(serde_json::from_str::<Permission>("\"Skip\"").is_err());
    }

    #[test]
    fn the_guest_controls_name_every_permission_by_its_control_name() {
        let all = serde_json::to_value(GuestControls::from(Permissions::all())).unwrap();
        let names: Vec<&str> = all
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected: Vec<&str> = Permission::ALL.iter().map(|p| p.control_name()).collect();
        expected.sort_unstable();
        let mut names = names;
        names.sort_unstable();
        assert_eq!(names, expected);
        assert!(all.as_object().unwrap().values().all(|v| v == true));
        let defaults = GuestControls::from(Permissions::GUEST_DEFAULT);
        assert!(
            defaults.add && defaults.vote && defaults.chat && !defaults.pause && !defaults.skip
        );
    }

    #[test]
    fn a_controls_patch_changes_only_what_it_names() {
        let patch: GuestControlsPatch =
            serde_json::from_str(r#"{"pause": true, "add": false}"#).unwrap();
        let set = patch.apply(Permissions::GUEST_DEFAULT);
        assert!(set.contains(Permission::PauseResume));
        assert!(!set.contains(Permission::AddTracks));
        assert_eq!(
            set.without(Permission::PauseResume)
                .with(Permission::AddTracks),
            Permissions::GUEST_DEFAULT
        );
        let long: GuestControlsPatch =
            serde_json::from_str(r#"{"pause_resume": true, "add_tracks": false}"#).unwrap();
        assert_eq!(long, patch);
        assert!(serde_json::from_str::<GuestControlsPatch>(r#"{"teleport": true}"#).is_err());
        assert!(serde_json::from_str::<GuestControlsPatch>(r#"{"pause": 1}"#).is_err());
        assert!(GuestControlsPatch::default().is_empty());
        assert!(!patch.is_empty());
    }

    #[test]
    fn a_set_is_a_list_of_names() {
        let set = Permissions::NONE
            .with(Permission::Seek)
            .with(Permission::AddTracks);
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["add_tracks","seek"]"#);
        let back: Permissions = serde_json::from_str(r#"["seek","add_tracks","seek"]"#).unwrap();
        assert_eq!(back, set);
        assert!(serde_json::from_str::<Permissions>(r#"["seek","teleport"]"#).is_err());
        assert_eq!(
            Permissions::default().iter().collect::<Vec<_>>(),
            [
                Permission::AddTracks,
                Permission::Vote,
                Permission::VoteSkip,
                Permission::Chat,
                Permission::ShowInvite,
                Permission::SpectatorsVote
            ]
        );
        assert_eq!(Permissions::all().iter().count(), Permission::ALL.len());
    }
}
