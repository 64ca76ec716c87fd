-- When a live session was last used (a member connected or acted), stored when its hub
-- unloads: the sweeper ends sessions nobody came back to (SESH_SESSION_IDLE_TIMEOUT).
ALTER TABLE listening_sessions ADD COLUMN active_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX listening_sessions_active ON listening_sessions(state, active_at);
