//! Encode once for several viewers of one session.
//!
//! When two viewers watch the same session (a user on two screens, a
//! colleague shadowing, a reconnect overlapping the old stream), their
//! trackers plan the same tiles within milliseconds of each other. An
//! [`EncodeCache`] shared by the streams of one session keeps what was just
//! encoded, keyed by the exact content (128-bit hash of the pixels, the
//! size) and how it was encoded (codec and quality), so the second viewer's
//! tiles are copied, not encoded again. It never crosses sessions: a
//! session's cache holds only its own pixels.
//!
//! Bounded twice: by bytes (oldest entries go first) and by age (entries
//! older than [`MAX_AGE`] are useless: viewers in step ask within a frame or
//! two).

use bytes::Bytes;
use oriel_core_wire::Codec;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use xxhash_rust::xxh3::xxh3_128;

/// Entries older than this are dropped.
pub const MAX_AGE: Duration = Duration::from_secs(2);

/// What an image is: its pixels and how they are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pixels: u128,
    width: u16,
    height: u16,
    codec: Codec,
    quality: u8,
}

impl CacheKey {
    /// The key of RGB `pixels` of `width`×`height` encoded with `codec` at
    /// `quality` (0 for lossless).
    pub fn new(pixels: &[u8], width: u16, height: u16, codec: Codec, quality: u8) -> CacheKey {
        CacheKey {
            pixels: xxh3_128(pixels),
            width,
            height,
            codec,
            quality,
        }
    }

    /// The codec the image is encoded with.
    pub fn codec(&self) -> Codec {
        self.codec
    }
}

struct Inner {
    map: HashMap<CacheKey, (Bytes, Instant)>,
    order: VecDeque<CacheKey>,
    bytes: usize,
}

/// Recently encoded images of one session, shared by its streams.
pub struct EncodeCache {
    inner: Mutex<Inner>,
    max_bytes: usize,
    hits: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for EncodeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodeCache")
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl EncodeCache {
    /// A cache holding at most `max_bytes` of encoded images.
    pub fn new(max_bytes: usize) -> EncodeCache {
        EncodeCache {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
            }),
            max_bytes,
            hits: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The encoded image for `key`, if another stream made it recently.
    pub fn get(&self, key: &CacheKey, now: Instant) -> Option<Bytes> {
        let inner = self.inner.lock().ok()?;
        let (data, at) = inner.map.get(key)?;
        if now.saturating_duration_since(*at) > MAX_AGE {
            return None;
        }
        self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(data.clone())
    }

    /// Keeps `data` as the encoding of `key`; evicts the oldest entries
    /// beyond the byte budget or the age limit. Images larger than the whole
    /// budget are not kept.
    pub fn put(&self, key: CacheKey, data: Bytes, now: Instant) {
        if data.len() > self.max_bytes {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let len = data.len();
        if let Some((old, _)) = inner.map.insert(key, (data, now)) {
            inner.bytes -= old.len();
            inner.order.retain(|k| *k != key);
        }
        inner.bytes += len;
        inner.order.push_back(key);
        while let Some(oldest) = inner.order.front().copied() {
            let expired = inner
                .map
                .get(&oldest)
                .is_none_or(|(_, at)| now.saturating_duration_since(*at) > MAX_AGE);
            if inner.bytes <= self.max_bytes && !expired {
                break;
            }
            inner.order.pop_front();
            if let Some((old, _)) = inner.map.remove(&oldest) {
                inner.bytes -= old.len();
            }
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.bytes)
    }

    /// Images served from the cache so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8, codec: Codec, quality: u8) -> CacheKey {
        CacheKey::new(&[seed; 48], 4, 4, codec, quality)
    }

    #[test]
    fn the_same_pixels_and_encoding_hit_anything_else_misses() {
        let c = EncodeCache::new(1 << 20);
        let t0 = Instant::now();
        c.put(key(1, Codec::Jpeg, 80), Bytes::from_static(b"jpeg"), t0);
        assert_eq!(
            c.get(&key(1, Codec::Jpeg, 80), t0).as_deref(),
            Some(&b"jpeg"[..])
        );
        assert!(
            c.get(&key(1, Codec::Jpeg, 50), t0).is_none(),
            "other quality"
        );
        assert!(c.get(&key(1, Codec::Webp, 80), t0).is_none(), "other codec");
        assert!(
            c.get(&key(2, Codec::Jpeg, 80), t0).is_none(),
            "other pixels"
        );
        let other_size = CacheKey::new(&[1; 48], 8, 2, Codec::Jpeg, 80);
        assert!(c.get(&other_size, t0).is_none(), "other size");
        assert_eq!(c.hits(), 1);
    }

    #[test]
    fn bounded_by_bytes_and_by_age() {
        let c = EncodeCache::new(10);
        let t0 = Instant::now();
        for i in 0..5u8 {
            c.put(key(i, Codec::Png, 0), Bytes::from(vec![i; 4]), t0);
        }
        assert!(c.bytes() <= 10);
        assert!(
            c.get(&key(0, Codec::Png, 0), t0).is_none(),
            "oldest evicted"
        );
        assert!(c.get(&key(4, Codec::Png, 0), t0).is_some());
        // Too large for the budget: not kept, nothing evicted for it.
        c.put(key(9, Codec::Png, 0), Bytes::from(vec![0; 11]), t0);
        assert!(c.get(&key(4, Codec::Png, 0), t0).is_some());
        // Old entries no longer answer, and go at the next insertion.
        let later = t0 + MAX_AGE + Duration::from_millis(1);
        assert!(c.get(&key(4, Codec::Png, 0), later).is_none());
        c.put(key(7, Codec::Png, 0), Bytes::from(vec![7; 2]), later);
        assert_eq!(c.bytes(), 2);
    }
}
