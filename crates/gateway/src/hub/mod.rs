//! Live sessions: one [`SessionHub`](session_hub) task per session owns its state and its
//! members' connections; the [`HubRegistry`] finds (or revives from SQLite) the hub of a session
//! and talks to it through a bounded command channel.

pub mod fanout;
mod outbound;
mod poller;
mod position_writer;
mod session_hub;
pub mod tracker;

use std::{collections::HashMap, sync::Arc};

use bytestring::ByteString;
use parking_lot::Mutex;
use serde::Serialize;
use sesh_session::{Action, DeviceId, NewMember, Session, SessionId, SessionState, UserId};
use sesh_spotify::{PlaybackState, SpotifyError};
use tokio::sync::{OnceCell, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::{
    error::ApiError,
    state::Core,
    wire::{MemberView, Page, QueueWindow, SessionView, UserRef},
};

pub use fanout::WorkerHandle;
pub use outbound::{OutboundRx, OutboundTx, QueueError, outbound_queue};
pub use poller::PollerHandle;
pub use position_writer::PositionWriter;
pub use session_hub::PAGE_LIMIT_MAX;

/// Commands waiting for a hub beyond this make senders wait (back-pressure, bounded memory).
const COMMAND_QUEUE: usize = 256;

/// Where a hub's answer goes.
pub type Reply<T> = oneshot::Sender<Result<T, ApiError>>;

/// What a WebSocket connection receives from its hub.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A text frame (shared bytes: serialized once per session).
    Frame(ByteString),
    /// Close the socket after the frames before it, with this code and reason.
    Close(u16, &'static str),
}

/// A WebSocket connection registering with its hub.
#[derive(Debug, Clone)]
pub struct NewConnection {
    /// Who is connected.
    pub user: UserId,
    /// The connection's bounded queue.
    pub tx: OutboundTx,
    /// Cancelled when the queue overflowed: the socket closes with 1008.
    pub overflow: CancellationToken,
    /// The worker the socket lives on, which delivers the session's events to it.
    pub worker: WorkerHandle,
}

/// What the host's player is aimed at, for control commands sent from outside the hub.
#[derive(Debug, Clone)]
pub struct ControlTarget {
    /// The host, whose Spotify account is used.
    pub host: UserId,
    /// The session's device.
    pub device: Option<DeviceId>,
    /// The host took their player over (`spotify_status` `host_took_over`): a `play` must go
    /// through [`HubCommand::Resume`] to re-issue the session's queue.
    pub took_over: bool,
}

/// Public preview of an invite (`GET /api/invites/{code}`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InvitePreview {
    /// The session.
    pub session_id: SessionId,
    /// Its host.
    pub host: UserRef,
    /// How many members it has.
    pub member_count: usize,
    /// `lobby`, `playing` or `ended`.
    pub state: SessionState,
    /// For a logged-in caller only: where they stand in this session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub you: Option<PreviewYou>,
}

/// Where the logged-in caller of an invite preview stands (`you`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PreviewYou {
    /// Already a member.
    pub member: bool,
    /// Removed by the host: a join is refused (`banned`) until the host lets them back in.
    pub banned: bool,
}

