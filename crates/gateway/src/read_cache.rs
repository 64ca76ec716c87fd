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

/// A user as the API shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Spotify user id.
    pub id: UserId,
    /// Display name from Spotify.
    pub display_name: String,
    /// Their refresh token was revoked: they must log in again.
    pub needs_reauth: bool,
    /// A spectator (no Spotify account): the one session their login is bound to.
    pub spectating: Option<SessionId>,
}

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

impl<K: Eq + Hash, V> ReadCache<K, V> {
    /// Changes a cached answer in place, if there is one (for changes this process makes
    /// itself, which therefore need no invalidation).
    pub fn update<Q>(&self, key: &Q, change: impl FnOnce(&mut V))
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        if let Some(value) = self.inner.lock().map.get_mut(key) {
            change(value);
        }
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

/// A login as cached: whose it is, its absolute expiry and when it was last seen (ms since the
/// epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedLogin {
    /// The user.
    pub user: UserId,
    /// Absolute expiry.
    pub expires_at: i64,
    /// Last use, as stored (or as about to be stored).
    pub last_seen_at: i64,
}

impl CachedLogin {
    /// Whether it still admits a request at `now` with idle timeout `idle_ms`.
    pub fn valid_at(&self, now: i64, idle_ms: i64) -> bool {
        self.expires_at > now && self.last_seen_at > now.saturating_sub(idle_ms)
    }
}

/// Login id hash → login, and user → record.
#[derive(Debug, Default)]
pub struct LoginCache {
    /// Logins.
    pub logins: ReadCache<String, CachedLogin>,
    /// Users' records (name, `needs_reauth`).
    pub users: ReadCache<UserId, UserRecord>,
}

impl LoginCache {
    /// The user of a cached login that is neither expired nor idle at `now`, if both are
    /// cached, with the login.
    pub fn get(
        &self,
        id_hash: &str,
        now_ms: i64,
        idle_ms: i64,
    ) -> Option<(UserRecord, CachedLogin)> {
        let login = self.logins.get(id_hash)?;
        if !login.valid_at(now_ms, idle_ms) {
            return None;
        }
        Some((self.users.get(&login.user)?, login))
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
        login: CachedLogin,
        user: &UserRecord,
    ) {
        self.logins.fill(tickets.0, id_hash.to_owned(), login);
        self.users.fill(tickets.1, user.id.clone(), user.clone());
    }

    /// The login is being marked seen at `now` (a cached copy only; never brings one back).
    pub fn mark_seen(&self, id_hash: &str, now_ms: i64) {
        self.logins
            .update(id_hash, |login| login.last_seen_at = now_ms);
    }
}

/// Invite code → session.
pub type InviteCache = ReadCache<String, SessionId>;

/// The session behind a display key (each display request).
pub type DisplayCache = ReadCache<String, SessionId>;

#[cfg(test)]
mod tests {
    use super::*;

    fn alice(needs_reauth: bool) -> UserRecord {
        UserRecord {
            spectating: None,
            id: UserId::new("alice"),
            display_name: "Alice".into(),
            needs_reauth,
        }
    }

    fn login(expires_at: i64, last_seen_at: i64) -> CachedLogin {
        CachedLogin {
            user: UserId::new("alice"),
            expires_at,
            last_seen_at,
        }
    }

    /// The user a cached login admits at `now` (idle timeout 100 ms).
    fn user_at(cache: &LoginCache, now: i64) -> Option<UserRecord> {
        cache.get("h", now, 100).map(|(user, _)| user)
    }

    #[test]
    fn a_login_is_served_until_expiry_idleness_or_invalidation() {
        let cache = LoginCache::default();
        assert_eq!(user_at(&cache, 0), None);
        cache.fill(cache.tickets(), "h", login(1_000, 0), &alice(false));
        assert_eq!(user_at(&cache, 99), Some(alice(false)));
        assert_eq!(user_at(&cache, 100), None, "idle for the whole timeout");
        cache.mark_seen("h", 950);
        assert_eq!(user_at(&cache, 999), Some(alice(false)));
        assert_eq!(user_at(&cache, 1_000), None, "expired");
        cache.users.forget(&UserId::new("alice"));
        assert_eq!(user_at(&cache, 960), None, "user changed");
        cache.fill(cache.tickets(), "h", login(1_000, 950), &alice(true));
        assert_eq!(user_at(&cache, 960), Some(alice(true)));
        cache.logins.forget("h");
        assert_eq!(user_at(&cache, 960), None, "logged out");
        cache.mark_seen("h", 960);
        assert_eq!(
            user_at(&cache, 960),
            None,
            "marking seen brings nothing back"
        );
    }

    #[test]
    fn a_read_older_than_an_invalidation_is_not_cached() {
        let cache = LoginCache::default();
        let tickets = cache.tickets();
        // A logout lands while the read is in flight…
        cache.logins.forget("h");
        // …so the read's (older) answer must not bring the login back.
        cache.fill(tickets, "h", login(i64::MAX, 0), &alice(false));
        assert_eq!(user_at(&cache, 0), None);
        cache.fill(cache.tickets(), "h", login(i64::MAX, 0), &alice(false));
        assert_eq!(user_at(&cache, 0), Some(alice(false)));

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
