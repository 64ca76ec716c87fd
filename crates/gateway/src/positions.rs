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

use std::{collections::HashMap, sync::Arc};

use parking_lot::Mutex;
use sesh_session::SessionId;
use tokio::{runtime::Handle, sync::Notify};
use tokio_util::sync::CancellationToken;

use crate::db::Database;

/// Background, coalescing store of now-playing positions (cheap to clone).
#[derive(Debug, Clone)]
pub struct PositionWriter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Database,
    /// The latest unstored position per session: bounded by the number of live sessions.
    pending: Mutex<HashMap<SessionId, usize>>,
    /// Wakes the writer task when something was recorded.
    wake: Notify,
}

impl PositionWriter {
    /// Starts the writer task on `runtime`; it stores what is pending and stops when `shutdown`
    /// is cancelled.
    pub fn spawn(db: Database, runtime: &Handle, shutdown: CancellationToken) -> Self {
        let writer = Self {
            inner: Arc::new(Inner {
                db,
                pending: Mutex::new(HashMap::new()),
                wake: Notify::new(),
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

    /// Notes that `session` now plays its queue entry `position`; stored shortly after. Never
    /// waits.
    pub fn record(&self, session: SessionId, position: usize) {
        self.inner.pending.lock().insert(session, position);
        self.inner.wake.notify_one();
    }

    /// Stores every pending position now (one transaction). A failed batch is put back unless
    /// a newer position was recorded meanwhile, and retried at the next wake-up.
    pub async fn flush(&self) {
        let batch: Vec<(SessionId, usize)> = self.inner.pending.lock().drain().collect();
        if batch.is_empty() {
            return;
        }
        if let Err(e) = self.inner.db.save_positions(&batch).await {
            tracing::warn!(error = %e, sessions = batch.len(), "could not store playback positions; will retry");
            let mut pending = self.inner.pending.lock();
            for (id, position) in batch {
                pending.entry(id).or_insert(position);
            }
        }
    }
}
