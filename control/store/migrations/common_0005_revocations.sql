-- Oriel control-plane schema, version 5: revocations published to gateways.
-- Portable SQL (SQLite and PostgreSQL).

-- What gateways must refuse before the tokens expire: a token (by id), a
-- session (all its tokens) or a user (tokens issued until `revoked_at`).
-- A row matters until `until_at` (Unix ms): past it every token it could
-- refuse has expired, reconnection window included. Rows are published as
-- one signed list numbered by `revocation_seq.seq`.
CREATE TABLE revocations (
    kind        TEXT NOT NULL CHECK (kind IN ('token', 'session', 'user')),
    subject     TEXT NOT NULL,
    revoked_at  BIGINT NOT NULL,
    until_at    BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    PRIMARY KEY (kind, subject)
);
CREATE INDEX revocations_until ON revocations (until_at);

-- The list's number: bumped (row update, so concurrent control planes
-- serialise) by every revocation.
CREATE TABLE revocation_seq (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL
);
INSERT INTO revocation_seq (id, seq) VALUES (1, 0);
