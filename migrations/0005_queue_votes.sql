-- The collaborative queue: each entry knows how it came in (top tracks or added during the
-- session) and the members' votes on it; the session row's JSON gains the committed entry,
-- the skip votes and the banned tracks (serde defaults: nothing to migrate there).
ALTER TABLE queue_entries ADD COLUMN origin TEXT NOT NULL DEFAULT 'top_tracks'
    CHECK (origin IN ('top_tracks', 'added'));
-- JSON object of user id -> 1 | -1.
ALTER TABLE queue_entries ADD COLUMN votes TEXT NOT NULL DEFAULT '{}';
