//! The collaborative queue while a session plays: adding tracks under the host's limits,
//! votes and the order they make, skip votes, bans, the queue settings, and pinning the entry
//! handed to Spotify. Same contract as the other transition files: the events describe the
//! change exactly, a refusal changes nothing.
//!
//! What may move: the entries after [`Session::movable_from`] (the playing entry and the
//! committed one are pinned). In [`QueueOrder::Votes`] those are always sorted by net votes,
//! then by id (ids grow with time), so a vote moves at most its own entry. The one
//! exception: the host going back in their player brings played entries back among them
//! (`move_to` has no event to reorder with); the next add, vote or woven-in entry sorts them
//! first, with one `queue_reordered`.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Action, Session};
use crate::error::SessionError;
use crate::event::Event;
use crate::ids::{QueueEntryId, TrackId, UserId};
use crate::settings::{
    MAX_QUEUED_PER_MEMBER_RANGE, MAX_TRACK_MS_RANGE, NO_REPLAY_PLAYS_RANGE, QueueOrder,
    QueueSettingsPatch,
};
use crate::track::{EntryOrigin, QueueEntry, Track, Vote};

/// Skip votes needed among `connected` members: half of a small room (rounded up), but
/// never more than `2 + ⌊log₂ N⌋`, so a big room can still skip (100 members: 8, not 50).
/// At least 1.
pub fn skip_threshold(connected: usize) -> usize {
    let n = connected.max(1);
    let half = n.div_ceil(2);
    let log = 2 + n.ilog2() as usize;
    half.min(log)
}

/// What a skip vote did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipVote {
    /// `skip_votes` (the count changed).
    pub events: Vec<Event>,
    /// The playing entry the vote was for.
    pub entry_id: QueueEntryId,
    /// Whether the caller now votes to skip.
    pub voted: bool,
    /// This vote reached the threshold: skip the playing entry now (once per entry).
    pub skip: bool,
}

impl Session {
    /// `actor` adds `track` ([`Action::AddTrack`]). Checked in this order after the rule
    /// table: playing; the lock (`adding_locked`, for guests); a banned track; longer than
    /// `max_track_ms`; already upcoming (`already_queued`, naming the entry); played within
    /// the last `no_replay_plays` plays (the playing entry counts); the member's waiting added
    /// entries at `max_queued_per_member` (the host and co-hosts have no such limit).
    ///
    /// The entry belongs to `actor`, carries their up vote, and goes where the order puts it:
    /// in fair order at the end of the owner's next round (round *r* for a member with *r*
    /// upcoming entries), in votes order after every entry with as many net votes or more.
    /// Never before [`Session::movable_from`]. Emits `entry_added` (in votes order after one
    /// `queue_reordered` when the host went back in their player since the last sort).
    pub fn add_track(
        &mut self,
        actor: &UserId,
        track: Arc<Track>,
    ) -> Result<Vec<Event>, SessionError> {
        self.refuse_add(actor, &track.id, Some(track.duration_ms))?;
        let mut events = self.restore_votes_order();
        let entry = QueueEntry {
            id: self.fresh_entry_id(),
            track,
            added_by: vec![actor.clone()],
            origin: EntryOrigin::Added,
            votes: [(actor.clone(), Vote::Up)].into_iter().collect(),
        };
        let index = self.insertion_index(&entry);
        self.queue.insert(index, entry.clone());
        events.push(Event::EntryAdded { entry, index });
        Ok(events)
    }

    /// Whether `actor` may add the track `id` now, by every rule of [`Session::add_track`] but
    /// the track's length (unknown until it is looked up): what the gateway asks before it
    /// spends a Spotify call on the lookup. Changes nothing.
    pub fn check_add(&self, actor: &UserId, id: &TrackId) -> Result<(), SessionError> {
        self.refuse_add(actor, id, None)
    }

