#!/usr/bin/env python3
"""Builds control/src/openapi.json, the OpenAPI document of /api/v1.

The document is the contract; this script only spares hand-written JSON.
Run it after changing the API: python3 control/openapi/build.py
Tests (control/src/api/openapi.rs) check that openapi.json is what this
script writes, that it lists exactly the router's routes, and that each
request schema names exactly the fields of its Rust type; the API's
end-to-end tests check every response against it.
"""
import json
import pathlib
import sys

def ref(name): return {"$ref": f"#/components/schemas/{name}"}
def resp(name): return {"$ref": f"#/components/responses/{name}"}
def body(schema, desc=None):
    r = {"content": {"application/json": {"schema": schema}}}
    if desc:
        r["description"] = desc
    return r
def ok(desc, schema): return {"description": desc, **body(schema)}
def obj(props, required=None, desc=None, extra=False):
    o = {"type": "object", "properties": props, "additionalProperties": extra}
    if required is not None:
        o["required"] = required
    if desc:
        o["description"] = desc
    return o
def nullable(schema): return {"oneOf": [schema, {"type": "null"}]}
def listing(item): return obj({"items": {"type": "array", "items": ref(item)}, "next": {"type": ["string", "null"], "description": "Cursor of the next page (the `after` parameter), or null."}}, ["items", "next"])

S = {"type": "string"}
SN = {"type": ["string", "null"]}  # a string, or null (what an Option<String> field accepts)
B = {"type": "boolean"}
T = {"type": "string", "format": "date-time"}
TN = {"type": ["string", "null"], "format": "date-time"}
SEC = [{"bearer": []}, {"cookie": []}]
ID = {"name": "id", "in": "path", "required": True, "schema": S}
LIMIT = {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "description": "Items per page (a whole number; 422 outside 1-200, 400 when not a number)."}
def after(desc, pattern=None):
    schema = {"type": "string"} if pattern is None else {"type": "string", "pattern": pattern}
    return {"name": "after", "in": "query", "required": False, "schema": schema, "description": desc}
PAGE = [LIMIT, after("Cursor: the `next` of the previous page (the last item's sort key).")]
# Keyset cursors of time-ordered lists: `<unix ms>:<id>` (sessions, tokens).
TIME_PAGE = [LIMIT, after("Cursor `<unix ms>:<id>`, exactly the `next` of the previous page; anything else is 400 `bad_request`.", "^-?[0-9]+:")]
# Human names: letters, digits (any script), spaces, dots, dashes, underscores; no space at either end.
NAME_PATTERN = "^[\\p{L}\\p{N}._-]([\\p{L}\\p{N} ._-]*[\\p{L}\\p{N}._-])?$"
HTTPS_URL = {"type": "string", "maxLength": 512, "pattern": "^https://\\S+$"}
HEX64 = {"type": "string", "pattern": "^[0-9A-Fa-f]{64}$"}
KEY32 = {"type": "string", "pattern": "^\\s*[A-Za-z0-9+/]{43}=\\s*$", "description": "32 bytes, standard base64."}
E = {  # common error responses by status
    400: resp("BadRequest"), 401: resp("Unauthorized"), 403: resp("Forbidden"), 404: resp("NotFound"),
    409: resp("Conflict"), 415: resp("UnsupportedMediaType"), 422: resp("Unprocessable"), 429: resp("TooManyRequests"),
}
def errs(*codes): return {str(c): E[c] for c in codes}

policy_fields = {
    "clipboard_up": ({"type": "boolean", "default": False}, "Clipboard from the browser to the remote desktop."),
    "clipboard_down": ({"type": "boolean", "default": False}, "Clipboard from the remote desktop to the browser."),
    "clipboard_max_bytes": ({"type": "integer", "minimum": 0, "maximum": 1048576, "default": 1048576}, "Largest clipboard text, bytes."),
    "upload": ({"type": "boolean", "default": False}, "Files from the browser to the remote."),
    "download": ({"type": "boolean", "default": False}, "Files from the remote to the browser."),
    "upload_max_bytes": ({"type": ["integer", "null"], "minimum": 0, "maximum": 9007199254740991, "default": 104857600}, "Largest file uploaded, bytes; 0: no limit; null or absent: `transfer_max_bytes`, else the default. The gateway refuses a larger upload before any of it is sent."),
    "download_max_bytes": ({"type": ["integer", "null"], "minimum": 0, "maximum": 9007199254740991, "default": 104857600}, "Largest file downloaded, bytes; 0: no limit; null or absent: `transfer_max_bytes`, else the default."),
    "transfer_max_bytes": ({"type": ["integer", "null"], "minimum": 0, "maximum": 9007199254740991, "deprecated": True}, "Legacy: read as both `upload_max_bytes` and `download_max_bytes` where those are absent; never returned."),
    "watermark": ({"type": "boolean", "default": False}, "Draw a watermark (`watermark_text`) into every picture on the gateway, before encoding: the viewer cannot remove it and recordings carry it."),
    "watermark_text": ({"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\p{Cc}]*\\S[^\\p{Cc}]*$", "default": "{user} {time}|{session} {client}"}, "The watermark's text: `{user}` (the user's name), `{time}` (UTC, to the minute), `{session}` (the session id), `{client}` (the address of the viewer that started the session) are filled in; `|` starts a new line. 1-200 characters, not blank, no control characters (422). Set on the workspace; groups do not override it."),
    "watermark_opacity": ({"type": "integer", "minimum": 1, "maximum": 100, "default": 25}, "How strongly the watermark is blended over the picture, percent (1-100)."),
    "watermark_angle": ({"type": "integer", "minimum": -90, "maximum": 90, "default": 30}, "The watermark's rotation, degrees counter-clockwise (-90 to 90)."),
    "recording": ({"type": "boolean", "default": False}, "Record the session at the gateway (docs/recording.md): what the viewers are sent and an event track, signed; fail closed (a gateway that cannot record refuses the session; a recording that stops being written ends it)."),
    "idle_timeout_secs": ({"type": "integer", "minimum": 0, "maximum": 4294967295, "default": 0}, "End the session after this long without input; 0: never."),
    "max_session_secs": ({"type": "integer", "minimum": 0, "maximum": 4294967295, "default": 0}, "End the session this long after launch; 0: no limit."),
    "max_sessions_per_user": ({"type": "integer", "minimum": 0, "maximum": 4294967295, "default": 0}, "Active sessions of the workspace one user may have; 0: no limit."),
}
def with_desc(schema, desc): return {**schema, "description": desc}
policy = obj({k: with_desc(v[0], v[1]) for k, v in policy_fields.items()}, desc="Enforced by the gateway (the session count by the control plane). Missing fields take the safe default.")
def nullable_type(schema):
    t = schema["type"]
    return {**schema, "type": t if isinstance(t, list) else [t, "null"]}
