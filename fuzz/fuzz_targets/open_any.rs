#![no_main]
//! Fuzz format recognition and dispatch: any bytes must be recognised and read, or refused with an
//! error, never a panic.

use libfuzzer_sys::fuzz_target;
use weighhouse_formats::fuzz;

fuzz_target!(|data: &[u8]| {
    fuzz::read_all(data, None);
});
