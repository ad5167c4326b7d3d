//! Launching a session: its network, its firewall rules, its container,
//! and the wait until its VNC server answers.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig, Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::CreateContainerOptions;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use super::{DockerError, DockerRuntime, LABEL_BRIDGE, VNC_PORT, docker_err};
use crate::{ContainerSpec, Egress, RunningSession, SessionId, names};

const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";

impl DockerRuntime {
    /// Starts a session's container and waits until its VNC server answers.
    /// On any failure, whatever was created for the session is removed.
    pub(super) async fn launch_container(
        &self,
        spec: &ContainerSpec,
        session: &SessionId,
    ) -> Result<RunningSession, DockerError> {
        crate::spec::validate_spec(spec).map_err(DockerError::InvalidSpec)?;
        if !self.session_containers(Some(session)).await?.is_empty() {
            return Err(DockerError::SessionExists(session.clone()));
        }
        let started = Instant::now();
        let result = self.launch_inner(spec, session).await;
        match &result {
            Ok(running) => tracing::info!(
                session_id = %session, container = %running.container_id,
                vnc = %running.vnc_addr, elapsed_ms = started.elapsed().as_millis() as u64,
                "session container ready"
            ),
            Err(error) => {
                tracing::warn!(session_id = %session, error = %error, "session launch failed, cleaning up");
                if let Err(error) = self.end_session(session).await {
                    tracing::warn!(session_id = %session, error = %error, "cleanup after failed launch");
                }
            }
        }
        result
    }

