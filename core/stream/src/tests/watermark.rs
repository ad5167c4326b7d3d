//! The watermark's schedule: asked for at the start and every minute, and
//! no frame before it is in place.

use super::*;
use oriel_encoders_damage::Overlay;
use std::sync::Arc;

fn marked() -> Harness {
    let mut h = Harness::new();
    // 1_000 s after the epoch is 00:16:40: the next minute is at 1_020 s.
    h.core = SessionCore::new(
        CoreSettings::default(),
        SessionStart {
            session_id: "s-9".into(),
            name: "desk".into(),
            size: SIZE,
            files: false,
            watermark: Some(WatermarkSpec {
                template: "{user} {time}|{session} {client}".into(),
                user: "alice".into(),
                client: "192.0.2.7".into(),
                opacity: 30,
                angle: -20,
            }),
        },
        h.now,
    );
    h
}

fn asked(outputs: &[Output]) -> Vec<WatermarkText> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Watermark(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn pattern() -> Arc<Overlay> {
    Arc::new(Overlay::new(1, 1, vec![255, 255, 255, 128]).unwrap())
}

#[test]
fn nothing_is_sent_before_the_mark_and_everything_is_sent_with_it() {
    let mut h = marked();
    let first = asked(&h.collect());
    assert_eq!(
        first,
        vec![WatermarkText {
            lines: vec!["alice 1970-01-01 00:16 UTC".into(), "s-9 192.0.2.7".into()],
            opacity: 30,
            angle: -20,
        }]
    );
    let a = h.join(spec());
    h.paint(Rect::new(0, 0, 64, 64), [1, 2, 3]);
    let out = h.step(true);
    assert!(frames(&out, a).is_empty(), "no frame without the mark");
    h.core.set_watermark(pattern(), h.now);
    let out = h.step(true);
    let msgs = sent(&out, a);
    let [ServerMessage::Frame(f)] = &msgs[..] else {
        panic!("{msgs:?}")
    };
    let covered: u32 = f.ops.iter().map(|op| op.rect().area()).sum();
    assert_eq!(covered, SIZE.area(), "black under the mark is sent too");
}

#[test]
fn the_mark_is_asked_for_again_when_the_minute_changes() {
    let mut h = marked();
    h.collect();
    h.core.set_watermark(pattern(), h.now);
    h.collect();
    let next = 1_020 * S;
    assert!(h.core.poll_timeout().unwrap() <= next);
    h.now = next - 1;
    h.core.handle_timeout(h.now);
    assert!(asked(&h.collect()).is_empty());
    h.now = next;
    h.core.handle_timeout(h.now);
    let again = asked(&h.collect());
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].lines[0], "alice 1970-01-01 00:17 UTC");
}

#[test]
fn utc_minutes() {
    assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
    // 2026-12-07 16:09:58 UTC.
    assert_eq!(utc_minute(1_796_659_798_000_000), "2026-12-07 16:09 UTC");
    // A leap day.
    assert_eq!(utc_minute(1_709_164_800_000_000), "2024-02-29 00:00 UTC");
}
