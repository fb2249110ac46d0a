//! Explicit bounds on what a parser will accept or allocate for untrusted input.

/// Bounds applied by every reader. The defaults admit any real checkpoint (multi-terabyte sets, tens
/// of thousands of tensors) while refusing inputs built to exhaust memory or time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest JSON / text header (safetensors, npy, index files), in bytes.
    pub max_header_bytes: u64,
    /// Most tensors in one checkpoint.
    pub max_tensors: u64,
    /// Most dimensions of one tensor.
    pub max_dims: usize,
    /// Largest pickle stream that is interpreted, in bytes.
    pub max_pickle_bytes: u64,
    /// Deepest nesting of containers (pickle, JSON, protobuf sub-messages).
    pub max_depth: usize,
    /// Most memo entries / stack items a pickle may create.
    pub max_pickle_items: u64,
    /// Most entries in a zip archive.
    pub max_zip_entries: u64,
    /// Largest total of bytes decompressed into memory from one file (npz, zip members, chunks).
    pub max_inflated_bytes: u64,
    /// Largest single string or metadata value, in bytes.
    pub max_string_bytes: u64,
    /// Most metadata entries (GGUF key-values, array elements kept for display).
    pub max_metadata_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 100_000_000,
            max_tensors: 1_000_000,
            max_dims: 32,
            max_pickle_bytes: 1 << 30,
            max_depth: 512,
            max_pickle_items: 50_000_000,
            max_zip_entries: 1_000_000,
            max_inflated_bytes: 4 << 30,
            max_string_bytes: 1 << 30,
            max_metadata_entries: 10_000_000,
        }
    }
}

impl Limits {
    /// Tight limits for fuzzing and tests, so that a hostile input is refused quickly.
    pub fn strict() -> Self {
        Self {
            max_header_bytes: 1 << 20,
            max_tensors: 10_000,
            max_dims: 16,
            max_pickle_bytes: 1 << 20,
            max_depth: 64,
            max_pickle_items: 100_000,
            max_zip_entries: 1_000,
            max_inflated_bytes: 16 << 20,
            max_string_bytes: 1 << 20,
            max_metadata_entries: 100_000,
        }
    }
}
