//! Helpers shared by the fixture tests: where fixtures live and how a checkpoint is compared with
//! a truth file (name -> dtype, shape, SHA-256 of the row-major little-endian bytes).

#![allow(
    dead_code,
    reason = "each test binary uses a different subset; some use all of it"
)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};
use weighhouse_formats::Checkpoint;

/// name -> (dtype, shape, sha256).
pub type Digests = BTreeMap<String, (String, Vec<u64>, String)>;

/// `tests/fixtures/<sub>` of this repository.
pub fn repo_fixtures(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(sub)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The digests of every tensor of `ck`.
pub fn digests(ck: &Checkpoint) -> Digests {
    ck.tensors
        .iter()
        .map(|t| {
            let bytes = ck
                .tensor_bytes(t)
                .unwrap_or_else(|e| panic!("{}: {e}", t.name));
            (
                t.name.clone(),
                (
                    t.dtype.name().to_owned(),
                    t.shape.clone(),
                    hex(&Sha256::digest(&bytes)),
                ),
            )
        })
        .collect()
}

/// The digests a truth file records for one checkpoint: `{"name": {"dtype", "shape", "sha256"}}`.
pub fn expected(entry: &Value) -> Digests {
    entry
        .as_object()
        .expect("truth entry is an object")
        .iter()
        .map(|(name, v)| {
            let shape = v["shape"]
                .as_array()
                .expect("shape")
                .iter()
                .map(|d| d.as_u64().expect("dim"))
                .collect();
            let dtype = v["dtype"].as_str().expect("dtype").to_owned();
            (
                name.clone(),
                (
                    dtype,
                    shape,
                    v["sha256"].as_str().expect("sha256").to_owned(),
                ),
            )
        })
        .collect()
}
