//! One bounded encode pool for the whole process.
//!
//! A fixed number of worker threads take jobs from a queue. Callers await a
//! permit before queueing (at most `queue_depth` jobs queued or running), so
//! a burst of sessions slows down instead of growing memory, and a frame's
//! tiles are split into as many jobs as there are workers so one large
//! frame still uses every core.
//!
//! A small frame (at most [`INLINE_MAX_PIXELS`], a few tiles: a typed
//! character, a line of text, a moved cursor) is encoded on the caller's
//! thread instead: handing it to a worker and waking the caller again costs
//! more than encoding it, and at tens of frames a second per session those
//! round trips dominated the gateway's CPU. Its cost is bounded by the size
//! and by the one frame a stream encodes at a time.

use crate::encode::{CodecError, encode_tile};
use oriel_core_wire::{Codec, FrameOp};
use oriel_encoders_damage::{FramePlan, TileContent, TileJob};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;
use tokio::sync::{Semaphore, oneshot};

type Job = Box<dyn FnOnce() + Send>;

/// Frames of at most this many tile pixels are encoded on the calling
/// thread (eight 64×64 tiles: well under a millisecond as PNG).
pub const INLINE_MAX_PIXELS: u64 = 8 * 64 * 64;

/// Encoded tiles of one job (`(plan index, op)`), the time spent, and the
/// lossy pixels and their time.
type Encoded = (Vec<(usize, Result<FrameOp, CodecError>)>, u64, (u64, u64));

/// Encodes `tiles` (with their plan indices) one after the other.
fn encode_tiles(tiles: Vec<(usize, TileJob)>, lossy: Codec) -> Encoded {
    let mut out = Vec::with_capacity(tiles.len());
    let (mut cpu_us, mut lossy_px, mut lossy_us) = (0u64, 0u64, 0u64);
    for (i, tile) in tiles {
        let is_lossy = matches!(tile.content, TileContent::Lossy { .. });
        let px = u64::from(tile.rect.area());
        let t0 = Instant::now();
        let op = encode_tile(tile, lossy);
        let us = t0.elapsed().as_micros() as u64;
        cpu_us += us;
        if is_lossy {
            lossy_px += px;
            lossy_us += us;
        }
        out.push((i, op));
    }
    (out, cpu_us, (lossy_px, lossy_us))
}

struct Shared {
    queue: Mutex<VecDeque<Job>>,
    ready: Condvar,
    stop: AtomicBool,
}

struct Handle {
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
    threads: usize,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.ready.notify_all();
    }
}

/// The process-wide encode pool. Cheap to clone; the threads stop when the
/// last clone is dropped.
#[derive(Clone)]
pub struct EncodePool {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for EncodePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodePool")
            .field("threads", &self.handle.threads)
            .field("free_permits", &self.handle.permits.available_permits())
            .finish()
    }
}

/// What encoding a frame cost and produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Tiles sent as fills.
    pub fills: u32,
    /// Tiles sent as PNG, and their bytes.
    pub png: (u32, u64),
    /// Tiles sent as JPEG, and their bytes.
    pub jpeg: (u32, u64),
    /// Tiles sent as WebP, and their bytes.
    pub webp: (u32, u64),
    /// Pixels of the lossy tiles, and the time (µs) spent encoding them.
    pub lossy: (u64, u64),
    /// Wall time from submission to the last tile, µs.
    pub wall_us: u64,
    /// Sum of the time spent encoding each tile, µs.
    pub cpu_us: u64,
}

/// A frame's operations in order (copies, then tiles), and its stats.
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    /// Operations for the FRAME message.
    pub ops: Vec<FrameOp>,
    /// Cost and content.
    pub stats: FrameStats,
}

