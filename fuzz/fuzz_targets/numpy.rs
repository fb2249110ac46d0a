#![no_main]
//! Fuzz the NumPy npy and npz readers: any input must give a checkpoint or an error, never a panic, and every
//! tensor of an accepted checkpoint must be readable. The first bytes pick the reader, so one
//! corpus covers both.

use libfuzzer_sys::fuzz_target;
use weighhouse_formats::{Checkpoint, Limits, npy};

fuzz_target!(|data: &[u8]| {
    let parse = if data.starts_with(b"PK") {
        npy::parse_npz
    } else {
        npy::parse_npy
    };
    if let Ok(ck) = Checkpoint::from_bytes_with("fuzz", data.to_vec(), &Limits::strict(), parse) {
        for t in &ck.tensors {
            let _ = ck.tensor_bytes(t);
        }
    }
});
