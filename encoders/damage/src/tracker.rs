//! Tile damage tracking and frame planning.
//!
//! Invariant: for every tile that is neither dirty nor of unknown client
//! content (`client_hash == None`), the viewer holds the tile's current
//! content — exactly, or approximately when `lossy` is set — once it has
//! applied every plan handed out so far plus the pending copies.

use crate::Overlay;
use crate::framebuffer::{DrawError, Framebuffer};
use merge::{Kind, classify};
use oriel_core_model::{PixelLayout, Point, Rect, Size};
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64;

/// Knobs of the planner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSettings {
    /// JPEG quality (1–100) for lossy tiles.
    pub jpeg_quality: u8,
    /// Tiles with at most this many distinct colours are sent losslessly
    /// (text, UI); more colourful tiles (photos, video) lossily.
    pub lossless_max_colors: usize,
    /// A lossy tile unchanged for this long (µs) is sent again losslessly.
    pub settle_us: u64,
    /// Pending copy-rects beyond this are turned into plain damage, which
    /// bounds memory while the viewer is not acknowledging.
    pub max_pending_copies: usize,
    /// JPEG quality (1–100) of tiles that change continuously (video,
    /// animation, a dragged window). A tile's quality slides from
    /// `jpeg_quality` down to this as its change rate rises: moving content
    /// costs fewer bytes where the eye cannot see detail, static content
    /// stays sharp (and settles to lossless). `>= jpeg_quality` turns it off.
    pub motion_quality: u8,
    /// Half-life (µs) of a tile's change-rate estimate: how quickly a tile
    /// that stopped moving counts as static again.
    pub motion_half_life_us: u64,
    /// Adjacent lossy tiles of one quality are sent as one image of up to
    /// this many pixels (each JPEG carries ~600 bytes of headers); 0 sends
    /// every tile on its own.
    pub max_merged_pixels: usize,
    /// Send content that moved vertically (scrolling) as copies of what the
    /// viewer already holds ([`scroll`](self) module).
    pub detect_scroll: bool,
}

impl Default for PlanSettings {
    fn default() -> Self {
        PlanSettings {
            jpeg_quality: 80,
            lossless_max_colors: 64,
            settle_us: 300_000,
            max_pending_copies: 64,
            motion_quality: 50,
            motion_half_life_us: 500_000,
            max_merged_pixels: 1 << 19,
            detect_scroll: true,
        }
    }
}

/// What a tile will be sent as.
#[derive(Clone, PartialEq, Eq)]
pub enum TileContent {
    /// Every pixel has this colour.
    Solid([u8; 3]),
    /// Encode losslessly; RGB pixels of the tile.
    Lossless(Vec<u8>),
    /// Encode lossily at this quality; RGB pixels of the tile.
    Lossy {
        /// Pixels.
        rgb: Vec<u8>,
        /// Quality 1–100.
        quality: u8,
    },
}

impl std::fmt::Debug for TileContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TileContent::Solid(rgb) => write!(f, "Solid({rgb:?})"),
            TileContent::Lossless(px) => write!(f, "Lossless({} bytes)", px.len()),
            TileContent::Lossy { rgb, quality } => {
                write!(f, "Lossy({} bytes, q{quality})", rgb.len())
            }
        }
    }
}

/// One tile to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileJob {
    /// Where the tile is (clipped to the desktop).
    pub rect: Rect,
    /// What to send.
    pub content: TileContent,
}

/// Everything the next frame must carry, in order: copies, then tiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramePlan {
    /// Copy-rects `(source top-left, destination)`, to apply first, in order.
    pub copies: Vec<(Point, Rect)>,
    /// Tiles, pairwise disjoint.
    pub tiles: Vec<TileJob>,
    /// Time (µs) of the oldest change the plan carries.
    pub damage_time_us: u64,
}

#[derive(Debug, Clone, Copy)]
struct Tile {
    /// Content may have changed since the last plan.
    dirty: bool,
    /// Hash of what the viewer holds, `None` when unknown (must be sent).
    client_hash: Option<u64>,
    /// The viewer's copy is lossy.
    lossy: bool,
    /// Last time the content changed, µs.
    last_change_us: u64,
    /// Changes sent, decayed with `motion_half_life_us` ([`Heat`]).
    heat: Heat,
    /// Hash of the framebuffer's content, as of the last
    /// [`hash_tile`](DamageTracker::hash_tile) (valid within one plan).
    fb_hash: u64,
}

/// A tile's change rate: the number of changes sent, each weighing half as
/// much every `motion_half_life_us`. A tile sent once stays near 1; one
/// changing at 30 fps with a 500 ms half-life settles near 22, at 2 fps
/// near 2.
#[derive(Debug, Clone, Copy, Default)]
struct Heat {
    value: f32,
    at_us: u64,
}

