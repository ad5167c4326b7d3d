use super::*;
use ironrdp_graphics::image_processing::PixelFormat;

fn kbd(flags: KeyboardFlags, code: u8) -> FastPathInputEvent {
    FastPathInputEvent::KeyboardEvent(flags, code)
}

#[test]
fn scancodes_are_sent_as_is_with_the_extended_flag() {
    assert_eq!(
        key_events(0x61, 0x1E, true),
        vec![kbd(KeyboardFlags::empty(), 0x1E)]
    );
    assert_eq!(
        key_events(0x61, 0x1E, false),
        vec![kbd(KeyboardFlags::RELEASE, 0x1E)]
    );
    assert_eq!(
        key_events(0xFF52, 0xE048, false),
        vec![kbd(KeyboardFlags::RELEASE | KeyboardFlags::EXTENDED, 0x48)]
    );
    // Not a set-1 code: nothing rather than garbage.
    assert!(key_events(0x61, 0x1234, true).is_empty());
}

#[test]
fn missing_scancodes_fall_back_to_positions_then_unicode() {
    // Return by keysym.
    assert_eq!(
        key_events(0xFF0D, 0, true),
        vec![kbd(KeyboardFlags::empty(), 0x1C)]
    );
    // Latin-1 and Unicode keysyms as text; astral planes as surrogate pairs.
    assert_eq!(
        key_events(0xE9, 0, true),
        vec![FastPathInputEvent::UnicodeKeyboardEvent(
            KeyboardFlags::empty(),
            0xE9
        )]
    );
    assert_eq!(
        key_events(0x0100_20AC, 0, false),
        vec![FastPathInputEvent::UnicodeKeyboardEvent(
            KeyboardFlags::RELEASE,
            0x20AC
        )]
    );
    assert_eq!(key_events(0x0101_F600, 0, true).len(), 2);
    // Unknown, non-printable: nothing.
    assert!(key_events(0xFE03, 0, true).is_empty());
    assert!(key_events(0x0100_0007, 0, true).is_empty());
    assert_eq!(keysym_char(0x41), Some('A'));
    assert_eq!(keysym_char(0x7F), None);
}

#[test]
fn pause_is_the_e1_sequence_on_press_only() {
    let down = key_events(0xFF13, 0xE046, true);
    assert_eq!(down.len(), 4);
    assert_eq!(down[0], kbd(KeyboardFlags::EXTENDED1, 0x1D));
    assert!(key_events(0xFF13, 0xE046, false).is_empty());
}

#[test]
fn pointer_moves_and_button_changes() {
    let mut t = InputTranslator::default();
    let size = Size::new(100, 50);
    let ev = t.translate(
        InputEvent::Pointer {
            at: Point::new(500, 20),
            buttons: buttons::LEFT,
        },
        size,
    );
    assert_eq!(
        ev,
        vec![
            mouse(PointerFlags::MOVE, Point::new(99, 20), 0),
            mouse(
                PointerFlags::LEFT_BUTTON | PointerFlags::DOWN,
                Point::new(99, 20),
                0
            ),
        ]
    );
    // Same place, left released, back pressed.
    let ev = t.translate(
        InputEvent::Pointer {
            at: Point::new(99, 20),
            buttons: buttons::BACK,
        },
        size,
    );
    assert_eq!(ev.len(), 2);
    assert_eq!(
        ev[0],
        mouse(PointerFlags::LEFT_BUTTON, Point::new(99, 20), 0)
    );
    assert!(
        matches!(ev[1], FastPathInputEvent::MouseEventEx(m) if m.flags == PointerXFlags::BUTTON1 | PointerXFlags::DOWN)
    );
}

