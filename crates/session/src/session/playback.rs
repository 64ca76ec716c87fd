//! The transitions about playback and the queue: starting (in two steps, so the caller
//! need not hold the session across a slow Spotify call), following the player, moving
//! to another device, reshuffling and removing entries. Same contract as `transitions.rs`:
//! the events describe the change exactly, a refusal changes nothing.

use std::collections::HashSet;

use rand::Rng;

use super::{Action, Session, SessionState};
use crate::error::SessionError;
use crate::event::Event;
use crate::ids::{DeviceId, QueueEntryId, SessionId, TrackId, TrackUri, UserId};
use crate::member::Member;
use crate::settings::QueueOrder;
use crate::shuffle::{self, PlannedEntry, Weave};
use crate::track::QueueEntry;

/// The queue a session will start with, made by [`Session::plan_start`] while the session
/// can still change, and installed by [`Session::start_planned`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartPlan {
    /// The session the plan was made for; another session refuses it.
    session: SessionId,
    /// The planned queue, not numbered yet: ids are handed out when it is installed.
    entries: Vec<PlannedEntry>,
}

impl StartPlan {
    /// The tracks to send to Spotify, in queue order.
    pub fn uris(&self) -> impl Iterator<Item = &TrackUri> {
        self.entries.iter().map(|entry| &entry.track.uri)
    }
}

impl Session {
    /// The first half of starting: checks that `actor` may start ([`Action::Start`]) and the
    /// session is still in the lobby, and builds the queue from every member's top tracks
    /// with the session's shuffle mode. Changes nothing. Refused with `no_tracks` when
    /// nobody has any.
    pub fn plan_start<R: Rng + ?Sized>(
        &self,
        actor: &UserId,
        rng: &mut R,
    ) -> Result<StartPlan, SessionError> {
        self.check_can_start(actor)?;
        let entries = shuffle::build_queue(self.settings.shuffle_mode, &self.members, rng);
        if entries.is_empty() {
            return Err(SessionError::NoTracks);
        }
        Ok(StartPlan {
            session: self.id,
            entries,
        })
    }

    /// The second half of starting: checks again (the session may have changed since
    /// [`Session::plan_start`]), installs the planned queue with fresh ids in queue order,
    /// plays from position 0 on `device` and emits `session_started`. Members whose
    /// counted tracks are not all credited in the queue (who joined or changed their
    /// tracks since the plan was made) are then woven in as late joiners, in join order,
    /// with their `entry_updated`/`entry_added` events after `session_started`.
    pub fn start_planned<R: Rng + ?Sized>(
        &mut self,
        actor: &UserId,
        device: DeviceId,
        plan: StartPlan,
        rng: &mut R,
    ) -> Result<Vec<Event>, SessionError> {
        self.check_can_start(actor)?;
        if plan.session != self.id {
            return Err(SessionError::InvalidTarget {
                reason: "this start plan was made for another session",
            });
        }
        if plan.entries.is_empty() {
            return Err(SessionError::NoTracks);
        }
        let queue: Vec<QueueEntry> = plan
            .entries
            .into_iter()
            .map(|entry| entry.into_entry(self.fresh_entry_id()))
            .collect();
        self.queue = queue;
        self.state = SessionState::Playing;
        self.position = 0;
        self.device = Some(device.clone());
        let mut events = vec![Event::SessionStarted {
            position: self.position,
            device,
        }];
        // Weaving one member credits and adds entries for them alone, so who needs it can
        // be decided up front.
        let credits: HashSet<(&TrackId, &UserId)> = self
            .queue
            .iter()
            .flat_map(|e| e.added_by.iter().map(move |user| (&e.track.id, user)))
            .collect();
        let uncredited: Vec<Member> = self
            .members
            .iter()
            .filter(|member| {
                shuffle::counted_tracks(&member.top_tracks)
                    .into_iter()
                    .any(|track| !credits.contains(&(&track.id, &member.user_id)))
            })
            .cloned()
            .collect();
        for member in uncredited {
            let weave = shuffle::merge_late_joiner(&self.queue, self.position, &member, rng);
            self.apply_weave(&member.user_id, weave, &mut events);
        }
        Ok(events)
    }

