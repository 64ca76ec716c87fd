//! Persistence (sqlx, runtime-checked queries): users with encrypted tokens, login sessions,
//! OAuth states, top tracks, and listening sessions with their members and queue.
//!
//! Two stores behind one [`Database`]: SQLite (the default, one file, one instance) and
//! PostgreSQL (`SESH_DATABASE_URL=postgres://…`, for several instances), chosen at start from
//! the URL, each with its own migrations of the same names (`migrations/`,
//! `migrations/postgres/`). Each driver is used natively (no `Any` driver): a query is written
//! once in the dialect both speak (`$1` parameters, `ON CONFLICT`, `RETURNING`, `TRUE`/`FALSE`,
//! JSON documents bound and read as [`Json`]) and [`on!`] compiles it once per driver; the
//! few statements the two spell differently are [`Dialects`].
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
    PgConnection, Postgres, Sqlite, SqliteConnection, Transaction,
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
    types::Json,
};

use crate::{
    crypto::{CryptoError, TokenCipher},
    read_cache::{DisplayCache, InviteCache, LoginCache, ReadCache},
};

/// Read connections (writes have their own one, see [`Database`]).
const READERS: u32 = 7;
/// How often the WAL is checkpointed (see [`checkpoints`]).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// Connections to PostgreSQL per instance (reads and writes share them: PostgreSQL has no
/// single-writer lock to queue for).
const POSTGRES_CONNECTIONS: u32 = 16;
/// The advisory lock that serializes taking a Spotify seat on PostgreSQL (SQLite's single
/// writer does that by itself): any constant no other statement uses.
const SEAT_LOCK: i64 = 0x5345_5348_5345_4154; // "SESHSEAT"

mod chat;
mod listeners;
mod logins;
mod owners;
mod playlists;
mod seats;
mod sessions;

pub use crate::read_cache::UserRecord;

pub use logins::{OAuthState, OAuthTake, SWEEP_EVERY, Sweep, spawn_sweeper};
pub use owners::{Claim, Ownership};
pub use playlists::SavedPlaylist;
pub use seats::{SeatHolder, Seating};

/// Embedded migrations from the repository's `migrations/` folder (SQLite's).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");
/// PostgreSQL's, of the same names, in `migrations/postgres/`.
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// One thing per store: a pool, a connection, a transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Either<S, P> {
    /// SQLite's.
    Sqlite(S),
    /// PostgreSQL's.
    Postgres(P),
}

impl<S, P> Either<S, P> {
    /// The text of `statement` this store speaks.
    fn pick(&self, statement: &Dialects) -> &'static str {
        match self {
            Self::Sqlite(_) => statement.sqlite,
            Self::Postgres(_) => statement.postgres,
        }
    }
}

/// A statement the two stores spell differently (SQLite's `rowid` and two-argument `MAX`).
pub(crate) struct Dialects {
    sqlite: &'static str,
    postgres: &'static str,
}

/// Runs `$body` with `$c` bound to what `$on` (an [`Either`]) holds: the body is compiled once
/// per driver, so one query text and one set of binds serve both stores. Both arms must have
/// one type: results are mapped to plain values (`rows_affected`, tuples, scalars) inside.
macro_rules! on {
    ($on:expr, |$c:ident| $body:expr) => {
        match $on {
            $crate::db::Either::Sqlite($c) => $body,
            $crate::db::Either::Postgres($c) => $body,
        }
    };
}
pub(crate) use on;

/// `$query` (a write of session `$session`'s state) executed by `$db`: fenced in a transaction
/// of its own when this instance keeps leases ([`Database::fence`]), straight on the writer
/// otherwise. How many rows it changed.
macro_rules! fenced_execute {
    ($db:expr, $session:expr, $query:expr) => {{
        if $db.ownership().is_some() {
            let mut tx = $db.begin().await?;
            $db.fence(&mut tx, $session).await?;
            let done = $crate::db::execute!(tx.conn(), $query)?;
            tx.commit().await?;
            Ok::<u64, $crate::db::DbError>(done)
        } else {
            $crate::db::execute!($db.writer(), $query).map_err($crate::db::DbError::from)
        }
    }};
}
pub(crate) use fenced_execute;

/// `$query` executed on `$on`: how many rows it changed.
macro_rules! execute {
    ($on:expr, $query:expr) => {
        $crate::db::on!($on, |c| $query
            .execute(c)
            .await
            .map(|done| done.rows_affected()))
    };
}
pub(crate) use execute;

/// The pools of one store.
#[derive(Clone, Debug)]
enum Pools {
    /// Reads on `pool`, every write on `writer` (see [`Database`]).
    Sqlite {
        pool: SqlitePool,
        writer: SqlitePool,
    },
    /// One pool for both.
    Postgres { pool: PgPool },
}

