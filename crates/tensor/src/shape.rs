//! Element counts and byte sizes of shapes, with overflow checks.

use crate::DType;

/// Why a shape cannot describe a tensor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShapeError {
    /// The product of the dimensions (or the byte size) does not fit in 64 bits.
    #[error("shape {shape:?} overflows")]
    Overflow {
        /// The offending shape.
        shape: Vec<u64>,
    },
    /// A sub-byte dtype whose element count does not fill whole bytes.
    #[error("{count} elements of {dtype} do not fill whole bytes")]
    Misaligned {
        /// The dtype.
        dtype: DType,
        /// The element count.
        count: u64,
    },
    /// A block dtype whose innermost dimension is not a whole number of blocks.
    #[error("innermost dimension {dim} is not a multiple of the {dtype} block size {block}")]
    PartialBlock {
        /// The dtype.
        dtype: DType,
        /// The innermost dimension.
        dim: u64,
        /// Elements per block.
        block: u64,
    },
    /// The dtype's size is unknown.
    #[error("the size of {0} is unknown")]
    UnknownSize(DType),
}

/// The number of elements of `shape` (1 for a scalar).
pub fn num_elements(shape: &[u64]) -> Result<u64, ShapeError> {
    shape.iter().try_fold(1u64, |acc, &d| {
        acc.checked_mul(d).ok_or_else(|| ShapeError::Overflow {
            shape: shape.to_vec(),
        })
    })
}

/// The number of bytes a tensor of `dtype` and `shape` occupies, stored densely.
pub fn byte_len(dtype: DType, shape: &[u64]) -> Result<u64, ShapeError> {
    let n = num_elements(shape)?;
    let overflow = || ShapeError::Overflow {
        shape: shape.to_vec(),
    };
    match dtype {
        DType::Ggml(b) => {
            let block = b.block_elements();
            if block == 0 {
                return Err(ShapeError::UnknownSize(dtype));
            }
            let inner = shape.last().copied().unwrap_or(1);
            if inner % block != 0 {
                return Err(ShapeError::PartialBlock {
                    dtype,
                    dim: inner,
                    block,
                });
            }
            (n / block)
                .checked_mul(b.block_bytes())
                .ok_or_else(overflow)
        }
        plain => {
            let bits = plain.bits().ok_or(ShapeError::UnknownSize(dtype))?;
            let total = n.checked_mul(bits).ok_or_else(overflow)?;
            if total % 8 != 0 {
                return Err(ShapeError::Misaligned { dtype, count: n });
            }
            Ok(total / 8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GgmlBlock;

    #[test]
    fn counts_and_bytes() {
        assert_eq!(num_elements(&[]), Ok(1));
        assert_eq!(num_elements(&[0, 3]), Ok(0));
        assert_eq!(byte_len(DType::F32, &[8, 6]), Ok(192));
        assert_eq!(byte_len(DType::F4, &[4]), Ok(2));
        assert!(matches!(
            byte_len(DType::F4, &[3]),
            Err(ShapeError::Misaligned { .. })
        ));
        assert!(matches!(
            num_elements(&[u64::MAX, 2]),
            Err(ShapeError::Overflow { .. })
        ));
        let q8 = DType::Ggml(GgmlBlock(8));
        assert_eq!(byte_len(q8, &[32, 64]), Ok(64 * 34));
        assert!(byte_len(q8, &[2, 33]).is_err());
    }
}
