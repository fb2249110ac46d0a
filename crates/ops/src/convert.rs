//! Floating-point dtype conversion on raw little-endian bytes, rounding to nearest even like torch.
//!
//! Conversions go through f32, which holds every F16, BF16 and F8 value exactly; F64 sources are
//! rounded once, directly to the target, as torch does for `double -> half`.

use std::io::{self, Write};

use half::{bf16, f16};
use weighhouse_tensor::DType;

/// Why a conversion cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// The source dtype is not a floating-point type this module decodes.
    #[error("cannot convert {from} to {to}")]
    Unsupported {
        /// Source dtype.
        from: DType,
        /// Target dtype.
        to: DType,
    },
}

/// The targets `wh convert --dtype` offers.
pub const TARGETS: &[DType] = &[DType::F32, DType::F16, DType::BF16];

/// True when `from` can be converted to `to` by [`convert`].
pub fn can_convert(from: DType, to: DType) -> bool {
    TARGETS.contains(&to) && (from == to || decodable(from))
}

fn decodable(d: DType) -> bool {
    matches!(
        d,
        DType::F64
            | DType::F32
            | DType::F16
            | DType::BF16
            | DType::F8E4M3
            | DType::F8E5M2
            | DType::F8E4M3Fnuz
            | DType::F8E5M2Fnuz
    )
}

/// Round an f32 to bfloat16, to nearest even; NaN stays NaN (quiet).
pub fn bf16_from_f32(x: f32) -> bf16 {
    if x.is_nan() {
        return bf16::from_bits(((x.to_bits() >> 16) as u16) | 0x0040);
    }
    let b = x.to_bits();
    let round = 0x7fff + ((b >> 16) & 1);
    bf16::from_bits((b.wrapping_add(round) >> 16) as u16)
}

/// Round `v >> shift` to nearest, ties to even.
fn shift_rne(v: u64, shift: u32) -> u64 {
    if shift == 0 {
        return v;
    }
    if shift >= 64 {
        return 0;
    }
    let q = v >> shift;
    let rem = v & ((1u64 << shift) - 1);
    let half = 1u64 << (shift - 1);
    if rem > half || (rem == half && q & 1 == 1) {
        q + 1
    } else {
        q
    }
}

/// Round an f64 to f16 in one step, to nearest even (going through f32 would round twice).
pub fn f16_from_f64(x: f64) -> f16 {
    let b = x.to_bits();
    let sign = ((b >> 48) & 0x8000) as u16;
    let exp = ((b >> 52) & 0x7ff) as i64;
    let man = b & ((1u64 << 52) - 1);
    if exp == 0x7ff {
        return f16::from_bits(sign | 0x7c00 | if man != 0 { 0x200 } else { 0 });
    }
    let e = exp - 1023 + 15;
    if e >= 31 {
        return f16::from_bits(sign | 0x7c00);
    }
    let m = if exp == 0 { man } else { man | (1u64 << 52) };
    let bits = if e <= 0 {
        // Subnormal result: value = bits · 2^-24.
        shift_rne(m, u32::try_from(1051 - exp.max(1)).unwrap_or(64))
    } else {
        // The implicit bit of the rounded significand lands in the exponent field, so a carry
        // out of the mantissa correctly bumps the exponent (and overflows to infinity).
        (((e - 1) as u64) << 10) + shift_rne(m, 42)
    };
    f16::from_bits(sign | bits.min(0x7c00) as u16)
}

/// Decode an 8-bit float with `exp_bits` exponent bits.
fn f8_to_f32(v: u8, exp_bits: u32, bias: i32, fnuz: bool, has_inf: bool) -> f32 {
    let man_bits = 7 - exp_bits;
    let sign = if v & 0x80 != 0 { -1.0f32 } else { 1.0 };
    let exp = ((v >> man_bits) & ((1 << exp_bits) - 1) as u8) as i32;
    let man = (v & ((1 << man_bits) - 1) as u8) as i32;
    if fnuz {
        if v == 0x80 {
            return f32::NAN;
        }
    } else if exp == (1 << exp_bits) - 1 {
        if has_inf {
            return if man == 0 {
                sign * f32::INFINITY
            } else {
                f32::NAN
            };
        }
        // E4M3FN: only S.1111.111 is NaN; the rest of the top binade is finite.
        if man == (1 << man_bits) - 1 {
            return f32::NAN;
        }
    }
    let scale = (1u32 << man_bits) as f32;
    if exp == 0 {
        sign * (man as f32 / scale) * 2f32.powi(1 - bias)
    } else {
        sign * (1.0 + man as f32 / scale) * 2f32.powi(exp - bias)
    }
}