/// At or below this heat a tile is static (full `jpeg_quality`).
const HEAT_STATIC: f32 = 2.0;
/// At or above this heat a tile is in motion (`motion_quality`): about
/// 12 changes a second with the default half-life.
const HEAT_MOTION: f32 = 10.0;

impl Heat {
    fn now(self, now_us: u64, half_life_us: u64) -> f32 {
        let dt = now_us.saturating_sub(self.at_us) as f32;
        self.value * 0.5f32.powf(dt / half_life_us.max(1) as f32)
    }

    fn bump(&mut self, now_us: u64, half_life_us: u64) {
        self.value = self.now(now_us, half_life_us) + 1.0;
        self.at_us = now_us;
    }
}

/// The JPEG quality of a tile at `heat`: `jpeg_quality` when static,
/// `motion_quality` in motion, linear in between.
fn quality_at(heat: f32, settings: &PlanSettings) -> u8 {
    let (hi, lo) = (settings.jpeg_quality, settings.motion_quality);
    if lo >= hi || heat <= HEAT_STATIC {
        return hi;
    }
    let f = ((heat - HEAT_STATIC) / (HEAT_MOTION - HEAT_STATIC)).min(1.0);
    (f32::from(hi) - f * f32::from(hi - lo)).round() as u8
}

/// Damage tracker of one viewer.
pub struct DamageTracker {
    fb: Framebuffer,
    tile: u16,
    cols: u16,
    rows: u16,
    tiles: Vec<Tile>,
    copies: Vec<(Point, Rect)>,
    oldest_damage_us: Option<u64>,
    settings: PlanSettings,
    scratch: Vec<u8>,
    /// Hash of what the viewer holds in each pixel row of each tile column
    /// (`y * cols + column`), [`scroll::UNKNOWN`] where it is not known.
    viewer_rows: Vec<u64>,
    /// Hash of the framebuffer's rows, same layout, for the tiles hashed by
    /// [`hash_tile`](DamageTracker::hash_tile) since the framebuffer last
    /// changed (valid within one plan or copy).
    fb_rows: Vec<u64>,
    /// Reused buffer of [`moved_rows`](DamageTracker::moved_rows).
    moved: Vec<u64>,
    /// Blended over everything sent (the watermark).
    overlay: Option<Arc<Overlay>>,
}

impl std::fmt::Debug for DamageTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DamageTracker")
            .field("size", &self.fb.size())
            .field("tile", &self.tile)
            .field("pending_copies", &self.copies.len())
            .finish_non_exhaustive()
    }
}

impl DamageTracker {
    /// A tracker for a desktop of `size`, split into `tile`×`tile` tiles
    /// (`tile` is clamped to 16..=256). The viewer starts black.
    pub fn new(size: Size, tile: u16, settings: PlanSettings) -> Self {
        let mut t = DamageTracker {
            fb: Framebuffer::new(size),
            tile: tile.clamp(16, 256),
            cols: 0,
            rows: 0,
            tiles: Vec::new(),
            copies: Vec::new(),
            oldest_damage_us: None,
            settings,
            scratch: Vec::new(),
            viewer_rows: Vec::new(),
            fb_rows: Vec::new(),
            moved: Vec::new(),
            overlay: None,
        };
        t.reset_grid(size, 0);
        t
    }

    /// The framebuffer as the target last drew it.
    pub fn framebuffer(&self) -> &Framebuffer {
        &self.fb
    }

    /// Desktop size.
    pub fn size(&self) -> Size {
        self.fb.size()
    }

    /// Planner settings, for adjustments between frames.
    pub fn settings_mut(&mut self) -> &mut PlanSettings {
        &mut self.settings
    }

    fn reset_grid(&mut self, size: Size, now_us: u64) {
        self.cols = size.width.div_ceil(self.tile);
        self.rows = size.height.div_ceil(self.tile);
        self.copies.clear();
        self.oldest_damage_us = None;
        let black = Tile {
            dirty: false,
            client_hash: None,
            lossy: false,
            last_change_us: now_us,
            heat: Heat::default(),
            fb_hash: 0,
        };
        self.tiles = vec![black; self.cols as usize * self.rows as usize];
        self.viewer_rows = vec![scroll::UNKNOWN; usize::from(size.height) * usize::from(self.cols)];
        self.fb_rows = vec![scroll::UNKNOWN; self.viewer_rows.len()];
        // The viewer clears to black on a new size; record what it holds
        // (the framebuffer is black too).
        for idx in 0..self.tiles.len() {
            let hash = self.hash_tile(idx);
            self.tiles[idx].client_hash = Some(hash);
            self.rows_known(idx);
        }
    }

