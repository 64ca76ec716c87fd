//! Answers recently read from SQLite, kept in memory to save the reads that every request
//! repeats: the user behind a login cookie (each API call, each WebSocket) and the session behind
//! an invite code (each join).
//!
//! The database stays the truth. Every write that changes such an answer goes through
//! [`Database`](crate::db::Database), which drops the cached copy *after* writing; a read that
//! started before such a write does not put its older answer back (a generation counter), so a
//! logout, a revoked Spotify login or a rotated invite takes effect at the next request.

use std::{collections::HashMap, hash::Hash};

use parking_lot::Mutex;
use sesh_session::{SessionId, UserId};

use crate::db::UserRecord;

/// Past this many entries a cache is cleared and fills again from SQLite: a bound on memory,
/// not an eviction policy (an entry is ~100–200 bytes).
const MAX_ENTRIES: usize = 100_000;

/// Taken before a database read; [`ReadCache::fill`] ignores the answer if the cache was
/// invalidated since.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

/// One map of answers (see the module docs).
#[derive(Debug)]
pub struct ReadCache<K, V> {
    inner: Mutex<Inner<K, V>>,
}

#[derive(Debug)]
struct Inner<K, V> {
    /// Bumped by every invalidation.
    generation: u64,
    map: HashMap<K, V>,
}

impl<K, V> Default for ReadCache<K, V> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                generation: 0,
                map: HashMap::new(),
            }),
        }
    }
}

impl<K: Eq + Hash, V: Clone> ReadCache<K, V> {
    /// The cached answer for `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.inner.lock().map.get(key).cloned()
    }

    /// Call before reading from the database.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.inner.lock().generation)
    }

    /// Remembers what the database answered, unless the cache was invalidated since `ticket`.
    pub fn fill(&self, ticket: Ticket, key: K, value: V) {
        let mut inner = self.inner.lock();
        if inner.generation != ticket.0 {
            return;
        }
        if inner.map.len() >= MAX_ENTRIES {
            inner.map.clear();
        }
        inner.map.insert(key, value);
    }

    /// The answer for `key` changed (call after the write).
    pub fn forget<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let mut inner = self.inner.lock();
        inner.generation += 1;
        inner.map.remove(key);
    }
}

impl<K, V> ReadCache<K, V> {
    /// Some answers changed and it is not known which (call after the write).
    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.generation += 1;
        inner.map.clear();
    }
}

/// Login id hash → (user, expiry in ms since the epoch), and user → record.
#[derive(Debug, Default)]
pub struct LoginCache {
    /// Logins.
    pub logins: ReadCache<String, (UserId, i64)>,
    /// Users' records (name, `needs_reauth`).
    pub users: ReadCache<UserId, UserRecord>,
}

impl LoginCache {
    /// The user of an unexpired cached login, if both are cached.
    pub fn get(&self, id_hash: &str, now_ms: i64) -> Option<UserRecord> {
        let (user, expires_at) = self.logins.get(id_hash)?;
        if expires_at <= now_ms {
            return None;
        }
        self.users.get(&user)
    }

    /// Tickets for both maps, before reading a login and its user.
    pub fn tickets(&self) -> (Ticket, Ticket) {
        (self.logins.ticket(), self.users.ticket())
    }

    /// Remembers a login and its user (each unless invalidated since its ticket).
    pub fn fill(
        &self,
        tickets: (Ticket, Ticket),
        id_hash: &str,
        expires_at: i64,
        user: &UserRecord,
    ) {
        self.logins
            .fill(tickets.0, id_hash.to_owned(), (user.id.clone(), expires_at));
        self.users.fill(tickets.1, user.id.clone(), user.clone());
    }
}

/// Invite code → session.
pub type InviteCache = ReadCache<String, SessionId>;

#[cfg(test)]
mod tests {
    use super::*;

    fn alice(needs_reauth: bool) -> UserRecord {
        UserRecord {
            id: UserId::new("alice"),
            display_name: "Alice".into(),
            needs_reauth,
        }
    }

    #[test]
    fn a_login_is_served_until_expiry_or_invalidation() {
        let cache = LoginCache::default();
        assert_eq!(cache.get("h", 0), None);
        cache.fill(cache.tickets(), "h", 1_000, &alice(false));
        assert_eq!(cache.get("h", 999), Some(alice(false)));
        assert_eq!(cache.get("h", 1_000), None, "expired");
        cache.users.forget(&UserId::new("alice"));
        assert_eq!(cache.get("h", 0), None, "user changed");
        cache.fill(cache.tickets(), "h", 1_000, &alice(true));
        assert_eq!(cache.get("h", 0), Some(alice(true)));
        cache.logins.forget("h");
        assert_eq!(cache.get("h", 0), None, "logged out");
    }

    #[test]
    fn a_read_older_than_an_invalidation_is_not_cached() {
        let cache = LoginCache::default();
        let tickets = cache.tickets();
        // A logout lands while the read is in flight…
        cache.logins.forget("h");
        // …so the read's (older) answer must not bring the login back.
        cache.fill(tickets, "h", i64::MAX, &alice(false));
        assert_eq!(cache.get("h", 0), None);
        cache.fill(cache.tickets(), "h", i64::MAX, &alice(false));
        assert_eq!(cache.get("h", 0), Some(alice(false)));

        let invites = InviteCache::default();
        let id = SessionId::new_v4();
        invites.fill(invites.ticket(), "old".into(), id);
        assert_eq!(invites.get("old"), Some(id));
        let ticket = invites.ticket();
        // The invite is rotated while another request reads it.
        invites.clear();
        assert_eq!(invites.get("old"), None);
        invites.fill(ticket, "old".into(), id);
        assert_eq!(
            invites.get("old"),
            None,
            "a rotated invite must not come back"
        );
    }
}