    async fn launch_inner(
        &self,
        spec: &ContainerSpec,
        session: &SessionId,
    ) -> Result<RunningSession, DockerError> {
        let name = self.resource_name(session);
        let bridge = names::bridge_name();
        let mut net_labels = self.labels(session);
        net_labels.insert(LABEL_BRIDGE.to_owned(), bridge.clone());
        let mut options = HashMap::from([(BRIDGE_NAME_OPTION.to_owned(), bridge.clone())]);
        if spec.egress == Egress::Internet {
            options.insert(
                "com.docker.network.bridge.enable_ip_masquerade".to_owned(),
                "true".to_owned(),
            );
        }
        let request = NetworkCreateRequest {
            name: name.clone(),
            driver: Some("bridge".to_owned()),
            internal: Some(spec.egress == Egress::None),
            attachable: Some(false),
            labels: Some(net_labels),
            options: Some(options),
            ..Default::default()
        };
        self.create_network(request).await?;
        if let Some(fw) = &self.firewall {
            // Without egress, refuse all forwarded traffic at once (Docker's
            // own rules for internal networks drop it silently).
            let everything = ["0.0.0.0/0".to_owned()];
            let blocked = match spec.egress {
                Egress::None => &everything[..],
                Egress::Internet => &self.settings.blocked_destinations[..],
            };
            fw.isolate(session, &bridge, blocked).await?;
        }

        let password = names::vnc_password().ok_or(DockerError::NoRandom)?;
        let host_config = HostConfig {
            nano_cpus: Some((spec.cpus * 1e9) as i64),
            memory: Some((spec.memory_mb * 1024 * 1024) as i64),
            memory_swap: Some((spec.memory_mb * 1024 * 1024) as i64),
            pids_limit: Some(spec.pids),
            readonly_rootfs: Some(spec.read_only_root),
            security_opt: Some(vec!["no-new-privileges:true".to_owned()]),
            cap_drop: Some(vec!["ALL".to_owned()]),
            tmpfs: Some(spec.tmpfs.iter().cloned().collect()),
            network_mode: Some(name.clone()),
            ipc_mode: Some("private".to_owned()),
            privileged: Some(false),
            init: Some(false),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            hostname: Some("oriel".to_owned()),
            env: Some(vec![
                format!("ORIEL_VNC_PASSWORD={password}"),
                format!("ORIEL_WIDTH={}", spec.width),
                format!("ORIEL_HEIGHT={}", spec.height),
            ]),
            labels: Some(self.labels(session)),
            host_config: Some(host_config),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.clone()),
                    ..Default::default()
                }),
                body,
            )
            .await
            .map_err(|source| match source {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                } => DockerError::ImageMissing(spec.image.clone()),
                source => DockerError::Docker {
                    action: "container create",
                    source,
                },
            })?;
        self.docker
            .start_container(&created.id, None)
            .await
            .map_err(docker_err("container start"))?;

        let ip = self.container_ip(session, &created.id, &name).await?;
        let vnc_addr = SocketAddr::new(ip, VNC_PORT);
        self.wait_for_vnc(session, &created.id, vnc_addr).await?;
        Ok(RunningSession {
            session_id: session.clone(),
            container_id: created.id,
            vnc_addr,
            vnc_password: password,
        })
    }

    /// Creates the session network, in a random subnet of the pool when one
    /// is configured (retrying when the engine reports an overlap).
    async fn create_network(&self, mut request: NetworkCreateRequest) -> Result<(), DockerError> {
        const ATTEMPTS: usize = 16;
        for attempt in 1..=ATTEMPTS {
            if let Some(pool) = &self.settings.subnet_pool {
                let (subnet, gateway) = pool.pick().ok_or(DockerError::NoRandom)?;
                request.ipam = Some(Ipam {
                    driver: Some("default".to_owned()),
                    config: Some(vec![IpamConfig {
                        subnet: Some(subnet),
                        gateway: Some(gateway),
                        ..Default::default()
                    }]),
                    ..Default::default()
                });
            }
            match self.docker.create_network(request.clone()).await {
                Ok(_) => return Ok(()),
                Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                    if self.settings.subnet_pool.is_some()
                        && message.contains("overlap")
                        && attempt < ATTEMPTS =>
                {
                    tracing::debug!(%message, attempt, "subnet taken, picking another");
                }
                Err(source) => {
                    return Err(DockerError::Docker {
                        action: "network create",
                        source,
                    });
                }
            }
        }
        Err(DockerError::InvalidSpec("no free subnet found in the pool"))
    }

    async fn container_ip(
        &self,
        session: &SessionId,
        container: &str,
        network: &str,
    ) -> Result<IpAddr, DockerError> {
        let info = self
            .docker
            .inspect_container(container, None)
            .await
            .map_err(docker_err("container inspect"))?;
        let state = info.state.unwrap_or_default();
        if state.running != Some(true) {
            return Err(exited(session, state));
        }
        info.network_settings
            .and_then(|n| n.networks)
            .and_then(|mut n| n.remove(network))
            .and_then(|e| e.ip_address)
            .and_then(|ip| ip.parse().ok())
            .ok_or_else(|| DockerError::NoAddress(session.clone()))
    }

    /// Polls the VNC port until it sends an RFB banner; fails early if the
    /// container stops.
    async fn wait_for_vnc(
        &self,
        session: &SessionId,
        container: &str,
        addr: SocketAddr,
    ) -> Result<(), DockerError> {
        let start = Instant::now();
        let deadline = start + self.settings.ready_timeout;
        let mut interval = Duration::from_millis(20);
        loop {
            if probe_rfb(addr).await {
                return Ok(());
            }
            let info = self
                .docker
                .inspect_container(container, None)
                .await
                .map_err(docker_err("container inspect"))?;
            let state = info.state.unwrap_or_default();
            if state.running != Some(true) {
                return Err(exited(session, state));
            }
            if Instant::now() >= deadline {
                return Err(DockerError::VncTimeout {
                    session: session.clone(),
                    waited: start.elapsed(),
                });
            }
            // Readiness polling of a server in another process: there is no
            // event to wait for, so back off up to 250 ms.
            tokio::time::sleep(interval).await;
            interval = (interval * 2).min(Duration::from_millis(250));
        }
    }
}

fn exited(session: &SessionId, state: bollard::models::ContainerState) -> DockerError {
    DockerError::ContainerExited {
        session: session.clone(),
        status: match (state.status, state.exit_code) {
            (Some(s), Some(code)) => format!("{s}, exit code {code}"),
            (Some(s), None) => s.to_string(),
            _ => "unknown".to_owned(),
        },
    }
}

/// True when `addr` accepts a connection and sends an RFB version banner.
pub async fn probe_rfb(addr: SocketAddr) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let mut banner = [0u8; 12];
        stream.read_exact(&mut banner).await.ok()?;
        Some(banner.starts_with(b"RFB "))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Some(true))
    )
}
