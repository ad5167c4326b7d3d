//! The service layer: the control plane's operations in domain terms —
//! launching a session (policy, limits, placement), minting its tokens,
//! ending it, users (the last admin kept, the disabled cut off),
//! revocations, gateway reports and the reaper, the effective policy,
//! zones, the fleet of agents (registration, long poll, reports) — with domain types in and out and one error enum,
//! [`ServiceError`]. It knows nothing of HTTP: `crate::api` parses
//! requests, calls it, and maps its errors to the API's statuses and codes.
//!
//! Layers (checked by a test, `layers` below):
//!
//! ```text
//! lib.rs (wiring) ─▶ api (HTTP: router, handlers, ApiError, authn)
//!                      │
//!                      ▼
//!                    service (this: domain operations, ServiceError, Authed)
//!                      │
//!                      ▼
//!      auth (password, TOTP, OIDC primitives), audit (writer),
//!      gateway_link, time, and the crates below: store, token
//! ```
//!
//! Nothing under `service/` or the lower modules imports `crate::api`,
//! `crate::error` (the API's error type) or axum.

mod caller;
mod error;
pub(crate) mod fleet;
pub(crate) mod policy;
mod recordings;
mod reports;
mod revocations;
mod sessions;
mod shares;
mod users;
pub(crate) mod zones;

pub(crate) use caller::{Authed, Scope, Via};
pub use error::{Feature, ServiceError};
pub use fleet::{AgentStreams, Fleet};
pub use recordings::{MAX_RECORDING_BYTES, RecordingUpload};
pub(crate) use revocations::RevokeRequest;
pub(crate) use sessions::{LaunchRequest, TokenOutcome, TokenRequest, public_base};
pub(crate) use shares::{JoinRequest, ShareRequest, ShareState};
pub(crate) use users::{NewUser, UserUpdate};

#[cfg(test)]
mod layers;
#[cfg(test)]
mod tests;
