//! Element types. Names follow safetensors (`F32`, `BF16`, `F8_E4M3`, ...); quantised GGUF blocks
//! keep their ggml names (`Q4_K`, `Q8_0`, ...).

use std::fmt;
use std::str::FromStr;

/// The element type of a tensor.
///
/// Plain types have a fixed bit width per element. Quantised ggml types are stored in blocks of
/// `block_elements` elements taking `block_bytes` bytes each, and carry the ggml type id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DType {
    /// Boolean, one byte per element.
    Bool,
    /// 4-bit float E2M1, two elements per byte (element 2i in the low nibble).
    F4,
    /// 6-bit float E2M3.
    F6E2M3,
    /// 6-bit float E3M2.
    F6E3M2,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 8-bit integer.
    I8,
    /// 8-bit float E5M2.
    F8E5M2,
    /// 8-bit float E4M3 (finite, no infinities: torch `float8_e4m3fn`).
    F8E4M3,
    /// 8-bit exponent-only scale E8M0.
    F8E8M0,
    /// 8-bit float E4M3, finite with unsigned zero.
    F8E4M3Fnuz,
    /// 8-bit float E5M2, finite with unsigned zero.
    F8E5M2Fnuz,
    /// Signed 16-bit integer.
    I16,
    /// Unsigned 16-bit integer.
    U16,
    /// IEEE half precision.
    F16,
    /// bfloat16.
    BF16,
    /// Signed 32-bit integer.
    I32,
    /// Unsigned 32-bit integer.
    U32,
    /// IEEE single precision.
    F32,
    /// Complex of two F32.
    C64,
    /// IEEE double precision.
    F64,
    /// Signed 64-bit integer.
    I64,
    /// Unsigned 64-bit integer.
    U64,
    /// Complex of two F64 (torch `complex128`, numpy `<c16`); safetensors has no name for it.
    C128,
    /// A quantised ggml block type.
    Ggml(GgmlBlock),
}

/// A ggml block type, by its ggml type id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GgmlBlock(pub u32);

/// (id, name, elements per block, bytes per block) of every quantised ggml type.
/// Plain types (F32, F16, BF16, F64, I8..I64) map to ordinary dtypes instead.
const GGML_BLOCKS: &[(u32, &str, u64, u64)] = &[
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 36),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (16, "IQ2_XXS", 256, 66),
    (17, "IQ2_XS", 256, 74),
    (18, "IQ3_XXS", 256, 98),
    (19, "IQ1_S", 256, 50),
    (20, "IQ4_NL", 32, 18),
    (21, "IQ3_S", 256, 110),
    (22, "IQ2_S", 256, 82),
    (23, "IQ4_XS", 256, 136),
    (29, "IQ1_M", 256, 56),
    (34, "TQ1_0", 256, 54),
    (35, "TQ2_0", 256, 66),
    (39, "MXFP4", 32, 17),
    (40, "NVFP4", 64, 36),
    (41, "Q1_0", 128, 18),
    (42, "Q2_0", 64, 18),
];

impl GgmlBlock {
    /// The block type with ggml id `id`, if it is a known quantised type.
    pub fn from_id(id: u32) -> Option<Self> {
        GGML_BLOCKS.iter().any(|b| b.0 == id).then_some(Self(id))
    }

    fn entry(self) -> (u32, &'static str, u64, u64) {
        GGML_BLOCKS
            .iter()
            .copied()
            .find(|b| b.0 == self.0)
            .unwrap_or((self.0, "UNKNOWN", 0, 0))
    }

