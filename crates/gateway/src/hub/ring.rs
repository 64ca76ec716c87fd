//! A replay ring: the last events of a session, numbered with its `seq`, for resumes that ask
//! for "everything after N" (a member's `?since=`, a display's `Last-Event-ID`). Bounded by
//! count and by bytes, so a few large events cannot hold megabytes per session; the newest is
//! always kept. Several entries may share a number (a display's events of one change).

use std::collections::VecDeque;

/// The ring (see the module docs).
#[derive(Debug)]
pub(super) struct ReplayRing<T> {
    /// `(seq, item, weight)`, oldest first.
    entries: VecDeque<(u64, T, usize)>,
    /// Sum of the entries' weights.
    bytes: usize,
    capacity: usize,
    max_bytes: usize,
    /// Every entry numbered after this is in the ring: resumes from it on can be served.
    complete_after: u64,
}

impl<T: Clone> ReplayRing<T> {
    /// An empty ring holding everything numbered after `complete_after` from now on, at most
    /// `capacity` entries and `max_bytes` of weight.
    pub(super) fn new(capacity: usize, max_bytes: usize, complete_after: u64) -> Self {
        Self {
            entries: VecDeque::new(),
            bytes: 0,
            capacity,
            max_bytes,
            complete_after,
        }
    }

    /// Keeps `item`, numbered `seq` (not below the last one), weighing `weight` bytes; drops
    /// the oldest entries past the bounds.
    pub(super) fn push(&mut self, seq: u64, item: T, weight: usize) {
        self.bytes += weight;
        self.entries.push_back((seq, item, weight));
        while self.entries.len() > 1
            && (self.entries.len() > self.capacity || self.bytes > self.max_bytes)
        {
            if let Some((old_seq, _, old_weight)) = self.entries.pop_front() {
                self.bytes -= old_weight;
                // A resume from before `old_seq` would miss it.
                self.complete_after = self.complete_after.max(old_seq);
            }
        }
    }

    /// The items numbered after `since` that `keep` wants, in order, if the ring has all of
    /// them; `None` when it no longer reaches back to `since`, or `since` is beyond `seq` (the
    /// last number handed out: it was never sent).
    pub(super) fn since(&self, since: u64, seq: u64, keep: impl Fn(&T) -> bool) -> Option<Vec<T>> {
        if since < self.complete_after || since > seq {
            return None;
        }
        Some(
            self.entries
                .iter()
                .filter(|(s, item, _)| *s > since && keep(item))
                .map(|(_, item, _)| item.clone())
                .collect(),
        )
    }

    /// Entries held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Weight held, and the entries' weights summed again (for tests of the bookkeeping).
    #[cfg(test)]
    pub(super) fn bytes(&self) -> (usize, usize) {
        (self.bytes, self.entries.iter().map(|(_, _, w)| w).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_serves_what_it_has_and_says_when_it_no_longer_reaches_back() {
        let mut ring = ReplayRing::new(3, 100, 10);
        assert_eq!(ring.since(10, 10, |_| true), Some(Vec::new()));
        for (seq, item) in [(11, 'a'), (12, 'b'), (12, 'c'), (13, 'd')] {
            ring.push(seq, item, 1);
        }
        // 'a' went (count): 11 and before cannot be served any more; 12 on can.
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.since(10, 13, |_| true), None);
        assert_eq!(ring.since(11, 13, |_| true), Some(vec!['b', 'c', 'd']));
        assert_eq!(ring.since(12, 13, |_| true), Some(vec!['d']));
        assert_eq!(ring.since(12, 13, |c| *c != 'd'), Some(Vec::new()));
        assert_eq!(ring.since(14, 13, |_| true), None, "never sent");
        // By weight: one heavy entry pushes the rest out, and is kept however heavy.
        ring.push(14, 'e', 500);
        assert_eq!(ring.len(), 1);
        assert_eq!(ring.bytes(), (500, 500));
        assert_eq!(ring.since(13, 14, |_| true), Some(vec!['e']));
        assert_eq!(ring.since(12, 14, |_| true), None);
    }
}
