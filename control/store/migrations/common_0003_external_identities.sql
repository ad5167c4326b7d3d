-- Oriel control-plane schema, version 3: users from an OpenID Connect
-- provider. Portable SQL (SQLite and PostgreSQL).

-- Who an external identity provider says a user is: the issuer and the
-- subject (`sub`) it vouches for, never the user name alone. A user whose
-- origin is 'oidc' has one row here.
CREATE TABLE external_identities (
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX external_identities_user ON external_identities (user_id);

-- OIDC logins whose callback has been handled (SHA-256 of their `state`),
-- until their flow expires: a callback is good once, whichever
-- control-plane process receives it.
CREATE TABLE oidc_flows_used (
    flow_hash  TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_flows_used_expiry ON oidc_flows_used (expires_at);
