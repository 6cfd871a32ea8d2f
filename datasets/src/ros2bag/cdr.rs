//! The OMG CDR (XCDR1) encoding ROS 2 puts in bags: a 4-byte encapsulation
//! header, then fields in order, each primitive aligned to its own size
//! (counted from the end of the header), strings and sequences prefixed by a
//! `u32` length.
//!
//! Written by hand rather than through the `cdr` crate: the handful of
//! message types here need six primitives, and the crate allocates a string
//! or byte sequence at whatever length the message claims before checking
//! that the bytes exist, so one corrupt frame could ask for 4 GiB. Here every
//! length is checked against what is left of the message first.

/// Why a message's bytes are not the CDR its schema says.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CdrError {
    #[error("message ends at byte {len}, but {needed} more bytes are needed at byte {at}")]
    Truncated {
        at: usize,
        needed: usize,
        len: usize,
    },
    #[error(
        "unsupported CDR encapsulation {0:#04x} {1:#04x} (expected plain CDR, 0x00 0x00 or 0x00 0x01)"
    )]
    Encapsulation(u8, u8),
    #[error("a string at byte {at} is not UTF-8")]
    NotUtf8 { at: usize },
    #[error("a string at byte {at} has no terminating NUL")]
    Unterminated { at: usize },
}

/// Size of the encapsulation header that precedes the fields.
const HEADER_LEN: usize = 4;

/// Reads fields off one message, in order.
pub struct CdrReader<'a> {
    /// The fields, after the encapsulation header (alignment counts from here).
    body: &'a [u8],
    pos: usize,
    little_endian: bool,
}

impl<'a> CdrReader<'a> {
    pub fn new(message: &'a [u8]) -> Result<Self, CdrError> {
        let header = message.get(..HEADER_LEN).ok_or(CdrError::Truncated {
            at: 0,
            needed: HEADER_LEN,
            len: message.len(),
        })?;
        // Byte 1 is the representation: 0 = CDR big-endian, 1 = CDR
        // little-endian. Parameter lists (PL_CDR, 2 and 3) and XCDR2 are
        // what DDS uses for mutable types; ROS 2 messages are never those.
        let little_endian = match (header[0], header[1]) {
            (0, 0) => false,
            (0, 1) => true,
            (a, b) => return Err(CdrError::Encapsulation(a, b)),
        };
        Ok(Self {
            body: &message[HEADER_LEN..],
            pos: 0,
            little_endian,
        })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CdrError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.body.len());
        let Some(end) = end else {
            return Err(CdrError::Truncated {
                at: self.pos + HEADER_LEN,
                needed: n,
                len: self.body.len() + HEADER_LEN,
            });
        };
        let bytes = &self.body[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn align(&mut self, size: usize) -> Result<(), CdrError> {
        let padding = (size - self.pos % size) % size;
        self.take(padding).map(|_| ())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CdrError> {
        self.align(N)?;
        let mut bytes = [0; N];
        bytes.copy_from_slice(self.take(N)?);
        if self.little_endian == cfg!(target_endian = "big") {
            bytes.reverse();
        }
        Ok(bytes)
    }

    pub fn u8(&mut self) -> Result<u8, CdrError> {
        Ok(self.take(1)?[0])
    }

    pub fn bool(&mut self) -> Result<bool, CdrError> {
        Ok(self.u8()? != 0)
    }

    pub fn u32(&mut self) -> Result<u32, CdrError> {
        Ok(u32::from_ne_bytes(self.array()?))
    }

    pub fn i32(&mut self) -> Result<i32, CdrError> {
        Ok(i32::from_ne_bytes(self.array()?))
    }

    pub fn f64(&mut self) -> Result<f64, CdrError> {
        Ok(f64::from_ne_bytes(self.array()?))
    }

    /// A sequence's element count, refused when the elements (each at least
    /// `element_size` bytes) could not fit in what is left.
    pub fn sequence_len(&mut self, element_size: usize) -> Result<usize, CdrError> {
        let at = self.pos + HEADER_LEN;
        let count = self.u32()? as usize;
        let needed = count.saturating_mul(element_size);
        if needed > self.body.len() - self.pos {
            return Err(CdrError::Truncated {
                at,
                needed,
                len: self.body.len() + HEADER_LEN,
            });
        }
        Ok(count)
    }

    pub fn string(&mut self) -> Result<String, CdrError> {
        let len = self.sequence_len(1)?;
        let at = self.pos + HEADER_LEN;
        // Some encoders write an empty string as length 0, without the NUL.
        if len == 0 {
            return Ok(String::new());
        }
        let bytes = self.take(len)?;
        let (last, text) = bytes.split_last().ok_or(CdrError::Unterminated { at })?;
        if *last != 0 {
            return Err(CdrError::Unterminated { at });
        }
        String::from_utf8(text.to_vec()).map_err(|_| CdrError::NotUtf8 { at })
    }

    /// A `uint8[]`, borrowed from the message.
    pub fn bytes(&mut self) -> Result<&'a [u8], CdrError> {
        let len = self.sequence_len(1)?;
        self.take(len)
    }

    /// A `float64[]`.
    pub fn f64_sequence(&mut self) -> Result<Vec<f64>, CdrError> {
        let len = self.sequence_len(8)?;
        (0..len).map(|_| self.f64()).collect()
    }

    /// A `float64[N]` (no length on the wire).
    pub fn f64_array<const N: usize>(&mut self) -> Result<[f64; N], CdrError> {
        let mut values = [0.0; N];
        for value in &mut values {
            *value = self.f64()?;
        }
        Ok(values)
    }
}

/// Writes one little-endian CDR message, as ROS 2 does on every common
/// platform.
pub struct CdrWriter {
    buf: Vec<u8>,
}

impl Default for CdrWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl CdrWriter {
    pub fn new() -> Self {
        Self {
            buf: vec![0x00, 0x01, 0x00, 0x00],
        }
    }

