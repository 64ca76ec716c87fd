-- Sesh schema v3: logins bound to the browser that started them, idle timeouts, and sweeps.

-- The hash of the one-time cookie `/auth/login` set in the browser that started this
-- authorization: the callback must come back with it (login CSRF, RFC 9700 §4.7).
ALTER TABLE oauth_states ADD COLUMN browser_hash TEXT NOT NULL DEFAULT '';
-- The sweep and the cap on pending states read by expiry.
CREATE INDEX oauth_states_expires ON oauth_states(expires_at);

-- When the login was last used (coarsely: written at most once an hour), for the idle timeout.
ALTER TABLE login_sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX login_sessions_expires ON login_sessions(expires_at);
CREATE INDEX login_sessions_last_seen ON login_sessions(last_seen_at);
