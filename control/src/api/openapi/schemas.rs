//! Schemas of fields whose Rust type says less than the API accepts: a
//! string that must be one of a few words, a value that is always null.
//! Used with `#[schema(schema_with = …)]` and `#[param(schema_with = …)]`.

use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

/// A string that is one of `values`.
fn one_of(values: &[&'static str], description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .description(Some(description))
        .build()
}

/// `ContainerSpec.egress`.
pub(crate) fn egress() -> Object {
    ObjectBuilder::from(one_of(
        &["none", "internet"],
        "Internet access from the container.",
    ))
    .default(Some("none".into()))
    .build()
}

/// `WorkspaceInput.kind` (`crate::api::workspaces::KINDS`).
pub(crate) fn workspace_kind() -> Object {
    one_of(
        super::super::workspaces::KINDS,
        "Only the kinds this installation serves (`control.workspace_kinds`); another is 422.",
    )
}

/// The `scope` query parameter of lists.
pub(crate) fn scope() -> Object {
    one_of(
        &["own", "all"],
        "`own` (the default), or `all` (admins and auditors: everyone's).",
    )
}

/// The `state` query parameter of `GET /sessions`.
pub(crate) fn session_state_filter() -> Object {
    one_of(
        &["active", "all"],
        "`active`: only sessions not over; `all` (the default).",
    )
}

/// An audit entry's outcome (and the filter on it).
pub(crate) fn outcome() -> Object {
    one_of(&["success", "failure"], "`success` or `failure`.")
}

/// `POST /revocations`' `kind`.
pub(crate) fn revocation_kind() -> Object {
    one_of(&["token", "session", "user"], "What `id` names.")
}

/// A value that is always null.
pub(crate) fn null() -> Object {
    ObjectBuilder::new().schema_type(Type::Null).build()
}