#[test]
fn wheel_notches_are_signed_and_capped() {
    let mut t = InputTranslator::default();
    let size = Size::new(100, 100);
    let at = Point::new(1, 1);
    let ev = t.translate(
        InputEvent::Wheel {
            at,
            dx: 0,
            dy: 2 * WHEEL_NOTCH + 10,
        },
        size,
    );
    // A move, then two notches down: negative rotation in RDP.
    assert_eq!(ev.len(), 3);
    assert_eq!(
        ev[1],
        mouse(
            PointerFlags::VERTICAL_WHEEL | PointerFlags::WHEEL_NEGATIVE,
            at,
            -WHEEL_NOTCH
        )
    );
    // The remainder carries over.
    let ev = t.translate(InputEvent::Wheel { at, dx: 0, dy: 110 }, size);
    assert_eq!(ev.len(), 1);
    let ev = t.translate(
        InputEvent::Wheel {
            at,
            dx: WHEEL_NOTCH,
            dy: 0,
        },
        size,
    );
    assert_eq!(
        ev,
        vec![mouse(PointerFlags::HORIZONTAL_WHEEL, at, WHEEL_NOTCH)]
    );
    let flood = t.translate(
        InputEvent::Wheel {
            at,
            dx: i16::MIN,
            dy: i16::MAX,
        },
        size,
    );
    assert_eq!(flood.len(), 20);
}

#[test]
fn lock_keys_become_a_synchronize_event() {
    let mut t = InputTranslator::default();
    let ev = t.translate(
        InputEvent::Locks {
            caps: true,
            num: true,
            scroll: false,
        },
        Size::new(10, 10),
    );
    assert_eq!(
        ev,
        vec![FastPathInputEvent::SyncEvent(
            SynchronizeFlags::CAPS_LOCK | SynchronizeFlags::NUM_LOCK
        )]
    );
}

#[test]
fn regions_are_clipped_and_copied_row_by_row() {
    let image = DecodedImage::new(PixelFormat::RgbA32, 4, 3);
    let ev = region_pixels(
        &image,
        &InclusiveRectangle {
            left: 2,
            top: 1,
            right: 9,
            bottom: 9,
        },
    );
    match ev {
        Some(SessionEvent::Pixels { rect, layout, data }) => {
            assert_eq!(rect, Rect::new(2, 1, 2, 2));
            assert_eq!(layout, PixelLayout::Rgbx32);
            assert_eq!(data.len(), 16);
        }
        other => panic!("unexpected {other:?}"),
    }
    let outside = InclusiveRectangle {
        left: 5,
        top: 0,
        right: 6,
        bottom: 1,
    };
    assert!(region_pixels(&image, &outside).is_none());
    let inverted = InclusiveRectangle {
        left: 3,
        top: 0,
        right: 1,
        bottom: 1,
    };
    assert!(region_pixels(&image, &inverted).is_none());
}

#[test]
fn many_regions_are_merged() {
    let r = |x: u16| InclusiveRectangle {
        left: x,
        top: x,
        right: x + 1,
        bottom: x + 1,
    };
    assert_eq!(coalesce(vec![r(0), r(0), r(5)]).len(), 2);
    let merged = coalesce((0..100).map(r).collect());
    assert_eq!(
        merged,
        vec![InclusiveRectangle {
            left: 0,
            top: 0,
            right: 100,
            bottom: 100
        }]
    );
}

#[test]
fn pointers_become_cursor_shapes() {
    let pointer = DecodedPointer {
        width: 2,
        height: 1,
        hotspot_x: 5,
        hotspot_y: 0,
        bitmap_data: vec![1; 8],
    };
    let shape = cursor_shape(&pointer).expect("consistent");
    assert_eq!(shape.hotspot, Point::new(1, 0));
    let broken = DecodedPointer {
        bitmap_data: vec![1; 7],
        ..pointer
    };
    assert!(cursor_shape(&broken).is_none());
    assert_eq!(
        cursor_shape(&DecodedPointer::new_invisible()).map(|c| c.size),
        Some(Size::default())
    );
    let arrow = default_cursor();
    assert_eq!(arrow.rgba.len(), arrow.size.area() as usize * 4);
}
