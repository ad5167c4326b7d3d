-- Oriel control-plane schema, version 4: agents and container sessions.
-- Portable SQL (SQLite and PostgreSQL).

-- Agents that run container sessions. An agent registers (and re-registers
-- after a restart) with its zone and capacity, then polls; every poll is a
-- heartbeat. `placements` is bumped by every launch placed on the agent:
-- the row update serialises concurrent placements, so capacity holds
-- however launches race, in one process or several.
CREATE TABLE agents (
    id             TEXT PRIMARY KEY,
    zone           TEXT NOT NULL,
    labels         TEXT NOT NULL DEFAULT '{}',
    max_sessions   BIGINT NOT NULL,
    cpus           BIGINT NOT NULL,
    memory_mb      BIGINT NOT NULL,
    gateway_url    TEXT,
    -- The gateway on the agent's node (multi-host): its public keys
    -- (sealing: credentials in tokens; signing: its reports) and the SHA-256
    -- of its TLS certificate (what a relaying gateway accepts there).
    gateway_sealing_key  TEXT,
    gateway_signing_key  TEXT,
    gateway_cert_sha256  TEXT,
    state          TEXT NOT NULL CHECK (state IN ('online', 'lost')),
    registered_at  BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    placements     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX agents_zone ON agents (zone, state);

-- Where a container session runs, and how to reach its desktop once the
-- agent reported it ready (the VNC password sealed with the data key).
ALTER TABLE sessions ADD COLUMN agent_id TEXT;
ALTER TABLE sessions ADD COLUMN memory_mb BIGINT;
ALTER TABLE sessions ADD COLUMN target_host TEXT;
ALTER TABLE sessions ADD COLUMN target_port BIGINT;
ALTER TABLE sessions ADD COLUMN target_secret TEXT;
CREATE INDEX sessions_agent ON sessions (agent_id, state);

-- The zone a user's container sessions are placed in.
ALTER TABLE users ADD COLUMN zone TEXT NOT NULL DEFAULT 'default';
