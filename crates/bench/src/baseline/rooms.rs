//! The baselines' room registry: members' bounded outboxes, grouped by room.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Frames a member may have queued before it counts as too slow and is dropped.
pub const OUTBOX_CAPACITY: usize = 16;

/// A room's members: id and outbox of each.
type Members<F> = Vec<(u64, mpsc::Sender<F>)>;

/// Rooms of members, each member reached through a bounded channel whose receiving end
/// is the member's socket task. `F` is the server's cheaply cloneable frame type.
pub struct Rooms<F> {
    rooms: Mutex<HashMap<u32, Members<F>>>,
    next_id: AtomicU64,
    seq: AtomicU64,
}

impl<F: Clone> Rooms<F> {
    /// An empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(Rooms {
            rooms: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            seq: AtomicU64::new(1),
        })
    }

    /// Adds a member to `room`; returns its id and the receiving end of its outbox.
    pub fn join(&self, room: u32) -> (u64, mpsc::Receiver<F>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(OUTBOX_CAPACITY);
        self.rooms.lock().entry(room).or_default().push((id, tx));
        (id, rx)
    }

    /// Removes a member (idempotent).
    pub fn leave(&self, room: u32, id: u64) {
        let mut rooms = self.rooms.lock();
        if let Some(members) = rooms.get_mut(&room) {
            members.retain(|(member, _)| *member != id);
            if members.is_empty() {
                rooms.remove(&room);
            }
        }
    }

    /// Broadcasts one frame per room, built once by `build(seq, server_time_ms)` and
    /// shared by every member of the room. Never waits on a member: a full outbox drops
    /// the member (its socket task sees the channel close). Returns frames enqueued.
    pub fn broadcast(&self, room: Option<u32>, build: impl Fn(u64, i64) -> F) -> u64 {
        let mut rooms = self.rooms.lock();
        let mut enqueued = 0;
        let mut send = |members: &mut Members<F>| {
            let seq = self.seq.fetch_add(1, Ordering::Relaxed);
            let frame = build(seq, crate::frame::now_ms());
            members.retain(|(_, tx)| match tx.try_send(frame.clone()) {
                Ok(()) => {
                    enqueued += 1;
                    true
                }
                Err(_) => false,
            });
        };
        match room {
            Some(room) => {
                if let Some(members) = rooms.get_mut(&room) {
                    send(members);
                }
            }
            None => rooms.values_mut().for_each(&mut send),
        }
        enqueued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn broadcast_reaches_only_the_room_and_drops_slow_members() {
        let rooms = Rooms::<String>::new();
        let (_a, mut rx_a) = rooms.join(1);
        let (_b, mut rx_b) = rooms.join(2);
        assert_eq!(rooms.broadcast(Some(1), |seq, _| format!("f{seq}")), 1);
        assert_eq!(rx_a.recv().await.as_deref(), Some("f1"));
        assert!(rx_b.try_recv().is_err());

        // Member b never reads: after OUTBOX_CAPACITY frames it is dropped.
        for _ in 0..OUTBOX_CAPACITY {
            rooms.broadcast(Some(2), |seq, _| format!("f{seq}"));
        }
        assert_eq!(rooms.broadcast(None, |seq, _| format!("f{seq}")), 1);
        let mut received = 0;
        while rx_b.recv().await.is_some() {
            received += 1;
        }
        assert_eq!(received, OUTBOX_CAPACITY);
    }

    #[test]
    fn leave_removes_the_member() {
        let rooms = Rooms::<String>::new();
        let (id, _rx) = rooms.join(7);
        rooms.leave(7, id);
        assert_eq!(rooms.broadcast(Some(7), |_, _| String::new()), 0);
    }
}
