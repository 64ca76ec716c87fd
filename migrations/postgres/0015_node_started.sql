-- SQLite's 0015 in PostgreSQL's types: when each instance's process started (Unix ms, by the
-- database's clock; set by its first heartbeat): a session is handed back only to an instance
-- up for a whole lease, which an instance restarted within a lease is not, though its
-- heartbeat never aged.
ALTER TABLE nodes ADD COLUMN started_at BIGINT NOT NULL DEFAULT 0;
