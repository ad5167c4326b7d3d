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
        (
            any::<u16>(),
            0..=caps::ALL,
            any::<(u16, u16)>(),
            arb_token()
        )
            .prop_map(
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
        arb_client_file(),
    ]
}

fn arb_path() -> impl Strategy<Value = String> {
    "[^\\x00]{0,100}"
}

fn arb_name() -> impl Strategy<Value = String> {
    "[^\\x00/]{1,60}"
}

fn arb_chunk() -> impl Strategy<Value = FileBytes> {
    proptest::collection::vec(any::<u8>(), 1..300).prop_map(FileBytes)
}

fn arb_client_file() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        (any::<u32>(), arb_path()).prop_map(|(id, path)| ClientMessage::FileList { id, path }),
        (any::<u32>(), arb_path()).prop_map(|(id, path)| ClientMessage::FileDownload { id, path }),
        (any::<u32>(), any::<u64>(), arb_path(), arb_name()).prop_map(|(id, size, dir, name)| {
            ClientMessage::FileUpload {
                id,
                size,
                dir,
                name,
            }
        }),
        (any::<u32>(), arb_chunk()).prop_map(|(id, data)| ClientMessage::FileData { id, data }),
        any::<u32>().prop_map(|id| ClientMessage::FileEnd { id }),
        any::<u32>().prop_map(|id| ClientMessage::FileCancel { id }),
        (any::<u32>(), any::<u64>()).prop_map(|(id, offset)| ClientMessage::FileAck { id, offset }),
    ]
}

fn arb_file_code() -> impl Strategy<Value = FileErrorCode> {
    prop_oneof![
        Just(FileErrorCode::Denied),
        Just(FileErrorCode::TooLarge),
        Just(FileErrorCode::NotFound),
        Just(FileErrorCode::Target),
        Just(FileErrorCode::Invalid),
        Just(FileErrorCode::Cancelled),
        Just(FileErrorCode::Busy),
        Just(FileErrorCode::Unsupported),
    ]
}

