//! US keyboard layout for `Input.dispatchKeyEvent`: what a real key press sends.
//!
//! A canvas-based client reads `KeyboardEvent.key`, `.code` and `.keyCode`,
//! so each typed character becomes a keyDown/keyUp pair with all three set
//! (and Shift pressed around shifted characters), as Puppeteer's layout does.

/// One physical key press.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyDef {
    /// `KeyboardEvent.key`.
    pub key: String,
    /// `KeyboardEvent.code`; empty for characters not on a US keyboard.
    pub code: &'static str,
    /// `KeyboardEvent.keyCode` (Windows virtual key code).
    pub key_code: u32,
    /// The text the key inserts, if any.
    pub text: Option<String>,
    /// Shift must be held to get this character.
    pub shift: bool,
}

/// Modifier bits of `Input.dispatchKeyEvent`/`dispatchMouseEvent`.
pub(crate) const MOD_ALT: u32 = 1;
pub(crate) const MOD_CTRL: u32 = 2;
pub(crate) const MOD_META: u32 = 4;
pub(crate) const MOD_SHIFT: u32 = 8;

/// (unshifted, shifted, code, keyCode) for the printable keys.
const PRINTABLE: &[(char, char, &str, u32)] = &[
    ('1', '!', "Digit1", 49),
    ('2', '@', "Digit2", 50),
    ('3', '#', "Digit3", 51),
    ('4', '$', "Digit4", 52),
    ('5', '%', "Digit5", 53),
    ('6', '^', "Digit6", 54),
    ('7', '&', "Digit7", 55),
    ('8', '*', "Digit8", 56),
    ('9', '(', "Digit9", 57),
    ('0', ')', "Digit0", 48),
    (' ', ' ', "Space", 32),
    (';', ':', "Semicolon", 186),
    ('=', '+', "Equal", 187),
    (',', '<', "Comma", 188),
    ('-', '_', "Minus", 189),
    ('.', '>', "Period", 190),
    ('/', '?', "Slash", 191),
    ('`', '~', "Backquote", 192),
    ('[', '{', "BracketLeft", 219),
    ('\\', '|', "Backslash", 220),
    (']', '}', "BracketRight", 221),
    ('\'', '"', "Quote", 222),
];

const LETTER_CODES: [&str; 26] = [
    "KeyA", "KeyB", "KeyC", "KeyD", "KeyE", "KeyF", "KeyG", "KeyH", "KeyI", "KeyJ", "KeyK", "KeyL",
    "KeyM", "KeyN", "KeyO", "KeyP", "KeyQ", "KeyR", "KeyS", "KeyT", "KeyU", "KeyV", "KeyW", "KeyX",
    "KeyY", "KeyZ",
];

/// (key name, code, keyCode, text) for the named keys.
const NAMED: &[(&str, &str, u32, Option<&str>)] = &[
    ("Enter", "Enter", 13, Some("\r")),
    ("Tab", "Tab", 9, None),
    ("Backspace", "Backspace", 8, None),
    ("Escape", "Escape", 27, None),
    ("Delete", "Delete", 46, None),
    ("Insert", "Insert", 45, None),
    ("Home", "Home", 36, None),
    ("End", "End", 35, None),
    ("PageUp", "PageUp", 33, None),
    ("PageDown", "PageDown", 34, None),
    ("ArrowLeft", "ArrowLeft", 37, None),
    ("ArrowUp", "ArrowUp", 38, None),
    ("ArrowRight", "ArrowRight", 39, None),
    ("ArrowDown", "ArrowDown", 40, None),
    ("Shift", "ShiftLeft", 16, None),
    ("Control", "ControlLeft", 17, None),
    ("Alt", "AltLeft", 18, None),
    ("Meta", "MetaLeft", 91, None),
    ("CapsLock", "CapsLock", 20, None),
    ("F1", "F1", 112, None),
    ("F2", "F2", 113, None),
    ("F3", "F3", 114, None),
    ("F4", "F4", 115, None),
    ("F5", "F5", 116, None),
    ("F6", "F6", 117, None),
    ("F7", "F7", 118, None),
    ("F8", "F8", 119, None),
    ("F9", "F9", 120, None),
    ("F10", "F10", 121, None),
    ("F11", "F11", 122, None),
    ("F12", "F12", 123, None),
];

