-- SQLite's 0015 in PostgreSQL's types: when each instance's process started (Unix ms, by the
-- database's clock; set by its first heartbeat), and whether a plain request (not a WebSocket,
-- not a health check) has reached it since: a session is handed back only to an instance up
-- for a whole lease that Nginx demonstrably sends requests to. Nginx marks an instance it saw
-- fail up again only once a request to it completes, which a WebSocket does only when it
-- closes.
ALTER TABLE nodes ADD COLUMN started_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN reached BOOLEAN NOT NULL DEFAULT FALSE;
