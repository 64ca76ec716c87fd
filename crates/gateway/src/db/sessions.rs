//! Listening sessions in SQLite: the session row (its columns, plus a small JSON of what has
//! no column: settings, bans, the next queue entry id), one row per member (with the top tracks
//! they brought, in join order) and one row per queue entry (with its id and position). The
//! chat's rows are `chat.rs`'s.
//!
//! How each domain event is stored is decided in [`write_event`], in one `match` with no
//! catch-all: a new kind of event does not compile until it says which rows it touches. A
//! transition writes the session row and only those rows, in one transaction, so a join costs
//! one member row (plus the entries it wove in), never a rewrite of the members or the queue.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;
use sesh_session::{
    EntryOrigin, Event, Member, Play, QueueEntry, QueueEntryId, Role, Session, SessionDisplay,
    SessionId, SessionName, SessionParts, Settings, TrackId, UserId,
};
use sqlx::types::Json;

use super::{Database, DbError, Dialects, Tx, execute, fenced_execute, now_ms, on};

impl Database {
    /// Stores a new session with its host.
    pub async fn insert_session(&self, session: &Session) -> Result<(), DbError> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        execute!(tx.conn(), sqlx::query(
            "INSERT INTO listening_sessions (id, invite_code, host_id, state, device_id, position,
                                             last_seq, snapshot, created_at, updated_at, active_at)
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $8, $8)",
        )
        .bind(session.id().to_string())
        .bind(session.invite_code().as_str())
        .bind(session.host().as_str())
        .bind(session.state().to_string())
        .bind(session.device().map(|d| d.as_str().to_owned()))
        .bind(session.position() as i64)
        .bind(Json(extra(session)))
        .bind(now))?;
        for member in session.members() {
            write_member(&mut tx, session.id(), member).await?;
        }
        for (position, entry) in session.queue().iter().enumerate() {
            insert_entry(&mut tx, session.id(), entry, position).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes a session after a transition, in one transaction: the session row always, and
    /// the rows `events` touch. `last_seq` is the sequence number of the last frame that will
    /// be sent for this change.
    pub async fn persist_session(
        &self,
        session: &Session,
        events: &[Event],
        last_seq: u64,
    ) -> Result<(), DbError> {
        let mut tx = self.begin().await?;
        self.fence(&mut tx, session.id()).await?;
        execute!(tx.conn(), sqlx::query(
            "UPDATE listening_sessions SET invite_code = $2, host_id = $3, state = $4, device_id = $5,
                    position = $6, last_seq = CASE WHEN last_seq > $7 THEN last_seq ELSE $7 END, snapshot = $8, updated_at = $9
             WHERE id = $1",
        )
        .bind(session.id().to_string())
        .bind(session.invite_code().as_str())
        .bind(session.host().as_str())
        .bind(session.state().to_string())
        .bind(session.device().map(|d| d.as_str().to_owned()))
        .bind(session.position() as i64)
        .bind(last_seq as i64)
        .bind(Json(extra(session)))
        .bind(now_ms()))?;
        // A start that wove in late joiners announces the planned queue and then each entry it
        // added: the start stores the plan's entries, the later events add theirs.
        let added_later: HashSet<QueueEntryId> = events
            .iter()
            .filter_map(|e| match e {
                Event::EntryAdded { entry, .. } => Some(entry.id),
                _ => None,
            })
            .collect();
        for event in events {
            write_event(&mut tx, session, event, &added_later).await?;
        }
        tx.commit().await?;
        if events.iter().any(|e| matches!(e, Event::InviteRotated)) {
            // Rotations are rare: forget every cached invite rather than track the old code.
            self.invites.clear();
        }
        for event in events {
            if let Event::DisplayRevoked { key } = event {
                self.displays.forget(key.as_str());
            }
        }
        Ok(())
    }

    /// Stores now-playing positions and plays (see `PositionWriter`), in one transaction. A
    /// position the stored queue does not have is skipped, so the session always restores.
    pub async fn save_positions(
        &self,
        positions: &[(SessionId, usize)],
        plays: &[(SessionId, Play)],
    ) -> Result<(), DbError> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        // Only the sessions this instance runs (with leases; all of them otherwise), fenced in
        // the order of their ids: the order a lease renewal locks them in (`renew_leases`).
        let sessions: BTreeSet<SessionId> = positions
            .iter()
            .map(|(id, _)| *id)
            .chain(plays.iter().map(|(id, _)| *id))
            .collect();
        let mut fenced = HashSet::new();
        for id in sessions {
            match self.fence(&mut tx, id).await {
                Ok(()) => {}
                Err(DbError::Fenced) => {
                    fenced.insert(id);
                }
                Err(e) => return Err(e),
            }
        }
        for (id, play) in plays.iter().filter(|(id, _)| !fenced.contains(id)) {
            execute!(
                tx.conn(),
                sqlx::query(
                    "INSERT INTO session_plays (session_id, started_at, entry_id)
                 SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM listening_sessions WHERE id = $1)",
                )
                .bind(id.to_string())
                .bind(play.started_at_ms)
                .bind(play.entry_id.get() as i64)
            )?;
        }
        for (id, position) in positions.iter().filter(|(id, _)| !fenced.contains(id)) {
            execute!(tx.conn(), sqlx::query(
                "UPDATE listening_sessions SET position = $2, updated_at = $3
                 WHERE id = $1
                   AND EXISTS (SELECT 1 FROM queue_entries WHERE session_id = $1 AND position = $2)",
            )
            .bind(id.to_string())
            .bind(*position as i64)
            .bind(now))?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// When a session was created and last written (Unix ms): an ended session's last write is
    /// its end.
    pub async fn session_times(&self, id: SessionId) -> Result<Option<(i64, i64)>, DbError> {
        Ok(on!(self.reader(), |c| {
            sqlx::query_as("SELECT created_at, updated_at FROM listening_sessions WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(c)
                .await
        })?)
    }

    /// The last `limit` plays of a session, in play order (the recap's).
    pub async fn plays(&self, id: SessionId, limit: u32) -> Result<Vec<Play>, DbError> {
        let reader = self.reader();
        let sql = reader.pick(&PLAYS);
        let rows: Vec<(i64, i64)> = on!(reader, |c| {
            sqlx::query_as(sql)
                .bind(id.to_string())
                .bind(i64::from(limit))
                .fetch_all(c)
                .await
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(at, entry)| {
                Some(Play {
                    entry_id: QueueEntryId::new(u64::try_from(entry).ok()?),
                    started_at_ms: at,
                })
            })
            .collect())
    }

    /// Display names of users (any who ever logged in), for people a session no longer has.
    pub async fn display_names(
        &self,
        ids: &[UserId],
    ) -> Result<std::collections::HashMap<UserId, String>, DbError> {
        let mut names = std::collections::HashMap::new();
        for id in ids {
            let name: Option<String> = on!(self.reader(), |c| {
                sqlx::query_scalar("SELECT display_name FROM users WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(c)
                    .await
            })?;
            if let Some(name) = name {
                names.insert(id.clone(), name);
            }
        }
        Ok(names)
    }

    /// Records when a live session was last used (its hub unloads; see the sweeper in
    /// `hub::HubRegistry::spawn_idle_sweeper`).
    pub async fn set_active_at(&self, id: SessionId, at_ms: i64) -> Result<(), DbError> {
        execute!(
            self.writer(),
            sqlx::query("UPDATE listening_sessions SET active_at = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(at_ms)
        )?;
        Ok(())
    }

    /// Up to `limit` live sessions last used before `before_ms`, the longest unused first.
    pub async fn unattended_sessions(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> Result<Vec<SessionId>, DbError> {
        let ids: Vec<String> = on!(self.reader(), |c| {
            sqlx::query_scalar(
                "SELECT id FROM listening_sessions
                 WHERE state <> 'ended' AND active_at < $1
                 ORDER BY active_at LIMIT $2",
            )
            .bind(before_ms)
            .bind(i64::from(limit))
            .fetch_all(c)
            .await
        })?;
        Ok(ids.iter().filter_map(|id| id.parse().ok()).collect())
    }

    /// Records the last event sequence number of a session (for events that change no state).
    pub async fn set_last_seq(&self, id: SessionId, last_seq: u64) -> Result<(), DbError> {
        fenced_execute!(
            self,
            id,
            sqlx::query(
                "UPDATE listening_sessions
                 SET last_seq = CASE WHEN last_seq > $2 THEN last_seq ELSE $2 END WHERE id = $1"
            )
            .bind(id.to_string())
            .bind(last_seq as i64)
        )?;
        Ok(())
    }

    /// A stored session (its row, member rows in join order, queue rows in order) and its last
    /// event sequence number. Data no sequence of transitions could have produced is refused
    /// ([`DbError::Restore`]), and so is a role this version does not know.
    pub async fn load_session(&self, id: SessionId) -> Result<Option<(Session, u64)>, DbError> {
        let mut tx = self.begin_read().await?;
        type SessionRow = (
            String,
            String,
            String,
            Option<String>,
            Option<i64>,
            Json<serde_json::Map<String, serde_json::Value>>,
            i64,
        );
        let row: Option<SessionRow> = on!(tx.conn(), |c| {
            sqlx::query_as(
                "SELECT invite_code, host_id, state, device_id, position, snapshot, last_seq
                 FROM listening_sessions WHERE id = $1",
            )
            .bind(id.to_string())
            .fetch_optional(c)
            .await
        })?;
        let Some((invite_code, host, state, device, position, Json(mut parts), last_seq)) = row
        else {
            return Ok(None);
        };
        // The columns and the JSON of the rest, as one `SessionParts`.
        for (key, value) in [
            ("id", serde_json::json!(id)),
            ("invite_code", serde_json::json!(invite_code)),
            ("host", serde_json::json!(host)),
            ("state", serde_json::json!(state)),
            ("device", serde_json::json!(device)),
            ("position", serde_json::json!(position.unwrap_or(0).max(0))),
            ("members", serde_json::json!([])),
            ("queue", serde_json::json!([])),
        ] {
            parts.insert(key.to_owned(), value);
        }
        let mut parts: SessionParts = serde_json::from_value(serde_json::Value::Object(parts))?;

        let sql = tx.conn().pick(&MEMBERS);
        type MemberRow = (
            String,
            String,
            String,
            i64,
            Json<Vec<std::sync::Arc<sesh_session::Track>>>,
        );
        let members: Vec<MemberRow> = on!(tx.conn(), |c| {
            sqlx::query_as(sql).bind(id.to_string()).fetch_all(c).await
        })?;
        parts.members = members
            .into_iter()
            .map(|(user_id, display_name, role, joined_at_ms, top_tracks)| {
                Ok(Member {
                    user_id: UserId::new(user_id),
                    display_name,
                    role: role
                        .parse::<Role>()
                        .map_err(|e| DbError::Corrupt(e.to_string()))?,
                    joined_at_ms,
                    top_tracks: top_tracks.0,
                })
            })
            .collect::<Result<_, DbError>>()?;

        type EntryRow = (
            i64,
            Json<serde_json::Value>,
            Json<serde_json::Value>,
            String,
            Json<serde_json::Value>,
        );
        let queue: Vec<EntryRow> = on!(tx.conn(), |c| {
            sqlx::query_as(
                "SELECT entry_id, track, added_by, origin, votes FROM queue_entries
                 WHERE session_id = $1 ORDER BY position, entry_id",
            )
            .bind(id.to_string())
            .fetch_all(c)
            .await
        })?;
        parts.queue = queue
            .into_iter()
            .map(|(entry_id, track, added_by, origin, votes)| {
                Ok(QueueEntry {
                    id: QueueEntryId::new(entry_id.max(0) as u64),
                    track: serde_json::from_value(track.0)?,
                    added_by: serde_json::from_value(added_by.0)?,
                    origin: serde_json::from_value(serde_json::Value::String(origin))?,
                    votes: serde_json::from_value(votes.0)?,
                })
            })
            .collect::<Result<_, DbError>>()?;

        let sql = tx.conn().pick(&DISPLAYS);
        let displays: Vec<(String, Option<String>, bool, i64)> = on!(tx.conn(), |c| {
            sqlx::query_as(sql).bind(id.to_string()).fetch_all(c).await
        })?;
        parts.displays = displays
            .into_iter()
            .map(|(key, label, show_join, created_at_ms)| {
                let corrupt = |e: &dyn std::fmt::Display| DbError::Corrupt(e.to_string());
                Ok(SessionDisplay {
                    key: key.parse().map_err(|e| corrupt(&e))?,
                    label: label
                        .map(SessionName::try_from)
                        .transpose()
                        .map_err(|e| corrupt(&e))?,
                    show_join,
                    created_at_ms,
                })
            })
            .collect::<Result<_, DbError>>()?;

        // A snapshot from before bans kept names lists ids only: the users table knows better.
        for (user, name) in parts.banned.iter_mut() {
            if name.as_str() == user.as_str() {
                let known: Option<String> = on!(tx.conn(), |c| {
                    sqlx::query_scalar("SELECT display_name FROM users WHERE id = $1")
                        .bind(user.as_str())
                        .fetch_optional(c)
                        .await
                })?;
                if let Some(known) = known.filter(|n| !n.is_empty()) {
                    *name = known;
                }
            }
        }
        // Read only: the commit ends the snapshot.
        tx.commit().await?;

        let session = Session::from_parts(parts)?;
        Ok(Some((session, last_seq.max(0) as u64)))
    }
}

/// The last plays of a session (`$2` of them), in play order: ties in the same millisecond in
/// SQLite's insertion order, in PostgreSQL's entry order.
const PLAYS: Dialects = Dialects {
    sqlite: "SELECT started_at, entry_id FROM (
                 SELECT rowid, started_at, entry_id FROM session_plays WHERE session_id = $1
                 ORDER BY started_at DESC, rowid DESC LIMIT $2) AS recent
             ORDER BY started_at, rowid",
    postgres: "SELECT started_at, entry_id FROM (
                   SELECT started_at, entry_id FROM session_plays WHERE session_id = $1
                   ORDER BY started_at DESC, entry_id DESC LIMIT $2) AS recent
               ORDER BY started_at, entry_id",
};

/// A session's members in join order (rows from before join ordinals: SQLite's insertion
/// order; PostgreSQL never had such rows).
const MEMBERS: Dialects = Dialects {
    sqlite: "SELECT user_id, display_name, role, joined_at, top_tracks FROM session_members
             WHERE session_id = $1 ORDER BY ordinal, rowid",
    postgres: "SELECT user_id, display_name, role, joined_at, top_tracks FROM session_members
               WHERE session_id = $1 ORDER BY ordinal, joined_at, user_id",
};

/// A session's displays, oldest first.
const DISPLAYS: Dialects = Dialects {
    sqlite: "SELECT display_key, label, show_join, created_at FROM session_displays
             WHERE session_id = $1 ORDER BY created_at, rowid",
    postgres: "SELECT display_key, label, show_join, created_at FROM session_displays
               WHERE session_id = $1 ORDER BY created_at, display_key",
};

/// The rows one event touches (the session row is written for every transition).
async fn write_event(
    tx: &mut Tx,
    session: &Session,
    event: &Event,
    added_later: &HashSet<QueueEntryId>,
) -> Result<(), DbError> {
    let id = session.id();
    match event {
        Event::MemberJoined { member } | Event::MemberUpdated { member } => {
            write_member(tx, id, member).await?;
        }
        Event::MemberLeft { user_id, .. } => {
            execute!(
                tx.conn(),
                sqlx::query("DELETE FROM session_members WHERE session_id = $1 AND user_id = $2")
                    .bind(id.to_string())
                    .bind(user_id.as_str())
            )?;
        }
        Event::HostChanged { host } => {
            // The new host, and whoever held the role before (now what the session says).
            let previous: Vec<String> = on!(tx.conn(), |c| {
                sqlx::query_scalar(
                    "SELECT user_id FROM session_members WHERE session_id = $1 AND role = 'host'",
                )
                .bind(id.to_string())
                .fetch_all(c)
                .await
            })?;
            for user in previous.iter().map(UserId::new).chain([host.clone()]) {
                if let Some(member) = session.member(&user) {
                    write_role(tx, id, &user, member.role).await?;
                }
            }
        }
        Event::RoleChanged { user_id, role } => write_role(tx, id, user_id, *role).await?,
        Event::SessionStarted { .. } => {
            // The queue was empty before the start: every planned entry is new, in order.
            let planned = session
                .queue()
                .iter()
                .filter(|e| !added_later.contains(&e.id));
            for (position, entry) in planned.enumerate() {
                insert_entry(tx, id, entry, position).await?;
            }
        }
        Event::EntryAdded { entry, index } => {
            shift_positions(tx, id, *index, 1).await?;
            insert_entry(tx, id, entry, *index).await?;
        }
        Event::EntryUpdated { entry } => {
            execute!(
                tx.conn(),
                sqlx::query(
                    "UPDATE queue_entries SET track = $3, added_by = $4
                 WHERE session_id = $1 AND entry_id = $2",
                )
                .bind(id.to_string())
                .bind(entry.id.get() as i64)
                .bind(Json(&entry.track))
                .bind(Json(&entry.added_by))
            )?;
        }
        Event::EntryRemoved { id: entry } => {
            let position: Option<i64> = on!(tx.conn(), |c| {
                sqlx::query_scalar(
                    "DELETE FROM queue_entries WHERE session_id = $1 AND entry_id = $2
                     RETURNING position",
                )
                .bind(id.to_string())
                .bind(entry.get() as i64)
                .fetch_optional(c)
                .await
            })?;
            if let Some(position) = position {
                shift_positions(tx, id, position as usize + 1, -1).await?;
            }
        }
        Event::QueueReordered { from, order } => {
            for (offset, entry) in order.iter().enumerate() {
                execute!(tx.conn(), sqlx::query(
                    "UPDATE queue_entries SET position = $3 WHERE session_id = $1 AND entry_id = $2",
                )
                .bind(id.to_string())
                .bind(entry.get() as i64)
                .bind((from + offset) as i64))?;
            }
        }
        Event::EntryMoved { id: entry, index } => {
            let from: Option<i64> = on!(tx.conn(), |c| {
                sqlx::query_scalar(
                    "SELECT position FROM queue_entries WHERE session_id = $1 AND entry_id = $2",
                )
                .bind(id.to_string())
                .bind(entry.get() as i64)
                .fetch_optional(c)
                .await
            })?;
            if let Some(from) = from {
                let (from, to) = (from as usize, *index);
                // Out of the queue (the later entries close the gap), then in at `to`.
                shift_positions(tx, id, from + 1, -1).await?;
                shift_positions(tx, id, to, 1).await?;
                execute!(tx.conn(), sqlx::query(
                    "UPDATE queue_entries SET position = $3 WHERE session_id = $1 AND entry_id = $2",
                )
                .bind(id.to_string())
                .bind(entry.get() as i64)
                .bind(to as i64))?;
            }
        }
        Event::EntryVotes { id: entry, .. } => {
            if let Some(entry) = session.entry(*entry) {
                execute!(tx.conn(), sqlx::query(
                    "UPDATE queue_entries SET votes = $3 WHERE session_id = $1 AND entry_id = $2",
                )
                .bind(id.to_string())
                .bind(entry.id.get() as i64)
                .bind(Json(&entry.votes)))?;
            }
        }
        // In the session row only.
        Event::SettingsChanged { .. }
        | Event::EntryCommitted { .. }
        | Event::SkipVotes { .. }
        | Event::TrackBanned { .. }
        | Event::InviteRotated
        | Event::MemberUnbanned { .. }
        | Event::MemberMuted { .. }
        | Event::NowPlaying { .. }
        | Event::DeviceChanged { .. }
        | Event::SessionEnded => {}
        Event::DisplayCreated { display } => {
            execute!(tx.conn(), sqlx::query(
                "INSERT INTO session_displays (display_key, session_id, label, show_join, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(display.key.as_str())
            .bind(id.to_string())
            .bind(display.label.as_ref().map(|l| l.as_str().to_owned()))
            .bind(display.show_join)
            .bind(display.created_at_ms))?;
        }
        Event::DisplayRevoked { key } => {
            execute!(
                tx.conn(),
                sqlx::query(
                    "DELETE FROM session_displays WHERE display_key = $1 AND session_id = $2"
                )
                .bind(key.as_str())
                .bind(id.to_string())
            )?;
        }
    }
    Ok(())
}

/// Moves the entries at `from` and after by `by` places.
async fn shift_positions(
    tx: &mut Tx,
    session: SessionId,
    from: usize,
    by: i64,
) -> Result<(), DbError> {
    execute!(tx.conn(), sqlx::query(
        "UPDATE queue_entries SET position = position + $3 WHERE session_id = $1 AND position >= $2",
    )
    .bind(session.to_string())
    .bind(from as i64)
    .bind(by))?;
    Ok(())
}

async fn insert_entry(
    tx: &mut Tx,
    session: SessionId,
    entry: &QueueEntry,
    position: usize,
) -> Result<(), DbError> {
    execute!(tx.conn(), sqlx::query(
        "INSERT INTO queue_entries (session_id, entry_id, position, track, added_by, origin, votes)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(session.to_string())
    .bind(entry.id.get() as i64)
    .bind(position as i64)
    .bind(Json(&entry.track))
    .bind(Json(&entry.added_by))
    .bind(match entry.origin {
        EntryOrigin::TopTracks => "top_tracks",
        EntryOrigin::Added => "added",
    })
    .bind(Json(&entry.votes)))?;
    Ok(())
}

async fn write_role(
    tx: &mut Tx,
    session: SessionId,
    user: &UserId,
    role: Role,
) -> Result<(), DbError> {
    execute!(
        tx.conn(),
        sqlx::query("UPDATE session_members SET role = $3 WHERE session_id = $1 AND user_id = $2")
            .bind(session.to_string())
            .bind(user.as_str())
            .bind(role.as_str())
    )?;
    Ok(())
}

/// Inserts or refreshes one member row.
async fn write_member(tx: &mut Tx, session: SessionId, member: &Member) -> Result<(), DbError> {
    // A new row goes to the end of the join order (a member who left and rejoins too: leaving
    // deleted their row); an existing one keeps its place.
    execute!(tx.conn(), sqlx::query(
        "INSERT INTO session_members (session_id, user_id, display_name, role, joined_at, ordinal,
                                      top_tracks)
         VALUES ($1, $2, $3, $4, $5,
                 (SELECT COALESCE(MAX(ordinal), 0) + 1 FROM session_members WHERE session_id = $1),
                 $6)
         ON CONFLICT(session_id, user_id) DO UPDATE SET
            display_name = excluded.display_name, role = excluded.role,
            top_tracks = excluded.top_tracks",
    )
    .bind(session.to_string())
    .bind(member.user_id.as_str())
    .bind(&member.display_name)
    .bind(member.role.as_str())
    .bind(member.joined_at_ms)
    .bind(Json(&member.top_tracks)))?;
    Ok(())
}

/// The session row's JSON: what has no column of its own (settings, bans, the next queue
/// entry id), serialized from borrowed fields so no part of the session is cloned.
#[derive(Serialize)]
struct Extra<'a> {
    settings: &'a Settings,
    banned: &'a BTreeMap<UserId, String>,
    next_entry_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    committed: Option<QueueEntryId>,
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    skip_votes: &'a BTreeSet<UserId>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    skip_called: bool,
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    banned_tracks: &'a BTreeSet<TrackId>,
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    muted: &'a BTreeSet<UserId>,
}

fn extra(session: &Session) -> Extra<'_> {
    Extra {
        settings: session.settings(),
        banned: session.banned(),
        next_entry_id: session.next_entry_id(),
        committed: session.committed(),
        skip_votes: session.skip_votes(),
        skip_called: session.skip_called(),
        banned_tracks: session.banned_tracks(),
        muted: session.muted(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rand::{SeedableRng, rngs::StdRng};
    use sesh_session::{
        DeviceId, InviteCode, NewMember, Permission, Permissions, Track, TrackId, TrackUri,
    };

    use super::*;
    use crate::crypto::{SecretKey, TokenCipher};

    const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];

    async fn database(dir: &tempfile::TempDir) -> Database {
        let url = format!("sqlite://{}", dir.path().join("rows.db").display());
        let db = Database::connect(&url, TokenCipher::new(&SecretKey::generate()))
            .await
            .unwrap();
        for user in USERS {
            sqlx::query(
                "INSERT INTO users (id, display_name, access_token, token_expires_at, created_at, updated_at)
                 VALUES (?1, ?1, x'00', 0, 0, 0)",
            )
            .bind(user)
            .execute(db.sqlite_pool().unwrap())
            .await
            .unwrap();
        }
        db
    }

    fn member(user: &str, shared: &[&str]) -> NewMember {
        let tracks = (0..5)
            .map(|i| format!("{user}{i}"))
            .chain(shared.iter().map(|s| (*s).to_owned()))
            .map(|id| {
                let id = TrackId::new(id);
                Arc::new(Track {
                    uri: TrackUri::for_track(&id),
                    name: id.to_string(),
                    id,
                    artists: vec!["A".into()],
                    album: "B".into(),
                    image_url: None,
                    duration_ms: 1000,
                })
            })
            .collect();
        NewMember::new(UserId::new(user), user, tracks)
    }

    /// Every kind of event a playing session produces, each stored with only the rows it
    /// touches: after each one, what a reload finds is exactly the session in memory.
    #[tokio::test]
    async fn each_event_stores_only_its_rows_and_a_reload_finds_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir).await;
        let mut rng = StdRng::seed_from_u64(9);
        let alice = UserId::new("alice");
        let mut session = Session::new(
            SessionId::new_v4(),
            InviteCode::generate(&mut rng),
            member("alice", &[]),
            0,
            Settings::default(),
        );
        db.insert_session(&session).await.unwrap();
        let mut seq = 0;
        let mut step = async |session: &Session, events: Vec<Event>, what: &str| {
            assert!(!events.is_empty(), "{what} changed nothing");
            seq += 1;
            db.persist_session(session, &events, seq).await.unwrap();
            let (loaded, _) = db.load_session(session.id()).await.unwrap().unwrap();
            assert_eq!(&loaded, session, "after {what}");
        };

        let events = session
            .join(member("bob", &["alice0"]), 1, &mut rng)
            .unwrap();
        step(&session, events, "a join in the lobby").await;
        // A start whose plan was made before carol joined: she is woven in by the start.
        let plan = session.plan_start(&alice, &mut rng).unwrap();
        let events = session
            .join(member("carol", &["bob1"]), 2, &mut rng)
            .unwrap();
        step(&session, events, "a join while Spotify answers the start").await;
        let events = session
            .start_planned(&alice, DeviceId::new("laptop"), plan, &mut rng)
            .unwrap();
        assert!(
            events.iter().any(|e| matches!(e, Event::EntryAdded { .. })),
            "the start wove carol in: {events:?}"
        );
        step(&session, events, "the start").await;
        let (session_id, first) = (session.id(), session.queue()[0].id);
        let rowid_of_first = async |db: &Database| -> i64 {
            sqlx::query_scalar(
                "SELECT rowid FROM queue_entries WHERE session_id = ?1 AND entry_id = ?2",
            )
            .bind(session_id.to_string())
            .bind(first.get() as i64)
            .fetch_one(db.sqlite_pool().unwrap())
            .await
            .unwrap()
        };
        let written_at_start = rowid_of_first(&db).await;
        let events = session
            .join(member("dave", &["carol2", "alice3"]), 3, &mut rng)
            .unwrap();
        step(&session, events, "a late join").await;
        let events = session.reshuffle(&alice, &mut rng).unwrap();
        step(&session, events, "a reshuffle").await;
        let upcoming = session.queue()[session.position() + 2].id;
        let events = session.remove_entry(&alice, upcoming).unwrap();
        step(&session, events, "removing an entry").await;
        let events = session.advance_to(session.position() + 1).unwrap();
        step(&session, events, "the next track").await;
        let events = session.set_device(&alice, DeviceId::new("phone")).unwrap();
        step(&session, events, "a transfer").await;
        let events = session
            .set_role(&alice, &UserId::new("bob"), Role::CoHost)
            .unwrap();
        step(&session, events, "a promotion").await;
        let events = session
            .set_guest_permissions(&alice, Permissions::NONE.with(Permission::Seek))
            .unwrap();
        step(&session, events, "new guest permissions").await;
        let events = session.transfer_host(&alice, &UserId::new("bob")).unwrap();
        step(&session, events, "a hand-over to the co-host").await;
        let events = session.leave(&UserId::new("carol")).unwrap();
        step(&session, events, "a leave").await;
        let events = session.end(&UserId::new("bob")).unwrap();
        step(&session, events, "the end").await;

        // Never a rewrite: the row of the first entry is still the one written at the start.
        assert_eq!(rowid_of_first(&db).await, written_at_start);
    }

    /// A permission (or role) this version does not know is refused at load, never read as
    /// something else.
    #[tokio::test]
    async fn an_unknown_permission_in_storage_is_an_error_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(&dir).await;
        let mut rng = StdRng::seed_from_u64(10);
        let session = Session::new(
            SessionId::new_v4(),
            InviteCode::generate(&mut rng),
            member("alice", &[]),
            0,
            Settings::default(),
        );
        db.insert_session(&session).await.unwrap();
        assert!(db.load_session(session.id()).await.unwrap().is_some());
        sqlx::query(
            "UPDATE listening_sessions
             SET snapshot = json_set(snapshot, '$.settings.guest_permissions', json('[\"fly\"]'))
             WHERE id = ?1",
        )
        .bind(session.id().to_string())
        .execute(db.sqlite_pool().unwrap())
        .await
        .unwrap();
        let loaded = db.load_session(session.id()).await;
        assert!(matches!(loaded, Err(DbError::Json(_))), "{loaded:?}");
        // Roles: the table itself refuses one it does not know.
        let refused = sqlx::query("UPDATE session_members SET role = 'dj' WHERE session_id = ?1")
            .bind(session.id().to_string())
            .execute(db.sqlite_pool().unwrap())
            .await;
        assert!(refused.is_err());
    }
}
