//! The async shell around [`Terminal`]: one task per session moving bytes
//! between the SSH session channel (RFC 4254 §6: `pty-req`, `shell`,
//! `window-change`, channel data) and the terminal, and session events to
//! the gateway.
//!
//! Frames are paced: after output arrives the damage is sent at once, then
//! at most once per `frame_interval`, so a flood of output costs one render
//! per interval and an idle terminal sends nothing. Writes to the server go
//! through a writer task so that a server which stops reading its input can
//! never stop us from reading its output.

use crate::client::{ClientHandler, SharedObserved};
use crate::terminal::{PtySize, Terminal};
use oriel_core_model::{InputEvent, SessionError, SessionErrorKind, SessionEvent, Size};
use russh::ChannelMsg;
use russh::client::Handle;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};
use tracing::{debug, warn};

/// The shell channel's halves.
pub type ShellReader = russh::ChannelReadHalf;
/// The writing half.
pub type ShellWriter = russh::ChannelWriteHalf<russh::client::Msg>;

/// Messages queued for the server, in order.
#[derive(Debug)]
enum Outgoing {
    Data(Vec<u8>),
    WindowChange(PtySize),
}

/// Queued writes for the server: past this, input is dropped (the server
/// has stopped reading for a long time).
const WRITE_QUEUE: usize = 256;

/// What the terminal shows now, for tests, diagnostics and recordings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenSnapshot {
    /// Desktop size in pixels.
    pub size: Size,
    /// Columns and rows of the character grid.
    pub grid: (u16, u16),
    /// Size of one character cell in pixels.
    pub cell: Size,
    /// Visible text, one string per row, trailing blanks removed.
    pub text: Vec<String>,
    /// A fresh full render of the desktop (RGB24, row-major).
    pub rgb: Vec<u8>,
    /// Whether the alternate screen is active.
    pub alternate_screen: bool,
    /// Session events sent so far (the snapshot matches the picture after
    /// exactly that many events).
    pub events_sent: u64,
}

/// Asks a running session for [`ScreenSnapshot`]s.
#[derive(Debug, Clone)]
pub struct ScreenProbe {
    requests: mpsc::Sender<oneshot::Sender<ScreenSnapshot>>,
}

impl ScreenProbe {
    /// The current screen, after sending any pending damage; `None` once the
    /// session has ended.
    pub async fn snapshot(&self) -> Option<ScreenSnapshot> {
        let (tx, rx) = oneshot::channel();
        self.requests.send(tx).await.ok()?;
        rx.await.ok()
    }
}

/// The running session (its task).
pub(crate) struct SshSession {
    pub(crate) handle: Arc<Handle<ClientHandler>>,
    pub(crate) reader: ShellReader,
    pub(crate) writer: Arc<ShellWriter>,
    pub(crate) terminal: Terminal,
    pub(crate) events: mpsc::Sender<Result<SessionEvent, SessionError>>,
    pub(crate) input: mpsc::Receiver<InputEvent>,
    pub(crate) observed: SharedObserved,
    pub(crate) frame_interval: Duration,
    /// What the shell printed since the last frame (starting with what it
    /// printed before the shell was granted), sent with the frame as one
    /// [`SessionEvent::TerminalOutput`] for recordings.
    pub(crate) printed: Vec<u8>,
    /// The columns and rows last announced.
    pub(crate) grid: Option<(u16, u16)>,
}

/// Why the loop stopped.
enum End {
    /// The gateway dropped its end.
    Gateway,
    /// The shell ended normally (exit status, channel close).
    Shell,
    /// Failure.
    Error(SessionError),
}

/// Requests of a [`ScreenProbe`], as the session task receives them.
pub type ProbeRequests = mpsc::Receiver<oneshot::Sender<ScreenSnapshot>>;

/// A probe and the receiving end to hand to [`SshSession::run`].
pub fn probe_channel() -> (ScreenProbe, ProbeRequests) {
    let (tx, rx) = mpsc::channel(4);
    (ScreenProbe { requests: tx }, rx)
}

