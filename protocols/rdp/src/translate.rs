//! Pure translation between IronRDP's session outputs and the session model
//! (no I/O): viewer input to fast-path input events ([MS-RDPBCGR] 2.2.8.1.2),
//! decoded image regions to pixel rectangles, pointer bitmaps to cursor shapes.
//!
//! [MS-RDPBCGR]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/

use ironrdp_graphics::pointer::DecodedPointer;
use ironrdp_pdu::geometry::InclusiveRectangle;
use ironrdp_pdu::input::fast_path::{FastPathInputEvent, KeyboardFlags, SynchronizeFlags};
use ironrdp_pdu::input::mouse::PointerFlags;
use ironrdp_pdu::input::mouse_x::PointerXFlags;
use ironrdp_pdu::input::{MousePdu, MouseXPdu};
use ironrdp_session::image::DecodedImage;
use oriel_core_model::{
    CursorShape, InputEvent, PixelLayout, Point, Rect, SessionEvent, Size, WHEEL_NOTCH, buttons,
};

/// Most wheel notches sent for one viewer event: a hostile delta cannot flood the target.
const MAX_NOTCHES: i32 = 10;

/// The PC/AT set-1 code the protocol uses for Pause ([`InputEvent::Key`] docs).
const PAUSE: u16 = 0xE046;

/// Turns viewer input into fast-path input events, keeping the pointer
/// position and button state RDP pointer events are relative to.
#[derive(Debug, Default)]
pub struct InputTranslator {
    buttons: u8,
    at: Option<Point>,
    wheel_dx: i32,
    wheel_dy: i32,
}

impl InputTranslator {
    /// The fast-path events for one input event on a desktop of `size`.
    /// [`InputEvent::Clipboard`], [`InputEvent::Resize`] and
    /// [`InputEvent::Refresh`] travel on other channels and yield nothing here.
    pub fn translate(&mut self, input: InputEvent, size: Size) -> Vec<FastPathInputEvent> {
        match input {
            InputEvent::Key {
                keysym,
                scancode,
                down,
            } => key_events(keysym, scancode, down),
            InputEvent::Pointer { at, buttons } => {
                let at = clamp(at, size);
                let mut out = Vec::new();
                if self.at != Some(at) {
                    out.push(mouse(PointerFlags::MOVE, at, 0));
                    self.at = Some(at);
                }
                let changed = self.buttons ^ buttons;
                for (bit, flag) in [
                    (buttons::LEFT, PointerFlags::LEFT_BUTTON),
                    (buttons::RIGHT, PointerFlags::RIGHT_BUTTON),
                    (buttons::MIDDLE, PointerFlags::MIDDLE_BUTTON_OR_WHEEL),
                ] {
                    if changed & bit != 0 {
                        let down = if buttons & bit != 0 {
                            PointerFlags::DOWN
                        } else {
                            PointerFlags::empty()
                        };
                        out.push(mouse(flag | down, at, 0));
                    }
                }
                for (bit, flag) in [
                    (buttons::BACK, PointerXFlags::BUTTON1),
                    (buttons::FORWARD, PointerXFlags::BUTTON2),
                ] {
                    if changed & bit != 0 {
                        let down = if buttons & bit != 0 {
                            PointerXFlags::DOWN
                        } else {
                            PointerXFlags::empty()
                        };
                        out.push(FastPathInputEvent::MouseEventEx(MouseXPdu {
                            flags: flag | down,
                            x_position: at.x,
                            y_position: at.y,
                        }));
                    }
                }
                self.buttons = buttons;
                out
            }
            InputEvent::Wheel { at, dx, dy } => {
                let at = clamp(at, size);
                let mut out = Vec::new();
                if self.at != Some(at) {
                    out.push(mouse(PointerFlags::MOVE, at, 0));
                    self.at = Some(at);
                }
                self.wheel_dy += i32::from(dy);
                self.wheel_dx += i32::from(dx);
                let notch = i32::from(WHEEL_NOTCH);
                // RDP's vertical wheel is positive away from the user (up); ours
                // is positive down. The horizontal wheel is positive right in both.
                for (acc, flag, sign) in [
                    (&mut self.wheel_dy, PointerFlags::VERTICAL_WHEEL, -1),
                    (&mut self.wheel_dx, PointerFlags::HORIZONTAL_WHEEL, 1),
                ] {
                    let notches = (*acc / notch).clamp(-MAX_NOTCHES, MAX_NOTCHES);
                    *acc -= notches * notch;
                    let units = if notches * sign < 0 {
                        -WHEEL_NOTCH
                    } else {
                        WHEEL_NOTCH
                    };
                    let flags = if units < 0 {
                        flag | PointerFlags::WHEEL_NEGATIVE
                    } else {
                        flag
                    };
                    for _ in 0..notches.unsigned_abs() {
                        out.push(mouse(flags, at, units));
                    }
                }
                out
            }
            InputEvent::Locks { caps, num, scroll } => {
                let mut flags = SynchronizeFlags::empty();
                flags.set(SynchronizeFlags::CAPS_LOCK, caps);
                flags.set(SynchronizeFlags::NUM_LOCK, num);
                flags.set(SynchronizeFlags::SCROLL_LOCK, scroll);
                vec![FastPathInputEvent::SyncEvent(flags)]
            }
            InputEvent::Clipboard(_) | InputEvent::Resize(_) | InputEvent::Refresh => Vec::new(),
        }
    }
}

