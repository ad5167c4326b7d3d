//! Share links' guests and shadowing admins: who the owner is told about,
//! control handed over and taken back, a link's viewers closed.

use super::*;
use oriel_core_model::SessionError;
use oriel_core_token::{WatchedVia, Watcher};
use oriel_core_wire::policy_bits;

fn owner(capabilities: u32) -> SinkSpec {
    SinkSpec {
        capabilities,
        ..spec()
    }
}

fn guest(label: &str, via: WatchedVia, link: Option<&str>, notify: bool) -> SinkSpec {
    SinkSpec {
        capabilities: caps::PRESENCE,
        control: false,
        kind: SinkKind::Viewer {
            label: label.into(),
        },
        watcher: Some(Watcher {
            via,
            link: link.map(str::to_owned),
            notify,
            owner_sub: String::new(),
            owner_name: String::new(),
        }),
        ..spec()
    }
}

/// The NOTICEs of a kind sent to `sink`.
fn notices(outputs: &[Output], sink: SinkId, kind: NoticeKind) -> Vec<String> {
    sent(outputs, sink)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::Notice { kind: k, message } if k == kind => Some(message),
            _ => None,
        })
        .collect()
}

fn hello_policy(outputs: &[Output], sink: SinkId) -> u8 {
    sent(outputs, sink)
        .into_iter()
        .find_map(|m| match m {
            ServerMessage::Hello(h) => Some(h.policy),
            _ => None,
        })
        .expect("HELLO")
}

#[test]
fn the_owner_is_told_who_watches_unless_the_watcher_is_silent() {
    let mut h = Harness::new();
    let o = h.core.add_sink(owner(caps::PRESENCE), h.now);
    let old = h.core.add_sink(owner(0), h.now);
    let out = h.collect();
    assert!(
        notices(&out, o, NoticeKind::Watchers).is_empty(),
        "nobody watches yet"
    );

    // Each row: who joins, and the line the owner is told (None: nothing).
    let rows: [(SinkSpec, Option<&str>); 3] = [
        (
            guest("bob from 192.0.2.8", WatchedVia::Share, Some("l-1"), true),
            Some("bob from 192.0.2.8 (share link, view only)"),
        ),
        // Silent monitoring (the workspace's policy allows it): not told.
        (
            guest("root from 192.0.2.9", WatchedVia::Shadow, None, false),
            None,
        ),
        (
            guest("carol from 192.0.2.10", WatchedVia::Shadow, None, true),
            Some(
                "bob from 192.0.2.8 (share link, view only); carol from 192.0.2.10 (admin, view only)",
            ),
        ),
    ];
    let mut joined = Vec::new();
    for (spec, told) in rows {
        let id = h.core.add_sink(spec, h.now);
        joined.push(id);
        let out = h.collect();
        assert_eq!(
            notices(&out, o, NoticeKind::Watchers),
            told.map(str::to_owned).into_iter().collect::<Vec<_>>()
        );
        // A viewer that does not offer PRESENCE is never sent these kinds.
        assert!(sent(&out, old).is_empty(), "{:?}", sent(&out, old));
        // The watcher's HELLO says it only watches.
        assert_eq!(
            hello_policy(&out, id) & policy_bits::VIEW_ONLY,
            policy_bits::VIEW_ONLY
        );
    }

    // An owner's viewer that joins later hears the list at once.
    let late = h.core.add_sink(owner(caps::PRESENCE), h.now);
    let out = h.collect();
    assert_eq!(hello_policy(&out, late) & policy_bits::VIEW_ONLY, 0);
    assert_eq!(notices(&out, late, NoticeKind::Watchers).len(), 1);

    // Leaving is told too; the last one out empties the list.
    h.core.remove_sink(joined[0]);
    let out = h.collect();
    assert_eq!(
        notices(&out, o, NoticeKind::Watchers),
        ["carol from 192.0.2.10 (admin, view only)"]
    );
    h.core.remove_sink(joined[1]);
    assert!(
        notices(&h.collect(), o, NoticeKind::Watchers).is_empty(),
        "silent: no change"
    );
    h.core.close_sink(
        joined[2],
        SessionError::new(SessionErrorKind::Forbidden, "gone"),
    );
    assert_eq!(notices(&h.collect(), o, NoticeKind::Watchers), [""]);
}

#[test]
fn a_links_control_is_handed_over_and_taken_back() {
    let mut h = Harness::new();
    let o = h.join(owner(caps::PRESENCE));
    let g = h.join(guest(
        "bob from 192.0.2.8",
        WatchedVia::Share,
        Some("l-1"),
        true,
    ));
    let other = h.join(guest(
        "dan from 192.0.2.11",
        WatchedVia::Share,
        Some("l-2"),
        true,
    ));
    h.collect();
    let key = || ClientMessage::Key {
        down: true,
        keysym: 0x61,
        scancode: 0x1e,
    };
    assert!(inputs(&h.viewer(g, key())).is_empty(), "view only at first");

    assert_eq!(h.core.set_link_control("l-1", true), 1);
    let out = h.collect();
    assert_eq!(notices(&out, g, NoticeKind::ControlGranted).len(), 1);
    assert!(sent(&out, other).is_empty(), "another link is untouched");
    assert_eq!(
        notices(&out, o, NoticeKind::Watchers),
        [
            "bob from 192.0.2.8 (share link, in control); dan from 192.0.2.11 (share link, view only)"
        ]
    );
    assert_eq!(inputs(&h.viewer(g, key())), [InputEventKind::Key]);
    assert!(inputs(&h.viewer(other, key())).is_empty());
    // Handing it over again changes nothing and tells nobody.
    assert_eq!(h.core.set_link_control("l-1", true), 0);
    assert!(h.collect().is_empty());

    assert_eq!(h.core.set_link_control("l-1", false), 1);
    let out = h.collect();
    assert_eq!(notices(&out, g, NoticeKind::ControlTaken).len(), 1);
    assert!(inputs(&h.viewer(g, key())).is_empty(), "view only again");
    assert!(inputs(&h.viewer(g, ClientMessage::Clipboard("x".into()))).is_empty());
    // The owner always controls.
    assert_eq!(inputs(&h.viewer(o, key())), [InputEventKind::Key]);
}

#[test]
fn the_event_track_says_how_a_viewer_came_and_when_control_changed() {
    let mut h = Harness::new();
    h.join(SinkSpec {
        control: false,
        kind: SinkKind::Recorder {
            keyframe_every_us: 10 * S,
            keystrokes: false,
        },
        ..spec()
    });
    let g = h.join(guest(
        "bob from 192.0.2.8",
        WatchedVia::Share,
        Some("l-1"),
        true,
    ));
    h.core.set_link_control("l-1", true);
    let notes: Vec<Note> = h
        .collect()
        .into_iter()
        .filter_map(|o| match o {
            Output::Note(n) => Some(n),
            _ => None,
        })
        .collect();
    assert!(notes.contains(&Note::Control {
        sink: g,
        label: "bob from 192.0.2.8".into(),
        control: true
    }));
}
