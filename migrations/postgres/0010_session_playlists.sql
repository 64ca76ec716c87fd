-- A member's saved playlist of a session's played tracks: Spotify's playlist id and how many
-- of the session's plays (in play order) it holds, so an interrupted save resumes.
CREATE TABLE session_playlists (
    session_id   TEXT NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    playlist_id  TEXT NOT NULL,
    url          TEXT NOT NULL,
    added        BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (session_id, user_id)
);
