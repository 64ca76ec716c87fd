//! What a member may try to do ([`Action`]) and the one table that says who may
//! ([`Action::requirement`]). [`crate::Session::authorize`] applies it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::member::Role;
use crate::permission::{Permission, Permissions};

/// Something a user may try to do; [`Action::requirement`] says who may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// See the session's state (snapshot, WebSocket).
    View,
    /// Leave the session.
    Leave,
    /// Replace one's own top tracks (nobody may set another's).
    SetOwnTopTracks,
    /// Start playing.
    Start,
    /// Play, pause or resume.
    PauseResume,
    /// Skip to the next or previous track.
    Skip,
    /// Seek within the playing track.
    Seek,
    /// Change the volume.
    Volume,
    /// Change the repeat mode.
    Repeat,
    /// Move playback to another of the host's devices.
    Transfer,
    /// Re-draw the order of the upcoming entries.
    Reshuffle,
    /// Remove a member (guests only, unless the host does it).
    Kick,
    /// End the session.
    End,
    /// Hand the host role to another member.
    TransferHost,
    /// Make a member a co-host or a guest again.
    SetRole,
    /// Choose what guests may do.
    SetPermissions,
    /// Choose the shuffle mode.
    SetShuffleMode,
    /// Issue a new invite code.
    RotateInvite,
    /// Let a kicked user join again.
    Unban,
    /// Take an upcoming entry out of the queue (or one's own credit from it).
    RemoveEntry,
    /// Name the session (or take its name away).
    RenameSession,
    /// Search Spotify's catalogue for tracks to add (costs a Spotify call).
    Search,
    /// Add a track to the queue (the transition adds the host's limits on top).
    AddTrack,
    /// Vote an upcoming entry up or down.
    Vote,
    /// Vote to skip the playing track.
    VoteSkip,
    /// Remove every upcoming entry of a track and refuse it from then on.
    BanTrack,
    /// Change the queue's order, the limits on adding, and the lock.
    SetQueueSettings,
    /// Create, list and revoke the session's display keys.
    ManageDisplays,
    /// Write in the chat, and react to its messages and to the playing track.
    Chat,
    /// Delete anyone's chat message.
    DeleteChat,
    /// Mute a guest in the chat, or unmute them.
    Mute,
    /// Hear the session on one's own Spotify device, in sync (listen along).
    ListenAlong,
}

