#![no_main]
//! Fuzz the gguf reader: any input must give a checkpoint or an error, never a panic, and every
//! tensor of an accepted checkpoint must be readable; header-only reads of a prefix must agree with the
//! whole-file reader.

use libfuzzer_sys::fuzz_target;
use weighhouse_formats::{fuzz, gguf};

fuzz_target!(|data: &[u8]| {
    gguf::check_prefix_consistency(data);
    fuzz::read_all(data, Some(gguf::parse));
});
