-- Sesh schema v1 for PostgreSQL: the same tables, columns and keys as the SQLite migration of
-- the same name, in PostgreSQL's own types (BIGINT Unix milliseconds, BYTEA ciphertexts,
-- BOOLEAN flags, JSONB documents). Secrets are never stored in clear: Spotify tokens are
-- AES-256-GCM ciphertexts, login-session ids and OAuth states SHA-256 hashes.

-- A Spotify account that logged in to Sesh.
CREATE TABLE users (
    id                TEXT PRIMARY KEY NOT NULL,          -- Spotify user id
    display_name      TEXT NOT NULL,
    access_token      BYTEA NOT NULL,                     -- nonce || AES-256-GCM(access token)
    refresh_token     BYTEA,                              -- nonce || AES-256-GCM(refresh token)
    token_expires_at  BIGINT NOT NULL,
    scope             TEXT NOT NULL DEFAULT '',
    needs_reauth      BOOLEAN NOT NULL DEFAULT FALSE,     -- refresh token revoked: log in again
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

-- A browser logged in as a user (cookie `sesh_sid`; only its hash is stored).
CREATE TABLE login_sessions (
    id_hash     TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX login_sessions_user ON login_sessions(user_id);

-- A pending OAuth authorization (single use, 10-minute TTL).
CREATE TABLE oauth_states (
    state_hash     TEXT PRIMARY KEY NOT NULL,
    pkce_verifier  BYTEA NOT NULL,                        -- encrypted
    next_path      TEXT NOT NULL,
    expires_at     BIGINT NOT NULL
);

-- Each member's top tracks, fetched when they join and reused at Start.
CREATE TABLE top_tracks (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    rank        BIGINT NOT NULL,
    track       JSONB NOT NULL,                           -- sesh_session::Track
    time_range  TEXT NOT NULL,
    fetched_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, rank)
);

-- A listening session: the columns for queries, `snapshot` the rest of the domain state.
CREATE TABLE listening_sessions (
    id           TEXT PRIMARY KEY NOT NULL,
    invite_code  TEXT NOT NULL UNIQUE,
    host_id      TEXT NOT NULL REFERENCES users(id),
    state        TEXT NOT NULL CHECK (state IN ('lobby', 'playing', 'ended')),
    device_id    TEXT,
    position     BIGINT,
    last_seq     BIGINT NOT NULL DEFAULT 0,               -- last event sequence number sent
    snapshot     JSONB NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX listening_sessions_state ON listening_sessions(state);

-- Members of a listening session, in join order.
CREATE TABLE session_members (
    session_id    TEXT NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users(id),
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('host', 'guest')),
    joined_at     BIGINT NOT NULL,
    PRIMARY KEY (session_id, user_id)
);
CREATE INDEX session_members_user ON session_members(user_id);

-- The session's play queue.
CREATE TABLE queue_entries (
    session_id  TEXT NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    track       JSONB NOT NULL,                           -- sesh_session::Track
    added_by    JSONB NOT NULL,                           -- array of user ids
    PRIMARY KEY (session_id, position)
);
