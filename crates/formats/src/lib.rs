//! Readers for every checkpoint format open weights are published in, behind one [`Checkpoint`]
//! view: a tensor list with zero-copy access to each tensor's bytes, and format metadata.
//!
//! Formats are recognised by magic bytes and structure, never by file extension. Pickles are
//! interpreted by a restricted machine that only builds tensors and plain containers; nothing in a
//! file is ever imported or called. Every reader bounds what it allocates by [`Limits`].

mod checkpoint;
mod error;
mod mmap;
mod sniff;

pub mod gguf;
pub mod index;
pub mod keras;
pub mod npy;
pub mod onnx;
pub mod pickle;
pub mod safetensors;
pub mod tf;
pub mod torch;

pub use checkpoint::{
    Base, Checkpoint, DataKey, DataSource, Files, Format, Layout, OpenFile, OtherValue, Parsed,
    TensorView,
};
pub use error::{Error, FormatError, ResultExt};
pub use sniff::{Kind, sniff};
pub use weighhouse_tensor::{DType, GgmlBlock, Limits};

#[cfg(test)]
mod test_util {
    /// Append `v` as a protobuf / LevelDB base-128 varint (for building test inputs).
    pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
}
