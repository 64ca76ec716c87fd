-- Each queue entry of a session as it started playing, in play order: the recap's truth.
CREATE TABLE session_plays (
    session_id  TEXT NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    started_at  BIGINT NOT NULL,                          -- Unix ms
    entry_id    BIGINT NOT NULL                           -- sesh_session::QueueEntryId
);
CREATE INDEX session_plays_session ON session_plays(session_id, started_at);
