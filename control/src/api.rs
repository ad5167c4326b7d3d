//! The HTTP layer: routes of `/api/v1`. Handlers parse the request, call
//! the service layer (`crate::service`) and map its errors to the API's
//! (`crate::error`).

/// Declares a page of a list endpoint's items: `items` and the cursor of
/// the next page.
macro_rules! page_of {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[derive(serde::Serialize, utoipa::ToSchema)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct $name {
            pub(crate) items: Vec<$item>,
            /// Cursor of the next page (the `after` parameter), or null.
            #[schema(required = true)]
            pub(crate) next: Option<String>,
        }
    };
}

mod audit;
pub(crate) mod authn;
mod enroll;
mod fleet;
mod groups;
mod login;
mod oidc;
pub(crate) mod openapi;
mod recordings;
mod reports;
mod revocations;
mod sessions;
mod shares;
mod tokens;
mod users;
mod workspaces;
mod zones;

use crate::ControlPlane;
use crate::error::ApiError;
use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use oriel_gateway_http::RouteLabel;
use std::sync::Arc;

/// Every route of the API as (method, path) — the OpenAPI test checks the
/// document against this list and the router against the document.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/auth/me"),
    ("get", "/api/v1/auth/methods"),
    ("get", "/api/v1/auth/oidc/start"),
    ("get", "/api/v1/auth/oidc/callback"),
    ("post", "/api/v1/auth/password"),
    ("post", "/api/v1/auth/totp/enroll"),
    ("post", "/api/v1/auth/totp/confirm"),
    ("delete", "/api/v1/auth/totp"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users/{id}"),
    ("put", "/api/v1/users/{id}"),
    ("delete", "/api/v1/users/{id}"),
    ("get", "/api/v1/groups"),
    ("post", "/api/v1/groups"),
    ("get", "/api/v1/groups/{id}"),
    ("put", "/api/v1/groups/{id}"),
    ("delete", "/api/v1/groups/{id}"),
    ("get", "/api/v1/workspaces"),
    ("post", "/api/v1/workspaces"),
    ("get", "/api/v1/workspaces/{id}"),
    ("put", "/api/v1/workspaces/{id}"),
    ("delete", "/api/v1/workspaces/{id}"),
    ("get", "/api/v1/sessions"),
    ("post", "/api/v1/sessions"),
    ("get", "/api/v1/sessions/{id}"),
    ("delete", "/api/v1/sessions/{id}"),
    ("post", "/api/v1/sessions/{id}/token"),
    ("get", "/api/v1/sessions/{id}/shares"),
    ("post", "/api/v1/sessions/{id}/shares"),
    ("delete", "/api/v1/sessions/{id}/shares/{link}"),
    ("post", "/api/v1/sessions/{id}/shares/{link}/control"),
    ("post", "/api/v1/sessions/{id}/shadow"),
    ("post", "/api/v1/shares/{link}/join"),
    ("get", "/api/v1/tokens"),
    ("post", "/api/v1/tokens"),
    ("delete", "/api/v1/tokens/{id}"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/audit/export"),
    ("post", "/api/v1/gateway/reports"),
    ("post", "/api/v1/gateway/recordings"),
    ("get", "/api/v1/agents"),
    ("post", "/api/v1/agent/register"),
    ("post", "/api/v1/agent/poll"),
    ("post", "/api/v1/agent/report"),
    ("get", "/api/v1/zones"),
    ("post", "/api/v1/zones"),
    ("get", "/api/v1/zones/{name}"),
    ("put", "/api/v1/zones/{name}"),
    ("delete", "/api/v1/zones/{name}"),
    ("get", "/api/v1/keys"),
    ("get", "/api/v1/revocations"),
    ("post", "/api/v1/revocations"),
    ("get", "/api/v1/recordings"),
    ("get", "/api/v1/recordings/{id}"),
    ("delete", "/api/v1/recordings/{id}"),
    ("get", "/api/v1/recordings/{id}/file"),
    ("get", "/api/v1/recordings/{id}/cast"),
    ("get", "/api/v1/openapi.json"),
];

pub(crate) fn router(cp: Arc<ControlPlane>) -> Router {
    Router::new()
        .route("/api/v1/auth/login", post(login::login))
        .route("/api/v1/auth/logout", post(login::logout))
        .route("/api/v1/auth/me", get(login::me))
        .route("/api/v1/auth/methods", get(oidc::methods))
        .route("/api/v1/auth/oidc/start", get(oidc::start))
        .route("/api/v1/auth/oidc/callback", get(oidc::callback))
        .route("/api/v1/auth/password", post(login::change_password))
        .route("/api/v1/auth/totp/enroll", post(enroll::enroll))
        .route("/api/v1/auth/totp/confirm", post(enroll::confirm))
        .route("/api/v1/auth/totp", axum::routing::delete(enroll::disable))
        .route("/api/v1/users", get(users::list).post(users::create))
        .route(
            "/api/v1/users/{id}",
            get(users::get_one).put(users::update).delete(users::delete),
        )
        .route("/api/v1/groups", get(groups::list).post(groups::create))
        .route(
            "/api/v1/groups/{id}",
            get(groups::get_one)
                .put(groups::replace)
                .delete(groups::delete),
        )
        .route(
            "/api/v1/workspaces",
            get(workspaces::list).post(workspaces::create),
        )
        .route(
            "/api/v1/workspaces/{id}",
            get(workspaces::get_one)
                .put(workspaces::replace)
                .delete(workspaces::delete),
        )
        .route(
            "/api/v1/sessions",
            get(sessions::list).post(sessions::create),
        )
        .route(
            "/api/v1/sessions/{id}",
            get(sessions::get_one).delete(sessions::end),
        )
        .route("/api/v1/sessions/{id}/token", post(sessions::token))
        .route(
            "/api/v1/sessions/{id}/shares",
            get(shares::list).post(shares::create),
        )
        .route(
            "/api/v1/sessions/{id}/shares/{link}",
            axum::routing::delete(shares::revoke),
        )
        .route(
            "/api/v1/sessions/{id}/shares/{link}/control",
            post(shares::control),
        )
        .route("/api/v1/sessions/{id}/shadow", post(shares::shadow))
        .route("/api/v1/shares/{link}/join", post(shares::join))
        .route("/api/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/api/v1/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/api/v1/audit", get(audit::list))
        .route("/api/v1/audit/export", get(audit::export))
        .route("/api/v1/gateway/reports", post(reports::receive))
        .route(
            "/api/v1/gateway/recordings",
            // A recording is larger than any other body: its own limit
            // (the HTTPS front gives the route the same one).
            post(reports::receive_recording).layer(axum::extract::DefaultBodyLimit::max(
                crate::MAX_RECORDING_BYTES as usize,
            )),
        )
        .route("/api/v1/agents", get(fleet::list))
        .route("/api/v1/agent/register", post(fleet::register))
        .route("/api/v1/agent/poll", post(fleet::poll))
        .route("/api/v1/agent/report", post(fleet::report))
        .route("/api/v1/zones", get(zones::list).post(zones::create))
        .route(
            "/api/v1/zones/{name}",
            get(zones::get).put(zones::update).delete(zones::delete),
        )
        .route("/api/v1/keys", get(revocations::keys))
        .route(
            "/api/v1/revocations",
            get(revocations::list).post(revocations::revoke),
        )
        .route("/api/v1/recordings", get(recordings::list))
        .route(
            "/api/v1/recordings/{id}",
            get(recordings::get_one).delete(recordings::delete),
        )
        .route("/api/v1/recordings/{id}/file", get(recordings::file))
        .route("/api/v1/recordings/{id}/cast", get(recordings::cast))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .fallback(|| async { ApiError::not_found("endpoint").into_response() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this endpoint",
            )
            .into_response()
        })
        .layer(axum::middleware::from_fn(label_and_harden))
        .with_state(cp)
}

