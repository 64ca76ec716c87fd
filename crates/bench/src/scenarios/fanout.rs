//! Fan-out measurement: arm the sockets of a room when its track changes, and match each
//! socket's next `Change` report to that change.

use crate::client::{ClientPool, Report};
use crate::frame::now_us;
use crate::stats::Summary;
use crate::target::Trigger;
use std::collections::HashSet;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Latencies collected over one or more changes.
#[derive(Debug, Default)]
pub struct Tracker {
    room_of: Vec<u32>,
    members: Vec<Vec<u32>>,
    /// Per socket: when the change it waits for began (µs since the epoch).
    pending: Vec<Option<i64>>,
    outstanding: usize,
    /// Server detection (`server_time_ms`) → receipt, ms.
    pub detect_ms: Vec<f64>,
    /// Change issued (emulator call or baseline trigger) → receipt, ms.
    pub e2e_ms: Vec<f64>,
    /// The room of each `detect_ms` sample.
    pub detect_rooms: Vec<u32>,
    /// The room of each `e2e_ms` sample.
    pub e2e_rooms: Vec<u32>,
    /// Expected receipts that never came.
    pub missed: usize,
    /// Changes received that no trigger armed (natural track ends, resyncs after loss).
    pub unsolicited: usize,
    /// Sockets the server closed during measurement, with reasons.
    pub lost: Vec<String>,
}

impl Tracker {
    /// A tracker for sockets `0..room_of.len()`, where `room_of[id]` is the room of socket
    /// `id`; `dead` sockets (failed to open) are left out.
    pub fn new(room_of: Vec<u32>, rooms: usize, dead: &[u32]) -> Tracker {
        let dead: HashSet<u32> = dead.iter().copied().collect();
        let mut members = vec![Vec::new(); rooms];
        for (id, room) in room_of.iter().enumerate() {
            if !dead.contains(&(id as u32)) {
                members[*room as usize].push(id as u32);
            }
        }
        Tracker {
            pending: vec![None; room_of.len()],
            room_of,
            members,
            ..Tracker::default()
        }
    }

    /// Number of rooms.
    pub fn rooms(&self) -> usize {
        self.members.len()
    }

    /// Sockets still waiting for their change.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Every socket of `room` now waits for a change that began at `at_us`.
    pub fn arm(&mut self, room: usize, at_us: i64) {
        for &id in &self.members[room] {
            let slot = &mut self.pending[id as usize];
            if slot.is_some() {
                self.missed += 1;
            } else {
                self.outstanding += 1;
            }
            *slot = Some(at_us);
        }
    }

    /// Moves the start of `room`'s pending change to `at_us` (when it was really issued).
    pub fn reissued(&mut self, room: usize, at_us: i64) {
        for &id in &self.members[room] {
            if let Some(slot) = self.pending[id as usize].as_mut() {
                *slot = at_us;
            }
        }
    }

    /// Accounts for one client report.
    pub fn on_report(&mut self, report: Report) {
        match report {
            Report::Change {
                id,
                server_ms,
                recv_us,
                ..
            } => match self.pending.get_mut(id as usize).and_then(Option::take) {
                Some(at_us) => {
                    self.outstanding -= 1;
                    let room = self.room_of.get(id as usize).copied().unwrap_or(0);
                    self.e2e_ms.push((recv_us - at_us) as f64 / 1000.0);
                    self.e2e_rooms.push(room);
                    if let Some(server_ms) = server_ms {
                        self.detect_ms
                            .push(recv_us as f64 / 1000.0 - server_ms as f64);
                        self.detect_rooms.push(room);
                    }
                }
                None => self.unsolicited += 1,
            },
            Report::Lost { id, reason } => {
                if let Some(room) = self.room_of.get(id as usize) {
                    self.members[*room as usize].retain(|m| *m != id);
                }
                if self
                    .pending
                    .get_mut(id as usize)
                    .and_then(Option::take)
                    .is_some()
                {
                    self.outstanding -= 1;
                    self.missed += 1;
                }
                if self.lost.len() < 5 {
                    self.lost.push(reason);
                }
            }
            _ => {}
        }
    }

    /// Counts what is still pending as missed.
    pub fn finish(&mut self) {
        self.missed += self.outstanding;
        self.outstanding = 0;
        self.pending.iter_mut().for_each(|p| *p = None);
    }

    /// Summary of detection → receipt.
    pub fn detect(&self) -> Option<Summary> {
        Summary::of(&mut self.detect_ms.clone())
    }

    /// Summary of change → receipt.
    pub fn e2e(&self) -> Option<Summary> {
        Summary::of(&mut self.e2e_ms.clone())
    }

    /// Summary of detection → receipt in the rooms `keep` accepts.
    pub fn detect_in(&self, keep: impl Fn(u32) -> bool) -> Option<Summary> {
        Self::of_rooms(&self.detect_ms, &self.detect_rooms, keep)
    }

    /// Summary of change → receipt in the rooms `keep` accepts.
    pub fn e2e_in(&self, keep: impl Fn(u32) -> bool) -> Option<Summary> {
        Self::of_rooms(&self.e2e_ms, &self.e2e_rooms, keep)
    }

