-- Oriel control-plane schema, version 10: the text of SSH recordings, for
-- search, and an index for listing recordings by kind. Portable SQL
-- (SQLite and PostgreSQL).

-- What an SSH session's shell printed, as plain lines
-- (`oriel_core_recording::transcript`), lowercased so that one LIKE
-- finds it on both databases whatever the case; at most 8 MiB a
-- recording. Deleted with its recording.
CREATE TABLE recording_text (
    recording_id  TEXT PRIMARY KEY,
    text          TEXT NOT NULL
);
CREATE INDEX recordings_kind ON recordings (kind, started_at);