NOT_OVERRIDDEN = {"watermark_text", "watermark_opacity", "watermark_angle"}
overrides = obj({k: with_desc(nullable_type({kk: vv for kk, vv in v[0].items() if kk != "default"}), v[1] + " Null or absent: not overridden.") for k, v in policy_fields.items() if k not in NOT_OVERRIDDEN},
                desc="Set fields replace the granted workspaces' values; across several granting groups the most permissive value wins (docs/policy.md).")

schemas = {
    "Error": obj({"error": obj({"code": with_desc(S, "Stable code, e.g. unauthorized, invalid_credentials, totp_required, too_many_attempts, validation_failed, conflict, session_limit, session_ended, last_admin."),
                                "message": with_desc(S, "For humans; never internal detail."),
                                "field": with_desc(S, "On validation errors about one request field: its path, e.g. `target.host`, `password`, `policy.upload_max_bytes`.")}, ["code", "message"])}, ["error"]),
    "GroupRef": obj({"id": S, "name": S}, ["id", "name"]),
    "User": obj({"id": S, "username": S, "role": {"type": "string", "enum": ["admin", "user", "auditor"]}, "disabled": B,
                 "origin": with_desc(S, "`local`, or `oidc` for users an OpenID Connect provider vouches for (created at their first single sign-on)."), "totp_enabled": B, "created_at": T, "zone": with_desc(S, "Zone the user's container sessions are placed in (agents of that zone); `default` unless set."), 
                 "groups": {"type": "array", "items": ref("GroupRef")}}, ["id", "username", "role", "disabled", "origin", "totp_enabled", "created_at", "zone"]),
    "Me": obj({"id": S, "username": S, "role": S, "disabled": B, "origin": S, "totp_enabled": B, "created_at": T, "zone": S,
               "stage": {"type": "string", "enum": ["full", "totp_enroll"]}, "groups": {"type": "array", "items": ref("GroupRef")},
               "totp_required": B}, ["id", "username", "role", "stage", "groups", "totp_required"]),
    "LoginRequest": obj({"username": {"type": "string", "minLength": 1, "maxLength": 256, "description": "1-256 bytes (422 otherwise)."},
                         "password": {"type": "string", "maxLength": 1024, "description": "At most 1024 bytes (422 otherwise)."},
                         "totp": with_desc(SN, "A TOTP code (6 digits) or a recovery code (16 letters and digits; separators ignored), for users with a second factor; null or blank: none.")}, ["username", "password"]),
    "LoginResponse": obj({"token": with_desc(S, "Bearer token; also set as the `oriel_session` cookie."), "expires_at": T, "user": ref("User"),
                          "stage": with_desc({"type": "string", "enum": ["full", "totp_enroll"]}, "`totp_enroll`: a group requires a second factor; only /auth/totp/*, /auth/me and /auth/logout work until it is set up.")},
                         ["token", "expires_at", "user", "stage"]),
    "AuthMethods": obj({"password": with_desc(B, "Local users log in with `POST /auth/login`."),
                        "oidc": {"type": "array", "description": "Single sign-on providers; empty when none is configured.",
                                 "items": obj({"id": with_desc(S, "Provider id (`default`)."), "name": with_desc(S, "Name for the login button."),
                                               "start": with_desc(S, "Path to navigate the browser to (not to fetch): it redirects to the provider.")},
                                              ["id", "name", "start"])}},
                       ["password", "oidc"]),
    "PasswordChange": obj({"current": S, "new": {"type": "string", "maxLength": 1024, "description": "At least `control.password_min_len` characters (12 by default), at most 1024 bytes, not containing the user name (any case), not a well-known password nor one character repeated; otherwise 422 naming the field."}}, ["current", "new"]),
    "TotpEnrollment": obj({"secret": with_desc(S, "Base32, for typing into an app."), "otpauth_uri": S, "qr_svg": with_desc(S, "The URI as a QR code, an SVG document.")},
                          ["secret", "otpauth_uri", "qr_svg"]),
    "TotpCode": obj({"code": with_desc(S, "The app's current 6-digit code (surrounding spaces ignored); another value is 422.")}, ["code"]),
    "RecoveryCodes": obj({"recovery_codes": {"type": "array", "items": S, "description": "Ten single-use codes, shown only now."}}, ["recovery_codes"]),
    "NewUser": obj({"username": {"type": "string", "pattern": "^[A-Za-z0-9._@-]{1,64}$", "description": "1-64 ASCII letters, digits, dots, dashes, underscores or @."},
                    "password": {"type": "string", "maxLength": 1024, "description": "At least `control.password_min_len` characters (12 by default), at most 1024 bytes, not containing the user name (any case), not a well-known password nor one character repeated; otherwise 422 naming the field."},
                    "role": {"type": "string", "enum": ["admin", "user", "auditor"], "default": "user"},
                    "groups": {"type": "array", "items": S, "description": "Group ids (each must exist: 422)."}}, ["username", "password"]),
    "UpdateUser": obj({"role": {"type": "string", "enum": ["admin", "user", "auditor"]}, "disabled": {"type": "boolean", "default": False},
                       "zone": {"type": ["string", "null"], "minLength": 1, "maxLength": 64, "pattern": "^[^\\p{Cc}]*$", "description": "When present (not null), the user's zone (where their container sessions run): 1-64 bytes, no control characters."},
                       "groups": {"type": ["array", "null"], "items": S, "description": "When present (not null), the user's groups become exactly these (ids; each must exist)."},
                       "password": {"type": ["string", "null"], "maxLength": 1024, "description": "A new password set by the admin (the user's logins end). " + "At least `control.password_min_len` characters (12 by default), at most 1024 bytes, not containing the user name (any case), not a well-known password nor one character repeated; otherwise 422 naming the field."},
                       "reset_totp": {"type": "boolean", "default": False, "description": "Remove the user's second factor."}}, ["role"]),
    "UserList": listing("User"),
    "Policy": policy,
    "PolicyOverrides": overrides,
    "GroupSettings": obj({"require_totp": {"type": "boolean", "default": False, "description": "Members must log in with a second factor."}, "policy": ref("PolicyOverrides"),
                          "zone": with_desc(SN, "The zone of the members (the first group by name that names one decides; else the user's own zone); must exist.")}),
    "GroupInput": obj({"name": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": NAME_PATTERN, "description": "1-64 letters, digits, spaces, dots, dashes or underscores; no space at either end (names are not trimmed: refused)."},
                       "description": {"type": "string", "maxLength": 1024, "default": "", "description": "At most 1024 bytes."}, "settings": ref("GroupSettings"),
                       "members": {"type": ["array", "null"], "items": S, "description": "User ids (each must exist); on PUT, absent or null leaves them."},
                       "workspaces": {"type": ["array", "null"], "items": S, "description": "Workspace ids granted (each must exist); on PUT, absent or null leaves them."}}, ["name"]),
    "Group": obj({"id": S, "name": S, "description": S, "settings": ref("GroupSettings"),
                  "members": {"type": "array", "items": obj({"id": S, "username": S}, ["id", "username"])},
                  "workspaces": {"type": "array", "items": ref("GroupRef")}, "created_at": T, "updated_at": T},
                 ["id", "name", "description", "settings", "members", "workspaces", "created_at", "updated_at"]),
    "GroupList": listing("Group"),
    "Target": obj({"host": {"type": "string", "pattern": "^[A-Za-z0-9.:\\[\\]_-]{1,253}$", "description": "A host name or an IP address (IPv6 in brackets): 1-253 ASCII letters, digits, `.`, `-`, `_`, `:`, `[`, `]`."},
                   "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                   "zone": with_desc({"type": ["string", "null"]}, "The zone whose network the target is in (must exist): that zone's connection proxy serves it. Absent or null: the control plane's gateway.")}, ["host", "port"]),
    "ConnectionProxy": obj({"id": {"type": "string", "minLength": 1, "maxLength": 128, "description": "Its gateway id (gateway.id), 1-128 bytes."},
                            "url": with_desc(HTTPS_URL, "Its https:// URL (a trailing / is dropped)."),
                            "cert_sha256": with_desc(HEX64, "SHA-256 of its TLS certificate, 64 hex digits (stored lowercase)."),
                            "sealing_key": with_desc(KEY32, "Base64 of its gateway-sealing.pub (32 bytes): credentials are sealed to it.")},
                           ["id", "url", "cert_sha256", "sealing_key"]),
    "ZoneInput": obj({"name": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$", "description": "On PUT, the path's name (a zone cannot be renamed)."},
                      "description": {"type": "string", "maxLength": 1000, "default": "", "description": "At most 1000 bytes."},
                      "fallback": {"type": "boolean", "default": False, "description": "Its users' container sessions may go to other zones when it has no room."},
                      "proxy_url": with_desc({"type": ["string", "null"], "maxLength": 512, "pattern": "^https://\\S+$"}, "https:// entry of the zone's dedicated proxy: its users stream through it (a trailing / is dropped)."),
                      "connection_proxy": {"oneOf": [ref("ConnectionProxy"), {"type": "null"}]}}, ["name"]),
    "Zone": obj({"name": S, "description": S, "fallback": B, "proxy_url": {"type": ["string", "null"]},
                 "connection_proxy": {"oneOf": [ref("ConnectionProxy"), {"type": "null"}]}, "created_at": T, "updated_at": T},
                ["name", "description", "fallback", "proxy_url", "connection_proxy", "created_at", "updated_at"]),
    "ContainerSpec": obj({"image": {"type": "string", "pattern": "^\\S{1,256}$", "description": "A locally built image (deploy/images/): 1-256 bytes, no whitespace."},
                          "cpus": {"type": "number", "exclusiveMinimum": 0, "maximum": 64, "default": 1, "description": "CPU limit, cores (fractions allowed)."},
                          "memory_mb": {"type": "integer", "minimum": 64, "maximum": 262144, "default": 2048},
                          "pids": {"type": "integer", "minimum": 16, "maximum": 65536, "default": 512}, "egress": {"type": "string", "enum": ["none", "internet"], "default": "none"},
                          "width": {"type": "integer", "minimum": 320, "maximum": 7680, "default": 1600}, "height": {"type": "integer", "minimum": 200, "maximum": 4320, "default": 900}}, ["image"]),
    "Credentials": obj({"username": {"type": ["string", "null"], "maxLength": 256, "description": "At most 256 bytes."}, "password": {"type": ["string", "null"], "maxLength": 1024, "description": "At most 1024 bytes."},
                        "private_key": with_desc({"type": ["string", "null"], "maxLength": 16384}, "OpenSSH or PEM private key (ssh), at most 16384 bytes."),
                        "domain": with_desc({"type": ["string", "null"], "maxLength": 256}, "Windows domain (rdp), at most 256 bytes.")},
                       desc="Write-only: stored encrypted, never returned."),
    "WorkspaceInput": obj({"name": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": NAME_PATTERN, "description": "1-64 letters, digits, spaces, dots, dashes or underscores; no space at either end (names are not trimmed: refused)."},
                           "kind": {"type": "string", "enum": ["vnc", "rdp", "ssh", "container"], "description": "Only the kinds this installation serves (`control.workspace_kinds`); another is 422."},
                           "target": {"oneOf": [ref("Target"), {"type": "null"}], "description": "Required for vnc, rdp and ssh; absent or null for container."},
                           "container": {"oneOf": [ref("ContainerSpec"), {"type": "null"}], "description": "Required for container; absent or null otherwise."},
                           "credentials": {"oneOf": [ref("Credentials"), {"type": "null"}], "description": "On PUT: absent keeps the stored credentials, null removes them."},
                           "policy": ref("Policy"),
                           "identity": with_desc({"type": ["string", "null"], "pattern": "^SHA256:[A-Za-z0-9+/]{43}$"}, "Pinned SHA256:<base64> fingerprint of the target's certificate (rdp) or host key (ssh), rdp and ssh only; absent or null: recorded on first use.")},
                          ["name", "kind"]),
    "Workspace": obj({"id": S, "name": S, "kind": S, "target": ref("Target"), "container": ref("ContainerSpec"), "policy": ref("Policy"),
                      "has_credentials": B, "identity": {"type": ["string", "null"]}, "created_at": T, "updated_at": T},
                     ["id", "name", "kind", "policy", "has_credentials", "identity", "created_at", "updated_at"]),
    "WorkspaceList": listing("Workspace"),
    "LaunchRequest": obj({"workspace": with_desc(S, "Workspace id or name."),
                          "zone": with_desc(SN, "Admins: the zone (must exist) to place a container session in, instead of the user's; null: the user's.")}, ["workspace"]),
    "Launched": obj({"id": S, "workspace_id": S, "viewer_url": S,
                     "state": {"type": "string", "enum": ["requested", "starting"], "description": "`requested`: a container session waiting for its agent (no token yet; ask `POST /sessions/{id}/token`)."},
                     "token": {"type": ["string", "null"], "description": "Session token for the stream protocol's HELLO (docs/protocol.md); null for a container session until its desktop is ready."},
                     "stream_url": {"type": ["string", "null"], "description": "wss://…/stream of the gateway; null with the token (the token response names it)."}, "expires_at": with_desc(T, "Expiry of the token, not of the session.")},
                    ["id", "workspace_id", "viewer_url", "state", "token", "stream_url", "expires_at"]),
    "SessionToken": obj({"token": S, "stream_url": S, "expires_at": T}, ["token", "stream_url", "expires_at"]),
    "SessionPreparing": obj({"state": {"type": "string", "enum": ["requested"]}, "retry_after_ms": {"type": "integer"}}, ["state", "retry_after_ms"],
                            desc="A container session whose agent has not reported its desktop ready yet: ask again after `retry_after_ms`."),
    "Agent": obj({"id": S, "zone": S, "labels": {"type": "object", "additionalProperties": S},
                  "state": {"type": "string", "enum": ["online", "lost"]}, "max_sessions": {"type": "integer"}, "cpus": {"type": "number"},
                  "memory_mb": {"type": "integer"}, "gateway_url": {"type": ["string", "null"]}, "active_sessions": {"type": "integer"},
                  "reserved_memory_mb": {"type": "integer"}, "registered_at": T, "last_seen_at": T},
                 ["id", "zone", "labels", "state", "max_sessions", "cpus", "memory_mb", "gateway_url", "active_sessions", "reserved_memory_mb", "registered_at", "last_seen_at"]),
    "AgentList": listing("Agent"),
    "NodeGateway": obj({"url": {"type": "string", "maxLength": 512, "pattern": "^https://", "description": "Public base URL (https://host:port)."},
                        "sealing_key": with_desc(KEY32, "Its gateway-sealing.pub, base64."), "signing_key": with_desc(KEY32, "Its gateway-signing.pub (report signatures), base64."),
                        "cert_sha256": with_desc(HEX64, "SHA-256 of its TLS certificate (DER), 64 hex digits.")},
                       ["url", "sealing_key", "signing_key", "cert_sha256"], desc="The gateway on an agent's node (multi-host)."),
    "AgentHello": obj({"id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,23}$"}, "zone": {"type": "string", "minLength": 1, "maxLength": 64, "default": "default", "description": "1-64 bytes."},
                       "labels": {"type": "object", "additionalProperties": S}, "max_sessions": {"type": "integer", "minimum": 1, "maximum": 10000},
                       "cpus": {"type": "number", "exclusiveMinimum": 0, "maximum": 4096}, "memory_mb": {"type": "integer", "minimum": 1},
                       "gateway": {"oneOf": [ref("NodeGateway"), {"type": "null"}], "description": "The gateway on its node; absent or null: the control plane's own gateway streams its sessions."}},
                      ["id", "max_sessions", "cpus", "memory_mb"]),
    "AgentWelcome": obj({"heartbeat_ms": {"type": "integer"}, "lost_after_ms": {"type": "integer"}}, ["heartbeat_ms", "lost_after_ms"]),
    "AgentPoll": obj({"id": S, "running": {"type": "array", "items": S, "description": "Sessions the agent has containers for, or is launching."},
                      "wait_ms": {"type": "integer", "minimum": 0, "default": 0, "description": "Hold the answer until the wanted set differs from `running`, at most this long (capped at 10 s and a third of the lost-agent timeout)."}},
                     ["id", "running"]),
    "AgentOrders": obj({"sessions": {"type": "array", "items": obj({"id": S, "launched": B, "container": {"oneOf": [ref("ContainerSpec"), {"type": "null"}]}}, ["id", "launched", "container"])}},
                       ["sessions"], desc="Exactly the sessions the agent should run; it removes any other container of its own."),
    "AgentReport": obj({"id": S, "session": S,
                        "ready": {"oneOf": [obj({"host": S, "port": {"type": "integer", "minimum": 0, "maximum": 65535}, "password": S}, ["host", "port", "password"]), {"type": "null"}]},
                        "failed": {"type": ["string", "null"], "description": "Why (kept to 300 characters)."}}, ["id", "session"], desc="Exactly one of `ready` and `failed` (422 otherwise)."),
    "Session": obj({"id": S, "workspace_id": S, "workspace_name": S, "user_id": S, "username": S,
                    "state": {"type": "string", "enum": ["requested", "starting", "running", "ending", "ended", "failed"]},
                    "requested_at": T, "starting_at": TN, "running_at": TN, "ending_at": TN, "ended_at": TN,
                    "failure": {"type": ["string", "null"]}, "deadline": TN, "source": {"type": ["string", "null"]},
                    "agent_id": with_desc({"type": ["string", "null"]}, "The agent running a container session's desktop; null for other kinds."), "viewer_url": S},
                   ["id", "workspace_id", "workspace_name", "user_id", "username", "state", "requested_at", "viewer_url"]),
    "SessionList": listing("Session"),
    "TokenInput": obj({"name": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "\\S", "description": "At most 128 bytes, not blank; stored trimmed."},
                       "scopes": {"type": "array", "items": {"type": "string", "enum": ["read", "sessions", "admin"]}, "minItems": 1, "description": "`admin` only for admins (403)."},
                       "expires_in_days": {"type": ["integer", "null"], "minimum": 1, "maximum": 3650, "description": "Absent or null: never expires."}}, ["name", "scopes"]),
    "Token": obj({"id": S, "user_id": S, "name": S, "scopes": {"type": "array", "items": S}, "created_at": T, "expires_at": TN,
                  "last_used_at": TN, "revoked_at": TN, "token": with_desc(S, "The secret, only in the creation response.")},
                 ["id", "user_id", "name", "scopes", "created_at"]),
    "TokenList": listing("Token"),
    "AuditEntry": obj({"id": S, "at": T, "actor_id": {"type": ["string", "null"]}, "actor": S, "action": S,
                       "target_type": {"type": ["string", "null"]}, "target_id": {"type": ["string", "null"]}, "target_name": {"type": ["string", "null"]},
                       "source": {"type": ["string", "null"]}, "outcome": {"type": "string", "enum": ["success", "failure"]}, "details": {"type": "object"}},
                      ["id", "at", "actor", "action", "outcome", "details"]),
    "AuditList": listing("AuditEntry"),
}

