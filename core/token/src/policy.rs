//! The per-workspace policy a gateway enforces for a session, and how
//! groups adjust it.
//!
//! Precedence (also in `docs/policy.md`):
//! 1. A session starts from its workspace's [`Policy`].
//! 2. Among the user's groups, those that grant the workspace may carry
//!    [`PolicyOverrides`]. Each set field replaces the workspace's value.
//! 3. When several granting groups set the same field, the most permissive
//!    value wins (`true` over `false`, the larger limit, "no limit" over a
//!    limit): a user in several groups never gets less than any one of those
//!    groups grants alone.
//!
//! Admins launching a workspace no group grants them get the workspace's
//! policy unchanged.

use serde::{Deserialize, Serialize};

/// Default clipboard limit: 1 MiB.
pub const DEFAULT_CLIPBOARD_MAX_BYTES: u32 = 1 << 20;
/// Default file size limit of each direction: 100 MiB.
pub const DEFAULT_TRANSFER_MAX_BYTES: u64 = 100 << 20;
/// Default watermark text: the user and the time, then the session and the
/// client's address (`|` starts a new line).
pub const DEFAULT_WATERMARK_TEXT: &str = "{user} {time}|{session} {client}";
/// Default watermark opacity, percent.
pub const DEFAULT_WATERMARK_OPACITY: u8 = 25;
/// Default watermark angle, degrees counter-clockwise.
pub const DEFAULT_WATERMARK_ANGLE: i16 = 30;
/// Longest retention of recordings a policy may set, days (100 years).
pub const MAX_RECORDING_RETENTION_DAYS: u32 = 36_500;
/// Longest watermark template, characters.
pub const MAX_WATERMARK_TEXT: usize = 200;

/// What a session may do at the session boundary. Enforced by the gateway
/// (and the control plane for the session count), never by the browser.
/// Missing fields take the safe default: denied, off, no limit on time.
///
/// The legacy field `transfer_max_bytes` (one limit for both directions) is
/// still read: it sets `upload_max_bytes` and `download_max_bytes` where
/// those are absent. It is never written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "PolicyInput")]
pub struct Policy {
    /// Clipboard from the viewer to the remote desktop.
    pub clipboard_up: bool,
    /// Clipboard from the remote desktop to the viewer.
    pub clipboard_down: bool,
    /// Largest clipboard text carried in either direction, bytes.
    pub clipboard_max_bytes: u32,
    /// Files from the viewer to the remote.
    pub upload: bool,
    /// Files from the remote to the viewer.
    pub download: bool,
    /// Largest file uploaded, bytes; 0: no limit.
    pub upload_max_bytes: u64,
    /// Largest file downloaded, bytes; 0: no limit.
    pub download_max_bytes: u64,
    /// Draw the user's name and the time over the desktop.
    pub watermark: bool,
    /// The watermark's text: `{user}`, `{time}` (UTC, to the minute),
    /// `{session}` and `{client}` filled in, `|` starting a new line. Set
    /// on the workspace (groups do not override it).
    pub watermark_text: String,
    /// How strongly the watermark is blended over the picture, percent (1–100).
    pub watermark_opacity: u8,
    /// The watermark's rotation, degrees counter-clockwise (−90–90).
    pub watermark_angle: i16,
    /// Record the session.
    pub recording: bool,
    /// Delete the session's recordings from the control plane's storage
    /// this many days after they were stored; 0: keep them. Set on the
    /// workspace (groups do not override it).
    pub recording_retention_days: u32,
    /// The recording's event track also holds the keys typed (keysyms,
    /// down and up). Set on the workspace (groups do not override it).
    pub recording_keystrokes: bool,
    /// End the session after this long without input from the viewer; 0: never.
    pub idle_timeout_secs: u32,
    /// End the session this long after it was launched; 0: no limit.
    pub max_session_secs: u32,
    /// Active sessions of this workspace one user may have; 0: no limit.
    pub max_sessions_per_user: u32,
    /// Session owners may create share links (view only unless
    /// `share_links_control`). Set on the workspace (groups do not
    /// override it).
    pub share_links: bool,
    /// Share links may give their guests control of the session. Set on
    /// the workspace.
    pub share_links_control: bool,
    /// Admins shadowing a session are not shown to its user. Set on the
    /// workspace.
    pub silent_monitoring: bool,
}

