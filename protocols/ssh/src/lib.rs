//! SSH adapter (adapter tier): an SSH shell rendered into pixels on the
//! gateway, plus SFTP file transfer.
//!
//! [`SshConnector`] connects with russh (RFC 4253 transport, RFC 4252
//! authentication by password, public key or keyboard-interactive), checks
//! the host key against the workspace's [`TargetTrust`] (a pinned OpenSSH
//! fingerprint, or trust on first use with the fingerprint reported in
//! [`SessionInfo::identity`]), asks for a pty and a shell (RFC 4254 §6.2,
//! §6.5) and runs one task per session. The task feeds the shell's output
//! to a terminal emulator ([`terminal::Terminal`], vt100 with scrollback)
//! whose screen is rendered with an embedded DejaVu Sans Mono into the same
//! [`SessionEvent`](oriel_core_model::SessionEvent)s a VNC desktop produces: changed cell runs as pixels,
//! scrolling as copy-rects. The viewer's keys, pointer, wheel, paste and
//! resizes go the other way as xterm input sequences and pty window changes.
//! With each frame go the bytes the shell printed since the one before and
//! the terminal's columns and rows when they changed
//! (`SessionEvent::TerminalOutput`, `TerminalGrid`): a recording keeps them
//! as the session's text.
//! The browser needs nothing SSH-specific.
//!
//! Files move over SFTP on a second channel of the same connection
//! ([`sftp::SftpFiles`], offered as the session's [`FileTransfer`]).
//!
//! Channel contract (as every adapter): the task ends when the gateway drops
//! either end; a failure is a final `Err` on the events channel; the events
//! channel closing without an error means the shell ended.

pub mod client;
pub mod render;
mod session;
pub mod sftp;
pub mod terminal;

pub use render::Theme;
pub use session::{ScreenProbe, ScreenSnapshot};
pub use terminal::{Terminal, TerminalSettings};

use client::{ClientHandler, Observed};
use oriel_core_model::{SessionError, SessionErrorKind, SessionInfo, Size};
use oriel_protocols_session::{
    BoxFuture, ConnectRequest, Connector, EVENT_CHANNEL, FileTransfer, INPUT_CHANNEL,
    RemoteSession, TargetTrust,
};
use russh::{ChannelMsg, Pty};
use session::SshSession;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tracing::debug;

/// Desktop size when the viewer asks for none.
pub const DEFAULT_SIZE: Size = Size::new(1024, 768);

/// Settings of the SSH adapter.
#[derive(Debug, Clone)]
pub struct SshSettings {
    /// Font, colours, scrollback.
    pub terminal: TerminalSettings,
    /// `TERM` announced in the pty request.
    pub term: String,
    /// Shortest time between two frames (the damage of everything the
    /// server printed meanwhile is sent at once).
    pub frame_interval: Duration,
    /// Keepalive interval; the connection is considered lost after three
    /// unanswered keepalives.
    pub keepalive: Duration,
}

impl Default for SshSettings {
    fn default() -> Self {
        SshSettings {
            terminal: TerminalSettings::default(),
            term: "xterm-256color".to_owned(),
            frame_interval: Duration::from_millis(16),
            keepalive: Duration::from_secs(30),
        }
    }
}

/// The SSH protocol adapter, serving workspaces of kind `ssh`.
#[derive(Debug, Clone, Default)]
pub struct SshConnector {
    settings: SshSettings,
}

impl SshConnector {
    /// An adapter with these settings.
    pub fn new(settings: SshSettings) -> Self {
        SshConnector { settings }
    }

    /// Like [`Connector::connect`], also returning a [`ScreenProbe`] that
    /// reads the terminal's state (tests, diagnostics, recordings).
    pub async fn connect_with_probe(
        &self,
        request: ConnectRequest,
    ) -> Result<(RemoteSession, ScreenProbe), SessionError> {
        let deadline = request.timeout;
        match timeout(deadline, connect(request, self.settings.clone())).await {
            Ok(result) => result,
            Err(_) => Err(SessionError::new(
                SessionErrorKind::TargetTimeout,
                format!("no ssh shell within {deadline:?}"),
            )),
        }
    }
}

impl Connector for SshConnector {
    fn kind(&self) -> &'static str {
        "ssh"
    }

    fn connect(
        &self,
        request: ConnectRequest,
    ) -> BoxFuture<'static, Result<RemoteSession, SessionError>> {
        let this = self.clone();
        Box::pin(async move { Ok(this.connect_with_probe(request).await?.0) })
    }
}

fn protocol(detail: impl Into<String>) -> SessionError {
    SessionError::new(SessionErrorKind::TargetProtocol, detail)
}