/// Who may do an [`Action`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Requirement {
    /// Every member.
    AnyMember,
    /// Every member but the host, whose device plays the session already. (Members who
    /// cannot play Spotify at all belong here as the ones refused, when such a role exists.)
    Listener,
    /// The host and co-hosts.
    Moderator,
    /// The host alone.
    Host,
    /// The host and co-hosts always; guests when the session's guest permissions hold
    /// this permission; spectators when, on top, it is one they may be given (chat, the
    /// invite, votes with [`Permission::SpectatorsVote`], adds with
    /// [`Permission::SpectatorsAdd`]).
    Guests(Permission),
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 32] = [
        Self::View,
        Self::Leave,
        Self::SetOwnTopTracks,
        Self::Start,
        Self::PauseResume,
        Self::Skip,
        Self::Seek,
        Self::Volume,
        Self::Repeat,
        Self::Transfer,
        Self::Reshuffle,
        Self::Kick,
        Self::End,
        Self::TransferHost,
        Self::SetRole,
        Self::SetPermissions,
        Self::SetShuffleMode,
        Self::RotateInvite,
        Self::Unban,
        Self::RemoveEntry,
        Self::RenameSession,
        Self::Search,
        Self::AddTrack,
        Self::Vote,
        Self::VoteSkip,
        Self::BanTrack,
        Self::SetQueueSettings,
        Self::ManageDisplays,
        Self::Chat,
        Self::DeleteChat,
        Self::Mute,
        Self::ListenAlong,
    ];

    /// The rule table: who may do this. Some transitions add a rule about the target on
    /// top (a co-host kicks guests only; a member may remove an entry only they brought).
    pub const fn requirement(self) -> Requirement {
        match self {
            Self::View | Self::Leave | Self::SetOwnTopTracks => Requirement::AnyMember,
            Self::ListenAlong => Requirement::Listener,
            Self::Start
            | Self::End
            | Self::TransferHost
            | Self::SetRole
            | Self::SetPermissions
            | Self::Transfer
            | Self::SetShuffleMode
            | Self::RenameSession
            | Self::SetQueueSettings
            | Self::ManageDisplays => Requirement::Host,
            Self::Kick
            | Self::Unban
            | Self::RotateInvite
            | Self::Repeat
            | Self::Reshuffle
            | Self::RemoveEntry
            | Self::BanTrack
            | Self::DeleteChat
            | Self::Mute => Requirement::Moderator,
            Self::Chat => Requirement::Guests(Permission::Chat),
            Self::Search | Self::AddTrack => Requirement::Guests(Permission::AddTracks),
            Self::Vote => Requirement::Guests(Permission::Vote),
            Self::VoteSkip => Requirement::Guests(Permission::VoteSkip),
            Self::Skip => Requirement::Guests(Permission::Skip),
            Self::PauseResume => Requirement::Guests(Permission::PauseResume),
            Self::Seek => Requirement::Guests(Permission::Seek),
            Self::Volume => Requirement::Guests(Permission::Volume),
        }
    }

    /// Whether a member with `role` may do this when guests hold `guest_permissions`;
    /// `Err` carries the permission a guest (or spectator) lacks, when one would allow it.
    pub(crate) fn check(
        self,
        role: Role,
        guest_permissions: Permissions,
    ) -> Result<(), Option<Permission>> {
        let granted = |permission: Permission| {
            if guest_permissions.contains(permission) {
                Ok(())
            } else {
                Err(Some(permission))
            }
        };
        match (self.requirement(), role) {
            (Requirement::AnyMember, _)
            | (Requirement::Listener, Role::CoHost | Role::Guest)
            | (Requirement::Host, Role::Host)
            | (Requirement::Moderator | Requirement::Guests(_), Role::Host | Role::CoHost) => {
                Ok(())
            }
            (Requirement::Guests(permission), Role::Guest) => granted(permission),
            (Requirement::Guests(permission), Role::Spectator) => {
                match spectators_also_need(permission) {
                    Some(Some(also)) => granted(permission).and(granted(also)),
                    Some(None) => granted(permission),
                    None => Err(None),
                }
            }
            (Requirement::Host, Role::CoHost | Role::Guest | Role::Spectator)
            | (Requirement::Listener, Role::Host | Role::Spectator)
            | (Requirement::Moderator, Role::Guest | Role::Spectator) => Err(None),
        }
    }
}

/// What a spectator needs on top of a guest permission: `None` for one they can never have
/// (playback control: they have no seat at the host's player), `Some(None)` for one they get
/// as guests do, `Some(Some(p))` for one that also takes the spectators' switch `p`.
const fn spectators_also_need(permission: Permission) -> Option<Option<Permission>> {
    match permission {
        Permission::Chat | Permission::ShowInvite => Some(None),
        Permission::Vote | Permission::VoteSkip => Some(Some(Permission::SpectatorsVote)),
        Permission::AddTracks => Some(Some(Permission::SpectatorsAdd)),
        Permission::Skip
        | Permission::PauseResume
        | Permission::Seek
        | Permission::Volume
        | Permission::SpectatorsVote
        | Permission::SpectatorsAdd => None,
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::View => "view the session",
            Self::Leave => "leave",
            Self::SetOwnTopTracks => "set top tracks",
            Self::Start => "start the session",
            Self::PauseResume => "play or pause",
            Self::Skip => "skip tracks",
            Self::Seek => "seek",
            Self::Volume => "change the volume",
            Self::Repeat => "change the repeat mode",
            Self::Transfer => "move playback to another device",
            Self::Reshuffle => "reshuffle the queue",
            Self::Kick => "kick members",
            Self::End => "end the session",
            Self::TransferHost => "hand over the host role",
            Self::SetRole => "change members' roles",
            Self::SetPermissions => "change what guests may do",
            Self::Unban => "let kicked members back in",
            Self::SetShuffleMode => "change the shuffle mode",
            Self::RotateInvite => "issue a new invite",
            Self::RemoveEntry => "remove this queue entry",
            Self::RenameSession => "name the session",
            Self::Search => "search for tracks",
            Self::AddTrack => "add tracks",
            Self::Vote => "vote on the queue",
            Self::VoteSkip => "vote to skip",
            Self::BanTrack => "ban tracks",
            Self::SetQueueSettings => "change the queue settings",
            Self::ManageDisplays => "manage the displays",
            Self::Chat => "chat",
            Self::DeleteChat => "delete chat messages",
            Self::Mute => "mute members",
            Self::ListenAlong => "listen along on your own device",
        })
    }
}