fn default_clipboard_max() -> u32 {
    DEFAULT_CLIPBOARD_MAX_BYTES
}

fn default_transfer_max() -> u64 {
    DEFAULT_TRANSFER_MAX_BYTES
}

fn default_watermark_text() -> String {
    DEFAULT_WATERMARK_TEXT.to_owned()
}

fn default_watermark_opacity() -> u8 {
    DEFAULT_WATERMARK_OPACITY
}

fn default_watermark_angle() -> i16 {
    DEFAULT_WATERMARK_ANGLE
}

/// What a stored or signed policy may say: [`Policy`]'s fields, each
/// optional, plus the legacy `transfer_max_bytes`. Its schema is the API
/// document's `Policy` (what a client may send; a response carries every
/// field but the legacy one).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(
        as = Policy,
        description = "Enforced by the gateway (the session count by the control plane). Missing fields take the safe default."
    )
)]
struct PolicyInput {
    /// Clipboard from the browser to the remote desktop.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = false))]
    clipboard_up: bool,
    /// Clipboard from the remote desktop to the browser.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = false))]
    clipboard_down: bool,
    /// Largest clipboard text, bytes.
    #[serde(default = "default_clipboard_max")]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 1048576, default = 1048576)
    )]
    clipboard_max_bytes: u32,
    /// Files from the browser to the remote.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = false))]
    upload: bool,
    /// Files from the remote to the browser.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = false))]
    download: bool,
    /// Largest file uploaded, bytes; 0: no limit; null or absent:
    /// `transfer_max_bytes`, else the default. The gateway refuses a larger
    /// upload before any of it is sent.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 9007199254740991_u64, default = 104857600)
    )]
    upload_max_bytes: Option<u64>,
    /// Largest file downloaded, bytes; 0: no limit; null or absent:
    /// `transfer_max_bytes`, else the default.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 9007199254740991_u64, default = 104857600)
    )]
    download_max_bytes: Option<u64>,
    /// Legacy: read as both `upload_max_bytes` and `download_max_bytes`
    /// where those are absent; never returned.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 9007199254740991_u64, deprecated)
    )]
    transfer_max_bytes: Option<u64>,
    /// Draw a watermark (`watermark_text`) into every picture on the
    /// gateway, before encoding: the viewer cannot remove it and recordings
    /// carry it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = false))]
    watermark: bool,
    /// The watermark's text: `{user}` (the user's name), `{time}` (UTC, to
    /// the minute), `{session}` (the session id), `{client}` (the address
    /// of the viewer that started the session) are filled in; `|` starts a
    /// new line. 1-200 characters, not blank, no control characters (422).
    /// Set on the workspace; groups do not override it.
    #[serde(default = "default_watermark_text")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"^[^\p{Cc}]*\S[^\p{Cc}]*$",
            default = "{user} {time}|{session} {client}"
        )
    )]
    watermark_text: String,
    /// How strongly the watermark is blended over the picture, percent (1-100).
    #[serde(default = "default_watermark_opacity")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100, default = 25))]
    watermark_opacity: u8,
    /// The watermark's rotation, degrees counter-clockwise (-90 to 90).
    #[serde(default = "default_watermark_angle")]
    #[cfg_attr(feature = "openapi", schema(minimum = -90, maximum = 90, default = 30))]
    watermark_angle: i16,
    /// Record the session at the gateway (docs/recording.md): what the
    /// viewers are sent and an event track, signed; fail closed (a gateway
    /// that cannot record refuses the session; a recording that stops being
    /// written ends it).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = false))]
    recording: bool,
    /// Delete the session's recordings from the control plane's storage
    /// this many days after they were stored (an hourly sweep, audited
    /// `recording.expire`); 0: keep them. Set on the workspace; groups do
    /// not override it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 36500, default = 0))]
    recording_retention_days: u32,
    /// The recording's event track also holds the keys typed (keysyms,
    /// down and up; passwords typed are in it too: only where the policy
    /// of the organisation asks for it). Set on the workspace; groups do
    /// not override it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = false))]
    recording_keystrokes: bool,
    /// End the session after this long without input; 0: never.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 4294967295_u32, default = 0)
    )]
    idle_timeout_secs: u32,
    /// End the session this long after launch; 0: no limit.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 4294967295_u32, default = 0)
    )]
    max_session_secs: u32,
    /// Active sessions of the workspace one user may have; 0: no limit.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 4294967295_u32, default = 0)
    )]
    max_sessions_per_user: u32,
    /// Session owners may create share links (`POST /sessions/{id}/shares`):
    /// others watch the session, view only unless `share_links_control`.
    /// Set on the workspace; groups do not override it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = false))]
    share_links: bool,
    /// Share links may give their guests control of the session (keyboard,
    /// pointer, clipboard). Set on the workspace; groups do not override it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = false))]
    share_links_control: bool,
    /// Admins shadowing a session (`POST /sessions/{id}/shadow`) are not
    /// shown to its user (the audit log still records them). Set on the
    /// workspace; groups do not override it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = false))]
    silent_monitoring: bool,
}

