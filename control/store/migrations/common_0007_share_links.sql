-- Oriel control-plane schema, version 7: share links of sessions.
-- Portable SQL (SQLite and PostgreSQL).

-- A link a session's owner (or an admin) hands out so that others watch
-- the session, view only or with control. `id` is the link itself: an
-- unguessable secret (128 random bits, base64url). `control` is whether
-- its guests control the session now (handed over and taken back);
-- `groups` (a JSON array of group ids) limits it to signed-in members of
-- those groups, NULL: anyone holding the link. A revoked link is
-- published in the revocation list (`links`) until `revoked_until`,
-- when every token issued for it is dead.
CREATE TABLE share_links (
    id             TEXT PRIMARY KEY,
    session_id     TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_by     TEXT NOT NULL,
    created_by_name TEXT NOT NULL,
    control        BIGINT NOT NULL DEFAULT 0,
    groups_json    TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoked_until  BIGINT
);
CREATE INDEX share_links_session ON share_links (session_id, created_at);
CREATE INDEX share_links_revoked ON share_links (revoked_until);