fn clamp(p: Point, size: Size) -> Point {
    Point::new(
        p.x.min(size.width.saturating_sub(1)),
        p.y.min(size.height.saturating_sub(1)),
    )
}

fn mouse(flags: PointerFlags, at: Point, wheel: i16) -> FastPathInputEvent {
    FastPathInputEvent::MouseEvent(MousePdu {
        flags,
        number_of_wheel_rotation_units: wheel,
        x_position: at.x,
        y_position: at.y,
    })
}

/// The keyboard events for one key: by scancode when the viewer knows it
/// (or the keysym names a key with a fixed position), else as Unicode text.
pub fn key_events(keysym: u32, scancode: u16, down: bool) -> Vec<FastPathInputEvent> {
    let release = if down {
        KeyboardFlags::empty()
    } else {
        KeyboardFlags::RELEASE
    };
    let scancode = match scancode {
        0 => keysym_scancode(keysym).unwrap_or(0),
        sc => sc,
    };
    if scancode == PAUSE {
        // Pause has no break code: it is Ctrl (with the E1 prefix) + Num Lock,
        // pressed and released at once, on the press alone.
        if !down {
            return Vec::new();
        }
        return vec![
            FastPathInputEvent::KeyboardEvent(KeyboardFlags::EXTENDED1, 0x1D),
            FastPathInputEvent::KeyboardEvent(KeyboardFlags::empty(), 0x45),
            FastPathInputEvent::KeyboardEvent(
                KeyboardFlags::EXTENDED1 | KeyboardFlags::RELEASE,
                0x1D,
            ),
            FastPathInputEvent::KeyboardEvent(KeyboardFlags::RELEASE, 0x45),
        ];
    }
    let [high, low] = scancode.to_be_bytes();
    match (high, low) {
        (0, 0) => {}
        (0, code) => return vec![FastPathInputEvent::KeyboardEvent(release, code)],
        (0xE0, code) => {
            return vec![FastPathInputEvent::KeyboardEvent(
                release | KeyboardFlags::EXTENDED,
                code,
            )];
        }
        // Not a set-1 code we know how to send.
        _ => return Vec::new(),
    }
    let Some(ch) = keysym_char(keysym) else {
        return Vec::new();
    };
    let mut units = [0u16; 2];
    ch.encode_utf16(&mut units)
        .iter()
        .map(|&unit| FastPathInputEvent::UnicodeKeyboardEvent(release, unit))
        .collect()
}

/// The printable character of a keysym: Latin-1 keysyms are their code
/// point, `0x0100_0000 + cp` is Unicode (X11 keysymdef.h).
pub fn keysym_char(keysym: u32) -> Option<char> {
    let cp = match keysym {
        0x20..=0x7E | 0xA0..=0xFF => keysym,
        0x0100_0100..=0x0110_FFFF => keysym - 0x0100_0000,
        _ => return None,
    };
    char::from_u32(cp).filter(|c| !c.is_control())
}

/// Set-1 scancodes of the keys whose keysym says where they are, for
/// viewers that send no scancode.
pub fn keysym_scancode(keysym: u32) -> Option<u16> {
    Some(match keysym {
        0xFF08 => 0x0E,                                     // BackSpace
        0xFF09 => 0x0F,                                     // Tab
        0xFF0D => 0x1C,                                     // Return
        0xFF13 => PAUSE,                                    // Pause
        0xFF14 => 0x46,                                     // Scroll_Lock
        0xFF1B => 0x01,                                     // Escape
        0xFF50 => 0xE047,                                   // Home
        0xFF51 => 0xE04B,                                   // Left
        0xFF52 => 0xE048,                                   // Up
        0xFF53 => 0xE04D,                                   // Right
        0xFF54 => 0xE050,                                   // Down
        0xFF55 => 0xE049,                                   // Prior
        0xFF56 => 0xE051,                                   // Next
        0xFF57 => 0xE04F,                                   // End
        0xFF61 => 0xE037,                                   // Print
        0xFF63 => 0xE052,                                   // Insert
        0xFF67 => 0xE05D,                                   // Menu
        0xFF7F => 0x45,                                     // Num_Lock
        0xFF8D => 0xE01C,                                   // KP_Enter
        0xFFBE..=0xFFC7 => 0x3B + (keysym - 0xFFBE) as u16, // F1..F10
        0xFFC8 => 0x57,                                     // F11
        0xFFC9 => 0x58,                                     // F12
        0xFFE1 => 0x2A,                                     // Shift_L
        0xFFE2 => 0x36,                                     // Shift_R
        0xFFE3 => 0x1D,                                     // Control_L
        0xFFE4 => 0xE01D,                                   // Control_R
        0xFFE5 => 0x3A,                                     // Caps_Lock
        0xFFE9 => 0x38,                                     // Alt_L
        0xFFEA => 0xE038,                                   // Alt_R
        0xFFEB => 0xE05B,                                   // Super_L
        0xFFEC => 0xE05C,                                   // Super_R
        0xFFFF => 0xE053,                                   // Delete
        _ => return None,
    })
}

