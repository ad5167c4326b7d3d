//! Pure translation between vnc-rs and the session model (no I/O).

use oriel_core_model::{
    CursorShape, InputEvent, PixelLayout, Point, Rect, SessionError, SessionErrorKind,
    SessionEvent, Size, WHEEL_NOTCH, buttons,
};
use vnc::{ClientKeyEvent, ClientMouseEvent, VncError, VncEvent, X11Event};

/// RFB pointer mask bits (RFC 6143 §7.5.5: buttons 1–8 map to bits 0–7).
mod rfb {
    pub const LEFT: u8 = 1;
    pub const MIDDLE: u8 = 1 << 1;
    pub const RIGHT: u8 = 1 << 2;
    pub const WHEEL_UP: u8 = 1 << 3;
    pub const WHEEL_DOWN: u8 = 1 << 4;
    pub const WHEEL_LEFT: u8 = 1 << 5;
    pub const WHEEL_RIGHT: u8 = 1 << 6;
    pub const BACK: u8 = 1 << 7;
}

fn rect(r: vnc::Rect) -> Rect {
    Rect::new(r.x, r.y, r.width, r.height)
}

fn protocol_error(detail: impl Into<String>) -> SessionError {
    SessionError::new(SessionErrorKind::TargetProtocol, detail)
}

/// Translates target events, remembering the desktop size.
#[derive(Debug)]
pub struct EventTranslator {
    size: Size,
}

impl EventTranslator {
    /// A translator for a desktop of `size`.
    pub fn new(size: Size) -> Self {
        EventTranslator { size }
    }

    /// The session event for a vnc-rs event, if it matters to the viewer.
    pub fn translate(&mut self, event: VncEvent) -> Result<Option<SessionEvent>, SessionError> {
        Ok(Some(match event {
            VncEvent::SetResolution(screen) => {
                self.resize(Size::new(screen.width, screen.height))?
            }
            VncEvent::DesktopUpdate(update) => match update.layout {
                Some(layout) if Size::new(layout.width, layout.height) != self.size => {
                    self.resize(Size::new(layout.width, layout.height))?
                }
                _ => return Ok(None),
            },
            VncEvent::RawImage(r, data) => {
                let rect = rect(r);
                let expected = rect.area() as usize * 4;
                if data.len() != expected || !rect.fits_in(self.size) {
                    return Err(protocol_error(format!(
                        "pixel rectangle {rect:?} with {} bytes does not fit the {}x{} desktop",
                        data.len(),
                        self.size.width,
                        self.size.height
                    )));
                }
                SessionEvent::Pixels {
                    rect,
                    layout: PixelLayout::Rgbx32,
                    data,
                }
            }
            VncEvent::Copy(dst, src) => SessionEvent::Copy {
                src: Point::new(src.x, src.y),
                dst: rect(dst),
            },
            VncEvent::JpegImage(r, data) => {
                let rect = rect(r);
                SessionEvent::Pixels {
                    rect,
                    layout: PixelLayout::Rgb24,
                    data: decode_jpeg(&data, rect)?,
                }
            }
            VncEvent::SetCursor(r, rgba) => {
                let size = Size::new(r.width, r.height);
                if rgba.len() != size.area() as usize * 4 {
                    return Err(protocol_error("cursor shape of the wrong length"));
                }
                SessionEvent::Cursor(CursorShape {
                    hotspot: Point::new(r.x.min(r.width), r.y.min(r.height)),
                    size,
                    rgba,
                })
            }
            VncEvent::Bell => SessionEvent::Bell,
            VncEvent::UpdateEnd => SessionEvent::UpdateEnd,
            VncEvent::Text(text) => SessionEvent::Clipboard(text),
            VncEvent::Error(message) => return Err(protocol_error(message)),
            // The pixel format is ours (set at connect); other events are not for viewers.
            _ => return Ok(None),
        }))
    }

    fn resize(&mut self, size: Size) -> Result<SessionEvent, SessionError> {
        oriel_core_model::validate_size(size)?;
        self.size = size;
        Ok(SessionEvent::DesktopSize(size))
    }
}