impl From<PolicyInput> for Policy {
    fn from(i: PolicyInput) -> Policy {
        let legacy = i.transfer_max_bytes.unwrap_or_else(default_transfer_max);
        Policy {
            clipboard_up: i.clipboard_up,
            clipboard_down: i.clipboard_down,
            clipboard_max_bytes: i.clipboard_max_bytes,
            upload: i.upload,
            download: i.download,
            upload_max_bytes: i.upload_max_bytes.unwrap_or(legacy),
            download_max_bytes: i.download_max_bytes.unwrap_or(legacy),
            watermark: i.watermark,
            watermark_text: i.watermark_text,
            watermark_opacity: i.watermark_opacity,
            watermark_angle: i.watermark_angle,
            recording: i.recording,
            recording_retention_days: i.recording_retention_days,
            recording_keystrokes: i.recording_keystrokes,
            idle_timeout_secs: i.idle_timeout_secs,
            max_session_secs: i.max_session_secs,
            max_sessions_per_user: i.max_sessions_per_user,
            share_links: i.share_links,
            share_links_control: i.share_links_control,
            silent_monitoring: i.silent_monitoring,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            clipboard_up: false,
            clipboard_down: false,
            clipboard_max_bytes: DEFAULT_CLIPBOARD_MAX_BYTES,
            upload: false,
            download: false,
            upload_max_bytes: DEFAULT_TRANSFER_MAX_BYTES,
            download_max_bytes: DEFAULT_TRANSFER_MAX_BYTES,
            watermark: false,
            watermark_text: default_watermark_text(),
            watermark_opacity: DEFAULT_WATERMARK_OPACITY,
            watermark_angle: DEFAULT_WATERMARK_ANGLE,
            recording: false,
            recording_retention_days: 0,
            recording_keystrokes: false,
            idle_timeout_secs: 0,
            max_session_secs: 0,
            max_sessions_per_user: 0,
            share_links: false,
            share_links_control: false,
            silent_monitoring: false,
        }
    }
}

/// A watermark setting out of range: the field and what it must be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {must}")]
pub struct WatermarkError {
    /// The policy field.
    pub field: &'static str,
    /// What it must be.
    pub must: &'static str,
}

impl Policy {
    /// Checks the watermark settings (whether or not the watermark is on).
    pub fn check_watermark(&self) -> Result<(), WatermarkError> {
        let bad = |field, must| Err(WatermarkError { field, must });
        let text = &self.watermark_text;
        if text.trim().is_empty() || text.chars().count() > MAX_WATERMARK_TEXT {
            return bad("watermark_text", "must have 1 to 200 characters");
        }
        if text.chars().any(char::is_control) {
            return bad("watermark_text", "must not contain control characters");
        }
        if !(1..=100).contains(&self.watermark_opacity) {
            return bad("watermark_opacity", "must be 1 to 100 (percent)");
        }
        if !(-90..=90).contains(&self.watermark_angle) {
            return bad("watermark_angle", "must be -90 to 90 (degrees)");
        }
        Ok(())
    }
}