responses = {
    "BadRequest": {"description": "The body or query could not be parsed, or has unknown fields.", **body(ref("Error"))},
    "Unauthorized": {"description": "Not logged in, or the login expired.", **body(ref("Error"))},
    "Forbidden": {"description": "Not allowed for this user or token (`forbidden`), a cross-site request, or a login that must set up a second factor first (`totp_enrollment_required`).", **body(ref("Error"))},
    "NotFound": {"description": "No such resource (or not visible to this user).", **body(ref("Error"))},
    "Conflict": {"description": "The request conflicts with the current state.", **body(ref("Error"))},
    "Unprocessable": {"description": "Well-formed but invalid values.", **body(ref("Error"))},
    "UnsupportedMediaType": {"description": "The body is not application/json.", **body(ref("Error"))},
    "TooManyRequests": {"description": "Too many failed logins; retry after the Retry-After header.", "headers": {"Retry-After": {"schema": {"type": "integer"}}}, **body(ref("Error"))},
    "PayloadTooLarge": {"description": "`payload_too_large`: the body is larger than 1 MiB (refused by the HTTPS front).", **body(ref("Error"))},
    "Unavailable": {"description": "`database_unavailable`: the control plane cannot reach its database; sessions already running go on. Retry later.", **body(ref("Error"))},
}