impl EncodePool {
    /// A pool of `threads` workers (at least 1) admitting `queue_depth` jobs
    /// (at least `threads`) at a time.
    pub fn new(threads: usize, queue_depth: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        for i in 0..threads {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("oriel-encode-{i}"))
                .spawn(move || worker(&shared))?;
        }
        Ok(EncodePool {
            handle: Arc::new(Handle {
                shared,
                permits: Arc::new(Semaphore::new(queue_depth.max(threads))),
                threads,
            }),
        })
    }

    /// Number of worker threads.
    pub fn threads(&self) -> usize {
        self.handle.threads
    }

    /// Runs `f` on a worker, waiting for room in the queue first.
    pub async fn run<T, F>(&self, f: F) -> Result<T, CodecError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = Arc::clone(&self.handle.permits)
            .acquire_owned()
            .await
            .map_err(|_| CodecError::PoolStopped)?;
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let out = f();
            drop(permit);
            let _ = tx.send(out);
        });
        {
            let mut q = self
                .handle
                .shared
                .queue
                .lock()
                .map_err(|_| CodecError::PoolStopped)?;
            q.push_back(job);
        }
        self.handle.shared.ready.notify_one();
        rx.await.map_err(|_| CodecError::PoolStopped)
    }

    /// Encodes every tile of `plan` in parallel, lossy ones with `lossy`
    /// (see [`encode_tile`]); copies first, tiles in plan order.
    pub async fn encode_plan(
        &self,
        plan: FramePlan,
        lossy: Codec,
    ) -> Result<EncodedFrame, CodecError> {
        let started = Instant::now();
        let FramePlan { copies, tiles, .. } = plan;
        let n_tiles = tiles.len();
        let pixels: u64 = tiles.iter().map(|t| u64::from(t.rect.area())).sum();
        let results = if pixels <= INLINE_MAX_PIXELS {
            // A panicking codec fails the frame, as on a worker.
            let tiles = tiles.into_iter().enumerate().collect();
            vec![
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    encode_tiles(tiles, lossy)
                }))
                .map_err(|_| CodecError::Panicked),
            ]
        } else {
            let batches = self.handle.threads.min(n_tiles).max(1);
            let mut buckets: Vec<Vec<(usize, TileJob)>> =
                (0..batches).map(|_| Vec::new()).collect();
            for (i, tile) in tiles.into_iter().enumerate() {
                buckets[i % batches].push((i, tile));
            }
            let jobs = buckets
                .into_iter()
                .map(|bucket| self.run(move || encode_tiles(bucket, lossy)));
            futures_util::future::join_all(jobs).await
        };
        let mut stats = FrameStats::default();
        let mut slots: Vec<Option<FrameOp>> = (0..n_tiles).map(|_| None).collect();
        for result in results {
            let (ops, cpu_us, (lossy_px, lossy_us)) = result?;
            stats.cpu_us += cpu_us;
            stats.lossy.0 += lossy_px;
            stats.lossy.1 += lossy_us;
            for (i, op) in ops {
                slots[i] = Some(op?);
            }
        }
        let mut ops: Vec<FrameOp> = copies
            .into_iter()
            .map(|(src, dst)| FrameOp::Copy { src, dst })
            .collect();
        for op in slots.into_iter().flatten() {
            match &op {
                FrameOp::Fill { .. } => stats.fills += 1,
                FrameOp::Image { codec, data, .. } => {
                    let slot = match codec {
                        Codec::Png => &mut stats.png,
                        Codec::Jpeg => &mut stats.jpeg,
                        Codec::Webp => &mut stats.webp,
                    };
                    slot.0 += 1;
                    slot.1 += data.len() as u64;
                }
                FrameOp::Copy { .. } => {}
            }
            ops.push(op);
        }
        stats.wall_us = started.elapsed().as_micros() as u64;
        Ok(EncodedFrame { ops, stats })
    }
}

fn worker(shared: &Shared) {
    loop {
        let job = {
            let Ok(mut q) = shared.queue.lock() else {
                return;
            };
            loop {
                if let Some(job) = q.pop_front() {
                    break job;
                }
                if shared.stop.load(Ordering::SeqCst) {
                    return;
                }
                q = match shared.ready.wait(q) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
        };
        // A panicking codec must not take the worker down with it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oriel_core_model::{Point, Rect};
    use oriel_encoders_damage::TileContent;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn frame_ops_keep_plan_order_with_copies_first() {
        let pool = EncodePool::new(2, 4).unwrap();
        // 8×8 tiles are encoded inline, 64×64 ones on the workers.
        for side in [8u16, 64] {
            let tiles: Vec<TileJob> = (0..10u16)
                .map(|i| TileJob {
                    rect: Rect::new(i * side, 0, side, side),
                    content: if i % 2 == 0 {
                        TileContent::Solid([i as u8, 0, 0])
                    } else {
                        TileContent::Lossless(vec![i as u8; usize::from(side * side) * 3])
                    },
                })
                .collect();
            let pixels: u64 = tiles.iter().map(|t| u64::from(t.rect.area())).sum();
            assert_eq!(pixels > INLINE_MAX_PIXELS, side == 64);
            let plan = FramePlan {
                copies: vec![(Point::new(0, 0), Rect::new(0, side, side, side))],
                tiles,
                damage_time_us: 0,
            };
            let frame = pool.encode_plan(plan, Codec::Jpeg).await.unwrap();
            assert_eq!(frame.ops.len(), 11);
            assert!(matches!(frame.ops[0], FrameOp::Copy { .. }));
            for (i, op) in frame.ops[1..].iter().enumerate() {
                assert_eq!(op.rect().x, i as u16 * side);
            }
            assert_eq!(frame.stats.fills, 5);
            assert_eq!(frame.stats.png.0, 5);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queue_is_bounded_and_all_jobs_complete() {
        let pool = EncodePool::new(2, 2).unwrap();
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let max_seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let pool = pool.clone();
            let running = Arc::clone(&running);
            let max_seen = Arc::clone(&max_seen);
            tasks.push(tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    max_seen.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert!(max_seen.load(Ordering::SeqCst) <= 2);
        // A panicking job fails its caller but not the pool.
        assert!(pool.run(|| panic!("boom")).await.is_err());
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }
}