/// A transaction on either store.
pub(crate) struct Tx(Either<Transaction<'static, Sqlite>, Transaction<'static, Postgres>>);

impl Tx {
    /// Its connection, for [`on!`].
    pub(crate) fn conn(&mut self) -> Either<&mut SqliteConnection, &mut PgConnection> {
        match &mut self.0 {
            Either::Sqlite(tx) => Either::Sqlite(&mut **tx),
            Either::Postgres(tx) => Either::Postgres(&mut **tx),
        }
    }

    pub(crate) async fn commit(self) -> Result<(), DbError> {
        match self.0 {
            Either::Sqlite(tx) => tx.commit().await?,
            Either::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The store refused or failed.
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
    /// This instance does not hold the session's lease (any more): another runs it, and the
    /// write was not made.
    #[error("another instance runs this session")]
    Fenced,
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

/// The database handle (cheap to clone: the pools and a cipher).
///
/// On SQLite every write goes through `writer`, a pool of one connection: SQLite lets one
/// writer in at a time anyway, and writers queueing here (in order, woken as soon as the connection is
/// free) do much better under load than several connections racing for the file lock, where
/// the losers sleep in SQLite's busy handler in steps of up to 100 ms (a join storm saw
/// second-long tails that way). Reads use `pool` and, in WAL mode, never wait for the writer.
#[derive(Clone, Debug)]
pub struct Database {
    pools: Pools,
    cipher: TokenCipher,
    /// Shared by clones: an invalidation through one must reach all.
    logins: std::sync::Arc<LoginCache>,
    invites: std::sync::Arc<InviteCache>,
    displays: std::sync::Arc<DisplayCache>,
    /// The first Spotify user, once there is one: users rows are never deleted (only a
    /// spectator's that never joined), so it never changes and every page's `/api/me/login`
    /// asks SQLite once.
    first_user: std::sync::Arc<std::sync::OnceLock<UserId>>,
    /// This instance's session leases, on PostgreSQL with several instances (`owners.rs`).
    ownership: Option<std::sync::Arc<Ownership>>,
}

impl Database {
    /// Opens the store `url` names (`postgres://…` or `postgresql://…`: PostgreSQL; anything
    /// else: an SQLite file, created if missing, in WAL mode) and runs its migrations.
    pub async fn connect(url: &str, cipher: TokenCipher) -> Result<Self, DbError> {
        let pools = if is_postgres(url) {
            let pool = PgPoolOptions::new()
                .max_connections(POSTGRES_CONNECTIONS)
                .connect_with(PgConnectOptions::from_str(url)?.application_name("sesh"))
                .await?;
            // sqlx takes an advisory lock around the migrations: instances starting together
            // migrate once.
            POSTGRES_MIGRATOR.run(&pool).await?;
            Pools::Postgres { pool }
        } else {
            Self::connect_sqlite(url).await?
        };
        Ok(Self {
            pools,
            cipher,
            logins: std::sync::Arc::default(),
            invites: std::sync::Arc::default(),
            displays: std::sync::Arc::default(),
            first_user: std::sync::Arc::default(),
            ownership: None,
        })
    }

    async fn connect_sqlite(url: &str) -> Result<Pools, DbError> {
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
        Ok(Pools::Sqlite { pool, writer })
    }

    /// Whether answers are kept in memory ([`crate::read_cache`]): only on SQLite, where this
    /// process is the only writer. On PostgreSQL another instance may log a user out, rotate
    /// an invite or revoke a display, and nothing tells this one yet, so it reads every time.
    fn caches_reads(&self) -> bool {
        matches!(self.pools, Pools::Sqlite { .. })
    }

    /// Which store this is: `"sqlite"` or `"postgres"` (logs, metrics).
    pub fn kind(&self) -> &'static str {
        match self.pools {
            Pools::Sqlite { .. } => "sqlite",
            Pools::Postgres { .. } => "postgres",
        }
    }

    /// The PostgreSQL pool (the cluster's hints); `None` on SQLite.
    pub fn postgres_pool(&self) -> Option<&PgPool> {
        match &self.pools {
            Pools::Postgres { pool } => Some(pool),
            Pools::Sqlite { .. } => None,
        }
    }

    /// SQLite's read pool (tests that look at the file), `None` on PostgreSQL.
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.pools {
            Pools::Sqlite { pool, .. } => Some(pool),
            Pools::Postgres { .. } => None,
        }
    }

    /// Where reads go.
    pub(crate) fn reader(&self) -> Either<&SqlitePool, &PgPool> {
        match &self.pools {
            Pools::Sqlite { pool, .. } => Either::Sqlite(pool),
            Pools::Postgres { pool } => Either::Postgres(pool),
        }
    }

    /// Where writes go.
    pub(crate) fn writer(&self) -> Either<&SqlitePool, &PgPool> {
        match &self.pools {
            Pools::Sqlite { writer, .. } => Either::Sqlite(writer),
            Pools::Postgres { pool } => Either::Postgres(pool),
        }
    }

    /// A write transaction.
    pub(crate) async fn begin(&self) -> Result<Tx, DbError> {
        Ok(Tx(match self.writer() {
            Either::Sqlite(pool) => Either::Sqlite(pool.begin().await?),
            Either::Postgres(pool) => Either::Postgres(pool.begin().await?),
        }))
    }

    /// A read transaction: one connection, and on PostgreSQL one snapshot, for reads that
    /// belong together.
    pub(crate) async fn begin_read(&self) -> Result<Tx, DbError> {
        Ok(Tx(match self.reader() {
            Either::Sqlite(pool) => Either::Sqlite(pool.begin().await?),
            Either::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                Either::Postgres(tx)
            }
        }))
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), DbError> {
        execute!(self.reader(), sqlx::query("SELECT 1"))?;
        Ok(())
    }

