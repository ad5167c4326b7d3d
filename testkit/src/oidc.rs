//! A real OpenID Connect provider for single sign-on tests:
//! [django-oidc-provider](https://pypi.org/project/django-oidc-provider/)
//! (authorization code flow, PKCE, discovery, JWKS, userinfo) in a small
//! Django project that this module writes into a scratch directory and
//! serves with `manage.py runserver` on a free loopback port, over plain
//! HTTP (relying parties accept `http://` issuers on loopback only).
//!
//! The Python side lives in a venv that `./x deps-test` makes
//! (`$ORIEL_OIDC_VENV`, else `target/oidc-venv`); the project's files are
//! in `oidc/provider/` beside this file. The provider has:
//! - users with passwords and Django groups ([`OidcProvider::user`]); the
//!   subject (`sub`) of a user is its database id, so renaming a user
//!   ([`OidcProvider::rename_user`]) keeps its subject;
//! - confidential clients ([`OidcProvider::client`]), consent never asked;
//! - the standard `profile` and `email` claims, and a `groups` scope whose
//!   claim lists the user's groups (in the ID token only with
//!   [`OidcProviderOptions::claims_in_id_token`]; always from userinfo);
//! - RSA signing keys: [`OidcProvider::rotate_key`] replaces the key (the
//!   key set then publishes only the new one);
//! - a clock that can be set off ([`OidcProvider::set_clock_offset`]): the ID
//!   token's `iat`, `exp` and `auth_time` move by that many seconds;
//! - a way to sign wrong ID tokens ([`OidcProvider::set_id_token_overrides`]):
//!   claims that replace the real ones (another `aud`, `iss` or `nonce`),
//!   validly signed, as a token meant for someone else would be.
//!
//! Its login page (`/accounts/login/`) is a plain form: `#idp-username`,
//! `#idp-password`, `#idp-submit` (and `#idp-error` after a wrong password).

use crate::process::{ChildGuard, ScratchDir, free_port, run_command, wait_until};
use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Environment variable naming the provider's venv.
pub const VENV_ENV: &str = "ORIEL_OIDC_VENV";

/// The login form of the provider's sign-in page.
pub const LOGIN_USERNAME: &str = "#idp-username";
/// The password field of the provider's sign-in page.
pub const LOGIN_PASSWORD: &str = "#idp-password";
/// The submit button of the provider's sign-in page.
pub const LOGIN_SUBMIT: &str = "#idp-submit";

const SETTINGS: &str = include_str!("oidc/provider/settings.py");
const URLS: &str = include_str!("oidc/provider/urls.py");
const CLAIMS: &str = include_str!("oidc/provider/claims.py");
const COMMAND: &str = include_str!("oidc/provider/command.py");
const LOGIN_PAGE: &str = include_str!("oidc/provider/login.html");
const MANAGE: &str = "import os, sys\n\
os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"idp_settings\")\n\
from django.core.management import execute_from_command_line\n\
execute_from_command_line(sys.argv)\n";

/// How long a management command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The venv holding django-oidc-provider.
pub fn venv_dir() -> PathBuf {
    match std::env::var_os(VENV_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/oidc-venv"),
    }
}

/// How to start an [`OidcProvider`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OidcProviderOptions {
    /// Put the profile and `groups` claims in the ID token too (otherwise
    /// the relying party must ask the userinfo endpoint).
    pub claims_in_id_token: bool,
}

/// A running django-oidc-provider. Stopped when dropped.
#[derive(Debug)]
pub struct OidcProvider {
    guard: ChildGuard,
    project: Project,
}

/// The Django project in its scratch directory, and how to run it.
#[derive(Debug)]
struct Project {
    dir: ScratchDir,
    python: PathBuf,
    port: u16,
    secret_key: String,
    options: OidcProviderOptions,
}

