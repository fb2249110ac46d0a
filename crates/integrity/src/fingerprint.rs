//! Fingerprints of the weights themselves, independent of file format, sharding, header order
//! and metadata.
//!
//! # Definition (version 1)
//!
//! For each tensor of the checkpoint (any format `weighhouse-formats` reads; a folder or sharded
//! set counts as one checkpoint), a *record* is made of
//!
//! 1. its dtype name as `wh inspect` prints it (`F32`, `BF16`, `I64`, `Q4_K`, ...), then a NUL byte;
//! 2. its number of dimensions as a little-endian `u32`, then each dimension as a little-endian
//!    `u64` (row-major order, as the tensor is indexed);
//! 3. the SHA-256 of its elements in row-major, contiguous, little-endian order (ggml types: their
//!    blocks as stored).
//!
//! Records are sorted by their bytes and duplicates removed; the fingerprint is the SHA-256 of
//! `weighhouse-fingerprint-v1\n` followed by the records, printed as `wfp1:<hex>`.
//!
//! Tensor names do not enter: the same weights under another naming scheme, or with a tied
//! (shared) tensor saved once instead of twice, keep their fingerprint. File layout, tensor
//! order, shard boundaries, alignment, padding and metadata never enter either. Any change to any
//! element, dtype or shape changes it.
//!
//! The **f32 variant** (`wfp1-f32:<hex>`, prefix `weighhouse-fingerprint-f32-v1\n`) is computed
//! the same way after widening every floating-point tensor to `F32` (F64 rounded to nearest, F16,
//! BF16 and F8 widened exactly, supported ggml types dequantised) and recording its dtype as
//! `F32`; integer and boolean tensors are recorded as they are. A bf16 copy of an f32 model has
//! another fingerprint but the same f32 variant when every value of the source is exactly
//! representable in bf16; otherwise the f32 variants tell the copy from its source.

use std::path::Path;

use sha2::{Digest, Sha256};
use weighhouse_formats::{Checkpoint, DType, TensorView};

/// The result for one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// `wfp1:<hex>`.
    pub exact: String,
    /// `wfp1-f32:<hex>`.
    pub f32: String,
    /// Tensors in the checkpoint.
    pub tensors: usize,
    /// Distinct tensor records (tied tensors count once).
    pub distinct: usize,
    /// Elements of all tensors.
    pub parameters: u64,
    /// Tensors whose dtype has no f32 widening (recorded as stored in the f32 variant too).
    pub not_widened: Vec<String>,
}

/// Why a fingerprint could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    /// Reading the checkpoint failed.
    #[error(transparent)]
    Format(#[from] weighhouse_formats::Error),
    /// The checkpoint has no tensors.
    #[error("{0} has no tensors to fingerprint")]
    Empty(String),
}

const CHUNK_ELEMENTS: usize = 1 << 20;

fn record(dtype: &str, shape: &[u64], digest: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(dtype.len() + 5 + shape.len() * 8 + 32);
    r.extend_from_slice(dtype.as_bytes());
    r.push(0);
    r.extend_from_slice(&(shape.len() as u32).to_le_bytes());
    for d in shape {
        r.extend_from_slice(&d.to_le_bytes());
    }
    r.extend_from_slice(digest);
    r
}

/// SHA-256 of the tensor widened to f32, in bounded chunks; `None` when its dtype is not a
/// floating-point type we can widen.
fn widened_digest(dtype: DType, bytes: &[u8]) -> Option<[u8; 32]> {
    let mut h = Sha256::new();
    let mut out = Vec::new();
    if dtype.is_quantized() {
        if !weighhouse_ops::dequant::is_supported(dtype) {
            return None;
        }
        let DType::Ggml(block) = dtype else {
            return None;
        };
        let bb = block.block_bytes() as usize;
        let mut floats = Vec::new();
        for chunk in
            bytes.chunks((CHUNK_ELEMENTS / block.block_elements().max(1) as usize).max(1) * bb)
        {
            floats.clear();
            weighhouse_ops::dequant::dequantize(dtype, chunk, &mut floats).ok()?;
            out.clear();
            out.extend(floats.iter().flat_map(|x| x.to_le_bytes()));
            h.update(&out);
        }
        return Some(h.finalize().into());
    }
    if !dtype.is_float() || !weighhouse_ops::convert::can_convert(dtype, DType::F32) {
        return None;
    }
    let width = dtype.size_bytes()?;
    for chunk in bytes.chunks(CHUNK_ELEMENTS * width) {
        out.clear();
        weighhouse_ops::convert::convert(dtype, DType::F32, chunk, &mut out).ok()?;
        h.update(&out);
    }
    Some(h.finalize().into())
}

