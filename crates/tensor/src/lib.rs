//! Tensor element types, shapes and the limits every parser obeys.
//!
//! This crate does no I/O. It names dtypes the way safetensors does (and ggml for quantised blocks),
//! computes byte sizes with checked arithmetic, and carries the [`Limits`] that bound what a reader
//! may allocate for untrusted input.

mod dtype;
mod limits;
mod shape;
pub mod units;

pub use dtype::{DType, GgmlBlock};
pub use limits::Limits;
pub use shape::{ShapeError, byte_len, num_elements};