NO_DATABASE = {"openapi", "authMethods", "controlKeys", "oidcStart"}

def common(responses_, has_body, op_id=None):
    """Answers any operation may give: 413 for a body over 1 MiB, 503 while the database is away."""
    out = dict(responses_)
    if has_body and "413" not in out:
        out["413"] = resp("PayloadTooLarge")
    if "503" not in out and op_id not in NO_DATABASE:
        out["503"] = resp("Unavailable")
    return out

def op(op_id, summary, tag, responses_, *, secure=True, params=None, request=None, description=None):
    if secure:
        # Any authenticated call: 401 without a valid login or token; 403 for
        # a login that must enrol a second factor first (`totp_enrollment_required`),
        # a read-only API token writing, or a cookie write without our Origin.
        responses_ = {**responses_}
        responses_.setdefault("401", E[401])
        responses_.setdefault("403", E[403])
    o = {"operationId": op_id, "summary": summary, "tags": [tag], "responses": common(responses_, request is not None, op_id)}
    if secure:
        o["security"] = SEC
    if params:
        o["parameters"] = params
    if request is not None:
        o["requestBody"] = {"required": True, **body(request)}
    if description:
        o["description"] = description
    return o

audit_params = [{"name": n, "in": "query", "required": False, "schema": sch, "description": d} for n, sch, d in [
    ("actor", S, "Exact user name."), ("action", S, "An action, or a prefix ending in `.` (e.g. `session.`)."), ("target_id", S, "Exact id of the object."),
    ("outcome", {"type": "string", "enum": ["success", "failure"]}, "`success` or `failure` (422 otherwise)."),
    ("since", {"type": "string", "format": "date-time"}, "RFC 3339 (422 otherwise)."), ("until", {"type": "string", "format": "date-time"}, "RFC 3339 (422 otherwise).")]]

