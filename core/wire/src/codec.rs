//! Byte-level reading and writing, with every length checked.

/// Why bytes could not be decoded into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The message was empty.
    #[error("empty message")]
    Empty,
    /// The first byte names no message of this direction.
    #[error("unknown message type 0x{0:02x}")]
    UnknownType(u8),
    /// A frame operation byte names no operation.
    #[error("unknown frame operation 0x{0:02x}")]
    UnknownOp(u8),
    /// The message ended before its layout did.
    #[error("message truncated")]
    Truncated,
    /// Bytes remain after the layout ended.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// The message is longer than the protocol allows.
    #[error("message of {len} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Length seen.
        len: usize,
        /// Limit for this direction or field.
        limit: usize,
    },
    /// A field holds a value the protocol forbids.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// A text field is not UTF-8.
    #[error("text is not valid UTF-8")]
    Utf8,
}

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.buf.len() < n {
            return Err(WireError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn i16(&mut self) -> Result<i16, WireError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(crate) fn bool(&mut self, what: &'static str) -> Result<bool, WireError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(WireError::Invalid(what)),
        }
    }

    /// Bytes with a u32 length prefix, at most `limit` long.
    pub(crate) fn blob32(&mut self, limit: usize) -> Result<&'a [u8], WireError> {
        let len = self.u32()? as usize;
        if len > limit {
            return Err(WireError::TooLarge { len, limit });
        }
        self.bytes(len)
    }

    pub(crate) fn string16(&mut self) -> Result<String, WireError> {
        let len = self.u16()? as usize;
        utf8(self.bytes(len)?)
    }

    pub(crate) fn string32(&mut self, limit: usize) -> Result<String, WireError> {
        utf8(self.blob32(limit)?)
    }

    pub(crate) fn finish(self) -> Result<(), WireError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(WireError::Trailing(self.buf.len()))
        }
    }
}

fn utf8(bytes: &[u8]) -> Result<String, WireError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| WireError::Utf8)
}

/// Appends big-endian fields to a buffer.
pub(crate) struct Writer<'a> {
    pub(crate) out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.out.push(v);
        self
    }
    pub(crate) fn u16(&mut self, v: u16) -> &mut Self {
        self.out.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(crate) fn i16(&mut self, v: i16) -> &mut Self {
        self.out.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.out.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.out.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub(crate) fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.out.extend_from_slice(v);
        self
    }
    /// A u16-length string, cut at a character boundary to fit.
    pub(crate) fn string16(&mut self, s: &str) -> &mut Self {
        let s = truncate_utf8(s, u16::MAX as usize);
        self.u16(s.len() as u16).bytes(s.as_bytes())
    }
    /// A u32-length blob. Callers keep blobs under 4 GiB (the message limit is 64 MiB).
    pub(crate) fn blob32(&mut self, v: &[u8]) -> &mut Self {
        self.u32(v.len() as u32).bytes(v)
    }
}

/// The longest prefix of `s` that is at most `max` bytes and ends on a character boundary.
pub fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
