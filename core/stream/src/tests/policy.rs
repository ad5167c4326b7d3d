//! Viewer messages under policy: input, clipboard both ways, watchers.

use super::*;
use oriel_core_model::Point;

#[test]
fn input_from_a_sink_that_controls_reaches_the_target() {
    let mut h = Harness::new();
    let a = h.join(spec());
    let mut all = Vec::new();
    for msg in [
        ClientMessage::Key {
            down: true,
            keysym: 0x61,
            scancode: 0x1e,
        },
        ClientMessage::Pointer {
            at: Point::new(1, 2),
            buttons: 1,
        },
        ClientMessage::Resize(Size::new(800, 600)),
        ClientMessage::Resize(Size::new(0, 600)),
    ] {
        all.extend(h.viewer(a, msg));
    }
    assert_eq!(
        inputs(&all),
        vec![
            InputEventKind::Key,
            InputEventKind::Pointer,
            InputEventKind::Resize
        ],
        "an impossible size is not passed on"
    );
}

#[test]
fn a_sink_that_only_watches_sends_no_input_clipboard_or_files() {
    let mut h = Harness::new();
    let watcher = SinkSpec {
        control: false,
        policy: Policy {
            upload: true,
            download: true,
            ..policy()
        },
        ..spec()
    };
    let w = h.join(watcher);
    let mut all = Vec::new();
    for msg in [
        ClientMessage::Key {
            down: true,
            keysym: 0x61,
            scancode: 0x1e,
        },
        ClientMessage::Clipboard("secret".into()),
        ClientMessage::Resize(Size::new(800, 600)),
    ] {
        all.extend(h.viewer(w, msg));
    }
    assert!(inputs(&all).is_empty());
    let refused = all
        .iter()
        .filter(|o| matches!(o, Output::Observe(Observation::InputRefused)))
        .count();
    assert_eq!(refused, 3);
    // Its HELLO offers no clipboard upwards; no FILES for it.
    let mut h = Harness::with(CoreSettings::default());
    h.core = SessionCore::new(
        CoreSettings::default(),
        SessionStart {
            session_id: "s".into(),
            name: "n".into(),
            size: SIZE,
            files: true,
            watermark: None,
        },
        h.now,
    );
    let w = h.core.add_sink(
        SinkSpec {
            control: false,
            policy: Policy {
                upload: true,
                download: true,
                ..policy()
            },
            ..spec()
        },
        h.now,
    );
    let msgs = sent(&h.collect(), w);
    assert_eq!(msgs.len(), 1);
    let ServerMessage::Hello(hello) = &msgs[0] else {
        panic!()
    };
    // Clipboard down only, and it is told it only watches.
    assert_eq!(
        hello.policy,
        oriel_core_wire::policy_bits::CLIPBOARD_DOWN | oriel_core_wire::policy_bits::VIEW_ONLY
    );
}

#[test]
fn files_are_announced_to_sinks_whose_policy_allows_a_direction() {
    let mut h = Harness::new();
    h.core = SessionCore::new(
        CoreSettings::default(),
        SessionStart {
            session_id: "s".into(),
            name: "n".into(),
            size: SIZE,
            files: true,
            watermark: None,
        },
        h.now,
    );
    let up = h.core.add_sink(
        SinkSpec {
            policy: Policy {
                upload: true,
                upload_max_bytes: 10,
                ..policy()
            },
            ..spec()
        },
        h.now,
    );
    let none = h.core.add_sink(spec(), h.now);
    let out = h.collect();
    let files = |s| {
        sent(&out, s).into_iter().find_map(|m| match m {
            ServerMessage::Files(f) => Some(f),
            _ => None,
        })
    };
    let f = files(up).unwrap();
    assert!(f.upload && !f.download && f.upload_max_bytes == 10);
    assert!(files(none).is_none());
}

/// The table of clipboard decisions, both directions.
#[test]
fn clipboard_text_follows_each_sinks_policy_both_ways() {
    struct Case {
        up: bool,
        down: bool,
        max: u32,
        text: &'static str,
        reaches_target: bool,
        notice: Option<NoticeKind>,
        reaches_viewer: bool,
        decision: ClipboardDecision,
    }
    let cases = [
        Case {
            up: true,
            down: true,
            max: 100,
            text: "hello",
            reaches_target: true,
            notice: None,
            reaches_viewer: true,
            decision: ClipboardDecision::Allowed,
        },
        Case {
            up: false,
            down: false,
            max: 100,
            text: "hello",
            reaches_target: false,
            notice: Some(NoticeKind::ClipboardUpDenied),
            reaches_viewer: false,
            decision: ClipboardDecision::Denied,
        },
        Case {
            up: true,
            down: true,
            max: 3,
            text: "hello",
            reaches_target: false,
            notice: Some(NoticeKind::ClipboardTooLarge),
            reaches_viewer: false,
            decision: ClipboardDecision::TooLarge,
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        let mut h = Harness::new();
        let s = h.join(SinkSpec {
            policy: Policy {
                clipboard_up: c.up,
                clipboard_down: c.down,
                clipboard_max_bytes: c.max,
                ..Policy::default()
            },
            ..spec()
        });
        let out = h.viewer(s, ClientMessage::Clipboard(c.text.into()));
        let to_target = inputs(&out) == vec![InputEventKind::Clipboard(c.text.into())];
        assert_eq!(to_target, c.reaches_target, "case {i} up");
        let notice = sent(&out, s).into_iter().find_map(|m| match m {
            ServerMessage::Notice { kind, .. } => Some(kind),
            _ => None,
        });
        assert_eq!(notice, c.notice, "case {i} notice");
        assert!(out.iter().any(|o| matches!(o,
            Output::Observe(Observation::Clipboard { up: true, decision }) if *decision == c.decision)));

        h.core
            .handle_target(SessionEvent::Clipboard(c.text.into()), h.now);
        let out = h.collect();
        let to_viewer = sent(&out, s)
            .iter()
            .any(|m| matches!(m, ServerMessage::Clipboard(t) if t.0 == c.text));
        assert_eq!(to_viewer, c.reaches_viewer, "case {i} down");
    }
}

#[test]
fn pings_are_answered_and_hello_twice_or_a_bad_ack_closes_only_that_sink() {
    let mut h = Harness::new();
    let (a, b) = (h.join(spec()), h.join(spec()));
    let out = h.viewer(a, ClientMessage::Ping { nonce: 7 });
    assert_eq!(sent(&out, a), vec![ServerMessage::Pong { nonce: 7 }]);
    let out = h.viewer(a, ClientMessage::Ack { frame_id: 9 });
    assert_eq!(closed(&out, a), Some(SessionErrorKind::ClientProtocol));
    assert_eq!(h.core.sinks(), 1);
    let hello = match ClientMessage::decode(
        &ClientMessage::Hello(oriel_core_wire::ClientHello {
            version: 1,
            capabilities: 0,
            viewport: Size::new(0, 0),
            token: "t".into(),
        })
        .to_bytes(),
    ) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    let out = h.viewer(b, hello);
    assert_eq!(closed(&out, b), Some(SessionErrorKind::ClientProtocol));
    assert_eq!(h.core.sinks(), 0);
    assert!(ended(&out).is_none(), "the session itself goes on");
}