paths = {
    "/api/v1/auth/login": {"post": op("login", "Log in with a local user", "auth",
        {"200": {"description": "Logged in. Sets the `oriel_session` cookie (HttpOnly, Secure, SameSite=Strict).", "headers": {"Set-Cookie": {"schema": S}}, **body(ref("LoginResponse"))},
         "400": E[400], "401": {"description": "Wrong username or password (the same answer, after the same work, for unknown users), or `totp_required`.", **body(ref("Error"))},
         "415": E[415], "422": E[422], "429": E[429]}, secure=False, request=ref("LoginRequest"))},
    "/api/v1/auth/logout": {"post": op("logout", "End the current login session", "auth", {"204": {"description": "Logged out; the cookie is cleared."}, **errs(401, 403)})},
    "/api/v1/auth/me": {"get": op("me", "The logged-in user", "auth", {"200": ok("The user.", ref("Me")), **errs(401)})},
    "/api/v1/auth/methods": {"get": op("authMethods", "How one may log in: password, and any single sign-on provider", "auth",
        {"200": ok("The login methods.", ref("AuthMethods"))}, secure=False)},
    "/api/v1/auth/oidc/start": {"get": op("oidcStart", "Start a single sign-on login (browser navigation)", "auth",
        {"302": {"description": "To the provider's authorization endpoint (code flow, PKCE S256, `state`, `nonce`). Sets the `oriel_oidc_flow` cookie "
                                 "(sealed with the data key; HttpOnly, Secure, SameSite=Lax, Path=/api/v1/auth/oidc, 10 minutes). "
                                 "When the provider cannot be reached: to `/#/login?error=oidc_provider_unavailable`.",
                 "headers": {"Location": {"schema": S}, "Set-Cookie": {"schema": S}}},
         "400": E[400], "404": {"description": "Single sign-on is not configured (`oidc_not_configured`).", **body(ref("Error"))}},
        secure=False, params=[{"name": "return_to", "in": "query", "required": False, "schema": S,
                               "description": "A path of this site to land on after login (anything else means `/`)."}])},
    "/api/v1/auth/oidc/callback": {"get": op("oidcCallback", "Where the provider sends the browser back", "auth",
        {"302": {"description": "Logged in: to the saved return path, with the `oriel_session` cookie as after `POST /auth/login`. "
                                 "Refused: to `/#/login?error=<code>`, the code one of oidc_provider_error, oidc_invalid_state, oidc_flow_expired, "
                                 "oidc_replayed, oidc_invalid_request, oidc_provider_unavailable, oidc_token_exchange, oidc_invalid_token, "
                                 "oidc_nonce_mismatch, oidc_invalid_username, oidc_username_taken, oidc_user_disabled, oidc_internal. "
                                 "Either way the flow cookie is cleared and the outcome is in the audit log (`auth.login`, method `oidc`).",
                 "headers": {"Location": {"schema": S}, "Set-Cookie": {"schema": S}}},
         "404": {"description": "Single sign-on is not configured (`oidc_not_configured`).", **body(ref("Error"))}},
        secure=False, params=[{"name": n, "in": "query", "required": False, "schema": S, "description": d} for n, d in [
            ("code", "The authorization code."), ("state", "Must be the flow's."), ("iss", "The provider's issuer (RFC 9207); must be the configured one when present."),
            ("error", "The provider's error, instead of a code."), ("error_description", "Ignored.")]])},
    "/api/v1/auth/password": {"post": op("changePassword", "Change one's own password (every login ends)", "auth",
        {"204": {"description": "Changed."}, **errs(400, 401, 403, 409, 415, 422)}, request=ref("PasswordChange"))},
    "/api/v1/auth/totp/enroll": {"post": op("totpEnroll", "Start setting up a second factor (TOTP)", "auth", {"200": ok("A new secret, to confirm with a code.", ref("TotpEnrollment")), **errs(401, 403, 409)})},
    "/api/v1/auth/totp/confirm": {"post": op("totpConfirm", "Turn the second factor on with a code from the app", "auth",
        {"200": ok("On; recovery codes shown once.", ref("RecoveryCodes")), **errs(400, 401, 403, 409, 415, 422)}, request=ref("TotpCode"))},
    "/api/v1/auth/totp": {"delete": op("totpDisable", "Turn the second factor off", "auth", {"204": {"description": "Off."}, **errs(400, 401, 403, 409, 415, 422)}, request=ref("TotpCode"))},
    "/api/v1/users": {
        "get": op("listUsers", "List users (admins and auditors)", "users", {"200": ok("A page of users, by name.", ref("UserList")), **errs(400, 401, 403, 422)}, params=PAGE),
        "post": op("createUser", "Create a local user (admin)", "users", {"201": ok("Created.", ref("User")), **errs(400, 401, 403, 409, 415, 422)}, request=ref("NewUser"))},
    "/api/v1/users/{id}": {"parameters": [ID],
        "get": op("getUser", "One user (admins and auditors; anyone for themselves)", "users", {"200": ok("The user.", ref("User")), **errs(401, 403, 404)}),
        "put": op("updateUser", "Change a user's role, state, groups, password or second factor (admin)", "users",
                  {"200": ok("Updated.", ref("User")), **errs(400, 401, 403, 404, 409, 415, 422)}, request=ref("UpdateUser")),
        "delete": op("deleteUser", "Delete a user (admin; not the last admin)", "users", {"204": {"description": "Deleted."}, **errs(401, 403, 404, 409)})},
    "/api/v1/groups": {
        "get": op("listGroups", "List groups (admins and auditors)", "groups", {"200": ok("A page of groups, by name.", ref("GroupList")), **errs(400, 401, 403, 422)}, params=PAGE),
        "post": op("createGroup", "Create a group (admin)", "groups", {"201": ok("Created.", ref("Group")), **errs(400, 401, 403, 409, 415, 422)}, request=ref("GroupInput"))},
    "/api/v1/groups/{id}": {"parameters": [ID],
        "get": op("getGroup", "One group", "groups", {"200": ok("The group.", ref("Group")), **errs(401, 403, 404)}),
        "put": op("replaceGroup", "Replace a group (admin)", "groups", {"200": ok("Replaced.", ref("Group")), **errs(400, 401, 403, 404, 409, 415, 422)}, request=ref("GroupInput")),
        "delete": op("deleteGroup", "Delete a group (admin)", "groups", {"204": {"description": "Deleted."}, **errs(401, 403, 404)})},
    "/api/v1/workspaces": {
        "get": op("listWorkspaces", "List workspaces (users: those their groups grant)", "workspaces", {"200": ok("A page of workspaces, by name.", ref("WorkspaceList")), **errs(400, 401, 422)}, params=PAGE),
        "post": op("createWorkspace", "Create a workspace (admin)", "workspaces", {"201": ok("Created.", ref("Workspace")), **errs(400, 401, 403, 409, 415, 422)}, request=ref("WorkspaceInput"))},
    "/api/v1/workspaces/{id}": {"parameters": [ID],
        "get": op("getWorkspace", "One workspace", "workspaces", {"200": ok("The workspace.", ref("Workspace")), **errs(401, 404)}),
        "put": op("replaceWorkspace", "Replace a workspace (admin)", "workspaces", {"200": ok("Replaced.", ref("Workspace")), **errs(400, 401, 403, 404, 409, 415, 422)}, request=ref("WorkspaceInput")),
        "delete": op("deleteWorkspace", "Delete a workspace (admin)", "workspaces", {"204": {"description": "Deleted."}, **errs(401, 403, 404)})},
    "/api/v1/sessions": {
        "get": op("listSessions", "List sessions, newest first (own; `scope=all` for admins and auditors)", "sessions",
                  {"200": ok("A page of sessions.", ref("SessionList")), **errs(400, 401, 403, 422)},
                  params=TIME_PAGE + [{"name": "state", "in": "query", "required": False, "schema": {"type": "string", "enum": ["active", "all"]}},
                                 {"name": "scope", "in": "query", "required": False, "schema": {"type": "string", "enum": ["own", "all"]}}]),
        "post": op("launchSession", "Launch a session of a workspace your groups grant", "sessions",
                   {"201": ok("Launched; open `viewer_url`, or speak the stream protocol to `stream_url` with `token`.", ref("Launched")),
                    **errs(400, 401, 403, 404, 415, 422),
                    "409": {"description": "`session_limit`: the user has as many active sessions of the workspace as its policy allows. "
                                           "`feature_unavailable`: the workspace's effective policy requires a control this server cannot apply (a watermark whose stored settings are out of range); "
                                           "such a workspace cannot be launched (the refusal is audited).", **body(ref("Error"))},
                    "503": {"description": "`no_agent` or `no_capacity`: no agent can run a container workspace now; `no_connection_proxy`: the workspace's zone has none; `database_unavailable`.", **body(ref("Error"))}}, request=ref("LaunchRequest"))},
    "/api/v1/sessions/{id}": {"parameters": [ID],
        "get": op("getSession", "One session (owner, admin or auditor)", "sessions", {"200": ok("The session.", ref("Session")), **errs(401, 404)}),
        "delete": op("endSession", "End a session (owner or admin); its streams close within a second", "sessions",
                     {"204": {"description": "Ended, and the gateways closed its streams. Idempotent."}, **errs(401, 403, 404),
                      "502": {"description": "Ending, but a gateway did not confirm; retry.", **body(ref("Error"))}})},
    "/api/v1/sessions/{id}/token": {"parameters": [ID],
        "post": op("sessionToken", "A fresh short-lived token for the owner of an active session (connect and reconnect)", "sessions",
                   {"200": ok("A new token.", ref("SessionToken")), "202": ok("A container session still starting: no token yet.", ref("SessionPreparing")),
                    **errs(401, 403, 404),
                    "409": {"description": "`session_ended`, `session_failed`, `workspace_gone`, `zone_gone`; or `feature_unavailable`: the workspace's effective policy now requires "
                                           "a control this server cannot apply (audited as `session.token`).", **body(ref("Error"))},
                    "503": {"description": "`no_connection_proxy`: the workspace's zone has no connection proxy; `database_unavailable`.", **body(ref("Error"))}})},
    "/api/v1/tokens": {
        "get": op("listTokens", "API tokens: your own; everyone's with scope=all (admins and auditors)", "tokens", {"200": ok("A page of tokens, newest first.", ref("TokenList")), **errs(400, 401, 403, 422)},
                  params=TIME_PAGE + [{"name": "scope", "in": "query", "required": False, "schema": {"type": "string", "enum": ["own", "all"]}}]),
        "post": op("createToken", "Create an API token (`oriel_pat_…`, shown once)", "tokens", {"201": ok("Created; `token` is the secret.", ref("Token")), **errs(400, 401, 403, 415, 422)}, request=ref("TokenInput"))},
    "/api/v1/tokens/{id}": {"parameters": [ID],
        "delete": op("revokeToken", "Revoke an API token (owner or admin)", "tokens", {"204": {"description": "Revoked."}, **errs(401, 403, 404)})},
    "/api/v1/audit": {"get": op("listAudit", "Query the audit log, newest first (admins and auditors)", "audit",
        {"200": ok("A page of entries.", ref("AuditList")), **errs(400, 401, 403, 422)},
        params=audit_params + [{"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
                               after("Cursor `<unix ms>_<id>`, exactly the `next` of the previous page; anything else is 400 `bad_request`.", "^-?[0-9]+_")])},
    "/api/v1/audit/export": {"get": op("exportAudit", "Export matching audit entries as JSON lines (admins and auditors)", "audit",
        {"200": {"description": "One AuditEntry JSON object per line, newest first (at most 100 000).", "content": {"application/x-ndjson": {"schema": S}}}, **errs(400, 401, 403, 422)},
        params=audit_params)},
    "/api/v1/gateway/reports": {"post": {
        "operationId": "gatewayReport", "summary": "A remote gateway reports a stream starting or ending, or the sessions it streams", "tags": ["gateway"],
        "description": "The body is a report token (`r1.…`) signed with the gateway's key, whose public half is configured in `control.gateway_report_keys`.",
        "requestBody": {"required": True, "content": {"text/plain": {"schema": S}}},
        "responses": {"204": {"description": "Applied."}, "400": E[400], "401": E[401], "404": E[404], "413": resp("PayloadTooLarge"),
                      "503": {"description": "Not applied now (the database is away): send it again.", **body(ref("Error"))}}}},
    "/api/v1/agents": {"get": op("listAgents", "Agents with their zone, capacity and load, by id (admins and auditors)", "agents",
        {"200": ok("A page of agents.", ref("AgentList")), **errs(400, 401, 403, 422)}, params=PAGE)},
    "/api/v1/agent/register": {"post": {
        "operationId": "agentRegister", "summary": "An agent registers (again after a restart) with its zone and capacity", "tags": ["agent"],
        "description": "Authenticated with the join token as `Authorization: Bearer <token>`.", "security": [{"bearer": []}],
        "requestBody": {"required": True, **body(ref("AgentHello"))},
        "responses": common({"200": ok("Registered.", ref("AgentWelcome")), **errs(400, 401, 404, 415, 422)}, True)}},
    "/api/v1/agent/poll": {"post": {
        "operationId": "agentPoll", "summary": "An agent's heartbeat and long poll: the sessions it should run", "tags": ["agent"],
        "description": "Authenticated with the join token. 409 `unregistered`: register again.", "security": [{"bearer": []}],
        "requestBody": {"required": True, **body(ref("AgentPoll"))},
        "responses": common({"200": ok("The wanted sessions.", ref("AgentOrders")), **errs(400, 401, 404, 409, 415)}, True)}},
    "/api/v1/agent/report": {"post": {
        "operationId": "agentReport", "summary": "An agent reports a session's container ready (address, VNC password) or failed", "tags": ["agent"],
        "description": "Authenticated with the join token. `not_wanted`: the session ended meanwhile; remove the container.", "security": [{"bearer": []}],
        "requestBody": {"required": True, **body(ref("AgentReport"))},
        "responses": common({"200": ok("What the report did.", obj({"outcome": {"type": "string", "enum": ["accepted", "not_wanted"]}}, ["outcome"])), **errs(400, 401, 404, 415, 422)}, True)}},
    "/api/v1/zones": {
        "get": op("listZones", "Every zone, by name (admins and auditors)", "zones",
            {"200": ok("The zones.", obj({"items": {"type": "array", "items": ref("Zone")}, "next": {"type": "null"}}, ["items", "next"])), **errs(401, 403)}),
        "post": op("createZone", "Create a zone (admin)", "zones", {"201": ok("Created.", ref("Zone")), **errs(400, 401, 403, 409, 415, 422)}, request=ref("ZoneInput"))},
    "/api/v1/zones/{name}": {"parameters": [{"name": "name", "in": "path", "required": True, "schema": S}],
        "get": op("getZone", "One zone", "zones", {"200": ok("The zone.", ref("Zone")), **errs(401, 403, 404)}),
        "put": op("replaceZone", "Replace a zone's settings (admin; the name cannot change)", "zones", {"200": ok("Replaced.", ref("Zone")), **errs(400, 401, 403, 404, 415, 422)}, request=ref("ZoneInput")),
        "delete": op("deleteZone", "Delete a zone no agent or user is in (admin; not `default`)", "zones", {"204": {"description": "Deleted."}, **errs(401, 403, 404, 409)})},
    "/api/v1/keys": {"get": op("controlKeys", "The control plane's public token keys, as a JWK set (Ed25519, with key ids)", "gateway",
        {"200": ok("The keys gateways trust: the current signing key and retired ones still in use.",
                   obj({"keys": {"type": "array", "items": obj({"kty": {"const": "OKP"}, "crv": {"const": "Ed25519"}, "kid": S, "x": with_desc(S, "The public key, base64url.")}, ["kty", "crv", "kid", "x"])}}, ["keys"]))},
        secure=False, description="Public. A dedicated proxy or gateway needs only this URL and the control plane's CA; it caches the set and keeps working on it while the control plane is away.")},
    "/api/v1/revocations": {
        "get": op("revocationList", "The signed revocation list (`rv1.…`)", "gateway",
            {"200": {"description": "The list as a signed token: tokens, sessions and users gateways must refuse, numbered by `seq` (a gateway applies only a newer one).",
                     "content": {"text/plain": {"schema": S}}}},
            secure=False, description="Public: signed by the control plane, naming only opaque ids. Gateways fetch it every few seconds."),
        "post": op("revoke", "Revoke a token id, a session or a user now (admins)", "gateway",
            {"201": ok("Revoked; the new list number.", obj({"seq": {"type": "integer"}}, ["seq"])), **errs(400, 401, 403, 415, 422)},
            request=obj({"kind": {"type": "string", "enum": ["token", "session", "user"]}, "id": {"type": "string", "minLength": 1, "maxLength": 200, "description": "Token id, session id or user id; 1-200 bytes."}}, ["kind", "id"]),
            description="The list is pushed to the configured gateways; every gateway also fetches it. A user's revocation refuses tokens issued until now."),
    },
    "/api/v1/openapi.json": {"get": op("openapi", "This document", "meta",
        {"200": {"description": "The OpenAPI document.", "content": {"application/json": {"schema": {"type": "object"}}}}}, secure=False)},
}

doc = {
    "openapi": "3.1.0",
    "info": {"title": "Oriel control plane API", "version": "1", "description":
        "REST API of the Oriel control plane. Authenticate with `POST /auth/login`; use the returned token as `Authorization: Bearer <token>`, "
        "or (browsers) the HttpOnly `oriel_session` cookie it sets, or an API token (`oriel_pat_…`, scoped `read`, `sessions`, `admin`). "
        "Cookie-authenticated requests that change state must carry an `Origin` header equal to the site's own origin. "
        "Request bodies are JSON (`Content-Type: application/json`, at most 1 MiB) and unknown fields are rejected. "
        "Errors are `{\"error\": {\"code\", \"message\"}}` with 400 (unparsable body or query), 401, 403, 404, 409, 415, 422 (invalid values) or 429. "
        "Integers are whole JSON numbers (`1.0` is refused); a field documented without `null` refuses null. "
        "Lists are paged with `limit` and `after`; a response's `next` is the cursor of the following page or null."},
    "servers": [{"url": "/"}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "A login token or an API token."},
                            "cookie": {"type": "apiKey", "in": "cookie", "name": "oriel_session"}},
        "responses": responses, "schemas": schemas},
    "paths": paths,
}
text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
if "--stdout" in sys.argv:
    sys.stdout.write(text)  # what a test compares with the checked-in copy
else:
    out = pathlib.Path(__file__).resolve().parent.parent / "src" / "openapi.json"
    out.write_text(text)
    print(f"wrote {out}")
