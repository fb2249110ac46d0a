#![no_main]
//! Fuzz the onnx reader: any input must give a checkpoint or an error, never a panic, and every
//! tensor of an accepted checkpoint must be readable.

use libfuzzer_sys::fuzz_target;
use weighhouse_formats::{fuzz, onnx};

fuzz_target!(|data: &[u8]| {
    fuzz::read_all(data, Some(onnx::parse));
});