fn decode_f32(from: DType, chunk: &[u8]) -> f32 {
    match from {
        DType::F32 => f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]),
        DType::F16 => f16::from_le_bytes([chunk[0], chunk[1]]).to_f32(),
        DType::BF16 => bf16::from_le_bytes([chunk[0], chunk[1]]).to_f32(),
        DType::F8E4M3 => f8_to_f32(chunk[0], 4, 7, false, false),
        DType::F8E5M2 => f8_to_f32(chunk[0], 5, 15, false, true),
        DType::F8E4M3Fnuz => f8_to_f32(chunk[0], 4, 8, true, false),
        DType::F8E5M2Fnuz => f8_to_f32(chunk[0], 5, 16, true, false),
        _ => f32::NAN,
    }
}

/// Convert `bytes` (whole elements of `from`, little-endian) to `to`, appending to `out`.
pub fn convert(
    from: DType,
    to: DType,
    bytes: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), ConvertError> {
    if !can_convert(from, to) {
        return Err(ConvertError::Unsupported { from, to });
    }
    if from == to {
        out.extend_from_slice(bytes);
        return Ok(());
    }
    let w = from.size_bytes().unwrap_or(1);
    out.reserve(bytes.len() / w * to.size_bytes().unwrap_or(4));
    for chunk in bytes.chunks_exact(w) {
        if from == DType::F64 {
            let x = f64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            match to {
                DType::F32 => out.extend_from_slice(&(x as f32).to_le_bytes()),
                DType::F16 => out.extend_from_slice(&f16_from_f64(x).to_le_bytes()),
                _ => out.extend_from_slice(&bf16_from_f32(x as f32).to_le_bytes()),
            }
            continue;
        }
        let x = decode_f32(from, chunk);
        encode_f32(to, x, out);
    }
    Ok(())
}

/// Append `x` encoded as `to` (F32, F16 or BF16).
pub fn encode_f32(to: DType, x: f32, out: &mut Vec<u8>) {
    match to {
        DType::F16 => out.extend_from_slice(&f16::from_f32(x).to_le_bytes()),
        DType::BF16 => out.extend_from_slice(&bf16_from_f32(x).to_le_bytes()),
        _ => out.extend_from_slice(&x.to_le_bytes()),
    }
}

/// A writer that converts the elements written to it from one dtype to another before passing
/// them on, carrying a partial element over between writes.
#[derive(Debug)]
pub struct ConvertingWriter<W: Write> {
    inner: W,
    from: DType,
    to: DType,
    carry: Vec<u8>,
    buf: Vec<u8>,
}

impl<W: Write> ConvertingWriter<W> {
    /// Convert from `from` to `to` into `inner`.
    pub fn new(inner: W, from: DType, to: DType) -> Result<Self, ConvertError> {
        if !can_convert(from, to) {
            return Err(ConvertError::Unsupported { from, to });
        }
        Ok(Self {
            inner,
            from,
            to,
            carry: Vec::new(),
            buf: Vec::new(),
        })
    }

