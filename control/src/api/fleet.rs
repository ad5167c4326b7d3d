//! The fleet over HTTP: the agent protocol's endpoints
//! (`/api/v1/agent/register|poll|report`, bearer: the join token) and the
//! admins' list of agents (`GET /api/v1/agents`). The operations are the
//! service layer's (`crate::service::fleet`).

use crate::ControlPlane;
use crate::error::{ApiError, json_rejection};
use crate::service::Authed;
use crate::time::rfc3339;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use http::HeaderMap;
use oriel_core_agent_protocol::{
    AgentHello, AgentOrders, AgentPoll, AgentReport, AgentWelcome, ReportReply,
};
use serde::Deserialize;
use std::sync::Arc;

/// The join token must be presented as a bearer token.
fn check_join_token(cp: &ControlPlane, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &cp.settings.agent_join_token else {
        return Err(ApiError::not_found("agent endpoint"));
    };
    let given = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Compared as SHA-256 digests: how long the comparison takes says
    // nothing about the token.
    let digest = |s: &str| ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    if digest(given).as_ref() != digest(expected).as_ref() {
        return Err(ApiError::unauthorized());
    }
    Ok(())
}

/// `POST /api/v1/agent/register`.
pub(crate) async fn register(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    body: Result<Json<AgentHello>, JsonRejection>,
) -> Result<Json<AgentWelcome>, ApiError> {
    check_join_token(&cp, &headers)?;
    let Json(hello) = body.map_err(json_rejection)?;
    Ok(Json(cp.fleet().register(&hello).await?))
}

/// `POST /api/v1/agent/poll`.
pub(crate) async fn poll(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    body: Result<Json<AgentPoll>, JsonRejection>,
) -> Result<Json<AgentOrders>, ApiError> {
    check_join_token(&cp, &headers)?;
    let Json(poll) = body.map_err(json_rejection)?;
    Ok(Json(cp.fleet().poll(&poll).await?))
}

/// `POST /api/v1/agent/report`.
pub(crate) async fn report(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    body: Result<Json<AgentReport>, JsonRejection>,
) -> Result<Json<ReportReply>, ApiError> {
    check_join_token(&cp, &headers)?;
    let Json(report) = body.map_err(json_rejection)?;
    let outcome = cp.fleet().report(&report).await?;
    Ok(Json(ReportReply { outcome }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentQuery {
    limit: Option<i64>,
    after: Option<String>,
}

/// `GET /api/v1/agents`: agents with their load, by id (admins and auditors).
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    q: Result<axum::extract::Query<AgentQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.require_reader()?;
    let axum::extract::Query(q) = q.map_err(crate::error::query_rejection)?;
    let limit = match q.limit {
        None => 50,
        Some(n) if (1..=200).contains(&n) => n,
        Some(_) => return Err(ApiError::invalid("limit must be between 1 and 200")),
    };
    let mut agents = cp
        .store
        .list_agents(q.after.as_deref().unwrap_or(""), limit + 1)
        .await?;
    let next = (agents.len() as i64 > limit).then(|| {
        agents.truncate(limit as usize);
        agents.last().map(|a| a.registration.id.clone())
    });
    let items: Vec<_> = agents
        .iter()
        .map(|a| {
            let r = &a.registration;
            serde_json::json!({
                "id": r.id,
                "zone": r.zone,
                "labels": serde_json::from_str::<serde_json::Value>(&r.labels).unwrap_or_default(),
                "state": a.state,
                "max_sessions": r.max_sessions,
                "cpus": r.millicpus as f64 / 1000.0,
                "memory_mb": r.memory_mb,
                "gateway_url": r.gateway.as_ref().map(|g| g.url.clone()),
                "active_sessions": a.active_sessions,
                "reserved_memory_mb": a.reserved_memory_mb,
                "registered_at": rfc3339(a.registered_at),
                "last_seen_at": rfc3339(a.last_seen_at),
            })
        })
        .collect();
    Ok(Json(
        serde_json::json!({ "items": items, "next": next.flatten() }),
    ))
}
