//! The per-workspace policy a gateway enforces for a session.

use serde::{Deserialize, Serialize};

/// Default clipboard limit: 1 MiB.
pub const DEFAULT_CLIPBOARD_MAX_BYTES: u32 = 1 << 20;

/// What a session may do at the session boundary. Enforced by the gateway,
/// never by the browser. Missing fields take the safe default (denied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Clipboard from the viewer to the remote desktop.
    #[serde(default)]
    pub clipboard_up: bool,
    /// Clipboard from the remote desktop to the viewer.
    #[serde(default)]
    pub clipboard_down: bool,
    /// Largest clipboard text carried in either direction, bytes.
    #[serde(default = "default_clipboard_max")]
    pub clipboard_max_bytes: u32,
}

fn default_clipboard_max() -> u32 {
    DEFAULT_CLIPBOARD_MAX_BYTES
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            clipboard_up: false,
            clipboard_down: false,
            clipboard_max_bytes: DEFAULT_CLIPBOARD_MAX_BYTES,
        }
    }
}

impl Policy {
    /// May text of `len` bytes go from the viewer to the remote?
    pub fn allows_clipboard_up(&self, len: usize) -> ClipboardDecision {
        self.decide(self.clipboard_up, len)
    }

    /// May text of `len` bytes go from the remote to the viewer?
    pub fn allows_clipboard_down(&self, len: usize) -> ClipboardDecision {
        self.decide(self.clipboard_down, len)
    }

    fn decide(&self, allowed: bool, len: usize) -> ClipboardDecision {
        if !allowed {
            ClipboardDecision::Denied
        } else if len > self.clipboard_max_bytes as usize {
            ClipboardDecision::TooLarge
        } else {
            ClipboardDecision::Allowed
        }
    }
}

/// Outcome of a clipboard policy check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipboardDecision {
    /// Carry the text.
    Allowed,
    /// The direction is disabled.
    Denied,
    /// Over the size limit.
    TooLarge,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_default_to_denied() {
        let p: Policy = serde_json::from_str("{}").unwrap();
        assert_eq!(p, Policy::default());
        assert_eq!(p.allows_clipboard_up(1), ClipboardDecision::Denied);
        assert_eq!(p.allows_clipboard_down(1), ClipboardDecision::Denied);
    }

    #[test]
    fn size_limit_applies_to_allowed_directions() {
        let p = Policy {
            clipboard_up: true,
            clipboard_down: true,
            clipboard_max_bytes: 10,
        };
        assert_eq!(p.allows_clipboard_up(10), ClipboardDecision::Allowed);
        assert_eq!(p.allows_clipboard_up(11), ClipboardDecision::TooLarge);
        assert!(serde_json::from_str::<Policy>(r#"{"clipboard":true}"#).is_err());
    }
}
