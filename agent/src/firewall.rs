//! Host firewall rules that isolate session containers (iptables).
//!
//! Docker keeps containers on different bridge networks apart and an
//! `--internal` network has no route out, but a container can still open
//! connections to the host itself: the bridge's gateway address (and every
//! other host address) is delivered locally, through the `INPUT` chain, where
//! Docker adds no rule. So for each session bridge the agent adds
//!
//! - `INPUT -i <bridge> ! ESTABLISHED,RELATED -j REJECT`: the container cannot
//!   open a connection to any service on the host, while the host (the
//!   gateway connecting to VNC) can still reach the container;
//! - `DOCKER-USER -i <bridge> -d <range> ! ESTABLISHED,RELATED -j REJECT` for
//!   each blocked destination (private ranges by default): with internet
//!   egress the container still cannot reach the LAN, the control plane or
//!   the database on other hosts;
//! - the same forward rules again at the top of `FORWARD` itself. Docker
//!   deletes and re-inserts its `FORWARD -j DOCKER-USER` jump every time it
//!   creates a network (any network, of anyone on the host); for that instant
//!   `DOCKER-USER` is not consulted and, with internet egress, a new
//!   connection to a private range would otherwise pass. The copies are
//!   inserted right after the session's network is created, so they sit
//!   above Docker's accept rules for that bridge; Docker later inserts only
//!   its two jumps and other bridges' rules above them. Normally the copies in
//!   `DOCKER-USER` match first: they run before Docker's isolation chain, so
//!   a connection to another session is refused at once rather than dropped.
//!
//! REJECT rather than DROP so that a forbidden connection fails at once
//! inside the container instead of hanging until its timeout.
//!
//! Every rule carries the comment `oriel:<agent>:<session>`, so ending a
//! session and reconciliation find them again after a crash; rules of other
//! agents and anything without such a comment are never touched.

use std::collections::HashSet;

use crate::names::SessionId;

const CHAIN_HOST: &str = "INPUT";
const CHAIN_FORWARD: &str = "DOCKER-USER";
/// Backstop for the instants when Docker re-creates its `DOCKER-USER` jump.
const CHAIN_FORWARD_BACKSTOP: &str = "FORWARD";
/// Every chain that holds rules of ours.
const CHAINS: [&str; 3] = [CHAIN_HOST, CHAIN_FORWARD, CHAIN_FORWARD_BACKSTOP];

/// A failed firewall command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FirewallError {
    /// iptables could not be run at all.
    #[error("cannot run {program}: is it installed and is the agent root (or CAP_NET_ADMIN)?")]
    Spawn {
        /// The program.
        program: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// iptables ran and failed.
    #[error("iptables {args} failed: {stderr}")]
    Command {
        /// The arguments given.
        args: String,
        /// What it printed.
        stderr: String,
    },
}

/// The agent's iptables rules.
#[derive(Debug, Clone)]
pub struct Firewall {
    agent_id: String,
    program: &'static str,
}

impl Firewall {
    /// Rules for this agent, through `iptables` on the `PATH`.
    pub fn new(agent_id: &str) -> Firewall {
        Firewall {
            agent_id: agent_id.to_owned(),
            program: "iptables",
        }
    }

    fn comment(&self, session: &SessionId) -> String {
        format!("oriel:{}:{}", self.agent_id, session)
    }