/// Pixels of `region` of a decoded image, clipped to the image, as one
/// [`SessionEvent::Pixels`]. The image must use a 4-byte RGBA layout
/// (`PixelFormat::RgbA32` or `RgbX32`).
pub fn region_pixels(image: &DecodedImage, region: &InclusiveRectangle) -> Option<SessionEvent> {
    let (width, height) = (image.width(), image.height());
    if region.left > region.right || region.top > region.bottom {
        return None;
    }
    let right = region.right.min(width.checked_sub(1)?);
    let bottom = region.bottom.min(height.checked_sub(1)?);
    if region.left > right || region.top > bottom {
        return None;
    }
    let rect = Rect::new(
        region.left,
        region.top,
        right - region.left + 1,
        bottom - region.top + 1,
    );
    let stride = image.stride();
    let bpp = image.bytes_per_pixel();
    if bpp != 4 {
        return None;
    }
    let data = image.data();
    let row_len = usize::from(rect.width) * 4;
    let mut out = Vec::with_capacity(row_len * usize::from(rect.height));
    for y in usize::from(rect.y)..usize::from(rect.y) + usize::from(rect.height) {
        let start = y * stride + usize::from(rect.x) * 4;
        out.extend_from_slice(data.get(start..start + row_len)?);
    }
    Some(SessionEvent::Pixels {
        rect,
        layout: PixelLayout::Rgbx32,
        data: out,
    })
}

/// Damage regions worth sending separately; many small ones are merged into
/// their bounding box (one rectangle is cheaper than a thousand).
pub fn coalesce(mut regions: Vec<InclusiveRectangle>) -> Vec<InclusiveRectangle> {
    const MAX_REGIONS: usize = 64;
    if regions.len() <= MAX_REGIONS {
        regions.dedup();
        return regions;
    }
    let mut iter = regions.into_iter();
    let Some(first) = iter.next() else {
        return Vec::new();
    };
    vec![iter.fold(first, |acc, r| InclusiveRectangle {
        left: acc.left.min(r.left),
        top: acc.top.min(r.top),
        right: acc.right.max(r.right),
        bottom: acc.bottom.max(r.bottom),
    })]
}

/// A pointer bitmap decoded for the accelerated target (straight alpha) as a
/// cursor shape; `None` when its size and data disagree.
pub fn cursor_shape(pointer: &DecodedPointer) -> Option<CursorShape> {
    let size = Size::new(pointer.width, pointer.height);
    if size.width == 0 || size.height == 0 {
        return Some(hidden_cursor());
    }
    if pointer.bitmap_data.len() != size.area() as usize * 4 {
        return None;
    }
    Some(CursorShape {
        hotspot: Point::new(
            pointer.hotspot_x.min(size.width - 1),
            pointer.hotspot_y.min(size.height - 1),
        ),
        size,
        rgba: pointer.bitmap_data.clone(),
    })
}

/// No pointer at all.
pub fn hidden_cursor() -> CursorShape {
    CursorShape {
        hotspot: Point::default(),
        size: Size::default(),
        rgba: Vec::new(),
    }
}

/// The "system default" pointer the server asks for with a default-pointer
/// update: a plain black arrow with a white outline, hot spot at its tip.
pub fn default_cursor() -> CursorShape {
    // 11 × 17, '#' black, '.' white, ' ' transparent.
    const ARROW: [&str; 17] = [
        ".          ",
        "..         ",
        ".#.        ",
        ".##.       ",
        ".###.      ",
        ".####.     ",
        ".#####.    ",
        ".######.   ",
        ".#######.  ",
        ".########. ",
        ".#####.....",
        ".##.##.    ",
        ".#. .##.   ",
        "..  .##.   ",
        ".    .##.  ",
        "     .##.  ",
        "      ..   ",
    ];
    let mut rgba = Vec::with_capacity(11 * 17 * 4);
    for row in ARROW {
        for b in row.bytes() {
            rgba.extend_from_slice(match b {
                b'#' => &[0, 0, 0, 255],
                b'.' => &[255, 255, 255, 255],
                _ => &[0, 0, 0, 0],
            });
        }
    }
    CursorShape {
        hotspot: Point::new(0, 0),
        size: Size::new(11, 17),
        rgba,
    }
}

#[cfg(test)]
mod tests;
