//! A session's outgoing events: numbered (`seq`), serialized once, kept in a bounded replay ring
//! for `?since=` resumes, and handed once per worker that holds subscribers of the session (see
//! `fanout`), never waiting on anyone.

use std::collections::HashMap;

use bytestring::ByteString;
use sesh_session::SessionId;
use tokio_util::sync::CancellationToken;

use super::{
    DisplayFrame, OutboundTx, WorkerHandle,
    fanout::{Audience, FanoutMessage},
    ring::ReplayRing,
};
use crate::wire::SessionEvent;

/// Events kept for `?since=` resumes, at most.
pub const RING_CAPACITY: usize = 256;
/// Bytes of frames kept for `?since=` resumes, at most: the ring is bounded by size as well as
/// count, so a few large frames (a `queue` in a big room) cannot hold megabytes per session.
/// The newest frame is always kept; a resume that reaches further back gets a `welcome`.
pub const RING_MAX_BYTES: usize = 64 * 1024;

/// One worker's share of a session's subscribers.
#[derive(Debug)]
struct Holder {
    worker: WorkerHandle,
    members: usize,
    displays: usize,
}

/// Numbering, replay ring and fan-out of one session.
#[derive(Debug)]
pub(super) struct Feed {
    session: SessionId,
    /// Sequence number of the last event sent.
    seq: u64,
    /// `seq` when this hub was loaded: events up to it were sent by an earlier hub (before a
    /// restart or an unload), whose ring, presence and playback are gone.
    loaded_seq: u64,
    ring: ReplayRing<ByteString>,
    /// The workers holding this session's subscribers, with how many members and displays
    /// each holds: an event goes once to each that holds its audience.
    workers: HashMap<usize, Holder>,
}

impl Feed {
    /// A feed continuing after `last_seq` (the last number an earlier hub may have sent).
    pub(super) fn new(session: SessionId, last_seq: u64) -> Self {
        Self {
            session,
            seq: last_seq,
            loaded_seq: last_seq,
            ring: ReplayRing::new(RING_CAPACITY, RING_MAX_BYTES, last_seq),
            workers: HashMap::new(),
        }
    }

    /// The number of the last event sent.
    pub(super) fn seq(&self) -> u64 {
        self.seq
    }

    /// Numbers, serializes (once) and fans out an event.
    pub(super) fn broadcast(&mut self, event: &SessionEvent) {
        self.seq += 1;
        let frame = ByteString::from(event.to_frame(self.seq));
        self.ring.push(self.seq, frame.clone(), frame.len());
        // Once per worker, never waiting: each worker fills its sockets' queues (a full one
        // means the client cannot keep up: it is told to close with 1008, and its socket's exit
        // disconnects it from here).
        for holder in self.workers.values().filter(|h| h.members > 0) {
            holder.worker.send(FanoutMessage::Frame {
                session: self.session,
                frame: frame.clone(),
            });
        }
    }

    /// Fans out a frame to the members without numbering it or keeping it for resumes (the
    /// chat's: a busy chat must not push the session's events out of the ring).
    pub(super) fn broadcast_unnumbered(&self, frame: ByteString) {
        for holder in self.workers.values().filter(|h| h.members > 0) {
            holder.worker.send(FanoutMessage::Frame {
                session: self.session,
                frame: frame.clone(),
            });
        }
    }

    /// Fans out display events (numbered and kept by `Displays`) to the workers holding
    /// displays of the session.
    pub(super) fn broadcast_display(&self, frames: &[DisplayFrame]) {
        for holder in self.workers.values().filter(|h| h.displays > 0) {
            for frame in frames {
                holder.worker.send(FanoutMessage::Display {
                    session: self.session,
                    frame: frame.clone(),
                });
            }
        }
    }

    /// The frames after `since`, if the ring still has all of them (`Some(empty)`: nothing
    /// was missed).
    pub(super) fn replay_since(&self, since: u64) -> Option<Vec<ByteString>> {
        // Up to `loaded_seq` the client heard an earlier hub: presence and playback it knows
        // may be stale, and the ring does not reach back. Beyond `seq`: invented.
        if since <= self.loaded_seq {
            return None;
        }
        self.ring.since(since, self.seq, |_| true)
    }