    /// The desktop changed size; the framebuffer (and the viewer) become black.
    pub fn resize(&mut self, size: Size, now_us: u64) {
        self.fb.reset(size);
        self.reset_grid(size, now_us);
        if self.overlay.is_some() {
            // The viewer is black; what it is sent is not (the pattern).
            self.refresh_all(now_us);
        }
    }

    /// The viewer wants everything again (a REFRESH, or it lost its picture).
    pub fn refresh_all(&mut self, now_us: u64) {
        self.flush_copies_to_damage();
        for t in &mut self.tiles {
            t.dirty = true;
            t.client_hash = None;
        }
        self.viewer_rows.fill(scroll::UNKNOWN);
        self.note_damage(now_us);
    }

    /// Blends `overlay` over everything sent from now on (`None`: nothing):
    /// every tile is sent again. While an overlay is set, the target's
    /// copy-rects and found scrolls are sent as pixels, since a copy would
    /// move the pattern with the content.
    pub fn set_overlay(&mut self, overlay: Option<Arc<Overlay>>, now_us: u64) {
        self.overlay = overlay;
        self.refresh_all(now_us);
    }

    /// The pixels of `rect` as the viewer is sent them: the framebuffer's,
    /// with the overlay blended over them.
    pub(crate) fn read_sent(&self, rect: Rect, out: &mut Vec<u8>) {
        self.fb
            .read(rect, out)
            .expect("tile rectangles lie inside the framebuffer");
        if let Some(overlay) = &self.overlay {
            overlay.apply(rect, out);
        }
    }

    fn tile_rect(&self, idx: usize) -> Rect {
        let size = self.fb.size();
        let col = (idx % self.cols as usize) as u16;
        let row = (idx / self.cols as usize) as u16;
        let x = col * self.tile;
        let y = row * self.tile;
        Rect::new(
            x,
            y,
            self.tile.min(size.width - x),
            self.tile.min(size.height - y),
        )
    }

    /// Indices of the tiles `rect` touches; `rect` must be inside the desktop.
    fn tiles_of(&self, rect: Rect) -> impl Iterator<Item = usize> + use<> {
        let t = self.tile as u32;
        let (c0, c1) = (rect.x as u32 / t, (rect.right() - 1) / t);
        let (r0, r1) = (rect.y as u32 / t, (rect.bottom() - 1) / t);
        let cols = self.cols as usize;
        (r0..=r1).flat_map(move |r| (c0..=c1).map(move |c| r as usize * cols + c as usize))
    }

    fn note_damage(&mut self, now_us: u64) {
        self.oldest_damage_us = Some(self.oldest_damage_us.map_or(now_us, |t| t.min(now_us)));
    }

    fn mark(&mut self, rect: Rect, now_us: u64) {
        for idx in self.tiles_of(rect) {
            let t = &mut self.tiles[idx];
            t.dirty = true;
            t.last_change_us = now_us;
        }
        self.note_damage(now_us);
    }

    /// The target drew pixels.
    pub fn draw_pixels(
        &mut self,
        rect: Rect,
        layout: PixelLayout,
        data: &[u8],
        now_us: u64,
    ) -> Result<(), DrawError> {
        self.fb.blit(rect, layout, data)?;
        self.mark(rect, now_us);
        Ok(())
    }

    /// The target filled a rectangle.
    pub fn fill(&mut self, rect: Rect, rgb: [u8; 3], now_us: u64) -> Result<(), DrawError> {
        self.fb.fill(rect, rgb)?;
        self.mark(rect, now_us);
        Ok(())
    }

    /// The target copied a rectangle. Passed through to the viewer as a COPY
    /// when the viewer's source content is known; otherwise plain damage.
    pub fn copy(&mut self, src: Point, dst: Rect, now_us: u64) -> Result<(), DrawError> {
        self.fb.copy(src, dst)?;
        if self.copies.len() >= self.settings.max_pending_copies {
            self.flush_copies_to_damage();
        }
        let src_rect = Rect::new(src.x, src.y, dst.width, dst.height);
        let src_known = self.tiles_of(src_rect).all(|i| {
            let t = &self.tiles[i];
            !t.dirty && t.client_hash.is_some()
        });
        if !src_known || self.settings.max_pending_copies == 0 || self.overlay.is_some() {
            self.mark(dst, now_us);
            return Ok(());
        }
        let src_lossy = self.tiles_of(src_rect).any(|i| self.tiles[i].lossy);
        self.copies.push((src, dst));
        let moved = self.moved_rows(src, dst);
        for idx in self.tiles_of(dst) {
            let rect = self.tile_rect(idx);
            let fully = dst.contains(&rect);
            let tile = self.tiles[idx];
            if (tile.dirty || tile.client_hash.is_none()) && !fully {
                // Part of the viewer's tile is stale and part was replaced.
                self.tiles[idx].client_hash = None;
                self.rows_unknown(idx);
            } else {
                // The viewer's tile now equals ours (within lossy error).
                let hash = match self.hash_moved_tile(idx, dst, &moved) {
                    Some(hash) => hash,
                    None => self.hash_tile(idx),
                };
                let t = &mut self.tiles[idx];
                t.client_hash = Some(hash);
                t.dirty = false;
                t.lossy = src_lossy || (t.lossy && !fully);
                self.rows_known(idx);
            }
            self.tiles[idx].last_change_us = now_us;
        }
        self.moved = moved;
        self.note_damage(now_us);
        Ok(())
    }

