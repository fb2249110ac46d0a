//! The protobuf wire format, read without a schema: base-128 varints and the fields of one
//! message, with length-delimited values borrowing the input.
//!
//! This is the only varint and protobuf decoder of the workspace: the ONNX reader
//! ([`crate::onnx`]), the TensorFlow table and string-tensor readers ([`crate::tf`], whose
//! LevelDB varints are the same encoding) and the scanner's ONNX and SavedModel walkers
//! (`weighhouse-scan`) all read through it. The rules are protobuf's own: a varint is at most
//! ten bytes and fits 64 bits, a field number lies in `1..=`[`MAX_FIELD_NUMBER`], the wire types
//! are varint, 64-bit, length-delimited and 32-bit (the deprecated groups, 3 and 4, are refused),
//! and a length-delimited value lies inside its message.
//!
//! [`Fields`] stops at the first malformed field: it yields the error once, then ends. What a
//! caller read before the error stays valid, so a tolerant reader (the scanner, which reports
//! what it found and marks the file incomplete) keeps its partial results, and a strict one
//! returns the error with `?`.

/// Most bytes of a 64-bit varint.
pub const MAX_VARINT_BYTES: usize = 10;

/// Largest field number protobuf allows (`2^29 - 1`).
pub const MAX_FIELD_NUMBER: u32 = (1 << 29) - 1;

/// What is wrong with some protobuf (or varint) bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The input ends inside a varint.
    #[error("truncated varint at {at}")]
    TruncatedVarint {
        /// Offset of the missing byte.
        at: usize,
    },
    /// The tenth byte of a varint carries more than the 64th bit.
    #[error("varint overflows 64 bits")]
    VarintOverflow,
    /// A varint runs on past the byte bound it was read with.
    #[error("varint longer than {max} bytes")]
    VarintTooLong {
        /// The bound.
        max: usize,
    },
    /// A field key with field number 0.
    #[error("field number 0")]
    ZeroFieldNumber,
    /// A field key whose number is over [`MAX_FIELD_NUMBER`].
    #[error("field number too large")]
    FieldNumberTooLarge {
        /// The number.
        number: u64,
    },
    /// A wire type other than 0, 1, 2 and 5.
    #[error("unsupported wire type {wire}")]
    UnsupportedWireType {
        /// The field.
        number: u32,
        /// The wire type.
        wire: u8,
    },
    /// A value that runs past the end of its message.
    #[error("field of {len} bytes at {at} runs past the end")]
    Truncated {
        /// The field.
        number: u32,
        /// Bytes the value needs.
        len: u64,
        /// Where the value starts.
        at: usize,
    },
}

/// Read a base-128 varint of at most `max_bytes` bytes (up to [`MAX_VARINT_BYTES`]) at `*pos`,
/// advancing `*pos` past it.
pub fn varint(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Result<u64, WireError> {
    let mut value = 0u64;
    for i in 0..max_bytes.min(MAX_VARINT_BYTES) {
        let b = *buf
            .get(*pos)
            .ok_or(WireError::TruncatedVarint { at: *pos })?;
        *pos += 1;
        if i == MAX_VARINT_BYTES - 1 && b > 1 {
            return Err(WireError::VarintOverflow);
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(WireError::VarintTooLong { max: max_bytes })
}

/// Append `v` as a base-128 varint (for writers and for building test inputs).
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One field value as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1, little-endian.
    Fixed64(u64),
    /// Wire type 2: the value's bytes, borrowed from the message.
    Len(&'a [u8]),
    /// Wire type 5, little-endian.
    Fixed32(u32),
}

impl<'a> Wire<'a> {
    /// The wire type's name, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Wire::Varint(_) => "varint",
            Wire::Fixed64(_) => "fixed64",
            Wire::Len(_) => "length-delimited",
            Wire::Fixed32(_) => "fixed32",
        }
    }

    /// The bytes of a length-delimited value.
    pub fn bytes(self) -> Option<&'a [u8]> {
        match self {
            Wire::Len(b) => Some(b),
            _ => None,
        }
    }
}

