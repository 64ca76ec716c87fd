-- Which instance runs each session's hub and poller when several share one database (issue
-- 22; SQLite has one instance, so its rows stay unused there): a lease that instance renews
-- while the hub runs, expiring by the database's clock, and a fencing epoch that only grows.
-- Every write of a session's state checks the writer's epoch, so an instance that lost the
-- lease (paused past its expiry, cut off from the database) writes nothing. A lease given up
-- is expired (`lease_expires_at = 0`), never deleted: the next claim continues its epoch.
CREATE TABLE session_owner (
    session_id        TEXT PRIMARY KEY NOT NULL REFERENCES listening_sessions(id) ON DELETE CASCADE,
    owner_node        TEXT NOT NULL,
    epoch             INTEGER NOT NULL,
    lease_expires_at  INTEGER NOT NULL                    -- Unix ms, by the database's clock
);
CREATE INDEX session_owner_node ON session_owner(owner_node);
CREATE INDEX session_owner_expires ON session_owner(lease_expires_at);

-- The instances, each with its last heartbeat (Unix ms, by the database's clock).
CREATE TABLE nodes (
    id            TEXT PRIMARY KEY NOT NULL,
    heartbeat_at  INTEGER NOT NULL
);