impl Project {
    /// `manage.py …` with the provider's environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.python);
        cmd.arg("manage.py")
            .args(args)
            .current_dir(self.dir.path())
            .env("DJANGO_SETTINGS_MODULE", "idp_settings")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1")
            .env("IDP_PORT", self.port.to_string())
            .env("IDP_SECRET_KEY", &self.secret_key)
            .env(
                "IDP_CLAIMS_IN_ID_TOKEN",
                if self.options.claims_in_id_token {
                    "1"
                } else {
                    "0"
                },
            );
        cmd
    }

    async fn manage(&self, args: &[&str]) -> Result<String> {
        let out = run_command(self.command(args).into(), COMMAND_TIMEOUT).await?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    async fn apply(&self, ops: &Value) -> Result<Value> {
        let out = self.manage(&["idp", &ops.to_string()]).await?;
        let last = out.lines().last().unwrap_or_default();
        serde_json::from_str(last).with_context(|| format!("unexpected answer {out:?}"))
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes the Django project into `dir`.
fn write_project(dir: &Path) -> Result<()> {
    write(&dir.join("manage.py"), MANAGE)?;
    write(&dir.join("idp_settings.py"), SETTINGS)?;
    write(&dir.join("idp_urls.py"), URLS)?;
    write(&dir.join("idp/__init__.py"), "")?;
    write(&dir.join("idp/claims.py"), CLAIMS)?;
    write(&dir.join("idp/management/__init__.py"), "")?;
    write(&dir.join("idp/management/commands/__init__.py"), "")?;
    write(&dir.join("idp/management/commands/idp.py"), COMMAND)?;
    write(&dir.join("templates/registration/login.html"), LOGIN_PAGE)
}

/// A GET over plain HTTP/1.0 to 127.0.0.1: status and body.
async fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes())
        .await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

impl OidcProvider {
    /// Starts a provider with one signing key, no users and no clients.
    pub async fn start() -> Result<OidcProvider> {
        Self::start_with(OidcProviderOptions::default()).await
    }

    /// Starts a provider with `options`.
    pub async fn start_with(options: OidcProviderOptions) -> Result<OidcProvider> {
        let venv = venv_dir();
        let python = venv.join("bin/python");
        if !python.exists() {
            bail!(
                "no Python venv with django-oidc-provider at {} (run `./x deps-test`, or set {VENV_ENV})",
                venv.display()
            );
        }
        let dir = ScratchDir::new("oidc-provider")?;
        write_project(dir.path())?;
        let mut project = Project {
            dir: dir.clone(),
            python,
            port: 0,
            secret_key: format!(
                "{:016x}{:016x}",
                crate::process::random_u64(),
                crate::process::random_u64().rotate_left(17)
            ),
            options,
        };
        project
            .manage(&["migrate", "--noinput"])
            .await
            .context("cannot set up the provider's database")?;
        project.apply(&json!([{"op": "new_key"}])).await?;
        let discovery = "/openid/.well-known/openid-configuration";
        let mut last_error = String::new();
        // A free port may be taken before the server binds it: try others.
        for _ in 0..5 {
            project.port = free_port()?;
            let port = project.port;
            let cmd = project.command(&["runserver", &format!("127.0.0.1:{port}"), "--noreload"]);
            let mut guard = ChildGuard::spawn(cmd, "oidc-provider", &dir)?;
            let up =
                wait_until(
                    Duration::from_secs(30),
                    "the OpenID provider to answer discovery",
                    || {
                        let running = guard.is_running();
                        async move {
                            !running || matches!(http_get(port, discovery).await, Ok((200, _)))
                        }
                    },
                )
                .await;
            if up.is_ok() && guard.is_running() {
                let provider = OidcProvider { guard, project };
                let (_, body) = http_get(port, discovery).await?;
                let doc: Value = serde_json::from_str(&body).context("discovery is not JSON")?;
                if doc["issuer"] != provider.issuer() {
                    bail!("the provider calls itself {}", doc["issuer"]);
                }
                return Ok(provider);
            }
            last_error = guard.log_tail(20);
        }
        bail!("the OpenID provider did not start:\n{last_error}")
    }

    /// Applies provider operations (see `oidc/provider/command.py`); returns
    /// `{"kids": [...], "subjects": {username: sub}}`.
    pub async fn apply(&self, ops: Value) -> Result<Value> {
        self.project.apply(&ops).await
    }

    /// The issuer URL: `http://127.0.0.1:PORT/openid`.
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}/openid", self.project.port)
    }

    /// The provider's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.project.port
    }

    /// Creates or updates a user with a password, an email and exactly
    /// these groups; returns its subject (`sub`).
    pub async fn user(&self, username: &str, password: &str, groups: &[&str]) -> Result<String> {
        let answer = self
            .apply(json!([{
                "op": "user",
                "username": username,
                "password": password,
                "email": format!("{username}@idp.test"),
                "groups": groups,
            }]))
            .await?;
        answer["subjects"][username]
            .as_str()
            .map(str::to_owned)
            .context("no subject for the user")
    }

    /// Makes the user's groups exactly `groups`.
    pub async fn set_groups(&self, username: &str, groups: &[&str]) -> Result<()> {
        self.apply(json!([{"op": "user", "username": username, "groups": groups}]))
            .await
            .map(drop)
    }

    /// Renames a user (its subject stays).
    pub async fn rename_user(&self, from: &str, to: &str) -> Result<()> {
        self.apply(json!([{"op": "rename", "from": from, "to": to}]))
            .await
            .map(drop)
    }

    /// Registers (or updates) a confidential client. The secret must not
    /// contain `:` (HTTP Basic authentication).
    pub async fn client(
        &self,
        client_id: &str,
        secret: &str,
        redirect_uris: &[&str],
    ) -> Result<()> {
        self.apply(json!([{
            "op": "client",
            "client_id": client_id,
            "client_secret": secret,
            "redirect_uris": redirect_uris,
        }]))
        .await
        .map(drop)
    }

    /// The ids (`kid`) of the keys the provider publishes.
    pub async fn key_ids(&self) -> Result<Vec<String>> {
        let (status, body) = http_get(self.project.port, "/openid/jwks").await?;
        if status != 200 {
            bail!("jwks answered {status}");
        }
        let jwks: Value = serde_json::from_str(&body)?;
        Ok(jwks["keys"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| k["kid"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Key rotation: a new RSA key signs from now on, and the old one is no
    /// longer published. Returns the new key's id.
    pub async fn rotate_key(&self) -> Result<String> {
        let answer = self.apply(json!([{"op": "new_key"}])).await?;
        match answer["kids"].as_array().map(Vec::as_slice) {
            Some([kid]) => kid
                .as_str()
                .map(str::to_owned)
                .context("kid is not a string"),
            other => bail!("expected one key after rotation, got {other:?}"),
        }
    }

    /// Sets the provider's clock `seconds` off (positive: ahead) for the
    /// times in the ID tokens it signs from now on.
    pub fn set_clock_offset(&self, seconds: i64) -> Result<()> {
        write(
            &self.project.dir.path().join("clock_offset"),
            &seconds.to_string(),
        )
    }

    /// Claims that replace the real ones in the ID tokens signed from now on
    /// (`{}`: none), e.g. `{"aud": "someone-else"}`.
    pub fn set_id_token_overrides(&self, claims: &Value) -> Result<()> {
        write(
            &self.project.dir.path().join("id_token_overrides.json"),
            &claims.to_string(),
        )
    }

    /// The server's log (requests, errors).
    pub fn log(&self) -> String {
        self.guard.log()
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        self.guard.log_tail(lines)
    }

    /// The scratch directory (project, database, log).
    pub fn scratch_dir(&self) -> &ScratchDir {
        &self.project.dir
    }
}
