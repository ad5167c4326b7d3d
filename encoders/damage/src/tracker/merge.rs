//! How planned tiles are sent: each tile classified (solid, lossless,
//! lossy), and adjacent lossy tiles merged into larger images.

use super::{DamageTracker, PlanSettings, TileContent, TileJob};
use oriel_core_model::Rect;

impl DamageTracker {
    /// Turns the lossy tiles of a plan (`(index, quality)`, in index order)
    /// into as few images as it can: adjacent tiles of one quality become one
    /// rectangle (runs along a row, then rows of the same run), up to
    /// `max_merged_pixels` (at least one tile). Each JPEG carries ~600 bytes of headers and
    /// tables, so a 640×360 video sent as 60 separate 64×64 tiles would spend
    /// more on headers than on pictures at motion quality; merged, it is one
    /// or two images.
    pub(super) fn merge_lossy(&mut self, lossy: &[(usize, u8)], out: &mut Vec<TileJob>) {
        if lossy.is_empty() {
            return;
        }
        let (cols, rows) = (self.cols as usize, self.rows as usize);
        // Quality of each tile still to place, 0 for none (qualities are 1–100).
        let mut grid = vec![0u8; self.tiles.len()];
        for &(idx, q) in lossy {
            grid[idx] = q;
        }
        let tile_px = usize::from(self.tile) * usize::from(self.tile);
        let max = self.settings.max_merged_pixels.max(tile_px);
        for &(idx, q) in lossy {
            if grid[idx] == 0 {
                continue;
            }
            let (c0, r0) = (idx % cols, idx / cols);
            let mut c1 = c0 + 1;
            while c1 < cols && grid[r0 * cols + c1] == q && (c1 + 1 - c0) * tile_px <= max {
                c1 += 1;
            }
            let width = c1 - c0;
            let mut r1 = r0 + 1;
            while r1 < rows
                && (r1 + 1 - r0) * width * tile_px <= max
                && (c0..c1).all(|c| grid[r1 * cols + c] == q)
            {
                r1 += 1;
            }
            for r in r0..r1 {
                grid[r * cols + c0..r * cols + c1].fill(0);
            }
            let first = self.tile_rect(idx);
            let last = self.tile_rect((r1 - 1) * cols + c1 - 1);
            let rect = Rect::new(
                first.x,
                first.y,
                last.x + last.width - first.x,
                last.y + last.height - first.y,
            );
            let mut rgb = Vec::new();
            self.read_sent(rect, &mut rgb);
            out.push(TileJob {
                rect,
                content: TileContent::Lossy { rgb, quality: q },
            });
        }
    }
}

/// How a tile is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Solid([u8; 3]),
    Lossless,
    Lossy,
}

/// Decides how a tile is sent. `refresh` forces lossless.
pub(super) fn classify(rgb: &[u8], settings: &PlanSettings, refresh: bool) -> Kind {
    let first = [rgb[0], rgb[1], rgb[2]];
    let mut palette: Vec<[u8; 3]> = vec![first];
    let mut last = first;
    let mut colourful = false;
    for px in rgb.chunks_exact(3) {
        let c = [px[0], px[1], px[2]];
        if c == last {
            continue;
        }
        last = c;
        if !palette.contains(&c) {
            palette.push(c);
            if palette.len() > settings.lossless_max_colors {
                colourful = true;
                break;
            }
        }
    }
    if palette.len() == 1 {
        Kind::Solid(first)
    } else if colourful && !refresh {
        Kind::Lossy
    } else {
        Kind::Lossless
    }
}
