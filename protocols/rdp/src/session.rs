//! The async shell: connects ([MS-RDPBCGR] 1.3.1.1: X.224 negotiation, TLS
//! upgrade and certificate check, CredSSP, then the rest of the sequence),
//! and runs one task per session that moves frames between the socket and
//! the sans-IO [`RdpCore`], and events and input between the core and the
//! gateway's channels. The task ends when the gateway drops either channel
//! end; a failure is sent as a final `Err` on the events channel.
//!
//! [MS-RDPBCGR]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/

use std::net::SocketAddr;

use ironrdp_async::{FramedWrite as _, NetworkClient};
use ironrdp_cliprdr::CliprdrClient;
use ironrdp_connector::connection_activation::{
    ConnectionActivationFactory, ConnectionActivationState,
};
use ironrdp_connector::credssp::CredsspSequence;
use ironrdp_connector::sspi::generator::NetworkRequest;
use ironrdp_connector::{
    BitmapConfig, ClientConnector, ClientConnectorState, Config, ConnectorError,
    ConnectorErrorExt as _, ConnectorResult, Credentials, DesktopSize, Sequence as _, ServerName,
};
use ironrdp_core::WriteBuf;
use ironrdp_displaycontrol::client::DisplayControlClient;
use ironrdp_dvc::DrdynvcClient;
use ironrdp_egfx::client::GraphicsPipelineClient;
use ironrdp_pdu::rdp::capability_sets::{
    BitmapCodecs, InputFlags, MajorPlatformType, RailSupportLevel, client_codecs_capabilities,
};
use ironrdp_pdu::rdp::client_info::{PerformanceFlags, TimezoneInfo};
use ironrdp_pdu::{Action, gcc};
use ironrdp_session::ActiveStageBuilder;
use ironrdp_tokio::TokioFramed;
use oriel_core_model::{InputEvent, SessionError, SessionErrorKind, SessionEvent, SessionInfo};
use oriel_protocols_session::{ConnectRequest, EVENT_CHANNEL, INPUT_CHANNEL, RemoteSession};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::client::TlsStream;
use tracing::{debug, info};

use crate::RdpSettings;
use crate::channels::{ClipboardBridge, ClipboardQueue, GraphicsHandler};
use crate::core::{Activation, Output, RdpCore};
use crate::error::{Phase, connector_error, io_error};
use crate::{identity, tpkt};

type Framed = TokioFramed<TlsStream<TcpStream>>;

/// Kerberos would need the KDC; NTLM needs no network, so none is offered.
struct NoNetwork;

impl NetworkClient for NoNetwork {
    async fn send(&mut self, _request: &NetworkRequest) -> ConnectorResult<Vec<u8>> {
        Err(ConnectorError::general(
            "kerberos is not supported (no kdc access): use ntlm",
        ))
    }
}

