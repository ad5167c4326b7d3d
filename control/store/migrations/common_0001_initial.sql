-- Oriel control-plane schema, version 1.
-- Portable SQL: the same file runs on SQLite and PostgreSQL. Times are Unix
-- milliseconds (BIGINT), ids are UUID text, booleans are 0/1 BIGINTs and
-- encrypted secrets are base64 TEXT, so one set of queries serves both.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'user', 'auditor')),
    disabled      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

CREATE TABLE login_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    source     TEXT
);
CREATE INDEX login_sessions_user ON login_sessions (user_id);

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    host        TEXT NOT NULL,
    port        BIGINT NOT NULL,
    credentials TEXT,
    policy      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE sessions (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id     TEXT NOT NULL,
    workspace_name   TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('running', 'ended')),
    created_at       BIGINT NOT NULL,
    ended_at         BIGINT,
    token_expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id, created_at);
CREATE INDEX sessions_state ON sessions (state);
