//! Fan-out on the worker that owns the sockets.
//!
//! Every WebSocket lives on one actix worker thread (its task cannot move), while a session's
//! hub runs on the shared Tokio runtime. Waking a socket task from the hub's thread is a
//! cross-thread wake (a lock on the worker's queue and, often, a syscall to unpark it); for
//! one event in a room of 5,000 that was ~2–3 µs per socket, 10–15 ms before the last socket
//! was even scheduled. So the hub sends each event once per *worker* that holds members of the
//! session, and a small task on that worker puts it into its local sockets' queues: the wakes
//! are same-thread ones, and the hub's loop is as long as the number of workers.
//!
//! Order is kept because everything that concerns one connection after its `welcome` goes
//! through the same channel, in the hub's order: the hub attaches a connection to its worker
//! right after queueing its `welcome`, then sends events, closes and detaches through the
//! worker. A connection's own direct frames (`pong`, `error`) go straight into its queue.

use std::{
    cell::OnceCell,
    collections::HashMap,
    sync::atomic::{AtomicUsize, Ordering},
};

use bytestring::ByteString;
use sesh_session::SessionId;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{DisplayFrame, Outbound, OutboundTx, QueueError};

/// Which of a session's events a connection gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// A member's socket: the member frames.
    Member,
    /// A display: the display events (those for the join link too, with `show_join`).
    Display {
        /// The display's key shows the join link.
        show_join: bool,
    },
}

/// What a hub asks a worker to do.
#[derive(Debug)]
pub enum FanoutMessage {
    /// Deliver the session's events to this connection from now on.
    Attach {
        /// The session.
        session: SessionId,
        /// The hub's connection id.
        conn_id: u64,
        /// The connection's queue.
        tx: OutboundTx,
        /// Cancelled when the queue overflows (the socket closes with 1008).
        stop: CancellationToken,
        /// Members' frames or display events.
        audience: Audience,
    },
    /// One event frame for every attached member connection of the session.
    Frame {
        /// The session.
        session: SessionId,
        /// The frame (shared bytes).
        frame: ByteString,
    },
    /// One display event for every attached display of the session (that may see it).
    Display {
        /// The session.
        session: SessionId,
        /// The event (shared bytes).
        frame: DisplayFrame,
    },
    /// Close one connection after the frames before this message, and detach it.
    Close {
        /// The session.
        session: SessionId,
        /// The connection.
        conn_id: u64,
        /// WebSocket close code.
        code: u16,
        /// Close reason.
        reason: &'static str,
    },
    /// Stop delivering to this connection (it closed).
    Detach {
        /// The session.
        session: SessionId,
        /// The connection.
        conn_id: u64,
    },
}

/// A worker's fan-out inbox (cheap to clone; sending never waits).
#[derive(Debug, Clone)]
pub struct WorkerHandle {
    id: usize,
    tx: mpsc::UnboundedSender<FanoutMessage>,
}

thread_local! {
    static CURRENT: OnceCell<WorkerHandle> = const { OnceCell::new() };
}

static NEXT_WORKER: AtomicUsize = AtomicUsize::new(0);

impl WorkerHandle {
    /// The fan-out inbox of the worker this runs on, starting its task on first use. Must be
    /// called on a thread with a Tokio `LocalSet` (an actix worker).
    pub fn current() -> WorkerHandle {
        CURRENT.with(|cell| {
            cell.get_or_init(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                actix_web::rt::spawn(run(rx));
                WorkerHandle {
                    id: NEXT_WORKER.fetch_add(1, Ordering::Relaxed),
                    tx,
                }
            })
            .clone()
        })
    }

    /// A handle of no worker (its inbox is gone): for tests of the bookkeeping around it.
    #[cfg(test)]
    pub(crate) fn detached() -> WorkerHandle {
        let (tx, _) = mpsc::unbounded_channel();
        WorkerHandle {
            id: NEXT_WORKER.fetch_add(1, Ordering::Relaxed),
            tx,
        }
    }

    /// Which worker (stable for the process's life).
    pub fn id(&self) -> usize {
        self.id
    }

    /// Hands `message` to the worker (dropped if the worker is gone: so are its sockets).
    pub fn send(&self, message: FanoutMessage) {
        let _ = self.tx.send(message);
    }
}

