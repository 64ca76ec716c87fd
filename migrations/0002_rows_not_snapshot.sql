-- Sesh schema v2: a session's members and queue live only in their rows. The snapshot in
-- `listening_sessions` keeps the small part of the domain state (state, host, settings,
-- position, device, bans), so a join or a leave writes one member row and a small snapshot
-- instead of rewriting every member's top tracks and the whole queue (O(members) per join).

-- Join order (a member who rejoins goes to the end) and the top tracks the member brought.
ALTER TABLE session_members ADD COLUMN ordinal INTEGER NOT NULL DEFAULT 0;
ALTER TABLE session_members ADD COLUMN top_tracks TEXT NOT NULL DEFAULT '[]';   -- JSON array of sesh_session::Track

UPDATE session_members SET
    ordinal = COALESCE((
        SELECT CAST(m.key AS INTEGER) + 1
        FROM listening_sessions s, json_each(s.snapshot, '$.members') AS m
        WHERE s.id = session_members.session_id
          AND json_extract(m.value, '$.user_id') = session_members.user_id), 0),
    top_tracks = COALESCE((
        SELECT json_extract(m.value, '$.top_tracks')
        FROM listening_sessions s, json_each(s.snapshot, '$.members') AS m
        WHERE s.id = session_members.session_id
          AND json_extract(m.value, '$.user_id') = session_members.user_id), '[]');

CREATE INDEX session_members_order ON session_members(session_id, ordinal);

-- The queue rows were always written with every queue change; the snapshots drop their copies.
UPDATE listening_sessions
SET snapshot = json_set(snapshot, '$.members', json('[]'), '$.queue', json('[]'));