    /// The ggml name, e.g. `Q4_K`.
    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// Elements per block.
    pub fn block_elements(self) -> u64 {
        self.entry().2
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> u64 {
        self.entry().3
    }
}

/// Every plain dtype with its name and width in bits.
const PLAIN: &[(DType, &str, u64)] = &[
    (DType::Bool, "BOOL", 8),
    (DType::F4, "F4", 4),
    (DType::F6E2M3, "F6_E2M3", 6),
    (DType::F6E3M2, "F6_E3M2", 6),
    (DType::U8, "U8", 8),
    (DType::I8, "I8", 8),
    (DType::F8E5M2, "F8_E5M2", 8),
    (DType::F8E4M3, "F8_E4M3", 8),
    (DType::F8E8M0, "F8_E8M0", 8),
    (DType::F8E4M3Fnuz, "F8_E4M3FNUZ", 8),
    (DType::F8E5M2Fnuz, "F8_E5M2FNUZ", 8),
    (DType::I16, "I16", 16),
    (DType::U16, "U16", 16),
    (DType::F16, "F16", 16),
    (DType::BF16, "BF16", 16),
    (DType::I32, "I32", 32),
    (DType::U32, "U32", 32),
    (DType::F32, "F32", 32),
    (DType::C64, "C64", 64),
    (DType::F64, "F64", 64),
    (DType::I64, "I64", 64),
    (DType::U64, "U64", 64),
    (DType::C128, "C128", 128),
];

impl DType {
    /// The name: the safetensors spelling for plain types, the ggml name for quantised blocks.
    pub fn name(self) -> &'static str {
        match self {
            DType::Ggml(b) => b.name(),
            plain => PLAIN
                .iter()
                .find(|p| p.0 == plain)
                .map(|p| p.1)
                .unwrap_or("UNKNOWN"),
        }
    }

    /// Bits per element for plain types; `None` for quantised blocks.
    pub fn bits(self) -> Option<u64> {
        match self {
            DType::Ggml(_) => None,
            plain => PLAIN.iter().find(|p| p.0 == plain).map(|p| p.2),
        }
    }

    /// Bytes per element for byte-addressable types (width a multiple of 8 bits); `None` for
    /// sub-byte and block types.
    pub fn size_bytes(self) -> Option<usize> {
        self.bits()
            .filter(|b| b % 8 == 0)
            .and_then(|b| usize::try_from(b / 8).ok())
    }

    /// The unit in which byte order applies: 8 for C128 (two F64), 4 for C64, else the element size.
    pub fn swap_width(self) -> usize {
        match self {
            DType::C64 => 4,
            DType::C128 => 8,
            other => other.size_bytes().unwrap_or(1),
        }
    }

    /// True for quantised block types.
    pub fn is_quantized(self) -> bool {
        matches!(self, DType::Ggml(_))
    }

    /// True for floating-point types that `wh convert --dtype` can convert from.
    pub fn is_float(self) -> bool {
        matches!(
            self,
            DType::F16
                | DType::BF16
                | DType::F32
                | DType::F64
                | DType::F8E4M3
                | DType::F8E5M2
                | DType::F8E4M3Fnuz
                | DType::F8E5M2Fnuz
        )
    }

    /// True when safetensors has a name for this dtype.
    pub fn in_safetensors(self) -> bool {
        !matches!(self, DType::C128 | DType::Ggml(_))
    }

    /// Every plain dtype.
    pub fn all_plain() -> impl Iterator<Item = DType> {
        PLAIN.iter().map(|p| p.0)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Returned when a dtype name is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dtype {0:?}")]
pub struct UnknownDType(pub String);

impl FromStr for DType {
    type Err = UnknownDType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(p) = PLAIN.iter().find(|p| p.1 == s) {
            return Ok(p.0);
        }
        GGML_BLOCKS
            .iter()
            .find(|b| b.1 == s)
            .map(|b| DType::Ggml(GgmlBlock(b.0)))
            .ok_or_else(|| UnknownDType(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in DType::all_plain() {
            assert_eq!(d.name().parse::<DType>(), Ok(d));
        }
        for b in GGML_BLOCKS {
            let d: DType = b.1.parse().expect("known ggml name");
            assert_eq!(d, DType::Ggml(GgmlBlock(b.0)));
            assert_eq!(d.name(), b.1);
        }
        assert!("F33".parse::<DType>().is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(DType::BF16.size_bytes(), Some(2));
        assert_eq!(DType::F4.size_bytes(), None);
        assert_eq!(DType::C64.swap_width(), 4);
        let q = GgmlBlock::from_id(12).expect("Q4_K");
        assert_eq!(
            (q.name(), q.block_elements(), q.block_bytes()),
            ("Q4_K", 256, 144)
        );
        assert!(GgmlBlock::from_id(4).is_none());
    }
}
