//! Fuzzes the session core with hostile server frames: each input is split
//! into frames that go through IronRDP's active stage and the adapter's
//! translation (damage to pixels, pointers to cursors, clipboard). Every
//! frame ends in outputs or a classified error — never a panic, and every
//! pixel rectangle fits the desktop.
//!
//! Run: `cargo +nightly fuzz run server_frames` in `protocols/rdp`.

#![no_main]

use ironrdp_pdu::Action;
use ironrdp_session::ActiveStageBuilder;
use ironrdp_svc::StaticChannelSet;
use libfuzzer_sys::fuzz_target;
use oriel_core_model::{SessionEvent, Size};
use oriel_protocols_rdp::core::{Activation, Output, RdpCore};

fuzz_target!(|data: &[u8]| {
    let stage = ActiveStageBuilder {
        static_channels: StaticChannelSet::new(),
        user_channel_id: 1007,
        io_channel_id: 1003,
        message_channel_id: None,
        share_id: 0x1_0000,
        compression_type: None,
        enable_server_pointer: true,
        pointer_software_rendering: false,
    }
    .build();
    let activation = Activation {
        size: Size::new(64, 48),
        fastpath_input: true,
        refresh_rect: true,
        suppress_output: false,
    };
    let Ok(mut core) = RdpCore::new(stage, activation, Default::default()) else {
        return;
    };
    // Frames: a length byte, then that many bytes; the low bit of the first
    // byte picks fast-path or X.224 framing as the real reader would.
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (frame, next) = tail.split_at(len);
        rest = next;
        let Some(&first) = frame.first() else {
            continue;
        };
        let action = if first & 0x03 == 0 {
            Action::FastPath
        } else {
            Action::X224
        };
        let Ok(outputs) = core.handle_frame(action, frame, None) else {
            return;
        };
        for output in outputs {
            if let Output::Event(SessionEvent::Pixels { rect, data, .. }) = output {
                assert!(rect.fits_in(core.size()));
                assert_eq!(data.len(), rect.area() as usize * 4);
            }
        }
    }
});
