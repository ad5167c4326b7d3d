//! Real input events: `Input.dispatchMouseEvent` and
//! `Input.dispatchKeyEvent`, so that a page sees the same `MouseEvent`s and
//! `KeyboardEvent`s as from a person (keys with `key`, `code` and
//! `keyCode`; the mouse in CSS pixels of the viewport).

use anyhow::{Context, Result};
use serde_json::json;

use super::Page;
use crate::keys::{self, KeyDef, MOD_ALT, MOD_CTRL, MOD_META, MOD_SHIFT};

/// A mouse button for [`Page::mouse_click`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseButton {
    Left,
    Middle,
    Right,
}

impl MouseButton {
    fn name(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Middle => "middle",
            Self::Right => "right",
        }
    }

    /// The `buttons` bit mask while pressed.
    fn mask(self) -> u32 {
        match self {
            Self::Left => 1,
            Self::Right => 2,
            Self::Middle => 4,
        }
    }
}

impl Page {
    /// Moves the mouse to (`x`, `y`) in CSS pixels.
    pub async fn mouse_move(&self, x: f64, y: f64) -> Result<()> {
        self.mouse_event("mouseMoved", x, y, None, 0, 0).await
    }

    /// Presses `button` at (`x`, `y`).
    pub async fn mouse_down(&self, x: f64, y: f64, button: MouseButton) -> Result<()> {
        self.mouse_event("mousePressed", x, y, Some(button), button.mask(), 1)
            .await
    }

    /// Releases `button` at (`x`, `y`).
    pub async fn mouse_up(&self, x: f64, y: f64, button: MouseButton) -> Result<()> {
        self.mouse_event("mouseReleased", x, y, Some(button), 0, 1)
            .await
    }

    /// Moves to (`x`, `y`), presses and releases `button`.
    pub async fn mouse_click(&self, x: f64, y: f64, button: MouseButton) -> Result<()> {
        self.mouse_move(x, y).await?;
        self.mouse_down(x, y, button).await?;
        self.mouse_up(x, y, button).await
    }

    /// Turns the wheel at (`x`, `y`) by (`delta_x`, `delta_y`) CSS pixels.
    pub async fn mouse_wheel(&self, x: f64, y: f64, delta_x: f64, delta_y: f64) -> Result<()> {
        self.call(
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseWheel", "x": x, "y": y, "deltaX": delta_x, "deltaY": delta_y }),
        )
        .await
        .map(drop)
    }

    async fn mouse_event(
        &self,
        kind: &str,
        x: f64,
        y: f64,
        button: Option<MouseButton>,
        buttons: u32,
        click_count: u32,
    ) -> Result<()> {
        self.call(
            "Input.dispatchMouseEvent",
            json!({
                "type": kind,
                "x": x,
                "y": y,
                "button": button.map_or("none", MouseButton::name),
                "buttons": buttons,
                "clickCount": click_count,
            }),
        )
        .await
        .map(drop)
    }

    /// Types `text` one key press at a time (keyDown/keyUp with `key`, `code`
    /// and `keyCode`; Shift held around shifted characters), into whatever
    /// has focus — an `<input>` or a canvas listening for key events.
    pub async fn type_text(&self, text: &str) -> Result<()> {
        for c in text.chars() {
            let key = keys::key_for_char(c);
            if key.shift {
                self.press_with_modifiers(MOD_SHIFT, &key).await?;
            } else {
                self.key_down(&key, 0).await?;
                self.key_up(&key, 0).await?;
            }
        }
        Ok(())
    }

    /// Presses and releases a named key (`"Enter"`, `"Backspace"`, `"Tab"`,
    /// `"Escape"`, `"ArrowLeft"`, `"F5"`, a single character) or a chord such
    /// as `"Control+KeyC"` or `"Control+Shift+v"`.
    pub async fn press_key(&self, name: &str) -> Result<()> {
        let (modifiers, key) = match keys::named_key(name) {
            Some(key) => (0, key),
            None => keys::parse_chord(name).with_context(|| format!("unknown key {name:?}"))?,
        };
        if modifiers == 0 && key.shift {
            return self.press_with_modifiers(MOD_SHIFT, &key).await;
        }
        self.press_with_modifiers(modifiers, &key).await
    }

    async fn press_with_modifiers(&self, modifiers: u32, key: &KeyDef) -> Result<()> {
        let order = [MOD_CTRL, MOD_ALT, MOD_META, MOD_SHIFT];
        let mut held = 0;
        for bit in order.into_iter().filter(|b| modifiers & b != 0) {
            if let Some(modifier) = keys::modifier_key(bit) {
                held |= bit;
                self.key_down(&modifier, held).await?;
            }
        }
        self.key_down(key, held).await?;
        self.key_up(key, held).await?;
        for bit in order.into_iter().rev().filter(|b| modifiers & b != 0) {
            if let Some(modifier) = keys::modifier_key(bit) {
                held &= !bit;
                self.key_up(&modifier, held).await?;
            }
        }
        Ok(())
    }

    async fn key_down(&self, key: &KeyDef, modifiers: u32) -> Result<()> {
        // Chords with Control, Alt or Meta insert no text, as on a real keyboard.
        let text = key
            .text
            .as_deref()
            .filter(|_| modifiers & (MOD_CTRL | MOD_ALT | MOD_META) == 0);
        let mut params = json!({
            "type": if text.is_some() { "keyDown" } else { "rawKeyDown" },
            "key": key.key,
            "code": key.code,
            "windowsVirtualKeyCode": key.key_code,
            "nativeVirtualKeyCode": key.key_code,
            "modifiers": modifiers,
        });
        if let Some(text) = text {
            params["text"] = json!(text);
            params["unmodifiedText"] = json!(text);
        }
        self.call("Input.dispatchKeyEvent", params).await.map(drop)
    }

    async fn key_up(&self, key: &KeyDef, modifiers: u32) -> Result<()> {
        self.call(
            "Input.dispatchKeyEvent",
            json!({
                "type": "keyUp",
                "key": key.key,
                "code": key.code,
                "windowsVirtualKeyCode": key.key_code,
                "nativeVirtualKeyCode": key.key_code,
                "modifiers": modifiers,
            }),
        )
        .await
        .map(drop)
    }
}
