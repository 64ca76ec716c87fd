//! Which instance runs a session's hub and poller when several share one PostgreSQL database
//! (`session_owner`, `nodes`; issue 22). A lease per session, claimed with one conditional
//! upsert (a new row, this node's own, or an expired one), renewed by [`Database::renew_leases`]
//! every third of its TTL, expiring by the database's clock only; and a fencing epoch, bumped
//! by every claim, that every write of the session's state checks ([`Database::fence`]) under
//! a share lock on the lease row, so an instance that lost the lease writes nothing and a
//! claim waits for a write in progress.
//!
//! This instance also keeps its own view ([`Ownership`]): the epoch of each lease it holds and
//! until when it is valid by the process's monotonic clock (when the renewal that last
//! extended it was sent, plus the TTL). A hub stops its Spotify work once that passed, even
//! before the database says so (a paused or cut-off instance cannot know better).
//!
//! On SQLite there is one instance by design: no leases, no fences ([`Database::ownership`] is
//! `None`), and the tables stay empty.

use std::{collections::HashMap, time::Duration};

use parking_lot::Mutex;
use sesh_session::SessionId;
use sqlx::PgPool;
use tokio::time::Instant;

use super::{Database, DbError, Either, Tx};

/// PostgreSQL's clock in Unix milliseconds, for `concat!`: every statement here is one
/// `&'static str` (no text built per call; the fence runs before every session write).
macro_rules! now {
    () => {
        "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
    };
}

/// A lease this instance holds.
#[derive(Debug, Clone, Copy)]
struct Held {
    epoch: i64,
    /// Valid until then by this process's clock.
    until: Instant,
}

/// This instance's leases (see the module docs).
#[derive(Debug)]
pub struct Ownership {
    node: String,
    ttl: Duration,
    held: Mutex<HashMap<SessionId, Held>>,
    /// Whether this process's first heartbeat is in (it sets `nodes.started_at`).
    beating: std::sync::atomic::AtomicBool,
    /// Whether a plain request has reached this process ([`Ownership::reached`]).
    reached: std::sync::atomic::AtomicBool,
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The lease is this instance's, with this epoch.
    Owned(i64),
    /// Another instance holds it, for about this long still.
    Elsewhere(Duration),
    /// No such session.
    Missing,
}

impl Ownership {
    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// How long a lease lasts without renewal.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The epoch of `session`'s lease while this instance holds it and it is still valid by
    /// this process's clock.
    pub fn valid(&self, session: SessionId) -> Option<i64> {
        let held = self.held.lock();
        let lease = held.get(&session)?;
        (Instant::now() < lease.until).then_some(lease.epoch)
    }

    /// The sessions whose leases this instance holds (valid or not).
    pub fn held(&self) -> Vec<SessionId> {
        self.held.lock().keys().copied().collect()
    }

    /// Notes that a plain request (not a WebSocket, not a health check) was answered here:
    /// Nginx sends this instance requests, and counts it up (it marks an instance it saw fail
    /// up again only once a request to it completes). The next heartbeat says so, and from
    /// then on the others may hand sessions back to it.
    pub fn reached(&self) {
        self.reached
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn forget(&self, session: SessionId, epoch: i64) {
        let mut held = self.held.lock();
        if held.get(&session).is_some_and(|h| h.epoch == epoch) {
            held.remove(&session);
        }
    }
}

impl Database {
    /// Turns leases on (PostgreSQL only: on SQLite this instance is the only one, and this
    /// does nothing) for node `node` with leases of `ttl`.
    pub fn with_ownership(mut self, node: String, ttl: Duration) -> Self {
        if matches!(self.writer(), Either::Postgres(_)) {
            self.ownership = Some(std::sync::Arc::new(Ownership {
                node,
                ttl,
                held: Mutex::default(),
                beating: std::sync::atomic::AtomicBool::new(false),
                reached: std::sync::atomic::AtomicBool::new(false),
            }));
        }
        self
    }