    /// Finish: fails if a partial element is left over.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.carry.is_empty() {
            return Err(io::Error::other("a partial element was left over"));
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ConvertingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let w = self.from.size_bytes().unwrap_or(1);
        self.buf.clear();
        let mut rest = data;
        if !self.carry.is_empty() {
            let need = (w - self.carry.len()).min(rest.len());
            self.carry.extend_from_slice(&rest[..need]);
            rest = &rest[need..];
            if self.carry.len() == w {
                convert(self.from, self.to, &self.carry, &mut self.buf)
                    .map_err(io::Error::other)?;
                self.carry.clear();
            }
        }
        let whole = rest.len() - rest.len() % w;
        convert(self.from, self.to, &rest[..whole], &mut self.buf).map_err(io::Error::other)?;
        self.carry.extend_from_slice(&rest[whole..]);
        self.inner.write_all(&self.buf)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bf16_rounds_to_nearest_even() {
        // 1 + 2^-8 lies exactly between two bf16 values: ties go to the even mantissa (1.0).
        assert_eq!(bf16_from_f32(1.0 + 2f32.powi(-8)).to_bits(), 0x3f80);
        // 1 + 3·2^-8 ties between 1+2^-7 (odd) and 1+2^-6 (even): rounds up to even.
        assert_eq!(bf16_from_f32(1.0 + 3.0 * 2f32.powi(-8)).to_bits(), 0x3f82);
        assert!(bf16_from_f32(f32::NAN).to_f32().is_nan());
        assert_eq!(bf16_from_f32(f32::INFINITY).to_f32(), f32::INFINITY);
        // Values past bf16's largest finite round to infinity.
        assert_eq!(bf16_from_f32(f32::MAX).to_f32(), f32::INFINITY);
    }

    #[test]
    fn f8_decoding_matches_the_formats() {
        assert_eq!(f8_to_f32(0x7e, 4, 7, false, false), 448.0); // E4M3FN max
        assert!(f8_to_f32(0x7f, 4, 7, false, false).is_nan());
        assert_eq!(f8_to_f32(0x01, 4, 7, false, false), 2f32.powi(-9)); // smallest subnormal
        assert_eq!(f8_to_f32(0x7b, 5, 15, false, true), 57344.0); // E5M2 max
        assert_eq!(f8_to_f32(0x7c, 5, 15, false, true), f32::INFINITY);
        assert!(f8_to_f32(0x80, 4, 8, true, false).is_nan());
        assert_eq!(f8_to_f32(0x38, 4, 7, false, false), 1.0);
    }

    #[test]
    fn f64_to_f16_rounds_once() {
        // Just above the f16 midpoint between 1 and 1+2^-10, but below it once rounded to f32.
        let x = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        let mut out = Vec::new();
        convert(DType::F64, DType::F16, &x.to_le_bytes(), &mut out).expect("convert");
        assert_eq!(
            f16::from_le_bytes([out[0], out[1]]).to_f64(),
            1.0 + 2f64.powi(-10)
        );
    }

    proptest! {
        #[test]
        fn f16_round_trips_through_f32(bits in any::<u16>()) {
            let mut wide = Vec::new();
            convert(DType::F16, DType::F32, &bits.to_le_bytes(), &mut wide).expect("widen");
            let mut back = Vec::new();
            convert(DType::F32, DType::F16, &wide, &mut back).expect("narrow");
            let orig = f16::from_bits(bits);
            let got = f16::from_le_bytes([back[0], back[1]]);
            prop_assert!(got.to_bits() == bits || (orig.is_nan() && got.is_nan()));
        }

        #[test]
        fn f64_to_f16_agrees_with_f32_path_on_f32_values(bits in any::<u32>()) {
            let x = f32::from_bits(bits);
            let direct = f16_from_f64(f64::from(x));
            let via = f16::from_f32(x);
            prop_assert!(direct.to_bits() == via.to_bits() || (x.is_nan() && direct.is_nan()), "{x}: {direct} vs {via}");
        }

        #[test]
        fn writer_matches_one_shot(values in proptest::collection::vec(any::<f32>(), 0..64), split in 0usize..256) {
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            let mut want = Vec::new();
            convert(DType::F32, DType::BF16, &bytes, &mut want).expect("convert");
            let mut w = ConvertingWriter::new(Vec::new(), DType::F32, DType::BF16).expect("writer");
            let at = split.min(bytes.len());
            w.write_all(&bytes[..at]).expect("write");
            w.write_all(&bytes[at..]).expect("write");
            prop_assert_eq!(w.finish().expect("finish"), want);
        }
    }
}
