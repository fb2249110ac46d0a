#![no_main]
//! Fuzz format recognition and dispatch: any bytes must be recognised and read, or refused with an
//! error, never a panic.

use libfuzzer_sys::fuzz_target;
use weighhouse_formats::{Checkpoint, Limits};

fuzz_target!(|data: &[u8]| {
    if let Ok(ck) = Checkpoint::from_bytes("fuzz", data.to_vec(), &Limits::strict()) {
        for t in &ck.tensors {
            let _ = ck.tensor_bytes(t);
        }
    }
});
