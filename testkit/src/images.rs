//! Workspace images built here from Debian packages (`deploy/images/`), and
//! an RFB client that checks what such an image serves.
//!
//! - [`desktop_image`] runs `deploy/images/desktop/build.sh` once per test
//!   process and returns the image reference, `oriel/desktop:<recipe hash>`.
//!   The script builds nothing when an image with that tag exists and takes a
//!   lock while it builds, so test processes running at once share one build.
//!   [`DESKTOP_IMAGE_ENV`] names an existing image instead.
//! - [`vnc_auth_handshake`] connects to any address (a container's IP on a
//!   Docker network, say), authenticates with VncAuth (RFC 6143 §7.2.2) and
//!   reads ServerInit (§7.3.2): the offered security types, whether the
//!   password was accepted and the framebuffer size.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio::sync::OnceCell;

use crate::rfb::SECURITY_VNC_AUTH;

/// Environment variable: an image reference to use instead of building one.
pub const DESKTOP_IMAGE_ENV: &str = "ORIEL_DESKTOP_IMAGE";

/// How long a first build may take (it downloads and unpacks ~300 packages;
/// about two minutes here).
const BUILD_TIMEOUT: Duration = Duration::from_secs(20 * 60);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

static DESKTOP_IMAGE: OnceCell<String> = OnceCell::const_new();

/// The path of the desktop image's build script in this checkout.
pub fn desktop_build_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/images/desktop/build.sh")
}

/// Builds the desktop workspace image if its recipe changed (else finds it)
/// and returns its reference, e.g. `oriel/desktop:2d2ff2284aac0267`.
///
/// The first call of a process runs the build script (minutes on a cold
/// cache, about a second when the image exists); later calls return the
/// remembered reference. Errors say what is missing: Docker, debootstrap or
/// root.
pub async fn desktop_image() -> Result<String> {
    DESKTOP_IMAGE
        .get_or_try_init(|| async {
            if let Ok(image) = std::env::var(DESKTOP_IMAGE_ENV) {
                docker_image_exists(&image).await?;
                return Ok(image);
            }
            build_desktop_image().await
        })
        .await
        .cloned()
}

async fn docker_image_exists(image: &str) -> Result<()> {
    let output = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .output()
        .await
        .context("cannot run docker: is Docker installed?")?;
    ensure!(
        output.status.success(),
        "{DESKTOP_IMAGE_ENV}={image}, but docker has no such image: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}

async fn build_desktop_image() -> Result<String> {
    let docker = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .await
        .context("cannot run docker: the desktop image needs Docker (docker CLI and engine)")?;
    ensure!(
        docker.status.success(),
        "the Docker engine does not answer: {}",
        String::from_utf8_lossy(&docker.stderr).trim()
    );

    let script = desktop_build_script();
    let mut child = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run {}", script.display()))?;
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let stderr = child.stderr.take().context("no stderr pipe")?;

    let run = async {
        // Progress goes to the test's stderr as it comes; the tail is kept
        // for the error message.
        let progress = async {
            let mut lines = BufReader::new(stderr).lines();
            let mut tail = VecDeque::new();
            while let Some(line) = lines.next_line().await? {
                eprintln!("desktop image: {line}");
                if tail.len() == 30 {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
            anyhow::Ok(Vec::from(tail).join("\n"))
        };
        let output = async {
            let mut out = String::new();
            BufReader::new(stdout).read_to_string(&mut out).await?;
            anyhow::Ok(out)
        };
        let (tail, out) = tokio::try_join!(progress, output)?;
        let status = child.wait().await?;
        anyhow::Ok((status, tail, out))
    };
    let (status, tail, out) = tokio::time::timeout(BUILD_TIMEOUT, run)
        .await
        .map_err(|_| {
            anyhow!(
                "{} did not finish within {BUILD_TIMEOUT:?}",
                script.display()
            )
        })??;
    if !status.success() {
        bail!("{} failed ({status}):\n{tail}", script.display());
    }
    let image = out
        .lines()
        .last()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .with_context(|| format!("{} printed no image reference", script.display()))?;
    Ok(image.to_owned())
}

/// What a VNC server answered to [`vnc_auth_handshake`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VncHandshake {
    /// The server's ProtocolVersion, e.g. `"RFB 003.008"`.
    pub version: String,
    /// The security types offered to an RFB 3.8 client.
    pub security_types: Vec<u8>,
    /// Whether VncAuth accepted the password, and what followed.
    pub outcome: VncAuthOutcome,
}

/// The result of VncAuth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VncAuthOutcome {
    /// SecurityResult OK, then ServerInit with the framebuffer size and name.
    Accepted {
        width: u16,
        height: u16,
        name: String,
    },
    /// SecurityResult failed, with the server's reason.
    Rejected { reason: String },
}

/// Runs an RFB 3.8 handshake with VncAuth against `addr` using `password`,
/// up to ServerInit (as a shared client), then closes the connection.
///
/// Fails if the server does not speak RFB 3.8, refuses the connection or does
/// not offer VncAuth. The DES step uses the `openssl` command (its legacy
/// provider), which Debian installs by default.
pub async fn vnc_auth_handshake(addr: SocketAddr, password: &str) -> Result<VncHandshake> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(addr, password))
        .await
        .map_err(|_| {
            anyhow!("no complete VNC handshake with {addr} within {HANDSHAKE_TIMEOUT:?}")
        })?
}

