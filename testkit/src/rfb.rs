//! Minimal RFB (RFC 6143) probes: is a VNC server there, and what does it offer.
//!
//! Enough to know a server is ready (§7.1.1, ProtocolVersion) and which
//! security types it offers (§7.1.2); real sessions are Oriel's own business.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// RFB security type 1: no authentication.
pub const SECURITY_NONE: u8 = 1;
/// RFB security type 2: VNC authentication (DES challenge).
pub const SECURITY_VNC_AUTH: u8 = 2;

const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to 127.0.0.1:`port` and returns the server's 12-byte
/// ProtocolVersion message, e.g. `"RFB 003.008\n"`.
pub async fn read_rfb_banner(port: u16) -> Result<String> {
    let (_, banner) = connect(port).await?;
    Ok(banner)
}

/// Returns the security types the server on 127.0.0.1:`port` offers to an
/// RFB 3.8 client (and closes the connection before choosing one).
pub async fn rfb_security_types(port: u16) -> Result<Vec<u8>> {
    let (mut stream, _) = connect(port).await?;
    tokio::time::timeout(PROBE_TIMEOUT, async {
        stream.write_all(b"RFB 003.008\n").await?;
        let count = stream.read_u8().await?;
        if count == 0 {
            let len = stream.read_u32().await?;
            let mut reason = vec![0; len.min(4096) as usize];
            stream.read_exact(&mut reason).await?;
            return Err(anyhow!(
                "server refused the connection: {}",
                String::from_utf8_lossy(&reason)
            ));
        }
        let mut types = vec![0; usize::from(count)];
        stream.read_exact(&mut types).await?;
        Ok(types)
    })
    .await
    .map_err(|_| anyhow!("no security types from 127.0.0.1:{port} within {PROBE_TIMEOUT:?}"))?
}

async fn connect(port: u16) -> Result<(TcpStream, String)> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let result = tokio::time::timeout(PROBE_TIMEOUT, async {
        let mut stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        let mut banner = [0u8; 12];
        stream
            .read_exact(&mut banner)
            .await
            .with_context(|| format!("no RFB banner from {addr}"))?;
        let banner = String::from_utf8_lossy(&banner).into_owned();
        ensure!(
            banner.starts_with("RFB 003.") && banner.ends_with('\n'),
            "{addr} sent {banner:?}, not an RFB banner"
        );
        Ok((stream, banner))
    })
    .await;
    result.map_err(|_| anyhow!("no RFB banner from {addr} within {PROBE_TIMEOUT:?}"))?
}