/// A group's adjustments of the policy of the workspaces it grants; unset
/// fields leave the workspace's value. The legacy `transfer_max_bytes` is
/// read as both file size limits (where those are not set), never written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "OverridesInput")]
pub struct PolicyOverrides {
    /// See [`Policy::clipboard_up`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clipboard_up: Option<bool>,
    /// See [`Policy::clipboard_down`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clipboard_down: Option<bool>,
    /// See [`Policy::clipboard_max_bytes`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clipboard_max_bytes: Option<u32>,
    /// See [`Policy::upload`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<bool>,
    /// See [`Policy::download`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<bool>,
    /// See [`Policy::upload_max_bytes`] (0 = none, the permissive value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_max_bytes: Option<u64>,
    /// See [`Policy::download_max_bytes`] (0 = none, the permissive value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_max_bytes: Option<u64>,
    /// See [`Policy::watermark`] (here `false` is the permissive value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<bool>,
    /// See [`Policy::recording`] (here `false` is the permissive value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<bool>,
    /// See [`Policy::idle_timeout_secs`] (0 = none, the permissive value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_secs: Option<u32>,
    /// See [`Policy::max_session_secs`] (0 = none, the permissive value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session_secs: Option<u32>,
    /// See [`Policy::max_sessions_per_user`] (0 = none, the permissive value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sessions_per_user: Option<u32>,
}

/// The overrides as stored, with the legacy `transfer_max_bytes`. Its
/// schema is the API document's `PolicyOverrides`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(
        as = PolicyOverrides,
        description = "Set fields replace the granted workspaces' values; across several granting groups the most permissive value wins (docs/policy.md)."
    )
)]
struct OverridesInput {
    /// Clipboard from the browser to the remote desktop. Null or absent: not overridden.
    #[serde(default)]
    clipboard_up: Option<bool>,
    /// Clipboard from the remote desktop to the browser. Null or absent: not overridden.
    #[serde(default)]
    clipboard_down: Option<bool>,
    /// Largest clipboard text, bytes. Null or absent: not overridden.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1048576))]
    clipboard_max_bytes: Option<u32>,
    /// Files from the browser to the remote. Null or absent: not overridden.
    #[serde(default)]
    upload: Option<bool>,
    /// Files from the remote to the browser. Null or absent: not overridden.
    #[serde(default)]
    download: Option<bool>,
    /// Largest file uploaded, bytes; 0: no limit. Null or absent: not overridden.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 9007199254740991_u64)
    )]
    upload_max_bytes: Option<u64>,
    /// Largest file downloaded, bytes; 0: no limit. Null or absent: not overridden.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 9007199254740991_u64)
    )]
    download_max_bytes: Option<u64>,
    /// Legacy: read as both `upload_max_bytes` and `download_max_bytes` where those are absent; never returned. Null or absent: not overridden.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 9007199254740991_u64, deprecated)
    )]
    transfer_max_bytes: Option<u64>,
    /// Draw a watermark into every picture on the gateway (`false` is the permissive value). Null or absent: not overridden.
    #[serde(default)]
    watermark: Option<bool>,
    /// Record the session at the gateway (`false` is the permissive value). Null or absent: not overridden.
    #[serde(default)]
    recording: Option<bool>,
    /// End the session after this long without input; 0: never. Null or absent: not overridden.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 4294967295_u32))]
    idle_timeout_secs: Option<u32>,
    /// End the session this long after launch; 0: no limit. Null or absent: not overridden.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 4294967295_u32))]
    max_session_secs: Option<u32>,
    /// Active sessions of the workspace one user may have; 0: no limit. Null or absent: not overridden.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 4294967295_u32))]
    max_sessions_per_user: Option<u32>,
}

