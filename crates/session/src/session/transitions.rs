//! The transitions of a session. Each either applies completely and returns the events
//! to fan out, or refuses with a [`SessionError`] and leaves the session untouched.
//!
//! Checks run in one order everywhere, so the same situation always gives the same
//! error: ended → actor not a member → not allowed → wrong state → bad target.

use std::sync::Arc;

use rand::Rng;

use super::{Action, Session, SessionState, member_from};
use crate::error::SessionError;
use crate::event::{Event, LeaveReason};
use crate::ids::{DeviceId, UserId};
use crate::invite::InviteCode;
use crate::member::{NewMember, Role};
use crate::settings::ShuffleMode;
use crate::shuffle;
use crate::track::{QueueEntry, Track};

impl Session {
    /// Adds a member as a guest.
    ///
    /// Idempotent: an existing member joining again changes nothing and gets no events.
    /// Refused when the session has ended, the user was kicked (`banned`) or it is full.
    /// While playing, the newcomer's tracks are woven into the unplayed part of the queue
    /// ([`shuffle::merge_late_joiner`]) and a `queue` event follows `member_joined`.
    pub fn join<R: Rng + ?Sized>(
        &mut self,
        member: NewMember,
        now_ms: i64,
        rng: &mut R,
    ) -> Result<Vec<Event>, SessionError> {
        self.ensure_not_ended()?;
        if self.is_member(&member.user_id) {
            return Ok(Vec::new());
        }
        if self.is_banned(&member.user_id) {
            return Err(SessionError::Banned {
                user: member.user_id,
            });
        }
        if self.members.len() >= self.settings.capacity {
            return Err(SessionError::SessionFull {
                capacity: self.settings.capacity,
            });
        }
        let member = member_from(member, Role::Guest, now_ms);
        let mut events = vec![Event::MemberJoined {
            member: member.clone(),
        }];
        if self.state == SessionState::Playing {
            let queue = shuffle::merge_late_joiner(&self.queue, self.position, &member, rng);
            self.replace_queue(queue, &mut events);
        }
        self.members.push(member);
        Ok(events)
    }

    /// Removes a member who leaves by themself.
    ///
    /// When the host leaves, the longest-present member (earliest `joined_at_ms`, then
    /// join order) becomes host (`host_changed`); when the last member leaves, the session
    /// ends (`session_ended`). Their tracks stay in the queue.
    pub fn leave(&mut self, user: &UserId) -> Result<Vec<Event>, SessionError> {
        self.ensure_not_ended()?;
        let index = self.index_of(user)?;
        self.members.remove(index);
        let mut events = vec![Event::MemberLeft {
            user_id: user.clone(),
            reason: LeaveReason::Left,
        }];
        if self.members.is_empty() {
            self.state = SessionState::Ended;
            events.push(Event::SessionEnded);
        } else if &self.host == user {
            // `min_by_key` keeps the first of equal keys, so ties go by join order.
            if let Some(successor) = self.members.iter_mut().min_by_key(|m| m.joined_at_ms) {
                successor.role = Role::Host;
                self.host = successor.user_id.clone();
                events.push(Event::HostChanged {
                    host: self.host.clone(),
                });
            }
        }
        Ok(events)
    }