async fn handshake(addr: SocketAddr, password: &str) -> Result<VncHandshake> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    let mut banner = [0u8; 12];
    stream
        .read_exact(&mut banner)
        .await
        .context("no RFB banner")?;
    let version = String::from_utf8_lossy(&banner).trim_end().to_owned();
    ensure!(
        version.starts_with("RFB 003.008"),
        "{addr} speaks {version:?}, not RFB 3.8"
    );
    stream.write_all(b"RFB 003.008\n").await?;

    let count = stream.read_u8().await?;
    if count == 0 {
        bail!(
            "{addr} refused the connection: {}",
            read_reason(&mut stream).await?
        );
    }
    let mut security_types = vec![0; usize::from(count)];
    stream.read_exact(&mut security_types).await?;
    ensure!(
        security_types.contains(&SECURITY_VNC_AUTH),
        "{addr} does not offer VncAuth (offers {security_types:?})"
    );
    stream.write_u8(SECURITY_VNC_AUTH).await?;
    let mut challenge = [0u8; 16];
    stream
        .read_exact(&mut challenge)
        .await
        .context("no VncAuth challenge")?;
    let response = vnc_auth_response(password, &challenge).await?;
    stream.write_all(&response).await?;

    let outcome = match stream.read_u32().await.context("no SecurityResult")? {
        0 => {
            stream.write_u8(1).await?; // ClientInit: shared
            let width = stream.read_u16().await?;
            let height = stream.read_u16().await?;
            let mut pixel_format = [0u8; 16];
            stream.read_exact(&mut pixel_format).await?;
            let name = read_reason(&mut stream).await?;
            VncAuthOutcome::Accepted {
                width,
                height,
                name,
            }
        }
        _ => VncAuthOutcome::Rejected {
            reason: read_reason(&mut stream).await.unwrap_or_default(),
        },
    };
    Ok(VncHandshake {
        version,
        security_types,
        outcome,
    })
}

/// A u32-length-prefixed string (reasons, desktop names).
async fn read_reason(stream: &mut TcpStream) -> Result<String> {
    let len = stream.read_u32().await?;
    let mut text = vec![0; len.min(4096) as usize];
    stream.read_exact(&mut text).await?;
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// VncAuth's response: the challenge encrypted with DES-ECB under the first
/// eight bytes of the password (zero-padded), each key byte bit-reversed.
async fn vnc_auth_response(password: &str, challenge: &[u8; 16]) -> Result<Vec<u8>> {
    let mut key = [0u8; 8];
    for (k, b) in key.iter_mut().zip(password.bytes()) {
        *k = b.reverse_bits();
    }
    let key_hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut child = Command::new("openssl")
        .args([
            "enc",
            "-des-ecb",
            "-nopad",
            "-provider",
            "legacy",
            "-provider",
            "default",
            "-K",
        ])
        .arg(&key_hex)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot run openssl (Debian: apt-get install openssl)")?;
    let mut stdin = child.stdin.take().context("no stdin pipe")?;
    stdin.write_all(challenge).await?;
    drop(stdin);
    let output = child.wait_with_output().await?;
    ensure!(
        output.status.success() && output.stdout.len() == 16,
        "openssl des-ecb failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(output.stdout)
}
