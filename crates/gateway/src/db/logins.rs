//! Logins (the `sesh_sid` cookie's rows) and pending OAuth authorizations: created, checked,
//! touched for the idle timeout, and swept when expired.
//!
//! Both are on the path of anonymous requests, so each costs the single writer connection as
//! little as possible: a callback with an unknown state reads and never writes, a login's
//! "last seen" is written at most once per [`touch_interval`], and expired rows are deleted by
//! a periodic sweep (indexed by expiry), not by the requests that create them.

use std::time::Duration;

use super::{Database, DbError, Either, execute, now_ms, on, user_from_columns};
use crate::{crypto::CryptoError, db::UserRecord, read_cache::CachedLogin};
use secrecy::{ExposeSecret, SecretString};
use sesh_session::UserId;

/// A pending OAuth authorization taken from the store.
#[derive(Debug)]
pub struct OAuthState {
    /// The PKCE verifier for the code exchange.
    pub pkce_verifier: SecretString,
    /// Where to send the browser afterwards.
    pub next_path: String,
}

/// What a callback's `state` finds.
#[derive(Debug)]
pub enum OAuthTake {
    /// No such pending authorization (never issued, expired or already used).
    Missing,
    /// It exists, but this browser did not start it: nothing was changed (login CSRF).
    OtherBrowser,
    /// Taken (deleted): it can never be used again.
    Taken(OAuthState),
}

/// What one sweep deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// Expired pending authorizations.
    pub oauth_states: u64,
    /// Logins past their absolute expiry or idle for longer than the idle timeout.
    pub logins: u64,
}

