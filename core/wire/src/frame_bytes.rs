//! A FRAME encoded once for several viewers.
//!
//! The viewers of one session take the same frames, each under its own
//! frame id (§2.2: ids start at 1 on every connection). The operations are
//! encoded once; each viewer's message is a copy with its id written in.

use crate::{Frame, FrameOp, ServerMessage};

/// Offset of `frame_id` in a FRAME message (after the type byte).
const ID_AT: usize = 1;

/// The bytes of a FRAME message whose id is filled in per viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameBytes {
    damage_time_us: u64,
    bytes: Vec<u8>,
}

impl FrameBytes {
    /// Encodes a frame of `ops` carrying changes from `damage_time_us`.
    pub fn new(damage_time_us: u64, ops: Vec<FrameOp>) -> Self {
        let frame = ServerMessage::Frame(Frame {
            id: 0,
            damage_time_us,
            ops,
        });
        FrameBytes {
            damage_time_us,
            bytes: frame.to_bytes(),
        }
    }

    /// When the oldest change in the frame was received, Unix µs.
    pub fn damage_time_us(&self) -> u64 {
        self.damage_time_us
    }

    /// The FRAME message with this id.
    pub fn message(&self, id: u32) -> Vec<u8> {
        let mut bytes = self.bytes.clone();
        bytes[ID_AT..ID_AT + 4].copy_from_slice(&id.to_be_bytes());
        bytes
    }

    /// Length of the message in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the message is empty (never: it has at least a header).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oriel_core_model::Rect;

    #[test]
    fn each_viewer_gets_the_same_frame_under_its_own_id() {
        let ops = vec![FrameOp::Fill {
            rect: Rect::new(1, 2, 3, 4),
            rgb: [5, 6, 7],
        }];
        let shared = FrameBytes::new(42, ops.clone());
        for id in [1, 7, u32::MAX] {
            let direct = ServerMessage::Frame(Frame {
                id,
                damage_time_us: 42,
                ops: ops.clone(),
            });
            assert_eq!(shared.message(id), direct.to_bytes());
            assert_eq!(ServerMessage::decode(&shared.message(id)).unwrap(), direct);
        }
        assert_eq!(shared.len(), shared.message(1).len());
        assert_eq!(shared.damage_time_us(), 42);
    }
}