    fn of_rooms(samples: &[f64], rooms: &[u32], keep: impl Fn(u32) -> bool) -> Option<Summary> {
        let mut kept: Vec<f64> = samples
            .iter()
            .zip(rooms)
            .filter(|(_, room)| keep(**room))
            .map(|(v, _)| *v)
            .collect();
        Summary::of(&mut kept)
    }
}

/// Waits until every armed socket saw its change, or `timeout`.
pub async fn drain(pool: &mut ClientPool, tracker: &mut Tracker, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while tracker.outstanding() > 0 {
        match pool.next_event(deadline).await {
            Some(report) => tracker.on_report(report),
            None => break,
        }
    }
    tracker.finish();
}

/// Changes every room at once and waits (up to `timeout`) for every socket to see it.
pub async fn burst(
    pool: &mut ClientPool,
    trigger: &Trigger,
    tracker: &mut Tracker,
    timeout: Duration,
) -> anyhow::Result<()> {
    pool.discard_events();
    let rooms = tracker.rooms();
    let start = now_us();
    for room in 0..rooms {
        tracker.arm(room, start);
    }
    let (fired_tx, mut fired) = mpsc::channel(rooms.max(1));
    let all = trigger.clone();
    let mut task = tokio::spawn(async move { all.all(rooms, fired_tx).await });
    let deadline = Instant::now() + timeout;
    let mut triggered = false;
    while !(triggered && tracker.outstanding() == 0) {
        tokio::select! {
            Some((room, at)) = fired.recv() => tracker.reissued(room, at),
            result = &mut task, if !triggered => {
                triggered = true;
                result??;
            }
            event = pool.next_event(deadline) => match event {
                Some(report) => tracker.on_report(report),
                None => break,
            },
        }
    }
    tracker.finish();
    Ok(())
}

/// Changes each room every `period`, spread evenly, `rounds` times, then waits up to
/// `drain` for the last receipts.
pub async fn staggered(
    pool: &mut ClientPool,
    trigger: &Trigger,
    tracker: &mut Tracker,
    period: Duration,
    rounds: usize,
    drain: Duration,
) -> anyhow::Result<()> {
    pool.discard_events();
    let rooms = tracker.rooms();
    let ticks = rooms * rounds;
    let mut interval = tokio::time::interval(period / rooms.max(1) as u32);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (errors_tx, mut errors) = mpsc::channel::<anyhow::Error>(16);
    let mut fired = 0;
    let far = Instant::now() + Duration::from_secs(24 * 3600);
    let mut deadline = far;
    while !(fired == ticks && tracker.outstanding() == 0) {
        tokio::select! {
            _ = interval.tick(), if fired < ticks => {
                let room = fired % rooms;
                tracker.arm(room, now_us());
                let trigger = trigger.clone();
                let errors_tx = errors_tx.clone();
                tokio::spawn(async move {
                    if let Err(err) = trigger.room(room).await {
                        let _ = errors_tx.send(err).await;
                    }
                });
                fired += 1;
                if fired == ticks {
                    deadline = Instant::now() + drain;
                }
            }
            Some(err) = errors.recv() => return Err(err),
            event = pool.next_event(deadline) => match event {
                Some(report) => tracker.on_report(report),
                None => break,
            },
        }
    }
    tracker.finish();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: u32, server_ms: i64, recv_us: i64) -> Report {
        Report::Change {
            id,
            track: "t".into(),
            server_ms: Some(server_ms),
            recv_us,
        }
    }

    #[test]
    fn matches_changes_to_armed_sockets() {
        // Sockets 0,1 in room 0; 2 in room 1; socket 3 (room 1) failed to open.
        let mut tracker = Tracker::new(vec![0, 0, 1, 1], 2, &[3]);
        tracker.arm(0, 1_000_000);
        assert_eq!(tracker.outstanding(), 2);
        tracker.on_report(change(0, 1_001, 1_003_000));
        tracker.on_report(change(2, 1_001, 1_004_000)); // room 1 was not armed
        tracker.on_report(change(0, 1_001, 1_005_000)); // second receipt: not armed any more
        assert_eq!(tracker.detect_ms, vec![2.0]);
        assert_eq!(tracker.e2e_ms, vec![3.0]);
        assert_eq!(tracker.detect_rooms, vec![0]);
        assert!(tracker.detect_in(|room| room == 0).is_some());
        assert!(tracker.detect_in(|room| room == 1).is_none());
        assert_eq!(tracker.unsolicited, 2);
        tracker.finish();
        assert_eq!(tracker.missed, 1);
        assert_eq!(tracker.outstanding(), 0);
    }

    #[test]
    fn rearming_counts_a_miss_and_lost_sockets_stop_counting() {
        let mut tracker = Tracker::new(vec![0, 0], 1, &[]);
        tracker.arm(0, 0);
        tracker.arm(0, 10);
        assert_eq!((tracker.missed, tracker.outstanding()), (2, 2));
        tracker.on_report(Report::Lost {
            id: 1,
            reason: "gone".into(),
        });
        assert_eq!((tracker.missed, tracker.outstanding()), (3, 1));
        tracker.arm(0, 20);
        assert_eq!(tracker.outstanding(), 1);
        assert_eq!(tracker.lost, vec!["gone".to_owned()]);
    }
}