/// A request to a hub.
#[derive(Debug)]
pub enum HubCommand {
    /// The session as `user` (a member) sees it.
    View {
        /// Caller.
        user: UserId,
        /// Answer.
        reply: Reply<SessionView>,
    },
    /// A page of the members, in join order.
    Members {
        /// Caller (a member).
        user: UserId,
        /// Index of the first member.
        offset: usize,
        /// At most this many (capped at [`PAGE_LIMIT_MAX`]).
        limit: usize,
        /// Answer.
        reply: Reply<Page<MemberView>>,
    },
    /// A page of the queue.
    Queue {
        /// Caller (a member).
        user: UserId,
        /// Index of the first entry.
        offset: usize,
        /// At most this many (capped at [`PAGE_LIMIT_MAX`]).
        limit: usize,
        /// Answer.
        reply: Reply<Page<crate::wire::QueueEntryView>>,
    },
    /// Public invite preview.
    Preview {
        /// The caller, when logged in (the answer then says where they stand).
        viewer: Option<UserId>,
        /// Answer.
        reply: Reply<InvitePreview>,
    },
    /// Join (idempotent).
    Join {
        /// The joining user with their top tracks.
        member: NewMember,
        /// Answer: the session as they see it.
        reply: Reply<SessionView>,
    },
    /// Leave.
    Leave {
        /// Caller.
        user: UserId,
        /// Answer.
        reply: Reply<()>,
    },
    /// Host removes a member.
    Kick {
        /// Caller.
        actor: UserId,
        /// Who is removed.
        target: UserId,
        /// Answer.
        reply: Reply<()>,
    },
    /// Host lets a kicked user join again.
    Unban {
        /// Caller.
        actor: UserId,
        /// Who may join again.
        target: UserId,
        /// Answer.
        reply: Reply<()>,
    },
    /// Host ends the session.
    End {
        /// Caller.
        actor: UserId,
        /// Answer.
        reply: Reply<()>,
    },
    /// Host replaces the invite code (the old link stops working; kicked users stay banned).
    RotateInvite {
        /// Caller.
        actor: UserId,
        /// The new code.
        code: sesh_session::InviteCode,
        /// Answer: the session with its new code.
        reply: Reply<SessionView>,
    },
    /// Host starts playback on a device (on a playing session the host took over: resumes
    /// there, see [`HubCommand::Resume`]).
    Start {
        /// Caller.
        actor: UserId,
        /// The device.
        device: DeviceId,
        /// Answer: the queue (whole or its window) and the now-playing index.
        reply: Reply<(QueueWindow, usize)>,
    },
    /// Host resumes. After a take-over the remaining queue (from the current entry) is played
    /// again on `device` (default: the session's device) and the hub follows again; otherwise
    /// a plain resume.
    Resume {
        /// Caller.
        actor: UserId,
        /// Where to play (becomes the session's device).
        device: Option<DeviceId>,
        /// Answer.
        reply: Reply<()>,
    },
    /// May `user` do `action`? Answers the host and device for player commands.
    Authorize {
        /// Caller.
        user: UserId,
        /// What they want to do.
        action: Action,
        /// Answer.
        reply: Reply<ControlTarget>,
    },
    /// Poll the player soon (after a control command).
    Nudge,
    /// A WebSocket opens; `since` asks to resume after that event.
    Connect {
        /// The connection.
        conn: NewConnection,
        /// Last `seq` the client saw.
        since: Option<u64>,
        /// Answer: the connection id.
        reply: Reply<u64>,
    },
    /// A WebSocket closed.
    Disconnect {
        /// Its id.
        conn_id: u64,
    },
    /// A poller's observation.
    Observed {
        /// Which poller.
        generation: u64,
        /// What Spotify answered (boxed: a playback state is large).
        result: Box<Result<Option<PlaybackState>, SpotifyError>>,
        /// When (Unix ms).
        at_ms: i64,
    },
    /// A background `play` (queue resync) failed.
    ResyncFailed {
        /// Why.
        error: SpotifyError,
    },
}

/// A cloneable way to reach one hub.
#[derive(Debug, Clone)]
pub struct HubHandle {
    tx: mpsc::Sender<HubCommand>,
}

/// A WebSocket connection registered with its hub: dropping it deregisters the connection,
/// however the socket's task ends (returns, is cancelled or panics), so no connection outlives
/// its socket as an "online" ghost that keeps the hub and its poller alive.
#[derive(Debug)]
pub struct Registration {
    hub: HubHandle,
    conn_id: u64,
}

impl Registration {
    /// The connection's id within its hub.
    pub fn conn_id(&self) -> u64 {
        self.conn_id
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let command = HubCommand::Disconnect {
            conn_id: self.conn_id,
        };
        match self.hub.tx.try_send(command) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            // A busy hub: wait for room in the background (a drop cannot wait).
            Err(mpsc::error::TrySendError::Full(command)) => {
                let tx = self.hub.tx.clone();
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        let _ = tx.send(command).await;
                    });
                }
            }
        }
    }
}

type Slot = Arc<OnceCell<HubHandle>>;

/// The live hubs, revived lazily from the database.
#[derive(Debug, Clone)]
pub struct HubRegistry {
    core: Arc<Core>,
    hubs: Arc<Mutex<HashMap<SessionId, Slot>>>,
}

impl HubRegistry {
    /// An empty registry.
    pub fn new(core: Arc<Core>) -> Self {
        Self {
            core,
            hubs: Arc::default(),
        }
    }

    /// Stores a new session and starts its hub.
    pub async fn create(&self, session: Session) -> Result<SessionId, ApiError> {
        let id = session.id();
        self.core.db.insert_session(&session).await?;
        let handle = self.spawn(session, 0);
        let slot: Slot = Arc::new(OnceCell::new_with(Some(handle)));
        self.hubs.lock().insert(id, slot);
        Ok(id)
    }

    /// How many hubs are loaded (for tests and metrics).
    pub fn loaded(&self) -> usize {
        self.hubs.lock().len()
    }

