-- Members who listen along on their own Spotify device (hub/listening.rs): the device their
-- player follows the session on, and whether it is still in sync or the listener left.
CREATE TABLE session_listeners (
    session_id    TEXT NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('in_sync', 'detached')),
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (session_id, user_id)
);
