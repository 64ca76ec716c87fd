//! The transitions about members, roles and settings (the queue's are in `playback.rs`).
//! Each either applies completely and returns the events to fan out, or refuses with a
//! [`SessionError`] and leaves the session untouched.
//!
//! Checks run in one order everywhere, so the same situation always gives the same
//! error: ended → actor not a member → not allowed ([`Session::authorize`]) → wrong
//! state → bad target.

use std::sync::Arc;

use rand::Rng;

use super::{Action, Session, SessionState, member_from};
use crate::error::SessionError;
use crate::event::{Event, LeaveReason};
use crate::ids::UserId;
use crate::invite::InviteCode;
use crate::member::{NewMember, Role};
use crate::permission::Permissions;
use crate::settings::{SessionName, ShuffleMode};
use crate::shuffle;
use crate::track::Track;

/// Why a spectator is refused the host role.
const SPECTATORS_CANNOT_HOST: &str = "a spectator has no Spotify account to host the session with";

impl Session {
    /// Adds a member as a guest.
    ///
    /// Idempotent: an existing member joining again changes nothing and gets no events.
    /// Refused when the session has ended, the user was kicked (`banned`) or it is full.
    /// While playing, the newcomer's tracks are woven into the unplayed part of the queue
    /// ([`shuffle::merge_late_joiner`]): `member_joined` is followed by the
    /// `entry_updated` and `entry_added` events of that.
    pub fn join<R: Rng + ?Sized>(
        &mut self,
        member: NewMember,
        now_ms: i64,
        rng: &mut R,
    ) -> Result<Vec<Event>, SessionError> {
        self.admit(&member)?;
        if self.is_member(&member.user_id) {
            return Ok(Vec::new());
        }
        let member = member_from(member, Role::Guest, now_ms);
        let mut events = vec![Event::MemberJoined {
            member: member.clone(),
        }];
        if self.state == SessionState::Playing {
            let weave = shuffle::merge_late_joiner(&self.queue, self.position, &member, rng);
            self.apply_weave(&member.user_id, weave, &mut events);
        }
        self.members.push(member);
        Ok(events)
    }

    /// Adds a spectator: a member without a Spotify account ([`Role::Spectator`]), who
    /// brings no tracks (any given are dropped). The same refusals as [`Session::join`];
    /// joining again changes nothing.
    pub fn join_spectator(
        &mut self,
        mut member: NewMember,
        now_ms: i64,
    ) -> Result<Vec<Event>, SessionError> {
        self.admit(&member)?;
        if self.is_member(&member.user_id) {
            return Ok(Vec::new());
        }
        member.top_tracks.clear();
        let member = member_from(member, Role::Spectator, now_ms);
        self.members.push(member.clone());
        Ok(vec![Event::MemberJoined { member }])
    }

    /// Whether `member` may come in: the session is live, they were not kicked, and it has
    /// room (someone already in always may).
    fn admit(&self, member: &NewMember) -> Result<(), SessionError> {
        self.ensure_not_ended()?;
        if self.is_member(&member.user_id) {
            return Ok(());
        }
        if self.is_banned(&member.user_id) {
            return Err(SessionError::Banned {
                user: member.user_id.clone(),
            });
        }
        if self.members.len() >= self.settings.capacity {
            return Err(SessionError::SessionFull {
                capacity: self.settings.capacity,
            });
        }
        Ok(())
    }

    /// Removes a member who leaves by themself. Their tracks stay in the queue.
    ///
    /// When the host leaves, a successor becomes host (`host_changed`): the co-host who
    /// joined earliest (`joined_at_ms`, then join order) if there is one, else the member
    /// who joined earliest; never a spectator. When the last member with a Spotify account
    /// leaves, the session ends (`session_ended`): spectators cannot host it.
    pub fn leave(&mut self, user: &UserId) -> Result<Vec<Event>, SessionError> {
        self.authorize(user, Action::Leave)?;
        let index = self.index_of(user)?;
        self.members.remove(index);
        let mut events = vec![Event::MemberLeft {
            user_id: user.clone(),
            reason: LeaveReason::Left,
        }];
        if self.members.iter().all(|m| m.is_spectator()) {
            self.finish();
            events.push(Event::SessionEnded);
        } else if &self.host == user {
            // `min_by_key` keeps the first of equal keys, so ties go by join order; guests
            // sort after every co-host.
            let successor = self
                .members
                .iter_mut()
                .filter(|m| !m.is_spectator())
                .min_by_key(|m| (m.role != Role::CoHost, m.joined_at_ms));
            if let Some(successor) = successor {
                successor.role = Role::Host;
                self.host = successor.user_id.clone();
                events.push(Event::HostChanged {
                    host: self.host.clone(),
                });
                let host = self.host.clone();
                self.lift_mute(&host, &mut events);
            }
        }
        Ok(events)
    }