async fn connect(
    request: ConnectRequest,
    settings: SshSettings,
) -> Result<(RemoteSession, ScreenProbe), SessionError> {
    let size = request
        .desired_size
        .filter(|s| oriel_core_model::validate_size(*s).is_ok())
        .unwrap_or(DEFAULT_SIZE);
    let mut terminal = Terminal::new(size, &settings.terminal)
        .map_err(|e| SessionError::new(SessionErrorKind::Internal, e.to_string()))?;
    let target = format!("{}:{}", request.host, request.port);
    let tcp = TcpStream::connect((request.host.as_str(), request.port))
        .await
        .map_err(|e| {
            SessionError::new(
                SessionErrorKind::TargetUnreachable,
                format!("connect to {target}: {e}"),
            )
        })?;
    let _ = tcp.set_nodelay(true);
    let config = Arc::new(russh::client::Config {
        keepalive_interval: Some(settings.keepalive),
        keepalive_max: 3,
        nodelay: true,
        ..Default::default()
    });
    let observed = Arc::new(Mutex::new(Observed::default()));
    let handler = ClientHandler::new(request.trust.clone(), observed.clone());
    let mut handle = russh::client::connect_stream(config, tcp, handler)
        .await
        .map_err(|e| client::handshake_error(&e, &observed, &target))?;
    let identity = observed
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .host_key
        .clone();
    if identity.is_none() {
        return Err(SessionError::new(
            SessionErrorKind::TargetIdentity,
            format!("{target} completed the handshake without a verified host key"),
        ));
    }
    let user = client::authenticate(&mut handle, request.credentials.as_ref()).await?;

    let channel = handle
        .channel_open_session()
        .await
        .map_err(|e| client::classify(&e))?;
    let pty = terminal.pty_size();
    channel
        .request_pty(
            true,
            &settings.term,
            u32::from(pty.cols),
            u32::from(pty.rows),
            u32::from(pty.width),
            u32::from(pty.height),
            &[(Pty::VERASE, 127), (Pty::IUTF8, 1)],
        )
        .await
        .map_err(|e| client::classify(&e))?;
    let (mut reader, writer) = channel.split();
    let mut printed = Vec::new();
    expect_success(&mut reader, &mut terminal, &mut printed, "a pty").await?;
    writer
        .request_shell(true)
        .await
        .map_err(|e| client::classify(&e))?;
    expect_success(&mut reader, &mut terminal, &mut printed, "a shell").await?;
    debug!(%target, user = %user, "ssh shell started");

    let handle = Arc::new(handle);
    let files: Arc<dyn FileTransfer> = Arc::new(sftp::SftpFiles::new(handle.clone()));
    let (events_tx, events_rx) = mpsc::channel(EVENT_CHANNEL);
    let (input_tx, input_rx) = mpsc::channel(INPUT_CHANNEL);
    let (probe, probe_rx) = session::probe_channel();
    let session = SshSession {
        handle,
        reader,
        writer: Arc::new(writer),
        terminal,
        events: events_tx,
        input: input_rx,
        observed,
        frame_interval: settings.frame_interval,
        printed,
        grid: None,
    };
    tokio::spawn(session.run(Some(probe_rx)));
    let name = format!("{user}@{}", request.host);
    if matches!(request.trust, TargetTrust::FirstUse) {
        debug!(%target, identity = ?identity, "ssh host key accepted on first use");
    }
    Ok((
        RemoteSession {
            info: SessionInfo {
                name,
                size,
                identity,
            },
            events: events_rx,
            input: input_tx,
            files: Some(files),
        },
        probe,
    ))
}

/// Waits for the answer to a channel request, feeding early output to the
/// terminal.
async fn expect_success(
    reader: &mut session::ShellReader,
    terminal: &mut Terminal,
    printed: &mut Vec<u8>,
    what: &str,
) -> Result<(), SessionError> {
    loop {
        match reader.wait().await {
            Some(ChannelMsg::Success) => return Ok(()),
            Some(ChannelMsg::Failure) => {
                return Err(protocol(format!("the ssh server refused {what}")));
            }
            Some(ChannelMsg::Data { data }) | Some(ChannelMsg::ExtendedData { data, .. }) => {
                terminal.feed(&data);
                printed.extend_from_slice(&data);
            }
            Some(ChannelMsg::Close) | Some(ChannelMsg::Eof) | None => {
                return Err(SessionError::new(
                    SessionErrorKind::TargetClosed,
                    format!("the ssh server closed the session instead of starting {what}"),
                ));
            }
            Some(_) => {}
        }
    }
}
