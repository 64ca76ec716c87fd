-- Sesh schema v1. Times are Unix milliseconds. Secrets are never stored in clear:
-- Spotify tokens are AES-256-GCM ciphertexts, login-session ids and OAuth states SHA-256 hashes.

-- A Spotify account that logged in to Sesh.
CREATE TABLE users (
    id                TEXT PRIMARY KEY NOT NULL,          -- Spotify user id
    display_name      TEXT NOT NULL,
    access_token      BLOB NOT NULL,                      -- nonce || AES-256-GCM(access token)
    refresh_token     BLOB,                               -- nonce || AES-256-GCM(refresh token)
    token_expires_at  INTEGER NOT NULL,
    scope             TEXT NOT NULL DEFAULT '',
    needs_reauth      INTEGER NOT NULL DEFAULT 0,         -- refresh token revoked: log in again
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;

-- A browser logged in as a user (cookie `sesh_sid`; only its hash is stored).
CREATE TABLE login_sessions (
    id_hash     TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX login_sessions_user ON login_sessions(user_id);

-- A pending OAuth authorization (single use, 10-minute TTL).
CREATE TABLE oauth_states (
    state_hash     TEXT PRIMARY KEY NOT NULL,
    pkce_verifier  BLOB NOT NULL,                         -- encrypted
    next_path      TEXT NOT NULL,
    expires_at     INTEGER NOT NULL
) STRICT;

-- Each member's top tracks, fetched when they join and reused at Start.
CREATE TABLE top_tracks (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    rank        INTEGER NOT NULL,
    track       TEXT NOT NULL,                            -- JSON of sesh_session::Track
    time_range  TEXT NOT NULL,
    fetched_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, rank)
) STRICT;

-- A listening session. `snapshot` is the domain state (sesh_session::Session as JSON) from which
-- a hub is revived; the other columns mirror it for queries.
CREATE TABLE listening_sessions (
    id           TEXT PRIMARY KEY NOT NULL,
    invite_code  TEXT NOT NULL UNIQUE,
    host_id      TEXT NOT NULL REFERENCES users(id),
    state        TEXT NOT NULL CHECK (state IN ('lobby', 'playing', 'ended')),
    device_id    TEXT,
    position     INTEGER,
    last_seq     INTEGER NOT NULL DEFAULT 0,              -- last event sequence number sent
    snapshot     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX listening_sessions_state ON listening_sessions(state);

-- Members of a listening session, in join order.
CREATE TABLE session_members (
    session_id    TEXT NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users(id),
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('host', 'guest')),
    joined_at     INTEGER NOT NULL,
    PRIMARY KEY (session_id, user_id)
) STRICT;
CREATE INDEX session_members_user ON session_members(user_id);

-- The session's play queue.
CREATE TABLE queue_entries (
    session_id  TEXT NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    track       TEXT NOT NULL,                            -- JSON of sesh_session::Track
    added_by    TEXT NOT NULL,                            -- JSON array of user ids
    PRIMARY KEY (session_id, position)
) STRICT;
