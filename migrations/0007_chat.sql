-- The session's chat: its last 200 messages (the hub deletes the oldest row in the transaction
-- that inserts the 201st; a moderator's delete removes the row). Reactions are a JSON object of
-- emoji -> [user ids]. The next message id lives on the session row so ids are never reused,
-- not even the newest one's after it was deleted. Mutes are in the session row's JSON (serde
-- default: nothing to migrate there).
ALTER TABLE listening_sessions ADD COLUMN chat_next_id INTEGER NOT NULL DEFAULT 0;
CREATE TABLE chat_messages (
    session_id  TEXT NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    id          INTEGER NOT NULL,
    author      TEXT NOT NULL,
    author_name TEXT NOT NULL,
    text        TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    reactions   TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (session_id, id)
) WITHOUT ROWID;
