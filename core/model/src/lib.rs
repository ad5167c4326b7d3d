//! Protocol-neutral model of a remote session (core tier: no I/O, no clock).
//!
//! Every protocol adapter (`protocols/vnc`, later RDP and SSH) turns what its
//! server sends into [`SessionEvent`]s and turns [`InputEvent`]s into its own
//! messages. The gateway and the encoders only ever see these types, so no
//! protocol name leaks past the adapters.

mod error;
mod geometry;

pub use error::{ErrorClass, SessionError, SessionErrorKind};
pub use geometry::{Point, Rect, Size};

/// Largest desktop side we accept from any target (pixels).
pub const MAX_DIMENSION: u16 = 8192;

/// Largest desktop area we accept from any target (pixels): 8K UHD.
pub const MAX_PIXELS: u32 = 7680 * 4320;

/// How the bytes of a [`SessionEvent::Pixels`] rectangle are laid out.
///
/// Both layouts are row-major and tightly packed (no row padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelLayout {
    /// Three bytes per pixel: red, green, blue.
    Rgb24,
    /// Four bytes per pixel: red, green, blue, then one ignored byte.
    Rgbx32,
}

impl PixelLayout {
    /// Bytes per pixel.
    pub const fn bytes_per_pixel(self) -> usize {
        match self {
            PixelLayout::Rgb24 => 3,
            PixelLayout::Rgbx32 => 4,
        }
    }
}

/// A pointer shape with straight (not premultiplied) alpha.
#[derive(Clone, PartialEq, Eq)]
pub struct CursorShape {
    /// Hot spot, relative to the top-left corner of the shape.
    pub hotspot: Point,
    /// Size of the shape; zero width or height means "hide the pointer".
    pub size: Size,
    /// `size.width * size.height * 4` bytes: red, green, blue, alpha.
    pub rgba: Vec<u8>,
}

impl std::fmt::Debug for CursorShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CursorShape")
            .field("hotspot", &self.hotspot)
            .field("size", &self.size)
            .field("rgba_len", &self.rgba.len())
            .finish()
    }
}

/// What a remote session reports, in the order the target sent it.
#[derive(Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// The desktop now has this size. Everything on screen is undefined until
    /// it is painted again; adapters follow with updates covering the screen.
    DesktopSize(Size),
    /// Replace `rect` with these pixels.
    Pixels {
        /// Where the pixels go.
        rect: Rect,
        /// Layout of `data`.
        layout: PixelLayout,
        /// `rect.area() * layout.bytes_per_pixel()` bytes.
        data: Vec<u8>,
    },
    /// Fill `rect` with one colour.
    Fill {
        /// Where to fill.
        rect: Rect,
        /// Red, green, blue.
        rgb: [u8; 3],
    },
    /// Copy the screen content at `src` (same size as `dst`) to `dst`.
    Copy {
        /// Top-left corner of the source rectangle.
        src: Point,
        /// Destination rectangle.
        dst: Rect,
    },
    /// The pointer shape changed.
    Cursor(CursorShape),
    /// The remote clipboard now holds this text.
    Clipboard(String),
    /// The remote side rang the bell.
    Bell,
    /// A terminal (an SSH shell) printed these bytes. The pictures show
    /// them already; only a recording keeps them, as the text of the
    /// session (asciicast, search).
    TerminalOutput(Vec<u8>),
    /// A terminal now has this many columns and rows.
    TerminalGrid {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// The target finished an update of its screen: what it sent since the
    /// previous one is a whole picture (an RFB FramebufferUpdate, a
    /// terminal's redraw). Adapters that send it get one stream frame per
    /// update, never part of one; without it the gateway guesses.
    UpdateEnd,
}

impl std::fmt::Debug for SessionEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionEvent::DesktopSize(size) => f.debug_tuple("DesktopSize").field(size).finish(),
            SessionEvent::Pixels { rect, layout, data } => f
                .debug_struct("Pixels")
                .field("rect", rect)
                .field("layout", layout)
                .field("len", &data.len())
                .finish(),
            SessionEvent::Fill { rect, rgb } => f
                .debug_struct("Fill")
                .field("rect", rect)
                .field("rgb", rgb)
                .finish(),
            SessionEvent::Copy { src, dst } => f
                .debug_struct("Copy")
                .field("src", src)
                .field("dst", dst)
                .finish(),
            SessionEvent::Cursor(shape) => f.debug_tuple("Cursor").field(shape).finish(),
            // Clipboard content is user data: never print it.
            SessionEvent::Clipboard(text) => f
                .debug_struct("Clipboard")
                .field("len", &text.len())
                .finish(),
            SessionEvent::Bell => f.write_str("Bell"),
            // What a shell printed is user data: never print it.
            SessionEvent::TerminalOutput(bytes) => f
                .debug_struct("TerminalOutput")
                .field("len", &bytes.len())
                .finish(),
            SessionEvent::TerminalGrid { cols, rows } => f
                .debug_struct("TerminalGrid")
                .field("cols", cols)
                .field("rows", rows)
                .finish(),
            SessionEvent::UpdateEnd => f.write_str("UpdateEnd"),
        }
    }
}

