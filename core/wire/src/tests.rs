//! Round-trip and rejection tests for the wire format.

use super::*;
use oriel_core_model::{ErrorClass, Point, Rect, Size};
use proptest::prelude::*;

fn arb_point() -> impl Strategy<Value = Point> {
    (any::<u16>(), any::<u16>()).prop_map(|(x, y)| Point::new(x, y))
}

fn arb_rect() -> impl Strategy<Value = Rect> {
    (any::<u16>(), any::<u16>(), 1..=u16::MAX, 1..=u16::MAX)
        .prop_map(|(x, y, w, h)| Rect::new(x, y, w, h))
}

fn arb_token() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[!-~]{0,300}").expect("valid regex")
}

fn arb_client() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        (any::<u16>(), any::<u32>(), any::<(u16, u16)>(), arb_token()).prop_map(
            |(version, capabilities, (w, h), token)| ClientMessage::Hello(ClientHello {
                version,
                capabilities,
                viewport: Size::new(w, h),
                token,
            })
        ),
        any::<u32>().prop_map(|frame_id| ClientMessage::Ack { frame_id }),
        (any::<bool>(), any::<u32>(), any::<u16>()).prop_map(|(down, keysym, scancode)| {
            ClientMessage::Key {
                down,
                keysym,
                scancode,
            }
        }),
        (arb_point(), any::<u8>()).prop_map(|(at, buttons)| ClientMessage::Pointer { at, buttons }),
        (arb_point(), any::<i16>(), any::<i16>()).prop_map(|(at, dx, dy)| ClientMessage::Wheel {
            at,
            dx,
            dy
        }),
        ".{0,200}".prop_map(ClientMessage::Clipboard),
        any::<(u16, u16)>().prop_map(|(w, h)| ClientMessage::Resize(Size::new(w, h))),
        any::<u32>().prop_map(|nonce| ClientMessage::Ping { nonce }),
        Just(ClientMessage::Refresh),
        (any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(caps, num, scroll)| ClientMessage::Locks { caps, num, scroll }),
    ]
}

fn arb_op() -> impl Strategy<Value = FrameOp> {
    prop_oneof![
        (arb_rect(), any::<[u8; 3]>()).prop_map(|(rect, rgb)| FrameOp::Fill { rect, rgb }),
        (arb_point(), arb_rect()).prop_map(|(src, dst)| FrameOp::Copy { src, dst }),
        (
            arb_rect(),
            prop_oneof![Just(Codec::Png), Just(Codec::Jpeg), Just(Codec::Webp)],
            proptest::collection::vec(any::<u8>(), 0..200)
        )
            .prop_map(|(rect, codec, data)| FrameOp::Image { rect, codec, data }),
    ]
}

fn arb_class() -> impl Strategy<Value = ErrorClass> {
    prop_oneof![
        Just(ErrorClass::Client),
        Just(ErrorClass::Target),
        Just(ErrorClass::Policy),
        Just(ErrorClass::Internal),
    ]
}

fn arb_server() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        (
            any::<u16>(),
            any::<u32>(),
            any::<(u16, u16)>(),
            any::<u8>(),
            any::<u8>(),
            any::<u32>(),
            ".{0,50}",
            "[a-z0-9-]{0,40}"
        )
            .prop_map(
                |(version, capabilities, (w, h), mf, policy, cb, name, sid)| {
                    ServerMessage::Hello(ServerHello {
                        version,
                        capabilities,
                        size: Size::new(w, h),
                        max_frames_in_flight: mf,
                        policy,
                        clipboard_max_bytes: cb,
                        name,
                        session_id: sid,
                    })
                }
            ),
        (
            any::<u32>(),
            any::<u64>(),
            proptest::collection::vec(arb_op(), 0..20)
        )
            .prop_map(|(id, damage_time_us, ops)| ServerMessage::Frame(Frame {
                id,
                damage_time_us,
                ops
            })),
        any::<(u16, u16)>().prop_map(|(w, h)| ServerMessage::DesktopSize(Size::new(w, h))),
        (
            arb_point(),
            any::<(u16, u16)>(),
            proptest::collection::vec(any::<u8>(), 0..100)
        )
            .prop_map(|(hotspot, (w, h), png)| ServerMessage::Cursor(CursorImage {
                hotspot,
                size: Size::new(w, h),
                png
            })),
        ".{0,200}".prop_map(|t| ServerMessage::Clipboard(ClipboardText(t))),
        Just(ServerMessage::Bell),
        any::<u32>().prop_map(|nonce| ServerMessage::Pong { nonce }),
        (any::<u16>(), arb_class(), any::<bool>(), ".{0,100}").prop_map(
            |(code, class, retryable, message)| ServerMessage::End(End {
                code,
                class,
                retryable,
                message
            })
        ),
        (
            prop_oneof![
                Just(NoticeKind::ClipboardUpDenied),
                Just(NoticeKind::ClipboardTooLarge),
                Just(NoticeKind::ResizeUnsupported)
            ],
            ".{0,100}"
        )
            .prop_map(|(kind, message)| ServerMessage::Notice { kind, message }),
    ]
}

