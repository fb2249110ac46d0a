//! Keras readers: legacy HDF5 `.h5`, Keras 3 `.weights.h5` and `.keras` archives.

use weighhouse_tensor::Limits;

use crate::checkpoint::Parsed;
use crate::error::FormatError;

/// Parse an HDF5 Keras file held in `bytes`.
pub fn parse_h5(_bytes: &[u8], _limits: &Limits) -> Result<Parsed, FormatError> {
    Err(FormatError::unsupported("keras", "not implemented yet"))
}

/// Parse a Keras 3 `.keras` archive held in `bytes`.
pub fn parse_keras_zip(_bytes: &[u8], _limits: &Limits) -> Result<Parsed, FormatError> {
    Err(FormatError::unsupported("keras", "not implemented yet"))
}