    /// The host removes another member, who then cannot rejoin (whatever the invite code)
    /// until the host lets them back in ([`Session::unban`]). Their tracks stay in the queue.
    pub fn kick(&mut self, actor: &UserId, target: &UserId) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::Kick)?;
        if actor == target {
            return Err(SessionError::InvalidTarget {
                reason: "the host cannot kick themself; leave instead",
            });
        }
        let index = self.index_of(target)?;
        let kicked = self.members.remove(index);
        self.banned.insert(kicked.user_id, kicked.display_name);
        Ok(vec![Event::MemberLeft {
            user_id: target.clone(),
            reason: LeaveReason::Kicked,
        }])
    }

    /// The host hands the host role to another member.
    pub fn transfer_host(
        &mut self,
        actor: &UserId,
        to: &UserId,
    ) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::TransferHost)?;
        if actor == to {
            return Err(SessionError::InvalidTarget {
                reason: "this member is already the host",
            });
        }
        let index = self.index_of(to)?;
        for member in &mut self.members {
            member.role = Role::Guest;
        }
        if let Some(new_host) = self.members.get_mut(index) {
            new_host.role = Role::Host;
        }
        self.host = to.clone();
        Ok(vec![Event::HostChanged { host: to.clone() }])
    }

    /// A member replaces their own top tracks (nobody may set another's). Only the first
    /// [`shuffle::TRACKS_PER_MEMBER`] distinct tracks are kept. No change, no events.
    /// While playing, new tracks are woven into the unplayed part of the queue as for a
    /// late joiner, so a member whose tracks arrive after joining is not left out.
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
            let queue = shuffle::merge_late_joiner(&self.queue, self.position, &member, rng);
            self.replace_queue(queue, &mut events);
        }
        Ok(events)
    }

    /// The host starts the session on `device`: the queue is built from every member's
    /// top tracks with the session's shuffle mode and plays from position 0.
    pub fn start<R: Rng + ?Sized>(
        &mut self,
        actor: &UserId,
        device: DeviceId,
        rng: &mut R,
    ) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::Start)?;
        if self.state == SessionState::Playing {
            return Err(SessionError::AlreadyStarted);
        }
        let queue = shuffle::build_queue(self.settings.shuffle_mode, &self.members, rng);
        if queue.is_empty() {
            return Err(SessionError::NoTracks);
        }
        self.state = SessionState::Playing;
        self.queue = queue;
        self.position = 0;
        self.device = Some(device);
        Ok(vec![Event::SessionStarted {
            queue: self.queue.clone(),
            position: self.position,
        }])
    }

    /// The host ends the session, from the lobby or while playing. The queue is kept as
    /// a record of what played.
    pub fn end(&mut self, actor: &UserId) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::End)?;
        self.state = SessionState::Ended;
        Ok(vec![Event::SessionEnded])
    }

    /// The host picks how `start` shuffles; only in the lobby, since it has no effect
    /// afterwards. The same mode again gives no events.
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
            settings: self.settings,
        }])
    }

    /// The host replaces the invite code (the old link stops working once the gateway
    /// looks codes up by the new one). Kick bans stay: only [`Session::unban`] lifts one.
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

    /// The host lets a kicked user join again (with the current invite).
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

    /// The gateway reports which queue entry plays now (it follows the host's player).
    /// Emits a `queue` event when the position moved, nothing otherwise.
    pub fn advance_to(&mut self, position: usize) -> Result<Vec<Event>, SessionError> {
        Ok(if self.move_to(position)? {
            vec![self.queue_event()]
        } else {
            Vec::new()
        })
    }

    /// [`Session::advance_to`] without the event: whether the position moved. The event
    /// carries a copy of the whole queue, which a caller that only needs the new position
    /// (the gateway, on every track change) should not pay for in a session of thousands.
    pub fn move_to(&mut self, position: usize) -> Result<bool, SessionError> {
        self.ensure_not_ended()?;
        if self.state != SessionState::Playing {
            return Err(SessionError::NotStarted);
        }
        if position >= self.queue.len() {
            return Err(SessionError::InvalidPosition {
                position,
                len: self.queue.len(),
            });
        }
        if position == self.position {
            return Ok(false);
        }
        self.position = position;
        Ok(true)
    }

    fn ensure_not_ended(&self) -> Result<(), SessionError> {
        match self.state {
            SessionState::Ended => Err(SessionError::SessionEnded),
            _ => Ok(()),
        }
    }

    /// The common checks of an actor's request, in the documented order.
    fn authorize(&self, actor: &UserId, action: Action) -> Result<(), SessionError> {
        self.ensure_not_ended()?;
        if !self.is_member(actor) {
            return Err(SessionError::NotAMember {
                user: actor.clone(),
            });
        }
        if !self.can(actor, action) {
            return Err(SessionError::Forbidden { action });
        }
        Ok(())
    }

    fn index_of(&self, user: &UserId) -> Result<usize, SessionError> {
        self.members
            .iter()
            .position(|m| &m.user_id == user)
            .ok_or_else(|| SessionError::NotAMember { user: user.clone() })
    }

    fn queue_event(&self) -> Event {
        Event::Queue {
            queue: self.queue.clone(),
            position: self.position,
        }
    }

    /// Installs a rebuilt queue, announcing it only if it differs.
    fn replace_queue(&mut self, queue: Vec<QueueEntry>, events: &mut Vec<Event>) {
        if queue != self.queue {
            self.queue = queue;
            events.push(self.queue_event());
        }
    }
}
