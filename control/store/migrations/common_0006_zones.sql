-- Oriel control-plane schema, version 6: zones.
-- Portable SQL (SQLite and PostgreSQL).

-- A zone keeps sessions near their users: agents, connection proxies and
-- dedicated proxies belong to one. `proxy_url` is the entry of the zone's
-- dedicated proxy (browsers of the zone's users stream through it);
-- `connection_proxy` (JSON: id, url, cert_sha256, sealing_key) is the
-- gateway that reaches targets inside the zone's network; `fallback` lets
-- its users' container sessions go to other zones when it has no room.
CREATE TABLE zones (
    name              TEXT PRIMARY KEY,
    description       TEXT NOT NULL DEFAULT '',
    fallback          BIGINT NOT NULL DEFAULT 0,
    proxy_url         TEXT,
    connection_proxy  TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
INSERT INTO zones (name, description, fallback, created_at, updated_at)
VALUES ('default', 'The zone of every agent and user not given another', 0, 0, 0);