fn decode_jpeg(data: &[u8], rect: Rect) -> Result<Vec<u8>, SessionError> {
    let mut reader =
        image::ImageReader::with_format(std::io::Cursor::new(data), image::ImageFormat::Jpeg);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(u32::from(rect.width));
    limits.max_image_height = Some(u32::from(rect.height));
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| protocol_error(format!("undecodable tight jpeg rectangle: {e}")))?;
    if img.width() != u32::from(rect.width) || img.height() != u32::from(rect.height) {
        return Err(protocol_error("tight jpeg rectangle of the wrong size"));
    }
    Ok(img.into_rgb8().into_raw())
}

/// Turns viewer input into RFB events, keeping the button state that RFB
/// pointer events carry.
#[derive(Debug, Default)]
pub struct InputTranslator {
    buttons: u8,
    at: Point,
    wheel_dx: i32,
    wheel_dy: i32,
}

impl InputTranslator {
    fn mask(&self) -> u8 {
        let b = self.buttons;
        let mut m = 0;
        for (ours, theirs) in [
            (buttons::LEFT, rfb::LEFT),
            (buttons::MIDDLE, rfb::MIDDLE),
            (buttons::RIGHT, rfb::RIGHT),
            (buttons::BACK, rfb::BACK),
        ] {
            if b & ours != 0 {
                m |= theirs;
            }
        }
        m
    }

    fn pointer(&self, extra: u8) -> X11Event {
        X11Event::PointerEvent(ClientMouseEvent {
            position_x: self.at.x,
            position_y: self.at.y,
            bottons: self.mask() | extra,
        })
    }

    /// The RFB events for one input event (a wheel turn is a press and a
    /// release of a wheel button per notch).
    pub fn translate(&mut self, input: InputEvent, size: Size) -> Vec<X11Event> {
        let clamp = |p: Point| {
            Point::new(
                p.x.min(size.width.saturating_sub(1)),
                p.y.min(size.height.saturating_sub(1)),
            )
        };
        match input {
            InputEvent::Key { keysym, down, .. } => vec![X11Event::KeyEvent(ClientKeyEvent {
                keycode: keysym,
                down,
            })],
            InputEvent::Pointer { at, buttons } => {
                self.at = clamp(at);
                self.buttons = buttons;
                vec![self.pointer(0)]
            }
            InputEvent::Wheel { at, dx, dy } => {
                self.at = clamp(at);
                self.wheel_dx += i32::from(dx);
                self.wheel_dy += i32::from(dy);
                let notch = i32::from(WHEEL_NOTCH);
                let mut out = Vec::new();
                for (acc, neg, pos) in [
                    (&mut self.wheel_dy, rfb::WHEEL_UP, rfb::WHEEL_DOWN),
                    (&mut self.wheel_dx, rfb::WHEEL_LEFT, rfb::WHEEL_RIGHT),
                ] {
                    // At most 10 notches per event: a hostile delta cannot flood the target.
                    let notches = (*acc / notch).clamp(-10, 10);
                    *acc -= notches * notch;
                    let bit = if notches < 0 { neg } else { pos };
                    for _ in 0..notches.unsigned_abs() {
                        out.push(bit);
                    }
                }
                out.into_iter()
                    .flat_map(|bit| [self.pointer(bit), self.pointer(0)])
                    .collect()
            }
            InputEvent::Clipboard(text) => vec![X11Event::CopyText(text)],
            InputEvent::Refresh => vec![X11Event::FullRefresh],
            // Resizing is a negotiation handled by the session task.
            InputEvent::Resize(_) => Vec::new(),
            // RFB sends keysyms, which already carry the case: the server's
            // lock state does not change what a key types.
            InputEvent::Locks { .. } => Vec::new(),
        }
    }
}

