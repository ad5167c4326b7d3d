use super::*;
use oriel_core_model::Rect;

fn alpha_pixels(o: &Overlay, rect: Rect, background: u8) -> usize {
    let mut rgb = vec![background; rect.area() as usize * 3];
    o.apply(rect, &mut rgb);
    rgb.iter().filter(|&&v| v != background).count()
}

#[test]
fn the_text_shows_on_light_and_dark_pictures_and_not_at_zero_opacity() {
    let lines = vec![
        "alice 2026-12-07 10:00".to_owned(),
        "s-1234 192.0.2.7".to_owned(),
    ];
    let o = render(&lines, Style::default()).unwrap();
    let (w, h) = o.pattern_size();
    let cell = Rect::new(0, 0, w, h);
    assert!(alpha_pixels(&o, cell, 255) > 200, "dark shadow on white");
    assert!(alpha_pixels(&o, cell, 0) > 200, "white text on black");
    let none = render(
        &lines,
        Style {
            opacity: 0.0,
            ..Style::default()
        },
    )
    .unwrap();
    assert_eq!(alpha_pixels(&none, cell, 128), 0);
    // Tiled: the same pattern one cell further on.
    let mut a = vec![40u8; (w as usize) * 3];
    let mut b = a.clone();
    o.apply(Rect::new(0, h / 2, w, 1), &mut a);
    o.apply(Rect::new(w, h / 2 + h, w, 1), &mut b);
    assert_eq!(a, b);
}

#[test]
fn styles_out_of_range_are_refused() {
    let l = vec!["x".to_owned()];
    for style in [
        Style {
            opacity: 1.5,
            ..Style::default()
        },
        Style {
            angle_deg: 100.0,
            ..Style::default()
        },
        Style {
            size_px: 2.0,
            ..Style::default()
        },
    ] {
        assert!(matches!(render(&l, style), Err(WatermarkError::Style(_))));
    }
    // Level text at angle 0 is wider than tall; at 90 degrees taller than wide.
    let flat = render(
        &["a long line of text".to_owned()],
        Style {
            angle_deg: 0.0,
            ..Style::default()
        },
    )
    .unwrap();
    let upright = render(
        &["a long line of text".to_owned()],
        Style {
            angle_deg: 90.0,
            ..Style::default()
        },
    )
    .unwrap();
    let ((fw, fh), (uw, uh)) = (flat.pattern_size(), upright.pattern_size());
    assert!(fw > fh && uh > uw, "{fw}x{fh} / {uw}x{uh}");
}

#[test]
fn templates_fill_in_and_keep_control_characters_out() {
    assert_eq!(
        lines(
            "{user} {time}|{session} from {client}",
            "bob\n\u{7}",
            "10:00",
            "s-1",
            "192.0.2.1"
        ),
        vec!["bob 10:00".to_owned(), "s-1 from 192.0.2.1".to_owned()]
    );
    assert_eq!(lines("||{user}|", "", "", "", ""), Vec::<String>::new());
    let long = "x".repeat(500);
    let o = render(&[long], Style::default()).unwrap();
    assert!(
        o.pattern_size().0 < 4096,
        "lines are cut to {MAX_LINE_CHARS} characters"
    );
}

/// `WATERMARK_DUMP=dir cargo test -p oriel-encoders-watermark dump` writes
/// a desktop's worth of pattern over a grey gradient as raw RGB, to look at.
#[test]
fn dump() {
    let Some(dir) = std::env::var_os("WATERMARK_DUMP") else {
        return;
    };
    let o = render(
        &lines(
            "{user} {time}|{session} {client}",
            "alice",
            "2026-12-07 10:00 UTC",
            "s-8f3a",
            "192.0.2.7",
        ),
        Style::default(),
    )
    .unwrap();
    let (w, h) = (800u16, 400u16);
    let mut rgb: Vec<u8> = (0..u32::from(w) * u32::from(h))
        .flat_map(|i| {
            let v = (i % u32::from(w) * 255 / u32::from(w)) as u8;
            [v, v, v]
        })
        .collect();
    o.apply(Rect::new(0, 0, w, h), &mut rgb);
    std::fs::write(std::path::Path::new(&dir).join("watermark.rgb"), rgb).unwrap();
}
