//! Frames: one upstream, many sinks, windows, backlogs and keyframes.

use super::*;

#[test]
fn a_sink_is_greeted_then_gets_frames_within_its_window() {
    let mut h = Harness::new();
    let a = h.core.add_sink(spec(), h.now);
    let out = h.step(true);
    let msgs = sent(&out, a);
    assert!(
        matches!(&msgs[0], ServerMessage::Hello(hello) if hello.size == SIZE && hello.session_id == "s-1" && hello.name == "desk")
    );
    assert_eq!(
        frames(&out, a),
        Vec::<u32>::new(),
        "a black desktop needs no frame"
    );

    h.paint(Rect::new(0, 0, 64, 64), [1, 2, 3]);
    assert_eq!(frames(&h.step(true), a), vec![1]);
    h.paint(Rect::new(64, 0, 64, 64), [1, 2, 3]);
    assert_eq!(frames(&h.step(true), a), vec![2]);
    // The window (2) is full: changes wait in the tracker, newest only.
    h.paint(Rect::new(128, 0, 64, 64), [4, 4, 4]);
    h.paint(Rect::new(128, 0, 64, 64), [5, 5, 5]);
    assert!(h.step(true).iter().all(|o| !matches!(o, Output::Send(..))));
    let out = h.ack(a, 1);
    let msgs = sent(&out, a);
    let [ServerMessage::Frame(f)] = &msgs[..] else {
        panic!("one frame: {msgs:?}")
    };
    assert_eq!(f.id, 3);
    assert_eq!(
        f.ops,
        vec![FrameOp::Fill {
            rect: Rect::new(128, 0, 64, 64),
            rgb: [5, 5, 5]
        }],
        "only the newest state"
    );
}

#[test]
fn a_target_that_marks_its_updates_gets_one_frame_per_whole_update() {
    let mut h = Harness::new();
    let a = h.join(spec());
    let end = |h: &mut Harness| {
        h.now += MS;
        h.core.handle_target(SessionEvent::UpdateEnd, h.now);
    };
    // The first mark: from now on a pause is no end.
    end(&mut h);
    assert!(frames(&h.step(true), a).is_empty(), "nothing to show");
    // An update in three rectangles, with pauses between them (a slow
    // decoder): no frame until its end, then one frame with all three.
    for (i, x) in [0u16, 64, 128].into_iter().enumerate() {
        h.paint(Rect::new(x, 0, 64, 64), [i as u8 + 1, 0, 0]);
        assert!(frames(&h.step(true), a).is_empty(), "part {i} alone");
    }
    end(&mut h);
    let out = h.step(true);
    let msgs = sent(&out, a);
    let [ServerMessage::Frame(f)] = &msgs[..] else {
        panic!("one frame: {msgs:?}")
    };
    assert_eq!(f.ops.len(), 3, "{:?}", f.ops);
    // Part of the next update came after the end was seen but before the
    // frame could go (the window is full): it waits for its own end.
    h.paint(Rect::new(0, 64, 64, 64), [7, 7, 7]);
    end(&mut h);
    assert_eq!(frames(&h.step(true), a), vec![2]);
    h.paint(Rect::new(64, 64, 64, 64), [8, 8, 8]);
    end(&mut h);
    h.paint(Rect::new(128, 64, 64, 64), [9, 9, 9]);
    assert!(
        frames(&h.ack(a, 1), a).is_empty(),
        "the next update is not whole"
    );
    end(&mut h);
    assert_eq!(frames(&h.step(true), a), vec![3]);
    // An update that never ends still shows, after the longest wait.
    h.ack(a, 2);
    h.ack(a, 3);
    h.paint(Rect::new(192, 0, 64, 64), [5, 5, 5]);
    let painted_at = h.now;
    assert!(frames(&h.step(true), a).is_empty());
    assert_eq!(h.core.poll_timeout(), Some(painted_at + 100 * MS));
    h.now = painted_at + 100 * MS;
    h.core.handle_timeout(h.now);
    assert_eq!(frames(&h.step(true), a), vec![4], "the wait is bounded");
}

#[test]
fn the_target_pausing_or_the_coalescing_deadline_plans_a_frame() {
    let mut h = Harness::new();
    let a = h.join(spec());
    h.paint(Rect::new(0, 0, 8, 8), [9, 9, 9]);
    let painted_at = h.now;
    assert!(
        frames(&h.step(false), a).is_empty(),
        "more events are coming"
    );
    assert_eq!(h.core.poll_timeout(), Some(painted_at + 16 * MS));
    h.now = painted_at + 16 * MS;
    h.core.handle_timeout(h.now);
    assert_eq!(frames(&h.step(false), a), vec![1], "deadline passed");
}

