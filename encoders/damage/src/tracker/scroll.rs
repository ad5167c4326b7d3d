//! Scroll detection: changed content the viewer already holds a few rows
//! higher or lower is sent as a copy instead of as pixels.
//!
//! Targets that scroll by repainting rather than by a copy order (a web
//! browser scrolling a page, a terminal rendered on the gateway) would
//! otherwise resend every tile of the scrolled area. The tracker keeps, for every
//! pixel row of every tile column, the hash of what the viewer holds there
//! ([`UNKNOWN`] when it does not know). When a run of changed tiles in a
//! column is planned, the new rows are hashed, a few distinctive ones are
//! looked up among the viewer's rows up to [`SEARCH`] pixels away, and when
//! most agree on one offset, every band of rows that matches at that offset
//! becomes a copy within the column. Tiles the copies reproduce entirely are
//! not sent; the others are sent as usual. Only equal row hashes make a copy,
//! so a wrong guess costs a little hashing, never a wrong picture.

use super::{DamageTracker, xxh3_64};
use oriel_core_model::{Point, Rect};

/// The viewer's content of a row is not known.
pub(super) const UNKNOWN: u64 = 0;
/// How far (pixels) above and below a changed run its old content is looked for.
const SEARCH: usize = 1024;
/// Distinctive rows of a run looked up to find the offset.
const SAMPLES: usize = 8;
/// A sample matching more places than this says nothing (a repeated pattern).
const MAX_MATCHES: usize = 4;
/// A copied band must be at least this many rows high.
const MIN_BAND: usize = 8;

/// Hash of one row segment; never [`UNKNOWN`].
pub(super) fn row_hash(bytes: &[u8]) -> u64 {
    match xxh3_64(bytes) {
        UNKNOWN => 1,
        h => h,
    }
}

/// A band of rows `[dst, dst + len)` of a column that a copy from
/// `dst + dy` reproduces.
struct Band {
    dst: usize,
    len: usize,
}

impl DamageTracker {
    /// Left edge and width of tile column `c`.
    fn column(&self, c: usize) -> (usize, usize) {
        let x = c * usize::from(self.tile);
        let width = usize::from(self.fb.size().width);
        (x, usize::from(self.tile).min(width - x))
    }

    /// Hashes the framebuffer's rows of tile `idx` into `fb_rows` and
    /// returns the tile's hash (a hash of its row hashes), without copying
    /// the pixels out.
    pub(super) fn hash_tile(&mut self, idx: usize) -> u64 {
        let cols = usize::from(self.cols);
        let (c, rect) = (idx % cols, self.tile_rect(idx));
        let (x, w) = self.column(c);
        let stride = usize::from(self.fb.size().width) * 3;
        let rgb = self.fb.as_rgb();
        // Tiles are at most 256 rows high.
        let mut rows = [0u8; 256 * 8];
        let (y0, y1) = (usize::from(rect.y), rect.bottom() as usize);
        for y in y0..y1 {
            let start = y * stride + x * 3;
            let h = row_hash(&rgb[start..start + w * 3]);
            self.fb_rows[y * cols + c] = h;
            rows[(y - y0) * 8..(y - y0 + 1) * 8].copy_from_slice(&h.to_le_bytes());
        }
        xxh3_64(&rows[..(y1 - y0) * 8])
    }

    /// For a vertical copy to `dst` (source at the same `x`) whose source
    /// tiles the viewer holds: the viewer's row hashes of the source rows,
    /// column by column (`(column - first column) * dst.height + row`),
    /// taken before the copy's destination rows are updated. Empty for other
    /// copies. Reuses the tracker's buffer.
    pub(super) fn moved_rows(&mut self, src: Point, dst: Rect) -> Vec<u64> {
        let mut out = std::mem::take(&mut self.moved);
        out.clear();
        if src.x != dst.x {
            return out;
        }
        let cols = usize::from(self.cols);
        let tile = u32::from(self.tile);
        let (c0, c1) = (u32::from(dst.x) / tile, (dst.right() - 1) / tile);
        let (y0, h) = (usize::from(src.y), usize::from(dst.height));
        for c in c0 as usize..=c1 as usize {
            out.extend((y0..y0 + h).map(|y| self.viewer_rows[y * cols + c]));
        }
        out
    }

