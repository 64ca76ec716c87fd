-- Each queue entry of a session as it started playing, in play order: the recap's truth
-- (what played, when, and so how long: a play cut more than 10 s short was skipped).
-- Written in the background with the now-playing position (see PositionWriter).
CREATE TABLE session_plays (
    session_id  TEXT NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    started_at  INTEGER NOT NULL,                         -- Unix ms
    entry_id    INTEGER NOT NULL                          -- sesh_session::QueueEntryId
) STRICT;
CREATE INDEX session_plays_session ON session_plays(session_id, started_at);
