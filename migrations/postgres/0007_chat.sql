-- The session's chat: its last 200 messages (see the SQLite migration of the same name).
-- Reactions are an object of emoji -> [user ids]. The next message id lives on the session row
-- so ids are never reused.
ALTER TABLE listening_sessions ADD COLUMN chat_next_id BIGINT NOT NULL DEFAULT 0;
CREATE TABLE chat_messages (
    session_id  TEXT NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    id          BIGINT NOT NULL,
    author      TEXT NOT NULL,
    author_name TEXT NOT NULL,
    text        TEXT NOT NULL,
    at_ms       BIGINT NOT NULL,
    reactions   JSONB NOT NULL DEFAULT '{}',
    PRIMARY KEY (session_id, id)
);
