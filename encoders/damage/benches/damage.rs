//! Planning cost on a 1080p desktop: a full-screen change (every tile
//! hashed, classified and copied out) and an idle check.

use criterion::{Criterion, criterion_group, criterion_main};
use oriel_core_model::{PixelLayout, Rect, Size};
use oriel_encoders_damage::{DamageTracker, PlanSettings};
use std::hint::black_box;

fn desktop(w: u16, h: u16, seed: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h as u32 {
        for x in 0..w as u32 {
            // Flat UI background with some text-like and photo-like regions.
            let (r, g, b) = if y < 300 {
                (230, 230, 230)
            } else if x < 960 {
                let c = if (x / 7 + y / 13 + seed).is_multiple_of(5) {
                    20
                } else {
                    250
                };
                (c, c, c)
            } else {
                (((x * 7 + seed) % 256), ((y * 3) % 256), ((x ^ y) % 256))
            };
            v.extend_from_slice(&[r as u8, g as u8, b as u8]);
        }
    }
    v
}

fn bench(c: &mut Criterion) {
    let size = Size::new(1920, 1080);
    let frames = [desktop(1920, 1080, 0), desktop(1920, 1080, 1)];
    let mut group = c.benchmark_group("damage");
    group.bench_function("plan_full_1080p_change", |b| {
        let mut t = DamageTracker::new(size, 64, PlanSettings::default());
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            let px = &frames[(i % 2) as usize];
            t.draw_pixels(Rect::of_size(size), PixelLayout::Rgb24, px, i)
                .expect("in bounds");
            black_box(t.plan(i).map(|p| p.tiles.len()))
        })
    });
    group.bench_function("plan_idle_1080p", |b| {
        let mut t = DamageTracker::new(size, 64, PlanSettings::default());
        t.draw_pixels(Rect::of_size(size), PixelLayout::Rgb24, &frames[0], 0)
            .expect("in bounds");
        let _ = t.plan(1);
        let _ = t.plan(10_000_000);
        b.iter(|| black_box(t.plan(10_000_001).is_none()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