    /// Delivers the session's events to a subscriber's queue from now on (after whatever was
    /// put into it directly before).
    pub(super) fn attach(
        &mut self,
        conn_id: u64,
        worker: &WorkerHandle,
        tx: OutboundTx,
        stop: CancellationToken,
        audience: Audience,
    ) {
        worker.send(FanoutMessage::Attach {
            session: self.session,
            conn_id,
            tx,
            stop,
            audience,
        });
        let holder = self.workers.entry(worker.id()).or_insert_with(|| Holder {
            worker: worker.clone(),
            members: 0,
            displays: 0,
        });
        match audience {
            Audience::Member => holder.members += 1,
            Audience::Display { .. } => holder.displays += 1,
        }
    }

    /// Stops delivering to a subscriber; with `close`, its socket closes after the frames
    /// already queued.
    pub(super) fn detach(
        &mut self,
        conn_id: u64,
        worker: &WorkerHandle,
        audience: Audience,
        close: Option<(u16, &'static str)>,
    ) {
        let session = self.session;
        worker.send(match close {
            Some((code, reason)) => FanoutMessage::Close {
                session,
                conn_id,
                code,
                reason,
            },
            None => FanoutMessage::Detach { session, conn_id },
        });
        if let Some(holder) = self.workers.get_mut(&worker.id()) {
            match audience {
                Audience::Member => holder.members = holder.members.saturating_sub(1),
                Audience::Display { .. } => holder.displays = holder.displays.saturating_sub(1),
            }
            if holder.members + holder.displays == 0 {
                self.workers.remove(&worker.id());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::SessionEvent;

    fn feed_with(events: usize, last_seq: u64) -> Feed {
        let mut feed = Feed::new(SessionId::new_v4(), last_seq);
        for _ in 0..events {
            feed.broadcast(&SessionEvent::SessionEnded);
        }
        feed
    }

    #[test]
    fn numbers_continue_after_the_loaded_sequence() {
        let feed = feed_with(3, 10);
        assert_eq!(feed.seq(), 13);
        let frames = feed.replay_since(11).unwrap();
        assert_eq!(frames.len(), 2);
        assert!(frames[0].contains("\"seq\":12"), "{}", &*frames[0]);
    }

    #[test]
    fn a_resume_gets_exactly_what_it_missed_or_nothing_it_cannot_trust() {
        let feed = feed_with(5, 100);
        assert_eq!(feed.replay_since(105), Some(Vec::new()));
        assert_eq!(feed.replay_since(104).unwrap().len(), 1);
        // Heard from an earlier hub: its ring is gone.
        assert_eq!(feed.replay_since(100), None);
        assert_eq!(feed.replay_since(7), None);
        // A number never sent.
        assert_eq!(feed.replay_since(106), None);
    }

    #[test]
    fn the_ring_is_bounded_by_count_and_bytes() {
        let feed = feed_with(RING_CAPACITY + 10, 0);
        assert_eq!(feed.ring.len(), RING_CAPACITY);
        assert_eq!(feed.replay_since(5), None, "older than the ring");
        assert_eq!(
            feed.replay_since(20).map(|f| f.len()),
            Some(RING_CAPACITY + 10 - 20)
        );

        let mut feed = Feed::new(SessionId::new_v4(), 0);
        let big = SessionEvent::MembersSummary {
            member_count: 1,
            online_count: 1,
            members: Some(
                (0..200)
                    .map(|i| crate::wire::MemberView {
                        id: sesh_session::UserId::new(format!("user-{i:04}")),
                        display_name: "x".repeat(100),
                        role: sesh_session::Role::Guest,
                        online: true,
                        muted: false,
                        listening: None,
                    })
                    .collect(),
            ),
        };
        for _ in 0..10 {
            feed.broadcast(&big);
        }
        let (bytes, summed) = feed.ring.bytes();
        assert!(bytes <= RING_MAX_BYTES || feed.ring.len() == 1);
        assert!(feed.ring.len() < 10);
        assert_eq!(bytes, summed);
    }
}
