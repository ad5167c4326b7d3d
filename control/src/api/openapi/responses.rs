//! The error answers many operations share, as components of the
//! document (`#/components/responses/…`): each is the API's error body
//! ([`crate::error::ErrorBody`]) with what the status means.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};

fn error_answer(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Error")))
            .build(),
    )
}

macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident => $description:literal;)*) => {$(
        $(#[$doc])*
        pub(crate) struct $name;

        impl<'r> utoipa::ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), error_answer($description).build().into())
            }
        }
    )*};
}

error_responses! {
    /// 400.
    BadRequest => "The body or query could not be parsed, or has unknown fields.";
    /// 401.
    Unauthorized => "Not logged in, or the login expired.";
    /// 403.
    Forbidden => "Not allowed for this user or token (`forbidden`), a cross-site request, or a login that must set up a second factor first (`totp_enrollment_required`).";
    /// 404.
    NotFound => "No such resource (or not visible to this user).";
    /// 409.
    Conflict => "The request conflicts with the current state.";
    /// 413.
    PayloadTooLarge => "`payload_too_large`: the body is larger than 1 MiB (refused by the HTTPS front).";
    /// 415.
    UnsupportedMediaType => "The body is not application/json.";
    /// 422.
    Unprocessable => "Well-formed but invalid values.";
    /// 503.
    Unavailable => "`database_unavailable`: the control plane cannot reach its database; sessions already running go on. Retry later.";
}

/// 429, with `Retry-After`.
pub(crate) struct TooManyRequests;

impl<'r> utoipa::ToResponse<'r> for TooManyRequests {
    fn response() -> (&'r str, RefOr<Response>) {
        let seconds = ObjectBuilder::new().schema_type(Type::Integer).build();
        let answer = error_answer("Too many failed logins; retry after the Retry-After header.")
            .header("Retry-After", HeaderBuilder::new().schema(seconds).build());
        ("TooManyRequests", answer.build().into())
    }
}
