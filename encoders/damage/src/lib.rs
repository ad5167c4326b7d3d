//! Framebuffer, damage tracking and frame planning (core tier).
//!
//! The gateway applies a session's drawing events to a [`DamageTracker`]; when
//! flow control lets it send, it asks for a [`FramePlan`]: the copy-rects to
//! pass through, and every tile whose content differs from what the viewer
//! has, already classified (solid fill, lossless, lossy) and copied out so the
//! encoders can work without touching the tracker. Intermediate states of a
//! tile are never queued: a plan always carries the newest content.
//!
//! The tracker also remembers which tiles the viewer holds lossily, and once a
//! tile has been still for a while it plans it again losslessly, so the
//! viewer's picture ends up exact.
//!
//! An [`Overlay`] (the watermark) can be blended over everything sent.
//!
//! Nothing here does I/O or reads a clock: time is a parameter (µs).

mod framebuffer;
mod overlay;
mod tracker;

pub use framebuffer::{DrawError, Framebuffer};
pub use overlay::{Overlay, OverlayError};
pub use tracker::{DamageTracker, FramePlan, PlanSettings, TileContent, TileJob};

/// Side of a tile in pixels.
pub const DEFAULT_TILE: u16 = 64;
