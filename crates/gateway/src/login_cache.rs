//! Recently read logins and users, in memory. Every request with a login cookie (each API call,
//! each WebSocket) looks its user up: this saves that SQLite read after the first.
//!
//! The database stays the truth. Every write of a login or a user goes through
//! [`Database`](crate::db::Database), which drops the cached copy *after* writing; a read that
//! started before such a write does not put its older answer back (a generation counter), so a
//! logout or a revoked Spotify login takes effect at once. A cached login is used only until its
//! stored expiry.

use std::collections::HashMap;

use parking_lot::Mutex;
use sesh_session::UserId;

use crate::db::UserRecord;

/// Past this many logins (or users) a map is cleared and fills again from SQLite: a bound on
/// memory, not an eviction policy (one entry is ~200 bytes).
const MAX_ENTRIES: usize = 100_000;

/// See the module docs.
#[derive(Debug, Default)]
pub struct LoginCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Bumped by every invalidation.
    generation: u64,
    /// Login id hash → (user, expiry in ms since the epoch).
    logins: HashMap<String, (UserId, i64)>,
    users: HashMap<UserId, UserRecord>,
}

/// Taken before a database read; [`LoginCache::fill`] ignores the answer if anything was
/// invalidated since.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl LoginCache {
    /// The user of an unexpired cached login, if both are cached.
    pub fn get(&self, id_hash: &str, now_ms: i64) -> Option<UserRecord> {
        let inner = self.inner.lock();
        let (user, expires_at) = inner.logins.get(id_hash)?;
        if *expires_at <= now_ms {
            return None;
        }
        inner.users.get(user).cloned()
    }

    /// Call before reading from the database.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.inner.lock().generation)
    }

    /// Remembers what the database answered, unless something changed since `ticket`.
    pub fn fill(&self, ticket: Ticket, id_hash: &str, expires_at: i64, user: &UserRecord) {
        let mut inner = self.inner.lock();
        if inner.generation != ticket.0 {
            return;
        }
        if inner.logins.len() >= MAX_ENTRIES {
            inner.logins.clear();
        }
        if inner.users.len() >= MAX_ENTRIES {
            inner.users.clear();
        }
        inner
            .logins
            .insert(id_hash.to_owned(), (user.id.clone(), expires_at));
        inner.users.insert(user.id.clone(), user.clone());
    }

    /// A login was deleted.
    pub fn forget_login(&self, id_hash: &str) {
        let mut inner = self.inner.lock();
        inner.generation += 1;
        inner.logins.remove(id_hash);
    }

    /// A user's record changed (name, `needs_reauth`).
    pub fn forget_user(&self, user: &UserId) {
        let mut inner = self.inner.lock();
        inner.generation += 1;
        inner.users.remove(user);
    }
}

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
    fn serves_until_expiry_or_invalidation() {
        let cache = LoginCache::default();
        assert_eq!(cache.get("h", 0), None);
        cache.fill(cache.ticket(), "h", 1_000, &alice(false));
        assert_eq!(cache.get("h", 999), Some(alice(false)));
        assert_eq!(cache.get("h", 1_000), None, "expired");
        cache.forget_user(&UserId::new("alice"));
        assert_eq!(cache.get("h", 0), None, "user changed");
        cache.fill(cache.ticket(), "h", 1_000, &alice(true));
        assert_eq!(cache.get("h", 0), Some(alice(true)));
        cache.forget_login("h");
        assert_eq!(cache.get("h", 0), None, "logged out");
    }

    #[test]
    fn a_read_older_than_an_invalidation_is_not_cached() {
        let cache = LoginCache::default();
        let ticket = cache.ticket();
        // A logout lands while the read is in flight…
        cache.forget_login("h");
        // …so the read's (older) answer must not bring the login back.
        cache.fill(ticket, "h", i64::MAX, &alice(false));
        assert_eq!(cache.get("h", 0), None);
        cache.fill(cache.ticket(), "h", i64::MAX, &alice(false));
        assert_eq!(cache.get("h", 0), Some(alice(false)));
    }
}
