//! `POST /api/v1/gateway/reports`: what remote gateways report about
//! streams (`crate::service::reports` applies it).

use crate::ControlPlane;
use crate::api::openapi::responses::{
    BadRequest, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
};
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

/// Query of `POST /api/v1/gateway/recordings`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct UploadQuery {
    /// The gateway's file name, `<start µs>.orec`.
    #[param(pattern = "^[0-9]{1,20}\\.orec$")]
    file: String,
}

/// Answer of `POST /api/v1/gateway/recordings`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadAnswer {
    /// The stored recording.
    id: String,
    verdict: super::recordings::Verdict,
}

/// `POST /api/v1/gateway/recordings?file=<name>`: a stand-alone gateway
/// uploads a finished recording (the body), signed in the headers with the
/// key its reports are signed with (`docs/recording.md`).
#[utoipa::path(
    post,
    path = "/api/v1/gateway/recordings",
    operation_id = "gatewayRecording",
    tag = "gateway",
    summary = "A stand-alone gateway uploads a finished session recording",
    description = "The body is the recording file (docs/recording.md). Signed by the gateway's key (the one of its reports, `control.gateway_report_keys`, or an agent node gateway's) in the headers `x-oriel-key-id`, `x-oriel-signed-at` (Unix s, within 5 minutes), `x-oriel-sha256` (the body's hash, hex) and `x-oriel-signature` (hex): Ed25519 over `oriel-recording-upload-1 ‖ 0 ‖ file ‖ 0 ‖ sha256 ‖ 0 ‖ signed-at`. Uploading the same file again answers the stored recording.",
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Stored (or stored before).", body = UploadAnswer),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 409, description = "Another file of this name is stored for the session.", body = ErrorBody),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
        (status = 503, description = "Not stored now (the database is away): send it again.", body = ErrorBody),
    )
)]
pub(crate) async fn receive_recording(
    State(cp): State<Arc<ControlPlane>>,
    headers: http::HeaderMap,
    q: Result<axum::extract::Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> Result<(StatusCode, axum::Json<UploadAnswer>), ApiError> {
    use oriel_core_recording::upload::{
        UPLOAD_DOMAIN, UPLOAD_HEADERS, UPLOAD_SKEW_SECS, unhex, upload_signed_bytes,
    };
    let axum::extract::Query(q) = q.map_err(crate::error::query_rejection)?;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .ok_or_else(|| ApiError::bad_request(format!("the {name} header is missing")))
    };
    let (kid, at, sha, signature) = (
        header(UPLOAD_HEADERS[0])?,
        header(UPLOAD_HEADERS[1])?,
        header(UPLOAD_HEADERS[2])?,
        header(UPLOAD_HEADERS[3])?,
    );
    let unauthorized = |why: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", why);
    let at: u64 = at
        .parse()
        .map_err(|_| ApiError::bad_request("x-oriel-signed-at must be Unix seconds"))?;
    let now = (now_ms() / 1000) as u64;
    if at.abs_diff(now) > UPLOAD_SKEW_SECS {
        return Err(unauthorized(
            "the upload's signature is too old or from the future",
        ));
    }
    let kid = oriel_core_token::Kid::parse(kid).ok_or_else(|| unauthorized("unknown key"))?;
    let signature = unhex(signature).ok_or_else(|| unauthorized("the signature is not hex"))?;
    let signed = upload_signed_bytes(&q.file, &sha.to_ascii_lowercase(), at);
    // The configured gateways' keys, then those the agents' node gateways
    // registered with.
    let mut keys: Vec<[u8; 32]> = cp
        .report_verifier
        .as_ref()
        .map(|v| v.keys().map(|(_, k)| *k).collect())
        .unwrap_or_default();
    keys.extend(cp.agent_gateway_keys().await?);
    oriel_core_token::TokenVerifier::new(keys)
        .verify_bytes(&kid, UPLOAD_DOMAIN, &signed, &signature)
        .map_err(|_| unauthorized("no gateway with this key uploads here"))?;
    let rec = cp
        .store_recording(crate::RecordingUpload {
            file_name: &q.file,
            bytes: body.to_vec(),
            sha256: Some(sha),
            by: "gateway",
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(UploadAnswer {
            id: rec.id,
            verdict: rec.verdict.into(),
        }),
    ))
}