/// The connector configuration for a request.
pub fn config(request: &ConnectRequest, settings: &RdpSettings) -> Config {
    let size = request
        .desired_size
        .filter(|s| oriel_core_model::validate_size(*s).is_ok())
        .unwrap_or(settings.default_size);
    let (username, password, domain) = match &request.credentials {
        Some(c) => (
            c.username.clone().unwrap_or_default(),
            c.password.clone().unwrap_or_default(),
            c.domain.clone().filter(|d| !d.is_empty()),
        ),
        None => (String::new(), String::new(), None),
    };
    let codecs = if settings.remotefx {
        client_codecs_capabilities(&["remotefx:on"]).unwrap_or(BitmapCodecs(Vec::new()))
    } else {
        BitmapCodecs(Vec::new())
    };
    Config {
        desktop_size: DesktopSize {
            width: size.width,
            height: size.height,
        },
        monitor_layout: None,
        desktop_scale_factor: 0,
        desktop_physical_size: None,
        desktop_orientation: None,
        device_scale_factor: None,
        monitor_extended_layout: None,
        relative_mouse_input: false,
        enable_tls: true,
        // CredSSP needs a password: without one, only servers with their own
        // login screen (TLS) can be reached.
        enable_credssp: !password.is_empty(),
        enable_standard_rdp_security: false,
        credentials: Credentials::UsernamePassword { username, password },
        domain,
        // xrdp refuses to resize clients with a build number up to 419.
        client_build: 2600,
        client_name: settings.client_name.clone(),
        keyboard_type: gcc::KeyboardType::IBM_ENHANCED,
        keyboard_subtype: 0,
        keyboard_functional_keys_count: 12,
        keyboard_layout: settings.keyboard_layout,
        connection_type: gcc::ConnectionType::Lan,
        ime_file_name: String::new(),
        bitmap: Some(BitmapConfig {
            lossy_compression: settings.remotefx,
            color_depth: 32,
            codecs,
        }),
        dig_product_id: String::new(),
        client_dir: "C:\\Windows\\System32\\mstscax.dll".to_owned(),
        alternate_shell: String::new(),
        work_dir: String::new(),
        remote_application_mode: false,
        rail_support_level: RailSupportLevel::empty(),
        platform: MajorPlatformType::UNIX,
        hardware_id: None,
        request_data: None,
        // TLS-only servers (xrdp) log in with the Client Info credentials.
        autologon: true,
        enable_audio_playback: false,
        enable_audio_capture: false,
        performance_flags: PerformanceFlags::default(),
        license_cache: None,
        timezone_info: TimezoneInfo::default(),
        compression_type: None,
        // Pointer shapes come as bitmaps with straight alpha; the image never
        // has the pointer drawn in.
        enable_server_pointer: true,
        pointer_software_rendering: false,
        multitransport_flags: None,
        support_dyn_vc_gfx_protocol: settings.graphics_pipeline,
    }
}

fn unreachable(request: &ConnectRequest, e: &std::io::Error) -> SessionError {
    SessionError::new(
        SessionErrorKind::TargetUnreachable,
        format!("connect to {}:{}: {e}", request.host, request.port),
    )
}

/// The X.224 negotiation ([MS-RDPBCGR] 1.3.1.1, before TLS), read with our
/// own TPKT check so that a peer speaking another protocol fails at once.
///
/// [MS-RDPBCGR]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/
async fn negotiate(
    tcp: &mut TcpStream,
    connector: &mut ClientConnector,
) -> Result<(), SessionError> {
    let mut out = WriteBuf::new();
    while !connector.should_perform_security_upgrade() {
        out.clear();
        let written = if connector.next_pdu_hint().is_some() {
            let packet = read_negotiation_packet(tcp).await?;
            connector.step(&packet, None, &mut out)
        } else {
            connector.step_no_input(&mut out)
        }
        .map_err(|e| connector_error(&e, Phase::Negotiation))?;
        if let Some(len) = written.size() {
            tcp.write_all(&out.filled()[..len])
                .await
                .map_err(|e| io_error(&e))?;
        }
    }
    Ok(())
}