    /// The rules of adding, in [`Session::add_track`]'s order; the length only when known.
    fn refuse_add(
        &self,
        actor: &UserId,
        id: &TrackId,
        duration_ms: Option<u32>,
    ) -> Result<(), SessionError> {
        self.authorize(actor, Action::AddTrack)?;
        self.ensure_playing()?;
        let moderator = self.is_moderator(actor);
        let settings = &self.settings;
        if settings.adding_locked && !moderator {
            return Err(SessionError::AddingLocked);
        }
        if self.banned_tracks.contains(id) {
            return Err(SessionError::TrackBanned);
        }
        if duration_ms.is_some_and(|ms| ms > settings.max_track_ms) {
            return Err(SessionError::TrackTooLong {
                max_ms: settings.max_track_ms,
            });
        }
        let upcoming = self.queue.get(self.position + 1..).unwrap_or_default();
        if let Some(entry) = upcoming.iter().find(|e| e.track.id == *id) {
            return Err(SessionError::AlreadyQueued { id: entry.id });
        }
        let window = settings.no_replay_plays as usize;
        let recent_from = (self.position + 1).saturating_sub(window);
        if window > 0
            && self.queue[recent_from..=self.position]
                .iter()
                .any(|e| e.track.id == *id)
        {
            return Err(SessionError::RecentlyPlayed {
                within: settings.no_replay_plays,
            });
        }
        let waiting = upcoming
            .iter()
            .filter(|e| e.origin == EntryOrigin::Added && e.owner() == Some(actor))
            .count();
        if !moderator && waiting >= settings.max_queued_per_member as usize {
            return Err(SessionError::MemberQueueFull {
                limit: settings.max_queued_per_member,
            });
        }
        Ok(())
    }