/// Pointer buttons, as a bit mask.
pub mod buttons {
    /// Primary (usually left) button.
    pub const LEFT: u8 = 1;
    /// Middle button or wheel press.
    pub const MIDDLE: u8 = 1 << 1;
    /// Secondary (usually right) button.
    pub const RIGHT: u8 = 1 << 2;
    /// "Back" side button.
    pub const BACK: u8 = 1 << 3;
    /// "Forward" side button.
    pub const FORWARD: u8 = 1 << 4;
}

/// One wheel notch, in the units of [`InputEvent::Wheel`] (as Windows' `WHEEL_DELTA`).
pub const WHEEL_NOTCH: i16 = 120;

/// What the user does, for the adapter to translate into its protocol.
#[derive(Clone, PartialEq, Eq)]
pub enum InputEvent {
    /// A key went down or up.
    Key {
        /// X11 keysym of the key as the user's layout produced it.
        keysym: u32,
        /// PC/AT set-1 scancode of the physical key (`0xE0xx` for extended
        /// keys), 0 when unknown. Protocols that send scancodes use this.
        scancode: u16,
        /// `true` when pressed.
        down: bool,
    },
    /// The pointer moved or a button changed.
    Pointer {
        /// Position on the desktop.
        at: Point,
        /// Buttons held, see [`buttons`].
        buttons: u8,
    },
    /// The wheel turned; [`WHEEL_NOTCH`] units per notch, positive is down/right.
    Wheel {
        /// Pointer position.
        at: Point,
        /// Horizontal delta.
        dx: i16,
        /// Vertical delta.
        dy: i16,
    },
    /// The user pasted this text towards the remote clipboard.
    Clipboard(String),
    /// The viewer would like the desktop to have this size.
    Resize(Size),
    /// The state of the lock keys on the viewer's side (sent when the viewer
    /// gains focus, so the remote's lock state matches the local keyboard).
    Locks {
        /// Caps Lock on.
        caps: bool,
        /// Num Lock on.
        num: bool,
        /// Scroll Lock on.
        scroll: bool,
    },
    /// Send the whole screen again.
    Refresh,
}

impl std::fmt::Debug for InputEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Keystrokes are user data: log neither keysyms nor scancodes.
            InputEvent::Key { down, .. } => f.debug_struct("Key").field("down", down).finish(),
            InputEvent::Pointer { at, buttons } => f
                .debug_struct("Pointer")
                .field("at", at)
                .field("buttons", buttons)
                .finish(),
            InputEvent::Wheel { at, dx, dy } => f
                .debug_struct("Wheel")
                .field("at", at)
                .field("dx", dx)
                .field("dy", dy)
                .finish(),
            InputEvent::Clipboard(text) => f
                .debug_struct("Clipboard")
                .field("len", &text.len())
                .finish(),
            InputEvent::Resize(size) => f.debug_tuple("Resize").field(size).finish(),
            InputEvent::Locks { caps, num, scroll } => f
                .debug_struct("Locks")
                .field("caps", caps)
                .field("num", num)
                .field("scroll", scroll)
                .finish(),
            InputEvent::Refresh => f.write_str("Refresh"),
        }
    }
}

/// What a target told us about itself when the session started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Desktop name as the target reports it (may be empty).
    pub name: String,
    /// Initial desktop size.
    pub size: Size,
    /// Fingerprint of the identity the target presented (TLS certificate
    /// key, SSH host key), `SHA256:<base64>`; `None` when the protocol has none.
    pub identity: Option<String>,
}

/// Checks a desktop size against [`MAX_DIMENSION`] and [`MAX_PIXELS`].
pub fn validate_size(size: Size) -> Result<(), SessionError> {
    if size.width == 0
        || size.height == 0
        || size.width > MAX_DIMENSION
        || size.height > MAX_DIMENSION
        || size.area() > MAX_PIXELS
    {
        return Err(SessionError::new(
            SessionErrorKind::TargetProtocol,
            format!(
                "desktop size {}x{} is out of range",
                size.width, size.height
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_out_of_range_are_rejected() {
        assert!(validate_size(Size::new(1920, 1080)).is_ok());
        assert!(validate_size(Size::new(0, 10)).is_err());
        assert!(validate_size(Size::new(8193, 10)).is_err());
        assert!(validate_size(Size::new(8192, 8192)).is_err());
    }

    #[test]
    fn debug_output_never_contains_user_text() {
        let secret = "hunter2-secret";
        let ev = SessionEvent::Clipboard(secret.to_owned());
        assert!(!format!("{ev:?}").contains(secret));
        let input = InputEvent::Clipboard(secret.to_owned());
        assert!(!format!("{input:?}").contains(secret));
        let key = InputEvent::Key {
            keysym: 0x61,
            scancode: 0x1e,
            down: true,
        };
        assert!(!format!("{key:?}").contains("97"));
    }
}
