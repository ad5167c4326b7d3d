//! TPKT framing of the negotiation phase (RFC 1006 §6, [MS-RDPBCGR]
//! 2.2.1.2): the server's first answer must be a TPKT packet carrying an
//! X.224 Connection Confirm. Checking the header before handing bytes to
//! IronRDP lets a peer that is not an RDP server (an HTTP or SSH server, a
//! port scanner's target) fail at once as a protocol error instead of
//! leaving the client waiting for a length it made up.
//!
//! [MS-RDPBCGR]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/

/// TPKT header size.
pub const HEADER_LEN: usize = 4;

/// Largest negotiation packet accepted: a Connection Confirm with a
/// negotiation response or failure is 19 bytes; anything near this bound is
/// not one.
pub const MAX_NEGOTIATION_PACKET: usize = 1024;

/// Why bytes are not a negotiation TPKT packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TpktError {
    /// The first byte is not TPKT version 3.
    #[error("not an rdp server: expected a tpkt packet, got {0:02x?}")]
    NotTpkt([u8; HEADER_LEN]),
    /// The length is impossible for a negotiation packet.
    #[error("tpkt packet of {0} bytes during negotiation")]
    BadLength(usize),
}

/// The total packet length announced by a TPKT header (header included).
pub fn packet_len(header: [u8; HEADER_LEN]) -> Result<usize, TpktError> {
    if header[0] != 3 || header[1] != 0 {
        return Err(TpktError::NotTpkt(header));
    }
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    // Header plus at least an X.224 length indicator, code and one more byte.
    if !(HEADER_LEN + 3..=MAX_NEGOTIATION_PACKET).contains(&len) {
        return Err(TpktError::BadLength(len));
    }
    Ok(len)
}

/// A complete packet and the bytes after it.
pub type Split<'a> = (&'a [u8], &'a [u8]);

/// Splits one complete negotiation packet off the front of `bytes`:
/// `Ok(None)` when more bytes are needed.
pub fn split_packet(bytes: &[u8]) -> Result<Option<Split<'_>>, TpktError> {
    let Some(header) = bytes.first_chunk::<HEADER_LEN>() else {
        // Reject what is already wrong without waiting for the full header.
        if let Some(&first) = bytes.first()
            && first != 3
        {
            let mut h = [0; HEADER_LEN];
            h[..bytes.len()].copy_from_slice(bytes);
            return Err(TpktError::NotTpkt(h));
        }
        return Ok(None);
    };
    let len = packet_len(*header)?;
    Ok(bytes.split_at_checked(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_confirms_are_split_off() {
        let confirm = [
            0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x00, 0x08,
            0x00, 0x01, 0x00, 0x00, 0x00, 0xAA,
        ];
        let (packet, rest) = split_packet(&confirm).unwrap().unwrap();
        assert_eq!(packet.len(), 19);
        assert_eq!(rest, &[0xAA]);
        assert_eq!(split_packet(&confirm[..10]), Ok(None));
        assert_eq!(split_packet(&confirm[..2]), Ok(None));
    }

    #[test]
    fn other_protocols_are_rejected_at_once() {
        assert!(matches!(
            split_packet(b"HTTP/1.1 400"),
            Err(TpktError::NotTpkt(_))
        ));
        assert!(matches!(split_packet(b"S"), Err(TpktError::NotTpkt(_))));
        assert_eq!(
            split_packet(&[3, 0, 0xff, 0xff]),
            Err(TpktError::BadLength(0xffff))
        );
        assert_eq!(split_packet(&[3, 0, 0, 4]), Err(TpktError::BadLength(4)));
    }
}
