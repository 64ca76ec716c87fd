-- A member's saved playlist of a session's played tracks: Spotify's playlist id and how many
-- of the session's plays (in play order) it holds, so a save interrupted by an error or a
-- restart resumes where it stopped, without duplicates.
CREATE TABLE session_playlists (
    session_id   TEXT NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    playlist_id  TEXT NOT NULL,
    url          TEXT NOT NULL,
    added        INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (session_id, user_id)
) STRICT;