/// How often a login's "last seen" is written: often enough that the idle timeout is exact to
/// a tenth of it, at most once an hour.
pub fn touch_interval(idle: Duration) -> Duration {
    (idle / 10).min(Duration::from_secs(3600))
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Database {
    // ---- logins ----------------------------------------------------------------------------

    /// Records a login (by the hash of its cookie value), seen now.
    pub async fn create_login(
        &self,
        id_hash: &str,
        user: &UserId,
        ttl: Duration,
    ) -> Result<(), DbError> {
        insert_login(self.writer(), id_hash, user, ttl).await
    }

    /// The user of a login that is neither expired nor idle for longer than `idle` (from memory
    /// after the first read: see [`crate::read_cache::LoginCache`]). A login last seen more
    /// than [`touch_interval`] ago is marked seen now, in the background.
    pub async fn login_user(
        &self,
        id_hash: &str,
        idle: Duration,
    ) -> Result<Option<UserRecord>, DbError> {
        let now = now_ms();
        let idle_ms = ms(idle);
        if let Some((user, login)) = self.logins.get(id_hash, now, idle_ms) {
            self.touch_if_due(id_hash, &login, now, idle);
            return Ok(Some(user));
        }
        let tickets = self.logins.tickets();
        type Row = (String, String, bool, Option<String>, i64, i64);
        let row: Option<Row> = on!(self.reader(), |c| {
            sqlx::query_as(
                "SELECT u.id, u.display_name, u.needs_reauth, u.spectating, l.expires_at,
                        l.last_seen_at
                 FROM login_sessions l JOIN users u ON u.id = l.user_id
                 WHERE l.id_hash = $1 AND l.expires_at > $2 AND l.last_seen_at > $3",
            )
            .bind(id_hash)
            .bind(now)
            .bind(now.saturating_sub(idle_ms))
            .fetch_optional(c)
            .await
        })?;
        let Some((id, name, needs_reauth, spectating, expires_at, last_seen_at)) = row else {
            return Ok(None);
        };
        let user = user_from_columns((id, name, needs_reauth, spectating))?;
        let login = CachedLogin {
            user: user.id.clone(),
            expires_at,
            last_seen_at,
        };
        if self.caches_reads() {
            self.logins.fill(tickets, id_hash, login.clone(), &user);
        }
        self.touch_if_due(id_hash, &login, now, idle);
        Ok(Some(user))
    }

    /// Writes "seen now" for a login last seen more than [`touch_interval`] ago, off the
    /// request path (the cached copy first, so concurrent requests touch once).
    fn touch_if_due(&self, id_hash: &str, login: &CachedLogin, now: i64, idle: Duration) {
        if now.saturating_sub(login.last_seen_at) < ms(touch_interval(idle)) {
            return;
        }
        self.logins.mark_seen(id_hash, now);
        let (db, id_hash) = (self.clone(), id_hash.to_owned());
        tokio::spawn(async move {
            let result = execute!(
                db.writer(),
                sqlx::query("UPDATE login_sessions SET last_seen_at = $2 WHERE id_hash = $1")
                    .bind(&id_hash)
                    .bind(now)
            );
            if let Err(e) = result {
                tracing::warn!(error = %e, "could not record a login's last use");
            }
        });
    }

    /// Forgets a login (logout).
    pub async fn delete_login(&self, id_hash: &str) -> Result<(), DbError> {
        execute!(
            self.writer(),
            sqlx::query("DELETE FROM login_sessions WHERE id_hash = $1").bind(id_hash)
        )?;
        self.logins.logins.forget(id_hash);
        Ok(())
    }

    /// Forgets every login of `user` (log out everywhere); how many there were.
    pub async fn delete_logins_of(&self, user: &UserId) -> Result<u64, DbError> {
        let done = execute!(
            self.writer(),
            sqlx::query("DELETE FROM login_sessions WHERE user_id = $1").bind(user.as_str())
        )?;
        // The cache is keyed by cookie hash, which we do not know for the other browsers.
        self.logins.logins.clear();
        Ok(done)
    }

    // ---- OAuth states ----------------------------------------------------------------------

    /// Pending (unexpired) authorizations, for the cap on logins in progress.
    pub async fn pending_oauth_states(&self) -> Result<u64, DbError> {
        let count: i64 = on!(self.reader(), |c| {
            sqlx::query_scalar("SELECT COUNT(*) FROM oauth_states WHERE expires_at > $1")
                .bind(now_ms())
                .fetch_one(c)
                .await
        })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Stores a pending authorization started by the browser whose login cookie hashes to
    /// `browser_hash`.
    pub async fn save_oauth_state(
        &self,
        state_hash: &str,
        browser_hash: &str,
        pkce_verifier: &SecretString,
        next_path: &str,
        ttl: Duration,
    ) -> Result<(), DbError> {
        let sealed = self.cipher.seal(
            pkce_verifier.expose_secret().as_bytes(),
            format!("oauth_states:{state_hash}").as_bytes(),
        )?;
        execute!(
            self.writer(),
            sqlx::query(
                "INSERT INTO oauth_states (state_hash, pkce_verifier, next_path, expires_at,
                                           browser_hash)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(state_hash)
            .bind(sealed)
            .bind(next_path)
            .bind(now_ms().saturating_add(ms(ttl)))
            .bind(browser_hash)
        )?;
        Ok(())
    }

    /// Takes (deletes and returns) an unexpired pending authorization, if `browser_hash` is the
    /// browser that started it: single use. Unknown states and other browsers' states only
    /// read (a flood of forged callbacks never reaches the writer) and change nothing.
    pub async fn take_oauth_state(
        &self,
        state_hash: &str,
        browser_hash: Option<&str>,
    ) -> Result<OAuthTake, DbError> {
        let started_by: Option<String> = on!(self.reader(), |c| {
            sqlx::query_scalar(
                "SELECT browser_hash FROM oauth_states WHERE state_hash = $1 AND expires_at > $2",
            )
            .bind(state_hash)
            .bind(now_ms())
            .fetch_optional(c)
            .await
        })?;
        let Some(started_by) = started_by else {
            return Ok(OAuthTake::Missing);
        };
        // Compared as hashes of random values: nothing to learn from timing.
        if started_by.is_empty() || browser_hash != Some(started_by.as_str()) {
            return Ok(OAuthTake::OtherBrowser);
        }
        let row: Option<(Vec<u8>, String)> = on!(self.writer(), |c| {
            sqlx::query_as(
                "DELETE FROM oauth_states WHERE state_hash = $1 AND expires_at > $2
                 RETURNING pkce_verifier, next_path",
            )
            .bind(state_hash)
            .bind(now_ms())
            .fetch_optional(c)
            .await
        })?;
        // Used by a concurrent callback in between.
        let Some((sealed, next_path)) = row else {
            return Ok(OAuthTake::Missing);
        };
        let verifier = self
            .cipher
            .open(&sealed, format!("oauth_states:{state_hash}").as_bytes())?;
        let verifier = String::from_utf8(verifier).map_err(|_| CryptoError)?;
        Ok(OAuthTake::Taken(OAuthState {
            pkce_verifier: SecretString::from(verifier),
            next_path,
        }))
    }

    // ---- sweeping --------------------------------------------------------------------------

    /// Deletes expired authorizations and logins (expired, or idle for longer than `idle`).
    pub async fn sweep_expired(&self, idle: Duration) -> Result<Sweep, DbError> {
        let now = now_ms();
        let oauth_states = execute!(
            self.writer(),
            sqlx::query("DELETE FROM oauth_states WHERE expires_at <= $1").bind(now)
        )?;
        let logins = execute!(
            self.writer(),
            sqlx::query("DELETE FROM login_sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
                .bind(now)
                .bind(now.saturating_sub(ms(idle)))
        )?;
        if logins > 0 {
            self.logins.logins.clear();
        }
        Ok(Sweep {
            oauth_states,
            logins,
        })
    }
}

/// How often expired authorizations and logins are swept.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Sweeps expired authorizations and logins every [`SWEEP_EVERY`] until `shutdown`.
pub fn spawn_sweeper(
    db: Database,
    idle: Duration,
    runtime: &tokio::runtime::Handle,
    shutdown: tokio_util::sync::CancellationToken,
) {
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            match db.sweep_expired(idle).await {
                Ok(swept) if swept != Sweep::default() => tracing::debug!(
                    oauth_states = swept.oauth_states,
                    logins = swept.logins,
                    "swept expired logins"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not sweep expired logins"),
            }
        }
    });
}

/// Writes a login of `user` (cookie hash `id_hash`) lasting `ttl` from now, on `executor` (the
/// writer, or a transaction that creates the user too).
pub(super) async fn insert_login<'s, 'p>(
    on: Either<impl sqlx::SqliteExecutor<'s>, impl sqlx::PgExecutor<'p>>,
    id_hash: &str,
    user: &UserId,
    ttl: Duration,
) -> Result<(), DbError> {
    let now = now_ms();
    execute!(
        on,
        sqlx::query(
            "INSERT INTO login_sessions (id_hash, user_id, created_at, expires_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $3)",
        )
        .bind(id_hash)
        .bind(user.as_str())
        .bind(now)
        .bind(now.saturating_add(ms(ttl)))
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{SecretKey, TokenCipher};

    async fn database() -> (Database, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("sesh.db").display());
        let db = Database::connect(&url, TokenCipher::new(&SecretKey::generate()))
            .await
            .unwrap();
        (db, dir)
    }

    async fn rows(db: &Database, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(db.sqlite_pool().unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_state_is_taken_once_and_only_by_the_browser_that_started_it() {
        let (db, _dir) = database().await;
        let verifier = SecretString::from("v".repeat(64));
        db.save_oauth_state(
            "s",
            "browser-a",
            &verifier,
            "/next",
            Duration::from_secs(600),
        )
        .await
        .unwrap();
        assert!(matches!(
            db.take_oauth_state("s", Some("browser-b")).await.unwrap(),
            OAuthTake::OtherBrowser
        ));
        assert!(matches!(
            db.take_oauth_state("s", None).await.unwrap(),
            OAuthTake::OtherBrowser
        ));
        assert_eq!(
            rows(&db, "oauth_states").await,
            1,
            "a refusal changes nothing"
        );
        assert!(matches!(
            db.take_oauth_state("other", Some("browser-a"))
                .await
                .unwrap(),
            OAuthTake::Missing
        ));
        let OAuthTake::Taken(state) = db.take_oauth_state("s", Some("browser-a")).await.unwrap()
        else {
            panic!("the browser that started it takes it");
        };
        assert_eq!(state.next_path, "/next");
        assert_eq!(
            state.pkce_verifier.expose_secret(),
            verifier.expose_secret()
        );
        assert!(matches!(
            db.take_oauth_state("s", Some("browser-a")).await.unwrap(),
            OAuthTake::Missing
        ));
    }

    #[tokio::test]
    async fn expired_states_and_expired_or_idle_logins_are_swept_and_not_counted() {
        let (db, _dir) = database().await;
        let verifier = SecretString::from("v".repeat(64));
        db.save_oauth_state("live", "b", &verifier, "/", Duration::from_secs(600))
            .await
            .unwrap();
        db.save_oauth_state("dead", "b", &verifier, "/", Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(db.pending_oauth_states().await.unwrap(), 1);
        assert!(matches!(
            db.take_oauth_state("dead", Some("b")).await.unwrap(),
            OAuthTake::Missing
        ));

        let alice = UserId::new("alice");
        let tokens = sesh_spotify::Tokens {
            access: SecretString::from("a".to_owned()),
            refresh: None,
            expires_at: std::time::SystemTime::now(),
            scope: String::new(),
        };
        db.upsert_user(&alice, "Alice", &tokens, 0).await.unwrap();
        db.create_login("fresh", &alice, Duration::from_secs(3600))
            .await
            .unwrap();
        db.create_login("expired", &alice, Duration::ZERO)
            .await
            .unwrap();
        let week = Duration::from_secs(7 * 24 * 3600);
        assert!(db.login_user("fresh", week).await.unwrap().is_some());
        assert!(db.login_user("expired", week).await.unwrap().is_none());
        // Idle for longer than a (zero) idle timeout: refused, then swept.
        assert!(
            db.login_user("fresh", Duration::ZERO)
                .await
                .unwrap()
                .is_none()
        );

        let swept = db.sweep_expired(week).await.unwrap();
        assert_eq!(
            swept,
            Sweep {
                oauth_states: 1,
                logins: 1
            }
        );
        assert_eq!(rows(&db, "oauth_states").await, 1);
        assert!(db.login_user("fresh", week).await.unwrap().is_some());
        let swept = db.sweep_expired(Duration::ZERO).await.unwrap();
        assert_eq!(swept.logins, 1);
        assert!(db.login_user("fresh", week).await.unwrap().is_none());
    }

    #[test]
    fn logins_are_touched_at_most_hourly_and_at_a_tenth_of_the_idle_timeout() {
        assert_eq!(
            touch_interval(Duration::from_secs(7 * 24 * 3600)),
            Duration::from_secs(3600)
        );
        assert_eq!(
            touch_interval(Duration::from_secs(600)),
            Duration::from_secs(60)
        );
    }
}
