//! A session's recap as members get it (`GET /api/sessions/{id}/recap`): the domain's
//! [`sesh_session::Recap`] with names. Built by the session's hub; `crate::recap` reads it.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use sesh_session::{
    EntryOrigin, Recap, Session, SessionId, SessionName, SessionState, Track, UserId,
};

use super::UserRef;

/// `GET /api/sessions/{id}/recap` → 200.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecapView {
    /// The session.
    pub session: RecapSession,
    /// What played, in play order.
    pub tracks: Vec<RecapTrack>,
    /// Indices into `tracks` of the most up-voted (net votes above zero, most first, at most 5).
    pub top_voted: Vec<usize>,
    /// Everyone credited for or voting on what played, most tracks first.
    pub members: Vec<RecapMember>,
    /// Totals.
    pub counts: RecapCounts,
}

/// The session a recap is of.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecapSession {
    /// Its id.
    #[schema(value_type = String)]
    pub id: SessionId,
    /// What the host called it.
    #[schema(value_type = Option<String>)]
    pub name: Option<SessionName>,
    /// Its host.
    pub host: UserRef,
    /// `lobby`, `playing` or `ended`.
    #[schema(value_type = String)]
    pub state: SessionState,
    /// Whether the session is over: the recap no longer changes.
    #[serde(rename = "final")]
    pub is_final: bool,
    /// When it was created (Unix ms).
    pub created_at_ms: i64,
    /// When it ended (Unix ms), once it has.
    pub ended_at_ms: Option<i64>,
    /// From the first track to the end (or now), when the start times are known.
    pub length_ms: Option<i64>,
}

/// One play.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecapTrack {
    /// The queue entry.
    #[schema(value_type = u64)]
    pub entry_id: sesh_session::QueueEntryId,
    /// The track.
    #[schema(value_type = Track)]
    pub track: Arc<Track>,
    /// Who brought it (from their top tracks) or added it, the owner first.
    pub brought_by: Vec<UserRef>,
    /// `top_tracks` or `added`.
    #[schema(value_type = String)]
    pub origin: EntryOrigin,
    /// Net votes.
    pub votes: i64,
    /// Up votes.
    pub up_votes: usize,
    /// Down votes.
    pub down_votes: usize,
    /// When it started (Unix ms), when recorded.
    pub started_at_ms: Option<i64>,
    /// How long until the next track (pauses included).
    pub played_ms: Option<i64>,
    /// Left more than 10 s before its end for another track.
    pub skipped: bool,
    /// Playing now.
    pub now_playing: bool,
}

/// What one person contributed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecapMember {
    /// Who.
    pub id: UserId,
    /// Their name (as in the session, or when they last logged in).
    pub display_name: String,
    /// Played tracks they brought or added.
    pub brought: usize,
    /// Of those, added during the session.
    pub added: usize,
    /// Played tracks they voted on.
    pub votes_cast: usize,
    /// Of their played tracks, how many were skipped.
    pub skipped: usize,
}

/// Totals of a recap.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecapCounts {
    /// Plays.
    pub tracks: usize,
    /// Skipped plays.
    pub skipped: usize,
    /// Up votes on played tracks.
    pub up_votes: usize,
    /// Down votes on played tracks.
    pub down_votes: usize,
    /// People in the recap.
    pub members: usize,
}

impl RecapView {
    /// The view of `recap` (of `session`), naming members from the session; others are named
    /// by their id until [`RecapView::name_others`].
    pub fn new(
        session: &Session,
        recap: &Recap,
        created_at_ms: i64,
        ended_at_ms: Option<i64>,
    ) -> Self {
        let name = |id: &UserId| UserRef {
            id: id.clone(),
            display_name: session
                .member(id)
                .map_or_else(|| id.as_str().to_owned(), |m| m.display_name.clone()),
        };
        let tracks: Vec<RecapTrack> = recap
            .plays
            .iter()
            .map(|play| {
                let entry = &play.entry;
                let up = entry
                    .votes
                    .values()
                    .filter(|v| **v == sesh_session::Vote::Up)
                    .count();
                RecapTrack {
                    entry_id: entry.id,
                    track: entry.track.clone(),
                    brought_by: entry.added_by.iter().map(name).collect(),
                    origin: entry.origin,
                    votes: entry.net_votes(),
                    up_votes: up,
                    down_votes: entry.votes.len() - up,
                    started_at_ms: play.started_at_ms,
                    played_ms: play.played_ms,
                    skipped: play.skipped,
                    now_playing: play.now_playing,
                }
            })
            .collect();
        let mut members: Vec<RecapMember> = recap
            .members
            .iter()
            .map(|(id, tally)| RecapMember {
                display_name: name(id).display_name,
                id: id.clone(),
                brought: tally.brought,
                added: tally.added,
                votes_cast: tally.votes_cast,
                skipped: tally.skipped,
            })
            .collect();
        members.sort_by(|a, b| {
            b.brought
                .cmp(&a.brought)
                .then(b.votes_cast.cmp(&a.votes_cast))
                .then(a.display_name.cmp(&b.display_name))
        });
        Self {
            session: RecapSession {
                id: session.id(),
                name: session.settings().name.clone(),
                host: name(session.host()),
                state: session.state(),
                is_final: recap.is_final,
                created_at_ms,
                ended_at_ms,
                length_ms: recap.length_ms,
            },
            counts: RecapCounts {
                tracks: tracks.len(),
                skipped: recap.skipped,
                up_votes: recap.votes.0,
                down_votes: recap.votes.1,
                members: members.len(),
            },
            tracks,
            top_voted: recap.top_voted.clone(),
            members,
        }
    }

    /// People the session no longer has, named by their id so far.
    pub fn unnamed(&self) -> Vec<UserId> {
        let mut ids: Vec<UserId> = self
            .members
            .iter()
            .filter(|m| m.display_name == m.id.as_str())
            .map(|m| m.id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Names people the session no longer has with their last known names.
    pub fn name_others(&mut self, names: &HashMap<UserId, String>) {
        let rename = |person: &mut UserRef| {
            if let Some(name) = names.get(&person.id) {
                person.display_name.clone_from(name);
            }
        };
        for track in &mut self.tracks {
            track.brought_by.iter_mut().for_each(rename);
        }
        for member in &mut self.members {
            if let Some(name) = names.get(&member.id) {
                member.display_name.clone_from(name);
            }
        }
    }
}
