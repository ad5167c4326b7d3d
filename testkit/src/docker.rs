//! What an Oriel agent left on the Docker engine, seen with the `docker`
//! command (as an operator would check): containers and networks by label
//! or name, and a guard that removes everything of one agent id.

use anyhow::{Result, ensure};

async fn docker_lines(args: &[&str]) -> Result<Vec<String>> {
    let out = tokio::process::Command::new("docker")
        .args(args)
        .output()
        .await?;
    ensure!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// Names of containers (running or not) matching a `docker ps` filter,
/// e.g. `label=oriel.session=<id>`.
pub async fn containers(filter: &str) -> Result<Vec<String>> {
    docker_lines(&["ps", "-a", "--format", "{{.Names}}", "--filter", filter]).await
}

/// Names of networks matching a `docker network ls` filter.
pub async fn networks(filter: &str) -> Result<Vec<String>> {
    docker_lines(&["network", "ls", "--format", "{{.Name}}", "--filter", filter]).await
}

/// Removes every container and network labelled with an agent id when
/// dropped (also when a test panics), so tests leave nothing behind.
#[derive(Debug)]
pub struct AgentLeftovers(pub String);

impl Drop for AgentLeftovers {
    fn drop(&mut self) {
        remove_agent_leftovers(&self.0);
    }
}

/// Removes every container (with its volumes) and network labelled
/// `oriel.agent=<agent>`, and the agent's host firewall rules.
pub fn remove_agent_leftovers(agent: &str) {
    let filter = format!("label=oriel.agent={agent}");
    let run = |args: &[&str]| {
        std::process::Command::new("docker")
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    for id in run(&["ps", "-aq", "--filter", &filter]).lines() {
        run(&["rm", "-f", "-v", id]);
    }
    for id in run(&["network", "ls", "-q", "--filter", &filter]).lines() {
        run(&["network", "rm", id]);
    }
    // The agent's host firewall rules (commented `oriel:<agent>:<session>`),
    // left when its process was stopped before it could remove them.
    let tag = format!("--comment \"oriel:{agent}:");
    for chain in ["INPUT", "DOCKER-USER", "FORWARD"] {
        let rules = std::process::Command::new("iptables")
            .args(["-w", "-S", chain])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for rule in rules.lines().filter(|r| r.contains(&tag)) {
            if let Some(spec) = rule.strip_prefix("-A ") {
                let _ = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(format!("iptables -w -D {spec}"))
                    .output();
            }
        }
    }
}
