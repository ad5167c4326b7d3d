//! The fleet over HTTP: the agent protocol's endpoints
//! (`/api/v1/agent/register|poll|report`, bearer: the join token) and the
//! admins' list of agents (`GET /api/v1/agents`). The operations are the
//! service layer's (`crate::service::fleet`).

use super::Page;
use crate::ControlPlane;
use crate::api::openapi::responses::{
    BadRequest, Conflict, NotFound, Unauthorized, Unprocessable, UnsupportedMediaType,
};
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
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::ToSchema;

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
#[utoipa::path(
    post,
    path = "/api/v1/agent/register",
    operation_id = "agentRegister",
    tag = "agent",
    summary = "An agent registers (again after a restart) with its zone and capacity",
    description = "Authenticated with the join token as `Authorization: Bearer <token>`.",
    request_body = AgentHello,
    responses(
        (status = 200, description = "Registered.", body = AgentWelcome),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/agent/poll",
    operation_id = "agentPoll",
    tag = "agent",
    summary = "An agent's heartbeat and long poll: the sessions it should run",
    description = "Authenticated with the join token. 409 `unregistered`: register again.",
    request_body = AgentPoll,
    responses(
        (status = 200, description = "The wanted sessions.", body = AgentOrders),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
    )
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/agent/report",
    operation_id = "agentReport",
    tag = "agent",
    summary = "An agent reports a session's container ready (address, VNC password) or failed",
    description = "Authenticated with the join token. `not_wanted`: the session ended meanwhile; remove the container.",
    request_body = AgentReport,
    responses(
        (status = 200, description = "What the report did.", body = inline(ReportReply)),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
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

/// An agent as `GET /api/v1/agents` shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Agent)]
pub(crate) struct AgentView {
    id: String,
    zone: String,
    labels: BTreeMap<String, String>,
    #[schema(schema_with = agent_state)]
    state: String,
    max_sessions: i64,
    cpus: f64,
    memory_mb: i64,
    /// The public URL of the gateway on its node; null: the control
    /// plane's own gateway streams its sessions.
    #[schema(required = true)]
    gateway_url: Option<String>,
    active_sessions: i64,
    reserved_memory_mb: i64,
    #[schema(format = DateTime)]
    registered_at: String,
    #[schema(format = DateTime)]
    last_seen_at: String,
}

fn agent_state() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["online", "lost"]))
        .description(Some("`online`, or `lost` (missed heartbeats)."))
        .build()
}

page_of!(
    /// A page of agents, by id.
    AgentList,
    AgentView
);

/// `GET /api/v1/agents`: agents with their load, by id (admins and auditors).
#[utoipa::path(
    get,
    path = "/api/v1/agents",
    operation_id = "listAgents",
    tag = "agents",
    summary = "Agents with their zone, capacity and load, by id (admins and auditors)",
    params(Page),
    responses(
        (status = 200, description = "A page of agents.", body = AgentList),
        (status = 400, response = BadRequest),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn list(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    q: Result<axum::extract::Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AgentList>, ApiError> {
    auth.require_reader()?;
    let axum::extract::Query(q) = q.map_err(crate::error::query_rejection)?;
    let limit = q.limit()?;
    let mut agents = cp
        .store
        .list_agents(q.after.as_deref().unwrap_or(""), limit + 1)
        .await?;
    let next = (agents.len() as i64 > limit).then(|| {
        agents.truncate(limit as usize);
        agents.last().map(|a| a.registration.id.clone())
    });
    let items = agents
        .iter()
        .map(|a| {
            let r = &a.registration;
            AgentView {
                id: r.id.clone(),
                zone: r.zone.clone(),
                // Stored as the agent sent them (a map of strings).
                labels: serde_json::from_str(&r.labels).unwrap_or_default(),
                state: a.state.clone(),
                max_sessions: r.max_sessions,
                cpus: r.millicpus as f64 / 1000.0,
                memory_mb: r.memory_mb,
                gateway_url: r.gateway.as_ref().map(|g| g.url.clone()),
                active_sessions: a.active_sessions,
                reserved_memory_mb: a.reserved_memory_mb,
                registered_at: rfc3339(a.registered_at),
                last_seen_at: rfc3339(a.last_seen_at),
            }
        })
        .collect();
    Ok(Json(AgentList {
        items,
        next: next.flatten(),
    }))
}
