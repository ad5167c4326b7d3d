//! `/api/v1/tokens`: long-lived API tokens for automation. The secret is
//! shown once at creation and stored as its SHA-256; a token can only do
//! what both its scopes and its owner's role allow.

use super::{Page, time_cursor};
use crate::ControlPlane;
use crate::audit::Audit;
use crate::auth::{API_TOKEN_PREFIX, password};
use crate::error::{ApiError, json_rejection, query_rejection};
use crate::service::{Authed, Scope, Via};
use crate::time::{now_ms, rfc3339};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use oriel_control_store::ApiTokenRecord;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenBody {
    name: String,
    scopes: Vec<Scope>,
    /// Days until it expires (1–3650); absent: never.
    #[serde(default)]
    expires_in_days: Option<u32>,
}

fn token_json(t: &ApiTokenRecord) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "user_id": t.user_id,
        "name": t.name,
        "scopes": t.scopes,
        "created_at": rfc3339(t.created_at),
        "expires_at": t.expires_at.map(rfc3339),
        "last_used_at": t.last_used_at.map(rfc3339),
        "revoked_at": t.revoked_at.map(rfc3339),
    })
}

/// Query of `GET /api/v1/tokens`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenQuery {
    limit: Option<i64>,
    after: Option<String>,
    /// `own` (default) or `all` (admins and auditors).
    scope: Option<String>,
}

/// `GET /api/v1/tokens`: the caller's tokens (`scope=all`: everyone's, for
/// admins and auditors), newest first, paged with `limit` and `after`.
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    parts: Parts,
) -> Result<Json<serde_json::Value>, ApiError> {
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
    let items: Vec<_> = rows.iter().take(limit as usize).map(token_json).collect();
    let next = more.then(|| {
        let last = &rows[limit as usize - 1];
        format!("{}:{}", last.created_at, last.id)
    });
    Ok(Json(serde_json::json!({ "items": items, "next": next })))
}

/// `POST /api/v1/tokens`.
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
    let mut json = token_json(&t);
    json["token"] = secret.into();
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// `DELETE /api/v1/tokens/{id}`: revokes (owner or admin).
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
