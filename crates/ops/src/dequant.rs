//! Dequantisation of ggml quantised blocks to `f32`, for converting GGUF tensors to plain dtypes.
//!
//! Each block type is decoded exactly as ggml's reference `dequantize_row_*` functions do it, with
//! the same order of `f32` operations, so results match ggml and gguf-py bit for bit.

use half::f16;
use weighhouse_tensor::{DType, GgmlBlock};

/// Why a buffer of ggml blocks could not be dequantised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DequantError {
    /// The dtype is not a ggml block type this module can decode.
    #[error("cannot dequantise {}: unsupported type", describe(*.dtype))]
    Unsupported {
        /// The dtype that was asked for.
        dtype: DType,
    },
    /// The input does not hold a whole number of blocks.
    #[error(
        "{len} bytes is not a whole number of {} blocks ({block_bytes} bytes each)",
        describe(*.dtype)
    )]
    PartialBlock {
        /// The block type.
        dtype: DType,
        /// Length of the input in bytes.
        len: usize,
        /// Bytes per block of this type.
        block_bytes: usize,
    },
}

/// A readable name for a dtype, including ggml ids this build does not know by name.
fn describe(dtype: DType) -> String {
    match dtype {
        DType::Ggml(b) if GgmlBlock::from_id(b.0).is_none() => format!("ggml type {}", b.0),
        DType::Ggml(b) => b.name().to_owned(),
        plain => format!("{} (not a ggml block type)", plain.name()),
    }
}

/// Elements per block of the 256-element "K" super-blocks.
const QK_K: usize = 256;

/// The IQ4_NL / IQ4_XS non-linear 4-bit code book.
const IQ4NL_VALUES: [i8; 16] = [
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
];

/// E2M1 (FP4) values, doubled so they are integers; the block scale is halved to compensate.
const MXFP4_VALUES: [i8; 16] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

/// Dequantises `blocks`, a whole number of blocks of the ggml type `dtype`, appending
/// `block_elements` values per block to `out` in ggml element order.
///
/// Supported: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ4_NL, IQ4_XS,
/// TQ1_0, TQ2_0 and MXFP4. On error `out` is left unchanged.
pub fn dequantize(dtype: DType, blocks: &[u8], out: &mut Vec<f32>) -> Result<(), DequantError> {
    let DType::Ggml(GgmlBlock(id)) = dtype else {
        return Err(DequantError::Unsupported { dtype });
    };
    // ggml type ids, as in ggml.h.
    match id {
        2 => run(dtype, blocks, out, q4_0),
        3 => run(dtype, blocks, out, q4_1),
        6 => run(dtype, blocks, out, q5_0),
        7 => run(dtype, blocks, out, q5_1),
        8 => run(dtype, blocks, out, q8_0),
        10 => run(dtype, blocks, out, q2_k),
        11 => run(dtype, blocks, out, q3_k),
        12 => run(dtype, blocks, out, q4_k),
        13 => run(dtype, blocks, out, q5_k),
        14 => run(dtype, blocks, out, q6_k),
        15 => run(dtype, blocks, out, q8_k),
        20 => run(dtype, blocks, out, iq4_nl),
        23 => run(dtype, blocks, out, iq4_xs),
        34 => run(dtype, blocks, out, tq1_0),
        35 => run(dtype, blocks, out, tq2_0),
        39 => run(dtype, blocks, out, mxfp4),
        _ => Err(DequantError::Unsupported { dtype }),
    }
}

/// True if [`dequantize`] can decode `dtype`.
pub fn is_supported(dtype: DType) -> bool {
    matches!(
        dtype,
        DType::Ggml(GgmlBlock(
            2 | 3 | 6 | 7 | 8 | 10..=15 | 20 | 23 | 34 | 35 | 39
        ))
    )
}