/// The fields of one message, in wire order, as `(field number, value)`. A malformed field is
/// yielded once as an error, then the iteration ends.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Fields<'a> {
    /// The fields of the message `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            failed: false,
        }
    }

    /// The next field; `Ok(None)` at the end of the message (or after an error).
    pub fn next_field(&mut self) -> Result<Option<(u32, Wire<'a>)>, WireError> {
        if self.failed || self.pos >= self.buf.len() {
            return Ok(None);
        }
        let field = self.field();
        self.failed = field.is_err();
        field.map(Some)
    }

    fn take(&mut self, number: u32, len: u64) -> Result<&'a [u8], WireError> {
        let at = self.pos;
        let end = usize::try_from(len)
            .ok()
            .and_then(|n| at.checked_add(n))
            .filter(|&e| e <= self.buf.len())
            .ok_or(WireError::Truncated { number, len, at })?;
        self.pos = end;
        Ok(&self.buf[at..end])
    }

    fn field(&mut self) -> Result<(u32, Wire<'a>), WireError> {
        let key = varint(self.buf, &mut self.pos, MAX_VARINT_BYTES)?;
        let number = match key >> 3 {
            0 => return Err(WireError::ZeroFieldNumber),
            n if n > u64::from(MAX_FIELD_NUMBER) => {
                return Err(WireError::FieldNumberTooLarge { number: n });
            }
            n => n as u32,
        };
        let value = match key & 7 {
            0 => Wire::Varint(varint(self.buf, &mut self.pos, MAX_VARINT_BYTES)?),
            1 => {
                let s = self.take(number, 8)?;
                Wire::Fixed64(u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
            }
            2 => {
                let len = varint(self.buf, &mut self.pos, MAX_VARINT_BYTES)?;
                Wire::Len(self.take(number, len)?)
            }
            5 => {
                let s = self.take(number, 4)?;
                Wire::Fixed32(u32::from_le_bytes(s.try_into().unwrap_or([0; 4])))
            }
            w => {
                return Err(WireError::UnsupportedWireType {
                    number,
                    wire: w as u8,
                });
            }
        };
        Ok((number, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Wire<'a>), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_field().transpose()
    }
}

impl std::iter::FusedIterator for Fields<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_bounded() {
        let mut pos = 0;
        assert_eq!(
            varint(&[0xff; 11], &mut pos, MAX_VARINT_BYTES),
            Err(WireError::VarintOverflow)
        );
        let mut pos = 0;
        assert_eq!(
            varint(&[0x80], &mut pos, MAX_VARINT_BYTES),
            Err(WireError::TruncatedVarint { at: 1 })
        );
        let mut pos = 0;
        assert_eq!(
            varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01], &mut pos, 5),
            Err(WireError::VarintTooLong { max: 5 })
        );
        let mut pos = 0;
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(varint(&max, &mut pos, MAX_VARINT_BYTES), Ok(u64::MAX));
        assert_eq!(pos, 10);
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut pos = 0;
            assert_eq!(varint(&b, &mut pos, MAX_VARINT_BYTES), Ok(v));
            assert_eq!(pos, b.len());
        }
    }

    #[test]
    fn fields_borrow_and_stop_at_the_first_error() {
        // 1: varint 150, 2: "hi", 3: fixed32, 4: fixed64, then a group (wire type 3).
        let mut m = vec![0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x1d, 1, 0, 0, 0];
        m.extend([0x21, 2, 0, 0, 0, 0, 0, 0, 0, 0x2b]);
        let fields: Vec<_> = Fields::new(&m).collect();
        assert_eq!(
            fields,
            vec![
                Ok((1, Wire::Varint(150))),
                Ok((2, Wire::Len(b"hi"))),
                Ok((3, Wire::Fixed32(1))),
                Ok((4, Wire::Fixed64(2))),
                Err(WireError::UnsupportedWireType { number: 5, wire: 3 }),
            ]
        );
        assert_eq!(
            Fields::new(&[0x12, 0x05, 0x00]).next(),
            Some(Err(WireError::Truncated {
                number: 2,
                len: 5,
                at: 2
            }))
        );
        assert_eq!(
            Fields::new(&[0x02, 0x00]).next(),
            Some(Err(WireError::ZeroFieldNumber))
        );
        let mut key = Vec::new();
        put_varint(&mut key, u64::from(MAX_FIELD_NUMBER + 1) << 3);
        key.push(0);
        assert!(matches!(
            Fields::new(&key).next(),
            Some(Err(WireError::FieldNumberTooLarge { .. }))
        ));
        let mut key = Vec::new();
        put_varint(&mut key, u64::from(MAX_FIELD_NUMBER) << 3);
        key.push(7);
        assert_eq!(
            Fields::new(&key).next(),
            Some(Ok((MAX_FIELD_NUMBER, Wire::Varint(7))))
        );
    }
}
