//! NumPy `.npy` and `.npz` readers.

use weighhouse_tensor::Limits;

use crate::checkpoint::Parsed;
use crate::error::FormatError;

/// Parse a `.npy` file held in `bytes`.
pub fn parse_npy(_bytes: &[u8], _limits: &Limits) -> Result<Parsed, FormatError> {
    Err(FormatError::unsupported("npy", "not implemented yet"))
}

/// Parse a `.npz` archive held in `bytes`.
pub fn parse_npz(_bytes: &[u8], _limits: &Limits) -> Result<Parsed, FormatError> {
    Err(FormatError::unsupported("npz", "not implemented yet"))
}
