//! Keyframes: the whole picture, for a viewer that joins a session late or
//! fell behind the others.
//!
//! The tracker keeps one model of what the viewers hold (they all applied the
//! same frames). A viewer that missed frames, or starts from black, cannot
//! apply the next frame (its copy-rects read content it does not have); it
//! gets a keyframe instead. A keyframe is planned in the same step as a
//! frame, right after it: at that instant every tile of the model equals the
//! framebuffer (exactly, or approximately where the model is lossy), so the
//! viewer that applies the keyframe holds what the others hold once they
//! applied the frame, and from then on takes the same frames as they do.
//! Tiles the model holds lossily go lossy in the keyframe too, and are
//! refreshed losslessly for every viewer when they settle; all others go
//! losslessly, since no refresh will come for them.

use super::{DamageTracker, FramePlan, TileContent, TileJob, quality_at};
use super::{Kind, classify};

impl DamageTracker {
    /// Plans the next frame at `now_us` like [`plan`](Self::plan), and in the
    /// same step a keyframe: the whole picture as the viewers hold it once
    /// they applied that frame. With `from_black` the keyframe is for a
    /// viewer that starts black (a new connection) and leaves out black
    /// tiles. Either part is `None` when it would be empty.
    pub fn plan_with_keyframe(
        &mut self,
        now_us: u64,
        from_black: bool,
    ) -> (Option<FramePlan>, Option<FramePlan>) {
        let frame = self.plan(now_us);
        let keyframe = self.keyframe(now_us, from_black);
        (frame, keyframe)
    }

    /// The whole picture; only valid right after [`plan`](Self::plan), when
    /// no change is pending.
    fn keyframe(&mut self, now_us: u64, from_black: bool) -> Option<FramePlan> {
        let mut tiles = Vec::new();
        let mut lossy = Vec::new();
        for idx in 0..self.tiles.len() {
            let rect = self.tile_rect(idx);
            let mut scratch = std::mem::take(&mut self.scratch);
            self.read_sent(rect, &mut scratch);
            self.scratch = scratch;
            let tile = self.tiles[idx];
            // Lossless wherever the model is: no refresh will follow there.
            match classify(&self.scratch, &self.settings, !tile.lossy) {
                Kind::Solid([0, 0, 0]) if from_black => {}
                Kind::Solid(rgb) => tiles.push(TileJob {
                    rect,
                    content: TileContent::Solid(rgb),
                }),
                Kind::Lossless => tiles.push(TileJob {
                    rect,
                    content: TileContent::Lossless(std::mem::take(&mut self.scratch)),
                }),
                Kind::Lossy => lossy.push((idx, quality_at(tile.heat.value, &self.settings))),
            }
        }
        self.merge_lossy(&lossy, &mut tiles);
        (!tiles.is_empty()).then_some(FramePlan {
            copies: Vec::new(),
            tiles,
            damage_time_us: now_us,
        })
    }
}
