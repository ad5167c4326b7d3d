-- Oriel control-plane schema, version 9: session recordings in the
-- control plane's storage. Portable SQL (SQLite and PostgreSQL).

-- One row per recording file a gateway handed over (docs/recording.md).
-- `session_id`, `user_id`, `workspace_id` are not foreign keys: a
-- recording outlives the rows it names (a deleted user or workspace).
-- `file_name` is the gateway's name for the file (`<start µs>.orec`): with
-- the session id it makes a repeated upload of the same file idempotent.
-- `verdict` is `core/recording`'s judgement at upload (`complete`,
-- `incomplete`, `tampered`); `verdict_detail` says why (verified records,
-- where the chain breaks). `path` is the file's name in the store
-- directory. `retain_until` (Unix ms) is when the retention sweep deletes
-- it; NULL keeps it.
CREATE TABLE recordings (
    id              TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    workspace_id    TEXT,
    workspace_name  TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    username        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    gateway         TEXT NOT NULL,
    started_at      BIGINT NOT NULL,
    ended_at        BIGINT NOT NULL,
    bytes           BIGINT NOT NULL,
    sha256          TEXT NOT NULL,
    verdict         TEXT NOT NULL CHECK (verdict IN ('complete', 'incomplete', 'tampered')),
    verdict_detail  TEXT NOT NULL DEFAULT '',
    path            TEXT NOT NULL,
    retain_until    BIGINT,
    created_at      BIGINT NOT NULL,
    UNIQUE (session_id, file_name)
);
CREATE INDEX recordings_started ON recordings (started_at, id);
CREATE INDEX recordings_retain ON recordings (retain_until);
