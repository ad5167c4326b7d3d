//! RDP adapter on IronRDP (adapter tier), [MS-RDPBCGR].
//!
//! [`RdpConnector`] connects with Enhanced RDP Security: TLS, with NLA
//! (CredSSP over NTLM, [MS-CSSP]) when the server asks for it. The server's
//! certificate key is checked against the workspace's pin or recorded on
//! first use ([`identity`]). The session then runs as one task per
//! connection: a thin async shell (`session`) around a sans-IO core
//! ([`core`]) that feeds server frames to IronRDP's `ActiveStage` and turns
//! what it decodes — bitmap updates, RemoteFX surface bits, the graphics
//! pipeline ([MS-RDPEGFX]) — into damage rectangles of pixels, pointer
//! shapes into cursors, and viewer input into fast-path input events
//! ([`translate`]). Clipboard text travels on CLIPRDR ([MS-RDPECLIP]) and
//! resize requests on display control ([MS-RDPEDISP]) ([`channels`]).
//!
//! Graphics: by default the client advertises the graphics pipeline without
//! H.264 and without RemoteFX, so servers use its lossless codecs (planar,
//! ClearCodec, uncompressed), and plain bitmap updates (interleaved RLE,
//! planar) for servers without the pipeline: the gateway's picture is then
//! the target's exactly, and the gateway's own encoder decides what is sent
//! lossily to the viewer. [`RdpSettings::remotefx`] adds RemoteFX (lossy
//! wavelets, less bandwidth between gateway and target) where a deployment
//! prefers it. H.264 (AVC420/444) is left out until a decoder or a
//! passthrough to the viewer exists; it plugs into the pipeline client (see
//! [`channels::GraphicsHandler`]).
//!
//! [MS-RDPBCGR]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/
//! [MS-CSSP]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-cssp/
//! [MS-RDPEGFX]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpegfx/
//! [MS-RDPECLIP]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpeclip/
//! [MS-RDPEDISP]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpedisp/

pub mod channels;
pub mod core;
pub mod error;
pub mod identity;
mod session;
pub mod tpkt;
pub mod translate;

use oriel_core_model::{SessionError, SessionErrorKind, Size};
use oriel_protocols_session::{BoxFuture, ConnectRequest, Connector, RemoteSession};

/// Settings of the RDP adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdpSettings {
    /// Advertise the graphics pipeline (EGFX, without H.264).
    pub graphics_pipeline: bool,
    /// Advertise RemoteFX (lossy wavelets; less bandwidth than bitmaps), as
    /// surface bits and inside the graphics pipeline. Off by default: the
    /// picture would no longer converge to the target's exactly.
    pub remotefx: bool,
    /// Desktop size asked for when the viewer states none.
    pub default_size: Size,
    /// Client name shown by the server (at most 15 characters are sent).
    pub client_name: String,
    /// Keyboard layout identifier sent to the server (0x409: US English).
    pub keyboard_layout: u32,
}

impl Default for RdpSettings {
    fn default() -> Self {
        RdpSettings {
            graphics_pipeline: true,
            remotefx: false,
            default_size: Size::new(1280, 720),
            client_name: "oriel".to_owned(),
            keyboard_layout: 0x409,
        }
    }
}

impl RdpSettings {
    /// Only plain bitmap updates (interleaved RLE and planar, lossless): no
    /// graphics pipeline, no RemoteFX.
    pub fn lossless_bitmaps() -> Self {
        RdpSettings {
            graphics_pipeline: false,
            remotefx: false,
            ..RdpSettings::default()
        }
    }
}

/// The RDP protocol adapter, serving workspaces of kind `rdp`.
#[derive(Debug, Clone, Default)]
pub struct RdpConnector {
    settings: RdpSettings,
}

impl RdpConnector {
    /// An adapter with these settings.
    pub fn new(settings: RdpSettings) -> Self {
        RdpConnector { settings }
    }
}

impl Connector for RdpConnector {
    fn kind(&self) -> &'static str {
        "rdp"
    }

    fn connect(
        &self,
        request: ConnectRequest,
    ) -> BoxFuture<'static, Result<RemoteSession, SessionError>> {
        let settings = self.settings.clone();
        Box::pin(async move {
            let deadline = request.timeout;
            match tokio::time::timeout(deadline, session::connect(request, settings)).await {
                Ok(result) => result,
                Err(_) => Err(SessionError::new(
                    SessionErrorKind::TargetTimeout,
                    format!("no complete rdp connection within {deadline:?}"),
                )),
            }
        })
    }
}