impl From<OverridesInput> for PolicyOverrides {
    fn from(i: OverridesInput) -> PolicyOverrides {
        PolicyOverrides {
            clipboard_up: i.clipboard_up,
            clipboard_down: i.clipboard_down,
            clipboard_max_bytes: i.clipboard_max_bytes,
            upload: i.upload,
            download: i.download,
            upload_max_bytes: i.upload_max_bytes.or(i.transfer_max_bytes),
            download_max_bytes: i.download_max_bytes.or(i.transfer_max_bytes),
            watermark: i.watermark,
            recording: i.recording,
            idle_timeout_secs: i.idle_timeout_secs,
            max_session_secs: i.max_session_secs,
            max_sessions_per_user: i.max_sessions_per_user,
        }
    }
}

/// The more permissive of two "0 means no limit" limits.
fn looser_limit<T: Ord + Default>(a: T, b: T) -> T {
    let none = T::default();
    if a == none || b == none {
        none
    } else {
        a.max(b)
    }
}

fn merge_opt<T: Copy>(a: Option<T>, b: Option<T>, looser: impl Fn(T, T) -> T) -> Option<T> {
    match (a, b) {
        (Some(x), Some(y)) => Some(looser(x, y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl PolicyOverrides {
    /// Combines the overrides of several granting groups: per field, the
    /// most permissive value any of them sets.
    pub fn most_permissive<'a>(
        all: impl IntoIterator<Item = &'a PolicyOverrides>,
    ) -> PolicyOverrides {
        all.into_iter()
            .fold(PolicyOverrides::default(), |acc, o| PolicyOverrides {
                clipboard_up: merge_opt(acc.clipboard_up, o.clipboard_up, |a, b| a || b),
                clipboard_down: merge_opt(acc.clipboard_down, o.clipboard_down, |a, b| a || b),
                clipboard_max_bytes: merge_opt(
                    acc.clipboard_max_bytes,
                    o.clipboard_max_bytes,
                    u32::max,
                ),
                upload: merge_opt(acc.upload, o.upload, |a, b| a || b),
                download: merge_opt(acc.download, o.download, |a, b| a || b),
                upload_max_bytes: merge_opt(acc.upload_max_bytes, o.upload_max_bytes, looser_limit),
                download_max_bytes: merge_opt(
                    acc.download_max_bytes,
                    o.download_max_bytes,
                    looser_limit,
                ),
                watermark: merge_opt(acc.watermark, o.watermark, |a, b| a && b),
                recording: merge_opt(acc.recording, o.recording, |a, b| a && b),
                idle_timeout_secs: merge_opt(
                    acc.idle_timeout_secs,
                    o.idle_timeout_secs,
                    looser_limit,
                ),
                max_session_secs: merge_opt(acc.max_session_secs, o.max_session_secs, looser_limit),
                max_sessions_per_user: merge_opt(
                    acc.max_sessions_per_user,
                    o.max_sessions_per_user,
                    looser_limit,
                ),
            })
    }
}

impl Policy {
    /// This policy with the overrides applied (set fields replace).
    pub fn with_overrides(&self, o: &PolicyOverrides) -> Policy {
        Policy {
            clipboard_up: o.clipboard_up.unwrap_or(self.clipboard_up),
            clipboard_down: o.clipboard_down.unwrap_or(self.clipboard_down),
            clipboard_max_bytes: o.clipboard_max_bytes.unwrap_or(self.clipboard_max_bytes),
            upload: o.upload.unwrap_or(self.upload),
            download: o.download.unwrap_or(self.download),
            upload_max_bytes: o.upload_max_bytes.unwrap_or(self.upload_max_bytes),
            download_max_bytes: o.download_max_bytes.unwrap_or(self.download_max_bytes),
            watermark: o.watermark.unwrap_or(self.watermark),
            watermark_text: self.watermark_text.clone(),
            watermark_opacity: self.watermark_opacity,
            watermark_angle: self.watermark_angle,
            recording: o.recording.unwrap_or(self.recording),
            recording_retention_days: self.recording_retention_days,
            recording_keystrokes: self.recording_keystrokes,
            idle_timeout_secs: o.idle_timeout_secs.unwrap_or(self.idle_timeout_secs),
            max_session_secs: o.max_session_secs.unwrap_or(self.max_session_secs),
            max_sessions_per_user: o
                .max_sessions_per_user
                .unwrap_or(self.max_sessions_per_user),
            share_links: self.share_links,
            share_links_control: self.share_links_control,
            silent_monitoring: self.silent_monitoring,
        }
    }

    /// The effective policy of a session: the workspace's, adjusted by the
    /// granting groups' overrides as described in the module docs.
    pub fn effective<'a>(
        &self,
        granting_groups: impl IntoIterator<Item = &'a PolicyOverrides>,
    ) -> Policy {
        self.with_overrides(&PolicyOverrides::most_permissive(granting_groups))
    }

    /// May text of `len` bytes go from the viewer to the remote?
    pub fn allows_clipboard_up(&self, len: usize) -> ClipboardDecision {
        self.decide(self.clipboard_up, len)
    }

    /// May text of `len` bytes go from the remote to the viewer?
    pub fn allows_clipboard_down(&self, len: usize) -> ClipboardDecision {
        self.decide(self.clipboard_down, len)
    }

    /// May a file of `size` bytes go from the viewer to the remote?
    pub fn allows_upload(&self, size: u64) -> TransferDecision {
        transfer_decision(self.upload, self.upload_max_bytes, size)
    }

    /// May a file of `size` bytes go from the remote to the viewer?
    pub fn allows_download(&self, size: u64) -> TransferDecision {
        transfer_decision(self.download, self.download_max_bytes, size)
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

fn transfer_decision(allowed: bool, limit: u64, size: u64) -> TransferDecision {
    if !allowed {
        TransferDecision::Denied
    } else if limit > 0 && size > limit {
        TransferDecision::TooLarge { limit }
    } else {
        TransferDecision::Allowed
    }
}

/// Outcome of a file transfer policy check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferDecision {
    /// Transfer the file.
    Allowed,
    /// The direction is disabled.
    Denied,
    /// Over the size limit of the direction.
    TooLarge {
        /// The limit, bytes.
        limit: u64,
    },
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

/// The API document's `Policy` is what [`Policy`] deserializes from.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Policy {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <PolicyInput as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Policy {
    fn name() -> std::borrow::Cow<'static, str> {
        <PolicyInput as utoipa::ToSchema>::name()
    }
}

/// The API document's `PolicyOverrides` is what [`PolicyOverrides`]
/// deserializes from.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for PolicyOverrides {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <OverridesInput as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for PolicyOverrides {
    fn name() -> std::borrow::Cow<'static, str> {
        <OverridesInput as utoipa::ToSchema>::name()
    }
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
        assert!(!p.upload && !p.download && !p.watermark && !p.recording);
    }

    #[test]
    fn size_limit_applies_to_allowed_directions() {
        let p = Policy {
            clipboard_up: true,
            clipboard_down: true,
            clipboard_max_bytes: 10,
            ..Policy::default()
        };
        assert_eq!(p.allows_clipboard_up(10), ClipboardDecision::Allowed);
        assert_eq!(p.allows_clipboard_up(11), ClipboardDecision::TooLarge);
        assert!(serde_json::from_str::<Policy>(r#"{"clipboard":true}"#).is_err());
    }

    #[test]
    fn groups_override_and_the_most_permissive_group_wins() {
        let ws = Policy {
            clipboard_up: true,
            clipboard_down: true,
            watermark: false,
            max_session_secs: 3600,
            ..Policy::default()
        };
        let contractors = PolicyOverrides {
            clipboard_down: Some(false),
            watermark: Some(true),
            max_session_secs: Some(600),
            ..Default::default()
        };
        let staff = PolicyOverrides {
            clipboard_down: Some(true),
            max_session_secs: Some(0),
            ..Default::default()
        };
        // One restrictive group: it applies.
        let p = ws.effective([&contractors]);
        assert!(!p.clipboard_down && p.clipboard_up && p.watermark);
        assert_eq!(p.max_session_secs, 600);
        // Two groups: per field, the most permissive value set by either.
        let p = ws.effective([&contractors, &staff]);
        assert!(p.clipboard_down, "staff allows it");
        assert!(
            p.watermark,
            "only contractors say anything about the watermark"
        );
        assert_eq!(p.max_session_secs, 0, "no limit beats a limit");
        // No overrides: the workspace's policy.
        assert_eq!(ws.effective([]), ws);
    }

    #[test]
    fn sharing_is_the_workspace_s_alone() {
        let ws: Policy = serde_json::from_str(
            r#"{"share_links":true,"share_links_control":false,"silent_monitoring":true}"#,
        )
        .unwrap();
        assert!(ws.share_links && !ws.share_links_control && ws.silent_monitoring);
        assert!(!Policy::default().share_links && !Policy::default().silent_monitoring);
        // Groups cannot say anything about sharing, monitoring or what a
        // recording holds.
        for field in [
            "share_links",
            "share_links_control",
            "silent_monitoring",
            "recording_keystrokes",
        ] {
            let json = format!(r#"{{"{field}":true}}"#);
            assert!(
                serde_json::from_str::<PolicyOverrides>(&json).is_err(),
                "{field}"
            );
        }
        let loose = PolicyOverrides {
            clipboard_up: Some(true),
            ..Default::default()
        };
        let p = ws.effective([&loose]);
        assert!(p.share_links && p.silent_monitoring && !p.share_links_control);
    }

    #[test]
    fn file_limits_apply_per_direction_and_zero_means_none() {
        let p = Policy {
            upload: true,
            download: true,
            upload_max_bytes: 10,
            download_max_bytes: 0,
            ..Policy::default()
        };
        assert_eq!(p.allows_upload(10), TransferDecision::Allowed);
        assert_eq!(
            p.allows_upload(11),
            TransferDecision::TooLarge { limit: 10 }
        );
        assert_eq!(p.allows_download(u64::MAX), TransferDecision::Allowed);
        let denied = Policy::default();
        assert_eq!(denied.allows_upload(0), TransferDecision::Denied);
        assert_eq!(denied.allows_download(0), TransferDecision::Denied);
        assert_eq!(denied.upload_max_bytes, DEFAULT_TRANSFER_MAX_BYTES);
        assert_eq!(denied.download_max_bytes, DEFAULT_TRANSFER_MAX_BYTES);
    }

    #[test]
    fn the_legacy_transfer_limit_sets_both_directions() {
        let p: Policy = serde_json::from_str(r#"{"transfer_max_bytes":5}"#).unwrap();
        assert_eq!((p.upload_max_bytes, p.download_max_bytes), (5, 5));
        let p: Policy =
            serde_json::from_str(r#"{"transfer_max_bytes":5,"upload_max_bytes":7}"#).unwrap();
        assert_eq!((p.upload_max_bytes, p.download_max_bytes), (7, 5));
        let json = serde_json::to_value(&p).unwrap();
        assert!(json.get("transfer_max_bytes").is_none());
        assert_eq!(json["upload_max_bytes"], 7);
        // Serialised policies read back unchanged.
        assert_eq!(serde_json::from_value::<Policy>(json).unwrap(), p);
        let o: PolicyOverrides = serde_json::from_str(r#"{"transfer_max_bytes":9}"#).unwrap();
        assert_eq!(
            (o.upload_max_bytes, o.download_max_bytes),
            (Some(9), Some(9))
        );
        assert!(serde_json::from_str::<PolicyOverrides>(r#"{"upload_max":1}"#).is_err());
    }

    #[test]
    fn the_most_permissive_file_limit_wins() {
        let ws = Policy {
            upload: true,
            download: true,
            upload_max_bytes: 1000,
            download_max_bytes: 1000,
            ..Policy::default()
        };
        let small = PolicyOverrides {
            upload_max_bytes: Some(10),
            download_max_bytes: Some(10),
            ..Default::default()
        };
        let big = PolicyOverrides {
            upload_max_bytes: Some(100),
            download_max_bytes: Some(0),
            ..Default::default()
        };
        let p = ws.effective([&small]);
        assert_eq!((p.upload_max_bytes, p.download_max_bytes), (10, 10));
        let p = ws.effective([&small, &big]);
        assert_eq!(p.upload_max_bytes, 100, "the larger limit");
        assert_eq!(p.download_max_bytes, 0, "no limit beats a limit");
        let p = ws.effective([&big, &small]);
        assert_eq!((p.upload_max_bytes, p.download_max_bytes), (100, 0));
    }
}
