//! One measured viewer of a session: a task keeps its [`StreamViewer`]
//! reading (every tile decoded, every frame acknowledged), records each
//! frame's latency and hands out copies of the viewer's framebuffer on
//! request.

use anyhow::bail;
use oriel_testkit::{RgbImage, StreamViewer, ViewerEvent};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// One frame's arrival: when it was read (µs since the Unix epoch) and its
/// latency from the gateway's damage time, µs (negative only if the clocks
/// disagree, which they cannot on one machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub received_us: u64,
    pub latency_us: i64,
}

/// What a session's task shares with the measuring thread.
#[derive(Debug, Default)]
pub struct Shared {
    pub frames: AtomicU64,
    pub bytes: AtomicU64,
    /// WebP images decoded.
    pub webp: AtomicU64,
    pub arrivals: Mutex<Vec<Arrival>>,
}

impl Shared {
    /// Frames, bytes and WebP images so far.
    pub fn counters(&self) -> (u64, u64, u64) {
        (
            self.frames.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.webp.load(Ordering::Relaxed),
        )
    }

    /// Latencies (µs) of the frames read between two wall-clock instants.
    pub fn latencies_between(&self, from_us: u64, to_us: u64) -> Vec<i64> {
        let arrivals = self.arrivals.lock().map(|a| a.clone()).unwrap_or_default();
        arrivals
            .iter()
            .filter(|a| a.received_us >= from_us && a.received_us < to_us)
            .map(|a| a.latency_us)
            .collect()
    }
}

/// A request for a copy of the viewer's framebuffer.
pub type SnapshotRequest = oneshot::Sender<RgbImage>;

/// The handle of a running viewer (one of `--viewers-per-session` on a
/// session).
pub struct Session {
    /// The session's id.
    pub id: String,
    /// Index of the session, and of this viewer among the session's.
    pub session: usize,
    pub viewer: usize,
    /// Index of the target (display) it views.
    pub target: usize,
    pub shared: Arc<Shared>,
    pub snapshots: mpsc::UnboundedSender<SnapshotRequest>,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Session {
    /// The viewer's framebuffer now.
    pub async fn snapshot(&self) -> anyhow::Result<RgbImage> {
        let (tx, rx) = oneshot::channel();
        if self.snapshots.send(tx).is_err() {
            bail!("session {} no longer runs", self.id);
        }
        match tokio::time::timeout(Duration::from_secs(10), rx).await {
            Ok(Ok(image)) => Ok(image),
            Ok(Err(_)) => bail!("session {} ended before its snapshot", self.id),
            Err(_) => bail!("session {}: no snapshot within 10 s", self.id),
        }
    }
}

/// Keeps a viewer reading until `stop`. A stream that closes before `stop`
/// is an error, as is any protocol violation the viewer finds.
pub async fn drive(
    mut v: StreamViewer,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    mut requests: mpsc::UnboundedReceiver<SnapshotRequest>,
) -> anyhow::Result<()> {
    while !stop.load(Ordering::Relaxed) {
        let event = v.next(Instant::now() + Duration::from_millis(20)).await?;
        match event {
            Some(ViewerEvent::Closed(end, code)) => {
                bail!("stream closed early (end {end:?}, close code {code:?})")
            }
            Some(ViewerEvent::Frame(_)) => {
                let arrival = Arrival {
                    received_us: v.last_received_us,
                    latency_us: v.last_received_us as i64 - v.last_damage_time_us as i64,
                };
                if let Ok(mut a) = shared.arrivals.lock() {
                    a.push(arrival);
                }
            }
            _ => {}
        }
        shared.frames.store(v.frames, Ordering::Relaxed);
        shared.bytes.store(v.bytes, Ordering::Relaxed);
        shared.webp.store(v.webp_images, Ordering::Relaxed);
        while let Ok(reply) = requests.try_recv() {
            let _ = reply.send(v.image());
        }
    }
    Ok(())
}
