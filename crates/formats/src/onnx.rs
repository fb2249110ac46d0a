//! ONNX initializers, with inline and external data.

use weighhouse_tensor::Limits;

use crate::checkpoint::{Files, Parsed};
use crate::error::{Error, FormatError};

/// True when `bytes` decode as an ONNX `ModelProto` with a graph.
pub fn looks_like_onnx(_bytes: &[u8], _limits: &Limits) -> bool {
    false
}

/// Open the ONNX model `files[id]`, opening external data files beside it.
pub(crate) fn open(files: &mut Files, id: usize, _limits: &Limits) -> Result<Parsed, Error> {
    Err(Error::new(
        files.path(id),
        FormatError::unsupported("onnx", "not implemented yet"),
    ))
}

/// Parse an ONNX model held in `bytes`, with inline data only (external data is refused).
pub fn parse(_bytes: &[u8], _limits: &Limits) -> Result<Parsed, FormatError> {
    Err(FormatError::unsupported("onnx", "not implemented yet"))
}
