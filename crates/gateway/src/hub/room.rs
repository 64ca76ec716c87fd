//! Who is connected to a session: its subscribers (a member's socket, or a read-only display),
//! members' presence (online while they have a socket), and the throttle of roster news in a
//! session too large to announce members one by one. Bookkeeping only: what to tell whom is
//! the hub's, which gets back what changed.

use std::{collections::HashMap, time::Duration};

use sesh_session::{DisplayKey, UserId};
use tokio::time::Instant;

use super::{WorkerHandle, fanout::Audience};
use crate::wire::ListeningState;

/// In a session over the roster limit, member counts go out at most this often.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(1);

/// Who a subscription is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscriber {
    /// A member's socket: counts for their presence.
    Member(UserId),
    /// A read-only view (a display) through this key; never counts as anyone online.
    Display(DisplayKey),
}

#[derive(Debug)]
pub(super) struct Connection {
    pub(super) subscriber: Subscriber,
    /// The worker that delivers to it (see `fanout`).
    pub(super) worker: WorkerHandle,
    /// What it gets.
    pub(super) audience: Audience,
}

/// The subscribers of one session.
#[derive(Debug, Default)]
pub(super) struct Room {
    conns: HashMap<u64, Connection>,
    next_conn: u64,
    /// Open sockets per member (presence).
    online: HashMap<UserId, u32>,
    /// Open display connections per key.
    displays: HashMap<DisplayKey, usize>,
    /// When the pending `members_summary` goes out.
    summary_at: Option<Instant>,
    /// `(member_count, online_count)` of the last `members_summary`: an unchanged count is not
    /// sent again.
    summary_sent: (usize, usize),
    /// Who listens along on their own device, as members see it (the decisions are
    /// `listening.rs`'s).
    listening: HashMap<UserId, ListeningState>,
}

impl Room {
    /// Adds a subscriber; its id, and whether a member just came online.
    pub(super) fn add(
        &mut self,
        subscriber: Subscriber,
        worker: WorkerHandle,
        audience: Audience,
    ) -> (u64, bool) {
        self.next_conn += 1;
        let id = self.next_conn;
        let went_online = match &subscriber {
            Subscriber::Member(user) => {
                let count = self.online.entry(user.clone()).or_insert(0);
                *count += 1;
                *count == 1
            }
            Subscriber::Display(key) => {
                *self.displays.entry(key.clone()).or_insert(0) += 1;
                false
            }
        };
        self.conns.insert(
            id,
            Connection {
                subscriber,
                worker,
                audience,
            },
        );
        (id, went_online)
    }