struct Records {
    exact: Vec<u8>,
    widened: Vec<u8>,
    not_widened: bool,
}

fn tensor_records(ck: &Checkpoint, t: &TensorView) -> Result<Records, weighhouse_formats::Error> {
    let bytes = ck.tensor_bytes(t)?;
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    let name = t.dtype.to_string();
    let exact = record(&name, &t.shape, &digest);
    let (widened, not_widened) = if t.dtype == DType::F32 {
        (record("F32", &t.shape, &digest), false)
    } else if t.dtype.is_float() || t.dtype.is_quantized() {
        match widened_digest(t.dtype, &bytes) {
            Some(d) => (record("F32", &t.shape, &d), false),
            None => (exact.clone(), true),
        }
    } else {
        (exact.clone(), false)
    };
    Ok(Records {
        exact,
        widened,
        not_widened,
    })
}

fn finish(prefix: &str, tag: &str, mut records: Vec<Vec<u8>>) -> (String, usize) {
    records.sort();
    records.dedup();
    let mut h = Sha256::new();
    h.update(prefix.as_bytes());
    for r in &records {
        h.update(r);
    }
    (
        format!("{tag}:{}", hex::encode(h.finalize())),
        records.len(),
    )
}

/// Fingerprint an open checkpoint, hashing tensors on `threads` threads.
pub fn of_checkpoint(
    ck: &Checkpoint,
    label: &str,
    threads: usize,
) -> Result<Fingerprint, FingerprintError> {
    if ck.tensors.is_empty() {
        return Err(FingerprintError::Empty(label.to_string()));
    }
    let records =
        crate::par::map_heaviest_first(&ck.tensors, TensorView::byte_len, threads, |t| {
            tensor_records(ck, t)
        })?;
    let mut exact = Vec::with_capacity(records.len());
    let mut widened = Vec::with_capacity(records.len());
    let mut not_widened = Vec::new();
    for (t, r) in ck.tensors.iter().zip(records) {
        if r.not_widened {
            not_widened.push(t.name.clone());
        }
        exact.push(r.exact);
        widened.push(r.widened);
    }
    let parameters = ck
        .tensors
        .iter()
        .map(|t| t.shape.iter().product::<u64>())
        .sum();
    let (exact, distinct) = finish("weighhouse-fingerprint-v1\n", "wfp1", exact);
    let (f32, _) = finish("weighhouse-fingerprint-f32-v1\n", "wfp1-f32", widened);
    Ok(Fingerprint {
        exact,
        f32,
        tensors: ck.tensors.len(),
        distinct,
        parameters,
        not_widened,
    })
}

/// Open and fingerprint a checkpoint (file, folder, sharded index or TensorFlow prefix).
pub fn of_path(path: &Path, threads: usize) -> Result<Fingerprint, FingerprintError> {
    let ck = Checkpoint::open(path)?;
    of_checkpoint(&ck, &path.display().to_string(), threads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_encode_dtype_shape_and_digest() {
        let r = record("F32", &[2, 3], &[7u8; 32]);
        assert_eq!(&r[..4], b"F32\0");
        assert_eq!(&r[4..8], &2u32.to_le_bytes());
        assert_eq!(&r[8..16], &2u64.to_le_bytes());
        assert_eq!(&r[16..24], &3u64.to_le_bytes());
        assert_eq!(&r[24..], &[7u8; 32]);
        assert_ne!(
            record("F32", &[6], &[7u8; 32]),
            record("F32", &[2, 3], &[7u8; 32])
        );
    }

    #[test]
    fn bf16_widening_is_exact() {
        // 1.0 and -2.5 in bf16, and the same values in f32.
        let bf16 = [0x80, 0x3f, 0x20, 0xc0];
        let mut f32 = Vec::new();
        f32.extend_from_slice(&1.0f32.to_le_bytes());
        f32.extend_from_slice(&(-2.5f32).to_le_bytes());
        let expected: [u8; 32] = Sha256::digest(&f32).into();
        assert_eq!(widened_digest(DType::BF16, &bf16), Some(expected));
        assert_eq!(widened_digest(DType::I32, &[0; 4]), None);
    }
}
