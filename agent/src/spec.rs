//! What a session runs in: its container spec (from its workspace's
//! [`ContainerSettings`]) and, once started, where its desktop answers.

use std::net::SocketAddr;

use oriel_core_agent_protocol::ContainerSettings;

use crate::SessionId;

/// What a session may reach outside its container (a workspace policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Egress {
    /// Nothing: an internal Docker network without a route out.
    None,
    /// The internet through the host's NAT, but not the host nor private ranges.
    Internet,
}

/// The container a session runs in (from its workspace).
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// Image reference; it must already be on the host.
    pub image: String,
    /// CPU limit in cores (fractions allowed).
    pub cpus: f64,
    /// Memory limit in MiB (no swap beyond it).
    pub memory_mb: u64,
    /// Maximum number of processes.
    pub pids: i64,
    /// Network policy.
    pub egress: Egress,
    /// Desktop width in pixels.
    pub width: u16,
    /// Desktop height in pixels.
    pub height: u16,
    /// Mount the root filesystem read-only (set false for images that must
    /// write outside their tmpfs paths).
    pub read_only_root: bool,
    /// Writable tmpfs mounts: path and mount options.
    pub tmpfs: Vec<(String, String)>,
}

impl ContainerSpec {
    /// A spec with modest defaults: 1 CPU, 1 GiB, 256 processes, no egress,
    /// 1280×800, read-only root with tmpfs on `/tmp` (1777) and `/home/oriel`
    /// (uid 1000, 0700), as the image contract (deploy/images/README.md) asks.
    pub fn new(image: impl Into<String>) -> Self {
        ContainerSpec {
            image: image.into(),
            cpus: 1.0,
            memory_mb: 1024,
            pids: 256,
            egress: Egress::None,
            width: 1280,
            height: 800,
            read_only_root: true,
            tmpfs: vec![
                ("/tmp".to_owned(), "rw,nosuid,nodev,mode=1777".to_owned()),
                (
                    "/home/oriel".to_owned(),
                    "rw,nosuid,nodev,uid=1000,gid=1000,mode=0700".to_owned(),
                ),
            ],
        }
    }
}

impl From<&ContainerSettings> for ContainerSpec {
    /// The spec of a container the control plane asks for: its image,
    /// limits, egress (`internet`, anything else none) and geometry, with
    /// [`ContainerSpec::new`]'s read-only root and tmpfs mounts.
    fn from(w: &ContainerSettings) -> ContainerSpec {
        let mut spec = ContainerSpec::new(&w.image);
        spec.cpus = w.cpus;
        spec.memory_mb = u64::from(w.memory_mb);
        spec.pids = i64::from(w.pids);
        spec.egress = if w.internet_egress() {
            Egress::Internet
        } else {
            Egress::None
        };
        spec.width = w.width;
        spec.height = w.height;
        spec
    }
}

/// A session's container, ready for the gateway.
#[derive(Debug, Clone)]
pub struct RunningSession {
    /// The session.
    pub session_id: SessionId,
    /// The runtime's id of the session's container (Docker's container id).
    pub container_id: String,
    /// The VNC server's address, reachable from the host.
    pub vnc_addr: SocketAddr,
    /// The per-session VNC password (VncAuth: 8 characters).
    pub vnc_password: String,
}

/// Checks the limits are in range; the message says which is not.
pub(crate) fn validate_spec(spec: &ContainerSpec) -> Result<(), &'static str> {
    if !(spec.cpus > 0.0 && spec.cpus <= 1024.0) {
        return Err("cpus must be in (0, 1024]");
    }
    if spec.memory_mb < 6 || spec.memory_mb > 1 << 30 {
        return Err("memory_mb must be at least 6");
    }
    if spec.pids < 1 {
        return Err("pids must be positive");
    }
    if spec.width == 0 || spec.height == 0 {
        return Err("width and height must be positive");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(egress: &str) -> ContainerSettings {
        ContainerSettings {
            image: "oriel/desktop:1".into(),
            cpus: 1.5,
            memory_mb: 2048,
            pids: 300,
            egress: egress.into(),
            width: 1920,
            height: 1080,
        }
    }

    #[test]
    fn the_control_planes_settings_become_a_spec() {
        let spec = ContainerSpec::from(&settings("internet"));
        assert_eq!(spec.image, "oriel/desktop:1");
        assert_eq!((spec.cpus, spec.memory_mb, spec.pids), (1.5, 2048, 300));
        assert_eq!((spec.width, spec.height), (1920, 1080));
        assert_eq!(spec.egress, Egress::Internet);
        // What the control plane does not say keeps the safe defaults.
        assert!(spec.read_only_root);
        assert_eq!(spec.tmpfs, ContainerSpec::new("x").tmpfs);
        assert_eq!(validate_spec(&spec), Ok(()));
    }

    #[test]
    fn any_egress_but_internet_is_none() {
        for egress in ["none", "", "Internet", "allowlist"] {
            assert_eq!(ContainerSpec::from(&settings(egress)).egress, Egress::None);
        }
    }
}
