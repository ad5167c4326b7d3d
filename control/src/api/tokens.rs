//! `/api/v1/tokens`: long-lived API tokens for automation. The secret is
//! shown once at creation and stored as its SHA-256; a token can only do
//! what both its scopes and its owner's role allow.

use super::Path;
use super::{Page, time_cursor};
use crate::ControlPlane;
use crate::api::openapi::responses::{BadRequest, NotFound, Unprocessable, UnsupportedMediaType};
use crate::api::openapi::schemas;
use crate::audit::Audit;
use crate::auth::{API_TOKEN_PREFIX, password};
use crate::error::{ApiError, json_rejection, query_rejection};
use crate::service::{Authed, Scope, Via};
use crate::time::{now_ms, rfc3339};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use oriel_control_store::ApiTokenRecord;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TokenInput)]
pub(crate) struct TokenBody {
    /// At most 128 bytes, not blank; stored trimmed.
    #[schema(min_length = 1, max_length = 128, pattern = r"\S")]
    name: String,
    /// `admin` only for admins (403).
    #[schema(min_items = 1)]
    scopes: Vec<Scope>,
    /// Days until it expires; absent or null: never.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    expires_in_days: Option<u32>,
}

/// An API token (never its secret, but in the creation response).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Token {
    id: String,
    user_id: String,
    name: String,
    scopes: Vec<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime, required = true)]
    expires_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    last_used_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    revoked_at: Option<String>,
    /// The secret, only in the creation response.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    token: Option<String>,
}

impl Token {
    fn of(t: &ApiTokenRecord) -> Token {
        Token {
            id: t.id.clone(),
            user_id: t.user_id.clone(),
            name: t.name.clone(),
            scopes: t.scopes.clone(),
            created_at: rfc3339(t.created_at),
            expires_at: t.expires_at.map(rfc3339),
            last_used_at: t.last_used_at.map(rfc3339),
            revoked_at: t.revoked_at.map(rfc3339),
            token: None,
        }
    }
}

page_of!(
    /// A page of tokens, newest first.
    TokenList,
    Token
);

/// Query of `GET /api/v1/tokens`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct TokenQuery {
    /// Items per page (a whole number; 422 outside 1-200, 400 when not a
    /// number).
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<i64>,
    /// Cursor `<unix ms>:<id>`, exactly the `next` of the previous page;
    /// anything else is 400 `bad_request`.
    #[param(pattern = "^-?[0-9]+:")]
    after: Option<String>,
    /// `own` (default) or `all` (admins and auditors).
    #[param(schema_with = schemas::scope)]
    scope: Option<String>,
}

/// `GET /api/v1/tokens`: the caller's tokens (`scope=all`: everyone's, for
/// admins and auditors), newest first, paged with `limit` and `after`.
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    operation_id = "listTokens",
    tag = "tokens",
    summary = "API tokens: your own; everyone's with scope=all (admins and auditors)",
    params(TokenQuery),
    responses(
        (status = 200, description = "A page of tokens, newest first.", body = TokenList),
        (status = 400, response = BadRequest),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
) -> Result<Json<TokenList>, ApiError> {
    let Query(q) = Query::<TokenQuery>::try_from_uri(&parts.uri).map_err(query_rejection)?;
    let page = Page {
        limit: q.limit,
        after: q.after,
    };
    let limit = page.limit()?;
    let before = page.after.as_deref().map(time_cursor).transpose()?;
    let all = match q.scope.as_deref() {
        None | Some("own") => false,
        Some("all") => {
            auth.require_reader()?;
            true
        }
        Some(_) => return Err(ApiError::invalid("scope must be own or all")),
    };
    let owner = (!all).then_some(auth.user.id.as_str());
    let rows = cp.store.list_api_tokens(owner, before, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<_> = rows.iter().take(limit as usize).map(Token::of).collect();
    let next = more.then(|| {
        let last = &rows[limit as usize - 1];
        format!("{}:{}", last.created_at, last.id)
    });
    Ok(Json(TokenList { items, next }))
}

/// `POST /api/v1/tokens`.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    operation_id = "createToken",
    tag = "tokens",
    summary = "Create an API token (`oriel_pat_…`, shown once)",
    request_body = TokenBody,
    responses(
        (status = 201, description = "Created; `token` is the secret.", body = Token),
        (status = 400, response = BadRequest),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn create(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    body: Result<Json<TokenBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(json_rejection)?;
    if matches!(auth.via, Via::ApiToken(_)) {
        return Err(ApiError::forbidden("API tokens cannot create API tokens"));
    }
    if body.name.trim().is_empty() || body.name.len() > 128 {
        return Err(ApiError::invalid("name must be 1-128 characters"));
    }
    if body.scopes.is_empty() {
        return Err(ApiError::invalid(
            "scopes must name at least one of read, sessions, admin",
        ));
    }
    if body.scopes.contains(&Scope::Admin) && !auth.is_admin() {
        return Err(ApiError::forbidden(
            "only admins can create admin-scoped tokens",
        ));
    }
    let expires_at = match body.expires_in_days {
        None => None,
        Some(d) if (1..=3650).contains(&d) => Some(now_ms() + i64::from(d) * 86_400_000),
        Some(_) => {
            return Err(ApiError::invalid(
                "expires_in_days must be between 1 and 3650",
            ));
        }
    };
    let secret = format!("{API_TOKEN_PREFIX}{}", password::random_token(32)?.as_str());
    let scopes: Vec<String> = body
        .scopes
        .iter()
        .map(|s| {
            serde_json::to_value(s)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect();
    let t = cp
        .store
        .create_api_token(
            &auth.user.id,
            body.name.trim(),
            &password::secret_hash(&secret),
            &scopes,
            expires_at,
            now_ms(),
        )
        .await?;
    cp.audit(
        Audit::by(&auth, "token.create")
            .on("token", &t.id, Some(&t.name))
            .details(serde_json::json!({ "scopes": scopes })),
    )
    .await;
    let created = Token {
        token: Some(secret),
        ..Token::of(&t)
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `DELETE /api/v1/tokens/{id}`: revokes (owner or admin).
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    operation_id = "revokeToken",
    tag = "tokens",
    summary = "Revoke an API token (owner or admin)",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn revoke(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let t = cp
        .store
        .api_token(&id)
        .await?
        .filter(|t| t.user_id == auth.user.id || auth.is_admin())
        .ok_or_else(|| ApiError::not_found("token"))?;
    cp.store.revoke_api_token(&id, now_ms()).await?;
    cp.audit(Audit::by(&auth, "token.revoke").on("token", &id, Some(&t.name)))
        .await;
    Ok(StatusCode::NO_CONTENT)
}