    /// The host or a co-host removes another member, who then cannot rejoin (whatever the
    /// invite code) until let back in ([`Session::unban`]). Co-hosts may kick guests only;
    /// the host may kick anyone but themself. Their tracks stay in the queue.
    pub fn kick(&mut self, actor: &UserId, target: &UserId) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::Kick)?;
        if actor == target {
            return Err(SessionError::InvalidTarget {
                reason: "nobody can kick themself; leave instead",
            });
        }
        let index = self.index_of(target)?;
        let actor_is_host = &self.host == actor;
        if !actor_is_host && self.members.get(index).is_some_and(|m| m.is_moderator()) {
            return Err(SessionError::InvalidTarget {
                reason: "only the host can kick the host or a co-host",
            });
        }
        let kicked = self.members.remove(index);
        self.banned.insert(kicked.user_id, kicked.display_name);
        Ok(vec![Event::MemberLeft {
            user_id: target.clone(),
            reason: LeaveReason::Kicked,
        }])
    }

    /// The host hands the host role to another member. The old host becomes a guest; a
    /// co-host who becomes host is no longer a co-host. Other co-hosts stay co-hosts.
    pub fn transfer_host(
        &mut self,
        actor: &UserId,
        to: &UserId,
    ) -> Result<Vec<Event>, SessionError> {
        self.check_transfer_host(actor, to)?;
        Ok(self.make_host(to))
    }

    /// Whether `actor` may hand the host role to `to` now ([`Session::transfer_host`]'s
    /// checks, changing nothing): the gateway asks before it moves the music to `to`'s device.
    pub fn check_transfer_host(&self, actor: &UserId, to: &UserId) -> Result<(), SessionError> {
        self.authorize(actor, Action::TransferHost)?;
        if actor == to {
            return Err(SessionError::InvalidTarget {
                reason: "this member is already the host",
            });
        }
        let index = self.index_of(to)?;
        if self.members.get(index).is_some_and(|m| m.is_spectator()) {
            return Err(SessionError::InvalidTarget {
                reason: SPECTATORS_CANNOT_HOST,
            });
        }
        Ok(())
    }

    /// A member takes the host role over from a host who is gone: the gateway says so
    /// (`host_gone`: disconnected longer than it waits, and no co-host could take over).
    /// Otherwise only the host hands the role on (`forbidden`).
    pub fn claim_host(
        &mut self,
        actor: &UserId,
        host_gone: bool,
    ) -> Result<Vec<Event>, SessionError> {
        self.check_claim_host(actor, host_gone)?;
        Ok(self.make_host(actor))
    }

    /// [`Session::claim_host`]'s checks, changing nothing.
    pub fn check_claim_host(&self, actor: &UserId, host_gone: bool) -> Result<(), SessionError> {
        self.authorize(actor, Action::View)?;
        if self.host == *actor {
            return Err(SessionError::InvalidTarget {
                reason: "this member is already the host",
            });
        }
        if self.member(actor).is_some_and(|m| m.is_spectator()) {
            return Err(SessionError::InvalidTarget {
                reason: SPECTATORS_CANNOT_HOST,
            });
        }
        if !host_gone {
            return Err(SessionError::Forbidden {
                action: Action::TransferHost,
                permission: None,
            });
        }
        Ok(())
    }

    /// Who succeeds a host who is gone: the longest-serving co-host (the earliest to join).
    pub fn successor(&self) -> Option<&crate::member::Member> {
        self.members
            .iter()
            .filter(|m| m.role == Role::CoHost)
            .min_by_key(|m| m.joined_at_ms)
    }

    /// `to` (a member) is the host from now on; the previous host, if still a member, a guest.
    fn make_host(&mut self, to: &UserId) -> Vec<Event> {
        for member in &mut self.members {
            if member.is_host() {
                member.role = Role::Guest;
            }
            if member.user_id == *to {
                member.role = Role::Host;
            }
        }
        self.host = to.clone();
        let mut events = vec![Event::HostChanged { host: to.clone() }];
        self.lift_mute(to, &mut events);
        events
    }

    /// The host makes a member a co-host or a guest again (`role_changed`). The host role
    /// itself moves only with [`Session::transfer_host`], so `Role::Host` is refused, as is
    /// the host changing their own role. The same role again gives no events.
    pub fn set_role(
        &mut self,
        actor: &UserId,
        target: &UserId,
        role: Role,
    ) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::SetRole)?;
        if role == Role::Host {
            return Err(SessionError::InvalidTarget {
                reason: "use transfer_host to make someone the host",
            });
        }
        if role == Role::Spectator {
            return Err(SessionError::InvalidTarget {
                reason: "a member with a Spotify account cannot be made a spectator",
            });
        }
        if actor == target {
            return Err(SessionError::InvalidTarget {
                reason: "the host cannot change their own role; hand over the host role instead",
            });
        }
        let index = self.index_of(target)?;
        let Some(member) = self.members.get_mut(index) else {
            return Err(SessionError::NotAMember {
                user: target.clone(),
            });
        };
        if member.is_spectator() {
            return Err(SessionError::InvalidTarget {
                reason: "a spectator has no Spotify account to run the session with",
            });
        }
        if member.role == role {
            return Ok(Vec::new());
        }
        member.role = role;
        let mut events = vec![Event::RoleChanged {
            user_id: target.clone(),
            role,
        }];
        self.lift_mute(target, &mut events);
        Ok(events)
    }

    /// The host chooses what guests may do (`settings_changed`); unchanged, no events.
    pub fn set_guest_permissions(
        &mut self,
        actor: &UserId,
        permissions: Permissions,
    ) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::SetPermissions)?;
        if self.settings.guest_permissions == permissions {
            return Ok(Vec::new());
        }
        self.settings.guest_permissions = permissions;
        Ok(vec![Event::SettingsChanged {
            settings: self.settings.clone(),
        }])
    }

    /// A member replaces their own top tracks (nobody may set another's). Only the first
    /// [`shuffle::TRACKS_PER_MEMBER`] distinct tracks are kept. No change, no events.
    /// While playing, new tracks are woven into the unplayed part of the queue as for a
    /// late joiner, so a member whose tracks arrive after joining is not left out:
    /// `member_updated` is followed by the `entry_updated` and `entry_added` events of that.
    pub fn set_top_tracks<R: Rng + ?Sized>(
        &mut self,
        actor: &UserId,
        user: &UserId,
        tracks: Vec<Arc<Track>>,
        rng: &mut R,
    ) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::SetOwnTopTracks)?;
        if actor != user {
            return Err(SessionError::Forbidden {
                action: Action::SetOwnTopTracks,
                permission: None,
            });
        }
        let index = self.index_of(user)?;
        let tracks: Vec<Arc<Track>> = shuffle::counted_tracks(&tracks)
            .into_iter()
            .cloned()
            .collect();
        let Some(member) = self.members.get_mut(index) else {
            return Err(SessionError::NotAMember { user: user.clone() });
        };
        if member.top_tracks == tracks {
            return Ok(Vec::new());
        }
        member.top_tracks = tracks;
        let member = member.clone();
        let mut events = vec![Event::MemberUpdated {
            member: member.clone(),
        }];
        if self.state == SessionState::Playing {
            let weave = shuffle::merge_late_joiner(&self.queue, self.position, &member, rng);
            self.apply_weave(&member.user_id, weave, &mut events);
        }
        Ok(events)
    }

    /// The host ends the session, from the lobby or while playing. The queue is kept as
    /// a record of what played.
    pub fn end(&mut self, actor: &UserId) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::End)?;
        self.finish();
        Ok(vec![Event::SessionEnded])
    }

    /// Ends a session nobody used for the gateway's idle time (no actor: the gateway's
    /// lifecycle decides when). The queue is kept as a record of what played.
    pub fn end_idle(&mut self) -> Result<Vec<Event>, SessionError> {
        if self.state == SessionState::Ended {
            return Err(SessionError::SessionEnded);
        }
        self.finish();
        Ok(vec![Event::SessionEnded])
    }

    /// The host picks how `start` shuffles; only in the lobby (once playing, `reshuffle`
    /// uses the mode the session started with). The same mode again gives no events.
    pub fn set_shuffle_mode(
        &mut self,
        actor: &UserId,
        mode: ShuffleMode,
    ) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::SetShuffleMode)?;
        if self.state == SessionState::Playing {
            return Err(SessionError::AlreadyStarted);
        }
        if self.settings.shuffle_mode == mode {
            return Ok(Vec::new());
        }
        self.settings.shuffle_mode = mode;
        Ok(vec![Event::SettingsChanged {
            settings: self.settings.clone(),
        }])
    }

    /// The host names the session, or takes its name away (`None`); unchanged, no events.
    pub fn set_name(
        &mut self,
        actor: &UserId,
        name: Option<SessionName>,
    ) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::RenameSession)?;
        if self.settings.name == name {
            return Ok(Vec::new());
        }
        self.settings.name = name;
        Ok(vec![Event::SettingsChanged {
            settings: self.settings.clone(),
        }])
    }

    /// The host or a co-host replaces the invite code (the old link stops working once the
    /// gateway looks codes up by the new one). Kick bans stay: only [`Session::unban`]
    /// lifts one.
    pub fn rotate_invite(
        &mut self,
        actor: &UserId,
        code: InviteCode,
    ) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::RotateInvite)?;
        self.invite_code = code;
        // Bans stay: revoking a leaked link must not let back in the people who were kicked.
        Ok(vec![Event::InviteRotated])
    }

    /// The host or a co-host lets a kicked user join again (with the current invite).
    pub fn unban(&mut self, actor: &UserId, target: &UserId) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::Unban)?;
        if self.banned.remove(target).is_none() {
            return Err(SessionError::InvalidTarget {
                reason: "this user is not banned from the session",
            });
        }
        Ok(vec![Event::MemberUnbanned {
            user_id: target.clone(),
        }])
    }

    pub(super) fn index_of(&self, user: &UserId) -> Result<usize, SessionError> {
        self.members
            .iter()
            .position(|m| &m.user_id == user)
            .ok_or_else(|| SessionError::NotAMember { user: user.clone() })
    }
}