    /// Starts in one step: [`Session::plan_start`] then [`Session::start_planned`]. Emits
    /// `session_started` alone (nothing can change in between).
    pub fn start<R: Rng + ?Sized>(
        &mut self,
        actor: &UserId,
        device: DeviceId,
        rng: &mut R,
    ) -> Result<Vec<Event>, SessionError> {
        let plan = self.plan_start(actor, rng)?;
        self.start_planned(actor, device, plan, rng)
    }

    /// The gateway reports which queue entry plays now (it follows the host's player).
    /// Emits `now_playing` when the position moved, nothing otherwise.
    pub fn advance_to(&mut self, position: usize) -> Result<Vec<Event>, SessionError> {
        Ok(if self.move_to(position)? {
            vec![Event::NowPlaying { position }]
        } else {
            Vec::new()
        })
    }

    /// [`Session::advance_to`] without the event: whether the position moved (the
    /// gateway's path on every track change).
    pub fn move_to(&mut self, position: usize) -> Result<bool, SessionError> {
        self.ensure_not_ended()?;
        if self.state != SessionState::Playing {
            return Err(SessionError::NotStarted);
        }
        if position >= self.queue.len() {
            return Err(SessionError::InvalidPosition {
                position,
                len: self.queue.len(),
            });
        }
        if position == self.position {
            return Ok(false);
        }
        // The committed entry stays pinned only if it is still the next one.
        if self.committed.is_some() && self.queue.get(position + 1).map(|e| e.id) != self.committed
        {
            self.committed = None;
        }
        self.position = position;
        self.skip_votes.clear();
        self.skip_called = false;
        Ok(true)
    }

