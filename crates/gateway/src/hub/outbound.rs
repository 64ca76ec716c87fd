//! A connection's queue of outbound frames: bounded, filled without waiting (by the hub and by
//! the socket itself), drained by the socket's task.
//!
//! Not a `tokio::sync::mpsc` channel on purpose: that one allocates ~1.6 KB per channel up front
//! (a 32-slot block and a cache-padded header), which for thousands of idle sockets was the
//! largest part of Sesh's per-connection memory. This one is ~100 bytes and grows only while
//! frames wait. The receiver's waker lives under the queue's one lock: a send is a lock, a
//! push and a wake, which matters when a hub fills 5,000 queues for one event (a
//! `tokio::sync::Notify` here made that loop ~10× slower: its waiter list takes a second lock
//! and its permit logic more atomics).

use std::{
    collections::VecDeque,
    future::poll_fn,
    sync::Arc,
    task::{Poll, Waker},
};

use parking_lot::Mutex;

use super::Outbound;

/// Above this many slots, an emptied queue gives its buffer back (after a burst).
const KEEP_SLOTS: usize = 16;

/// Why [`OutboundTx::try_send`] refused a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The queue holds its capacity: the client does not keep up.
    #[error("outbound queue full")]
    Full,
    /// The socket's task is gone.
    #[error("outbound queue closed")]
    Closed,
}

struct Shared {
    queue: Mutex<Queue>,
    capacity: usize,
}

struct Queue {
    frames: VecDeque<Outbound>,
    receiver_alive: bool,
    /// The receiver waiting for a frame (set under this lock when it found none).
    waker: Option<Waker>,
}

/// A queue holding at most `capacity` (at least 1) frames.
pub fn outbound_queue(capacity: usize) -> (OutboundTx, OutboundRx) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            frames: VecDeque::new(),
            receiver_alive: true,
            waker: None,
        }),
        capacity: capacity.max(1),
    });
    (
        OutboundTx {
            shared: Arc::clone(&shared),
        },
        OutboundRx { shared },
    )
}

/// The filling end (cheap to clone).
#[derive(Clone)]
pub struct OutboundTx {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for OutboundTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundTx")
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

impl OutboundTx {
    /// Queues `message` without waiting.
    pub fn try_send(&self, message: Outbound) -> Result<(), QueueError> {
        let mut queue = self.shared.queue.lock();
        if !queue.receiver_alive {
            return Err(QueueError::Closed);
        }
        if queue.frames.len() >= self.shared.capacity {
            return Err(QueueError::Full);
        }
        queue.frames.push_back(message);
        let waker = queue.waker.take();
        drop(queue);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Most frames the queue holds.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }
}

/// The draining end (the socket's task).
pub struct OutboundRx {
    shared: Arc<Shared>,
}

impl OutboundRx {
    /// The next frame, waiting for one. Cancel-safe: a frame is only taken when it is returned.
    pub async fn recv(&mut self) -> Outbound {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next frame if there is one; otherwise `cx` is woken when one comes (for a
    /// hand-written stream, such as a display's).
    pub fn poll_recv(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Outbound> {
        let mut queue = self.shared.queue.lock();
        match queue.frames.pop_front() {
            Some(message) => {
                if queue.frames.is_empty() && queue.frames.capacity() > KEEP_SLOTS {
                    queue.frames.shrink_to_fit();
                }
                Poll::Ready(message)
            }
            None => {
                // Under the lock a sender pushes under: it sees this waker and wakes it.
                if !queue
                    .waker
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    queue.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for OutboundRx {
    fn drop(&mut self) {
        let mut queue = self.shared.queue.lock();
        queue.receiver_alive = false;
        queue.frames.clear();
        queue.waker = None;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytestring::ByteString;
    use futures_util::FutureExt;

    use super::*;

    fn frame(text: &'static str) -> Outbound {
        Outbound::Frame(ByteString::from_static(text))
    }

    fn text(message: Outbound) -> String {
        match message {
            Outbound::Frame(frame) => frame.to_string(),
            Outbound::Display(frame) => frame.data.to_string(),
            Outbound::Close(code, reason) => format!("close {code} {reason}"),
        }
    }

    #[tokio::test]
    async fn keeps_order_and_refuses_beyond_capacity() {
        let (tx, mut rx) = outbound_queue(2);
        assert_eq!(tx.capacity(), 2);
        tx.try_send(frame("a")).unwrap();
        tx.clone().try_send(Outbound::Close(1000, "bye")).unwrap();
        assert_eq!(tx.try_send(frame("c")), Err(QueueError::Full));
        assert_eq!(text(rx.recv().await), "a");
        tx.try_send(frame("d")).unwrap();
        assert_eq!(text(rx.recv().await), "close 1000 bye");
        assert_eq!(text(rx.recv().await), "d");
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_and_a_dropped_one_closes_the_queue() {
        let (tx, mut rx) = outbound_queue(4);
        let waiting = tokio::spawn(async move {
            let first = text(rx.recv().await);
            (first, rx)
        });
        tokio::task::yield_now().await;
        tx.try_send(frame("late")).unwrap();
        let (first, rx) = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first, "late");
        drop(rx);
        assert_eq!(tx.try_send(frame("x")), Err(QueueError::Closed));
    }

    #[tokio::test]
    async fn a_cancelled_recv_loses_nothing() {
        let (tx, mut rx) = outbound_queue(4);
        // Polled once (now waiting), then dropped: as in the socket's `select!`.
        assert!(rx.recv().now_or_never().is_none());
        tx.try_send(frame("kept")).unwrap();
        assert_eq!(text(rx.recv().await), "kept");
    }

    #[tokio::test]
    async fn an_emptied_queue_gives_back_its_burst_buffer() {
        let (tx, mut rx) = outbound_queue(256);
        for _ in 0..200 {
            tx.try_send(frame("f")).unwrap();
        }
        for _ in 0..200 {
            rx.recv().await;
        }
        assert!(rx.shared.queue.lock().frames.capacity() <= KEEP_SLOTS);
    }
}