    /// The hash of tile `idx` after a vertical copy to `dst` that covers it,
    /// from the rows the viewer held at the source ([`moved_rows`](Self::moved_rows))
    /// instead of from the pixels: where the source tiles are held by the
    /// viewer, their known rows are the framebuffer's. Fills `fb_rows` like
    /// [`hash_tile`](Self::hash_tile); `None` when the tile is not covered
    /// or a row is not known.
    pub(super) fn hash_moved_tile(&mut self, idx: usize, dst: Rect, moved: &[u64]) -> Option<u64> {
        let rect = self.tile_rect(idx);
        if moved.is_empty() || !dst.contains(&rect) {
            return None;
        }
        let cols = usize::from(self.cols);
        let c = idx % cols;
        let c0 = usize::from(dst.x) / usize::from(self.tile);
        let h = usize::from(dst.height);
        let (y0, y1) = (usize::from(rect.y), rect.bottom() as usize);
        let column = &moved[(c - c0) * h..(c - c0 + 1) * h];
        let mut rows = [0u8; 256 * 8];
        for y in y0..y1 {
            let hash = column[y - usize::from(dst.y)];
            if hash == UNKNOWN {
                return None;
            }
            self.fb_rows[y * cols + c] = hash;
            rows[(y - y0) * 8..(y - y0 + 1) * 8].copy_from_slice(&hash.to_le_bytes());
        }
        Some(xxh3_64(&rows[..(y1 - y0) * 8]))
    }

    /// The viewer now holds the framebuffer's content in tile `idx`, whose
    /// rows [`hash_tile`](Self::hash_tile) hashed since the framebuffer last
    /// changed.
    pub(super) fn rows_known(&mut self, idx: usize) {
        let cols = usize::from(self.cols);
        let (c, rect) = (idx % cols, self.tile_rect(idx));
        for y in usize::from(rect.y)..rect.bottom() as usize {
            self.viewer_rows[y * cols + c] = self.fb_rows[y * cols + c];
        }
    }

    /// What the viewer holds in tile `idx` is not known row by row.
    pub(super) fn rows_unknown(&mut self, idx: usize) {
        let cols = usize::from(self.cols);
        let (c, rect) = (idx % cols, self.tile_rect(idx));
        for y in usize::from(rect.y)..rect.bottom() as usize {
            self.viewer_rows[y * cols + c] = UNKNOWN;
        }
    }

    pub(super) fn changed(&self, idx: usize) -> bool {
        let t = &self.tiles[idx];
        t.dirty || t.client_hash.is_none()
    }

    /// Adds to `copies` the moves found in runs of changed tiles, and marks
    /// the tiles they reproduce as held by the viewer.
    pub(super) fn detect_scrolls(&mut self, copies: &mut Vec<(Point, Rect)>) {
        let (cols, rows) = (usize::from(self.cols), usize::from(self.rows));
        let tile = usize::from(self.tile);
        let height = usize::from(self.fb.size().height);
        for c in 0..cols {
            let mut r = 0;
            while r < rows {
                if !self.changed(r * cols + c) {
                    r += 1;
                    continue;
                }
                let r0 = r;
                while r < rows && self.changed(r * cols + c) {
                    r += 1;
                }
                self.detect_in_run(c, r0 * tile, (r * tile).min(height), copies);
            }
        }
    }

