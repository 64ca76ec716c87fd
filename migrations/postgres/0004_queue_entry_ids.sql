-- Sesh schema v4: queue entries have an identity of their own, members may be co-hosts (see
-- the SQLite migration of the same name, which rebuilds both tables because SQLite cannot
-- change a CHECK or a primary key in place; PostgreSQL alters them). No PostgreSQL database
-- predates this schema: no rows to renumber, no snapshots to trim.

ALTER TABLE session_members DROP CONSTRAINT session_members_role_check;
ALTER TABLE session_members ADD CONSTRAINT session_members_role_check
    CHECK (role IN ('host', 'co_host', 'guest'));

-- sesh_session::QueueEntryId, unique per session; `position` is the index in the queue
-- (shifted as entries come and go).
ALTER TABLE queue_entries ADD COLUMN entry_id BIGINT NOT NULL;
ALTER TABLE queue_entries DROP CONSTRAINT queue_entries_pkey;
ALTER TABLE queue_entries ADD PRIMARY KEY (session_id, entry_id);
-- Not unique: positions move while a change shifts them.
CREATE INDEX queue_entries_order ON queue_entries(session_id, position);