    /// Closes every connection (shutdown).
    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { pool, writer } => {
                pool.close().await;
                writer.close().await;
            }
            Pools::Postgres { pool } => pool.close().await,
        }
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
    /// (`0`: no limit); whether they did. Without a seat nothing is stored. One statement, on
    /// SQLite's one writer or under PostgreSQL's seat lock, so two logins at once cannot both
    /// take the last seat.
    pub async fn upsert_user(
        &self,
        id: &UserId,
        display_name: &str,
        tokens: &Tokens,
        seats: u32,
    ) -> Result<bool, DbError> {
        let (access, refresh) = self.seal_tokens(id.as_str(), tokens)?;
        let now = now_ms();
        // The statement, once for each way it runs below.
        macro_rules! upsert {
            () => {
                sqlx::query(
                    "INSERT INTO users (id, display_name, access_token, refresh_token, token_expires_at,
                                        scope, needs_reauth, created_at, updated_at)
                     SELECT $1, $2, $3, $4, $5, $6, FALSE, $7, $7
                     WHERE $8 = 0
                        OR EXISTS (SELECT 1 FROM users WHERE id = $1 AND seated)
                        OR (SELECT COUNT(*) FROM users WHERE seated) < $8
                     ON CONFLICT(id) DO UPDATE SET
                        display_name = excluded.display_name,
                        access_token = excluded.access_token,
                        refresh_token = COALESCE(excluded.refresh_token, users.refresh_token),
                        token_expires_at = excluded.token_expires_at,
                        scope = excluded.scope,
                        needs_reauth = FALSE,
                        seated = TRUE,
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
            };
        }
        let done = match self.writer() {
            // One statement on the one writer: nothing else takes a seat meanwhile.
            Either::Sqlite(writer) => upsert!().execute(writer).await?.rows_affected(),
            Either::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(SEAT_LOCK)
                    .execute(&mut *tx)
                    .await?;
                let done = upsert!().execute(&mut *tx).await?.rows_affected();
                tx.commit().await?;
                done
            }
        };
        self.logins.users.forget(id);
        Ok(done == 1)
    }

    /// Stores refreshed tokens.
    pub async fn save_tokens(&self, id: &UserId, tokens: &Tokens) -> Result<(), DbError> {
        let (access, refresh) = self.seal_tokens(id.as_str(), tokens)?;
        execute!(
            self.writer(),
            sqlx::query(
                "UPDATE users SET access_token = $2,
                                  refresh_token = COALESCE($3, refresh_token),
                                  token_expires_at = $4, scope = $5, updated_at = $6
                 WHERE id = $1",
            )
            .bind(id.as_str())
            .bind(access)
            .bind(refresh)
            .bind(to_ms(tokens.expires_at))
            .bind(&tokens.scope)
            .bind(now_ms())
        )?;
        Ok(())
    }

    /// The user's stored tokens, decrypted.
    pub async fn load_tokens(&self, id: &UserId) -> Result<Option<Tokens>, DbError> {
        /// Sealed access token, sealed refresh token, expiry, scope.
        type TokenRow = (Vec<u8>, Option<Vec<u8>>, i64, String);
        let row: Option<TokenRow> = on!(self.reader(), |c| {
            sqlx::query_as(
                "SELECT access_token, refresh_token, token_expires_at, scope FROM users
                 WHERE id = $1",
            )
            .bind(id.as_str())
            .fetch_optional(c)
            .await
        })?;
        let Some((access, refresh, expires_at, scope)) = row else {
            return Ok(None);
        };
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
        let row: Option<UserColumns> = on!(self.reader(), |c| {
            sqlx::query_as(
                "SELECT id, display_name, needs_reauth, spectating FROM users WHERE id = $1",
            )
            .bind(id.as_str())
            .fetch_optional(c)
            .await
        })?;
        row.map(user_from_columns).transpose()
    }

    /// Marks (or clears) "must log in again".
    pub async fn set_needs_reauth(&self, id: &UserId, value: bool) -> Result<(), DbError> {
        execute!(
            self.writer(),
            sqlx::query("UPDATE users SET needs_reauth = $2, updated_at = $3 WHERE id = $1")
                .bind(id.as_str())
                .bind(value)
                .bind(now_ms())
        )?;
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
        let mut tx = self.begin().await?;
        execute!(
            tx.conn(),
            sqlx::query("DELETE FROM top_tracks WHERE user_id = $1").bind(user.as_str())
        )?;
        // One statement for all of them: a statement is a round trip to SQLite's thread (or to
        // PostgreSQL).
        if !tracks.is_empty() {
            on!(tx.conn(), |c| {
                sqlx::QueryBuilder::new(
                    "INSERT INTO top_tracks (user_id, rank, track, time_range, fetched_at) ",
                )
                .push_values(tracks.iter().enumerate(), |mut row, (rank, track)| {
                    row.push_bind(user.as_str())
                        .push_bind(rank as i64)
                        .push_bind(Json(track))
                        .push_bind(time_range)
                        .push_bind(now);
                })
                .build()
                .execute(c)
                .await
                .map(drop)
            })?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A user's stored top tracks and when they were fetched (None if never).
    pub async fn top_tracks(&self, user: &UserId) -> Result<Option<(Vec<Track>, i64)>, DbError> {
        let rows: Vec<(Json<Track>, i64)> = on!(self.reader(), |c| {
            sqlx::query_as(
                "SELECT track, fetched_at FROM top_tracks WHERE user_id = $1 ORDER BY rank",
            )
            .bind(user.as_str())
            .fetch_all(c)
            .await
        })?;
        let Some(&(_, fetched_at)) = rows.first() else {
            return Ok(None);
        };
        let tracks = rows.into_iter().map(|(track, _)| track.0).collect();
        Ok(Some((tracks, fetched_at)))
    }

    // ---- listening sessions (the rest is in `sessions.rs`) ----------------------------

    /// The session an invite code opens.
    pub async fn session_by_invite(&self, code: &str) -> Result<Option<SessionId>, DbError> {
        self.session_by(
            &self.invites,
            "SELECT id FROM listening_sessions WHERE invite_code = $1",
            code,
        )
        .await
    }

    /// The session a display key shows. A revoked key has no row (and no cached answer: the
    /// revocation's write forgets it).
    pub async fn session_by_display(&self, key: &str) -> Result<Option<SessionId>, DbError> {
        self.session_by(
            &self.displays,
            "SELECT session_id FROM session_displays WHERE display_key = $1",
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
        let id: Option<String> = on!(self.reader(), |c| {
            sqlx::query_scalar(query).bind(key).fetch_optional(c).await
        })?;
        let id = id.and_then(|id| id.parse().ok());
        if let Some(id) = id.filter(|_| self.caches_reads()) {
            cache.fill(ticket, key.to_owned(), id);
        }
        Ok(id)
    }

    /// Live (not ended) sessions a user is a member of, newest first.
    pub async fn sessions_of_user(&self, user: &UserId) -> Result<Vec<SessionSummary>, DbError> {
        let rows: Vec<(String, String, String, String, String, i64)> = on!(self.reader(), |c| {
            sqlx::query_as(
                "SELECT s.id, s.state, m.role, s.host_id, COALESCE(h.display_name, s.host_id),
                        (SELECT COUNT(*) FROM session_members c WHERE c.session_id = s.id)
                 FROM session_members m
                 JOIN listening_sessions s ON s.id = m.session_id
                 LEFT JOIN users h ON h.id = s.host_id
                 WHERE m.user_id = $1 AND s.state != 'ended'
                 ORDER BY s.updated_at DESC",
            )
            .bind(user.as_str())
            .fetch_all(c)
            .await
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, state, role, host_id, host_name, member_count)| {
                Some(SessionSummary {
                    id: id.parse().ok()?,
                    state,
                    role,
                    host_id,
                    host_name,
                    member_count,
                })
            })
            .collect())
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

/// `id, display_name, needs_reauth, spectating` of a user.
type UserColumns = (String, String, bool, Option<String>);

/// A user from its [`UserColumns`].
fn user_from_columns(
    (id, display_name, needs_reauth, spectating): UserColumns,
) -> Result<UserRecord, DbError> {
    let spectating = spectating
        .map(|id| SessionId::from_str(&id))
        .transpose()
        .map_err(|_| DbError::Corrupt("a spectator's session id".into()))?;
    Ok(UserRecord {
        id: UserId::new(id),
        display_name,
        needs_reauth,
        spectating,
    })
}

/// Whether `url` names a PostgreSQL database.
fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}
