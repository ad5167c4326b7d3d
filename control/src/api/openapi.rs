//! The OpenAPI document of `/api/v1`, generated from the Rust types the
//! handlers read and answer with (utoipa: `ToSchema` on the request and
//! response types, `#[utoipa::path]` on each handler, [`Common`] for what
//! every operation shares), and the [`Contract`] that checks requests and
//! responses against it.

mod contract;
pub(crate) mod responses;
pub(crate) mod schemas;
#[cfg(test)]
mod tests;

pub use contract::{Contract, validate};

use super::tokens;
use super::{audit, enroll, fleet, groups, login, oidc, recordings, reports, revocations};
use super::{sessions, shares};
use super::{users, workspaces, zones};
use crate::error::ErrorBody;
use axum::response::{IntoResponse, Response};
use responses::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, TooManyRequests, Unauthorized,
    Unavailable, Unprocessable, UnsupportedMediaType,
};
use std::sync::OnceLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder};
use utoipa::openapi::security::{SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi};

/// The document: every route of [`super::ROUTES`] and the types they use.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Oriel control plane API",
        version = "1",
        description = "REST API of the Oriel control plane. Authenticate with `POST /auth/login`; use the returned token as `Authorization: Bearer <token>`, or (browsers) the HttpOnly `oriel_session` cookie it sets, or an API token (`oriel_pat_…`, scoped `read`, `sessions`, `admin`). Cookie-authenticated requests that change state must carry an `Origin` header equal to the site's own origin. Request bodies are JSON (`Content-Type: application/json`, at most 1 MiB) and unknown fields are rejected. Errors are `{\"error\": {\"code\", \"message\"}}` with 400 (unparsable body or query), 401, 403, 404, 409, 415, 422 (invalid values) or 429. Integers are whole JSON numbers (`1.0` is refused); a field documented without `null` refuses null. Lists are paged with `limit` and `after`; a response's `next` is the cursor of the following page or null. This document is generated from the server's own request and response types."
    ),
    servers((url = "/")),
    paths(
        login::login,
        login::logout,
        login::me,
        oidc::methods,
        oidc::start,
        oidc::callback,
        login::change_password,
        enroll::enroll,
        enroll::confirm,
        enroll::disable,
        users::list,
        users::create,
        users::get_one,
        users::update,
        users::delete,
        groups::list,
        groups::create,
        groups::get_one,
        groups::replace,
        groups::delete,
        workspaces::list,
        workspaces::create,
        workspaces::get_one,
        workspaces::replace,
        workspaces::delete,
        sessions::list,
        sessions::create,
        sessions::get_one,
        sessions::end,
        sessions::token,
        shares::list,
        shares::create,
        shares::revoke,
        shares::control,
        shares::shadow,
        shares::join,
        tokens::list,
        tokens::create,
        tokens::revoke,
        audit::list,
        audit::export,
        reports::receive,
        reports::receive_recording,
        recordings::list,
        recordings::get_one,
        recordings::file,
        recordings::cast,
        recordings::delete,
        zones::list,
        zones::create,
        zones::get,
        zones::update,
        zones::delete,
        revocations::keys,
        revocations::list,
        revocations::revoke,
        fleet::list,
        fleet::register,
        fleet::poll,
        fleet::report,
        serve,
    ),
    components(
        schemas(ErrorBody),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            Unprocessable,
            TooManyRequests,
            Unavailable,
        )
    ),
    modifiers(&Common)
)]
struct ApiDoc;

/// Operations anyone may call: no login, no token.
const PUBLIC: &[&str] = &[
    "login",
    "authMethods",
    "oidcStart",
    "oidcCallback",
    "controlKeys",
    "revocationList",
    "openapi",
    // Anyone holding the link (signed in only when it names groups).
    "joinShare",
    // Authenticated by the signed report it carries, not by a header.
    "gatewayReport",
];

/// Operations of agents, authenticated with the join token.
const AGENT: &[&str] = &["agentRegister", "agentPoll", "agentReport"];

/// Operations that answer without the database (never 503).
const NO_DATABASE: &[&str] = &["openapi", "authMethods", "controlKeys", "oidcStart"];

/// What every operation shares, added once here rather than on each
/// handler: its security (a login or API token as bearer, or the session
/// cookie; agents the join token), the answers of the `Authed` extractor
/// (401 without a valid login or token; 403 for a login that must enrol a
/// second factor first, a read-only API token writing, or a cookie write
/// without our `Origin`), 413 for a body over 1 MiB (refused in front of
/// the handler) and 503 while the database is away.
struct Common;

impl Modify for Common {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A login token or an API token."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("oriel_session"))),
        );
        let shared = |name: &str| RefOr::Ref(Ref::from_response_name(name));
        for item in doc.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ];
            for op in operations.into_iter().flatten() {
                let id = op.operation_id.clone().unwrap_or_default();
                let answers = &mut op.responses.responses;
                if AGENT.contains(&id.as_str()) {
                    op.security = Some(vec![SecurityRequirement::new("bearer", [""; 0])]);
                } else if !PUBLIC.contains(&id.as_str()) {
                    op.security = Some(vec![
                        SecurityRequirement::new("bearer", [""; 0]),
                        SecurityRequirement::new("cookie", [""; 0]),
                    ]);
                    answers
                        .entry("401".into())
                        .or_insert_with(|| shared("Unauthorized"));
                    answers
                        .entry("403".into())
                        .or_insert_with(|| shared("Forbidden"));
                }
                if op.request_body.is_some() {
                    answers
                        .entry("413".into())
                        .or_insert_with(|| shared("PayloadTooLarge"));
                }
                if !NO_DATABASE.contains(&id.as_str()) {
                    answers
                        .entry("503".into())
                        .or_insert_with(|| shared("Unavailable"));
                }
            }
        }
    }
}

/// The document as JSON text, generated once.
fn text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        // Serializing plain maps and strings cannot fail; an empty object
        // would still be valid JSON.
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|_| "{}".to_owned())
    })
}

/// The OpenAPI document of `/api/v1`.
pub fn document() -> serde_json::Value {
    serde_json::from_str(text()).unwrap_or_default()
}

/// `GET /api/v1/openapi.json` (public: it describes, it grants nothing).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    summary = "This document",
    responses((status = 200, description = "The OpenAPI document.", body = Object))
)]
pub(crate) async fn serve() -> Response {
    ([(http::header::CONTENT_TYPE, "application/json")], text()).into_response()
}
