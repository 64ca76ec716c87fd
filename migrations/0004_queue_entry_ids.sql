-- Sesh schema v4: queue entries have an identity of their own (a track may be queued more than
-- once, and an entry is added, updated, moved or removed by its id: one row per change, never a
-- rewrite of the queue), members may be co-hosts, and the session row's JSON no longer repeats
-- what its columns hold.

-- Roles: host, co_host, guest (SQLite cannot change a CHECK in place: the table is rebuilt, in
-- join order).
CREATE TABLE session_members_v4 (
    session_id    TEXT NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users(id),
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('host', 'co_host', 'guest')),
    joined_at     INTEGER NOT NULL,
    ordinal       INTEGER NOT NULL DEFAULT 0,
    top_tracks    TEXT NOT NULL DEFAULT '[]',               -- JSON array of sesh_session::Track
    PRIMARY KEY (session_id, user_id)
) STRICT;
INSERT INTO session_members_v4 (session_id, user_id, display_name, role, joined_at, ordinal, top_tracks)
SELECT session_id, user_id, display_name, role, joined_at, ordinal, top_tracks
FROM session_members ORDER BY rowid;
DROP TABLE session_members;
ALTER TABLE session_members_v4 RENAME TO session_members;
CREATE INDEX session_members_user ON session_members(user_id);
CREATE INDEX session_members_order ON session_members(session_id, ordinal);

CREATE TABLE queue_entries_v4 (
    session_id  TEXT NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    entry_id    INTEGER NOT NULL,                         -- sesh_session::QueueEntryId, unique per session
    position    INTEGER NOT NULL,                         -- index in the queue (shifted as entries come and go)
    track       TEXT NOT NULL,                            -- JSON of sesh_session::Track
    added_by    TEXT NOT NULL,                            -- JSON array of user ids
    PRIMARY KEY (session_id, entry_id)
) STRICT;

-- Existing entries are numbered by their position; new ones continue above (the session's
-- `next_entry_id`, below).
INSERT INTO queue_entries_v4 (session_id, entry_id, position, track, added_by)
SELECT session_id, position, position, track, added_by FROM queue_entries;

DROP TABLE queue_entries;
ALTER TABLE queue_entries_v4 RENAME TO queue_entries;
-- Not unique: positions move while a change shifts them.
CREATE INDEX queue_entries_order ON queue_entries(session_id, position);

-- The JSON keeps only what has no column: settings, bans and the next entry id.
UPDATE listening_sessions
SET snapshot = json_set(
    json_remove(snapshot, '$.id', '$.invite_code', '$.state', '$.host', '$.members', '$.queue',
                '$.position', '$.device'),
    '$.next_entry_id',
    (SELECT COALESCE(MAX(q.entry_id) + 1, 0) FROM queue_entries q
     WHERE q.session_id = listening_sessions.id));
