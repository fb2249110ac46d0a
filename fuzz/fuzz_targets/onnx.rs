#![no_main]
//! Fuzz the onnx reader: any input must give a checkpoint or an error, never a panic, and every
//! tensor of an accepted checkpoint must be readable.

use libfuzzer_sys::fuzz_target;
use weighhouse_formats::{Checkpoint, Limits, onnx};

fuzz_target!(|data: &[u8]| {
    if let Ok(ck) =
        Checkpoint::from_bytes_with("fuzz", data.to_vec(), &Limits::strict(), onnx::parse)
    {
        for t in &ck.tensors {
            let _ = ck.tensor_bytes(t);
        }
    }
});
