//! The collaborative queue's use cases of a hub: adding, removing, banning, votes, skip votes
//! and the queue settings. Each is one domain transition (stored, then announced, as every
//! transition is); a skip the votes call for goes to Spotify off the loop, like any skip.

use std::sync::Arc;

use sesh_session::{QueueEntryId, QueueSettingsPatch, Settings, Track, UserId, Vote};

use super::SessionHub;
use crate::hub::HubError;
use crate::wire::{QueueEntryView, SkipAnswer, VoteAnswer};

impl SessionHub {
    pub(super) async fn add_track(
        &mut self,
        actor: &UserId,
        track: Arc<Track>,
    ) -> Result<(QueueEntryView, usize), HubError> {
        let events = self.apply(|s| s.add_track(actor, track)).await?;
        let index = events
            .into_iter()
            .find_map(|e| match e {
                sesh_session::Event::EntryAdded { index, .. } => Some(index),
                _ => None,
            })
            .ok_or_else(|| HubError::internal(anyhow::anyhow!("an add without entry_added")))?;
        let entry = self
            .session()
            .queue()
            .get(index)
            .map(|e| QueueEntryView::for_viewer(e, actor))
            .ok_or_else(|| HubError::internal(anyhow::anyhow!("the added entry is gone")))?;
        Ok((entry, index))
    }

    pub(super) async fn remove_entry(
        &mut self,
        actor: &UserId,
        entry: QueueEntryId,
    ) -> Result<(), HubError> {
        self.apply(|s| s.remove_entry(actor, entry)).await.map(drop)
    }

    pub(super) async fn ban_track(
        &mut self,
        actor: &UserId,
        entry: QueueEntryId,
    ) -> Result<(), HubError> {
        self.apply(|s| s.ban_track(actor, entry)).await.map(drop)
    }

    pub(super) async fn vote(
        &mut self,
        actor: &UserId,
        entry: QueueEntryId,
        vote: Option<Vote>,
    ) -> Result<VoteAnswer, HubError> {
        self.apply(|s| s.vote(actor, entry, vote)).await?;
        let entry = self
            .session()
            .entry(entry)
            .ok_or(sesh_session::SessionError::EntryNotFound { id: entry })?;
        Ok(VoteAnswer {
            id: entry.id,
            votes: entry.net_votes(),
            your_vote: entry.vote_of(actor),
        })
    }

    /// Toggles `actor`'s skip vote; the vote that reaches the threshold skips (in the
    /// background: the answer does not wait for Spotify).
    pub(super) async fn vote_skip(&mut self, actor: &UserId) -> Result<SkipAnswer, HubError> {
        let connected = self.room.online_count();
        let mut outcome = None;
        self.apply(|s| {
            let vote = s.vote_skip(actor, connected)?;
            let events = vote.events.clone();
            outcome = Some(vote);
            Ok(events)
        })
        .await?;
        let vote = outcome.ok_or_else(|| HubError::internal(anyhow::anyhow!("no skip vote")))?;
        let answer = SkipAnswer {
            entry_id: vote.entry_id,
            votes: self.session().skip_votes().len(),
            needed: sesh_session::skip_threshold(connected),
            you_voted: vote.voted,
            skipped: vote.skip,
        };
        if vote.skip && !self.follower.took_over() {
            tracing::info!(session = %self.session().id(), votes = answer.votes, "the members voted to skip");
            self.skip(actor.clone(), true, None);
        }
        Ok(answer)
    }

    pub(super) async fn queue_settings(
        &mut self,
        actor: &UserId,
        patch: &QueueSettingsPatch,
    ) -> Result<Settings, HubError> {
        self.apply(|s| s.set_queue_settings(actor, patch)).await?;
        Ok(self.session().settings().clone())
    }
}
