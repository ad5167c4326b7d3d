//! The virtual channels the adapter opens besides the main one: clipboard
//! (CLIPRDR static channel, [MS-RDPECLIP]), and on the dynamic channel
//! multiplexer (DRDYNVC, [MS-RDPEDYC]) display control ([MS-RDPEDISP]) and
//! the graphics pipeline ([MS-RDPEGFX]).
//!
//! IronRDP's clipboard client calls a backend back from inside the session's
//! processing; the backend here only queues what it was told
//! ([`ClipboardAction`]) and the session core acts on the queue afterwards,
//! with mutable access to the channel.
//!
//! [MS-RDPECLIP]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpeclip/
//! [MS-RDPEDYC]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpedyc/
//! [MS-RDPEDISP]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpedisp/
//! [MS-RDPEGFX]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpegfx/

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use ironrdp_cliprdr::backend::CliprdrBackend;
use ironrdp_cliprdr::pdu::{
    ClipboardFormat, ClipboardFormatId, ClipboardGeneralCapabilityFlags, FileContentsRequest,
    FileContentsResponse, FormatDataRequest, FormatDataResponse, LockDataId,
};
use ironrdp_core::impl_as_any;
use ironrdp_egfx::client::GraphicsPipelineHandler;
use ironrdp_egfx::pdu::{
    CapabilitiesV8Flags, CapabilitiesV10Flags, CapabilitiesV103Flags, CapabilitiesV104Flags,
    CapabilitiesV107Flags, CapabilitySet,
};
use tracing::debug;

/// Largest clipboard text carried either way, in bytes of UTF-8.
pub const MAX_CLIPBOARD_BYTES: usize = 4 * 1024 * 1024;

/// Something the clipboard channel asked for, for the session core to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClipboardAction {
    /// Announce the formats we hold (the server asked, or our text changed).
    Advertise,
    /// The remote clipboard offers text in this format: fetch it.
    Fetch(ClipboardFormatId),
    /// The server wants our clipboard in this format.
    Provide(ClipboardFormatId),
    /// The remote clipboard's text arrived.
    RemoteText(String),
}

/// The queue shared between the backend (inside IronRDP) and the session core.
pub type ClipboardQueue = Arc<Mutex<VecDeque<ClipboardAction>>>;

/// A clipboard backend that only queues actions; see the module docs.
#[derive(Debug)]
pub struct ClipboardBridge {
    queue: ClipboardQueue,
    /// The format of the outstanding fetch, to decode its answer.
    fetching: Option<ClipboardFormatId>,
}

impl_as_any!(ClipboardBridge);

impl ClipboardBridge {
    /// A backend feeding `queue`.
    pub fn new(queue: ClipboardQueue) -> Self {
        ClipboardBridge {
            queue,
            fetching: None,
        }
    }

    fn push(&self, action: ClipboardAction) {
        if let Ok(mut q) = self.queue.lock() {
            // A server flooding format lists cannot grow the queue without bound.
            if q.len() < 64 {
                q.push_back(action);
            }
        }
    }
}

/// Picks the text format to fetch from what the remote clipboard offers.
pub fn text_format(formats: &[ClipboardFormat]) -> Option<ClipboardFormatId> {
    let has = |id| formats.iter().any(|f| f.id == id);
    if has(ClipboardFormatId::CF_UNICODETEXT) {
        Some(ClipboardFormatId::CF_UNICODETEXT)
    } else if has(ClipboardFormatId::CF_TEXT) {
        Some(ClipboardFormatId::CF_TEXT)
    } else {
        None
    }
}

/// Decodes clipboard text in `format` (UTF-16LE or 8-bit, NUL-terminated),
/// with Windows line ends made Unix ones; `None` when it is not text or too big.
pub fn decode_text(format: ClipboardFormatId, data: &[u8]) -> Option<String> {
    let text = if format == ClipboardFormatId::CF_UNICODETEXT {
        let units: Vec<u16> = data
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        String::from_utf16_lossy(&units)
    } else if format == ClipboardFormatId::CF_TEXT {
        let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
        // CF_TEXT is the sender's ANSI code page; Latin-1 is the common case.
        data[..end].iter().map(|&b| char::from(b)).collect()
    } else {
        return None;
    };
    if text.len() > MAX_CLIPBOARD_BYTES {
        return None;
    }
    Some(text.replace("\r\n", "\n"))
}

