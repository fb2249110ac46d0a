//! PyTorch checkpoints: zip archives (`torch.save`, torch ≥ 1.6) and legacy pickle streams.

use weighhouse_tensor::Limits;

use crate::checkpoint::Parsed;
use crate::error::FormatError;

/// Parse a PyTorch zip archive held in `bytes`.
pub fn parse_zip(_bytes: &[u8], _limits: &Limits) -> Result<Parsed, FormatError> {
    Err(FormatError::unsupported("pytorch", "not implemented yet"))
}

/// Parse a legacy PyTorch file held in `bytes`.
pub fn parse_legacy(_bytes: &[u8], _limits: &Limits) -> Result<Parsed, FormatError> {
    Err(FormatError::unsupported("pytorch", "not implemented yet"))
}
