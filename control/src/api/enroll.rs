//! Enrolling and removing a second factor (TOTP), with recovery codes.
//!
//! 1. `POST /api/v1/auth/totp/enroll` makes a new secret (kept encrypted,
//!    unconfirmed) and returns it with its `otpauth://` URI and QR code.
//! 2. `POST /api/v1/auth/totp/confirm {code}` checks a code from the app,
//!    turns the factor on, returns ten single-use recovery codes (shown
//!    once, stored hashed) and completes a login that was waiting for it.
//! 3. `DELETE /api/v1/auth/totp {code}` turns it off again (not while a
//!    group of the user requires it).

use crate::ControlPlane;
use crate::api::openapi::responses::{BadRequest, Conflict, Unprocessable, UnsupportedMediaType};
use crate::audit::Audit;
use crate::auth::{password, totp};
use crate::error::{ApiError, json_rejection};
use crate::service::Authed;
use crate::service::policy::totp_required;
use crate::time::now_ms;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use http::StatusCode;
use ring::rand::{SecureRandom as _, SystemRandom};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// Recovery codes issued per enrolment.
const RECOVERY_CODES: usize = 10;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TotpCode)]
pub(crate) struct CodeBody {
    /// The app's current 6-digit code (surrounding spaces ignored); another
    /// value is 422.
    #[schema(pattern = r"^\s*[0-9]{6}\s*$")]
    code: String,
}

/// A new second-factor secret, to confirm with a code.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TotpEnrollment {
    /// Base32, for typing into an app.
    secret: String,
    otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    qr_svg: String,
}

/// The recovery codes of a second factor just turned on.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecoveryCodes {
    /// Ten single-use codes, shown only now.
    recovery_codes: Vec<String>,
}

/// `POST /api/v1/auth/totp/enroll`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/totp/enroll",
    operation_id = "totpEnroll",
    tag = "auth",
    summary = "Start setting up a second factor (TOTP)",
    responses(
        (status = 200, description = "A new secret, to confirm with a code.", body = TotpEnrollment),
        (status = 409, response = Conflict),
    )
)]
pub(crate) async fn enroll(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
) -> Result<Json<TotpEnrollment>, ApiError> {
    auth.require_interactive()?;
    if auth.user.totp_enabled {
        return Err(ApiError::conflict(
            "totp_enabled",
            "a second factor is already set up; remove it first",
        ));
    }
    let mut secret = zeroize::Zeroizing::new([0u8; 20]);
    SystemRandom::new()
        .fill(secret.as_mut())
        .map_err(|e| ApiError::internal(&e))?;
    let sealed = cp.keys.data.seal(secret.as_ref(), &auth.user.id)?;
    cp.store
        .set_totp(&auth.user.id, Some(&sealed), false, now_ms())
        .await?;
    let issuer = cp
        .settings
        .public_url
        .as_deref()
        .and_then(|u| u.split("://").nth(1))
        .map_or("Oriel".to_owned(), |host| format!("Oriel ({host})"));
    let uri = totp::otpauth_uri(secret.as_ref(), &issuer, &auth.user.username);
    let svg = totp::qr_svg(&uri).ok_or_else(|| ApiError::internal(&"qr code too large"))?;
    Ok(Json(TotpEnrollment {
        secret: totp::base32(secret.as_ref()),
        otpauth_uri: uri,
        qr_svg: svg,
    }))
}

/// `POST /api/v1/auth/totp/confirm`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/totp/confirm",
    operation_id = "totpConfirm",
    tag = "auth",
    summary = "Turn the second factor on with a code from the app",
    request_body = CodeBody,
    responses(
        (status = 200, description = "On; recovery codes shown once.", body = RecoveryCodes),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn confirm(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    body: Result<Json<CodeBody>, JsonRejection>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    auth.require_interactive()?;
    let Json(body) = body.map_err(json_rejection)?;
    let record = cp
        .store
        .user(&auth.user.id)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if record.user.totp_enabled {
        return Err(ApiError::conflict(
            "totp_enabled",
            "the second factor is already on",
        ));
    }
    let Some(sealed) = &record.sealed_totp else {
        return Err(ApiError::conflict(
            "totp_not_enrolled",
            "start with POST /api/v1/auth/totp/enroll",
        ));
    };
    let secret = cp.keys.data.open(sealed, &auth.user.id)?;
    let now = (now_ms() / 1000) as u64;
    let Some(step) = totp::verify(&secret, &body.code, now) else {
        cp.audit(Audit {
            success: false,
            ..Audit::by(&auth, "auth.totp.enable")
        })
        .await;
        return Err(ApiError::invalid(
            "that code is not the current one: check the app and the device's clock",
        ));
    };
    cp.store
        .consume_totp_step(&auth.user.id, step as i64)
        .await?;
    cp.store
        .set_totp(&auth.user.id, Some(sealed), true, now_ms())
        .await?;
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    let mut hashes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let mut raw = [0u8; 10];
        SystemRandom::new()
            .fill(&mut raw)
            .map_err(|e| ApiError::internal(&e))?;
        let code = totp::base32(&raw).to_lowercase();
        hashes.push(password::secret_hash(&code));
        // Shown as xxxx-xxxx-xxxx-xxxx; any separators are ignored on use.
        codes.push(
            code.as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-"),
        );
    }
    cp.store
        .replace_recovery_codes(&auth.user.id, &hashes)
        .await?;
    if let Some(hash) = &auth.login_hash {
        cp.store.complete_login(hash).await?;
    }
    cp.audit(Audit::by(&auth, "auth.totp.enable")).await;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// `DELETE /api/v1/auth/totp`.
#[utoipa::path(
    delete,
    path = "/api/v1/auth/totp",
    operation_id = "totpDisable",
    tag = "auth",
    summary = "Turn the second factor off",
    request_body = CodeBody,
    responses(
        (status = 204, description = "Off."),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
pub(crate) async fn disable(
    State(cp): State<Arc<ControlPlane>>,
    auth: Authed,
    body: Result<Json<CodeBody>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    auth.require_interactive()?;
    let Json(body) = body.map_err(json_rejection)?;
    if totp_required(&cp, &auth.user.id).await? {
        return Err(ApiError::conflict(
            "totp_required",
            "a group you belong to requires a second factor",
        ));
    }
    let record = cp
        .store
        .user(&auth.user.id)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let Some(sealed) = record
        .sealed_totp
        .as_deref()
        .filter(|_| record.user.totp_enabled)
    else {
        return Err(ApiError::conflict(
            "totp_not_enrolled",
            "no second factor is set up",
        ));
    };
    let secret = cp.keys.data.open(sealed, &auth.user.id)?;
    if totp::verify(&secret, &body.code, (now_ms() / 1000) as u64).is_none() {
        return Err(ApiError::invalid("that code is not the current one"));
    }
    cp.store
        .set_totp(&auth.user.id, None, false, now_ms())
        .await?;
    cp.store.replace_recovery_codes(&auth.user.id, &[]).await?;
    cp.audit(Audit::by(&auth, "auth.totp.disable")).await;
    Ok(StatusCode::NO_CONTENT)
}
