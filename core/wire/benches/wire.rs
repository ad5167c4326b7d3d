//! Encode/decode cost of a typical frame: 120 JPEG-sized images (a 1080p
//! screen with about half its tiles changed) and a few copies.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oriel_core_model::{Point, Rect};
use oriel_core_wire::{Codec, Frame, FrameOp, ServerMessage};
use std::hint::black_box;

fn typical_frame() -> ServerMessage {
    let mut ops = vec![FrameOp::Copy {
        src: Point::new(0, 64),
        dst: Rect::new(0, 0, 640, 384),
    }];
    for i in 0..120u16 {
        ops.push(FrameOp::Image {
            rect: Rect::new((i % 30) * 64, (i / 30) * 64 + 400, 64, 64),
            codec: Codec::Jpeg,
            data: vec![(i % 251) as u8; 2500],
        });
    }
    ServerMessage::Frame(Frame {
        id: 7,
        damage_time_us: 1,
        ops,
    })
}

fn bench(c: &mut Criterion) {
    let frame = typical_frame();
    let bytes = frame.to_bytes();
    let mut group = c.benchmark_group("wire");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("encode_frame", |b| {
        let mut out = Vec::with_capacity(bytes.len());
        b.iter(|| {
            out.clear();
            black_box(&frame).encode(&mut out);
            black_box(out.len())
        })
    });
    group.bench_function("decode_frame", |b| {
        b.iter(|| {
            ServerMessage::decode(black_box(&bytes)).map(|m| matches!(m, ServerMessage::Frame(_)))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
