//! API errors (the HTTP layer): a status, a stable code and a short public
//! message. Causes go to the log, never to the client. The service layer's
//! [`ServiceError`] is mapped here, one status and code per variant; the
//! codes and messages are the API's contract (`docs/`, the OpenAPI document).

use crate::service::ServiceError;
use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use oriel_control_store::StoreError;
use tracing::error;

/// An error answered as `{"error": {"code", "message"}}`, with `"field"`
/// (the request field at fault, e.g. `target.host`) on validation errors
/// that concern one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// For humans; never internal detail.
    pub message: String,
    /// The request field at fault, when one is.
    pub field: Option<String>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// 400: the body or query cannot be parsed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "authentication required",
        )
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 409.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 422: well-formed but invalid. A message of the form "`field` must …"
    /// or "`field` too long" names its field in `field`.
    pub fn invalid(message: impl Into<String>) -> Self {
        let message = message.into();
        let field = field_of(&message);
        ApiError {
            field,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message,
            )
        }
    }

    /// This error, about the request field `field`.
    pub fn about(self, field: &str) -> Self {
        ApiError {
            field: Some(field.to_owned()),
            ..self
        }
    }

    /// 422 about one request field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        ApiError {
            field: Some(field.to_owned()),
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                message,
            )
        }
    }

    /// 500, logging the cause.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => ApiError::conflict(
                "conflict",
                format!("a {what} with this name already exists"),
            ),
            StoreError::Missing(what) => ApiError::invalid(format!("no such {what}")),
            // The control plane's database is away (stopped, partitioned):
            // say so, and that running sessions are not affected.
            other if other.is_unavailable() => {
                tracing::warn!(error = %other, "the database cannot be reached");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the control plane cannot reach its database: sessions already running go on, \
                     new logins and launches work again once it is back",
                )
            }
            other => ApiError::internal(&other),
        }
    }
}

impl From<oriel_control_store::DataKeyError> for ApiError {
    fn from(e: oriel_control_store::DataKeyError) -> Self {
        ApiError::internal(&e)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        use ServiceError as E;
        match e {
            E::NotFound(what) => ApiError::not_found(what),
            E::Forbidden(message) => ApiError::forbidden(message),
            E::Unauthenticated(message) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", message)
            }
            E::Invalid {
                field: None,
                message,
            } => ApiError::invalid(message),
            E::Invalid {
                field: Some(field),
                message,
            } => ApiError::invalid_field(&field, message),
            E::Conflict { reason, message } => ApiError::conflict(reason, message),
            E::SessionLimit { active } => ApiError::conflict(
                "session_limit",
                format!(
                    "you already have {active} active sessions of this workspace, the most it allows"
                ),
            ),
            E::NoCapacity { zone, agents } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_capacity",
                if agents == 0 {
                    format!(
                        "no agent is online in your zone ({zone}) to run this workspace; try again later or ask an administrator"
                    )
                } else {
                    format!(
                        "all {agents} agents of your zone ({zone}) are full; try again when a session ends"
                    )
                },
            ),
            E::NoAgent => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_agent",
                "no agent is available to run container workspaces",
            ),
            E::FeatureUnavailable(feature) => ApiError::conflict(
                "feature_unavailable",
                format!(
                    "this workspace requires {}, which this server cannot apply: an admin must correct its policy",
                    feature.describe()
                ),
            ),
            E::SessionStarting => {
                ApiError::conflict("session_starting", "the session's desktop is not ready yet")
            }
            E::SessionFailed(why) => {
                ApiError::conflict("session_failed", format!("the session failed: {why}"))
            }
            E::SessionEnded => ApiError::conflict("session_ended", "the session has ended"),
            E::SignInRequired(message) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "sign_in_required", message)
            }
            E::Denied { reason, message } => ApiError::new(StatusCode::FORBIDDEN, reason, message),
            E::Gone { reason, message } => ApiError::new(StatusCode::GONE, reason, message),
            E::SessionExpired => {
                ApiError::conflict("session_ended", "the session reached its maximum length")
            }
            E::WorkspaceGone => ApiError::conflict(
                "workspace_gone",
                "the session's workspace was deleted or is no longer granted to you",
            ),
            E::ZoneGone(zone) => ApiError::conflict(
                "zone_gone",
                format!("the workspace's zone {zone:?} no longer exists"),
            ),
            E::NoConnectionProxy(zone) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_connection_proxy",
                format!("zone {zone:?} has no connection proxy to reach this workspace"),
            ),
            E::GatewayUnconfirmed => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "gateway_unreachable",
                "the session is ending, but a gateway did not confirm closing its streams; retry to tell it again",
            ),
            E::Store(e) => e.into(),
            E::Internal(cause) => ApiError::internal(&cause),
        }
    }
}

impl From<crate::auth::CryptoError> for ApiError {
    fn from(e: crate::auth::CryptoError) -> Self {
        ApiError::internal(&e)
    }
}

/// The field a validation message starts with: `name must …`,
/// `target.port must …`, `description too long`.
fn field_of(message: &str) -> Option<String> {
    let (first, rest) = message.split_once(' ')?;
    let is_field = !first.is_empty()
        && first.split('.').all(|part| {
            part.starts_with(|c: char| c.is_ascii_lowercase())
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        });
    let about_it = rest.starts_with("must ") || rest.starts_with("too long");
    (is_field && about_it && first != "the").then(|| first.to_owned())
}

/// The body of every error answer: `{"error": {"code", "message"}}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Error)]
pub(crate) struct ErrorBody {
    #[schema(inline)]
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ErrorDetail {
    /// Stable code, e.g. unauthorized, invalid_credentials, totp_required,
    /// too_many_attempts, validation_failed, conflict, session_limit,
    /// session_ended, last_admin.
    code: &'static str,
    /// For humans; never internal detail.
    message: String,
    /// On validation errors about one request field: its path, e.g.
    /// `target.host`, `password`, `policy.upload_max_bytes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    field: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                field: self.field,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// Maps axum's JSON extraction failures to our error shape.
pub(crate) fn json_rejection(r: axum::extract::rejection::JsonRejection) -> ApiError {
    use axum::extract::rejection::JsonRejection::*;
    match r {
        MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ),
        JsonDataError(e) => ApiError::bad_request(e.body_text()),
        JsonSyntaxError(e) => ApiError::bad_request(e.body_text()),
        other => ApiError::bad_request(other.body_text()),
    }
}

/// Maps axum's query extraction failures to our error shape.
pub(crate) fn query_rejection(r: axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError::bad_request(r.body_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages_name_their_field() {
        let f = |m: &str| ApiError::invalid(m).field;
        assert_eq!(
            f("target.host must be a host name"),
            Some("target.host".into())
        );
        assert_eq!(f("limit must be between 1 and 200"), Some("limit".into()));
        assert_eq!(f("description too long"), Some("description".into()));
        assert_eq!(
            f("policy.upload_max_bytes must be at most 9"),
            Some("policy.upload_max_bytes".into())
        );
        assert_eq!(f("the password must have 12 characters"), None);
        assert_eq!(f("container limits out of range"), None);
        assert_eq!(f("Kind must be x"), None);
        assert_eq!(f("must"), None);
        assert_eq!(
            ApiError::invalid("the password is too common")
                .about("new")
                .field,
            Some("new".into())
        );
    }
}
