//! Tile encode cost on fixture tiles: text-like (few colours: indexed PNG),
//! photo-like (JPEG, and PNG for the lossless refresh) and a whole 1080p
//! frame through the pool.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oriel_core_model::{PixelLayout, Rect, Size};
use oriel_core_wire::Codec;
use oriel_encoders_codecs::{EncodePool, encode_jpeg, encode_png_rgb, encode_webp};
use oriel_encoders_damage::{DamageTracker, PlanSettings};
use std::hint::black_box;

fn text_tile() -> Vec<u8> {
    (0..64 * 64)
        .flat_map(|i| {
            let (x, y) = (i % 64, i / 64);
            let ink = (x / 3 + y / 5) % 4 == 0 && y % 12 < 9;
            if ink { [20, 20, 20] } else { [250, 250, 245] }
        })
        .collect()
}

fn photo_tile(seed: u32) -> Vec<u8> {
    (0..64 * 64u32)
        .flat_map(|i| {
            let (x, y) = (i % 64, i / 64);
            [
                ((x * 4 + seed) % 256) as u8,
                ((y * 4 + x / 3) % 256) as u8,
                (((x ^ y) * 3 + seed) % 256) as u8,
            ]
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let text = text_tile();
    let photo = photo_tile(3);
    let mut g = c.benchmark_group("tile_64x64");
    g.throughput(Throughput::Elements(64 * 64));
    g.bench_function("png_text", |b| {
        b.iter(|| encode_png_rgb(black_box(&text), 64, 64))
    });
    g.bench_function("png_photo", |b| {
        b.iter(|| encode_png_rgb(black_box(&photo), 64, 64))
    });
    g.bench_function("jpeg_photo_q80", |b| {
        b.iter(|| encode_jpeg(black_box(&photo), 64, 64, 80))
    });
    g.bench_function("webp_photo_q80", |b| {
        b.iter(|| encode_webp(black_box(&photo), 64, 64, 80))
    });
    g.finish();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("runtime");
    let pool = EncodePool::new(2, 8).expect("pool");
    let size = Size::new(1920, 1080);
    let frames: Vec<Vec<u8>> = (0..2)
        .map(|s| {
            (0..1080u32)
                .flat_map(|y| {
                    (0..1920u32).flat_map(move |x| {
                        if y < 540 {
                            [
                                ((x + s) % 256) as u8,
                                (y % 256) as u8,
                                ((x ^ y) % 256) as u8,
                            ]
                        } else if (x / 3 + y / 5 + s) % 4 == 0 {
                            [20, 20, 20]
                        } else {
                            [250, 250, 245]
                        }
                    })
                })
                .collect()
        })
        .collect();
    let mut g = c.benchmark_group("frame_1080p");
    g.sample_size(20);
    g.bench_function("full_change_pool", |b| {
        let mut t = DamageTracker::new(size, 64, PlanSettings::default());
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            t.draw_pixels(
                Rect::of_size(size),
                PixelLayout::Rgb24,
                &frames[(i % 2) as usize],
                i,
            )
            .expect("in bounds");
            let plan = t.plan(i).expect("changed");
            rt.block_on(pool.encode_plan(plan, Codec::Jpeg))
                .map(|f| f.ops.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
