//! Tensor operations on raw little-endian bytes: dtype conversion and ggml dequantisation.

pub mod convert;
pub mod dequant;