    /// One run of changed rows `[y0, y1)` (whole tiles) of column `c`, whose
    /// tiles [`hash_tile`](Self::hash_tile) hashed.
    fn detect_in_run(&mut self, c: usize, y0: usize, y1: usize, copies: &mut Vec<(Point, Rect)>) {
        let cols = usize::from(self.cols);
        let height = usize::from(self.fb.size().height);
        let new: Vec<u64> = (y0..y1).map(|y| self.fb_rows[y * cols + c]).collect();
        let Some(dy) = self.find_offset(c, y0, &new) else {
            return;
        };
        let bands = self.bands(c, y0, &new, dy);
        if bands.is_empty() {
            return;
        }
        let (x, w) = self.column(c);
        let tile = usize::from(self.tile);
        let mut src_lossy = false;
        for b in &bands {
            let src = b.dst.wrapping_add_signed(dy);
            copies.push((
                Point::new(x as u16, src as u16),
                Rect::new(x as u16, b.dst as u16, w as u16, b.len as u16),
            ));
            for t in src / tile..=(src + b.len - 1) / tile {
                src_lossy |= self.tiles[t * cols + c].lossy;
            }
            for y in b.dst..b.dst + b.len {
                self.viewer_rows[y * cols + c] = new[y - y0];
            }
        }
        // Tiles of the run: reproduced entirely, or partly overwritten.
        for r in y0 / tile..y1.div_ceil(tile) {
            let (ta, tb) = (r * tile, ((r + 1) * tile).min(height));
            if !bands.iter().any(|b| b.dst < tb && ta < b.dst + b.len) {
                continue;
            }
            let idx = r * cols + c;
            if (ta..tb).all(|y| self.viewer_rows[y * cols + c] == new[y - y0]) {
                let t = &mut self.tiles[idx];
                t.client_hash = Some(t.fb_hash);
                t.lossy |= src_lossy;
            } else {
                self.tiles[idx].client_hash = None;
            }
        }
    }

    /// The offset `dy` (new row `y` = the viewer's row `y + dy`) most
    /// distinctive rows of the run agree on, if any.
    fn find_offset(&self, c: usize, y0: usize, new: &[u64]) -> Option<isize> {
        let cols = usize::from(self.cols);
        let height = usize::from(self.fb.size().height);
        // Rows unlike the row above: uniform background says nothing.
        let distinct: Vec<usize> = (1..new.len()).filter(|&i| new[i] != new[i - 1]).collect();
        if distinct.len() < 2 {
            return None;
        }
        let step = distinct.len().div_ceil(SAMPLES);
        let (lo, hi) = (
            y0.saturating_sub(SEARCH),
            (y0 + new.len() + SEARCH).min(height),
        );
        let mut votes: Vec<(isize, usize)> = Vec::new();
        let mut samples = 0;
        for &i in distinct.iter().step_by(step) {
            let (y, h) = (y0 + i, new[i]);
            let found: Vec<usize> = (lo..hi)
                .filter(|&yy| yy != y && self.viewer_rows[yy * cols + c] == h)
                .take(MAX_MATCHES + 1)
                .collect();
            samples += 1;
            if found.len() > MAX_MATCHES {
                continue;
            }
            for yy in found {
                let dy = yy as isize - y as isize;
                match votes.iter_mut().find(|(d, _)| *d == dy) {
                    Some((_, n)) => *n += 1,
                    None => votes.push((dy, 1)),
                }
            }
        }
        let (dy, n) = votes.into_iter().max_by_key(|&(_, n)| n)?;
        (n >= 2 && n * 2 >= samples).then_some(dy)
    }

    /// Bands of the run that the viewer's rows at offset `dy` reproduce,
    /// each covering at least one whole tile, whose sources no earlier band
    /// of this column overwrites.
    fn bands(&self, c: usize, y0: usize, new: &[u64], dy: isize) -> Vec<Band> {
        let cols = usize::from(self.cols);
        let height = usize::from(self.fb.size().height);
        let tile = usize::from(self.tile);
        let matches = |i: usize| {
            let src = (y0 + i).checked_add_signed(dy).filter(|&s| s < height);
            src.is_some_and(|s| {
                let old = self.viewer_rows[s * cols + c];
                old != UNKNOWN && old == new[i]
            })
        };
        let mut bands: Vec<Band> = Vec::new();
        let mut i = 0;
        while i < new.len() {
            if !matches(i) {
                i += 1;
                continue;
            }
            let start = i;
            while i < new.len() && matches(i) {
                i += 1;
            }
            let (dst, len) = (y0 + start, i - start);
            let src = dst.wrapping_add_signed(dy);
            let whole_tile = dst.div_ceil(tile) * tile + tile <= dst + len
                || (dst + len == height && dst.div_ceil(tile) * tile < height);
            let overwritten = bands
                .iter()
                .any(|b| b.dst < src + len && src < b.dst + b.len);
            if len >= MIN_BAND && whole_tile && !overwritten {
                bands.push(Band { dst, len });
            }
        }
        bands
    }
}