impl SshSession {
    /// Runs until the gateway drops either end or the shell ends.
    pub async fn run(mut self, mut probes: Option<ProbeRequests>) {
        let (out_tx, out_rx) = mpsc::channel(WRITE_QUEUE);
        let writer_task = tokio::spawn(write_loop(self.writer.clone(), out_rx));
        let end = self.run_loop(&out_tx, &mut probes).await;
        drop(out_tx);
        match end {
            End::Error(e) => {
                debug!(error = %e, "ssh session ended");
                let _ = self.events.send(Err(e)).await;
            }
            End::Shell => debug!("ssh shell ended"),
            End::Gateway => debug!("gateway left the ssh session"),
        }
        let _ = self.writer.close().await;
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "session ended", "en")
            .await;
        writer_task.abort();
    }

    async fn run_loop(
        &mut self,
        out: &mpsc::Sender<Outgoing>,
        probes: &mut Option<ProbeRequests>,
    ) -> End {
        let mut next_frame = Instant::now();
        let mut events_sent = 0u64;
        let mut shell_done = false;
        // Answers to queries the shell sent before the loop started.
        self.queue_output(out);
        loop {
            let want_frame = self.terminal.has_pending();
            tokio::select! {
                biased;
                () = self.events.closed() => return End::Gateway,
                input = self.input.recv() => match input {
                    None => return End::Gateway,
                    Some(event) => {
                        self.terminal.input(event);
                        self.queue_output(out);
                    }
                },
                () = sleep_until(next_frame), if want_frame => {
                    if !self.send_frame(&mut events_sent).await {
                        return End::Gateway;
                    }
                    next_frame = Instant::now() + self.frame_interval;
                }
                request = recv_probe(probes) => match request {
                    Some(reply) => {
                        if !self.send_frame(&mut events_sent).await {
                            return End::Gateway;
                        }
                        let _ = reply.send(self.snapshot(events_sent));
                    }
                    None => *probes = None,
                },
                msg = self.reader.wait() => match msg {
                    Some(ChannelMsg::Data { data }) | Some(ChannelMsg::ExtendedData { data, .. }) => {
                        self.terminal.feed(&data);
                        self.printed.extend_from_slice(&data);
                        self.queue_output(out);
                    }
                    Some(ChannelMsg::ExitStatus { exit_status }) => {
                        debug!(exit_status, "ssh shell exited");
                        shell_done = true;
                    }
                    Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                        debug!(signal = ?signal_name, "ssh shell killed");
                        shell_done = true;
                    }
                    Some(ChannelMsg::Eof) => shell_done = true,
                    Some(ChannelMsg::Close) | None => {
                        // Show the last output before ending.
                        if !self.send_frame(&mut events_sent).await {
                            return End::Gateway;
                        }
                        if shell_done || msg.is_some() {
                            return End::Shell;
                        }
                        let lost = self.observed.lock().unwrap_or_else(|e| e.into_inner()).ended.clone();
                        return End::Error(lost.unwrap_or_else(|| {
                            SessionError::new(SessionErrorKind::TargetClosed, "the ssh connection was lost")
                        }));
                    }
                    Some(_) => {}
                },
            }
        }
    }

    /// Moves the terminal's output for the server into the writer's queue.
    fn queue_output(&mut self, out: &mpsc::Sender<Outgoing>) {
        if let Some(size) = self.terminal.take_pty_resize()
            && out.try_send(Outgoing::WindowChange(size)).is_err()
        {
            warn!("ssh write queue full: window change dropped");
        }
        let bytes = self.terminal.take_to_remote();
        if !bytes.is_empty() && out.try_send(Outgoing::Data(bytes)).is_err() {
            warn!("ssh write queue full: input dropped");
        }
    }

    /// Sends the current frame; `false` when the gateway is gone.
    async fn send_frame(&mut self, events_sent: &mut u64) -> bool {
        let pty = self.terminal.pty_size();
        let mut text = Vec::with_capacity(2);
        if self.grid != Some((pty.cols, pty.rows)) {
            self.grid = Some((pty.cols, pty.rows));
            text.push(SessionEvent::TerminalGrid {
                cols: pty.cols,
                rows: pty.rows,
            });
        }
        if !self.printed.is_empty() {
            text.push(SessionEvent::TerminalOutput(std::mem::take(
                &mut self.printed,
            )));
        }
        let mut sent = 0;
        for event in text.into_iter().chain(self.terminal.frame()) {
            if self.events.send(Ok(event)).await.is_err() {
                return false;
            }
            sent += 1;
        }
        // One redraw of the terminal is one whole update.
        if sent > 0 {
            if self.events.send(Ok(SessionEvent::UpdateEnd)).await.is_err() {
                return false;
            }
            sent += 1;
        }
        *events_sent += sent;
        true
    }

    fn snapshot(&mut self, events_sent: u64) -> ScreenSnapshot {
        let pty = self.terminal.pty_size();
        ScreenSnapshot {
            size: self.terminal.size(),
            grid: (pty.cols, pty.rows),
            cell: self.terminal.cell_size(),
            text: self.terminal.text(),
            rgb: self.terminal.render_full(),
            alternate_screen: self.terminal.alternate_screen(),
            events_sent,
        }
    }
}

async fn recv_probe(probes: &mut Option<ProbeRequests>) -> Option<oneshot::Sender<ScreenSnapshot>> {
    match probes {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Sends queued writes in order; ends when the queue closes or the channel fails.
async fn write_loop(writer: Arc<ShellWriter>, mut queue: mpsc::Receiver<Outgoing>) {
    while let Some(item) = queue.recv().await {
        let result = match item {
            Outgoing::Data(bytes) => writer.data_bytes(bytes).await,
            Outgoing::WindowChange(p) => {
                writer
                    .window_change(
                        u32::from(p.cols),
                        u32::from(p.rows),
                        u32::from(p.width),
                        u32::from(p.height),
                    )
                    .await
            }
        };
        if let Err(e) = result {
            debug!(error = %e, "ssh write failed");
            return;
        }
    }
}