/// Reads exactly one negotiation packet (nothing after it: the server waits
/// for the TLS handshake next).
async fn read_negotiation_packet(tcp: &mut TcpStream) -> Result<Vec<u8>, SessionError> {
    let mut buf = Vec::with_capacity(64);
    loop {
        match tpkt::split_packet(&buf) {
            Ok(Some((packet, _))) => return Ok(packet.to_vec()),
            Ok(None) => {}
            Err(e) => {
                return Err(SessionError::new(
                    SessionErrorKind::TargetProtocol,
                    e.to_string(),
                ));
            }
        }
        let need = match buf.first_chunk::<{ tpkt::HEADER_LEN }>() {
            Some(h) => tpkt::packet_len(*h).unwrap_or(0).saturating_sub(buf.len()),
            None => tpkt::HEADER_LEN - buf.len(),
        };
        let mut chunk = vec![0; need.max(1)];
        let n = tcp.read(&mut chunk).await.map_err(|e| io_error(&e))?;
        if n == 0 {
            return Err(SessionError::new(
                SessionErrorKind::TargetClosed,
                "the target closed the connection during rdp negotiation",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Connects and authenticates, then starts the session task.
pub async fn connect(
    request: ConnectRequest,
    settings: RdpSettings,
) -> Result<RemoteSession, SessionError> {
    let tcp = TcpStream::connect((request.host.as_str(), request.port))
        .await
        .map_err(|e| unreachable(&request, &e))?;
    let _ = tcp.set_nodelay(true);
    let client_addr = tcp
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));

    let clipboard = ClipboardQueue::default();
    let mut drdynvc =
        DrdynvcClient::new().with_dynamic_channel(DisplayControlClient::new(|_| Ok(Vec::new())));
    if settings.graphics_pipeline {
        drdynvc = drdynvc
            .with_dynamic_channel(GraphicsPipelineClient::new(Box::new(GraphicsHandler), None));
    }
    let mut connector = ClientConnector::new(config(&request, &settings), client_addr)
        .with_static_channel(drdynvc)
        .with_static_channel(CliprdrClient::new(Box::new(ClipboardBridge::new(
            clipboard.clone(),
        ))));

    let mut tcp = tcp;
    negotiate(&mut tcp, &mut connector).await?;
    let should_upgrade = ironrdp_async::skip_connect_begin(&mut connector);
    let (tls, identity) = identity::upgrade(tcp, &request.host, &request.trust).await?;
    debug!(fingerprint = %identity.fingerprint, "tls established");
    let upgraded = ironrdp_async::mark_as_upgraded(should_upgrade, &mut connector);
    let mut framed: Framed = TokioFramed::new(tls);
    let server_name = ServerName::new(request.host.clone());

    if connector.should_perform_credssp() {
        let ClientConnectorState::Credssp { selected_protocol } = connector.state else {
            return Err(SessionError::new(
                SessionErrorKind::Internal,
                "credssp expected but the connector is elsewhere",
            ));
        };
        let (sequence, ts_request) = CredsspSequence::init(
            connector.config.credentials.clone(),
            connector.config.domain.as_deref(),
            selected_protocol,
            server_name.clone(),
            identity.public_key.clone(),
            None,
        )
        .map_err(|e| connector_error(&e, Phase::Credssp))?;
        let mut buf = WriteBuf::new();
        ironrdp_async::perform_credssp(&mut framed, &mut NoNetwork, &mut buf, sequence, ts_request)
            .await
            .map_err(|e| connector_error(&e, Phase::Credssp))?;
        connector.mark_credssp_as_done();
    }

    let outcome = ironrdp_async::connect_finalize(
        upgraded,
        connector,
        &mut framed,
        &mut NoNetwork,
        server_name,
        identity.public_key.clone(),
        None,
    )
    .await
    .map_err(|e| connector_error(&e, Phase::Finalization))?;
    let result = outcome
        .into_connected()
        .map_err(|e| connector_error(&e, Phase::Finalization))?;
    info!(
        width = result.desktop_size.width,
        height = result.desktop_size.height,
        "rdp session connected"
    );

    let activation = Activation {
        size: oriel_core_model::Size::new(result.desktop_size.width, result.desktop_size.height),
        fastpath_input: result
            .input_flags
            .intersects(InputFlags::FASTPATH_INPUT | InputFlags::FASTPATH_INPUT_2),
        refresh_rect: result.refresh_rect_support,
        suppress_output: result.suppress_output_support,
    };
    let stage = ActiveStageBuilder {
        static_channels: result.static_channels,
        user_channel_id: result.user_channel_id,
        io_channel_id: result.io_channel_id,
        message_channel_id: result.message_channel_id,
        share_id: result.share_id,
        compression_type: result.compression_type,
        enable_server_pointer: result.enable_server_pointer,
        pointer_software_rendering: result.pointer_software_rendering,
    }
    .build();
    let core = RdpCore::new(stage, activation, clipboard)?;

    let (events_tx, events_rx) = mpsc::channel(EVENT_CHANNEL);
    let (input_tx, input_rx) = mpsc::channel(INPUT_CHANNEL);
    let session = RdpSession {
        framed,
        core,
        activation_factory: result.activation_factory,
        events: events_tx,
        input: input_rx,
    };
    tokio::spawn(session.run());
    Ok(RemoteSession {
        info: SessionInfo {
            name: String::new(),
            size: activation.size,
            identity: Some(identity.fingerprint),
        },
        events: events_rx,
        input: input_tx,
        files: None,
    })
}

/// Most PDUs held back while a reactivation finishes.
const MAX_DEFERRED_PDUS: usize = 1024;

/// Whether an X.224 PDU received during the connection finalization is one
/// of the finalization's own ([MS-RDPBCGR] 1.3.1.1, phase 10), which
/// IronRDP's sequence expects; anything else (graphics updates, channel
/// data) is for the active session.
///
/// [MS-RDPBCGR]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/
fn is_finalization_pdu(pdu: &[u8]) -> bool {
    use ironrdp_pdu::rdp::headers::{ShareDataPdu, decode_share_data};
    let Ok(ctx) = ironrdp_pdu::mcs::decode_send_data_indication(pdu) else {
        return false;
    };
    let Ok(ctx) = decode_share_data(ctx) else {
        return false;
    };
    matches!(
        ctx.pdu,
        ShareDataPdu::Synchronize(_)
            | ShareDataPdu::Control(_)
            | ShareDataPdu::ServerSetErrorInfo(_)
            | ShareDataPdu::MonitorLayout(_)
            | ShareDataPdu::FontMap(_)
    )
}

/// Sleeps until `deadline`, or forever when there is none.
async fn until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

struct RdpSession {
    framed: Framed,
    core: RdpCore,
    activation_factory: ConnectionActivationFactory,
    events: mpsc::Sender<Result<SessionEvent, SessionError>>,
    input: mpsc::Receiver<InputEvent>,
}

impl RdpSession {
    async fn run(mut self) {
        match self.run_loop().await {
            Ok(()) => debug!("rdp session ended"),
            Err(e) => {
                debug!(error = %e, "rdp session failed");
                let _ = self.events.send(Err(e)).await;
            }
        }
        if let Ok(frames) = self.core.stage_mut().graceful_shutdown() {
            for frame in frames {
                if let ironrdp_session::ActiveStageOutput::ResponseFrame(bytes) = frame {
                    let _ = self.framed.write_all(&bytes).await;
                }
            }
        }
    }

    /// Runs until the gateway drops a channel end or the server ends the
    /// session (`Ok`), or something fails (`Err`).
    async fn run_loop(&mut self) -> Result<(), SessionError> {
        loop {
            // `read_pdu` keeps what it read in the framed buffer, so dropping
            // it when input wins loses nothing.
            let outputs = tokio::select! {
                biased;
                () = self.events.closed() => return Ok(()),
                input = self.input.recv() => match input {
                    None => return Ok(()),
                    Some(input) => self.core.handle_input(input, std::time::Instant::now())?,
                },
                () = until(self.core.poll_timeout()) => {
                    self.core.handle_timeout(std::time::Instant::now())?
                }
                pdu = self.framed.read_pdu() => {
                    let (action, frame) = pdu.map_err(|e| io_error(&e))?;
                    let received_at = self.framed.last_read_at();
                    self.core.handle_frame(action, &frame, received_at)?
                }
            };
            if self.apply(outputs).await? {
                return Ok(());
            }
        }
    }

    /// Carries out the core's outputs; `true` when the session is over.
    async fn apply(&mut self, outputs: Vec<Output>) -> Result<bool, SessionError> {
        let mut pending = std::collections::VecDeque::from(outputs);
        while let Some(output) = pending.pop_front() {
            match output {
                Output::Send(bytes) => self
                    .framed
                    .write_all(&bytes)
                    .await
                    .map_err(|e| io_error(&e))?,
                Output::Event(event) => {
                    if self.events.send(Ok(event)).await.is_err() {
                        return Ok(true);
                    }
                }
                Output::Reactivate => pending.extend(self.reactivate().await?),
                Output::Terminate(reason) => {
                    info!(reason = %reason, "the rdp server ended the session");
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Runs a deactivation-reactivation sequence ([MS-RDPBCGR] 1.3.1.3), as
    /// servers do after a resize.
    ///
    /// [MS-RDPBCGR]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/
    ///
    /// Servers may send data before the sequence is over (xrdp sends
    /// graphics updates and channel data during the finalization), which
    /// IronRDP's sequence rejects: such PDUs are held back and given to the
    /// session once it is active again.
    async fn reactivate(&mut self) -> Result<Vec<Output>, SessionError> {
        let mut sequence = self.activation_factory.create();
        let mut buf = WriteBuf::new();
        let mut deferred: Vec<Vec<u8>> = Vec::new();
        loop {
            buf.clear();
            let written = match sequence.next_pdu_hint() {
                Some(hint) => {
                    let pdu = self
                        .framed
                        .read_by_hint(hint)
                        .await
                        .map_err(|e| io_error(&e))?;
                    if matches!(
                        sequence.connection_activation_state(),
                        ConnectionActivationState::ConnectionFinalization { .. }
                    ) && !is_finalization_pdu(&pdu)
                    {
                        if deferred.len() >= MAX_DEFERRED_PDUS {
                            return Err(SessionError::new(
                                SessionErrorKind::TargetProtocol,
                                "the server never finished reactivating the session",
                            ));
                        }
                        deferred.push(pdu.to_vec());
                        continue;
                    }
                    sequence.step(&pdu, self.framed.last_read_at(), &mut buf)
                }
                None => sequence.step_no_input(&mut buf),
            }
            .map_err(|e| connector_error(&e, Phase::Finalization))?;
            if let Some(len) = written.size() {
                self.framed
                    .write_all(&buf.filled()[..len])
                    .await
                    .map_err(|e| io_error(&e))?;
            }
            match sequence.connection_activation_state() {
                ConnectionActivationState::Finalized {
                    desktop_size,
                    share_id,
                    input_flags,
                    static_channel_chunk_size,
                    enable_server_pointer,
                    pointer_software_rendering,
                    refresh_rect_support,
                    suppress_output_support,
                    ..
                } => {
                    let io = self.activation_factory.io_channel_id();
                    let user = self.activation_factory.user_channel_id();
                    if !self.core.stage_mut().reactivate(
                        io,
                        user,
                        share_id,
                        enable_server_pointer,
                        pointer_software_rendering,
                        static_channel_chunk_size,
                    ) {
                        return Err(SessionError::new(
                            SessionErrorKind::TargetProtocol,
                            "the server reactivated with an invalid channel chunk size",
                        ));
                    }
                    info!(
                        width = desktop_size.width,
                        height = desktop_size.height,
                        "rdp session reactivated"
                    );
                    let mut out = self.core.reactivated(
                        Activation {
                            size: oriel_core_model::Size::new(
                                desktop_size.width,
                                desktop_size.height,
                            ),
                            fastpath_input: input_flags.intersects(
                                InputFlags::FASTPATH_INPUT | InputFlags::FASTPATH_INPUT_2,
                            ),
                            refresh_rect: refresh_rect_support,
                            suppress_output: suppress_output_support,
                        },
                        std::time::Instant::now(),
                    )?;
                    for pdu in deferred {
                        out.extend(self.core.handle_frame(Action::X224, &pdu, None)?);
                    }
                    return Ok(out);
                }
                ConnectionActivationState::Redirected { .. } => {
                    return Err(SessionError::new(
                        SessionErrorKind::TargetProtocol,
                        "the server redirected the session elsewhere, which the gateway does not follow",
                    ));
                }
                _ => {}
            }
        }
    }
}
