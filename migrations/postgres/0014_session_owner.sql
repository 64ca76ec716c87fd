-- SQLite's 0014 in PostgreSQL's types: which instance runs each session's hub and poller
-- (a lease renewed while the hub runs, expiring by the database's clock) and the fencing
-- epoch every write of the session's state checks; and the instances' heartbeats.
CREATE TABLE session_owner (
    session_id        TEXT PRIMARY KEY NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    owner_node        TEXT NOT NULL,
    epoch             BIGINT NOT NULL,
    lease_expires_at  BIGINT NOT NULL                     -- Unix ms, by the database's clock
);
CREATE INDEX session_owner_node ON session_owner(owner_node);
CREATE INDEX session_owner_expires ON session_owner(lease_expires_at);

-- The instances, each with its last heartbeat (Unix ms, by the database's clock).
CREATE TABLE nodes (
    id            TEXT PRIMARY KEY NOT NULL,
    heartbeat_at  BIGINT NOT NULL
);
