//! The tracker against a simulated viewer: whatever the sequence of drawing
//! operations and plans, once the screen settles the viewer holds exactly
//! the framebuffer.

use super::*;
use crate::Overlay;
use proptest::prelude::*;

/// A viewer applying plans like the browser does; lossy tiles come out
/// slightly wrong, as JPEG would.
struct Viewer {
    fb: Framebuffer,
}

impl Viewer {
    fn new(size: Size) -> Self {
        Viewer {
            fb: Framebuffer::new(size),
        }
    }

    fn apply(&mut self, plan: &FramePlan) {
        for (src, dst) in &plan.copies {
            self.fb.copy(*src, *dst).unwrap();
        }
        for (i, a) in plan.tiles.iter().enumerate() {
            for b in &plan.tiles[i + 1..] {
                assert!(!a.rect.intersects(&b.rect), "tiles overlap");
            }
            match &a.content {
                TileContent::Solid(rgb) => self.fb.fill(a.rect, *rgb).unwrap(),
                TileContent::Lossless(px) => self.fb.blit(a.rect, PixelLayout::Rgb24, px).unwrap(),
                TileContent::Lossy { rgb, .. } => {
                    let noisy: Vec<u8> = rgb.iter().map(|v| v ^ 1).collect();
                    self.fb.blit(a.rect, PixelLayout::Rgb24, &noisy).unwrap()
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Noise(Rect, u8),
    Fill(Rect, [u8; 3]),
    Copy(Point, Rect),
    /// Content of the rect moves by `dy` rows (repainted, not copied), the
    /// uncovered rows get noise.
    Scroll(Rect, i16, u8),
    Plan,
    Refresh,
}

const SIZE: Size = Size::new(100, 70);

fn arb_rect() -> impl Strategy<Value = Rect> {
    (0u16..SIZE.width, 0u16..SIZE.height, 1u16..60, 1u16..50)
        .prop_map(|(x, y, w, h)| Rect::new(x, y, w.min(SIZE.width - x), h.min(SIZE.height - y)))
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (arb_rect(), any::<u8>()).prop_map(|(r, seed)| Op::Noise(r, seed)),
        (arb_rect(), any::<[u8; 3]>()).prop_map(|(r, c)| Op::Fill(r, c)),
        (arb_rect(), 0u16..SIZE.width, 0u16..SIZE.height).prop_map(|(r, sx, sy)| {
            let sx = sx.min(SIZE.width - r.width);
            let sy = sy.min(SIZE.height - r.height);
            Op::Copy(Point::new(sx, sy), r)
        }),
        (arb_rect(), -20i16..20, any::<u8>()).prop_map(|(r, dy, seed)| Op::Scroll(r, dy, seed)),
        (arb_big_rect(), -30i16..30, any::<u8>()).prop_map(|(r, dy, seed)| Op::Scroll(r, dy, seed)),
        // Vertical copies (a scroll the target sends as a copy).
        (arb_big_rect(), 0u16..SIZE.height)
            .prop_map(|(r, sy)| Op::Copy(Point::new(r.x, sy.min(SIZE.height - r.height)), r)),
        Just(Op::Plan),
        Just(Op::Plan),
        Just(Op::Refresh),
    ]
}

/// Large areas, where scrolls can cover whole tiles.
fn arb_big_rect() -> impl Strategy<Value = Rect> {
    (0u16..20, 0u16..10, 60u16..100, 40u16..70)
        .prop_map(|(x, y, w, h)| Rect::new(x, y, w.min(SIZE.width - x), h.min(SIZE.height - y)))
}

/// The pixels of `r` after its content moved up by `dy` rows (down when
/// negative), as a target that repaints instead of copying would send them;
/// rows scrolled in are noise.
fn scrolled(fb: &Framebuffer, r: Rect, dy: i16, seed: u8) -> Vec<u8> {
    let mut old = Vec::new();
    fb.read(r, &mut old).unwrap();
    let fresh = noise(r, seed);
    let row = r.width as usize * 3;
    let mut out = Vec::with_capacity(old.len());
    for y in 0..r.height as i32 {
        let from = y + i32::from(dy);
        let src = if (0..r.height as i32).contains(&from) {
            &old
        } else {
            &fresh
        };
        let at = from.rem_euclid(r.height as i32) as usize * row;
        out.extend_from_slice(&src[at..at + row]);
    }
    out
}

fn noise(rect: Rect, seed: u8) -> Vec<u8> {
    (0..rect.area() as usize * 3)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn settings(max_copies: usize) -> PlanSettings {
    PlanSettings {
        jpeg_quality: 50,
        lossless_max_colors: 8,
        settle_us: 1000,
        max_pending_copies: max_copies,
        motion_quality: 50,
        motion_half_life_us: 500_000,
        max_merged_pixels: 1 << 19,
        detect_scroll: true,
    }
}

fn run(ops: &[Op], max_copies: usize) -> (DamageTracker, Viewer, u64) {
    let mut tracker = DamageTracker::new(SIZE, 16, settings(max_copies));
    let mut viewer = Viewer::new(SIZE);
    let mut now = 0u64;
    for op in ops {
        now += 10;
        match op {
            Op::Noise(r, seed) => tracker
                .draw_pixels(*r, PixelLayout::Rgb24, &noise(*r, *seed), now)
                .unwrap(),
            Op::Fill(r, c) => tracker.fill(*r, *c, now).unwrap(),
            Op::Copy(src, dst) => tracker.copy(*src, *dst, now).unwrap(),
            Op::Scroll(r, dy, seed) => {
                let px = scrolled(tracker.framebuffer(), *r, *dy, *seed);
                tracker
                    .draw_pixels(*r, PixelLayout::Rgb24, &px, now)
                    .unwrap()
            }
            Op::Plan => {
                if let Some(plan) = tracker.plan(now) {
                    viewer.apply(&plan);
                }
            }
            Op::Refresh => tracker.refresh_all(now),
        }
    }
    (tracker, viewer, now)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn viewer_converges_to_the_framebuffer(ops in proptest::collection::vec(arb_op(), 0..40),
                                           max_copies in 0usize..4) {
        let (mut tracker, mut viewer, now) = run(&ops, max_copies);
        // What the tracker believes the viewer holds in clean tiles is the
        // framebuffer's content, however it learned it.
        for idx in 0..tracker.tiles.len() {
            let t = tracker.tiles[idx];
            if !t.dirty && t.client_hash.is_some() {
                prop_assert_eq!(t.client_hash, Some(tracker.hash_tile(idx)), "tile {}", idx);
            }
        }
        // Send what is pending, then let lossy tiles settle and refresh.
        if let Some(plan) = tracker.plan(now) {
            viewer.apply(&plan);
        }
        let later = now + 10_000;
        prop_assert!(tracker.has_damage(later) || viewer.fb == *tracker.framebuffer());
        if let Some(plan) = tracker.plan(later) {
            for t in &plan.tiles {
                prop_assert!(!matches!(t.content, TileContent::Lossy { .. }), "refresh must be lossless");
            }
            viewer.apply(&plan);
        }
        prop_assert!(viewer.fb == *tracker.framebuffer());
        prop_assert!(!tracker.has_damage(later + 1));
        prop_assert!(tracker.plan(later + 1).is_none());
    }
}

#[test]
fn unchanged_tiles_are_skipped_and_solid_tiles_are_fills() {
    let mut t = DamageTracker::new(Size::new(64, 32), 32, settings(8));
    // Drawing black over black changes nothing for a fresh (black) viewer.
    t.fill(Rect::new(0, 0, 64, 32), [0, 0, 0], 1).unwrap();
    assert!(t.plan(2).is_none());
    t.fill(Rect::new(0, 0, 32, 32), [9, 8, 7], 3).unwrap();
    let plan = t.plan(4).unwrap();
    assert_eq!(plan.tiles.len(), 1);
    assert_eq!(plan.tiles[0].content, TileContent::Solid([9, 8, 7]));
    assert_eq!(plan.damage_time_us, 3);
    // Drawing the same pixels again sends nothing.
    t.fill(Rect::new(0, 0, 32, 32), [9, 8, 7], 5).unwrap();
    assert!(t.plan(6).is_none());
}

#[test]
fn intermediate_states_are_coalesced() {
    let mut t = DamageTracker::new(Size::new(32, 32), 32, settings(8));
    for i in 0..50u8 {
        t.fill(Rect::new(0, 0, 32, 32), [i, i, i], u64::from(i))
            .unwrap();
    }
    let plan = t.plan(100).unwrap();
    assert_eq!(plan.tiles.len(), 1);
    assert_eq!(plan.tiles[0].content, TileContent::Solid([49, 49, 49]));
    assert_eq!(plan.damage_time_us, 0);
}

#[test]
fn copies_of_known_content_pass_through_without_resending_tiles() {
    let size = Size::new(128, 64);
    let mut t = DamageTracker::new(size, 32, settings(8));
    let r = Rect::new(0, 0, 64, 64);
    t.draw_pixels(r, PixelLayout::Rgb24, &vec![7u8; 64 * 64 * 3], 1)
        .unwrap();
    t.fill(Rect::new(0, 0, 8, 8), [1, 2, 3], 1).unwrap();
    let first = t.plan(2).unwrap();
    assert!(first.copies.is_empty());
    // Move the left half to the right half (tile-aligned): only a COPY is needed.
    t.copy(Point::new(0, 0), Rect::new(64, 0, 64, 64), 3)
        .unwrap();
    let plan = t.plan(4).unwrap();
    assert_eq!(
        plan.copies,
        vec![(Point::new(0, 0), Rect::new(64, 0, 64, 64))]
    );
    assert!(plan.tiles.is_empty(), "{:?}", plan.tiles);
}

#[test]
fn colourful_tiles_go_lossy_then_settle_lossless() {
    let mut t = DamageTracker::new(Size::new(32, 32), 32, settings(8));
    let r = Rect::new(0, 0, 32, 32);
    t.draw_pixels(r, PixelLayout::Rgb24, &noise(r, 3), 10)
        .unwrap();
    let plan = t.plan(20).unwrap();
    assert!(matches!(
        plan.tiles[0].content,
        TileContent::Lossy { quality: 50, .. }
    ));
    assert_eq!(t.next_refresh_at(), Some(1010));
    assert!(t.plan(500).is_none(), "not settled yet");
    let plan = t.plan(1010).unwrap();
    assert!(matches!(plan.tiles[0].content, TileContent::Lossless(_)));
    assert_eq!(t.next_refresh_at(), None);
}

#[test]
fn out_of_bounds_drawing_is_refused_and_changes_nothing() {
    let mut t = DamageTracker::new(Size::new(32, 32), 16, settings(8));
    assert!(t.fill(Rect::new(30, 0, 4, 4), [1, 1, 1], 1).is_err());
    assert!(
        t.copy(Point::new(30, 30), Rect::new(0, 0, 4, 4), 1)
            .is_err()
    );
    assert!(
        t.draw_pixels(Rect::new(0, 0, 2, 2), PixelLayout::Rgb24, &[0; 5], 1)
            .is_err()
    );
    assert!(t.plan(2).is_none());
}

#[test]
fn resize_restarts_from_black() {
    let mut t = DamageTracker::new(Size::new(32, 32), 16, settings(8));
    t.fill(Rect::new(0, 0, 32, 32), [5, 5, 5], 1).unwrap();
    t.resize(Size::new(48, 20), 2);
    assert_eq!(t.size(), Size::new(48, 20));
    assert!(t.plan(3).is_none());
    t.fill(Rect::new(40, 16, 8, 4), [1, 2, 3], 4).unwrap();
    let plan = t.plan(5).unwrap();
    assert_eq!(plan.tiles.len(), 1);
    assert_eq!(plan.tiles[0].rect, Rect::new(32, 16, 16, 4));
}

/// The quality of each lossy tile of a plan, by tile x.
fn lossy_qualities(plan: &FramePlan) -> Vec<(u16, u8)> {
    plan.tiles
        .iter()
        .filter_map(|t| match t.content {
            TileContent::Lossy { quality, .. } => Some((t.rect.x, quality)),
            _ => None,
        })
        .collect()
}

#[test]
fn moving_tiles_drop_quality_while_static_ones_stay_sharp() {
    let mut s = settings(8);
    s.jpeg_quality = 80;
    s.motion_quality = 40;
    s.settle_us = 300_000;
    // Apart, so that the two are never merged into one image.
    let mut t = DamageTracker::new(Size::new(96, 32), 32, s);
    let (video, slow) = (Rect::new(0, 0, 32, 32), Rect::new(64, 0, 32, 32));
    let mut video_q = Vec::new();
    let mut slow_q = Vec::new();
    // 2 s: the left tile changes at 30 fps, the right one once a second.
    for frame in 0..60u32 {
        let now = u64::from(frame) * 33_333 + 1;
        t.draw_pixels(video, PixelLayout::Rgb24, &noise(video, frame as u8), now)
            .unwrap();
        if frame % 30 == 0 {
            t.draw_pixels(
                slow,
                PixelLayout::Rgb24,
                &noise(slow, 100 + frame as u8),
                now,
            )
            .unwrap();
        }
        for (x, q) in lossy_qualities(&t.plan(now).unwrap()) {
            if x == 0 {
                video_q.push(q)
            } else {
                slow_q.push(q)
            }
        }
    }
    assert_eq!(video_q[0], 80, "a first change is sent sharp");
    assert!(video_q.windows(2).all(|w| w[1] <= w[0]), "{video_q:?}");
    assert!(video_q[20..].iter().all(|&q| q == 40), "{video_q:?}");
    assert_eq!(
        slow_q,
        vec![80, 80],
        "a tile changing once a second stays sharp"
    );

    // The motion stops: the tile settles to lossless, and after a few
    // half-lives a new change is sharp again.
    let stop = 60 * 33_333;
    let plan = t.plan(stop + 300_001).unwrap();
    assert!(
        plan.tiles
            .iter()
            .all(|t| matches!(t.content, TileContent::Lossless(_)))
    );
    let later = stop + 3_000_000;
    t.draw_pixels(video, PixelLayout::Rgb24, &noise(video, 7), later)
        .unwrap();
    assert_eq!(lossy_qualities(&t.plan(later).unwrap()), vec![(0, 80)]);
}

#[test]
fn motion_quality_at_or_above_jpeg_quality_changes_nothing() {
    let mut s = settings(8);
    s.jpeg_quality = 60;
    s.motion_quality = 90;
    let mut t = DamageTracker::new(Size::new(32, 32), 32, s);
    let r = Rect::new(0, 0, 32, 32);
    for frame in 0..40u8 {
        let now = u64::from(frame) * 10_000 + 1;
        t.draw_pixels(r, PixelLayout::Rgb24, &noise(r, frame), now)
            .unwrap();
        assert_eq!(lossy_qualities(&t.plan(now).unwrap()), vec![(0, 60)]);
    }
}

#[test]
fn adjacent_lossy_tiles_of_one_quality_become_one_image() {
    // A 160×96 picture over 32-px tiles, starting mid-tile: one image
    // covering exactly the touched tiles, not fifteen (plus the solid rest).
    let mut t = DamageTracker::new(Size::new(256, 160), 32, settings(8));
    let r = Rect::new(16, 16, 160, 96);
    t.draw_pixels(r, PixelLayout::Rgb24, &noise(r, 9), 10)
        .unwrap();
    let plan = t.plan(20).unwrap();
    let lossy: Vec<&TileJob> = plan
        .tiles
        .iter()
        .filter(|t| matches!(t.content, TileContent::Lossy { .. }))
        .collect();
    assert_eq!(lossy.len(), 1, "{plan:?}");
    assert_eq!(lossy[0].rect, Rect::new(0, 0, 192, 128));
    let mut viewer = Viewer::new(Size::new(256, 160));
    viewer.apply(&plan);
    // Settles to exactly the framebuffer.
    viewer.apply(&t.plan(2000).unwrap());
    assert!(viewer.fb == *t.framebuffer());
}

#[test]
fn merged_images_stay_within_the_size_cap() {
    let size = Size::new(1920, 1088);
    let mut t = DamageTracker::new(size, 64, settings(8));
    let r = Rect::new(0, 0, 1920, 1088);
    t.draw_pixels(r, PixelLayout::Rgb24, &noise(r, 1), 10)
        .unwrap();
    let plan = t.plan(20).unwrap();
    let mut covered = 0u64;
    for job in &plan.tiles {
        assert!(matches!(job.content, TileContent::Lossy { .. }));
        assert!(u64::from(job.rect.area()) <= 1 << 19, "{:?}", job.rect);
        covered += u64::from(job.rect.area());
    }
    assert_eq!(covered, 1920 * 1088);
    assert!(plan.tiles.len() <= 6, "{} images", plan.tiles.len());
}

#[test]
fn merging_can_be_turned_off() {
    let mut s = settings(8);
    s.max_merged_pixels = 0;
    let mut t = DamageTracker::new(Size::new(64, 64), 32, s);
    let r = Rect::new(0, 0, 64, 64);
    t.draw_pixels(r, PixelLayout::Rgb24, &noise(r, 5), 10)
        .unwrap();
    let plan = t.plan(20).unwrap();
    assert_eq!(plan.tiles.len(), 4);
    assert!(
        plan.tiles
            .iter()
            .all(|j| j.rect.width == 32 && j.rect.height == 32)
    );
}

#[test]
fn repainted_scrolls_become_copies_of_what_the_viewer_holds() {
    // A 640×480 "page" of distinct text-like rows, scrolled by 37 rows the
    // way a browser repaints it: one copy per tile column instead of
    // resending the page, and the picture stays exact.
    let size = Size::new(640, 480);
    // Text is sent losslessly (few colours per tile).
    let mut text = settings(8);
    text.lossless_max_colors = 256;
    let mut t = DamageTracker::new(size, 64, text.clone());
    let mut viewer = Viewer::new(size);
    let page = Rect::new(0, 0, 640, 480);
    let lines: Vec<u8> = (0..480 * 640 * 3)
        .map(|i| {
            if (i / 3) % 7 < 2 {
                (i / (640 * 3)) as u8 ^ 0x5a
            } else {
                255
            }
        })
        .collect();
    t.draw_pixels(page, PixelLayout::Rgb24, &lines, 10).unwrap();
    viewer.apply(&t.plan(20).unwrap());
    assert!(viewer.fb == *t.framebuffer());

    let px = scrolled(t.framebuffer(), page, 37, 1);
    t.draw_pixels(page, PixelLayout::Rgb24, &px, 30).unwrap();
    let plan = t.plan(40).unwrap();
    assert_eq!(
        plan.copies.len(),
        10,
        "one per tile column: {:?}",
        plan.copies
    );
    for (src, dst) in &plan.copies {
        assert_eq!(i32::from(src.y) - i32::from(dst.y), 37);
    }
    // Only the bottom row of tiles (where new rows came in) is sent.
    assert!(
        plan.tiles
            .iter()
            .all(|j| j.rect.bottom() as u16 > 480 - 64 - 37),
        "{:?}",
        plan.tiles
    );
    viewer.apply(&plan);
    viewer.apply(&t.plan(10_000).unwrap_or(FramePlan {
        copies: vec![],
        tiles: vec![],
        damage_time_us: 0,
    }));
    assert!(viewer.fb == *t.framebuffer());

    // The same scroll with detection off resends the page.
    let mut off = DamageTracker::new(
        size,
        64,
        PlanSettings {
            detect_scroll: false,
            ..text
        },
    );
    off.draw_pixels(page, PixelLayout::Rgb24, &lines, 10)
        .unwrap();
    off.plan(20).unwrap();
    off.draw_pixels(page, PixelLayout::Rgb24, &px, 30).unwrap();
    let plan = off.plan(40).unwrap();
    assert!(plan.copies.is_empty());
    assert_eq!(plan.tiles.len(), 80);
}

/// What happens to a second viewer in [`late_and_lagging_viewers_converge`].
#[derive(Debug, Clone)]
enum Second {
    /// Applies the frame, like the first viewer.
    InStep,
    /// Misses the frame (its window was full).
    Misses,
    /// Gets a keyframe planned with the frame instead of it.
    Keyframe,
    /// A new connection: starts black and gets a keyframe without black tiles.
    Joins,
}

fn arb_step() -> impl Strategy<Value = (Op, Second, bool)> {
    let second = prop_oneof![
        4 => Just(Second::InStep),
        1 => Just(Second::Misses),
        1 => Just(Second::Keyframe),
        1 => Just(Second::Joins),
    ];
    // Some steps come after a pause long enough for lossy tiles to settle.
    (arb_op(), second, prop::bool::weighted(0.2))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A viewer that joins late or misses frames and then takes a keyframe
    /// planned beside a frame holds what the others hold, takes the same
    /// frames from then on, and ends exact once the screen settles.
    #[test]
    fn late_and_lagging_viewers_converge(steps in proptest::collection::vec(arb_step(), 0..40)) {
        let mut tracker = DamageTracker::new(SIZE, 16, settings(2));
        let (mut first, mut second) = (Viewer::new(SIZE), Viewer::new(SIZE));
        // The second viewer missed a frame and may not take frames until a keyframe.
        let mut behind = false;
        let mut now = 0u64;
        for (op, who, pause) in &steps {
            now += if *pause { 2_000 } else { 10 };
            match op {
                Op::Noise(r, seed) => tracker
                    .draw_pixels(*r, PixelLayout::Rgb24, &noise(*r, *seed), now)
                    .unwrap(),
                Op::Fill(r, c) => tracker.fill(*r, *c, now).unwrap(),
                Op::Copy(src, dst) => tracker.copy(*src, *dst, now).unwrap(),
                Op::Scroll(r, dy, seed) => {
                    let px = scrolled(tracker.framebuffer(), *r, *dy, *seed);
                    tracker.draw_pixels(*r, PixelLayout::Rgb24, &px, now).unwrap()
                }
                Op::Refresh => tracker.refresh_all(now),
                Op::Plan => match who {
                    Second::InStep | Second::Misses => {
                        if let Some(plan) = tracker.plan(now) {
                            first.apply(&plan);
                            if behind || matches!(who, Second::Misses) {
                                behind = true;
                            } else {
                                second.apply(&plan);
                            }
                        }
                    }
                    Second::Keyframe | Second::Joins => {
                        let joins = matches!(who, Second::Joins);
                        if joins {
                            second = Viewer::new(SIZE);
                        }
                        let (frame, key) = tracker.plan_with_keyframe(now, joins);
                        if let Some(frame) = frame {
                            first.apply(&frame);
                        }
                        if let Some(key) = &key {
                            prop_assert!(key.copies.is_empty());
                            if joins {
                                prop_assert!(key.tiles.iter().all(|t| t.content != TileContent::Solid([0, 0, 0])));
                            }
                            second.apply(key);
                        }
                        behind = false;
                    }
                },
            }
        }
        // Bring the lagging viewer back, send what is pending, then settle.
        let (frame, key) = tracker.plan_with_keyframe(now, false);
        if let Some(frame) = frame {
            first.apply(&frame);
            if !behind {
                second.apply(&frame);
            }
        }
        if behind {
            second.apply(&key.expect("a keyframe covers the whole desktop"));
        }
        let later = now + 10_000;
        if let Some(plan) = tracker.plan(later) {
            first.apply(&plan);
            second.apply(&plan);
        }
        prop_assert!(first.fb == *tracker.framebuffer());
        prop_assert!(second.fb == *tracker.framebuffer());
    }
}

#[test]
fn a_keyframe_for_a_new_viewer_leaves_out_black_and_one_for_a_black_desktop_is_empty() {
    let mut t = DamageTracker::new(Size::new(64, 32), 32, settings(8));
    let (frame, key) = t.plan_with_keyframe(1, true);
    assert!(
        frame.is_none() && key.is_none(),
        "all black: nothing to send"
    );
    t.fill(Rect::new(32, 0, 32, 32), [9, 8, 7], 2).unwrap();
    let (frame, key) = t.plan_with_keyframe(3, true);
    assert_eq!(frame.unwrap().tiles.len(), 1);
    let key = key.unwrap();
    assert_eq!(key.tiles.len(), 1, "the black tile is left out");
    assert_eq!(key.tiles[0].content, TileContent::Solid([9, 8, 7]));
    assert_eq!(key.damage_time_us, 3);
    // A viewer that fell behind gets the black tile too.
    let (frame, key) = t.plan_with_keyframe(4, false);
    assert!(frame.is_none());
    assert_eq!(key.unwrap().tiles.len(), 2);
}

/// The framebuffer as a viewer is sent it: with the overlay blended over.
fn composited(tracker: &DamageTracker) -> Framebuffer {
    let size = tracker.size();
    let mut out = Framebuffer::new(size);
    let all = Rect::new(0, 0, size.width, size.height);
    let mut rgb = Vec::new();
    tracker.read_sent(all, &mut rgb);
    out.blit(all, PixelLayout::Rgb24, &rgb).unwrap();
    out
}

fn stripes() -> Arc<Overlay> {
    // 7×5, alpha 0 to 252 so both blending and skipping are exercised.
    let rgba = (0..7 * 5)
        .flat_map(|i: u32| [250, 40, (i * 7) as u8, (i * 36 % 256) as u8 / 4 * 4])
        .collect();
    Arc::new(Overlay::new(7, 5, rgba).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// With an overlay, the viewer converges to the target's picture with the
    /// pattern over it, copies and scrolls included.
    #[test]
    fn with_an_overlay_the_viewer_converges_to_the_composite(ops in proptest::collection::vec(arb_op(), 0..40)) {
        let mut ops = ops;
        ops.insert(0, Op::Plan);
        let mut tracker = DamageTracker::new(SIZE, 16, settings(2));
        tracker.set_overlay(Some(stripes()), 0);
        let mut viewer = Viewer::new(SIZE);
        let mut now = 0;
        for op in &ops {
            now += 10;
            match op {
                Op::Noise(r, seed) => tracker.draw_pixels(*r, PixelLayout::Rgb24, &noise(*r, *seed), now).unwrap(),
                Op::Fill(r, c) => tracker.fill(*r, *c, now).unwrap(),
                Op::Copy(src, dst) => tracker.copy(*src, *dst, now).unwrap(),
                Op::Scroll(r, dy, seed) => {
                    let px = scrolled(tracker.framebuffer(), *r, *dy, *seed);
                    tracker.draw_pixels(*r, PixelLayout::Rgb24, &px, now).unwrap()
                }
                Op::Refresh => tracker.refresh_all(now),
                Op::Plan => {
                    if let Some(plan) = tracker.plan(now) {
                        prop_assert!(plan.copies.is_empty(), "no copy moves the pattern");
                        viewer.apply(&plan);
                    }
                }
            }
        }
        if let Some(plan) = tracker.plan(now) {
            viewer.apply(&plan);
        }
        if let Some(plan) = tracker.plan(now + 10_000) {
            viewer.apply(&plan);
        }
        prop_assert!(viewer.fb == composited(&tracker));
    }
}

#[test]
fn setting_an_overlay_repaints_everything_and_removing_it_too() {
    let mut t = DamageTracker::new(Size::new(32, 16), 16, settings(8));
    assert!(t.plan(1).is_none(), "black and known");
    t.set_overlay(Some(stripes()), 2);
    let plan = t.plan(3).unwrap();
    let covered: u32 = plan.tiles.iter().map(|tile| tile.rect.area()).sum();
    assert_eq!(covered, 32 * 16);
    assert!(
        plan.tiles
            .iter()
            .all(|tile| !matches!(tile.content, TileContent::Solid(_))),
        "black under stripes is not solid"
    );
    t.set_overlay(None, 4);
    let plan = t.plan(5).unwrap();
    assert!(
        plan.tiles
            .iter()
            .all(|tile| tile.content == TileContent::Solid([0, 0, 0])),
        "plain black again"
    );
}