    /// `actor` votes `vote` (`None`: withdraws) on an upcoming entry ([`Action::Vote`]).
    /// Refused for the playing, played and committed entries (`entry_pinned`). Emits
    /// `entry_votes` when the net count changed… or the vote did (changing +1 to nothing and
    /// another member's −1 to +1 are both news to the voter's page); in votes order then
    /// `entry_moved` when the entry's place changed (and before them one `queue_reordered`
    /// when the host went back in their player since the last sort). The same vote again
    /// changes nothing.
    pub fn vote(
        &mut self,
        actor: &UserId,
        id: QueueEntryId,
        vote: Option<Vote>,
    ) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::Vote)?;
        self.ensure_playing()?;
        let index = self
            .entry_index(id)
            .ok_or(SessionError::EntryNotFound { id })?;
        if index < self.movable_from() {
            return Err(SessionError::EntryPinned { id });
        }
        if self.queue[index].votes.get(actor).copied() == vote {
            return Ok(Vec::new());
        }
        let mut events = self.restore_votes_order();
        let index = self.entry_index(id).unwrap_or(index);
        let entry = &mut self.queue[index];
        match vote {
            Some(vote) => entry.votes.insert(actor.clone(), vote),
            None => entry.votes.remove(actor),
        };
        events.push(Event::EntryVotes {
            id,
            votes: entry.net_votes(),
        });
        if self.settings.queue_order == QueueOrder::Votes {
            let entry = self.queue.remove(index);
            let to = self.insertion_index(&entry);
            self.queue.insert(to, entry);
            if to != index {
                events.push(Event::EntryMoved { id, index: to });
            }
        }
        Ok(events)
    }

    /// `actor` toggles their vote to skip the playing entry ([`Action::VoteSkip`]), with
    /// `connected` members online. Emits `skip_votes`; [`SkipVote::skip`] is set once per
    /// entry, by the vote that reaches [`skip_threshold`] of `connected`.
    pub fn vote_skip(
        &mut self,
        actor: &UserId,
        connected: usize,
    ) -> Result<SkipVote, SessionError> {
        self.authorize(actor, Action::VoteSkip)?;
        self.ensure_playing()?;
        let entry_id = self
            .now_playing()
            .map(|e| e.id)
            .ok_or(SessionError::NothingPlaying)?;
        let voted = if self.skip_votes.remove(actor) {
            false
        } else {
            self.skip_votes.insert(actor.clone());
            true
        };
        let votes = self.skip_votes.len();
        let skip = voted && !self.skip_called && votes >= skip_threshold(connected);
        if skip {
            self.skip_called = true;
        }
        Ok(SkipVote {
            events: vec![Event::SkipVotes { entry_id, votes }],
            entry_id,
            voted,
            skip,
        })
    }

    /// Whether `actor` may skip the playing entry outright: the rule table's
    /// [`Action::Skip`] (host, co-hosts, guests when allowed), or they added the entry.
    pub fn authorize_skip(&self, actor: &UserId) -> Result<(), SessionError> {
        match self.authorize(actor, Action::Skip) {
            Err(SessionError::Forbidden { .. })
                if self.now_playing().is_some_and(|e| {
                    e.origin == EntryOrigin::Added && e.owner() == Some(actor)
                }) =>
            {
                Ok(())
            }
            other => other,
        }
    }

    /// The host or a co-host bans the track of entry `id` ([`Action::BanTrack`]): every
    /// upcoming entry of it leaves the queue (`entry_removed` each, the committed one too),
    /// then `track_banned`; adding it is refused from then on. The playing entry stays (skip
    /// it to stop it).
    pub fn ban_track(
        &mut self,
        actor: &UserId,
        id: QueueEntryId,
    ) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::BanTrack)?;
        self.ensure_playing()?;
        let track_id = self
            .entry(id)
            .map(|e| e.track.id.clone())
            .ok_or(SessionError::EntryNotFound { id })?;
        let mut events = Vec::new();
        let mut index = self.position + 1;
        while index < self.queue.len() {
            if self.queue[index].track.id == track_id {
                let entry = self.queue.remove(index);
                if self.committed == Some(entry.id) {
                    self.committed = None;
                }
                events.push(Event::EntryRemoved { id: entry.id });
            } else {
                index += 1;
            }
        }
        // Banning a banned track again with nothing of it upcoming changes nothing.
        if self.banned_tracks.insert(track_id.clone()) || !events.is_empty() {
            events.push(Event::TrackBanned { track_id });
        }
        Ok(events)
    }

    /// The host changes the queue settings ([`Action::SetQueueSettings`]) and the guest
    /// controls ([`Action::SetPermissions`], `patch.permissions`); only the fields
    /// given change, each checked against its range (`invalid_settings`, nothing changed).
    /// Emits `settings_changed` (nothing when nothing changed); switching the order re-sorts
    /// the movable entries by the new order and emits one `queue_reordered` when that moved
    /// any. Works in the lobby too (the order applies once the session plays).
    pub fn set_queue_settings(
        &mut self,
        actor: &UserId,
        patch: &QueueSettingsPatch,
    ) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::SetQueueSettings)?;
        if patch.permissions.is_some() {
            self.authorize(actor, Action::SetPermissions)?;
        }
        let in_range = |value: Option<u32>, range: &std::ops::RangeInclusive<u32>| {
            value.is_none_or(|v| range.contains(&v))
        };
        if !in_range(patch.max_queued_per_member, &MAX_QUEUED_PER_MEMBER_RANGE) {
            return Err(SessionError::InvalidSettings {
                reason: "max_queued_per_member must be between 1 and 50",
            });
        }
        if !in_range(patch.max_track_ms, &MAX_TRACK_MS_RANGE) {
            return Err(SessionError::InvalidSettings {
                reason: "max_track_ms must be between 60000 (1 minute) and 3600000 (1 hour)",
            });
        }
        if !in_range(patch.no_replay_plays, &NO_REPLAY_PLAYS_RANGE) {
            return Err(SessionError::InvalidSettings {
                reason: "no_replay_plays must be between 0 and 1000",
            });
        }
        let mut settings = self.settings.clone();
        if let Some(order) = patch.queue_order {
            settings.queue_order = order;
        }
        if let Some(v) = patch.max_queued_per_member {
            settings.max_queued_per_member = v;
        }
        if let Some(v) = patch.max_track_ms {
            settings.max_track_ms = v;
        }
        if let Some(v) = patch.no_replay_plays {
            settings.no_replay_plays = v;
        }
        if let Some(v) = patch.adding_locked {
            settings.adding_locked = v;
        }
        if let Some(controls) = &patch.permissions {
            settings.guest_permissions = controls.apply(settings.guest_permissions);
        }
        if settings == self.settings {
            return Ok(Vec::new());
        }
        let reorder = settings.queue_order != self.settings.queue_order;
        self.settings = settings;
        let mut events = vec![Event::SettingsChanged {
            settings: self.settings.clone(),
        }];
        if reorder && self.state == crate::session::SessionState::Playing {
            events.extend(self.sort_movable());
        }
        Ok(events)
    }

    /// Pins `id`, the entry after the playing one, as handed to Spotify's queue (the gateway
    /// calls this when Spotify accepted it). Emits `entry_committed`; nothing when it is
    /// committed already. Refused (`invalid_target`) for any other entry.
    pub fn commit_next(&mut self, id: QueueEntryId) -> Result<Vec<Event>, SessionError> {
        self.ensure_not_ended()?;
        self.ensure_playing()?;
        if self.committed == Some(id) {
            return Ok(Vec::new());
        }
        if self.next_entry().map(|e| e.id) != Some(id) {
            return Err(SessionError::InvalidTarget {
                reason: "only the entry after the playing one can be committed",
            });
        }
        self.committed = Some(id);
        Ok(vec![Event::EntryCommitted { id }])
    }

    /// Whether `user` is the host or a co-host.
    fn is_moderator(&self, user: &UserId) -> bool {
        self.can(user, Action::RemoveEntry)
    }

    /// Where `entry` (not in the queue) goes by the session's order; at or after
    /// [`Session::movable_from`].
    pub(super) fn insertion_index(&self, entry: &QueueEntry) -> usize {
        let from = self.movable_from();
        match self.settings.queue_order {
            QueueOrder::Votes => {
                let key = votes_key(entry);
                from + self.queue[from..].partition_point(|e| votes_key(e) <= key)
            }
            QueueOrder::Fair => {
                // The new entry joins its owner's next round, after every entry of that round
                // or an earlier one.
                let upcoming = self.position + 1;
                let upcoming_entries = self.queue.get(upcoming..).unwrap_or_default();
                let round = entry.owner().map_or(0, |owner| {
                    upcoming_entries
                        .iter()
                        .filter(|e| e.owner() == Some(owner))
                        .count()
                });
                let after = self
                    .upcoming_rounds()
                    .iter()
                    .rposition(|&r| r <= round)
                    .map_or(upcoming, |i| upcoming + i + 1);
                after.max(from)
            }
        }
    }

    /// In votes order, sorts the movable entries again when they are not (the host went
    /// back in their player: `move_to` has no event to reorder with, so played entries are
    /// among them in play order): one `queue_reordered`. Called before an entry is placed
    /// by its votes, which needs them sorted.
    pub(super) fn restore_votes_order(&mut self) -> Vec<Event> {
        let from = self.movable_from();
        if self.settings.queue_order == QueueOrder::Votes
            && !self.queue[from..].is_sorted_by_key(votes_key)
        {
            self.sort_movable()
        } else {
            Vec::new()
        }
    }

    /// Re-sorts the movable entries by the session's order (stable): votes by
    /// [`votes_key`], fair by round. One `queue_reordered` when anything moved.
    fn sort_movable(&mut self) -> Vec<Event> {
        let from = self.movable_from();
        if self.queue.len() - from < 2 {
            return Vec::new();
        }
        let before: Vec<QueueEntryId> = self.queue[from..].iter().map(|e| e.id).collect();
        match self.settings.queue_order {
            QueueOrder::Votes => self.queue[from..].sort_by_key(votes_key),
            QueueOrder::Fair => {
                let rounds = self.upcoming_rounds();
                let pinned = from.saturating_sub(self.position + 1);
                let mut keyed: Vec<(usize, QueueEntry)> = rounds[pinned..]
                    .iter()
                    .copied()
                    .zip(self.queue.drain(from..))
                    .collect();
                keyed.sort_by_key(|(round, _)| *round);
                self.queue.extend(keyed.into_iter().map(|(_, e)| e));
            }
        }
        let order: Vec<QueueEntryId> = self.queue[from..].iter().map(|e| e.id).collect();
        if order == before {
            Vec::new()
        } else {
            vec![Event::QueueReordered { from, order }]
        }
    }
}

