-- Oriel control-plane schema, version 2: groups, second factor, login
-- throttling, API tokens, the session state machine, the audit log.
-- Portable SQL (SQLite and PostgreSQL); the backend-specific parts (the
-- audit log's append-only triggers) follow in <backend>_0002_*.sql.

CREATE TABLE groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    settings    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE group_workspaces (
    group_id     TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, workspace_id)
);
CREATE INDEX group_workspaces_workspace ON group_workspaces (workspace_id);

-- TOTP secret encrypted with the data key; NULL: no second factor.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_confirmed BIGINT NOT NULL DEFAULT 0;
-- The last TOTP step used: a code is good once.
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
-- 'local', or the OIDC issuer the user came from, with its subject.
ALTER TABLE users ADD COLUMN origin TEXT NOT NULL DEFAULT 'local';
ALTER TABLE users ADD COLUMN external_id TEXT;
-- Bumped first in a launch's transaction: serialises one user's launches
-- (a row lock in PostgreSQL, the write lock in SQLite).
ALTER TABLE users ADD COLUMN launches BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX users_external ON users (origin, external_id);

CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- Failed logins by key: 'user:<name>' and 'ip:<address>'.
CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    last_failure BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);

-- How far a login got: 'full', or 'totp_enroll' while the user must enrol
-- a second factor before doing anything else.
ALTER TABLE login_sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full';

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Kind-specific settings (container image and resources) and the target's
-- recorded identity (certificate or host key fingerprint).
ALTER TABLE workspaces ADD COLUMN spec TEXT NOT NULL DEFAULT '{}';
ALTER TABLE workspaces ADD COLUMN identity TEXT;

-- Sessions with the whole state machine. SQLite cannot alter a CHECK
-- constraint, so the table is rebuilt (the same SQL works on PostgreSQL).
CREATE TABLE sessions_v2 (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id     TEXT NOT NULL,
    workspace_name   TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('requested', 'starting', 'running', 'ending', 'ended', 'failed')),
    requested_at     BIGINT NOT NULL,
    starting_at      BIGINT,
    running_at       BIGINT,
    ending_at        BIGINT,
    ended_at         BIGINT,
    failure          TEXT,
    token_expires_at BIGINT NOT NULL,
    deadline         BIGINT,
    source           TEXT
);
INSERT INTO sessions_v2 (id, user_id, workspace_id, workspace_name, state, requested_at, running_at, ended_at, token_expires_at)
    SELECT id, user_id, workspace_id, workspace_name, state, created_at, created_at, ended_at, token_expires_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_v2 RENAME TO sessions;
CREATE INDEX sessions_user ON sessions (user_id, requested_at);
CREATE INDEX sessions_state ON sessions (state);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor_id    TEXT,
    actor_name  TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_type TEXT,
    target_id   TEXT,
    target_name TEXT,
    source      TEXT,
    outcome     TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    details     TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_actor ON audit_log (actor_name, at);
CREATE INDEX audit_log_action ON audit_log (action, at);
