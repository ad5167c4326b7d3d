//! Who is calling: an authenticated user, how they authenticated (cookie,
//! login token, scoped API token) and what that lets them do. The API's
//! extractor (`crate::api::authn`) builds it from the request.

use super::ServiceError;
use crate::audit::Audit;
use oriel_control_store::{LoginStage, Role, User};

/// What an API token may be used for (on top of its owner's role).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Scope {
    /// Read anything the owner may read.
    Read,
    /// Read, and launch / end / reconnect the owner's sessions.
    Sessions,
    /// Everything the owner's role allows.
    Admin,
}

impl Scope {
    pub(crate) fn parse(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "sessions" => Some(Scope::Sessions),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

/// How a request authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Via {
    /// The browser's cookie.
    Cookie,
    /// A login token as bearer.
    LoginToken,
    /// An API token with these scopes.
    ApiToken(Vec<Scope>),
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Authed {
    pub user: User,
    pub via: Via,
    /// Hash of the login token (cookie or bearer), to log it out.
    pub login_hash: Option<String>,
    pub stage: LoginStage,
    /// Client address.
    pub source: Option<String>,
}

impl Authed {
    pub(crate) fn is_admin(&self) -> bool {
        self.user.role == Role::Admin && self.scope_allows(Scope::Admin)
    }

    fn scope_allows(&self, needed: Scope) -> bool {
        match &self.via {
            Via::ApiToken(scopes) => {
                scopes.contains(&Scope::Admin)
                    || scopes.contains(&needed)
                    || (needed == Scope::Read && scopes.contains(&Scope::Sessions))
            }
            _ => true,
        }
    }

    /// Not an API token, or one with the sessions (or admin) scope.
    pub(crate) fn allows_sessions_scope(&self) -> bool {
        self.scope_allows(Scope::Sessions)
    }

    /// Admin role (and, for API tokens, the admin scope).
    pub(crate) fn require_admin(&self) -> Result<(), ServiceError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ServiceError::forbidden("this needs the admin role"))
        }
    }

    /// May read everything (admins and auditors).
    pub(crate) fn can_read_all(&self) -> bool {
        matches!(self.user.role, Role::Admin | Role::Auditor)
    }

    /// Admins and auditors.
    pub(crate) fn require_reader(&self) -> Result<(), ServiceError> {
        if self.can_read_all() {
            Ok(())
        } else {
            Err(ServiceError::forbidden(
                "this needs the admin or auditor role",
            ))
        }
    }

    /// May launch and manage own sessions (users and admins; not auditors).
    pub(crate) fn require_launcher(&self) -> Result<(), ServiceError> {
        if self.user.role == Role::Auditor {
            return Err(ServiceError::forbidden("auditors cannot launch sessions"));
        }
        if !self.scope_allows(Scope::Sessions) {
            return Err(ServiceError::forbidden(
                "this API token lacks the sessions scope",
            ));
        }
        Ok(())
    }

    /// Account credentials (password, second factor, API tokens) are
    /// managed from a login, never with an API token: a leaked token must
    /// not be able to take the account over or mint more tokens.
    pub(crate) fn require_interactive(&self) -> Result<(), ServiceError> {
        if matches!(self.via, Via::ApiToken(_)) {
            return Err(ServiceError::forbidden(
                "manage credentials from a login, not with an API token",
            ));
        }
        Ok(())
    }
}

impl<'a> Audit<'a> {
    /// A successful action by the authenticated caller.
    pub(crate) fn by(auth: &'a Authed, action: &'a str) -> Self {
        Audit {
            actor_id: Some(&auth.user.id),
            actor_name: &auth.user.username,
            action,
            source: auth.source.as_deref(),
            success: true,
            ..Default::default()
        }
    }
}