struct Attached {
    conn_id: u64,
    tx: OutboundTx,
    stop: CancellationToken,
    audience: Audience,
}

/// The worker's fan-out task: its sessions' attached connections, fed in the hub's order.
async fn run(mut rx: mpsc::UnboundedReceiver<FanoutMessage>) {
    let mut sessions: HashMap<SessionId, Vec<Attached>> = HashMap::new();
    while let Some(message) = rx.recv().await {
        match message {
            FanoutMessage::Attach {
                session,
                conn_id,
                tx,
                stop,
                audience,
            } => sessions.entry(session).or_default().push(Attached {
                conn_id,
                tx,
                stop,
                audience,
            }),
            FanoutMessage::Frame { session, frame } => {
                if let Some(conns) = sessions.get_mut(&session) {
                    let mut sent = 0;
                    conns.retain(|c| {
                        if c.audience != Audience::Member {
                            return true;
                        }
                        let kept = deliver(c, Outbound::Frame(frame.clone()));
                        sent += usize::from(kept);
                        kept
                    });
                    crate::metrics::member_frames(sent, sent * frame.len());
                }
            }
            FanoutMessage::Display { session, frame } => {
                if let Some(conns) = sessions.get_mut(&session) {
                    let mut sent = 0;
                    conns.retain(|c| match c.audience {
                        Audience::Display { show_join } if show_join || !frame.join_only => {
                            let kept = deliver(c, Outbound::Display(frame.clone()));
                            sent += usize::from(kept);
                            kept
                        }
                        _ => true,
                    });
                    crate::metrics::display_frames(sent, sent * frame.data.len());
                }
            }
            FanoutMessage::Close {
                session,
                conn_id,
                code,
                reason,
            } => {
                if let Some(conns) = sessions.get_mut(&session)
                    && let Some(at) = conns.iter().position(|c| c.conn_id == conn_id)
                {
                    let conn = conns.swap_remove(at);
                    deliver(&conn, Outbound::Close(code, reason));
                }
            }
            FanoutMessage::Detach { session, conn_id } => {
                if let Some(conns) = sessions.get_mut(&session) {
                    conns.retain(|c| c.conn_id != conn_id);
                }
            }
        }
        sessions.retain(|_, conns| !conns.is_empty());
    }
}

