//! The JSON index of a sharded checkpoint (`model.safetensors.index.json`,
//! `pytorch_model.bin.index.json`): its `weight_map` and `metadata`, read within the header limit.

use std::collections::BTreeMap;

use serde::Deserialize;
use weighhouse_tensor::Limits;

use crate::error::FormatError;

/// The format name in errors.
pub(crate) const FORMAT: &str = "sharded index";

/// An index file.
#[derive(Deserialize)]
pub(crate) struct IndexDoc {
    #[serde(default)]
    pub(crate) metadata: serde_json::Map<String, serde_json::Value>,
    pub(crate) weight_map: BTreeMap<String, String>,
}

/// Parse an index, refusing one larger than the header limit.
pub(crate) fn parse_doc(bytes: &[u8], limits: &Limits) -> Result<IndexDoc, FormatError> {
    if bytes.len() as u64 > limits.max_header_bytes {
        return Err(FormatError::limit(
            format!("index of {} bytes", bytes.len()),
            limits.max_header_bytes,
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| FormatError::malformed(FORMAT, e.to_string()))
}

/// True when `bytes` are a JSON sharded-checkpoint index.
pub fn looks_like_index(bytes: &[u8], limits: &Limits) -> bool {
    parse_doc(bytes, limits).is_ok()
}
