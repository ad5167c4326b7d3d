//! Encode once for several viewers of one session.
//!
//! While a session has two or more live streams, they share an
//! [`EncodeCache`] (from the [registry](crate::registry)). Before a plan goes
//! to the encode pool, its images already in the cache (the same pixels,
//! codec and quality, encoded for another viewer a moment ago) are taken
//! out; after encoding, the new images go in and the frame's operations are
//! put back in plan order.

use oriel_core_wire::{Codec, FrameOp};
use oriel_encoders_codecs::{CacheKey, EncodeCache, EncodedFrame};
use oriel_encoders_damage::{FramePlan, TileContent};
use std::sync::Arc;
use std::time::Instant;

/// One tile of the plan: already encoded, or to encode (and keep, if it
/// has a key).
enum Slot {
    Ready(FrameOp),
    Encode(Option<CacheKey>),
}

/// What `take_cached` took out of a plan, to put back with `complete`.
pub(crate) struct Pending {
    cache: Arc<EncodeCache>,
    slots: Vec<Slot>,
}

impl Pending {
    /// Images taken from the cache.
    pub(crate) fn reused(&self) -> u64 {
        self.slots
            .iter()
            .filter(|s| matches!(s, Slot::Ready(_)))
            .count() as u64
    }
}

/// The key of a planned tile encoded with `lossy` for lossy content; fills
/// are not worth caching.
fn key_of(content: &TileContent, width: u16, height: u16, lossy: Codec) -> Option<CacheKey> {
    match content {
        TileContent::Solid(_) => None,
        TileContent::Lossless(rgb) => Some(CacheKey::new(rgb, width, height, Codec::Png, 0)),
        TileContent::Lossy { rgb, quality } => {
            Some(CacheKey::new(rgb, width, height, lossy, *quality))
        }
    }
}

/// Takes the tiles of `plan` whose encoding `cache` holds out of it.
pub(crate) fn take_cached(plan: &mut FramePlan, cache: Arc<EncodeCache>, lossy: Codec) -> Pending {
    let now = Instant::now();
    let mut slots = Vec::with_capacity(plan.tiles.len());
    let tiles = std::mem::take(&mut plan.tiles);
    for tile in tiles {
        let key = key_of(&tile.content, tile.rect.width, tile.rect.height, lossy);
        let hit = key.and_then(|k| cache.get(&k, now).map(|data| (k, data)));
        match hit {
            Some((k, data)) => slots.push(Slot::Ready(FrameOp::Image {
                rect: tile.rect,
                codec: k.codec(),
                data: data.to_vec(),
            })),
            None => {
                slots.push(Slot::Encode(key));
                plan.tiles.push(tile);
            }
        }
    }
    Pending { cache, slots }
}

/// Puts the cached images back into `frame` in plan order and keeps the
/// newly encoded ones for the other viewers.
pub(crate) fn complete(pending: Pending, mut frame: EncodedFrame) -> EncodedFrame {
    let now = Instant::now();
    let copies = frame
        .ops
        .iter()
        .take_while(|op| matches!(op, FrameOp::Copy { .. }))
        .count();
    let mut encoded = frame.ops.split_off(copies).into_iter();
    for slot in pending.slots {
        match slot {
            Slot::Ready(op) => frame.ops.push(op),
            Slot::Encode(key) => {
                let Some(op) = encoded.next() else {
                    break;
                };
                if let (Some(key), FrameOp::Image { data, .. }) = (key, &op) {
                    pending
                        .cache
                        .put(key, bytes::Bytes::copy_from_slice(data), now);
                }
                frame.ops.push(op);
            }
        }
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use oriel_core_model::{Point, Rect};
    use oriel_encoders_codecs::EncodePool;
    use oriel_encoders_damage::TileJob;

    fn plan() -> FramePlan {
        let noise: Vec<u8> = (0..16 * 16 * 3).map(|i| (i * 37 % 251) as u8).collect();
        FramePlan {
            copies: vec![(Point::new(0, 0), Rect::new(0, 16, 16, 16))],
            tiles: vec![
                TileJob {
                    rect: Rect::new(16, 0, 16, 16),
                    content: TileContent::Solid([1, 2, 3]),
                },
                TileJob {
                    rect: Rect::new(32, 0, 16, 16),
                    content: TileContent::Lossless(vec![9; 16 * 16 * 3]),
                },
                TileJob {
                    rect: Rect::new(48, 0, 16, 16),
                    content: TileContent::Lossy {
                        rgb: noise,
                        quality: 60,
                    },
                },
            ],
            damage_time_us: 1,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_second_viewer_gets_the_first_viewers_images_in_plan_order() {
        let pool = EncodePool::new(2, 4).unwrap();
        let cache = Arc::new(EncodeCache::new(1 << 20));
        let encode = |mut p: FramePlan| {
            let pool = pool.clone();
            let cache = Arc::clone(&cache);
            async move {
                let pending = take_cached(&mut p, cache, Codec::Jpeg);
                let left = p.tiles.len();
                let frame = pool.encode_plan(p, Codec::Jpeg).await.unwrap();
                (left, complete(pending, frame))
            }
        };
        let (left, first) = encode(plan()).await;
        assert_eq!(left, 3, "nothing cached yet");
        let (left, second) = encode(plan()).await;
        assert_eq!(left, 1, "only the fill is encoded again");
        assert_eq!(first.ops, second.ops, "same operations, same order");
        assert_eq!(cache.hits(), 2);
        // Another lossy codec is another image.
        let mut p = plan();
        let _ = take_cached(&mut p, Arc::clone(&cache), Codec::Webp);
        assert_eq!(p.tiles.len(), 2);
    }
}
