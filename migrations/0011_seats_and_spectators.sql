-- Sesh schema v11: Spotify seats and spectators.
--
-- A Spotify app in development mode serves at most five allow-listed users; `SESH_SPOTIFY_SEATS`
-- says how many distinct Spotify users this instance may serve. A user holding one is `seated`;
-- the owner frees a seat (the user's tokens are dropped) and whoever logs in next may take it.
--
-- A spectator joins one session with a display name and no Spotify login: a `users` row of
-- kind 'spectator' (no tokens: `needs_reauth` = 1 so no Spotify call is ever made for it,
-- never seated), bound to the session it spectates, logged in by its own cookie.
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'spotify' CHECK (kind IN ('spotify', 'spectator'));
ALTER TABLE users ADD COLUMN seated INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN spectating TEXT;                -- a spectator's session id
CREATE INDEX users_seated ON users(seated) WHERE seated = 1;

-- Roles: host, co_host, guest, spectator (SQLite cannot change a CHECK in place: the table is
-- rebuilt, in join order).
CREATE TABLE session_members_v11 (
    session_id    TEXT NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users(id),
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('host', 'co_host', 'guest', 'spectator')),
    joined_at     INTEGER NOT NULL,
    ordinal       INTEGER NOT NULL DEFAULT 0,
    top_tracks    TEXT NOT NULL DEFAULT '[]',               -- JSON array of sesh_session::Track
    PRIMARY KEY (session_id, user_id)
) STRICT;
INSERT INTO session_members_v11 (session_id, user_id, display_name, role, joined_at, ordinal, top_tracks)
SELECT session_id, user_id, display_name, role, joined_at, ordinal, top_tracks
FROM session_members ORDER BY rowid;
DROP TABLE session_members;
ALTER TABLE session_members_v11 RENAME TO session_members;
CREATE INDEX session_members_user ON session_members(user_id);
CREATE INDEX session_members_order ON session_members(session_id, ordinal);
