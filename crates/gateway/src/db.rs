//! SQLite persistence (sqlx, runtime-checked queries): users with encrypted tokens, login
//! sessions, OAuth states, top tracks, and listening sessions with their members and queue.
//!
//! A listening session is stored as its row plus its member rows and its queue rows; a hub is
//! revived from the three. A transition writes the session row and only the rows its events
//! touch, in one transaction (see `sessions.rs`).

use std::{
    str::FromStr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use secrecy::{ExposeSecret, SecretString};
use sesh_session::{SessionId, Track, UserId};
use sesh_spotify::Tokens;
use sqlx::{
    Row,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};

use crate::{
    crypto::{CryptoError, TokenCipher},
    read_cache::{DisplayCache, InviteCache, LoginCache, ReadCache},
};

/// Read connections (writes have their own one, see [`Database`]).
const READERS: u32 = 7;
/// How often the WAL is checkpointed (see [`checkpoints`]).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

mod chat;
mod listeners;
mod logins;
mod playlists;
mod seats;
mod sessions;

pub use crate::read_cache::UserRecord;

pub use logins::{OAuthState, OAuthTake, SWEEP_EVERY, Sweep, spawn_sweeper};
pub use playlists::SavedPlaylist;
pub use seats::{SeatHolder, Seating};

/// Embedded migrations from the repository's `migrations/` folder.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite refused or failed.
    #[error("database error")]
    Sqlx(#[from] sqlx::Error),
    /// A migration failed at start-up.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored secret does not decrypt.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A stored JSON column does not parse.
    #[error("stored data does not parse")]
    Json(#[from] serde_json::Error),
    /// A stored session breaks an invariant of the domain.
    #[error("stored session is inconsistent")]
    Restore(#[from] sesh_session::RestoreError),
    /// A stored value this version does not know (e.g. a role): refused, never guessed.
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

/// One live session of a user, for `GET /api/me/sessions`.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    /// The session.
    pub id: SessionId,
    /// `lobby` or `playing`.
    pub state: String,
    /// The user's role in it.
    pub role: String,
    /// Host's user id.
    pub host_id: String,
    /// Host's display name.
    pub host_name: String,
    /// Members right now.
    pub member_count: i64,
}

/// The database handle (cheap to clone: two pools and a cipher).
///
/// Every write goes through `writer`, a pool of one connection: SQLite lets one writer in at
/// a time anyway, and writers queueing here (in order, woken as soon as the connection is
/// free) do much better under load than several connections racing for the file lock, where
/// the losers sleep in SQLite's busy handler in steps of up to 100 ms (a join storm saw
/// second-long tails that way). Reads use `pool` and, in WAL mode, never wait for the writer.
#[derive(Clone, Debug)]
pub struct Database {
    pool: SqlitePool,
    writer: SqlitePool,
    cipher: TokenCipher,
    /// Shared by clones: an invalidation through one must reach all.
    logins: std::sync::Arc<LoginCache>,
    invites: std::sync::Arc<InviteCache>,
    displays: std::sync::Arc<DisplayCache>,
    /// The first Spotify user, once there is one: users rows are never deleted (only a
    /// spectator's that never joined), so it never changes and every page's `/api/me/login`
    /// asks SQLite once.
    first_user: std::sync::Arc<std::sync::OnceLock<UserId>>,
}

impl Database {
    /// Opens (creating if missing) the database in WAL mode and runs the migrations.
    pub async fn connect(url: &str, cipher: TokenCipher) -> Result<Self, DbError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable against process crashes in WAL mode; only power loss can drop
            // the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // 512 KiB of page cache per connection instead of SQLite's 2 MiB: with 8
            // connections (7 readers, 1 writer) the default grows to 16 MiB as the file grows,
            // while the file's pages
            // sit in the OS page cache anyway (a miss costs a `pread`, not a disk read).
            .pragma("cache_size", "-512")
            .busy_timeout(Duration::from_secs(5));
        // The writer never checkpoints (a checkpoint on the one write connection would hold up
        // every write behind it, fsync included): `checkpoints` does it beside the writer.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        MIGRATOR.run(&writer).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options)
            .await?;
        tokio::spawn(checkpoints(pool.clone()));
        Ok(Self {
            pool,
            writer,
            cipher,
            logins: std::sync::Arc::default(),
            invites: std::sync::Arc::default(),
            displays: std::sync::Arc::default(),
            first_user: std::sync::Arc::default(),
        })
    }

    /// The pool, for tests and health checks.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection (shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    // ---- users -------------------------------------------------------------------------

    fn seal_tokens(
        &self,
        user: &str,
        tokens: &Tokens,
    ) -> Result<(Vec<u8>, Option<Vec<u8>>), DbError> {
        let access = self.cipher.seal(
            tokens.access.expose_secret().as_bytes(),
            format!("users:{user}:access").as_bytes(),
        )?;
        let refresh = tokens
            .refresh
            .as_ref()
            .map(|r| {
                self.cipher.seal(
                    r.expose_secret().as_bytes(),
                    format!("users:{user}:refresh").as_bytes(),
                )
            })
            .transpose()?;
        Ok((access, refresh))
    }

    /// Creates or updates a user after a login, storing fresh tokens and clearing
    /// `needs_reauth` — if they hold one of the app's `seats` Spotify seats or one is free
    /// (`0`: no limit); whether they did. Without a seat nothing is stored. One statement on
    /// the one writer, so two logins at once cannot both take the last seat.
    pub async fn upsert_user(
        &self,
        id: &UserId,
        display_name: &str,
        tokens: &Tokens,
        seats: u32,
    ) -> Result<bool, DbError> {
        let (access, refresh) = self.seal_tokens(id.as_str(), tokens)?;
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO users (id, display_name, access_token, refresh_token, token_expires_at,
                                scope, needs_reauth, created_at, updated_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7
             WHERE ?8 = 0
                OR EXISTS (SELECT 1 FROM users WHERE id = ?1 AND seated = 1)
                OR (SELECT COUNT(*) FROM users WHERE seated = 1) < ?8
             ON CONFLICT(id) DO UPDATE SET
                display_name = excluded.display_name,
                access_token = excluded.access_token,
                refresh_token = COALESCE(excluded.refresh_token, users.refresh_token),
                token_expires_at = excluded.token_expires_at,
                scope = excluded.scope,
                needs_reauth = 0,
                seated = 1,
                updated_at = excluded.updated_at
             WHERE users.kind = 'spotify'",
        )
        .bind(id.as_str())
        .bind(display_name)
        .bind(access)
        .bind(refresh)
        .bind(to_ms(tokens.expires_at))
        .bind(&tokens.scope)
        .bind(now)
        .bind(i64::from(seats))
        .execute(&self.writer)
        .await?;
        self.logins.users.forget(id);
        Ok(done.rows_affected() == 1)
    }

    /// Stores refreshed tokens.
    pub async fn save_tokens(&self, id: &UserId, tokens: &Tokens) -> Result<(), DbError> {
        let (access, refresh) = self.seal_tokens(id.as_str(), tokens)?;
        sqlx::query(
            "UPDATE users SET access_token = ?2,
                              refresh_token = COALESCE(?3, refresh_token),
                              token_expires_at = ?4, scope = ?5, updated_at = ?6
             WHERE id = ?1",
        )
        .bind(id.as_str())
        .bind(access)
        .bind(refresh)
        .bind(to_ms(tokens.expires_at))
        .bind(&tokens.scope)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The user's stored tokens, decrypted.
    pub async fn load_tokens(&self, id: &UserId) -> Result<Option<Tokens>, DbError> {
        let row = sqlx::query(
            "SELECT access_token, refresh_token, token_expires_at, scope FROM users WHERE id = ?1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let access: Vec<u8> = row.try_get(0)?;
        let refresh: Option<Vec<u8>> = row.try_get(1)?;
        let expires_at: i64 = row.try_get(2)?;
        let scope: String = row.try_get(3)?;
        let user = id.as_str();
        let access = self
            .cipher
            .open(&access, format!("users:{user}:access").as_bytes())?;
        let refresh = refresh
            .map(|r| {
                self.cipher
                    .open(&r, format!("users:{user}:refresh").as_bytes())
            })
            .transpose()?;
        let access = match String::from_utf8(access) {
            Ok(s) => SecretString::from(s),
            Err(_) => return Err(CryptoError.into()),
        };
        let refresh = match refresh.map(String::from_utf8).transpose() {
            Ok(r) => r.map(SecretString::from),
            Err(_) => return Err(CryptoError.into()),
        };
        Ok(Some(Tokens {
            access,
            refresh,
            expires_at: from_ms(expires_at),
            scope,
        }))
    }

    /// A user by id.
    pub async fn user(&self, id: &UserId) -> Result<Option<UserRecord>, DbError> {
        let row = sqlx::query(
            "SELECT id, display_name, needs_reauth, spectating FROM users WHERE id = ?1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    /// Marks (or clears) "must log in again".
    pub async fn set_needs_reauth(&self, id: &UserId, value: bool) -> Result<(), DbError> {
        sqlx::query("UPDATE users SET needs_reauth = ?2, updated_at = ?3 WHERE id = ?1")
            .bind(id.as_str())
            .bind(value)
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        self.logins.users.forget(id);
        Ok(())
    }

    // ---- top tracks ----------------------------------------------------------------------

    /// Replaces a user's stored top tracks.
    pub async fn save_top_tracks(
        &self,
        user: &UserId,
        tracks: &[Track],
        time_range: &str,
    ) -> Result<(), DbError> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM top_tracks WHERE user_id = ?1")
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        // One statement for all of them: a statement is a round trip to SQLite's thread.
        if !tracks.is_empty() {
            let rows = tracks
                .iter()
                .enumerate()
                .map(|(rank, track)| Ok((rank as i64, serde_json::to_string(track)?)))
                .collect::<Result<Vec<_>, DbError>>()?;
            sqlx::QueryBuilder::new(
                "INSERT INTO top_tracks (user_id, rank, track, time_range, fetched_at) ",
            )
            .push_values(rows, |mut row, (rank, track)| {
                row.push_bind(user.as_str())
                    .push_bind(rank)
                    .push_bind(track)
                    .push_bind(time_range)
                    .push_bind(now);
            })
            .build()
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A user's stored top tracks and when they were fetched (None if never).
    pub async fn top_tracks(&self, user: &UserId) -> Result<Option<(Vec<Track>, i64)>, DbError> {
        let rows = sqlx::query(
            "SELECT track, fetched_at FROM top_tracks WHERE user_id = ?1 ORDER BY rank",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let fetched_at: i64 = first.try_get(1)?;
        let tracks = rows
            .iter()
            .map(|r| Ok(serde_json::from_str(r.try_get::<&str, _>(0)?)?))
            .collect::<Result<Vec<Track>, DbError>>()?;
        Ok(Some((tracks, fetched_at)))
    }

    // ---- listening sessions (the rest is in `sessions.rs`) ----------------------------

    /// The session an invite code opens.
    pub async fn session_by_invite(&self, code: &str) -> Result<Option<SessionId>, DbError> {
        self.session_by(
            &self.invites,
            "SELECT id FROM listening_sessions WHERE invite_code = ?1",
            code,
        )
        .await
    }

    /// The session a display key shows. A revoked key has no row (and no cached answer: the
    /// revocation's write forgets it).
    pub async fn session_by_display(&self, key: &str) -> Result<Option<SessionId>, DbError> {
        self.session_by(
            &self.displays,
            "SELECT session_id FROM session_displays WHERE display_key = ?1",
            key,
        )
        .await
    }

    /// The session `query` finds for the secret `key`, through `cache` (only found sessions
    /// are cached: unknown keys are bounded by the callers' rate limits instead).
    async fn session_by(
        &self,
        cache: &ReadCache<String, SessionId>,
        query: &'static str,
        key: &str,
    ) -> Result<Option<SessionId>, DbError> {
        if let Some(id) = cache.get(key) {
            return Ok(Some(id));
        }
        let ticket = cache.ticket();
        let id: Option<String> = sqlx::query_scalar(query)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        let id = id.and_then(|id| id.parse().ok());
        if let Some(id) = id {
            cache.fill(ticket, key.to_owned(), id);
        }
        Ok(id)
    }

    /// Live (not ended) sessions a user is a member of, newest first.
    pub async fn sessions_of_user(&self, user: &UserId) -> Result<Vec<SessionSummary>, DbError> {
        let rows = sqlx::query(
            "SELECT s.id, s.state, m.role, s.host_id, COALESCE(h.display_name, s.host_id),
                    (SELECT COUNT(*) FROM session_members c WHERE c.session_id = s.id)
             FROM session_members m
             JOIN listening_sessions s ON s.id = m.session_id
             LEFT JOIN users h ON h.id = s.host_id
             WHERE m.user_id = ?1 AND s.state != 'ended'
             ORDER BY s.updated_at DESC",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .filter_map(|r| {
                let id: String = match r.try_get(0) {
                    Ok(id) => id,
                    Err(e) => return Some(Err(e.into())),
                };
                let id = id.parse().ok()?;
                Some((|| {
                    Ok(SessionSummary {
                        id,
                        state: r.try_get(1)?,
                        role: r.try_get(2)?,
                        host_id: r.try_get(3)?,
                        host_name: r.try_get(4)?,
                        member_count: r.try_get(5)?,
                    })
                })())
            })
            .collect()
    }
}

/// Copies the WAL back into the database file every [`CHECKPOINT_EVERY`], on a read
/// connection: a passive checkpoint never blocks the writer, and the WAL stays small (readers
/// slow down as it grows). Ends when the pool is closed.
async fn checkpoints(pool: SqlitePool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

/// A user from `id, display_name, needs_reauth, spectating` (the first four columns).
fn user_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<UserRecord, DbError> {
    let spectating = row
        .try_get::<Option<String>, _>(3)?
        .map(|id| SessionId::from_str(&id))
        .transpose()
        .map_err(|_| DbError::Corrupt("a spectator's session id".into()))?;
    Ok(UserRecord {
        id: UserId::new(row.try_get::<String, _>(0)?),
        display_name: row.try_get(1)?,
        needs_reauth: row.try_get(2)?,
        spectating,
    })
}
