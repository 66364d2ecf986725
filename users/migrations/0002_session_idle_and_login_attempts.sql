-- Idle timeout: when the session was last used. SessionUser refreshes it
-- at most once a minute, so a busy session costs no write per request.
ALTER TABLE tenantkit_sessions ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX tenantkit_sessions_expires_at ON tenantkit_sessions (expires_at);

-- Login throttling, shared by every process: attempts per key (the
-- SHA-256 of an account's email or of a client address) in a fixed
-- window. Rows of past windows are pruned as new attempts come in.
CREATE TABLE tenantkit_login_attempts (
    key          bytea       PRIMARY KEY,
    attempts     integer     NOT NULL,
    window_start timestamptz NOT NULL
);
CREATE INDEX tenantkit_login_attempts_window_start ON tenantkit_login_attempts (window_start);