    fn align(&mut self, size: usize) {
        let pos = self.buf.len() - HEADER_LEN;
        let padding = (size - pos % size) % size;
        self.buf.resize(self.buf.len() + padding, 0);
    }

    pub fn u8(&mut self, value: u8) {
        self.buf.push(value);
    }

    pub fn bool(&mut self, value: bool) {
        self.u8(u8::from(value));
    }

    pub fn u32(&mut self, value: u32) {
        self.align(4);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub fn i32(&mut self, value: i32) {
        self.align(4);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub fn f64(&mut self, value: f64) {
        self.align(8);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    /// A sequence or string length. Messages over 4 GiB cannot be CDR at
    /// all; the callers' images are far below that, so the length saturates
    /// rather than making every writer handle an impossible error.
    pub fn length(&mut self, len: usize) {
        self.u32(u32::try_from(len).unwrap_or(u32::MAX));
    }

    pub fn string(&mut self, value: &str) {
        self.length(value.len() + 1);
        self.buf.extend_from_slice(value.as_bytes());
        self.buf.push(0);
    }

    pub fn bytes(&mut self, value: &[u8]) {
        self.length(value.len());
        self.buf.extend_from_slice(value);
    }

    pub fn f64_sequence(&mut self, values: &[f64]) {
        self.length(values.len());
        for value in values {
            self.f64(*value);
        }
    }

    pub fn f64_array(&mut self, values: &[f64]) {
        for value in values {
            self.f64(*value);
        }
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_with_alignment() {
        let mut w = CdrWriter::new();
        w.u8(7);
        w.f64(1.5);
        w.string("base_link");
        w.i32(-3);
        w.bytes(&[1, 2, 3]);
        w.f64_sequence(&[0.25, -0.5]);
        w.bool(true);
        w.u32(42);
        let bytes = w.finish();
        // The f64 after one byte starts at body offset 8 (header excluded).
        assert_eq!(&bytes[4 + 8..4 + 16], &1.5f64.to_le_bytes());

        let mut r = CdrReader::new(&bytes).unwrap();
        assert_eq!(r.u8().unwrap(), 7);
        assert_eq!(r.f64().unwrap(), 1.5);
        assert_eq!(r.string().unwrap(), "base_link");
        assert_eq!(r.i32().unwrap(), -3);
        assert_eq!(r.bytes().unwrap(), &[1, 2, 3]);
        assert_eq!(r.f64_sequence().unwrap(), vec![0.25, -0.5]);
        assert!(r.bool().unwrap());
        assert_eq!(r.u32().unwrap(), 42);
        assert!(r.u8().is_err());
    }

    #[test]
    fn big_endian_messages_read() {
        let bytes = [0, 0, 0, 0, 0, 0, 0, 5];
        assert_eq!(CdrReader::new(&bytes).unwrap().u32().unwrap(), 5);
    }

    #[test]
    fn a_claimed_length_beyond_the_message_is_refused_before_allocating() {
        let mut bytes = vec![0, 1, 0, 0];
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        let mut r = CdrReader::new(&bytes).unwrap();
        assert!(matches!(r.bytes(), Err(CdrError::Truncated { .. })));
        let mut r = CdrReader::new(&bytes).unwrap();
        assert!(matches!(r.f64_sequence(), Err(CdrError::Truncated { .. })));
    }

    #[test]
    fn other_encapsulations_are_named() {
        let err = CdrReader::new(&[0, 3, 0, 0]).err().unwrap();
        assert_eq!(err, CdrError::Encapsulation(0, 3));
    }
}