/// Classifies a vnc-rs error from the connection phase.
pub fn connect_error(err: VncError) -> SessionError {
    let detail = err.to_string();
    let kind = match err {
        VncError::WrongPassword | VncError::NoPassword => SessionErrorKind::TargetAuthFailed,
        // RFB 3.8 servers send a reason string with a failed security result.
        VncError::General(ref m) if m.to_ascii_lowercase().contains("auth") => {
            SessionErrorKind::TargetAuthFailed
        }
        VncError::General(ref m) if m.to_ascii_lowercase().contains("password") => {
            SessionErrorKind::TargetAuthFailed
        }
        VncError::IoError(ref e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            SessionErrorKind::TargetClosed
        }
        _ => SessionErrorKind::TargetProtocol,
    };
    SessionError::new(kind, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vr(x: u16, y: u16, w: u16, h: u16) -> vnc::Rect {
        vnc::Rect {
            x,
            y,
            width: w,
            height: h,
        }
    }

    #[test]
    fn raw_rectangles_are_checked_against_the_desktop() {
        let mut t = EventTranslator::new(Size::new(10, 10));
        assert!(matches!(
            t.translate(VncEvent::RawImage(vr(0, 0, 2, 2), vec![0; 16])),
            Ok(Some(SessionEvent::Pixels { .. }))
        ));
        let err = t
            .translate(VncEvent::RawImage(vr(9, 9, 2, 2), vec![0; 16]))
            .unwrap_err();
        assert_eq!(err.kind, SessionErrorKind::TargetProtocol);
        assert!(
            t.translate(VncEvent::RawImage(vr(0, 0, 2, 2), vec![0; 15]))
                .is_err()
        );
    }

    #[test]
    fn resolution_changes_are_validated_and_tracked() {
        let mut t = EventTranslator::new(Size::new(10, 10));
        assert_eq!(
            t.translate(VncEvent::SetResolution((20, 30).into()))
                .unwrap(),
            Some(SessionEvent::DesktopSize(Size::new(20, 30)))
        );
        assert!(
            t.translate(VncEvent::RawImage(vr(15, 25, 5, 5), vec![0; 100]))
                .is_ok()
        );
        assert!(
            t.translate(VncEvent::SetResolution((0, 30).into()))
                .is_err()
        );
    }

    #[test]
    fn server_errors_are_target_protocol_errors() {
        let mut t = EventTranslator::new(Size::new(10, 10));
        let err = t
            .translate(VncEvent::Error(
                "Image data cannot be decoded correctly".into(),
            ))
            .unwrap_err();
        assert_eq!(err.kind, SessionErrorKind::TargetProtocol);
        assert!(
            t.translate(VncEvent::JpegImage(vr(0, 0, 2, 2), vec![1, 2, 3]))
                .is_err()
        );
    }

    #[test]
    fn wheel_turns_become_button_clicks() {
        let mut t = InputTranslator::default();
        let size = Size::new(100, 100);
        t.translate(
            InputEvent::Pointer {
                at: Point::new(5, 6),
                buttons: buttons::LEFT,
            },
            size,
        );
        let events = t.translate(
            InputEvent::Wheel {
                at: Point::new(5, 6),
                dx: 0,
                dy: 2 * WHEEL_NOTCH + 10,
            },
            size,
        );
        let masks: Vec<u8> = events
            .iter()
            .map(|e| match e {
                X11Event::PointerEvent(m) => m.bottons,
                _ => panic!("not a pointer event"),
            })
            .collect();
        assert_eq!(masks, vec![0x11, 0x01, 0x11, 0x01]);
        // The 10-unit remainder carries over: 110 more make one notch up... down.
        assert_eq!(
            t.translate(
                InputEvent::Wheel {
                    at: Point::new(5, 6),
                    dx: 0,
                    dy: 110
                },
                size
            )
            .len(),
            2
        );
        // Hostile deltas are capped.
        let flood = t.translate(
            InputEvent::Wheel {
                at: Point::new(500, 600),
                dx: i16::MIN,
                dy: i16::MAX,
            },
            size,
        );
        assert_eq!(flood.len(), 40);
        match &flood[0] {
            X11Event::PointerEvent(m) => assert_eq!((m.position_x, m.position_y), (99, 99)),
            _ => panic!("not a pointer event"),
        }
    }

    #[test]
    fn auth_failures_are_classified() {
        assert_eq!(
            connect_error(VncError::WrongPassword).kind,
            SessionErrorKind::TargetAuthFailed
        );
        assert_eq!(
            connect_error(VncError::General("Authentication failure".into())).kind,
            SessionErrorKind::TargetAuthFailed
        );
        assert_eq!(
            connect_error(VncError::InvalidSecurityTyep(19)).kind,
            SessionErrorKind::TargetProtocol
        );
    }
}
