//! Recordings as a player sees them: the file read and judged, and the
//! picture at its end.

use oriel_core_model::{PixelLayout, Size};
use oriel_core_recording::{RecordKind, Recording};
use oriel_core_wire::{FrameOp, ServerMessage};
use oriel_encoders_damage::Framebuffer;

/// The picture a player shows at the end of the recording.
pub fn last_picture(r: &Recording) -> Framebuffer {
    let mut fb = Framebuffer::new(Size::new(1, 1));
    for (_, record) in &r.records {
        if !matches!(record.kind, RecordKind::Message | RecordKind::Keyframe) {
            continue;
        }
        match ServerMessage::decode(&record.payload).expect("a recorded message decodes") {
            ServerMessage::Hello(h) => fb = Framebuffer::new(h.size),
            ServerMessage::DesktopSize(size) => fb = Framebuffer::new(size),
            ServerMessage::Frame(f) => {
                for op in f.ops {
                    match op {
                        FrameOp::Copy { src, dst } => fb.copy(src, dst).expect("copy inside"),
                        FrameOp::Fill { rect, rgb } => fb.fill(rect, rgb).expect("fill inside"),
                        FrameOp::Image { rect, codec, data } => {
                            let rgb = oriel_encoders_codecs::decode_image(
                                codec,
                                &data,
                                rect.width,
                                rect.height,
                            )
                            .expect("a recorded image decodes");
                            fb.blit(rect, PixelLayout::Rgb24, &rgb)
                                .expect("image inside");
                        }
                    }
                }
            }
            _ => {}
        }
    }
    fb
}

/// The gateway's public key that signs recordings (as the control plane
/// knows it), from an `oriel up` data directory.
pub fn gateway_keys(data_dir: &std::path::Path) -> oriel_core_token::TokenVerifier {
    let text = std::fs::read_to_string(data_dir.join("keys/gateway-signing.pub"))
        .expect("the gateway's public key");
    let key: [u8; 32] =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text.trim())
            .expect("base64")
            .try_into()
            .expect("32 bytes");
    oriel_core_token::TokenVerifier::new([key])
}
