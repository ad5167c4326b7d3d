//! The short account `--check-config` prints of a valid configuration: what
//! the role would listen on, where its data and certificate are, and who it
//! talks to. Secrets and database passwords are never shown.

use super::{Config, Tls};
use std::fmt::Write as _;

impl Config {
    /// A few lines saying what the role would run with.
    pub fn summary(&self) -> String {
        let mut s = format!("{}: the configuration is valid\n", self.role.command());
        let line = |s: &mut String, what: &str, text: String| {
            let _ = writeln!(s, "  {what:<9} {text}");
        };
        line(
            &mut s,
            "data_dir",
            self.general.data_dir.display().to_string(),
        );
        let url = match &self.http.public_url {
            Some(u) => format!(" (public URL {u})"),
            None => String::new(),
        };
        line(
            &mut s,
            "listen",
            format!("https://{}{url}", self.http.listen),
        );
        let tls = match &self.http.tls {
            Tls::Files(f) => format!("{} and {}", f.cert.display(), f.key.display()),
            Tls::SelfSigned { .. } => format!(
                "self-signed, in {}",
                self.general.data_dir.join("tls").display()
            ),
        };
        line(&mut s, "tls", tls);
        #[cfg(feature = "control")]
        if self.role.runs_control() {
            let c = &self.control;
            let sso = match &c.oidc {
                Some(o) => format!("single sign-on with {}", o.issuer),
                None => "no single sign-on".into(),
            };
            line(
                &mut s,
                "control",
                format!(
                    "database {}, tokens live {}, {sso}",
                    super::redact(&c.database),
                    super::problems::show(c.token_ttl)
                ),
            );
        }
        #[cfg(feature = "gateway")]
        if self.role.runs_gateway() {
            let g = &self.gateway;
            let control = match &g.control {
                Some(link) => format!("keys and revocations from {}", link.url),
                None if self.role == super::Role::Up => "keys from this process".into(),
                None => "static keys".into(),
            };
            line(
                &mut s,
                "gateway",
                format!(
                    "{} {:?} in zone {:?}, {control}",
                    g.role.as_str(),
                    g.id,
                    g.zone
                ),
            );
        }
        #[cfg(feature = "agent")]
        {
            let a = &self.agent;
            use super::Role;
            match self.role {
                Role::Agent => {
                    let control = a
                        .control
                        .as_ref()
                        .map(|l| l.url.to_string())
                        .unwrap_or_default();
                    let node = a
                        .gateway_url
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    line(
                        &mut s,
                        "agent",
                        format!(
                            "{:?} in zone {:?}, control plane {control}, node {node}",
                            a.id.as_deref().unwrap_or_default(),
                            a.zone
                        ),
                    );
                }
                Role::Up if a.enabled => line(
                    &mut s,
                    "agent",
                    format!("in-process when {} answers", a.docker_socket.display()),
                ),
                Role::Up => line(&mut s, "agent", "off (agent.enabled = false)".into()),
                _ => {}
            }
        }
        s
    }
}