#[test]
fn every_sink_gets_the_same_frame_encoded_once() {
    let mut h = Harness::new();
    let (a, b) = (h.join(spec()), h.join(spec()));
    h.paint(Rect::new(0, 0, 64, 64), [7, 7, 7]);
    h.core.schedule(h.now, true);
    let jobs: Vec<_> = std::iter::from_fn(|| h.core.poll_output())
        .filter(|o| matches!(o, Output::Encode(_)))
        .collect();
    assert_eq!(jobs.len(), 1, "one encode job for the session");
    let Some(Output::Encode(job)) = jobs.into_iter().next() else {
        unreachable!()
    };
    assert!(job.keyframe.is_none());
    h.core.handle_encoded(
        job.id,
        EncodedJob {
            frame: encode(job.frame),
            keyframe: None,
        },
        h.now,
    );
    let out = h.collect();
    let (fa, fb) = (sent(&out, a), sent(&out, b));
    assert_eq!(fa.len(), 1);
    assert_eq!(fa, fb, "same bytes, same id (both at frame 1)");
}

#[test]
fn a_slow_sink_backs_up_then_falls_behind_and_catches_up_with_a_keyframe() {
    let mut h = Harness::new();
    let (fast, slow) = (h.join(spec()), h.join(spec()));
    let mut fast_next = 1;
    let mut slow_frames = Vec::new();
    let mut fell_behind = false;
    // The fast sink acknowledges everything; the slow one nothing.
    for i in 0..10u8 {
        h.paint(Rect::new(0, 0, 64, 64), [i, 1, 1]);
        let out = h.step(true);
        fell_behind |= out
            .iter()
            .any(|o| matches!(o, Output::Observe(Observation::FellBehind)));
        slow_frames.extend(frames(&out, slow));
        let got = frames(&out, fast);
        assert_eq!(got, vec![fast_next], "the fast sink is never held back");
        h.ack(fast, fast_next);
        fast_next += 1;
    }
    assert_eq!(slow_frames, vec![1, 2], "its window, nothing more");
    assert!(fell_behind, "its backlog overflowed");
    // It acknowledges a frame: the backlog was dropped, and a keyframe comes
    // as soon as its window has room.
    let out = h.ack(slow, 1);
    let msgs = sent(&out, slow);
    let [ServerMessage::Frame(key)] = &msgs[..] else {
        panic!("one keyframe: {msgs:?}")
    };
    assert_eq!(key.id, 3);
    assert!(key.ops.iter().all(|op| !matches!(op, FrameOp::Copy { .. })));
    let covered: u32 = key.ops.iter().map(|op| op.rect().area()).sum();
    assert_eq!(covered, SIZE.area(), "the whole desktop, black included");
    // In step again: it takes the next frame like the fast one.
    h.ack(slow, 2);
    h.ack(slow, 3);
    h.paint(Rect::new(64, 64, 64, 64), [3, 3, 3]);
    let out = h.step(true);
    assert_eq!(frames(&out, slow), vec![4]);
    assert_eq!(frames(&out, fast), vec![fast_next]);
}

#[test]
fn a_sink_a_frame_or_two_late_drains_its_backlog_without_a_keyframe() {
    let mut h = Harness::new();
    let (a, b) = (h.join(spec()), h.join(spec()));
    for i in 0..3u8 {
        h.paint(Rect::new(0, 0, 64, 64), [i, 2, 2]);
        h.step(true);
        h.ack(a, u32::from(i) + 1);
    }
    // b got 1 and 2, frame 3 waits for room.
    let out = h.ack(b, 1);
    assert_eq!(frames(&out, b), vec![3]);
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::Observe(Observation::FellBehind)))
    );
}

#[test]
fn a_late_sink_gets_the_picture_without_black_then_the_same_frames() {
    let mut h = Harness::new();
    let a = h.join(spec());
    h.paint(Rect::new(0, 0, 64, 64), [1, 1, 1]);
    h.step(true);
    h.ack(a, 1);
    let b = h.core.add_sink(spec(), h.now);
    let out = h.step(true);
    let msgs = sent(&out, b);
    assert!(matches!(msgs[0], ServerMessage::Hello(_)));
    let ServerMessage::Frame(key) = &msgs[1] else {
        panic!("{msgs:?}")
    };
    assert_eq!(key.id, 1);
    assert_eq!(
        key.ops,
        vec![FrameOp::Fill {
            rect: Rect::new(0, 0, 64, 64),
            rgb: [1, 1, 1]
        }],
        "black tiles left out"
    );
    assert!(frames(&out, a).is_empty(), "the others get nothing new");
}

#[test]
fn refresh_repaints_only_the_sink_that_asked() {
    let mut h = Harness::new();
    let (a, b) = (h.join(spec()), h.join(spec()));
    let out = h.viewer(b, ClientMessage::Refresh);
    assert!(frames(&out, a).is_empty());
    let msgs = sent(&out, b);
    let [ServerMessage::Frame(key)] = &msgs[..] else {
        panic!("{msgs:?}")
    };
    assert_eq!(
        key.ops.iter().map(|op| op.rect().area()).sum::<u32>(),
        SIZE.area()
    );
}

