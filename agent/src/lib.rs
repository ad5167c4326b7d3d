//! The agent: the process on a node that runs session desktops, one
//! ephemeral, isolated container per session, as the control plane's fleet
//! tells it. Two ideas, two halves:
//!
//! - **the loop** ([`node`]): the agent protocol's conversation with the
//!   control plane ([`Agent`] over a [`ControlLink`]: [`HttpsLink`] for
//!   `oriel agent`; `oriel up` links the control plane of its process) —
//!   register, long-poll for the sessions to run, launch and report, remove
//!   the rest — and the gateway's `container` session kind
//!   ([`ContainerConnector`]);
//! - **the runtime** ([`SessionRuntime`]): what starts, lists, ends and
//!   reconciles session containers. [`DockerRuntime`] runs them on the
//!   local Docker engine, each on its own network behind host firewall
//!   rules ([`firewall`]).
//!
//! The loop talks only to the trait, so another runtime (Kubernetes:
//! docs/design/kubernetes.md) would slot in beside Docker.

mod connector;
mod docker;
pub mod firewall;
mod names;
pub mod node;
mod runtime;
mod spec;
mod subnets;

pub use connector::ContainerConnector;
pub use docker::{
    ContainerFiles, DockerError, DockerRuntime, DockerSettings, HOME, LABEL_AGENT, LABEL_BRIDGE,
    LABEL_SESSION, VNC_PORT, probe_rfb,
};
pub use firewall::{Firewall, FirewallError};
pub use names::{InvalidName, SessionId};
pub use node::{Agent, ControlLink, HttpsLink, HttpsLinkError, LinkError};
pub use runtime::{ReconcileReport, SessionRuntime, reconcile_every};
pub use spec::{ContainerSpec, Egress, RunningSession};
pub use subnets::{InvalidPool, SubnetPool};
