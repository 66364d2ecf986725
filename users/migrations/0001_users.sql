-- Global users: the email is the username, unique whatever its case.
CREATE TABLE tenantkit_users (
    id            bigserial PRIMARY KEY,
    email         text        NOT NULL CHECK (email <> ''),
    password_hash text        NOT NULL DEFAULT '',
    is_active     boolean     NOT NULL DEFAULT true,
    is_verified   boolean     NOT NULL DEFAULT false,
    is_superuser  boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login    timestamptz,
    deleted_at    timestamptz
);
CREATE UNIQUE INDEX tenantkit_users_email_key ON tenantkit_users (lower(email));

-- Server-side sessions: only the SHA-256 of the token is stored.
CREATE TABLE tenantkit_sessions (
    token_hash   bytea       PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES tenantkit_users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX tenantkit_sessions_user_id ON tenantkit_sessions (user_id);