proptest! {
    #[test]
    fn client_messages_round_trip(msg in arb_client()) {
        let bytes = msg.to_bytes();
        prop_assert_eq!(ClientMessage::decode(&bytes), Ok(msg));
    }

    #[test]
    fn server_messages_round_trip(msg in arb_server()) {
        let bytes = msg.to_bytes();
        prop_assert_eq!(ServerMessage::decode(&bytes), Ok(msg));
    }

    #[test]
    fn truncated_client_messages_are_rejected(msg in arb_client(), cut in 1usize..64) {
        let bytes = msg.to_bytes();
        if cut <= bytes.len() && cut > 0 {
            let short = &bytes[..bytes.len() - cut];
            prop_assert!(ClientMessage::decode(short).is_err());
        }
    }

    #[test]
    fn truncated_server_messages_are_rejected(msg in arb_server(), cut in 1usize..64) {
        let bytes = msg.to_bytes();
        if cut <= bytes.len() {
            let short = &bytes[..bytes.len() - cut];
            prop_assert!(ServerMessage::decode(short).is_err());
        }
    }

    #[test]
    fn trailing_bytes_are_rejected(msg in arb_client(), extra in 1u8..=255) {
        let mut bytes = msg.to_bytes();
        bytes.push(extra);
        prop_assert!(ClientMessage::decode(&bytes).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = ClientMessage::decode(&bytes);
        let _ = ServerMessage::decode(&bytes);
    }
}

#[test]
fn example_from_the_spec_decodes() {
    // §7 of docs/protocol.md.
    let hello = ServerMessage::Hello(ServerHello {
        version: 1,
        capabilities: 0,
        size: Size::new(1920, 1080),
        max_frames_in_flight: 3,
        policy: 3,
        clipboard_max_bytes: 1 << 20,
        name: "desk".into(),
        session_id: "s-1".into(),
    });
    let bytes = hello.to_bytes();
    assert_eq!(
        bytes,
        [
            0x81, 0, 1, 0, 0, 0, 0, 0x07, 0x80, 0x04, 0x38, 3, 3, 0, 0x10, 0, 0, 0, 4, b'd', b'e',
            b's', b'k', 0, 3, b's', b'-', b'1'
        ]
    );
    let frame = ServerMessage::Frame(Frame {
        id: 1,
        damage_time_us: 0x0005_f1c2_a4b3_c000,
        ops: vec![FrameOp::Fill {
            rect: Rect::new(0, 0, 1920, 1080),
            rgb: [0, 0, 0],
        }],
    });
    assert_eq!(
        frame.to_bytes(),
        [
            0x82, 0, 0, 0, 1, 0, 0x05, 0xf1, 0xc2, 0xa4, 0xb3, 0xc0, 0, 0, 1, 1, 0, 0, 0, 0, 0x07,
            0x80, 0x04, 0x38, 0, 0, 0
        ]
    );
    assert_eq!(
        ClientMessage::Ack { frame_id: 1 }.to_bytes(),
        [0x02, 0, 0, 0, 1]
    );
}

#[test]
fn oversized_and_malformed_inputs_get_clear_errors() {
    assert_eq!(ClientMessage::decode(&[]), Err(WireError::Empty));
    assert_eq!(
        ClientMessage::decode(&[0x7f]),
        Err(WireError::UnknownType(0x7f))
    );
    // A clipboard claiming 2 MiB.
    let mut clip = vec![0x06];
    clip.extend_from_slice(&(2u32 << 20).to_be_bytes());
    assert!(matches!(
        ClientMessage::decode(&clip),
        Err(WireError::TooLarge { .. })
    ));
    // A token with a control character.
    let mut hello = vec![0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, b'a', b'\n'];
    assert_eq!(
        ClientMessage::decode(&hello),
        Err(WireError::Invalid("token characters"))
    );
    hello.truncate(hello.len() - 1);
    assert_eq!(ClientMessage::decode(&hello), Err(WireError::Truncated));
    // Whole message over the limit.
    let big = vec![0x06; MAX_CLIENT_MESSAGE + 1];
    assert!(matches!(
        ClientMessage::decode(&big),
        Err(WireError::TooLarge { .. })
    ));
    // Key state must be 0 or 1.
    assert_eq!(
        ClientMessage::decode(&[0x03, 2, 0, 0, 0, 0x61, 0, 0]),
        Err(WireError::Invalid("key state"))
    );
    // A frame whose op count lies.
    let lying = [0x82, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
    assert_eq!(ServerMessage::decode(&lying), Err(WireError::Truncated));
}

#[test]
fn frame_check_enforces_the_guarantees() {
    let size = Size::new(100, 100);
    let fill = |x, y| FrameOp::Fill {
        rect: Rect::new(x, y, 10, 10),
        rgb: [1, 2, 3],
    };
    let copy = FrameOp::Copy {
        src: Point::new(0, 0),
        dst: Rect::new(50, 50, 10, 10),
    };
    let ok = Frame {
        id: 1,
        damage_time_us: 0,
        ops: vec![copy.clone(), fill(0, 0), fill(10, 0)],
    };
    assert!(ok.check(size).is_ok());
    let copy_late = Frame {
        ops: vec![fill(0, 0), copy],
        ..ok.clone()
    };
    assert!(copy_late.check(size).is_err());
    let overlap = Frame {
        ops: vec![fill(0, 0), fill(5, 5)],
        ..ok.clone()
    };
    assert!(overlap.check(size).is_err());
    let outside = Frame {
        ops: vec![fill(95, 0)],
        ..ok
    };
    assert!(outside.check(size).is_err());
}

#[test]
fn close_codes_round_trip() {
    for code in 4000..=4016 {
        let kind = kind_for_close_code(code).expect("defined code");
        assert_eq!(close_code(kind), code);
    }
    assert!(kind_for_close_code(1000).is_none());
}
