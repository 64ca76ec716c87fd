-- When a live session was last used (a member connected or acted), stored when its hub
-- unloads: the sweeper ends sessions nobody came back to (SESH_SESSION_IDLE_TIMEOUT).
ALTER TABLE listening_sessions ADD COLUMN active_at INTEGER NOT NULL DEFAULT 0;
UPDATE listening_sessions SET active_at = updated_at;
CREATE INDEX listening_sessions_active ON listening_sessions(state, active_at);