/// The key press that types `c`.
pub(crate) fn key_for_char(c: char) -> KeyDef {
    match c {
        '\n' | '\r' => return named_key("Enter").unwrap_or_else(|| unknown(c)),
        '\t' => return named_key("Tab").unwrap_or_else(|| unknown(c)),
        _ => {}
    }
    if c.is_ascii_alphabetic() {
        let index = (c.to_ascii_lowercase() as u8 - b'a') as usize;
        return KeyDef {
            key: c.to_string(),
            code: LETTER_CODES[index],
            key_code: u32::from(c.to_ascii_uppercase() as u8),
            text: Some(c.to_string()),
            shift: c.is_ascii_uppercase(),
        };
    }
    for &(plain, shifted, code, key_code) in PRINTABLE {
        if c == plain || c == shifted {
            return KeyDef {
                key: c.to_string(),
                code,
                key_code,
                text: Some(c.to_string()),
                shift: c == shifted && c != plain,
            };
        }
    }
    unknown(c)
}

/// A character with no key on a US keyboard: key and text only.
fn unknown(c: char) -> KeyDef {
    KeyDef {
        key: c.to_string(),
        code: "",
        key_code: 0,
        text: Some(c.to_string()),
        shift: false,
    }
}

/// A named key (`"Enter"`, `"ArrowLeft"`, `"F5"`, ...) or a single character.
pub(crate) fn named_key(name: &str) -> Option<KeyDef> {
    if let Some(&(key, code, key_code, text)) = NAMED.iter().find(|(key, ..)| *key == name) {
        return Some(KeyDef {
            key: key.to_owned(),
            code,
            key_code,
            text: text.map(str::to_owned),
            shift: false,
        });
    }
    let mut chars = name.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(key_for_char(c)),
        _ => None,
    }
}

/// Splits `"Control+Shift+KeyA"`-style chords into the modifier bits and the
/// final key. Modifier names: Control/Ctrl, Shift, Alt, Meta. A final
/// `KeyX`/`DigitN` code names the key on a US keyboard.
pub(crate) fn parse_chord(chord: &str) -> Option<(u32, KeyDef)> {
    let parts: Vec<&str> = chord.split('+').collect();
    let (last, modifiers) = match parts.split_last() {
        // "Control++" ends with an empty part: the key is '+'.
        Some((&"", rest)) if chord.ends_with('+') && rest.len() >= 2 => {
            ("+", &rest[..rest.len() - 1])
        }
        Some((last, rest)) => (*last, rest),
        None => return None,
    };
    let mut bits = 0;
    for modifier in modifiers {
        bits |= match *modifier {
            "Control" | "Ctrl" => MOD_CTRL,
            "Shift" => MOD_SHIFT,
            "Alt" => MOD_ALT,
            "Meta" => MOD_META,
            _ => return None,
        };
    }
    let key = named_key(last).or_else(|| {
        let c = last
            .strip_prefix("Key")
            .or_else(|| last.strip_prefix("Digit"))
            .filter(|rest| rest.len() == 1)?
            .chars()
            .next()?;
        Some(key_for_char(c.to_ascii_lowercase()))
    })?;
    Some((bits, key))
}

/// The key press of a modifier bit, for pressing it around a chord.
pub(crate) fn modifier_key(bit: u32) -> Option<KeyDef> {
    let name = match bit {
        MOD_ALT => "Alt",
        MOD_CTRL => "Control",
        MOD_META => "Meta",
        MOD_SHIFT => "Shift",
        _ => return None,
    };
    named_key(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_map_to_us_keys() {
        let a = key_for_char('A');
        assert_eq!((a.code, a.key_code, a.shift), ("KeyA", 65, true));
        let bang = key_for_char('!');
        assert_eq!((bang.code, bang.key_code, bang.shift), ("Digit1", 49, true));
        let e = key_for_char('é');
        assert_eq!((e.code, e.key_code), ("", 0));
        assert_eq!(key_for_char('\n').code, "Enter");
    }

    #[test]
    fn chords_parse() {
        let (bits, key) =
            parse_chord("Control+Shift+KeyV").unwrap_or_else(|| (0, key_for_char('x')));
        assert_eq!(bits, MOD_CTRL | MOD_SHIFT);
        assert_eq!(key.code, "KeyV");
        let (bits, key) = parse_chord("Ctrl++").unwrap_or_else(|| (0, key_for_char('x')));
        assert_eq!((bits, key.key.as_str()), (MOD_CTRL, "+"));
        assert!(parse_chord("Hyper+a").is_none());
        assert_eq!(parse_chord("ArrowLeft").map(|(_, k)| k.key_code), Some(37));
    }
}
