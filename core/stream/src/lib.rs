//! The session core (core tier: no I/O, no clock): one upstream, many sinks.
//!
//! A session has one upstream — one connection to its target, one damage
//! tracker, one encoder — and any number of **sinks**: the viewers watching
//! it, the session's recorder, a share link's guests and admins shadowing
//! it ([`watchers`](SessionCore::set_link_control)). Everything
//! the session decides lives in [`SessionCore`], driven by its caller like
//! quinn-proto's connection: events go in (`handle_*`, the time passed in as
//! Unix microseconds), and actions come out of [`SessionCore::poll_output`]:
//! bytes for a sink, input for the target, an encode job, a sink closed, the
//! session ended. The gateway's async shell (`gateway/src/session`) only
//! moves bytes, runs encode jobs on the shared pool and reads the clock.
//!
//! **Frames.** Target events go into the tracker. When the target pauses (or
//! the coalescing deadline passes) and a sink can take a frame, the core
//! plans one frame for the whole session; it is encoded once and every sink
//! gets the same bytes under its own frame id ([`FrameBytes`]).
//!
//! **Sinks.** Each sink has its own acknowledgement window. A frame a sink
//! has no room for waits in its backlog (a few frames); a sink whose backlog
//! overflows has fallen behind: it stops taking frames and gets a
//! **keyframe** — the whole picture, planned beside the next frame — as soon
//! as its window has room. A new sink starts the same way, from black. So a
//! slow sink skips to the newest picture and never stalls the others, and
//! memory per session stays bounded whatever the sinks do.
//!
//! **Watermark.** When the policy asks for one, its text (the user, the
//! time to the minute, the session, the client's address) is rendered by
//! the shell and blended into every picture before encoding; no frame goes
//! out before it is in place.
//!
//! **Policy.** Input, clipboard, files and resize from a sink go to the
//! target only when the sink may control the session (a share link's guest
//! or a shadowing admin may only watch, until the owner hands control over); clipboard text is checked against
//! the sink's token policy in both directions. The policy's idle timeout
//! and the session's maximum length end the session for every sink.
//!
//! [`FrameBytes`]: oriel_core_wire::FrameBytes

pub mod files;
mod frames;
mod lossy;
mod recorder;
mod session;
mod sink;
mod viewer;
mod watchers;
mod watermark;

pub use lossy::{LossyChooser, LossyCodec};
pub use recorder::{Note, SinkKind};
pub use session::{
    CoreSettings, EncodeJob, Encoded, EncodedJob, Ending, JobId, Observation, Output, SessionCore,
    SessionStart, SinkId, SinkSpec,
};
pub use watermark::{WatermarkSpec, WatermarkText, utc_minute};

#[cfg(test)]
mod tests;
