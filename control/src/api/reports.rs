//! `POST /api/v1/gateway/reports`: what remote gateways report about
//! streams (`crate::service::reports` applies it).

use crate::ControlPlane;
use crate::api::openapi::responses::{BadRequest, NotFound, PayloadTooLarge, Unauthorized};
use crate::error::{ApiError, ErrorBody};
use crate::time::now_ms;
use axum::extract::State;
use bytes::Bytes;
use http::StatusCode;
use oriel_core_token::ReportClaims;
use std::sync::Arc;
use tracing::warn;

/// `POST /api/v1/gateway/reports`: a gateway's signed report (`r1.` token as
/// the body). Only gateways whose public keys are configured are believed.
#[utoipa::path(
    post,
    path = "/api/v1/gateway/reports",
    operation_id = "gatewayReport",
    tag = "gateway",
    summary = "A remote gateway reports a stream starting or ending, or the sessions it streams",
    description = "The body is a report token (`r1.…`) signed with the gateway's key, whose public half is configured in `control.gateway_report_keys`.",
    request_body(content = String, content_type = "text/plain"),
    responses(
        (status = 204, description = "Applied."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, description = "Not applied now (the database is away): send it again.", body = ErrorBody),
    )
)]
pub(crate) async fn receive(
    State(cp): State<Arc<ControlPlane>>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let token = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the body must be a report token"))?
        .trim();
    // The configured gateways' keys, then those the agents' node gateways
    // registered with.
    let configured = cp.report_verifier.as_ref().map(|v| {
        v.verify::<ReportClaims>(token, (now_ms() / 1000) as u64)
            .map_err(|e| e.to_string())
    });
    let claims = match configured {
        Some(Ok(c)) => c,
        other => match cp.verify_agent_gateway_report(token).await? {
            Some(c) => c,
            None => {
                let why = match other {
                    Some(Err(e)) => e,
                    _ => "no gateway with this key reports here".to_owned(),
                };
                return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", why));
            }
        },
    };
    // A report that cannot be applied now (the database is away) is
    // answered 503: the gateway sends it again.
    if let Err(e) = cp.apply_report(&claims.report).await {
        warn!(error = %e, session_id = claims.report.session_id().unwrap_or("-"), "cannot apply a gateway report now");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the report cannot be applied now; send it again",
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}