    /// Removes a subscriber: the connection (None if unknown), and the member who went offline
    /// with it, if any.
    pub(super) fn remove(&mut self, id: u64) -> Option<(Connection, Option<UserId>)> {
        let conn = self.conns.remove(&id)?;
        if let Subscriber::Display(key) = &conn.subscriber
            && let Some(count) = self.displays.get_mut(key)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.displays.remove(key);
            }
        }
        let mut offline = None;
        if let Subscriber::Member(user) = &conn.subscriber
            && let Some(count) = self.online.get_mut(user)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.online.remove(user);
                offline = Some(user.clone());
            }
        }
        Some((conn, offline))
    }

    /// Removes every connection of `user` (they left or were removed); no presence news.
    pub(super) fn remove_user(&mut self, user: &UserId) -> Vec<(u64, Connection)> {
        self.online.remove(user);
        self.take(|s| matches!(s, Subscriber::Member(u) if u == user))
    }

    /// Removes every display connection of `key` (it was revoked).
    pub(super) fn remove_display(&mut self, key: &DisplayKey) -> Vec<(u64, Connection)> {
        self.displays.remove(key);
        self.take(|s| matches!(s, Subscriber::Display(k) if k == key))
    }

    /// Takes out the connections whose subscriber `which` picks (their counts are the
    /// caller's to settle).
    fn take(&mut self, which: impl Fn(&Subscriber) -> bool) -> Vec<(u64, Connection)> {
        let ids: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| which(&c.subscriber))
            .map(|(id, _)| *id)
            .collect();
        ids.into_iter()
            .filter_map(|id| self.conns.remove(&id).map(|c| (id, c)))
            .collect()
    }

    /// Open display connections: of `key`, or of every key.
    pub(super) fn display_count(&self, key: Option<&DisplayKey>) -> usize {
        match key {
            Some(key) => self.displays.get(key).copied().unwrap_or(0),
            None => self.displays.values().sum(),
        }
    }

    /// Removes every connection (the session ended, or the hub stops).
    pub(super) fn remove_all(&mut self) -> Vec<(u64, Connection)> {
        self.online.clear();
        self.displays.clear();
        self.conns.drain().collect()
    }

    /// No subscriber at all.
    pub(super) fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Whether `user` has a socket open.
    pub(super) fn is_online(&self, user: &UserId) -> bool {
        self.online.contains_key(user)
    }

    /// Whether `user` listens along, as members see it.
    pub(super) fn listening(&self, user: &UserId) -> Option<ListeningState> {
        self.listening.get(user).copied()
    }

    /// Records how `user` listens along now (`None`: not at all).
    pub(super) fn set_listening(&mut self, user: &UserId, state: Option<ListeningState>) {
        match state {
            Some(state) => self.listening.insert(user.clone(), state),
            None => self.listening.remove(user),
        };
    }

    /// Members with a socket open.
    pub(super) fn online_count(&self) -> usize {
        self.online.len()
    }

    /// A `members_summary` within [`SUMMARY_INTERVAL`] of `now` (one for all changes until then).
    pub(super) fn schedule_summary(&mut self, now: Instant) {
        if self.summary_at.is_none() {
            self.summary_at = Some(now + SUMMARY_INTERVAL);
        }
    }

    /// When the pending summary is due.
    pub(super) fn summary_due(&self) -> Option<Instant> {
        self.summary_at
    }

    /// Takes the pending summary: the counts to send, unless they are what was sent last (with
    /// `force`, always).
    pub(super) fn take_summary(
        &mut self,
        member_count: usize,
        force: bool,
    ) -> Option<(usize, usize)> {
        self.summary_at = None;
        let counts = (member_count, self.online.len());
        if !force && counts == self.summary_sent {
            return None;
        }
        self.summary_sent = counts;
        Some(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker() -> WorkerHandle {
        WorkerHandle::detached()
    }

    #[test]
    fn presence_follows_a_members_first_and_last_socket() {
        let mut room = Room::default();
        let bob = UserId::new("bob");
        let (first, online) = room.add(Subscriber::Member(bob.clone()), worker(), Audience::Member);
        assert!(online);
        let (second, online) =
            room.add(Subscriber::Member(bob.clone()), worker(), Audience::Member);
        assert!(!online, "a second tab is not news");
        assert_ne!(first, second);
        assert_eq!(room.online_count(), 1);
        let (_, offline) = room.remove(first).unwrap();
        assert_eq!(offline, None);
        assert!(room.is_online(&bob));
        let (_, offline) = room.remove(second).unwrap();
        assert_eq!(offline, Some(bob.clone()));
        assert!(!room.is_online(&bob));
        assert!(room.remove(second).is_none(), "removed once");
        assert!(room.is_empty());
    }

    #[test]
    fn displays_subscribe_without_being_anyone() {
        let mut room = Room::default();
        let (id, online) = room.add(Subscriber::Display(key(1)), worker(), display());
        assert!(!online);
        assert_eq!(room.online_count(), 0);
        assert!(!room.is_empty());
        assert_eq!(room.remove(id).unwrap().1, None);
    }

    #[test]
    fn removing_a_user_takes_all_their_sockets_and_nobody_elses() {
        let mut room = Room::default();
        let (alice, bob) = (UserId::new("alice"), UserId::new("bob"));
        let member = Audience::Member;
        room.add(Subscriber::Member(alice.clone()), worker(), member);
        room.add(Subscriber::Member(bob.clone()), worker(), member);
        room.add(Subscriber::Member(bob.clone()), worker(), member);
        room.add(Subscriber::Display(key(1)), worker(), display());
        assert_eq!(room.remove_user(&bob).len(), 2);
        assert!(!room.is_online(&bob));
        assert!(room.is_online(&alice));
        assert_eq!(room.remove_all().len(), 2);
        assert!(room.is_empty());
        assert_eq!(room.display_count(None), 0);
    }

    fn key(seed: u64) -> DisplayKey {
        DisplayKey::generate(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed))
    }

    fn display() -> Audience {
        Audience::Display { show_join: false }
    }

    #[test]
    fn displays_are_counted_per_key_never_online_and_revoked_by_key() {
        let mut room = Room::default();
        let (tv, overlay) = (key(1), key(2));
        let (first, _) = room.add(Subscriber::Display(tv.clone()), worker(), display());
        room.add(Subscriber::Display(tv.clone()), worker(), display());
        room.add(Subscriber::Display(overlay.clone()), worker(), display());
        room.add(
            Subscriber::Member(UserId::new("a")),
            worker(),
            Audience::Member,
        );
        assert_eq!(room.online_count(), 1);
        assert_eq!(room.display_count(Some(&tv)), 2);
        assert_eq!(room.display_count(None), 3);
        room.remove(first);
        assert_eq!(room.display_count(Some(&tv)), 1);
        assert_eq!(room.remove_display(&tv).len(), 1);
        assert_eq!(room.display_count(Some(&tv)), 0);
        assert_eq!(room.display_count(None), 1, "the overlay's stays");
    }

    #[test]
    fn summaries_are_coalesced_and_unchanged_counts_are_not_repeated() {
        let mut room = Room::default();
        let now = Instant::now();
        room.schedule_summary(now);
        room.schedule_summary(now + Duration::from_millis(500));
        assert_eq!(room.summary_due(), Some(now + SUMMARY_INTERVAL));
        room.add(
            Subscriber::Member(UserId::new("a")),
            worker(),
            Audience::Member,
        );
        assert_eq!(room.take_summary(3, false), Some((3, 1)));
        assert_eq!(room.summary_due(), None);
        assert_eq!(room.take_summary(3, false), None, "nothing new");
        assert_eq!(room.take_summary(3, true), Some((3, 1)), "forced");
    }
}