/// Applies a per-block decoder of `B` bytes to `E` elements over every block of `blocks`.
fn run<const B: usize, const E: usize>(
    dtype: DType,
    blocks: &[u8],
    out: &mut Vec<f32>,
    decode: fn(&[u8; B], &mut [f32; E]),
) -> Result<(), DequantError> {
    let (src, rest) = blocks.as_chunks::<B>();
    if !rest.is_empty() {
        return Err(DequantError::PartialBlock {
            dtype,
            len: blocks.len(),
            block_bytes: B,
        });
    }
    // The output is at most E / B (under 5) values per input byte, so its size is bounded by
    // the input the caller already holds.
    let start = out.len();
    out.resize(start + src.len() * E, 0.0);
    let (dst, _) = out[start..].as_chunks_mut::<E>();
    for (b, y) in src.iter().zip(dst) {
        decode(b, y);
    }
    Ok(())
}

/// The little-endian f16 at `b[i..i + 2]`, widened (exactly) to f32.
fn f16_at(b: &[u8], i: usize) -> f32 {
    f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

/// The 5th bit of element `j` of a Q5 block, from the 32-bit high-bit mask.
fn bit(mask: u32, j: usize) -> u8 {
    ((mask >> j) & 1) as u8
}

/// Q4_0: f16 scale, 32 unsigned nibbles with an implicit offset of 8.
/// Low nibbles hold elements 0..16, high nibbles 16..32.
fn q4_0(b: &[u8; 18], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    for (j, &q) in b[2..].iter().enumerate() {
        y[j] = f32::from(i16::from(q & 0x0F) - 8) * d;
        y[j + 16] = f32::from(i16::from(q >> 4) - 8) * d;
    }
}

/// Q4_1: f16 scale and f16 minimum, 32 unsigned nibbles.
fn q4_1(b: &[u8; 20], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    for (j, &q) in b[4..].iter().enumerate() {
        y[j] = f32::from(q & 0x0F) * d + m;
        y[j + 16] = f32::from(q >> 4) * d + m;
    }
}

/// Q5_0: f16 scale, a 32-bit mask of fifth bits, 32 nibbles; offset 16.
fn q5_0(b: &[u8; 22], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    for (j, &q) in b[6..].iter().enumerate() {
        let lo = (q & 0x0F) | (bit(qh, j) << 4);
        let hi = (q >> 4) | (bit(qh, j + 16) << 4);
        y[j] = f32::from(i16::from(lo) - 16) * d;
        y[j + 16] = f32::from(i16::from(hi) - 16) * d;
    }
}

/// Q5_1: f16 scale and minimum, a 32-bit mask of fifth bits, 32 nibbles.
fn q5_1(b: &[u8; 24], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    for (j, &q) in b[8..].iter().enumerate() {
        let lo = (q & 0x0F) | (bit(qh, j) << 4);
        let hi = (q >> 4) | (bit(qh, j + 16) << 4);
        y[j] = f32::from(lo) * d + m;
        y[j + 16] = f32::from(hi) * d + m;
    }
}

/// Q8_0: f16 scale, 32 signed bytes.
fn q8_0(b: &[u8; 34], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    for (yj, &q) in y.iter_mut().zip(&b[2..]) {
        *yj = f32::from(q as i8) * d;
    }
}

/// Q2_K: 16 sub-blocks of 16 with 4-bit scales and mins (`scales[16]`), 2-bit quants
/// (`qs[64]`), then f16 `d` and `dmin`.
fn q2_k(b: &[u8; 84], y: &mut [f32; QK_K]) {
    let (scales, rest) = b.split_at(16);
    let (qs, _) = rest.split_at(64);
    let d = f16_at(b, 80);
    let dmin = f16_at(b, 82);
    // Each 32-byte half of qs covers 128 elements: bit pair `s` of byte `l` is element
    // 32 * s + l of that half.
    for (k, (yk, &sc)) in y.chunks_exact_mut(16).zip(scales).enumerate() {
        let dl = d * f32::from(sc & 0x0F);
        let ml = dmin * f32::from(sc >> 4);
        for (i, ye) in yk.iter_mut().enumerate() {
            let e = 16 * k + i;
            let (half, s, l) = (e / 128, (e % 128) / 32, e % 32);
            let q = (qs[half * 32 + l] >> (2 * s)) & 3;
            *ye = dl * f32::from(q) - ml;
        }
    }
}

/// Q3_K: high-bit mask (`hmask[32]`), 2-bit quants (`qs[64]`), sixteen 6-bit scales packed
/// in 12 bytes, f16 `d`. A clear high bit subtracts 4.
fn q3_k(b: &[u8; 110], y: &mut [f32; QK_K]) {
    let (hmask, rest) = b.split_at(32);
    let (qs, rest) = rest.split_at(64);
    let (packed, _) = rest.split_at(12);
    let d = f16_at(b, 108);
    for (k, yk) in y.chunks_exact_mut(16).enumerate() {
        // Scale k: low 4 bits from byte k % 8 (low nibble for k < 8, high nibble after), top
        // 2 bits from byte 8 + k % 4 at bit position 2 * (k / 4).
        let low = (packed[k % 8] >> (4 * (k / 8))) & 0x0F;
        let high = (packed[8 + k % 4] >> (2 * (k / 4))) & 0x03;
        let dl = d * f32::from(i16::from(low | (high << 4)) - 32);
        for (i, ye) in yk.iter_mut().enumerate() {
            let e = 16 * k + i;
            let (half, s, l) = (e / 128, (e % 128) / 32, e % 32);
            let low = i16::from((qs[half * 32 + l] >> (2 * s)) & 3);
            let high_set = (hmask[l] >> (half * 4 + s)) & 1 != 0;
            let q = if high_set { low } else { low - 4 };
            *ye = dl * f32::from(q);
        }
    }
}

/// The 6-bit scale and min of sub-block `j` (0..8) from the 12 packed bytes of Q4_K / Q5_K.
fn scale_min_k4(packed: &[u8], j: usize) -> (u8, u8) {
    if j < 4 {
        (packed[j] & 63, packed[j + 4] & 63)
    } else {
        (
            (packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4),
            (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4),
        )
    }
}

/// Q4_K: f16 `d` and `dmin`, eight 6-bit scale/min pairs in 12 bytes, 4-bit quants
/// (`qs[128]`). Each 32-byte run of qs holds two sub-blocks: low nibbles, then high.
fn q4_k(b: &[u8; 144], y: &mut [f32; QK_K]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let packed = &b[4..16];
    let qs = &b[16..];
    for (j, yj) in y.chunks_exact_mut(32).enumerate() {
        let (sc, m) = scale_min_k4(packed, j);
        let d1 = d * f32::from(sc);
        let m1 = dmin * f32::from(m);
        let shift = 4 * (j % 2);
        for (ye, &byte) in yj.iter_mut().zip(&qs[(j / 2) * 32..]) {
            *ye = d1 * f32::from((byte >> shift) & 0x0F) - m1;
        }
    }
}

/// Q5_K: as Q4_K plus a fifth bit per element (`qh[32]`, bit `e / 32` of byte `e % 32`).
fn q5_k(b: &[u8; 176], y: &mut [f32; QK_K]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let packed = &b[4..16];
    let qh = &b[16..48];
    let qs = &b[48..];
    for (j, yj) in y.chunks_exact_mut(32).enumerate() {
        let (sc, m) = scale_min_k4(packed, j);
        let d1 = d * f32::from(sc);
        let m1 = dmin * f32::from(m);
        let shift = 4 * (j % 2);
        for ((ye, &byte), &h) in yj.iter_mut().zip(&qs[(j / 2) * 32..]).zip(qh) {
            let q = ((byte >> shift) & 0x0F) | (((h >> j) & 1) << 4);
            *ye = d1 * f32::from(q) - m1;
        }
    }
}

/// Q6_K: low nibbles (`ql[128]`), high bit pairs (`qh[64]`), sixteen i8 scales, f16 `d`;
/// offset 32.
fn q6_k(b: &[u8; 210], y: &mut [f32; QK_K]) {
    let ql = &b[..128];
    let qh = &b[128..192];
    let scales = &b[192..208];
    let d = f16_at(b, 208);
    // Per 128-element half: elements 0..64 take the low nibbles of ql[0..64], 64..128 the
    // high nibbles; element 32 * s + l takes bit pair `s` of qh[l].
    for (k, (yk, &sc)) in y.chunks_exact_mut(16).zip(scales).enumerate() {
        let dl = d * f32::from(sc as i8);
        for (i, ye) in yk.iter_mut().enumerate() {
            let e = 16 * k + i;
            let (half, r) = (e / 128, e % 128);
            let byte = ql[half * 64 + r % 64];
            let low = if r < 64 { byte & 0x0F } else { byte >> 4 };
            let high = (qh[half * 32 + r % 32] >> (2 * (r / 32))) & 3;
            let q = i16::from(low | (high << 4)) - 32;
            *ye = dl * f32::from(q);
        }
    }
}

/// Q8_K: f32 scale, 256 signed bytes, then 16 i16 group sums (only used by dot products).
fn q8_k(b: &[u8; 292], y: &mut [f32; QK_K]) {
    let d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    for (ye, &q) in y.iter_mut().zip(&b[4..4 + QK_K]) {
        *ye = d * f32::from(q as i8);
    }
}

/// IQ4_NL: f16 scale, 32 nibbles indexing the non-linear code book.
fn iq4_nl(b: &[u8; 18], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    for (j, &q) in b[2..].iter().enumerate() {
        y[j] = d * f32::from(IQ4NL_VALUES[usize::from(q & 0x0F)]);
        y[j + 16] = d * f32::from(IQ4NL_VALUES[usize::from(q >> 4)]);
    }
}

/// IQ4_XS: f16 `d`, eight 6-bit scales (high 2 bits in a u16, low 4 bits in 4 bytes), then
/// 16 bytes of code-book nibbles per 32-element sub-block (low nibbles first).
fn iq4_xs(b: &[u8; 136], y: &mut [f32; QK_K]) {
    let d = f16_at(b, 0);
    let scales_h = u16::from_le_bytes([b[2], b[3]]);
    let scales_l = &b[4..8];
    for (ib, (yb, qs)) in y
        .chunks_exact_mut(32)
        .zip(b[8..].chunks_exact(16))
        .enumerate()
    {
        let low = (scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0F;
        let high = ((scales_h >> (2 * ib)) & 3) as u8;
        let dl = d * f32::from(i16::from(low | (high << 4)) - 32);
        for (j, &q) in qs.iter().enumerate() {
            yb[j] = dl * f32::from(IQ4NL_VALUES[usize::from(q & 0x0F)]);
            yb[j + 16] = dl * f32::from(IQ4NL_VALUES[usize::from(q >> 4)]);
        }
    }
}

/// The ternary digit `n` (0..5) of a TQ1_0 byte, where the byte stores a base-3 number as a
/// fixed-point fraction of 256: multiplying (mod 256) shifts digits up, `* 3 >> 8` reads the top.
fn trit(byte: u8, n: usize) -> i16 {
    const POW3: [u8; 5] = [1, 3, 9, 27, 81];
    let shifted = byte.wrapping_mul(POW3[n]);
    ((u16::from(shifted) * 3) >> 8) as i16 - 1
}

/// TQ1_0: ternary weights packed 5 per byte (`qs[48]`) and 4 per byte (`qh[4]`), f16 `d`.
fn tq1_0(b: &[u8; 54], y: &mut [f32; QK_K]) {
    let qs = &b[..48];
    let qh = &b[48..52];
    let d = f16_at(b, 52);
    let mut e = 0;
    // qs[0..32] gives 160 elements, digit-major; qs[32..48] gives 80, and qh the last 16.
    for (bytes, digits) in [(&qs[..32], 5), (&qs[32..], 5), (qh, 4)] {
        for n in 0..digits {
            for &byte in bytes {
                y[e] = f32::from(trit(byte, n)) * d;
                e += 1;
            }
        }
    }
}

/// TQ2_0: ternary weights as 2-bit codes (0..3, offset 1) in `qs[64]`, f16 `d`.
fn tq2_0(b: &[u8; 66], y: &mut [f32; QK_K]) {
    let qs = &b[..64];
    let d = f16_at(b, 64);
    for (e, ye) in y.iter_mut().enumerate() {
        let (half, s, l) = (e / 128, (e % 128) / 32, e % 32);
        let q = i16::from((qs[half * 32 + l] >> (2 * s)) & 3) - 1;
        *ye = f32::from(q) * d;
    }
}

/// Half of the E8M0 power-of-two scale `2^(e - 127)`, built directly from its bits; the two
/// smallest exponents land in the f32 subnormal range.
fn e8m0_half(e: u8) -> f32 {
    let bits = if e < 2 {
        0x0020_0000u32 << e
    } else {
        u32::from(e - 1) << 23
    };
    f32::from_bits(bits)
}

/// MXFP4: an E8M0 shared exponent byte, 32 E2M1 nibbles (low nibbles are elements 0..16).
fn mxfp4(b: &[u8; 17], y: &mut [f32; 32]) {
    let d = e8m0_half(b[0]);
    for (j, &q) in b[1..].iter().enumerate() {
        y[j] = d * f32::from(MXFP4_VALUES[usize::from(q & 0x0F)]);
        y[j + 16] = d * f32::from(MXFP4_VALUES[usize::from(q >> 4)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ggml(name: &str) -> DType {
        name.parse().expect("known ggml type")
    }

    #[test]
    fn q8_k_is_scale_times_signed_byte() {
        let mut block = vec![0u8; 292];
        block[..4].copy_from_slice(&0.5f32.to_le_bytes());
        block[4] = 4;
        block[5] = 0xFF; // -1
        block[4 + 255] = 0x80; // -128
        // bsums are ignored.
        block[260..].fill(0xAB);
        let mut out = vec![7.0];
        dequantize(ggml("Q8_K"), &block, &mut out).expect("whole block");
        assert_eq!(out.len(), 257);
        assert_eq!(out[0], 7.0, "existing contents are kept");
        assert_eq!(&out[1..4], &[2.0, -0.5, 0.0]);
        assert_eq!(out[256], -64.0);
    }

    #[test]
    fn e8m0_half_covers_subnormal_and_normal_exponents() {
        assert_eq!(e8m0_half(127), 0.5);
        assert_eq!(e8m0_half(128), 1.0);
        assert_eq!(e8m0_half(2), 2f32.powi(-126));
        assert_eq!(e8m0_half(1), 2f32.powi(-127));
        assert_eq!(e8m0_half(0), 2f32.powi(-64) * 2f32.powi(-64));
        assert_eq!(e8m0_half(255), 2f32.powi(127));
    }

    #[test]
    fn tq1_0_trits_round_trip() {
        // Pack five trits the way ggml does: base-3 number, scaled to a fraction of 256 (rounded up).
        let trits = [2u16, 0, 1, 2, 1];
        let n = trits.iter().fold(0, |acc, &t| acc * 3 + t);
        let byte = ((n * 256).div_ceil(243)) as u8;
        let got: Vec<i16> = (0..5).map(|i| trit(byte, i)).collect();
        assert_eq!(got, [1, -1, 0, 1, 0]);
    }

    #[test]
    fn unsupported_types_are_named() {
        let mut out = Vec::new();
        let err = dequantize(ggml("IQ2_XXS"), &[0; 66], &mut out).unwrap_err();
        assert_eq!(
            err,
            DequantError::Unsupported {
                dtype: ggml("IQ2_XXS")
            }
        );
        assert!(err.to_string().contains("IQ2_XXS"), "{err}");
        let err = dequantize(DType::Ggml(GgmlBlock(99)), &[], &mut out).unwrap_err();
        assert!(err.to_string().contains("ggml type 99"), "{err}");
        let err = dequantize(DType::F32, &[0; 4], &mut out).unwrap_err();
        assert!(err.to_string().contains("F32"), "{err}");
        assert!(out.is_empty());
        assert!(!is_supported(ggml("Q8_1")) && is_supported(ggml("Q6_K")));
    }

    #[test]
    fn empty_input_is_zero_blocks() {
        let mut out = Vec::new();
        dequantize(ggml("Q4_K"), &[], &mut out).expect("zero blocks");
        assert!(out.is_empty());
    }
}
