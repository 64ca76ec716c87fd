-- Sesh schema v2: a session's members and queue live only in their rows (see the SQLite
-- migration of the same name). No PostgreSQL database predates this schema, so there are no
-- snapshots to move into the rows: only the columns and the index.

-- Join order (a member who rejoins goes to the end) and the top tracks the member brought.
ALTER TABLE session_members ADD COLUMN ordinal BIGINT NOT NULL DEFAULT 0;
ALTER TABLE session_members ADD COLUMN top_tracks JSONB NOT NULL DEFAULT '[]';   -- array of sesh_session::Track

CREATE INDEX session_members_order ON session_members(session_id, ordinal);