    fn spawn(&self, session: Session, last_seq: u64) -> HubHandle {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let hub = session_hub::SessionHub::new(
            self.core.clone(),
            self.hubs.clone(),
            session,
            last_seq,
            tx.clone(),
            rx,
        );
        self.core.runtime.spawn(hub.run());
        HubHandle { tx }
    }

    /// The hub of `id`, reviving it from the database if needed.
    async fn handle(&self, id: SessionId) -> Result<HubHandle, ApiError> {
        let slot = self.hubs.lock().entry(id).or_default().clone();
        let result = slot
            .get_or_try_init(|| async {
                match self.core.load_session(id).await? {
                    Some((session, last_seq)) => {
                        tracing::debug!(session = %id, "reviving hub from the database");
                        Ok(self.spawn(session, last_seq))
                    }
                    None => Err(session_not_found()),
                }
            })
            .await
            .cloned();
        if result.is_err() {
            // Do not keep empty slots for unknown ids (bounded memory under guessing).
            let mut hubs = self.hubs.lock();
            if hubs
                .get(&id)
                .is_some_and(|s| Arc::ptr_eq(s, &slot) && !s.initialized())
            {
                hubs.remove(&id);
            }
        }
        result
    }

    fn forget(&self, id: SessionId, handle: &HubHandle) {
        let mut hubs = self.hubs.lock();
        if hubs
            .get(&id)
            .and_then(|s| s.get())
            .is_some_and(|h| h.tx.same_channel(&handle.tx))
        {
            hubs.remove(&id);
        }
    }

    /// Sends a command to the hub of `id` and waits for its answer. A hub that just unloaded
    /// itself is revived once.
    pub async fn request<T>(
        &self,
        id: SessionId,
        make: impl Fn(Reply<T>) -> HubCommand,
    ) -> Result<T, ApiError> {
        for _ in 0..2 {
            let handle = self.handle(id).await?;
            let (reply, answer) = oneshot::channel();
            if handle.tx.send(make(reply)).await.is_err() {
                self.forget(id, &handle);
                continue;
            }
            match answer.await {
                Ok(result) => return result,
                Err(_) => self.forget(id, &handle),
            }
        }
        Err(ApiError::unavailable(
            "the session is restarting; try again",
        ))
    }

    /// Registers a WebSocket connection; the answer deregisters it when dropped.
    pub async fn connect(
        &self,
        id: SessionId,
        conn: NewConnection,
        since: Option<u64>,
    ) -> Result<Registration, ApiError> {
        for _ in 0..2 {
            let handle = self.handle(id).await?;
            let (reply, answer) = oneshot::channel();
            let command = HubCommand::Connect {
                conn: conn.clone(),
                since,
                reply,
            };
            if handle.tx.send(command).await.is_err() {
                self.forget(id, &handle);
                continue;
            }
            match answer.await {
                Ok(result) => {
                    return result.map(|conn_id| Registration {
                        hub: handle,
                        conn_id,
                    });
                }
                Err(_) => self.forget(id, &handle),
            }
        }
        Err(ApiError::unavailable(
            "the session is restarting; try again",
        ))
    }

    /// Sends a command that has no answer (best effort).
    pub async fn notify(&self, id: SessionId, command: HubCommand) {
        if let Ok(handle) = self.handle(id).await {
            let _ = handle.tx.send(command).await;
        }
    }
}

/// 404 for a session id that does not exist.
pub fn session_not_found() -> ApiError {
    ApiError::not_found("session_not_found", "no such session")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dropped_registration_deregisters_even_when_its_task_panics() {
        let (tx, mut rx) = mpsc::channel(4);
        let registration = Registration {
            hub: HubHandle { tx },
            conn_id: 7,
        };
        // A socket task that panics while it holds its registration.
        let task = tokio::spawn(async move {
            let _registration = registration;
            panic!("a bug in the socket task");
        });
        assert!(task.await.unwrap_err().is_panic());
        assert!(matches!(
            rx.recv().await,
            Some(HubCommand::Disconnect { conn_id: 7 })
        ));

        // A full command queue: the deregistration waits for room instead of being lost.
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(HubCommand::Disconnect { conn_id: 1 }).unwrap();
        drop(Registration {
            hub: HubHandle { tx },
            conn_id: 2,
        });
        assert!(matches!(
            rx.recv().await,
            Some(HubCommand::Disconnect { conn_id: 1 })
        ));
        assert!(matches!(
            rx.recv().await,
            Some(HubCommand::Disconnect { conn_id: 2 })
        ));
    }
}
