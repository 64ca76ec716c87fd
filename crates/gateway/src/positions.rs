//! `PositionWriter`: stores the sessions' now-playing positions in the background, coalesced
//! and batched, so that a track change reaches the members without waiting for SQLite.
//!
//! A track change is the hottest write Sesh has (every playing session, every few minutes, and
//! all at once when many hosts skip together). Hubs [`record`](PositionWriter::record) the new
//! position and broadcast at once; one writer task takes everything recorded so far and stores
//! it in a single transaction (`UPDATE … SET position`),
//! keeping only the latest position per session. SQLite has one writer: one transaction for a
//! thousand sessions costs about what one costs, where a transaction per session queued them
//! for seconds.
//!
//! What a crash can lose: the positions recorded since the last batch was stored (at most one
//! batch, normally milliseconds). That is acceptable because a position is not a fact only Sesh
//! knows: a hub revived with an older position follows the host's player again at its next
//! poll (the track Spotify plays is found in the queue and the position moves to it), and the
//! queue itself, the members and everything a request changed are still stored before they are
//! answered. A graceful shutdown and an idle hub's unload [`flush`](PositionWriter::flush).
//!
//! Each change is also a *play* (the entry and when it started), the recap's record of what
//! played: plays are not coalesced, they are appended in the same transaction. What a crash
//! can lose of them is the same batch; the recap then misses that play's time, not the entry
//! (it is still in the queue).

use std::{collections::HashMap, sync::Arc};

use parking_lot::Mutex;
use sesh_session::{Play, QueueEntryId, SessionId};
use tokio::{runtime::Handle, sync::Notify};
use tokio_util::sync::CancellationToken;

use crate::db::Database;

/// Plays recorded and not yet stored, at most: a writer that cannot store for a long while
/// drops the oldest rather than grow without bound.
const MAX_PENDING_PLAYS: usize = 100_000;

#[derive(Debug, Default)]
struct Pending {
    positions: HashMap<SessionId, usize>,
    plays: Vec<(SessionId, Play)>,
}

/// Background, coalescing store of now-playing positions (cheap to clone).
#[derive(Debug, Clone)]
pub struct PositionWriter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Database,
    /// The latest unstored position per session: bounded by the number of live sessions.
    pending: Mutex<Pending>,
    /// Wakes the writer task when something was recorded.
    wake: Notify,
    /// Held from the drain to the end of the write: a flush that finds nothing pending
    /// because another one just took it waits for that one's write, so "flushed" means
    /// stored (the recap reads plays right after a flush).
    flushing: tokio::sync::Mutex<()>,
}

impl PositionWriter {
    /// Starts the writer task on `runtime`; it stores what is pending and stops when `shutdown`
    /// is cancelled.
    pub fn spawn(db: Database, runtime: &Handle, shutdown: CancellationToken) -> Self {
        let writer = Self {
            inner: Arc::new(Inner {
                db,
                pending: Mutex::new(Pending::default()),
                wake: Notify::new(),
                flushing: tokio::sync::Mutex::new(()),
            }),
        };
        let task = writer.clone();
        runtime.spawn(async move {
            loop {
                tokio::select! {
                    () = task.inner.wake.notified() => task.flush().await,
                    () = shutdown.cancelled() => break,
                }
            }
            task.flush().await;
        });
        writer
    }

    /// Notes that `session` now plays its queue entry `position`, `entry`, since `at_ms`;
    /// stored shortly after. Never waits.
    pub fn record(&self, session: SessionId, position: usize, entry: QueueEntryId, at_ms: i64) {
        {
            let mut pending = self.inner.pending.lock();
            pending.positions.insert(session, position);
            pending.plays.push((
                session,
                Play {
                    entry_id: entry,
                    started_at_ms: at_ms,
                },
            ));
            crate::metrics::positions_pending(pending.positions.len());
            let over = pending.plays.len().saturating_sub(MAX_PENDING_PLAYS);
            if over > 0 {
                pending.plays.drain(..over);
                tracing::warn!(
                    dropped = over,
                    "too many plays waiting to be stored; dropped the oldest"
                );
            }
        }
        self.inner.wake.notify_one();
    }

    /// Notes that `session` started playing `entry` (its first, at position 0) at `at_ms`: a
    /// play, the position being stored with the start itself.
    pub fn record_start(&self, session: SessionId, entry: QueueEntryId, at_ms: i64) {
        self.record(session, 0, entry, at_ms);
    }

    /// Stores every pending position and play now (one transaction). A failed batch is put
    /// back (positions unless a newer one was recorded meanwhile; plays before the newer ones)
    /// and retried at the next wake-up.
    pub async fn flush(&self) {
        let _flushing = self.inner.flushing.lock().await;
        let (positions, plays) = {
            let mut pending = self.inner.pending.lock();
            let positions: Vec<(SessionId, usize)> = pending.positions.drain().collect();
            (positions, std::mem::take(&mut pending.plays))
        };
        crate::metrics::positions_pending(0);
        if positions.is_empty() && plays.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        let stored = self.inner.db.save_positions(&positions, &plays).await;
        crate::metrics::positions_stored(started.elapsed());
        if let Err(e) = stored {
            tracing::warn!(error = %e, sessions = positions.len(), "could not store playback positions; will retry");
            let mut pending = self.inner.pending.lock();
            for (id, position) in positions {
                pending.positions.entry(id).or_insert(position);
            }
            let newer = std::mem::replace(&mut pending.plays, plays);
            pending.plays.extend(newer);
        }
    }
}