/// Unix line ends made Windows ones, as clipboard text travels.
pub fn encode_text(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

impl CliprdrBackend for ClipboardBridge {
    fn temporary_directory(&self) -> &str {
        ".cliprdr"
    }

    fn client_capabilities(&self) -> ClipboardGeneralCapabilityFlags {
        ClipboardGeneralCapabilityFlags::USE_LONG_FORMAT_NAMES
    }

    fn on_ready(&mut self) {}

    fn on_request_format_list(&mut self) {
        self.push(ClipboardAction::Advertise);
    }

    fn on_process_negotiated_capabilities(
        &mut self,
        _capabilities: ClipboardGeneralCapabilityFlags,
    ) {
    }

    fn on_remote_copy(&mut self, available_formats: &[ClipboardFormat]) {
        if let Some(format) = text_format(available_formats) {
            self.fetching = Some(format);
            self.push(ClipboardAction::Fetch(format));
        }
    }

    fn on_format_data_request(&mut self, request: FormatDataRequest) {
        self.push(ClipboardAction::Provide(request.format));
    }

    fn on_format_data_response(&mut self, response: FormatDataResponse<'_>) {
        let Some(format) = self.fetching.take() else {
            return;
        };
        if response.is_error() {
            debug!("the remote clipboard refused to hand over its text");
            return;
        }
        if let Some(text) = decode_text(format, response.data()) {
            self.push(ClipboardAction::RemoteText(text));
        }
    }

    fn on_file_contents_request(&mut self, _request: FileContentsRequest) {}

    fn on_file_contents_response(&mut self, _response: FileContentsResponse<'_>) {}

    fn on_lock(&mut self, _data_id: LockDataId) {}

    fn on_unlock(&mut self, _data_id: LockDataId) {}
}

/// Graphics pipeline handler: advertises every capability version without
/// H.264 (`AVC_DISABLED`), so a server may still pick a recent version and
/// use planar, ClearCodec or RemoteFX Progressive. The client composites
/// surfaces into the session image itself; this handler only shapes the
/// advertisement.
///
/// A later H.264 path plugs in as `GraphicsPipelineClient::new(handler,
/// Some(decoder))` with an `H264Decoder` (decoding or passing frames
/// through); the client then also advertises the AVC sets.
#[derive(Debug, Default)]
pub struct GraphicsHandler;

impl GraphicsPipelineHandler for GraphicsHandler {
    fn on_capabilities_confirmed(&mut self, caps: &CapabilitySet) {
        tracing::info!(capabilities = ?caps, "graphics pipeline negotiated");
    }

    fn capabilities(&self) -> Vec<CapabilitySet> {
        vec![
            CapabilitySet::V10_7 {
                flags: CapabilitiesV107Flags::SMALL_CACHE | CapabilitiesV107Flags::AVC_DISABLED,
            },
            CapabilitySet::V10_6 {
                flags: CapabilitiesV104Flags::SMALL_CACHE | CapabilitiesV104Flags::AVC_DISABLED,
            },
            CapabilitySet::V10_5 {
                flags: CapabilitiesV104Flags::SMALL_CACHE | CapabilitiesV104Flags::AVC_DISABLED,
            },
            CapabilitySet::V10_4 {
                flags: CapabilitiesV104Flags::SMALL_CACHE | CapabilitiesV104Flags::AVC_DISABLED,
            },
            CapabilitySet::V10_3 {
                flags: CapabilitiesV103Flags::AVC_DISABLED,
            },
            CapabilitySet::V10_2 {
                flags: CapabilitiesV10Flags::SMALL_CACHE | CapabilitiesV10Flags::AVC_DISABLED,
            },
            CapabilitySet::V10 {
                flags: CapabilitiesV10Flags::SMALL_CACHE | CapabilitiesV10Flags::AVC_DISABLED,
            },
            CapabilitySet::V8 {
                flags: CapabilitiesV8Flags::SMALL_CACHE,
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_text_is_decoded_and_line_ends_normalised() {
        let mut data = Vec::new();
        for u in "héllo\r\nwörld €".encode_utf16().chain([0, 0x41]) {
            data.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(
            decode_text(ClipboardFormatId::CF_UNICODETEXT, &data).as_deref(),
            Some("héllo\nwörld €")
        );
        // An odd trailing byte is ignored, not a panic.
        data.push(0x41);
        assert!(decode_text(ClipboardFormatId::CF_UNICODETEXT, &data[..3]).is_some());
        assert_eq!(
            decode_text(ClipboardFormatId::CF_TEXT, b"caf\xe9\0junk").as_deref(),
            Some("café")
        );
        assert_eq!(decode_text(ClipboardFormatId::CF_DIB, b"x"), None);
        assert_eq!(encode_text("a\nb\r\nc"), "a\r\nb\r\nc");
    }

    #[test]
    fn unicode_text_is_preferred() {
        let formats = [
            ClipboardFormat::new(ClipboardFormatId::CF_TEXT),
            ClipboardFormat::new(ClipboardFormatId::CF_UNICODETEXT),
        ];
        assert_eq!(
            text_format(&formats),
            Some(ClipboardFormatId::CF_UNICODETEXT)
        );
        assert_eq!(
            text_format(&[ClipboardFormat::new(ClipboardFormatId::CF_DIB)]),
            None
        );
    }

    #[test]
    fn the_bridge_queues_what_the_channel_asks_for() {
        let queue = ClipboardQueue::default();
        let mut bridge = ClipboardBridge::new(queue.clone());
        bridge.on_request_format_list();
        bridge.on_remote_copy(&[ClipboardFormat::new(ClipboardFormatId::CF_UNICODETEXT)]);
        bridge.on_format_data_response(FormatDataResponse::new_unicode_string("x"));
        // An answer nobody asked for is dropped.
        bridge.on_format_data_response(FormatDataResponse::new_unicode_string("y"));
        let q: Vec<_> = queue.lock().unwrap().drain(..).collect();
        assert_eq!(
            q,
            vec![
                ClipboardAction::Advertise,
                ClipboardAction::Fetch(ClipboardFormatId::CF_UNICODETEXT),
                ClipboardAction::RemoteText("x".into()),
            ]
        );
    }
}
