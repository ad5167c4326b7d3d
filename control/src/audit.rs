//! Writing the audit log: every login, launch, end and admin change,
//! append only. Build an entry with `Audit::by` (the caller,
//! `crate::service::caller`) or a struct literal, then
//! [`ControlPlane::audit`]. The log's API is `crate::api::audit`.

use crate::ControlPlane;
use crate::time::now_ms;
use oriel_control_store::NewAudit;
use tracing::error;

/// An entry to write; build it with `Audit::by` and struct update.
#[derive(Debug, Clone, Default)]
pub(crate) struct Audit<'a> {
    pub actor_id: Option<&'a str>,
    pub actor_name: &'a str,
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub target_name: Option<&'a str>,
    pub source: Option<&'a str>,
    pub success: bool,
    pub details: Option<serde_json::Value>,
}

impl<'a> Audit<'a> {
    /// The object acted on.
    pub(crate) fn on(self, kind: &'a str, id: &'a str, name: Option<&'a str>) -> Self {
        Audit {
            target_type: Some(kind),
            target_id: Some(id),
            target_name: name,
            ..self
        }
    }

    /// More about it (never secrets).
    pub(crate) fn details(self, details: serde_json::Value) -> Self {
        Audit {
            details: Some(details),
            ..self
        }
    }
}

impl ControlPlane {
    /// Appends to the audit log. A failure to write is logged loudly but
    /// does not undo the action, which has already happened.
    pub(crate) async fn audit(&self, a: Audit<'_>) {
        let entry = NewAudit {
            actor_id: a.actor_id,
            actor_name: a.actor_name,
            action: a.action,
            target_type: a.target_type,
            target_id: a.target_id,
            target_name: a.target_name,
            source: a.source,
            success: a.success,
            details: a.details,
        };
        if let Err(e) = self.store.append_audit(&entry, now_ms()).await {
            error!(error = %e, action = a.action, "cannot write the audit log");
        }
    }
}
