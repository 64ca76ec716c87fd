//! Muting in the chat: the host and co-hosts mute a guest for the session (and unmute them).
//! A mute outlasts a leave and a rejoin; it is lifted by an unmute, or when the member becomes
//! a co-host or the host (moderators are never muted).

use super::{Action, Session};
use crate::error::SessionError;
use crate::event::Event;
use crate::ids::UserId;

impl Session {
    /// Whether `user`'s chat messages and reactions are refused.
    pub fn is_muted(&self, user: &UserId) -> bool {
        self.muted.contains(user)
    }

    /// The muted users (members, or members who left), in id order.
    pub fn muted(&self) -> &std::collections::BTreeSet<UserId> {
        &self.muted
    }

    /// A moderator mutes (`muted`) or unmutes `target`, a guest (`member_muted`). Nobody
    /// mutes themself, the host or a co-host; the same state again gives no events.
    pub fn set_muted(
        &mut self,
        actor: &UserId,
        target: &UserId,
        muted: bool,
    ) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::Mute)?;
        if actor == target {
            return Err(SessionError::InvalidTarget {
                reason: "nobody can mute themself",
            });
        }
        let member = self
            .member(target)
            .ok_or_else(|| SessionError::NotAMember {
                user: target.clone(),
            })?;
        if member.is_moderator() {
            return Err(SessionError::InvalidTarget {
                reason: "only guests can be muted",
            });
        }
        let changed = if muted {
            self.muted.insert(target.clone())
        } else {
            self.muted.remove(target)
        };
        Ok(if changed {
            vec![Event::MemberMuted {
                user_id: target.clone(),
                muted,
            }]
        } else {
            Vec::new()
        })
    }

    /// `user` became a moderator: their mute, if any, is lifted (`member_muted` false).
    pub(super) fn lift_mute(&mut self, user: &UserId, events: &mut Vec<Event>) {
        if self.muted.remove(user) {
            events.push(Event::MemberMuted {
                user_id: user.clone(),
                muted: false,
            });
        }
    }
}