    /// The host or a co-host re-draws the order of the upcoming entries (after the one
    /// playing now) with the session's shuffle mode: in fair mode the same round-robin as
    /// the opening, each entry counting as its owner's turn. Emits one `queue_reordered`
    /// from [`Session::movable_from`] (the committed entry stays); nothing when the order came out the same (always so with
    /// fewer than two upcoming entries). Only while playing.
    pub fn reshuffle<R: Rng + ?Sized>(
        &mut self,
        actor: &UserId,
        rng: &mut R,
    ) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::Reshuffle)?;
        self.ensure_playing()?;
        if self.settings.queue_order == QueueOrder::Votes {
            return Err(SessionError::InvalidTarget {
                reason: "the queue follows the votes; switch to fair order to reshuffle",
            });
        }
        let from = self.movable_from();
        if self.queue.len() - from < 2 {
            return Ok(Vec::new());
        }
        let upcoming = self.queue.split_off(from);
        let order = shuffle::reorder(self.settings.shuffle_mode, &upcoming, rng);
        let unchanged = order.iter().copied().eq(0..upcoming.len());
        let mut slots: Vec<Option<QueueEntry>> = upcoming.into_iter().map(Some).collect();
        self.queue.extend(
            order
                .iter()
                .filter_map(|&index| slots.get_mut(index).and_then(Option::take)),
        );
        if unchanged {
            return Ok(Vec::new());
        }
        Ok(vec![Event::QueueReordered {
            from,
            order: self.queue.iter().skip(from).map(|e| e.id).collect(),
        }])
    }

    /// The host moves playback to another of their devices (`device_changed`). Only while
    /// playing; the same device again gives no events.
    pub fn set_device(
        &mut self,
        actor: &UserId,
        device: DeviceId,
    ) -> Result<Vec<Event>, SessionError> {
        self.authorize(actor, Action::Transfer)?;
        self.ensure_playing()?;
        if self.device.as_ref() == Some(&device) {
            return Ok(Vec::new());
        }
        self.device = Some(device.clone());
        Ok(vec![Event::DeviceChanged { device }])
    }

    /// Takes an upcoming entry out of the queue. The host and co-hosts may remove any
    /// (`entry_removed`). Another member may remove an entry only they are credited for
    /// (`entry_removed`); from an entry credited to others too, only their own credit
    /// (`entry_updated`). The entry playing now and those already played stay.
    ///
    /// Checks: ended → actor not a member → not playing → unknown id (`entry_not_found`)
    /// → not allowed (`forbidden`: not credited for the entry) → not upcoming
    /// (`invalid_target`). Who may depends on the entry, hence the lookup before it.
    pub fn remove_entry(
        &mut self,
        actor: &UserId,
        id: QueueEntryId,
    ) -> Result<Vec<Event>, SessionError> {
        self.ensure_not_ended()?;
        if !self.is_member(actor) {
            return Err(SessionError::NotAMember {
                user: actor.clone(),
            });
        }
        self.ensure_playing()?;
        let index = self
            .entry_index(id)
            .ok_or(SessionError::EntryNotFound { id })?;
        let moderator = self.can(actor, Action::RemoveEntry);
        let credited = self
            .queue
            .get(index)
            .is_some_and(|entry| entry.is_credited_to(actor));
        if !moderator && !credited {
            return Err(SessionError::Forbidden {
                action: Action::RemoveEntry,
                permission: None,
            });
        }
        if index <= self.position {
            return Err(SessionError::InvalidTarget {
                reason: "only upcoming entries can be removed, not the one playing or played ones",
            });
        }
        let Some(entry) = self.queue.get_mut(index) else {
            return Err(SessionError::EntryNotFound { id });
        };
        if !moderator && entry.added_by.len() > 1 {
            entry.added_by.retain(|user| user != actor);
            return Ok(vec![Event::EntryUpdated {
                entry: entry.clone(),
            }]);
        }
        self.queue.remove(index);
        if self.committed == Some(id) {
            self.committed = None;
        }
        Ok(vec![Event::EntryRemoved { id }])
    }

    /// Credits and inserts what [`shuffle::merge_late_joiner`] decided for `user`, with
    /// fresh ids, pushing the events that describe it: credits first, then the inserts in
    /// ascending index order (each index counts the inserts before it). Banned tracks are
    /// not inserted; in votes order the inserts may follow one `queue_reordered`
    /// (`restore_votes_order`).
    pub(super) fn apply_weave(&mut self, user: &UserId, weave: Weave, events: &mut Vec<Event>) {
        for index in weave.credit {
            if let Some(entry) = self.queue.get_mut(index)
                && !entry.is_credited_to(user)
            {
                entry.added_by.push(user.clone());
                events.push(Event::EntryUpdated {
                    entry: entry.clone(),
                });
            }
        }
        if !weave.insert.is_empty() {
            events.extend(self.restore_votes_order());
        }
        let mut skipped = 0;
        for (index, planned) in weave.insert {
            // A banned track stays out, whoever has it among their top tracks (the later
            // indexes counted it).
            if self.banned_tracks.contains(&planned.track.id) {
                skipped += 1;
                continue;
            }
            let index = index.saturating_sub(skipped);
            let entry = planned.into_entry(self.fresh_entry_id());
            // Never before a pinned entry; in votes order where the votes put it (no votes).
            let index = match self.settings.queue_order {
                QueueOrder::Fair => index.clamp(self.movable_from(), self.queue.len()),
                QueueOrder::Votes => self.insertion_index(&entry),
            };
            self.queue.insert(index, entry.clone());
            events.push(Event::EntryAdded { entry, index });
        }
    }

    /// A new entry id: the counter, which then moves on (ids are never reused).
    pub(super) fn fresh_entry_id(&mut self) -> QueueEntryId {
        let id = QueueEntryId::new(self.next_entry_id);
        self.next_entry_id = self.next_entry_id.saturating_add(1);
        id
    }

    /// Start's checks, shared by both halves: allowed, and still in the lobby.
    fn check_can_start(&self, actor: &UserId) -> Result<(), SessionError> {
        self.authorize(actor, Action::Start)?;
        if self.state == SessionState::Playing {
            return Err(SessionError::AlreadyStarted);
        }
        Ok(())
    }

    /// Ends the session: nothing is pinned or voted on any more.
    pub(super) fn finish(&mut self) {
        self.state = SessionState::Ended;
        self.committed = None;
        self.skip_votes.clear();
        self.skip_called = false;
    }

    pub(super) fn ensure_playing(&self) -> Result<(), SessionError> {
        match self.state {
            SessionState::Playing => Ok(()),
            _ => Err(SessionError::NotStarted),
        }
    }
}
