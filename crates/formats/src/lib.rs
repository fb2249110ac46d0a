//! Readers for every checkpoint format open weights are published in, behind one [`Checkpoint`]
//! view: a tensor list with zero-copy access to each tensor's bytes, and format metadata.
//!
//! Formats are recognised by magic bytes and structure, never by file extension. Pickles are
//! interpreted by a restricted machine that only builds tensors and plain containers; nothing in a
//! file is ever imported or called. Every reader bounds what it allocates by [`Limits`].
//!
//! The format knowledge the security scanner (`weighhouse-scan`) needs too lives here once, and is
//! public for it: the signatures of [`mod@sniff`], the protobuf wire format ([`proto`]), the pickle
//! opcode table ([`pickle::op`]), the GGUF cursor ([`gguf::Reader`]) and [`Limits`].

mod checkpoint;
mod error;
mod index_doc;
mod mmap;
mod open;
mod parsed;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz;
pub mod gguf;
pub mod index;
pub mod keras;
pub mod npy;
pub mod onnx;
pub mod pickle;
pub mod proto;
pub mod safetensors;
pub mod sniff;
pub mod tf;
pub mod torch;

pub use checkpoint::{
    Base, Checkpoint, DataKey, DataSource, Files, Format, Layout, OpenFile, OtherValue, Parsed,
    TensorView,
};
pub use error::{Error, FormatError, ResultExt};
pub use sniff::{Kind, sniff};
pub use weighhouse_tensor::{DType, GgmlBlock, Limits};