    async fn run(&self, args: &[&str]) -> Result<String, FirewallError> {
        let out = tokio::process::Command::new(self.program)
            .arg("-w")
            .args(args)
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|source| FirewallError::Spawn {
                program: self.program,
                source,
            })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(FirewallError::Command {
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }

    /// Checks iptables runs and Docker's `DOCKER-USER` chain exists.
    pub async fn check(&self) -> Result<(), FirewallError> {
        self.run(&["-S", CHAIN_HOST]).await?;
        self.run(&["-S", CHAIN_FORWARD]).await?;
        Ok(())
    }

    /// Isolates a session's bridge: nothing to the host, nothing to `blocked`.
    pub async fn isolate(
        &self,
        session: &SessionId,
        bridge: &str,
        blocked: &[String],
    ) -> Result<(), FirewallError> {
        let comment = self.comment(session);
        let mut targets = vec![(CHAIN_HOST, None)];
        // The backstop first: from the moment the copies in DOCKER-USER
        // exist, the ones in FORWARD do too.
        for chain in [CHAIN_FORWARD_BACKSTOP, CHAIN_FORWARD] {
            targets.extend(blocked.iter().map(|d| (chain, Some(d.as_str()))));
        }
        for (chain, dest) in targets {
            // `-I` puts each rule first: the TCP reset ends up above the
            // generic reject (ICMP errors are rate-limited by the kernel, a
            // burst of refused TCP connections would otherwise time out).
            for tcp in [false, true] {
                let mut args = vec!["-I", chain, "-i", bridge];
                if let Some(dest) = dest {
                    args.extend(["-d", dest]);
                }
                if tcp {
                    args.extend(["-p", "tcp"]);
                }
                args.extend([
                    "-m",
                    "conntrack",
                    "!",
                    "--ctstate",
                    "ESTABLISHED,RELATED",
                    "-m",
                    "comment",
                    "--comment",
                    &comment,
                    "-j",
                    "REJECT",
                ]);
                if tcp {
                    args.extend(["--reject-with", "tcp-reset"]);
                }
                self.run(&args).await?;
            }
        }
        tracing::debug!(session_id = %session, bridge, "firewall rules installed");
        Ok(())
    }

    /// Removes the rules of one session.
    pub async fn remove_session(&self, session: &SessionId) -> Result<usize, FirewallError> {
        let wanted = self.comment(session);
        self.remove_where(|c| c == wanted).await
    }

    /// Removes the rules of this agent's sessions that are not in `keep`.
    pub async fn retain_sessions(&self, keep: &HashSet<SessionId>) -> Result<usize, FirewallError> {
        let prefix = format!("oriel:{}:", self.agent_id);
        self.remove_where(|c| {
            c.strip_prefix(&prefix)
                .is_some_and(|s| SessionId::new(s).map_or(true, |s| !keep.contains(&s)))
        })
        .await
    }

    /// Lists this agent's rules as `(session, chain)` pairs.
    pub async fn rules(&self) -> Result<Vec<(String, String)>, FirewallError> {
        let prefix = format!("oriel:{}:", self.agent_id);
        let mut out = Vec::new();
        for chain in CHAINS {
            for rule in self.run(&["-S", chain]).await?.lines() {
                if let Some(c) = comment_of(rule)
                    && let Some(s) = c.strip_prefix(&prefix)
                {
                    out.push((s.to_owned(), chain.to_owned()));
                }
            }
        }
        Ok(out)
    }

    async fn remove_where(&self, matches: impl Fn(&str) -> bool) -> Result<usize, FirewallError> {
        let mut removed = 0;
        for chain in CHAINS {
            for rule in self.run(&["-S", chain]).await?.lines() {
                let Some(comment) = comment_of(rule) else {
                    continue;
                };
                if !matches(&comment) {
                    continue;
                }
                let mut args: Vec<String> = rule
                    .split_whitespace()
                    .map(|t| t.trim_matches('"').to_owned())
                    .collect();
                if args.first().map(String::as_str) != Some("-A") {
                    continue;
                }
                args[0] = "-D".to_owned();
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                match self.run(&args).await {
                    Ok(_) => removed += 1,
                    // Removed concurrently (another end or reconcile pass).
                    Err(error) => tracing::debug!(%error, "firewall rule removal"),
                }
            }
        }
        Ok(removed)
    }
}

/// The `--comment` value of one `iptables -S` line.
fn comment_of(rule: &str) -> Option<String> {
    let mut tokens = rule.split_whitespace();
    while let Some(t) = tokens.next() {
        if t == "--comment" {
            return tokens.next().map(|c| c.trim_matches('"').to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::comment_of;

    #[test]
    fn comments_are_read_from_iptables_s_lines() {
        let line = "-A INPUT -i orl0a1b2c3d4e5f -m conntrack ! --ctstate RELATED,ESTABLISHED -m comment --comment \"oriel:a1:s-1\" -j DROP";
        assert_eq!(comment_of(line).as_deref(), Some("oriel:a1:s-1"));
        assert_eq!(comment_of("-A INPUT -j ACCEPT"), None);
    }
}
