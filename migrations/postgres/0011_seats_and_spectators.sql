-- Sesh schema v11: Spotify seats and spectators (see the SQLite migration of the same name).
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'spotify' CHECK (kind IN ('spotify', 'spectator'));
ALTER TABLE users ADD COLUMN seated BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE users ADD COLUMN spectating TEXT;                -- a spectator's session id
CREATE INDEX users_seated ON users(seated) WHERE seated;

ALTER TABLE session_members DROP CONSTRAINT session_members_role_check;
ALTER TABLE session_members ADD CONSTRAINT session_members_role_check
    CHECK (role IN ('host', 'co_host', 'guest', 'spectator'));
