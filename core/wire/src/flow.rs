//! Acknowledgement window of the gateway (§4): at most N frames unacknowledged.
//!
//! Time is a parameter (microseconds from any monotonic origin), so the state
//! machine is tested without a clock.

use std::collections::VecDeque;

/// An ACK the window cannot accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// The frame was never sent, was already acknowledged, or an earlier one is still pending.
    #[error("acknowledgement of frame {got} out of order (expected {expected:?})")]
    OutOfOrder {
        /// Frame acknowledged.
        got: u32,
        /// Oldest frame in flight, if any.
        expected: Option<u32>,
    },
}

/// The gateway's view of frames sent and not yet acknowledged.
#[derive(Debug, Clone)]
pub struct FlowControl {
    max_in_flight: usize,
    next_id: u32,
    /// (frame id, time sent in µs, damage time in µs)
    in_flight: VecDeque<(u32, u64, u64)>,
}

/// What an acknowledgement tells about the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acked {
    /// The frame.
    pub frame_id: u32,
    /// Send → ACK, µs.
    pub round_trip_us: u64,
    /// Oldest damage in the frame → ACK, µs: the latency the user saw, plus half a round trip.
    pub damage_to_ack_us: u64,
}

impl FlowControl {
    /// A window of `max_in_flight` frames (at least 1).
    pub fn new(max_in_flight: u8) -> Self {
        FlowControl {
            max_in_flight: usize::from(max_in_flight.max(1)),
            next_id: 1,
            in_flight: VecDeque::new(),
        }
    }

    /// Whether another frame may be sent now.
    pub fn can_send(&self) -> bool {
        self.in_flight.len() < self.max_in_flight
    }

    /// Frames sent and not acknowledged.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Reserves the id of the next frame, sent at `now_us`, carrying damage from `damage_us`.
    /// Callers check [`Self::can_send`] first.
    pub fn on_send(&mut self, now_us: u64, damage_us: u64) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.in_flight.push_back((id, now_us, damage_us));
        id
    }

    /// Records the viewer's ACK of `frame_id` at `now_us`.
    pub fn on_ack(&mut self, frame_id: u32, now_us: u64) -> Result<Acked, FlowError> {
        match self.in_flight.front() {
            Some(&(id, sent, damage)) if id == frame_id => {
                self.in_flight.pop_front();
                Ok(Acked {
                    frame_id,
                    round_trip_us: now_us.saturating_sub(sent),
                    damage_to_ack_us: now_us.saturating_sub(damage),
                })
            }
            front => Err(FlowError::OutOfOrder {
                got: frame_id,
                expected: front.map(|f| f.0),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_limits_frames_in_flight() {
        let mut flow = FlowControl::new(2);
        assert!(flow.can_send());
        assert_eq!(flow.on_send(10, 5), 1);
        assert_eq!(flow.on_send(20, 15), 2);
        assert!(!flow.can_send());
        let acked = flow.on_ack(1, 50).unwrap();
        assert_eq!(acked.round_trip_us, 40);
        assert_eq!(acked.damage_to_ack_us, 45);
        assert!(flow.can_send());
        assert_eq!(flow.on_send(60, 60), 3);
    }

    #[test]
    fn out_of_order_or_unknown_acks_are_errors() {
        let mut flow = FlowControl::new(3);
        assert!(flow.on_ack(1, 0).is_err());
        flow.on_send(0, 0);
        flow.on_send(0, 0);
        assert_eq!(
            flow.on_ack(2, 1),
            Err(FlowError::OutOfOrder {
                got: 2,
                expected: Some(1)
            })
        );
        assert!(flow.on_ack(1, 1).is_ok());
        assert!(flow.on_ack(1, 1).is_err());
    }

    #[test]
    fn zero_window_is_treated_as_one() {
        let mut flow = FlowControl::new(0);
        assert!(flow.can_send());
        flow.on_send(0, 0);
        assert!(!flow.can_send());
    }
}