    /// Forgets pending copies; the tiles they would have updated are resent.
    fn flush_copies_to_damage(&mut self) {
        let copies = std::mem::take(&mut self.copies);
        for (_, dst) in copies {
            for idx in self.tiles_of(dst) {
                self.tiles[idx].dirty = true;
                self.tiles[idx].client_hash = None;
                self.rows_unknown(idx);
            }
        }
    }

    /// Whether a frame has anything to carry now.
    pub fn has_damage(&self, now_us: u64) -> bool {
        !self.copies.is_empty()
            || self
                .tiles
                .iter()
                .any(|t| t.dirty || t.client_hash.is_none() || self.settled(t, now_us))
    }

    fn settled(&self, t: &Tile, now_us: u64) -> bool {
        t.lossy && now_us.saturating_sub(t.last_change_us) >= self.settings.settle_us
    }

    /// When the next lossless refresh falls due, if any tile is lossy.
    pub fn next_refresh_at(&self) -> Option<u64> {
        self.tiles
            .iter()
            .filter(|t| t.lossy)
            .map(|t| t.last_change_us + self.settings.settle_us)
            .min()
    }

    /// Plans the next frame at `now_us`, or `None` when the viewer is up to date.
    pub fn plan(&mut self, now_us: u64) -> Option<FramePlan> {
        let mut copies = std::mem::take(&mut self.copies);
        // Every changed tile is hashed once, row by row: the rows serve
        // scroll detection and the viewer's rows, their hash the tile's.
        for idx in 0..self.tiles.len() {
            if self.changed(idx) {
                self.tiles[idx].fb_hash = self.hash_tile(idx);
            }
        }
        if self.settings.detect_scroll && self.overlay.is_none() {
            self.detect_scrolls(&mut copies);
        }
        let mut tiles = Vec::new();
        // Lossy tiles by index, with their quality: merged into larger
        // images below.
        let mut lossy = Vec::new();
        for idx in 0..self.tiles.len() {
            let tile = self.tiles[idx];
            let changed = tile.dirty || tile.client_hash.is_none();
            if !changed && !self.settled(&tile, now_us) {
                continue;
            }
            let hash = if changed {
                tile.fb_hash
            } else {
                self.hash_tile(idx)
            };
            let t = &mut self.tiles[idx];
            t.dirty = false;
            if changed && t.client_hash == Some(hash) {
                continue;
            }
            let rect = self.tile_rect(idx);
            let mut scratch = std::mem::take(&mut self.scratch);
            self.read_sent(rect, &mut scratch);
            self.scratch = scratch;
            let t = &mut self.tiles[idx];
            let refresh = !changed;
            if changed {
                t.heat.bump(now_us, self.settings.motion_half_life_us);
            }
            let quality = quality_at(t.heat.value, &self.settings);
            let kind = classify(&self.scratch, &self.settings, refresh);
            t.client_hash = Some(hash);
            t.lossy = kind == Kind::Lossy;
            self.rows_known(idx);
            let content = match kind {
                Kind::Solid(rgb) => TileContent::Solid(rgb),
                Kind::Lossless => TileContent::Lossless(std::mem::take(&mut self.scratch)),
                Kind::Lossy => {
                    lossy.push((idx, quality));
                    continue;
                }
            };
            tiles.push(TileJob { rect, content });
        }
        self.merge_lossy(&lossy, &mut tiles);
        let damage = self.oldest_damage_us.take();
        if copies.is_empty() && tiles.is_empty() {
            return None;
        }
        Some(FramePlan {
            copies,
            tiles,
            damage_time_us: damage.unwrap_or(now_us),
        })
    }
}

mod keyframe;
mod merge;
mod scroll;
#[cfg(test)]
mod tests;
