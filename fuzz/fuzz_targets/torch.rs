#![no_main]
//! Fuzz the PyTorch zip and legacy readers: any input must give a checkpoint or an error, never a panic, and every
//! tensor of an accepted checkpoint must be readable. The first bytes pick the reader, so one
//! corpus covers both.

use libfuzzer_sys::fuzz_target;
use weighhouse_formats::{fuzz, torch};

fuzz_target!(|data: &[u8]| {
    let parse = if data.starts_with(b"PK") {
        torch::parse_zip
    } else {
        torch::parse_legacy
    };
    fuzz::read_all(data, Some(parse));
});