/// Queues `message` for `conn` without waiting; false when the connection is done with (its
/// queue closed, or full: a client that does not keep up is told to close with 1008, and its
/// socket's exit detaches it from the hub).
fn deliver(conn: &Attached, message: Outbound) -> bool {
    match conn.tx.try_send(message) {
        Ok(()) => true,
        Err(QueueError::Full) => {
            tracing::info!(conn = conn.conn_id, "client too slow; disconnecting");
            crate::metrics::slow_consumer_dropped();
            conn.stop.cancel();
            false
        }
        Err(QueueError::Closed) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::outbound_queue;

    fn text(message: Outbound) -> String {
        match message {
            Outbound::Frame(frame) => frame.to_string(),
            Outbound::Display(frame) => format!("{} {}", frame.event, frame.data),
            Outbound::Close(code, reason) => format!("close {code} {reason}"),
        }
    }

    #[tokio::test]
    async fn frames_reach_attached_connections_in_order_and_overflow_stops_a_slow_one() {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let worker = WorkerHandle::current();
                assert_eq!(worker.id(), WorkerHandle::current().id());
                let session = SessionId::new_v4();
                let other = SessionId::new_v4();
                let (fast_tx, mut fast) = outbound_queue(8);
                let (slow_tx, _slow) = outbound_queue(1);
                let (fast_stop, slow_stop) = (CancellationToken::new(), CancellationToken::new());
                fast_tx.try_send(Outbound::Frame("welcome".into())).unwrap();
                for (conn_id, tx, stop) in [(1, &fast_tx, &fast_stop), (2, &slow_tx, &slow_stop)] {
                    worker.send(FanoutMessage::Attach {
                        session,
                        conn_id,
                        tx: tx.clone(),
                        stop: stop.clone(),
                        audience: Audience::Member,
                    });
                }
                for frame in ["a", "b"] {
                    worker.send(FanoutMessage::Frame {
                        session,
                        frame: frame.into(),
                    });
                }
                worker.send(FanoutMessage::Frame {
                    session: other,
                    frame: "not ours".into(),
                });
                worker.send(FanoutMessage::Close {
                    session,
                    conn_id: 1,
                    code: 1000,
                    reason: "session ended",
                });
                worker.send(FanoutMessage::Frame {
                    session,
                    frame: "after close".into(),
                });
                let mut got = Vec::new();
                for _ in 0..4 {
                    got.push(text(fast.recv().await));
                }
                assert_eq!(got, ["welcome", "a", "b", "close 1000 session ended"]);
                // The slow one held "a", could not take "b": told to stop, and detached.
                assert!(slow_stop.is_cancelled());
                assert!(!fast_stop.is_cancelled());
                let after = futures_util::FutureExt::now_or_never(fast.recv());
                assert!(after.is_none(), "nothing after the close");
            })
            .await;
    }

    fn display_frame(event: &'static str, join_only: bool) -> DisplayFrame {
        DisplayFrame {
            event,
            id: None,
            data: "{}".into(),
            join_only,
        }
    }

    #[tokio::test]
    async fn display_events_reach_displays_only_the_join_only_where_allowed_and_slow_ones_stop() {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let worker = WorkerHandle::current();
                let session = SessionId::new_v4();
                let (member_tx, mut member) = outbound_queue(8);
                let (tv_tx, mut tv) = outbound_queue(8);
                let (overlay_tx, mut overlay) = outbound_queue(8);
                let (slow_tx, _slow) = outbound_queue(1);
                let stops: Vec<CancellationToken> =
                    (0..4).map(|_| CancellationToken::new()).collect();
                let attached = [
                    (member_tx, Audience::Member),
                    (tv_tx, Audience::Display { show_join: true }),
                    (overlay_tx, Audience::Display { show_join: false }),
                    (slow_tx, Audience::Display { show_join: false }),
                ];
                for (conn_id, (tx, audience)) in attached.into_iter().enumerate() {
                    worker.send(FanoutMessage::Attach {
                        session,
                        conn_id: conn_id as u64,
                        tx,
                        stop: stops[conn_id].clone(),
                        audience,
                    });
                }
                worker.send(FanoutMessage::Frame {
                    session,
                    frame: "member frame".into(),
                });
                for frame in [
                    display_frame("playback", false),
                    display_frame("join", true),
                ] {
                    worker.send(FanoutMessage::Display { session, frame });
                }
                worker.send(FanoutMessage::Display {
                    session,
                    frame: display_frame("queue", false),
                });
                assert_eq!(text(member.recv().await), "member frame");
                let mut got = Vec::new();
                for _ in 0..3 {
                    got.push(text(tv.recv().await));
                }
                assert_eq!(got, ["playback {}", "join {}", "queue {}"]);
                let mut got = Vec::new();
                for _ in 0..2 {
                    got.push(text(overlay.recv().await));
                }
                assert_eq!(got, ["playback {}", "queue {}"], "no join for this key");
                assert!(futures_util::FutureExt::now_or_never(member.recv()).is_none());
                // The slow display held one event and could not take the next: stopped.
                assert!(stops[3].is_cancelled());
                assert!(!stops[..3].iter().any(CancellationToken::is_cancelled));
            })
            .await;
    }
}
