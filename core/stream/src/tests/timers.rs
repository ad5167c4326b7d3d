//! Deadlines with time as a number: idle timeout, maximum length, silent
//! viewers, pings, the lossless refresh.

use super::*;

#[test]
fn the_idle_timeout_ends_the_session_unless_a_controlling_sink_works() {
    let mut h = Harness::new();
    let a = h.join(SinkSpec {
        policy: Policy {
            idle_timeout_secs: 60,
            ..policy()
        },
        ..spec()
    });
    let start = h.now;
    // Keys hold it off; resizes and watchers do not.
    h.now = start + 50 * S;
    h.core.handle_viewer(
        a,
        ClientMessage::Key {
            down: true,
            keysym: 1,
            scancode: 0,
        },
        h.now,
    );
    let keyed = h.now;
    h.now += S;
    h.core
        .handle_viewer(a, ClientMessage::Resize(Size::new(640, 480)), h.now);
    let w = h.core.add_sink(
        SinkSpec {
            control: false,
            ..spec()
        },
        h.now,
    );
    h.core.heard(w, h.now, true);
    h.collect();
    assert!(h.core.poll_timeout().unwrap() <= keyed + 60 * S);
    h.now = keyed + 60 * S - 1;
    h.core.heard(a, h.now, false);
    h.core.handle_timeout(h.now);
    assert!(ended(&h.collect()).is_none());
    h.now = keyed + 60 * S;
    h.core.handle_timeout(h.now);
    assert!(
        matches!(ended(&h.collect()), Some(Ending::Failed(e)) if e.kind == SessionErrorKind::IdleTimeout)
    );
}

#[test]
fn file_transfers_count_as_work_for_the_idle_timeout() {
    let mut h = Harness::new();
    let a = h.join(SinkSpec {
        policy: Policy {
            idle_timeout_secs: 10,
            ..policy()
        },
        ..spec()
    });
    h.now += 9 * S;
    h.core.heard(a, h.now, true);
    h.now += 9 * S;
    h.core.handle_timeout(h.now);
    assert!(ended(&h.collect()).is_none());
}

#[test]
fn the_maximum_length_ends_the_session_at_the_earliest_tokens_deadline() {
    let mut h = Harness::new();
    let start = h.now;
    h.join(SinkSpec {
        deadline_us: Some(start + 100 * S),
        ..spec()
    });
    h.join(SinkSpec {
        deadline_us: Some(start + 30 * S),
        ..spec()
    });
    assert_eq!(h.core.poll_timeout(), Some(start + 15 * S), "a ping first");
    h.now = start + 30 * S;
    h.core.handle_timeout(h.now);
    assert!(
        matches!(ended(&h.collect()), Some(Ending::Failed(e)) if e.kind == SessionErrorKind::SessionExpired)
    );
}

#[test]
fn silent_sinks_are_pinged_then_closed() {
    let mut h = Harness::new();
    let start = h.now;
    let (a, b) = (h.join(spec()), h.join(spec()));
    h.now = start + 15 * S;
    h.core.handle_timeout(h.now);
    let out = h.collect();
    let pings: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Ping(s) => Some(*s),
            _ => None,
        })
        .collect();
    assert_eq!(pings, vec![a, b]);
    // b answers (a pong is a message); a stays silent.
    h.core.heard(b, h.now, false);
    h.now = start + 45 * S;
    h.core.handle_timeout(h.now);
    let out = h.collect();
    assert_eq!(closed(&out, a), Some(SessionErrorKind::ClientTimeout));
    assert_eq!(closed(&out, b), None);
    assert!(ended(&out).is_none());
    assert_eq!(h.core.sinks(), 1);
}

#[test]
fn lossy_tiles_are_sent_again_losslessly_once_still() {
    let mut h = Harness::new();
    let a = h.join(spec());
    h.noise(Rect::new(0, 0, 64, 64), 5);
    let out = h.step(true);
    let lossy = |out: &[Output]| {
        sent(out, a)
            .into_iter()
            .flat_map(|m| match m {
                ServerMessage::Frame(f) => f.ops,
                _ => Vec::new(),
            })
            .map(|op| match op {
                FrameOp::Image { codec, .. } => codec,
                _ => Codec::Png,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(lossy(&out), vec![Codec::Jpeg]);
    h.ack(a, 1);
    let due = h.core.poll_timeout().unwrap();
    assert!(due <= h.now + 300 * MS);
    h.now = due;
    h.core.handle_timeout(h.now);
    let out = h.step(false);
    assert_eq!(lossy(&out), vec![Codec::Png]);
}
