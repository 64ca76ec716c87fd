-- Displays: the host's display keys, each letting read-only screens (a TV, a stream overlay)
-- see its session. Looked up by key on every display request; revoking a key deletes its row.
CREATE TABLE session_displays (
    display_key TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    label       TEXT,
    show_join   BOOLEAN NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX session_displays_session ON session_displays(session_id, created_at);