/// Labels the response with its route pattern (for metrics) and marks API
/// responses uncacheable.
async fn label_and_harden(req: Request, next: Next) -> Response {
    let label = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "/api/unmatched".to_owned(), |m| m.as_str().to_owned());
    let mut resp = next.run(req).await;
    resp.extensions_mut().insert(RouteLabel(label));
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    resp
}

/// Paging query of list endpoints.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct Page {
    /// Items per page (a whole number; 422 outside 1-200, 400 when not a
    /// number).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Cursor: the `next` of the previous page (the last item's sort key).
    pub after: Option<String>,
}

impl Page {
    pub(crate) fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(50),
            Some(n) if (1..=200).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::invalid("limit must be between 1 and 200")),
        }
    }
}

/// Path parameters, as axum's `Path`, but a path that does not decode
/// (`/api/v1/users/%FF`: not UTF-8) is the API's JSON error, 400
/// `bad_request`, like every other malformed request.
#[derive(Debug)]
pub(crate) struct Path<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(e) => Err(ApiError::bad_request(format!(
                "the path is not valid: {}",
                e.body_text()
            ))),
        }
    }
}

/// An optional RFC 3339 query parameter `name` as Unix ms (422 when it is
/// not one).
pub(crate) fn time_param(value: Option<&str>, name: &str) -> Result<Option<i64>, ApiError> {
    value
        .map(|v| {
            crate::time::parse_rfc3339(v)
                .ok_or_else(|| ApiError::invalid(format!("{name} must be an RFC 3339 time")))
        })
        .transpose()
}

/// A keyset cursor `"<ms>:<id>"` (a time and an id, as `next` gives it).
pub(crate) fn time_cursor(cursor: &str) -> Result<(i64, &str), ApiError> {
    cursor
        .split_once(':')
        .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id)))
        .ok_or_else(|| ApiError::bad_request("after must be a cursor from next"))
}