    /// This instance's leases, when it has any to keep (PostgreSQL).
    pub fn ownership(&self) -> Option<&Ownership> {
        self.ownership.as_deref()
    }

    fn owned_pool(&self) -> Option<(&Ownership, &PgPool)> {
        match (self.ownership(), self.writer()) {
            (Some(own), Either::Postgres(pool)) => Some((own, pool)),
            _ => None,
        }
    }

    /// Claims `session`'s lease for this instance: free, expired or already this node's (a
    /// claim always bumps the epoch, so a hub that ran here before is fenced too). Without
    /// leases (SQLite) every session is this instance's, at epoch 0.
    pub async fn claim(&self, session: SessionId) -> Result<Claim, DbError> {
        let Some((own, pool)) = self.owned_pool() else {
            return Ok(Claim::Owned(0));
        };
        let sent = Instant::now();
        let epoch: Option<i64> = sqlx::query_scalar(concat!(
            "INSERT INTO session_owner (session_id, owner_node, epoch, lease_expires_at)
             SELECT $1, $2, 1, ",
            now!(),
            " + $3
             WHERE EXISTS (SELECT 1 FROM listening_sessions WHERE id = $1)
             ON CONFLICT (session_id) DO UPDATE SET
                owner_node = excluded.owner_node,
                epoch = session_owner.epoch + 1,
                lease_expires_at = excluded.lease_expires_at
             WHERE session_owner.owner_node = excluded.owner_node
                OR session_owner.lease_expires_at <= ",
            now!(),
            "
             RETURNING epoch"
        ))
        .bind(session.to_string())
        .bind(&own.node)
        .bind(ms(own.ttl))
        .fetch_optional(pool)
        .await?;
        if let Some(epoch) = epoch {
            own.held.lock().insert(
                session,
                Held {
                    epoch,
                    until: sent + own.ttl,
                },
            );
            return Ok(Claim::Owned(epoch));
        }
        let left: Option<i64> = sqlx::query_scalar(concat!(
            "SELECT lease_expires_at - ",
            now!(),
            " FROM session_owner WHERE session_id = $1"
        ))
        .bind(session.to_string())
        .fetch_optional(pool)
        .await?;
        Ok(match left {
            Some(left) => Claim::Elsewhere(Duration::from_millis(left.clamp(0, i64::MAX) as u64)),
            None => Claim::Missing,
        })
    }

