-- Sesh schema v4: queue entries have an identity of their own (a track may be queued more than
-- once, and an entry is added, updated, moved or removed by its id: one row per change, never a
-- rewrite of the queue), and the session row's JSON no longer repeats what its columns hold.

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