fn arb_server_file() -> impl Strategy<Value = ServerMessage> {
    let entry = (arb_name(), any::<bool>(), any::<u64>(), any::<u64>()).prop_map(
        |(name, is_dir, size, modified)| ListingEntry {
            name,
            is_dir,
            size,
            modified,
        },
    );
    prop_oneof![
        (any::<bool>(), any::<bool>(), any::<u64>(), any::<u64>()).prop_map(
            |(upload, download, upload_max_bytes, download_max_bytes)| {
                ServerMessage::Files(FilePolicy {
                    upload,
                    download,
                    upload_max_bytes,
                    download_max_bytes,
                })
            }
        ),
        (
            any::<u32>(),
            arb_path(),
            any::<bool>(),
            proptest::collection::vec(entry, 0..10)
        )
            .prop_map(|(id, path, truncated, entries)| {
                ServerMessage::FileListing(FileListing {
                    id,
                    path,
                    truncated,
                    entries,
                })
            }),
        (any::<u32>(), any::<u64>(), arb_name())
            .prop_map(|(id, size, name)| ServerMessage::FileStart { id, size, name }),
        (any::<u32>(), any::<u64>(), arb_chunk())
            .prop_map(|(id, offset, data)| ServerMessage::FileData { id, offset, data }),
        (any::<u32>(), any::<u64>())
            .prop_map(|(id, bytes)| ServerMessage::FileProgress { id, bytes }),
        (any::<u32>(), any::<u64>()).prop_map(|(id, bytes)| ServerMessage::FileDone { id, bytes }),
        (any::<u32>(), arb_file_code(), ".{0,100}")
            .prop_map(|(id, code, message)| { ServerMessage::FileError { id, code, message } }),
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
                Just(NoticeKind::ResizeUnsupported),
                Just(NoticeKind::Watchers),
                Just(NoticeKind::ControlGranted),
                Just(NoticeKind::ControlTaken)
            ],
            ".{0,100}"
        )
            .prop_map(|(kind, message)| ServerMessage::Notice { kind, message }),
        arb_server_file(),
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
fn a_hello_with_reserved_capability_bits_is_refused() {
    let hello = |capabilities| {
        ClientMessage::Hello(ClientHello {
            version: 1,
            capabilities,
            viewport: Size::new(0, 0),
            token: "t".into(),
        })
        .to_bytes()
    };
    assert!(ClientMessage::decode(&hello(caps::ALL)).is_ok());
    for bit in 0..32 {
        let reserved = 1u32 << bit;
        if reserved & caps::ALL != 0 {
            continue;
        }
        assert_eq!(
            ClientMessage::decode(&hello(reserved)),
            Err(WireError::Invalid("capabilities: reserved bits set")),
            "bit {bit}"
        );
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
    for code in 4000..=4017 {
        let kind = kind_for_close_code(code).expect("defined code");
        assert_eq!(close_code(kind), code);
    }
    assert!(kind_for_close_code(1000).is_none());
}

#[test]
fn file_messages_match_the_spec_vectors() {
    // §2.3 of docs/protocol.md (the JavaScript self-test checks the same bytes).
    let upload = ClientMessage::FileUpload {
        id: 7,
        size: 5,
        dir: String::new(),
        name: "a.txt".into(),
    };
    assert_eq!(
        upload.to_bytes(),
        [
            0x0d, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 5, b'a', b'.', b't', b'x', b't'
        ]
    );
    let data = ClientMessage::FileData {
        id: 7,
        data: FileBytes(b"hello".to_vec()),
    };
    assert_eq!(
        data.to_bytes(),
        [0x0e, 0, 0, 0, 7, 0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o']
    );
    assert_eq!(
        ClientMessage::FileAck {
            id: 9,
            offset: 65536
        }
        .to_bytes(),
        [0x11, 0, 0, 0, 9, 0, 0, 0, 0, 0, 1, 0, 0]
    );
    let files = ServerMessage::Files(FilePolicy {
        upload: true,
        download: false,
        upload_max_bytes: 1 << 20,
        download_max_bytes: 0,
    });
    assert_eq!(
        files.to_bytes(),
        [0x8a, 1, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    let listing = ServerMessage::FileListing(FileListing {
        id: 1,
        path: "/h".into(),
        truncated: false,
        entries: vec![ListingEntry {
            name: "d".into(),
            is_dir: true,
            size: 0,
            modified: 0x6000_0000,
        }],
    });
    assert_eq!(
        listing.to_bytes(),
        [
            0x8b, 0, 0, 0, 1, 0, 0, 2, b'/', b'h', 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0x60, 0, 0, 0, 0, 1, b'd'
        ]
    );
    let error = ServerMessage::FileError {
        id: 7,
        code: FileErrorCode::TooLarge,
        message: "big".into(),
    };
    assert_eq!(
        error.to_bytes(),
        [0x90, 0, 0, 0, 7, 2, 0, 3, b'b', b'i', b'g']
    );
    for msg in [files, listing, error] {
        assert_eq!(ServerMessage::decode(&msg.to_bytes()), Ok(msg));
    }
}

#[test]
fn malformed_file_messages_are_refused() {
    // An empty chunk.
    assert_eq!(
        ClientMessage::decode(&[0x0e, 0, 0, 0, 1, 0, 0, 0, 0]),
        Err(WireError::Invalid("empty file chunk"))
    );
    // A chunk over the limit (the length alone is checked, before the bytes).
    let mut big = vec![0x0e, 0, 0, 0, 1];
    big.extend_from_slice(&((MAX_FILE_CHUNK as u32) + 1).to_be_bytes());
    assert!(matches!(
        ClientMessage::decode(&big),
        Err(WireError::TooLarge { .. })
    ));
    // A chunk of exactly the limit fits in one viewer message.
    let max = ClientMessage::FileData {
        id: 1,
        data: FileBytes(vec![7; MAX_FILE_CHUNK]),
    };
    assert_eq!(ClientMessage::decode(&max.to_bytes()), Ok(max));
    // A path with NUL.
    assert_eq!(
        ClientMessage::decode(&[0x0c, 0, 0, 0, 1, 0, 3, b'a', 0, b'b']),
        Err(WireError::Invalid("file path"))
    );
    // A name over 255 bytes.
    let mut long = vec![0x0d, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0];
    long.extend(std::iter::repeat_n(b'x', 256));
    assert!(matches!(
        ClientMessage::decode(&long),
        Err(WireError::TooLarge { len: 256, .. })
    ));
    // A path over 4096 bytes.
    let mut path = vec![0x0b, 0, 0, 0, 1, 0x10, 0x01];
    path.extend(std::iter::repeat_n(b'x', 4097));
    assert!(matches!(
        ClientMessage::decode(&path),
        Err(WireError::TooLarge { len: 4097, .. })
    ));
    // Invalid UTF-8 in a name.
    assert_eq!(
        ClientMessage::decode(&[0x0d, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0xff]),
        Err(WireError::Utf8)
    );
    // Unknown file flags, error codes and entry kinds.
    let mut flags = vec![0x8a, 4];
    flags.extend_from_slice(&[0; 16]);
    assert_eq!(
        ServerMessage::decode(&flags),
        Err(WireError::Invalid("file flags"))
    );
    assert_eq!(
        ServerMessage::decode(&[0x90, 0, 0, 0, 1, 9, 0, 0]),
        Err(WireError::Invalid("file error code"))
    );
    let mut entry = vec![0x8b, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2];
    entry.extend_from_slice(&[0; 18]);
    assert_eq!(
        ServerMessage::decode(&entry),
        Err(WireError::Invalid("entry kind"))
    );
    // A listing whose count lies, and one over the limit.
    assert_eq!(
        ServerMessage::decode(&[0x8b, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x10]),
        Err(WireError::Truncated)
    );
    assert!(matches!(
        ServerMessage::decode(&[0x8b, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]),
        Err(WireError::TooLarge { .. })
    ));
    // The file types of one direction are unknown in the other.
    assert_eq!(
        ServerMessage::decode(&[0x0f, 0, 0, 0, 1]),
        Err(WireError::UnknownType(0x0f))
    );
    assert_eq!(
        ClientMessage::decode(&[0x8f, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
        Err(WireError::UnknownType(0x8f))
    );
}

#[test]
fn file_bytes_never_show_in_debug() {
    let msg = ClientMessage::FileData {
        id: 1,
        data: FileBytes(b"secret".to_vec()),
    };
    let text = format!("{msg:?}");
    assert!(
        !text.contains("secret") && text.contains("6 bytes"),
        "{text}"
    );
}