    /// Renews every lease this instance holds, in one statement, and records this node's
    /// heartbeat; the sessions whose leases it no longer holds (taken over, or expired by the
    /// database's clock). Nothing to do without leases.
    pub async fn renew_leases(&self) -> Result<Vec<SessionId>, DbError> {
        let Some((own, pool)) = self.owned_pool() else {
            return Ok(Vec::new());
        };
        let sent = Instant::now();
        // The first heartbeat of this process also says when it started.
        let first = !own.beating.load(std::sync::atomic::Ordering::Relaxed);
        let reached = own.reached.load(std::sync::atomic::Ordering::Relaxed);
        sqlx::query(concat!(
            "INSERT INTO nodes (id, heartbeat_at, started_at, reached) VALUES ($1, ",
            now!(),
            ", ",
            now!(),
            ", $3)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,
                 started_at = CASE WHEN $2 THEN excluded.started_at ELSE nodes.started_at END,
                 reached = excluded.reached"
        ))
        .bind(&own.node)
        .bind(first)
        .bind(reached)
        .execute(pool)
        .await?;
        own.beating
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let sent_epochs: HashMap<SessionId, i64> = own
            .held
            .lock()
            .iter()
            .map(|(id, held)| (*id, held.epoch))
            .collect();
        if sent_epochs.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, epochs): (Vec<String>, Vec<i64>) = sent_epochs
            .iter()
            .map(|(id, epoch)| (id.to_string(), *epoch))
            .unzip();
        // The rows are locked in the order of their ids first, the order the position writer
        // share-locks them in too (`save_positions`): locked in any other order, a renewal
        // and a batch of positions deadlock (seen under load: PostgreSQL then fails one).
        let renewed: Vec<(String, i64)> = sqlx::query_as(concat!(
            "WITH mine AS MATERIALIZED (
               SELECT o.session_id FROM session_owner o
               JOIN UNNEST($3::TEXT[], $4::BIGINT[]) AS m(session_id, epoch)
                 ON o.session_id = m.session_id AND o.epoch = m.epoch
               WHERE o.owner_node = $1 AND o.lease_expires_at > ",
            now!(),
            "
               ORDER BY o.session_id COLLATE \"C\"
               FOR NO KEY UPDATE OF o
             )
             UPDATE session_owner o SET lease_expires_at = ",
            now!(),
            " + $2
             FROM mine WHERE o.session_id = mine.session_id
             RETURNING o.session_id, o.epoch"
        ))
        .bind(&own.node)
        .bind(ms(own.ttl))
        .bind(&ids)
        .bind(&epochs)
        .fetch_all(pool)
        .await?;
        let renewed: HashMap<SessionId, i64> = renewed
            .into_iter()
            .filter_map(|(id, epoch)| Some((id.parse().ok()?, epoch)))
            .collect();
        let mut lost = Vec::new();
        own.held.lock().retain(|id, lease| {
            // Claimed (again) by this instance while the statement was out: that claim stands.
            if sent_epochs.get(id) != Some(&lease.epoch) {
                return true;
            }
            if renewed.get(id) == Some(&lease.epoch) {
                lease.until = sent + own.ttl;
                true
            } else {
                lost.push(*id);
                false
            }
        });
        Ok(lost)
    }

    /// Up to `limit` playing sessions whose lease expired (their instance died, or gave the
    /// lease up on shutdown): nobody runs them, and nobody feeds Spotify their next entry.
    /// Empty without leases.
    pub async fn adrift_sessions(&self, limit: u32) -> Result<Vec<SessionId>, DbError> {
        let Some((_, pool)) = self.owned_pool() else {
            return Ok(Vec::new());
        };
        let ids: Vec<String> = sqlx::query_scalar(concat!(
            "SELECT o.session_id FROM session_owner o
             JOIN listening_sessions s ON s.id = o.session_id
             WHERE s.state = 'playing' AND o.lease_expires_at <= ",
            now!(),
            "
             ORDER BY o.lease_expires_at LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
        Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
    }

    /// Whether another instance holds `session`'s lease, unexpired by the database's clock.
    /// Never without leases.
    pub async fn runs_elsewhere(&self, session: SessionId) -> Result<bool, DbError> {
        let Some((own, pool)) = self.owned_pool() else {
            return Ok(false);
        };
        Ok(sqlx::query_scalar::<_, i32>(concat!(
            "SELECT 1 FROM session_owner
             WHERE session_id = $1 AND owner_node <> $2 AND lease_expires_at > ",
            now!()
        ))
        .bind(session.to_string())
        .bind(&own.node)
        .fetch_optional(pool)
        .await?
        .is_some())
    }

    /// This instance's share of the app's Spotify budget: `(leases here + 1) / (leases + live
    /// instances)`, counted by the database (every instance counts the same rows, so the
    /// shares add up to one; the `+ 1` gives an instance without sessions a share to start
    /// one with). Leases of ended sessions do not count: their hubs stay loaded a while, for
    /// the recap, and make no Spotify call. `None` without leases.
    pub async fn budget_share(&self) -> Result<Option<f64>, DbError> {
        let Some((own, pool)) = self.owned_pool() else {
            return Ok(None);
        };
        let (here, all, live): (i64, i64, i64) = sqlx::query_as(concat!(
            "SELECT
               (SELECT COUNT(*) FROM session_owner o JOIN listening_sessions s ON s.id = o.session_id
                WHERE o.owner_node = $1 AND s.state <> 'ended' AND o.lease_expires_at > ",
            now!(),
            "),
               (SELECT COUNT(*) FROM session_owner o JOIN listening_sessions s ON s.id = o.session_id
                WHERE s.state <> 'ended' AND o.lease_expires_at > ",
            now!(),
            "),
               (SELECT COUNT(*) FROM nodes WHERE heartbeat_at > ",
            now!(),
            " - $2)"
        ))
        .bind(&own.node)
        .bind(ms(own.ttl))
        .fetch_one(pool)
        .await?;
        // This instance counts even before its first heartbeat is in.
        let live = live.max(1);
        Ok(Some((here + 1) as f64 / (all + live) as f64))
    }

    /// The nodes whose heartbeat is younger than a lease (the live ones), each with its last
    /// heartbeat (the database's clock, in milliseconds) and whether it is ready to be handed
    /// sessions: its process up for a whole lease (by its first heartbeat), and reached by a
    /// plain request since it started ([`Ownership::reached`]).
    pub async fn live_nodes(&self) -> Result<Vec<(String, i64, bool)>, DbError> {
        let Some((own, pool)) = self.owned_pool() else {
            return Ok(Vec::new());
        };
        Ok(sqlx::query_as(concat!(
            "SELECT id, heartbeat_at, reached AND started_at <= ",
            now!(),
            " - $1 FROM nodes WHERE heartbeat_at > ",
            now!(),
            " - $1"
        ))
        .bind(ms(own.ttl))
        .fetch_all(pool)
        .await?)
    }

    /// Takes this instance's heartbeat out (a clean stop, after its hubs gave their leases
    /// up): the others count it gone at once rather than a lease later, so their sweepers
    /// take its playing sessions over now and hand nothing back to it.
    pub async fn leave(&self) -> Result<(), DbError> {
        let Some((own, pool)) = self.owned_pool() else {
            return Ok(());
        };
        sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(&own.node)
            .execute(pool)
            .await?;
        Ok(())
    }

    /// Gives `session`'s lease up (its hub stopped here): it expires now, keeping its epoch,
    /// so another instance may claim it at once.
    pub async fn release(&self, session: SessionId) -> Result<(), DbError> {
        let Some((own, pool)) = self.owned_pool() else {
            return Ok(());
        };
        let Some(epoch) = own.held.lock().get(&session).map(|h| h.epoch) else {
            return Ok(());
        };
        own.forget(session, epoch);
        sqlx::query(
            "UPDATE session_owner SET lease_expires_at = 0
             WHERE session_id = $1 AND owner_node = $2 AND epoch = $3",
        )
        .bind(session.to_string())
        .bind(&own.node)
        .bind(epoch)
        .execute(pool)
        .await?;
        Ok(())
    }

    /// Within a write transaction: whether this instance may write `session`'s state (it holds
    /// a lease the database agrees is current), holding a share lock on the lease row until
    /// the transaction ends. [`DbError::Fenced`] otherwise, and the lease is forgotten.
    /// Always yes without leases.
    pub(crate) async fn fence(&self, tx: &mut Tx, session: SessionId) -> Result<(), DbError> {
        let (Some(own), Either::Postgres(c)) = (self.ownership(), tx.conn()) else {
            return Ok(());
        };
        let Some(epoch) = own.held.lock().get(&session).map(|h| h.epoch) else {
            return Err(DbError::Fenced);
        };
        let current: Option<i32> = sqlx::query_scalar(concat!(
            "SELECT 1 FROM session_owner
             WHERE session_id = $1 AND owner_node = $2 AND epoch = $3
               AND lease_expires_at > ",
            now!(),
            "
             FOR SHARE"
        ))
        .bind(session.to_string())
        .bind(&own.node)
        .bind(epoch)
        .fetch_optional(c)
        .await?;
        if current.is_none() {
            own.forget(session, epoch);
            return Err(DbError::Fenced);
        }
        Ok(())
    }
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