impl Session {
    /// The round of each upcoming entry, in queue order from `position + 1`: an owner's k-th
    /// upcoming entry (the committed one too) is in round k, top tracks and adds alike.
    fn upcoming_rounds(&self) -> Vec<usize> {
        let mut seen: HashMap<&UserId, usize> = HashMap::new();
        self.queue
            .get(self.position + 1..)
            .unwrap_or_default()
            .iter()
            .map(|e| {
                e.owner().map_or(0, |owner| {
                    let count = seen.entry(owner).or_default();
                    *count += 1;
                    *count - 1
                })
            })
            .collect()
    }
}

/// The votes order's sort key: more net votes first, then the older (smaller id) first.
fn votes_key(entry: &QueueEntry) -> (std::cmp::Reverse<i64>, QueueEntryId) {
    (std::cmp::Reverse(entry.net_votes()), entry.id)
}

#[cfg(test)]
mod tests {
    use super::skip_threshold;

    #[test]
    fn the_skip_threshold_is_half_of_a_small_room_and_logarithmic_in_a_big_one() {
        let expected = [
            (0, 1),
            (1, 1),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 3),
            (6, 3),
            (8, 4),
            (16, 6),
            (100, 8),
        ];
        for (n, needed) in expected {
            assert_eq!(skip_threshold(n), needed, "{n} connected");
        }
    }
}