#[test]
fn a_resize_drops_the_job_and_backlogs_and_puts_every_sink_in_step() {
    let mut h = Harness::new();
    let (a, b) = (h.join(spec()), h.join(spec()));
    for i in 0..3u8 {
        h.paint(Rect::new(0, 0, 64, 64), [i, 3, 3]);
        h.step(true);
        h.ack(a, u32::from(i) + 1);
    }
    h.paint(Rect::new(0, 0, 64, 64), [9, 3, 3]);
    h.core.schedule(h.now, true);
    let job = std::iter::from_fn(|| h.core.poll_output())
        .find_map(|o| match o {
            Output::Encode(j) => Some(j),
            _ => None,
        })
        .unwrap();
    let size = Size::new(128, 64);
    h.core.handle_target(SessionEvent::DesktopSize(size), h.now);
    h.core.handle_encoded(
        job.id,
        EncodedJob {
            frame: encode(job.frame),
            keyframe: None,
        },
        h.now,
    );
    let out = h.collect();
    for sink in [a, b] {
        assert_eq!(sent(&out, sink), vec![ServerMessage::DesktopSize(size)]);
    }
    // b's backlog (frame 3) is gone: the desktop is black for everyone.
    let out = h.ack(b, 1);
    assert!(frames(&out, b).is_empty());
    h.paint(Rect::new(0, 0, 8, 8), [1, 1, 1]);
    let out = h.step(true);
    assert_eq!(frames(&out, b), vec![3]);
    assert_eq!(frames(&out, a).len(), 1);
    // An impossible size ends the session.
    h.core
        .handle_target(SessionEvent::DesktopSize(Size::new(0, 5)), h.now);
    assert!(
        matches!(ended(&h.collect()), Some(Ending::Failed(e)) if e.kind == SessionErrorKind::TargetProtocol)
    );
}

#[test]
fn webp_only_when_every_receiving_sink_decodes_it() {
    let settings = CoreSettings {
        lossy_codec: LossyCodec::Webp,
        ..CoreSettings::default()
    };
    let mut h = Harness::with(settings);
    let webp = SinkSpec {
        capabilities: caps::WEBP,
        ..spec()
    };
    let a = h.join(webp.clone());
    let hello = |out: &[Output], s| {
        sent(out, s).into_iter().find_map(|m| match m {
            ServerMessage::Hello(h) => Some(h.capabilities),
            _ => None,
        })
    };
    h.noise(Rect::new(0, 0, 128, 128), 1);
    h.core.schedule(h.now, true);
    let codec = |h: &mut Harness| {
        std::iter::from_fn(|| h.core.poll_output())
            .find_map(|o| match o {
                Output::Encode(j) => Some((j.id, j.codec)),
                _ => None,
            })
            .unwrap()
    };
    let (job, c) = codec(&mut h);
    assert_eq!(c, Codec::Webp);
    h.core.handle_encoded(job, EncodedJob::default(), h.now);
    let b = h.core.add_sink(spec(), h.now);
    assert_eq!(hello(&h.collect(), b), Some(0));
    h.ack(a, 1);
    h.noise(Rect::new(0, 0, 128, 128), 2);
    h.core.schedule(h.now, true);
    assert_eq!(
        codec(&mut h).1,
        Codec::Jpeg,
        "b takes the keyframe: no WebP"
    );
    // A gateway set to JPEG never offers WebP.
    let mut h = Harness::with(CoreSettings {
        lossy_codec: LossyCodec::Jpeg,
        ..CoreSettings::default()
    });
    let c = h.core.add_sink(webp, h.now);
    assert_eq!(hello(&h.collect(), c), Some(0));
}

#[test]
fn a_job_dropped_or_after_the_end_is_ignored_and_events_after_the_end_do_nothing() {
    let mut h = Harness::new();
    let a = h.join(spec());
    h.paint(Rect::new(0, 0, 8, 8), [1, 1, 1]);
    h.core.schedule(h.now, true);
    let job = std::iter::from_fn(|| h.core.poll_output())
        .find_map(|o| match o {
            Output::Encode(j) => Some(j),
            _ => None,
        })
        .unwrap();
    h.core.target_closed();
    h.core.handle_encoded(
        job.id,
        EncodedJob {
            frame: encode(job.frame),
            keyframe: None,
        },
        h.now,
    );
    h.core
        .handle_viewer(a, ClientMessage::Ping { nonce: 1 }, h.now);
    h.paint(Rect::new(0, 0, 8, 8), [2, 2, 2]);
    h.core.schedule(h.now, true);
    let out = h.collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(ended(&out), Some(Ending::TargetClosed));
    assert_eq!(h.core.poll_timeout(), None);
}
