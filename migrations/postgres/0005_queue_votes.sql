-- The collaborative queue: each entry knows how it came in (top tracks or added during the
-- session) and the members' votes on it.
ALTER TABLE queue_entries ADD COLUMN origin TEXT NOT NULL DEFAULT 'top_tracks'
    CHECK (origin IN ('top_tracks', 'added'));
-- Object of user id -> 1 | -1.
ALTER TABLE queue_entries ADD COLUMN votes JSONB NOT NULL DEFAULT '{}';
