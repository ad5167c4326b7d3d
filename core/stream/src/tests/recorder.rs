//! A recorder sink: the same pictures, keyframes to seek to, the event
//! track, no liveness pings, no clipboard text.

use super::*;

fn recorder(keystrokes: bool) -> SinkSpec {
    SinkSpec {
        control: false,
        kind: SinkKind::Recorder {
            keyframe_every_us: 10 * S,
            keystrokes,
        },
        ..spec()
    }
}

fn notes(outputs: &[Output]) -> Vec<Note> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Note(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

fn keyframes(outputs: &[Output], sink: SinkId) -> usize {
    outputs
        .iter()
        .filter(|o| matches!(o, Output::SendKeyframe(to, _) if *to == sink))
        .count()
}

#[test]
fn a_recorder_gets_the_frames_and_a_keyframe_every_interval_and_is_never_pinged() {
    let mut h = Harness::new();
    let start = h.now;
    let r = h.join(recorder(false));
    let v = h.join(spec());
    h.paint(Rect::new(0, 0, 64, 64), [1, 1, 1]);
    let out = h.step(true);
    assert_eq!(frames(&out, r), frames(&out, v), "the same frames");
    h.ack(r, 1);
    h.ack(v, 1);
    // A minute without a word from either: a viewer would be pinged and
    // closed, a recorder not. The recorder's shell acknowledges each frame
    // once written; it gets a keyframe every 10 s.
    let mut all = Vec::new();
    for t in (1..=60).map(|s| start + s * S) {
        h.now = t;
        h.core.handle_timeout(t);
        let out = h.step(false);
        for id in frames(&out, r) {
            h.core
                .handle_viewer(r, ClientMessage::Ack { frame_id: id }, h.now);
        }
        all.extend(out);
    }
    assert!(
        !all.iter()
            .any(|o| matches!(o, Output::Ping(s) | Output::Close(s, _) if *s == r))
    );
    assert!(closed(&all, v).is_some(), "the silent viewer was closed");
    assert_eq!(keyframes(&all, r), 6);
}

#[test]
fn the_event_track_has_viewers_resizes_and_clipboard_sizes_never_text() {
    let mut h = Harness::new();
    let r = h.join(recorder(false));
    let v = h.join(spec());
    let out = h.viewer(v, ClientMessage::Clipboard("secret words".into()));
    let mut track = notes(&out);
    h.core
        .handle_target(SessionEvent::Clipboard("remote secret".into()), h.now);
    h.core
        .handle_target(SessionEvent::DesktopSize(Size::new(320, 200)), h.now);
    let out = h.collect();
    assert!(
        sent(&out, r)
            .iter()
            .all(|m| !matches!(m, ServerMessage::Clipboard(_))),
        "no clipboard text to a recorder"
    );
    track.extend(notes(&out));
    h.core.remove_sink(v);
    track.extend(notes(&h.collect()));
    assert_eq!(
        track,
        vec![
            Note::Clipboard {
                up: true,
                bytes: 12,
                decision: ClipboardDecision::Allowed
            },
            Note::Clipboard {
                up: false,
                bytes: 13,
                decision: ClipboardDecision::Allowed
            },
            Note::Resize(Size::new(320, 200)),
            Note::Left {
                sink: v,
                label: "alice from 192.0.2.7".into()
            },
        ]
    );
    let _ = r;
}

#[test]
fn keystrokes_go_into_the_track_only_when_the_recorder_records_them() {
    for keystrokes in [false, true] {
        let mut h = Harness::new();
        let v = h.join(spec());
        let out = h.join(recorder(keystrokes));
        let _ = out;
        let out = h.viewer(
            v,
            ClientMessage::Key {
                down: true,
                keysym: 0x61,
                scancode: 0x1e,
            },
        );
        let keys: Vec<_> = notes(&out)
            .into_iter()
            .filter(|n| matches!(n, Note::Key { .. }))
            .collect();
        let want = if keystrokes {
            vec![Note::Key {
                keysym: 0x61,
                down: true,
            }]
        } else {
            Vec::new()
        };
        assert_eq!(keys, want);
    }
}

#[test]
fn pointer_presses_and_releases_go_into_the_track_not_its_moves() {
    let mut h = Harness::new();
    let v = h.join(spec());
    h.join(recorder(false));
    let mut track = Vec::new();
    for (x, buttons) in [(1, 0), (2, 0), (3, 1), (4, 1), (5, 5), (6, 0), (7, 0)] {
        let out = h.viewer(
            v,
            ClientMessage::Pointer {
                at: oriel_core_model::Point::new(x, 9),
                buttons,
            },
        );
        track.extend(
            notes(&out)
                .into_iter()
                .filter(|n| matches!(n, Note::Buttons { .. })),
        );
    }
    let presses = |x, buttons| Note::Buttons { x, y: 9, buttons };
    assert_eq!(track, vec![presses(3, 1), presses(5, 5), presses(6, 0)]);
}

#[test]
fn without_a_recorder_there_is_no_event_track() {
    let mut h = Harness::new();
    let v = h.join(spec());
    let out = h.viewer(v, ClientMessage::Clipboard("x".into()));
    assert!(notes(&out).is_empty());
}

#[test]
fn viewers_set_the_pace_not_the_recorder() {
    let mut h = Harness::new();
    let r = h.join(recorder(false));
    let v = h.join(spec());
    // The viewer acknowledges nothing: after its window (2 frames) no new
    // frame is planned, though the recorder, which acknowledges at once,
    // has room; the changes wait and are sent together later.
    let mut to_viewer = Vec::new();
    let mut to_recorder = Vec::new();
    for i in 0..6u8 {
        h.paint(Rect::new(0, 0, 64, 64), [i, i, i]);
        let out = h.step(true);
        to_viewer.extend(frames(&out, v));
        for id in frames(&out, r) {
            to_recorder.push(id);
            h.ack(r, id);
        }
    }
    assert_eq!(to_viewer.len(), 2, "the viewer's window: {to_viewer:?}");
    assert_eq!(
        to_recorder.len(),
        to_viewer.len(),
        "the recorder gets the frames the viewer gets, no more"
    );
    // Once the viewer acknowledges, the waiting change goes to both at once.
    let mut out = Vec::new();
    for id in to_viewer {
        out.extend(h.ack(v, id));
    }
    assert_eq!(frames(&out, v).len(), 1);
    assert_eq!(frames(&out, r).len(), 1);
}
